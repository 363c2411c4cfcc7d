/* migrate_discard_manage_huge: memory the application populated with
 * transparent huge pages before hms_manage() is a huge area, as
 * HMS_ALLOC_HUGE memory is: its huge pages move aside whole (hook
 * DISCARD_MOVED: one huge page each in transit) and, where page reuse
 * keeps them, come back whole, so the area is still made of huge pages
 * after round trips.  Before, such an area moved its pages aside whole
 * once, but the way back moved a page first and split them, and from
 * then on it was small pages.  Every byte reads back.  SKIP without
 * transparent huge pages (madvise mode at least), a gated discard or
 * PAGEMAP_SCAN (Linux 6.7). */
#include <sys/mman.h>

#include "hms_test.h"
#include "huge_moved.inc"

#define SIZE (4 * HMS_HUGE_PAGE_SIZE)

int main(void)
{
	size_t npages = SIZE / T_PAGE;
	struct hms_softdev_cmd c;
	struct hms_softdev *d;
	struct hms *h;
	char *map;
	int *p;
	bool reuse;

	h = hm_open(&d);
	map = mmap(NULL, SIZE + HMS_HUGE_PAGE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(map != MAP_FAILED);
	p = (int *)(((uintptr_t)map + HMS_HUGE_PAGE_SIZE - 1) & ~(HMS_HUGE_PAGE_SIZE - 1));
	T_EQ(madvise(p, SIZE, MADV_HUGEPAGE), 0);
	t_fill(p, SIZE / sizeof(int), 1);
	if (t_anon_huge_kb(p) != (long)(SIZE >> 10))
		T_SKIP("no transparent huge pages here (%ld KiB of %zu huge)", t_anon_huge_kb(p),
		       SIZE >> 10);
	T_EQ(hms_manage(h, p, SIZE), 0);
	for (int round = 0; round < 3; round++) {
		moved_runs = moved_huge = 0;
		hms__test_hook_set(check_moved, NULL);
		t_to_device(h, d, p, npages, "to the device");
		hms__test_hook_set(NULL, NULL);
		T_EQ(moved_runs, SIZE / HMS_HUGE_PAGE_SIZE);
		if (!round && !moved_huge)
			T_SKIP("no PAGEMAP_SCAN here: a managed area is not taken for a huge one");
		T_EQ(moved_huge, SIZE / HMS_HUGE_PAGE_SIZE); /* 0 from round 1 before */
		T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, npages, &c), 0);
		T_EQ(c.cpages, npages);
		t_check(p, SIZE / sizeof(int), 1 + round);
		reuse = hms__test_pool_copied(h) > 0;
		if (!reuse) {
			printf("ok: huge pages moved aside whole (page reuse off here)\n");
			break;
		}
		T_EQ(t_anon_huge_kb(p), (long)(SIZE >> 10));
		t_fill(p, SIZE / sizeof(int), 2 + round);
	}
	if (reuse)
		printf("ok: a managed area of huge pages moved aside and back whole, 3 rounds\n");
	T_EQ(hms_unmanage(h, p, SIZE), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	munmap(map, SIZE + HMS_HUGE_PAGE_SIZE);
	return 0;
}
