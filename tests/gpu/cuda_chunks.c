/* SPDX-License-Identifier: MIT */
/*
 * Chunks of several slots (chunk_mib 8: four 2 MiB slots per
 * cuMemCreate()), each serving an aligned 8 MiB region (gpu.h): a region's
 * blocks share its chunk; a window over blocks of two regions (both
 * chunks mapped whole: CUDA maps an allocation from its start only) shows
 * a kernel the right pages; a range that straddles a region boundary
 * takes a chunk on each side; a chunk goes back to the GPU only when its
 * last slot empties, and beyond keep_chunks slots; an empty chunk kept
 * serves any region; the pool is a whole number of chunks (rounded down,
 * or one chunk shrunk to a smaller pool); bad chunk sizes are refused; HMS_CUDA_CHUNK_MIB=0 is the default, as
 * chunk_mib 0 is.  What the GPU holds is read from hms_cuda_info() and,
 * with fakecuda, from what the GPU gave out.
 */
#include <stddef.h>

#include "gpu_test.h"

#define MIB (1UL << 20)
#define BLK (2 * MIB)


static int attach_with(struct hms *h, size_t size, uint64_t mem, unsigned keep, unsigned mib,
		       struct hms_cuda **g)
{
	struct hms_cuda_config cfg = { size, 0, mem, 2, 0, NULL, keep, mib };

	return hms_cuda_attach(h, &cfg, g);
}

