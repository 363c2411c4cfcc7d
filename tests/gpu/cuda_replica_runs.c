/* SPDX-License-Identifier: MIT */
/*
 * Replicas on the GPU are made by runs: a read-only window over a
 * READ_MOSTLY block whose page 100 already lives on the GPU copies the
 * other 511 pages in two copies ([0, 100) and [101, 512)), not one per
 * page (fakecuda counts them; on a GPU each copy is a call and a DMA).
 * The kernel reading through the window sees every page's bytes, the
 * replicas' and the resident page's.  Where the second run's copy fails
 * (fakecuda), the map says -EIO and keeps none of the block's replicas:
 * the GPU holds what it held, the CPU's bytes are as they were.
 */
#include "gpu_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 64UL << 20, 2, 0, NULL };
	struct hms_cuda *g = g_attach(h, &cfg);
	const size_t blk = 2UL << 20, n = blk / sizeof(unsigned), npages = blk / T_PAGE;
	char *raw = hms_alloc(h, 2 * blk, 0);
	unsigned *dst = hms_alloc(h, blk, 0), *src;
	unsigned (*copies)(void) = g_fake() ? (unsigned (*)(void))g_fake_sym("fakecuda_copies")
					    : NULL;
	hms_uid gpu = hms_cuda_target(g);
	unsigned c0 = 0;
	uint64_t ds, dd;

	T_ASSERT(raw && dst);
	src = (unsigned *)(((uintptr_t)raw + blk - 1) & ~(blk - 1)); /* one block */
	for (size_t i = 0; i < n; i++)
		src[i] = (unsigned)i * 3;
	T_EQ(hms_advise(h, src, blk, HMS_ADVICE_READ_MOSTLY, 0), 0);
	T_EQ(hms_migrate(h, (char *)src + 100 * T_PAGE, T_PAGE, &gpu, 1, 0), 1);
	T_EQ(g_count_on(h, src, npages, gpu), 1);

	if (g_fake()) {
		void (*fail)(unsigned, unsigned) =
			(void (*)(unsigned, unsigned))g_fake_sym("fakecuda_fail_copies");
		struct hms_cuda_info i0, i1;

		T_EQ(hms_cuda_info(g, &i0), 0);
		fail(1, 1);
		T_EQ(hms_cuda_map(g, src, blk, HMS_CUDA_MAP_READ_ONLY, &ds), -EIO);
		fail(0, 0);
		T_EQ(hms_cuda_info(g, &i1), 0);
		T_EQ(i1.used_bytes, i0.used_bytes);
		T_EQ(i1.kept_bytes, i0.kept_bytes);
		for (size_t i = 0; i < n; i++)
			if (src[i] != (unsigned)i * 3)
				T_FAIL("src[%zu] = %u after the failed map", i, src[i]);
		T_EQ(g_count_on(h, src, npages, gpu), 0); /* the CPU read page 100 home */
		T_EQ(hms_migrate(h, (char *)src + 100 * T_PAGE, T_PAGE, &gpu, 1, 0), 1);
	}
	if (copies)
		c0 = copies();
	T_EQ(hms_cuda_map(g, src, blk, HMS_CUDA_MAP_READ_ONLY, &ds), 0);
	if (copies && copies() - c0 != 2)
		T_FAIL("%u copies made the replicas of one block with a hole, want 2",
		       copies() - c0);
	T_EQ(hms_cuda_map(g, dst, blk, 0, &dd), 0);
	g_copy(g, dd, ds, n, 7);
	T_EQ(hms_cuda_unmap(g, src, blk), 0);
	T_EQ(hms_cuda_unmap(g, dst, blk), 0);
	for (size_t i = 0; i < n; i++)
		if (dst[i] != (unsigned)i * 3 + 7)
			T_FAIL("dst[%zu] (page %zu) = %u, want %u", i, i * sizeof(unsigned) / T_PAGE,
			       dst[i], (unsigned)i * 3 + 7);
	hms_close(h);
	printf("ok\n");
	return 0;
}
