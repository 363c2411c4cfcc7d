/* SPDX-License-Identifier: MIT */
/*
 * hms' GPU calls leave the calling thread's CUDA context as they found it.
 * The driver made the GPU's (primary) context current for its own CUDA
 * calls and left it there: a program that drives another GPU, or its own
 * context, on that thread found its next CUDA calls going to this GPU.
 * Each call here runs on a thread whose current context is none, then
 * (fakecuda only, where any value stands for a context) a context of the
 * program's own, and must leave it so: hms_cuda_attach, hms_migrate to the
 * GPU and back, hms_cuda_map and hms_cuda_unmap, hms_free of GPU pages
 * (their chunk goes back to the GPU on this thread), hms_cuda_detach.
 */
#include <pthread.h>

#include "gpu_test.h"

#define MIB (1UL << 20)

static const struct hms_cu *cu;
static CUcontext mine;

static void expect_mine(const char *after)
{
	CUcontext c = (CUcontext)1;

	T_EQ(cu->CtxGetCurrent(&c), CUDA_SUCCESS);
	if (c != mine)
		T_FAIL("after %s: the current context is %p, the thread had %p", after, (void *)c,
		       (void *)mine);
}

static void *run(void *arg)
{
	struct hms_cuda_config cfg = { .size = sizeof(cfg), .mem_bytes = 32 * MIB,
				       .copy_threads = 2, .keep_chunks = HMS_CUDA_KEEP_NONE };
	struct hms *h = t_open();
	struct hms_cuda *g;
	hms_uid gpu, sys;
	uint64_t dptr;
	int *p;

	mine = (CUcontext)arg;
	T_EQ(cu->CtxSetCurrent(mine), CUDA_SUCCESS);
	g = g_attach(h, &cfg);
	expect_mine("hms_cuda_attach");
	gpu = hms_cuda_target(g);
	p = hms_alloc(h, 4 * MIB, 0);
	T_ASSERT(p);
	t_fill(p, MIB, 3);
	T_EQ(hms_where(h, p, 1, &sys), 1);
	T_EQ(hms_migrate(h, p, 4 * MIB, &gpu, 1, 0), (long)(4 * MIB / T_PAGE));
	expect_mine("hms_migrate to the GPU");
	T_EQ(hms_migrate(h, p, 2 * MIB, &sys, 1, 0), (long)(2 * MIB / T_PAGE));
	expect_mine("hms_migrate to system memory");
	T_EQ(hms_cuda_map(g, p, 2 * MIB, 0, &dptr), 0);
	expect_mine("hms_cuda_map");
	g_add(g, dptr, 2 * MIB / sizeof(int), 10); /* (makes the GPU's context current) */
	T_EQ(cu->CtxSetCurrent(mine), CUDA_SUCCESS);
	T_EQ(hms_cuda_unmap(g, p, 2 * MIB), 0);
	expect_mine("hms_cuda_unmap");
	T_EQ(g_count_on(h, p + MIB / 2, 2 * MIB / T_PAGE, gpu), 2 * MIB / T_PAGE);
	T_EQ(hms_free(h, p + MIB / 2, 2 * MIB), 0); /* GPU pages: their chunk goes */
	expect_mine("hms_free of GPU pages");
	for (size_t i = 0; i < MIB / 2; i++)
		T_EQ(p[i], (int)(13 + i));
	T_EQ(hms_cuda_detach(g), 0);
	expect_mine("hms_cuda_detach");
	hms_close(h);
	return NULL;
}

int main(void)
{
	char why[256] = "";
	pthread_t t;

	if (hms_cuda_device_count(why, sizeof(why)) <= 0)
		T_SKIP("no GPU: %s", why);
	cu = hms_cu_get(NULL, 0, NULL);
	T_ASSERT(cu);
	T_EQ(pthread_create(&t, NULL, run, NULL), 0);
	T_EQ(pthread_join(t, NULL), 0);
	if (g_fake()) { /* any value is a context there */
		static int own;

		T_EQ(pthread_create(&t, NULL, run, &own), 0);
		T_EQ(pthread_join(t, NULL), 0);
	}
	printf("ok\n");
	return 0;
}