int main(void)
{
	const size_t n = BLK / sizeof(int);
	struct hms *h = t_open();
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 32 * MIB, 2, 0, NULL, HMS_CUDA_KEEP_NONE, 8 };
	struct hms_cuda *g = g_attach(h, &cfg), *g2;
	struct hms_cuda_info info;
	hms_uid gpu = hms_cuda_target(g), sys;
	char *raw = hms_alloc(h, 12 * BLK, 0);
	int *p;
	uint64_t d;

	T_ASSERT(raw);
	/* 8 whole blocks: regions A (blocks 0-3) and B (4-7). */
	p = (int *)(((uintptr_t)raw + 4 * BLK - 1) & ~(4 * BLK - 1));
	t_fill(p, 8 * n, 5);
	T_EQ(hms_where(h, p, 1, &sys), 1);
	g_expect_mem(g, 0, 0, 0);

	/* Three blocks: one chunk, one of its slots free. */
	T_EQ(hms_migrate(h, p, 3 * BLK, &gpu, 1, 0), 3 * 512);
	g_expect_mem(g, 6, 2, 8);
	/* One more takes A's last slot; two more (B's) make a second chunk. */
	T_EQ(hms_migrate(h, p + 3 * n, BLK, &gpu, 1, 0), 512);
	g_expect_mem(g, 8, 0, 8);
	T_EQ(hms_migrate(h, p + 4 * n, 2 * BLK, &gpu, 1, 0), 2 * 512);
	g_expect_mem(g, 12, 4, 16);
	T_EQ(g_count_on(h, p, 8 * BLK / T_PAGE, gpu), 6 * 512);

	/* A window over blocks 1-5: A's chunk and B's, side by side. */
	T_EQ(hms_cuda_map(g, p + n, 5 * BLK, 0, &d), 0);
	g_add(g, d, 5 * n, 1);
	T_EQ(hms_cuda_unmap(g, p + n, 5 * BLK), 0);
	g_expect_mem(g, 12, 4, 16);

	/* A's blocks come home: it goes back to the GPU; B stays (two of
	 * its slots hold pages). */
	T_EQ(hms_migrate(h, p, 4 * BLK, &sys, 1, 0), 4 * 512);
	g_expect_mem(g, 4, 4, 8);
	T_EQ(hms_migrate(h, p + 4 * n, 2 * BLK, &sys, 1, 0), 2 * 512);
	g_expect_mem(g, 0, 0, 0);
	t_check(p, n, 5);
	t_check(p + n, 5 * n, 6 + (int)n);
	t_check(p + 6 * n, 2 * n, 5 + 6 * (int)n);

	/* Blocks 3 and 4, across the boundary: a chunk for each region. */
	T_EQ(hms_migrate(h, p + 3 * n, 2 * BLK, &gpu, 1, 0), 2 * 512);
	g_expect_mem(g, 4, 12, 16);
	T_EQ(hms_migrate(h, p + 3 * n, 2 * BLK, &sys, 1, 0), 2 * 512);
	g_expect_mem(g, 0, 0, 0);
	T_EQ(hms_cuda_detach(g), 0);

	/* keep_chunks 4: of two empty chunks, one (4 slots) stays. */
	T_EQ(attach_with(h, sizeof(cfg), 32 * MIB, 4, 8, &g), 0);
	gpu = hms_cuda_target(g);
	T_EQ(hms_migrate(h, p, 6 * BLK, &gpu, 1, 0), 6 * 512);
	g_expect_mem(g, 12, 4, 16);
	T_EQ(hms_migrate(h, p, 6 * BLK, &sys, 1, 0), 6 * 512);
	g_expect_mem(g, 0, 8, 8);
	/* ...and takes B's blocks without a new chunk. */
	T_EQ(hms_migrate(h, p + 4 * n, 4 * BLK, &gpu, 1, 0), 4 * 512);
	g_expect_mem(g, 8, 0, 8);
	t_check(p + n, 5 * n, 6 + (int)n); /* (the CPU's touch brings them home) */
	t_check(p + 6 * n, 2 * n, 5 + 6 * (int)n);
	T_EQ(hms_cuda_detach(g), 0);

	/* A pool of 5 slots is one chunk of 4: the pool is a whole number
	 * of chunks.  Of two regions, one gets it. */
	T_EQ(attach_with(h, sizeof(cfg), 10 * MIB, HMS_CUDA_KEEP_NONE, 8, &g), 0);
	T_EQ(hms_cuda_info(g, &info), 0);
	T_EQ(info.pool_bytes, 8 * MIB);
	gpu = hms_cuda_target(g);
	T_EQ(hms_migrate(h, p, 8 * BLK, &gpu, 1, 0), 4 * 512);
	g_expect_mem(g, 8, 0, 8);
	T_EQ(hms_cuda_detach(g), 0);
	t_check(p, n, 5);
	/* A pool of 3 slots with 8 MiB chunks: one chunk of the pool's 6 MiB
	 * (regions of 3 blocks). */
	T_EQ(attach_with(h, sizeof(cfg), 6 * MIB, HMS_CUDA_KEEP_NONE, 8, &g), 0);
	T_EQ(hms_cuda_info(g, &info), 0);
	T_EQ(info.pool_bytes, 6 * MIB);
	gpu = hms_cuda_target(g);
	T_EQ(hms_migrate(h, p, BLK, &gpu, 1, 0), 512);
	g_expect_mem(g, 2, 4, 6);
	T_EQ(hms_cuda_detach(g), 0);
	t_check(p, n, 5);

	/* Bad sizes; a config from before chunk_mib gets the default. */
	T_EQ(attach_with(h, sizeof(cfg), 32 * MIB, 0, 3, &g2), -EINVAL);
	T_EQ(attach_with(h, sizeof(cfg), 32 * MIB, 0, 130, &g2), -EINVAL);
	T_EQ(attach_with(h, sizeof(cfg), 32 * MIB, 0, 1, &g2), -EINVAL);
	T_EQ(attach_with(h, offsetof(struct hms_cuda_config, chunk_mib) - 1, 32 * MIB, 0, 8, &g2),
	     -EINVAL);
	T_EQ(setenv("HMS_CUDA_CHUNK_MIB", "8x", 1), 0);
	T_EQ(attach_with(h, sizeof(cfg), 32 * MIB, 0, 0, &g2), -EINVAL);
	/* The variable's 0 is the default too, as the field's is. */
	T_EQ(setenv("HMS_CUDA_CHUNK_MIB", "0", 1), 0);
	T_EQ(attach_with(h, sizeof(cfg), 32 * MIB, HMS_CUDA_KEEP_NONE, 0, &g), 0);
	gpu = hms_cuda_target(g);
	T_EQ(hms_migrate(h, p, BLK, &gpu, 1, 0), 512);
	g_expect_mem(g, 2, 0, 2);
	T_EQ(hms_cuda_detach(g), 0);
	T_EQ(setenv("HMS_CUDA_CHUNK_MIB", "4", 1), 0);
	T_EQ(attach_with(h, offsetof(struct hms_cuda_config, chunk_mib), 32 * MIB,
			 HMS_CUDA_KEEP_NONE, 3, &g), 0); /* chunk_mib not read: 4 */
	gpu = hms_cuda_target(g);
	T_EQ(hms_migrate(h, p, BLK, &gpu, 1, 0), 512);
	g_expect_mem(g, 2, 2, 4);
	T_EQ(hms_cuda_detach(g), 0);
	T_EQ(unsetenv("HMS_CUDA_CHUNK_MIB"), 0);
	t_check(p, n, 5);
	hms_close(h);
	printf("ok\n");
	return 0;
}
