/* SPDX-License-Identifier: MIT */
/*
 * An area of huge pages (HMS_ALLOC_HUGE, four 2 MiB pages) goes to the
 * GPU and back with hms_migrate(), and once more to the GPU and back by
 * CPU touches: every byte compares equal each way.  Where the discard is
 * gated (UFFDIO_MOVE) and transparent huge pages are granted, the way
 * back through hms_migrate() fills each whole aligned 2 MiB at once (the
 * driver's eviction batch is one 2 MiB block, its staging buffer one
 * contiguous source), from kept pages or a fresh huge page, so the area
 * is still made of huge pages after the round trip: with the default pool
 * and with a pool of one range (HMS_PAGE_POOL_MB=2: three of the four come
 * back through fresh huge pages).  A CPU touch of a block all on the GPU
 * brings the whole block back in one fault (HMS_FAULT_HUGE), as a huge
 * page where the round trips came back so.  Runs in both copy modes.
 */
#include "gpu_test.h"
#include "inject.h"

#define SIZE (4 * HMS_HUGE_PAGE_SIZE)

/* To the GPU and back by hms_migrate(); whether huge pages were checked.
 * whole: every 2 MiB can come back whole (kept, or fresh huge pages). */
static bool round_trip(struct hms *h, struct hms_cuda *g, int *p, int base, bool huge, bool whole)
{
	const size_t npages = SIZE / T_PAGE;
	hms_uid gpu = hms_cuda_target(g), sys;
	size_t filled = hms__test_huge_filled(h), copied = hms__test_pool_copied(h);
	long fallbacks = t_thp_fallbacks();
	bool reuse;

	T_EQ(hms_where(h, p, 1, &sys), 1);
	t_fill(p, SIZE / sizeof(int), base);
	T_EQ(hms_migrate(h, p, SIZE, &gpu, 1, 0), (long)npages);
	T_EQ(g_count_on(h, p, npages, gpu), npages);
	reuse = hms__test_pool_bytes(h) != 0;
	T_EQ(hms_migrate(h, p, SIZE, &sys, 1, 0), (long)npages);
	T_EQ(g_count_on(h, p, npages, gpu), 0);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	t_check(p, SIZE / sizeof(int), base);
	/* Every 2 MiB came back whole through kept or fresh pages (unless the
	 * kernel had no huge page for a fresh fill: vmstat says so). */
	if (!huge || !hms__test_gated_discard(h) || !reuse || !whole)
		return false;
	T_EQ(hms__test_pool_copied(h) - copied + hms__test_huge_filled(h) - filled, SIZE);
	if (hms__test_huge_filled(h) != filled && t_thp_fallbacks() != fallbacks)
		return false;
	T_EQ(t_anon_huge_kb(p), (long)(SIZE >> 10));
	return true;
}

/* To the GPU, then back by one CPU read in each block, which brings the
 * whole block back: every byte, every page in system memory, and huge
 * pages where the round trips came back so (checked). */
static void touch_trip(struct hms *h, struct hms_cuda *g, int *p, int base, bool checked)
{
	const size_t npages = SIZE / T_PAGE, block = HMS_HUGE_PAGE_SIZE / sizeof(int);
	size_t filled = hms__test_huge_filled(h), copied = hms__test_pool_copied(h);
	long fallbacks = t_thp_fallbacks();
	hms_uid gpu = hms_cuda_target(g);

	t_fill(p, SIZE / sizeof(int), base);
	T_EQ(hms_migrate(h, p, SIZE, &gpu, 1, 0), (long)npages);
	T_EQ(g_count_on(h, p, npages, gpu), npages);
	for (size_t b = 0; b < SIZE / HMS_HUGE_PAGE_SIZE; b++) {
		size_t i = b * block + block / 2 + 3;

		T_EQ(((volatile int *)p)[i], base + (int)i);
		T_EQ(t_count_loc(h, p + b * block, HMS_HUGE_PAGE_SIZE / T_PAGE, HMS_LOC_SYSTEM),
		     HMS_HUGE_PAGE_SIZE / T_PAGE);
	}
	t_check(p, SIZE / sizeof(int), base);
	T_EQ(g_count_on(h, p, npages, gpu), 0);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	if (checked && hms__test_pool_copied(h) - copied + hms__test_huge_filled(h) - filled == SIZE &&
	    (hms__test_huge_filled(h) == filled || t_thp_fallbacks() == fallbacks))
		T_EQ(t_anon_huge_kb(p), (long)(SIZE >> 10));
}

static bool run(unsigned mode, bool one_range)
{
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 64UL << 20, 3, mode, NULL };
	struct hms *h;
	struct hms_cuda *g;
	const char *fill = getenv("HMS_HUGE_FILL");
	bool huge, checked, whole = !one_range || !fill || strcmp(fill, "0");
	int *p;

	if (one_range)
		setenv("HMS_PAGE_POOL_MB", "2", 1);
	else
		unsetenv("HMS_PAGE_POOL_MB");
	h = t_open();
	g = g_attach(h, &cfg);
	p = hms_alloc(h, SIZE, HMS_ALLOC_HUGE);
	T_ASSERT(p);
	t_fill(p, SIZE / sizeof(int), 1);
	huge = t_anon_huge_kb(p) == (long)(SIZE >> 10);
	checked = round_trip(h, g, p, 100, huge, whole);
	/* Again, from what came back (huge if it was checked so). */
	checked = round_trip(h, g, p, 200, checked, whole) && checked;
	if (one_range && checked)
		T_ASSERT(hms__test_huge_filled(h) >= 2 * (SIZE - HMS_HUGE_PAGE_SIZE));
	touch_trip(h, g, p, 300, checked);
	t_fill(p, SIZE / sizeof(int), 400);
	t_check(p, SIZE / sizeof(int), 400);
	T_EQ(hms_cuda_detach(g), 0);
	T_EQ(hms_free(h, p, SIZE), 0);
	hms_close(h);
	printf("copy mode %u, %s: %s\n", mode, one_range ? "one kept range" : "default pool",
	       checked ? "huge pages after the round trips"
		       : huge ? "data only (no gated discard or page reuse, HMS_HUGE_FILL=0, or no "
				"huge page for a fresh fill)"
			      : "data only (no transparent huge pages here)");
	return checked;
}

int main(void)
{
	run(HMS_CUDA_COPY_STAGED, false);
	run(HMS_CUDA_COPY_REGISTER, false);
	run(HMS_CUDA_COPY_STAGED, true);
	printf("ok\n");
	return 0;
}
