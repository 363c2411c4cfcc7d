/* migrate_discard_huge_tabled: a huge page moves aside whole even after
 * small pages went through the spare ranges.  A discard of small pages
 * leaves a page table in the range it used, and the kernel splits a huge
 * page it moves over a page table into 512 small ones first (some 600 us
 * per 2 MiB); so a whole huge page goes only through a range that never
 * held small pages (discard_get), and every huge page of the area still
 * arrives in transit as one huge page (hook DISCARD_MOVED), round after
 * round, with small discards in between.  Before, the first huge page
 * after a small discard was split.  Every byte reads back.  SKIP without
 * transparent huge pages or a gated discard. */
#include <sys/mman.h>

#include "hms_test.h"
#include "huge_moved.inc"

#define SIZE (4 * HMS_HUGE_PAGE_SIZE)
#define SMALL (2 * HMS_HUGE_PAGE_SIZE)

/* Small discards: runs of 8 and 24 pages at several offsets, there and
 * back (8 pages are too few to keep, 24 are kept and used up again). */
static void small_trips(struct hms_softdev *d, int *s, int base)
{
	struct hms_softdev_cmd c;

	t_fill(s, SMALL / sizeof(int), base);
	for (size_t off = 0; off < SMALL; off += 256 * T_PAGE) {
		unsigned n = off % (512 * T_PAGE) ? 24 : 8;
		char *at = (char *)s + off + 3 * T_PAGE;

		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, at, NULL, n, &c), 0);
		T_EQ(c.cpages, n);
		T_EQ(t_cmd(d, hms_softdev_migrate_to_system, at, NULL, n, &c), 0);
		T_EQ(c.cpages, n);
	}
	t_check(s, SMALL / sizeof(int), base);
}

int main(void)
{
	size_t npages = SIZE / T_PAGE;
	struct hms_softdev_cmd c;
	struct hms_softdev *d;
	struct hms *h;
	int *p, *s;

	h = t_open();
	if (!hms__test_gated_discard(h))
		T_SKIP("no gated discard here (no UFFDIO_MOVE, or HMS_UFFD_MOVE=0)");
	d = t_softdev(h, 0);
	s = hms_alloc(h, SMALL, 0);
	p = hms_alloc(h, SIZE, HMS_ALLOC_HUGE);
	T_ASSERT(s && p);
	for (int round = 0; round < 3; round++) {
		small_trips(d, s, 1000 * round);
		t_fill(p, SIZE / sizeof(int), 100 * round);
		if (t_anon_huge_kb(p) != (long)(SIZE >> 10)) {
			if (round)
				T_FAIL("round %d: the area came back in %ld KiB of huge pages, not %zu",
				       round, t_anon_huge_kb(p), SIZE >> 10);
			T_SKIP("no transparent huge pages here (%ld KiB of %zu huge)",
			       t_anon_huge_kb(p), SIZE >> 10);
		}
		moved_runs = moved_huge = 0;
		hms__test_hook_set(check_moved, NULL);
		t_to_device(h, d, p, npages, "to the device");
		hms__test_hook_set(NULL, NULL);
		T_EQ(moved_runs, SIZE / HMS_HUGE_PAGE_SIZE);
		T_EQ(moved_huge, SIZE / HMS_HUGE_PAGE_SIZE); /* 3 before: one split */
		T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, npages, &c), 0);
		T_EQ(c.cpages, npages);
		t_check(p, SIZE / sizeof(int), 100 * round);
		/* Make it huge again where the way back did not (no page
		 * reuse here, or a pool too small): a fresh area. */
		if (t_anon_huge_kb(p) != (long)(SIZE >> 10)) {
			T_EQ(hms_free(h, p, SIZE), 0);
			p = hms_alloc(h, SIZE, HMS_ALLOC_HUGE);
			T_ASSERT(p);
		}
	}
	printf("ok: every huge page moved aside whole, small discards between\n");
	T_EQ(hms_free(h, p, SIZE), 0);
	T_EQ(hms_free(h, s, SMALL), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
