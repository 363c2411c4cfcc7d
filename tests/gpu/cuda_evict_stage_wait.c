/* SPDX-License-Identifier: MIT */
/*
 * Migrations home that wait for a window do not hold a staging buffer
 * while they wait: with every buffer taken by such waiters, the window's
 * owner could not map another range (its copies need a buffer) and so
 * never reach the hms_cuda_unmap() they wait for.
 */
#include <pthread.h>
#include <unistd.h>

#include "gpu_test.h"

static struct hms *h;
static int *p;
static const size_t len = 8UL << 20;
static hms_uid sys;

static void *evict(void *arg)
{
	(void)arg;
	/* Waits for the window over p to end, then brings every page home. */
	return (void *)(intptr_t)hms_migrate(h, p, len, &sys, 1, 0);
}

int main(void)
{
	/* One copy thread: 3 staging buffers (copy_threads + 2). */
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 64UL << 20, 1, 0, NULL, 0 };
	struct hms_cuda *g;
	pthread_t t[2];
	uint64_t dp, dq;
	int *q;

	h = t_open();
	g = g_attach(h, &cfg);
	p = hms_alloc(h, len, 0);
	q = hms_alloc(h, 2UL << 20, 0);
	T_ASSERT(p && q);
	t_fill(p, len / sizeof(int), 3);
	t_fill(q, (2UL << 20) / sizeof(int), 5);
	T_EQ(hms_where(h, q, 1, &sys), 1);

	T_EQ(hms_cuda_map(g, p, len, 0, &dp), 0);
	/* Two migrations home wait for the window: the first shares its
	 * batches with the copy thread, the second works alone. */
	for (int i = 0; i < 2; i++)
		T_EQ(pthread_create(&t[i], NULL, evict, NULL), 0);
	usleep(300 * 1000);

	/* The window's owner maps another range before it unmaps the first. */
	t_watchdog(20, "hms_cuda_map while migrations home wait for a window");
	T_EQ(hms_cuda_map(g, q, 2UL << 20, 0, &dq), 0);
	t_watchdog(0, NULL);
	g_add(g, dq, (2UL << 20) / sizeof(int), 1);
	T_EQ(hms_cuda_unmap(g, q, 2UL << 20), 0);
	T_EQ(hms_cuda_unmap(g, p, len), 0);
	for (int i = 0; i < 2; i++)
		T_ASSERT(pthread_join(t[i], NULL) == 0);
	T_EQ(g_count_on(h, p, len / T_PAGE, hms_cuda_target(g)), 0);
	t_check(p, len / sizeof(int), 3);
	t_check(q, (2UL << 20) / sizeof(int), 6);
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
