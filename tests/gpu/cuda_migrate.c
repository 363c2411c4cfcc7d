/* SPDX-License-Identifier: MIT */
/*
 * hms_migrate() to the GPU's target moves every written page in parallel
 * batches (never-touched pages stay unpopulated, as with move_pages); the GPU
 * takes memory in 2 MiB chunks; a CPU read of one page brings that page
 * back (the rest stays); hms_migrate() back to system memory brings
 * the rest; every byte compares equal and the chunks go back to the GPU.
 * Runs in both copy modes.
 */
#include "gpu_test.h"

static void run(struct hms *h, unsigned mode)
{
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 64UL << 20, 3, mode, NULL };
	struct hms_cuda *g = g_attach(h, &cfg);
	const size_t len = 16UL << 20, npages = len / T_PAGE;
	int *p = hms_alloc(h, len, 0);
	hms_uid gpu, sys = 0;
	struct hms_cuda_info info;
	long moved;

	T_ASSERT(p);
	gpu = hms_cuda_target(g);
	/* Pages 0..3/4 written, the last quarter never touched. */
	t_fill(p, len / sizeof(int) / 4 * 3, 7);
	moved = hms_migrate(h, p, len, &gpu, 1, 0);
	T_EQ(moved, npages / 4 * 3);
	T_EQ(g_count_on(h, p, npages, gpu), npages / 4 * 3);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_NONE), npages / 4);
	T_EQ(hms_cuda_info(g, &info), 0);
	T_EQ(info.used_bytes, len / 4 * 3); /* 6 chunks of 2 MiB */

	/* A CPU touch brings its page back (with a few neighbours, as hms
	 * suggests), not the whole range. */
	T_EQ(p[5], 12);
	T_EQ(g_count_on(h, p, 1, gpu), 0);
	T_ASSERT(g_count_on(h, p, npages, gpu) >= npages / 4 * 3 - 512);
	/* Never-touched pages come back as zeros. */
	for (size_t i = len / sizeof(int) / 4 * 3; i < len / sizeof(int); i += 1024)
		T_EQ(p[i], 0);

	/* The rest, by hms_migrate() to a system node. */
	{
		hms_uid u;

		T_EQ(hms_where(h, p, 1, &u), 1);
		sys = u;
	}
	moved = hms_migrate(h, p, len, &sys, 1, 0);
	T_ASSERT(moved > 0);
	T_EQ(g_count_on(h, p, npages, gpu), 0);
	t_check(p, len / sizeof(int) / 4 * 3, 7);
	for (size_t i = len / sizeof(int) / 4 * 3; i < len / sizeof(int); i++)
		T_EQ(p[i], 0);
	T_EQ(hms_cuda_info(g, &info), 0);
	T_EQ(info.used_bytes, 0);

	/* Round trip again with writes in between, then detach with pages on
	 * the GPU: they come home first. */
	t_fill(p, len / sizeof(int), 100);
	T_EQ(hms_migrate(h, p, len, &gpu, 1, 0), npages);
	T_EQ(g_count_on(h, p, npages, gpu), npages);
	T_EQ(hms_cuda_info(g, &info), 0);
	T_ASSERT(info.kept_bytes <= 256 * (2UL << 20));
	T_EQ(hms_cuda_detach(g), 0);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	if (g_fake()) /* every chunk went back to the GPU, kept ones too */
		T_EQ(((size_t(*)(void))g_fake_sym("fakecuda_mem_used"))(), 0);
	t_check(p, len / sizeof(int), 100);
	T_EQ(hms_free(h, p, len), 0);
}

int main(void)
{
	struct hms *h = t_open();

	run(h, HMS_CUDA_COPY_STAGED);
	run(h, HMS_CUDA_COPY_REGISTER);
	hms_close(h);
	printf("ok\n");
	return 0;
}
