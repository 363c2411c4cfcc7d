/* SPDX-License-Identifier: MIT */
/*
 * A window holds its own pages on the GPU, not the rest of its 2 MiB
 * blocks: a CPU touch of a page on the GPU next to a window (same block,
 * outside [addr, addr + len)) brings that page home at once, and
 * hms_migrate() home of such pages does not wait for the unmap either.
 */
#include "gpu_test.h"

int main(void)
{
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 32UL << 20, 2, 0, NULL, 0 };
	const size_t blk = 2UL << 20, ipp = T_PAGE / sizeof(int);
	struct hms *h = t_open();
	struct hms_cuda *g = g_attach(h, &cfg);
	hms_uid gpu = hms_cuda_target(g), sys;
	char *raw = hms_alloc(h, 2 * blk, 0);
	int *p, *win, *far;
	uint64_t d;

	T_ASSERT(raw);
	/* One whole block of the range. */
	p = (int *)(((uintptr_t)raw + blk - 1) & ~(blk - 1));
	if ((char *)p + blk > raw + 2 * blk)
		p = (int *)raw;
	t_fill(p, blk / sizeof(int), 4);
	T_EQ(hms_where(h, p, 1, &sys), 1);
	T_EQ(hms_migrate(h, p, blk, &gpu, 1, 0), (long)(blk / T_PAGE));

	/* A window over the block's first 16 pages. */
	win = p;
	T_EQ(hms_cuda_map(g, win, 16 * T_PAGE, 0, &d), 0);
	g_add(g, d, 16 * ipp, 1);

	t_watchdog(20, "a CPU touch of a page next to a window");
	/* Right next to the window (the fault-around range meets it) ... */
	T_EQ(p[16 * ipp], 4 + (int)(16 * ipp));
	/* ... and far from it in the same block. */
	far = p + 300 * ipp;
	T_EQ(far[5], 4 + (int)(300 * ipp) + 5);
	T_EQ(g_count_on(h, p + 16 * ipp, 1, gpu), 0);
	T_EQ(g_count_on(h, far, 1, gpu), 0);
	/* hms_migrate() home of the block's other pages. */
	{
		long r = hms_migrate(h, p + 32 * ipp, blk - 32 * T_PAGE, &sys, 1, 0);

		if (r < 0)
			T_FAIL("hms_migrate home: %s", strerror((int)-r));
	}
	T_EQ(g_count_on(h, p + 32 * ipp, blk / T_PAGE - 32, gpu), 0);
	t_watchdog(0, NULL);
	/* The window's own pages stayed. */
	T_EQ(g_count_on(h, win, 16, gpu), 16);

	T_EQ(hms_cuda_unmap(g, win, 16 * T_PAGE), 0);
	t_check(p + 16 * ipp, blk / sizeof(int) - 16 * ipp, 4 + (int)(16 * ipp));
	t_check(p, 16 * ipp, 5);
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
