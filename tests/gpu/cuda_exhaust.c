/* SPDX-License-Identifier: MIT */
/*
 * GPU memory runs out: a pool of 4 chunks (8 MiB) and a 16 MiB range.
 * hms_migrate() moves what fits (4 blocks' pages) and reports it; the rest
 * stays in system memory; hms_cuda_map() of the whole range fails with
 * -ENOMEM and nothing is lost; a map that fits works after the others
 * left.  With fakecuda, the GPU itself also refuses chunks (the driver
 * API's out-of-memory path) while the pool still has slots.
 */
#include "gpu_test.h"

static void check_all(const int *p, size_t n)
{
	t_check(p, n, 3);
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 8UL << 20, 2, 0, NULL, HMS_CUDA_KEEP_NONE, 2 };
	struct hms_cuda *g = g_attach(h, &cfg);
	const size_t len = 16UL << 20, npages = len / T_PAGE, n = len / sizeof(int);
	int *p = hms_alloc(h, len, 0);
	hms_uid gpu = hms_cuda_target(g);
	struct hms_cuda_info info;
	uint64_t d;
	long moved;

	T_ASSERT(p);
	t_fill(p, n, 3);
	moved = hms_migrate(h, p, len, &gpu, 1, 0);
	T_EQ(moved, 4 * 512);
	T_EQ(g_count_on(h, p, npages, gpu), 4 * 512);
	T_EQ(hms_cuda_info(g, &info), 0);
	T_EQ(info.used_bytes, 8UL << 20);
	check_all(p, n);                    /* everything comes home on touch */
	T_EQ(g_count_on(h, p, npages, gpu), 0);

	T_EQ(hms_cuda_map(g, p, len, 0, &d), -ENOMEM);
	check_all(p, n);
	T_EQ(hms_cuda_map(g, p, 8UL << 20, 0, &d), 0); /* all pages fit now */
	T_EQ(hms_cuda_unmap(g, p, 8UL << 20), 0);
	check_all(p, n);

	if (g_fake()) {
		/* The GPU refuses a chunk although the pool has room. */
		void (*limit)(size_t) = (void (*)(size_t))g_fake_sym("fakecuda_set_mem_limit");
		size_t (*used)(void) = (size_t (*)(void))g_fake_sym("fakecuda_mem_used");

		limit(used() + (4UL << 20)); /* two more chunks */
		moved = hms_migrate(h, p, len, &gpu, 1, 0);
		T_EQ(moved, 2 * 512);
		check_all(p, n);
		limit(256UL << 20);
	}
	T_EQ(hms_cuda_detach(g), 0);
	check_all(p, n);
	hms_close(h);
	printf("ok\n");
	return 0;
}
