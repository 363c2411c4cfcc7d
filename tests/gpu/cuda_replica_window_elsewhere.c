/* SPDX-License-Identifier: MIT */
/*
 * An invalidation waits for a read-only window only where that window
 * shows a replica: a range that holds replicas in one place and, in
 * another, a read-only window over pages that moved to the GPU (no
 * replicas there) drops the replicas at once.  Before, the two were
 * looked for separately over the whole range, and hms_protect() by the
 * window's own thread waited for an unmap that thread was to do.
 */
#include <sys/mman.h>

#include "gpu_test.h"

int main(void)
{
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 32UL << 20, 2, 0, NULL, 0 };
	const size_t blk = 2UL << 20, n = blk / sizeof(int);
	struct hms *h = t_open();
	struct hms_cuda *g = g_attach(h, &cfg);
	char *raw = hms_alloc(h, 4 * blk, 0);
	int *rm, *w;
	uint64_t d;

	T_ASSERT(raw);
	rm = (int *)(((uintptr_t)raw + blk - 1) & ~(blk - 1)); /* a whole block */
	w = rm + n; /* the next block */
	T_ASSERT((char *)w + blk <= raw + 4 * blk);
	t_fill(rm, n, 1);
	t_fill(w, n, 2);

	/* Replicas of rm stay after its window ends. */
	T_EQ(hms_advise(h, rm, blk, HMS_ADVICE_READ_MOSTLY, 0), 0);
	T_EQ(hms_cuda_map(g, rm, blk, HMS_CUDA_MAP_READ_ONLY, &d), 0);
	T_EQ(hms_cuda_unmap(g, rm, blk), 0);
	/* A read-only window over w: its pages move to the GPU. */
	T_EQ(hms_cuda_map(g, w, blk, HMS_CUDA_MAP_READ_ONLY, &d), 0);
	T_EQ(g_count_on(h, w, blk / T_PAGE, hms_cuda_target(g)), blk / T_PAGE);

	t_watchdog(20, "hms_protect over replicas and a read-only window without any");
	T_EQ(hms_protect(h, rm, 2 * blk, PROT_READ), 0);
	t_watchdog(0, NULL);

	T_EQ(hms_cuda_unmap(g, w, blk), 0);
	T_EQ(hms_protect(h, rm, 2 * blk, PROT_READ | PROT_WRITE), 0);
	t_check(rm, n, 1);
	t_check(w, n, 2);
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
