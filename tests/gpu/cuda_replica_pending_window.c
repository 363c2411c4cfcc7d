/* SPDX-License-Identifier: MIT */
/*
 * Two read-only hms_cuda_map() calls of one READ_MOSTLY page: the first
 * claims the page's place for its replica and copies host->GPU (held here
 * in fakecuda's copy); the second finds the place claimed, its replica
 * bit set, and took it for a finished replica: its window was made and
 * the map returned 0 while the copy had not landed (a kernel read zeros).
 * It now waits for the first map's check and looks again.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "gpu_test.h"

static struct hms_cuda *g;
static int *p;

struct mapper {
	pthread_t t;
	uint64_t dptr;
	int ret;
	atomic_int done;
};

static void *map_ro(void *arg)
{
	struct mapper *m = arg;

	m->ret = hms_cuda_map(g, p, T_PAGE, HMS_CUDA_MAP_READ_ONLY, &m->dptr);
	atomic_store(&m->done, 1);
	return NULL;
}

/* The window's ints, read from the GPU (fakecuda: not held). */
static void check_window(uint64_t dptr, const char *who)
{
	const struct hms_cu *cu = hms_cu_get(NULL, 0, NULL);
	const size_t n = T_PAGE / sizeof(int);
	int buf[T_PAGE / sizeof(int)];

	T_ASSERT(cu);
	T_EQ(cu->CtxSetCurrent(hms_cuda_context(g)), CUDA_SUCCESS);
	T_EQ(cu->MemcpyDtoH(buf, dptr, T_PAGE), CUDA_SUCCESS);
	for (size_t i = 0; i < n; i++)
		if (buf[i] != 1000 + (int)i)
			T_FAIL("%s window, int %zu: %d, expected %d", who, i, buf[i], 1000 + (int)i);
}

int main(void)
{
	struct hms_cuda_config cfg = { .size = sizeof(cfg), .mem_bytes = 32UL << 20 };
	struct mapper a = { 0 }, b = { 0 };
	struct hms *h = t_open();

	g = g_attach(h, &cfg);
	if (!g_fake())
		T_SKIP("needs fakecuda's copy hold");
	p = hms_alloc(h, 2UL << 20, 0);
	T_ASSERT(p);
	t_fill(p, T_PAGE / sizeof(int), 1000);
	T_EQ(hms_advise(h, p, T_PAGE, HMS_ADVICE_READ_MOSTLY, 0), 0);

	t_watchdog(30, "the read-only maps");
	g_hold_htod(true);
	T_EQ(pthread_create(&a.t, NULL, map_ro, &a), 0);
	g_wait_htod_held(1);
	T_EQ(pthread_create(&b.t, NULL, map_ro, &b), 0);
	usleep(300 * 1000); /* b's map: done (before the fix) or waiting */
	if (atomic_load(&b.done) && !b.ret)
		check_window(b.dptr, "the second map's (the first's copy still held)");
	g_hold_htod(false);
	T_EQ(pthread_join(a.t, NULL), 0);
	T_EQ(pthread_join(b.t, NULL), 0);
	t_watchdog(0, NULL);
	T_EQ(a.ret, 0);
	T_EQ(b.ret, 0);
	check_window(a.dptr, "the first map's");
	check_window(b.dptr, "the second map's");
	T_EQ(hms_cuda_unmap(g, p, T_PAGE), 0);
	T_EQ(hms_cuda_unmap(g, p, T_PAGE), 0);
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
