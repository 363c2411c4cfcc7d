/* SPDX-License-Identifier: MIT */
/*
 * A read-only window over the first half of a 2 MiB block does not hold
 * up invalidations of replicas in the block's other half: MADV_DONTNEED
 * there (handled on the fault handler thread) proceeds, and the window's
 * owner can map a second window meanwhile.  (The wait covered the whole
 * block the window shows; the handler waited for the window while its
 * owner's next hms_cuda_map waited for the handler, in hms_sync: a
 * deadlock; hms stress --gpu found it.)  The discarded half reads as
 * zeros, the kernel copied the first half.
 */
#include <signal.h>
#include <unistd.h>

#include "gpu_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 64UL << 20, 2, 0, NULL };
	struct hms_cuda *g = g_attach(h, &cfg);
	const size_t len = 2UL << 20, half = len / 2, n = half / sizeof(unsigned);
	unsigned *src = hms_alloc(h, len, HMS_ALLOC_HUGE), *dst = hms_alloc(h, half, 0);
	unsigned *hi = src + n;
	uint64_t ds, dd;

	T_ASSERT(src && dst);
	for (size_t i = 0; i < 2 * n; i++)
		src[i] = (unsigned)i;
	T_EQ(hms_advise(h, src, len, HMS_ADVICE_READ_MOSTLY, 0), 0);
	/* Replicas of the whole block, then a window over its first half. */
	T_EQ(hms_cuda_map(g, src, len, HMS_CUDA_MAP_READ_ONLY, &ds), 0);
	T_EQ(hms_cuda_unmap(g, src, len), 0);
	T_EQ(hms_cuda_map(g, src, half, HMS_CUDA_MAP_READ_ONLY, &ds), 0);

	t_watchdog(20, "an invalidation outside the window waited for it");
	T_EQ(madvise(hi, half, MADV_DONTNEED), 0);
	T_EQ(hms_cuda_map(g, dst, half, 0, &dd), 0);
	t_watchdog(0, NULL);
	g_copy(g, dd, ds, n, 1);
	T_EQ(hms_cuda_unmap(g, src, half), 0);
	T_EQ(hms_cuda_unmap(g, dst, half), 0);
	for (size_t i = 0; i < n; i++) {
		if (dst[i] != (unsigned)i + 1)
			T_FAIL("dst[%zu] = %u", i, dst[i]);
		if (hi[i] != 0)
			T_FAIL("discarded hi[%zu] = %u", i, hi[i]);
	}
	hms_close(h);
	printf("ok\n");
	return 0;
}
