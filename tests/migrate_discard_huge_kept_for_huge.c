/* migrate_discard_huge_kept_for_huge: a fill of small pages from kept
 * pages leaves a kept range that holds a whole huge page alone where
 * another kept range can serve it, so that a huge area's way back after
 * it still finds its huge page whole (HMS_HUGE_FILL=0: no fresh huge page
 * to make up for one split): a 1 MiB area of small pages and a 2 MiB huge
 * one go to the device, the small one comes back first, then the huge
 * one, as one huge page.  Every byte reads back. */
#include "hms_test.h"
#include "inject.h"

#define SMALL_PAGES 256
#define BLOCK_PAGES (HMS_HUGE_PAGE_SIZE / T_PAGE)

int main(void)
{
	struct hms_softdev_cmd c;
	struct hms_softdev *d;
	struct hms *h;
	int *s, *p;

	T_EQ(setenv("HMS_HUGE_FILL", "0", 1), 0);
	T_EQ(setenv("HMS_PAGE_POOL_IDLE_MS", "60000", 1), 0);
	unsetenv("HMS_PAGE_POOL_MB");
	h = t_open();
	if (!hms__test_gated_discard(h))
		T_SKIP("no gated discard here (no UFFDIO_MOVE, or HMS_UFFD_MOVE=0)");
	d = t_softdev(h, 4 * HMS_HUGE_PAGE_SIZE);
	/* In one 2 MiB batch: one kept range (across a boundary, a run of
	 * fewer than 16 pages would not be kept). */
	s = t_alloc_one_batch(h, SMALL_PAGES * T_PAGE);
	p = hms_alloc(h, HMS_HUGE_PAGE_SIZE, HMS_ALLOC_HUGE);
	T_ASSERT(s && p);
	t_fill(s, SMALL_PAGES * T_PAGE / sizeof(int), 3);
	t_fill(p, HMS_HUGE_PAGE_SIZE / sizeof(int), 5);
	if (t_anon_huge_kb(p) != (long)(HMS_HUGE_PAGE_SIZE >> 10))
		T_SKIP("no transparent huge pages here");
	t_to_device(h, d, s, SMALL_PAGES, "the small area to the device");
	t_to_device(h, d, p, BLOCK_PAGES, "the huge area to the device");
	if (hms__test_pool_bytes(h) == 0)
		T_SKIP("page reuse off here (several NUMA nodes)");
	T_EQ(hms__test_pool_bytes(h), (SMALL_PAGES + BLOCK_PAGES) * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, s, NULL, SMALL_PAGES, &c), 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, BLOCK_PAGES, &c), 0);
	T_EQ(t_count_loc(h, s, SMALL_PAGES, HMS_LOC_SYSTEM), SMALL_PAGES);
	T_EQ(t_count_loc(h, p, BLOCK_PAGES, HMS_LOC_SYSTEM), BLOCK_PAGES);
	t_check(s, SMALL_PAGES * T_PAGE / sizeof(int), 3);
	t_check(p, HMS_HUGE_PAGE_SIZE / sizeof(int), 5);
	T_EQ(hms__test_huge_filled(h), 0);
	T_EQ(t_anon_huge_kb(p), (long)(HMS_HUGE_PAGE_SIZE >> 10));
	printf("ok: the small area's way back left the kept huge page whole\n");
	T_EQ(hms_free(h, s, SMALL_PAGES * T_PAGE), 0);
	T_EQ(hms_free(h, p, HMS_HUGE_PAGE_SIZE), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
