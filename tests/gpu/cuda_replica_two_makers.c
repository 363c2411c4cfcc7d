/* SPDX-License-Identifier: MIT */
/*
 * Replicas made by two threads at once (fakecuda only: its copy hold).
 * The first read-only map reads its block straight into the replicas'
 * own pinned buffer and copies from it (held here in fakecuda's copy);
 * the second, finding that buffer taken, reads into plain memory and
 * copies through a staging buffer, and reaches its copy without waiting
 * for the first.  Both windows then show their own block's bytes.
 */
#include <pthread.h>
#include <unistd.h>

#include "gpu_test.h"

#define BLK (2UL << 20)

static struct hms_cuda *g;

struct mapper {
	pthread_t t;
	unsigned *p;
	uint64_t dptr;
	int ret;
};

static void *map_ro(void *arg)
{
	struct mapper *m = arg;

	m->ret = hms_cuda_map(g, m->p, BLK, HMS_CUDA_MAP_READ_ONLY, &m->dptr);
	return NULL;
}

/* The window's bytes, read from the GPU, against the CPU's. */
static void check_window(const struct mapper *m, const char *who)
{
	const struct hms_cu *cu = hms_cu_get(NULL, 0, NULL);
	unsigned *buf = malloc(BLK);

	T_ASSERT(cu && buf);
	T_EQ(m->ret, 0);
	T_EQ(cu->CtxSetCurrent(hms_cuda_context(g)), CUDA_SUCCESS);
	T_EQ(cu->MemcpyDtoH(buf, m->dptr, BLK), CUDA_SUCCESS);
	for (size_t i = 0; i < BLK / sizeof(unsigned); i++)
		if (buf[i] != m->p[i])
			T_FAIL("%s window, int %zu: %u, expected %u", who, i, buf[i], m->p[i]);
	free(buf);
}

int main(void)
{
	struct hms_cuda_config cfg = { .size = sizeof(cfg), .mem_bytes = 32UL << 20 };
	struct mapper a = { 0 }, b = { 0 };
	struct hms *h = t_open();
	char *raw;

	g = g_attach(h, &cfg);
	if (!g_fake())
		T_SKIP("needs fakecuda's copy hold");
	raw = hms_alloc(h, 3 * BLK, 0);
	T_ASSERT(raw);
	a.p = (unsigned *)(((uintptr_t)raw + BLK - 1) & ~(BLK - 1));
	b.p = a.p + BLK / sizeof(unsigned);
	for (size_t i = 0; i < 2 * BLK / sizeof(unsigned); i++)
		a.p[i] = (unsigned)i * 11 + 5;
	T_EQ(hms_advise(h, a.p, 2 * BLK, HMS_ADVICE_READ_MOSTLY, 0), 0);

	t_watchdog(30, "the second map waited for the first's buffer");
	g_hold_htod(true);
	T_EQ(pthread_create(&a.t, NULL, map_ro, &a), 0);
	g_wait_htod_held(1);
	T_EQ(pthread_create(&b.t, NULL, map_ro, &b), 0);
	g_wait_htod_held(2);
	g_hold_htod(false);
	T_EQ(pthread_join(a.t, NULL), 0);
	T_EQ(pthread_join(b.t, NULL), 0);
	t_watchdog(0, NULL);
	check_window(&a, "the first map's");
	check_window(&b, "the second map's");
	T_EQ(hms_cuda_unmap(g, a.p, BLK), 0);
	T_EQ(hms_cuda_unmap(g, b.p, BLK), 0);
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
