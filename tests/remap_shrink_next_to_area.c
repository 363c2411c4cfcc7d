/* SPDX-License-Identifier: MIT */
/* remap_shrink_next_to_area: an mremap(MREMAP_FIXED) that shrinks a
 * managed range of 4 pages to 2 as it moves it, to the 2 pages right
 * before another managed area e.  Linux before the 2025 mremap rework
 * gives the old length in the REMAP event, so the event's destination
 * runs 2 pages into e.  e must stay managed with its bytes, and the moved
 * pages must be managed where they went.  Then the same into a hole of 4
 * pages: the 2 pages past the moved ones must not be in the table
 * (hms_page_query ENOENT; hms_manage of a mapping made there works).
 * Before the fix, on 6.1 and 6.12 (NUMA VM): e read zeros (its device
 * pages freed), and hms_manage there said EEXIST; 6.18 passed.  The
 * mremap's time is printed: a REMAP whose destination holds live pages
 * waits up to HMS_STALE_WAIT_MS for their departure, which must not
 * happen here (it took 2 s before the new length was found). */
#include <sys/mman.h>
#include <time.h>

#include "hms_test.h"

int main(void)
{
	struct hms_softdev *d;
	struct hms_page_info pi[4];
	char *x, *hole, *e;
	uint64_t t0;
	struct hms *h = t_open();

	d = t_softdev(h, 0);
	x = hms_alloc(h, 4 * T_PAGE, 0);
	T_ASSERT(x);
	memset(x, 'x', 4 * T_PAGE);
	t_to_device(h, d, x, 2, "x");
	/* hole: 2 pages, then e: 4 pages, adjacent. */
	hole = mmap(NULL, 6 * T_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(hole != MAP_FAILED);
	e = hole + 2 * T_PAGE;
	T_EQ(hms_manage(h, e, 4 * T_PAGE), 0);
	T_EQ(munmap(hole, 2 * T_PAGE), 0);
	memset(e, 'e', 4 * T_PAGE);
	t_to_device(h, d, e, 4, "e");
	t0 = (uint64_t)time(NULL);
	if (mremap(x, 4 * T_PAGE, 2 * T_PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, hole) != hole)
		T_FAIL("mremap: %s (x %p, hole %p)", strerror(errno), (void *)x, (void *)hole);
	T_EQ(hms_sync(h), 0);
	printf("mremap and sync: about %llu s\n", (unsigned long long)((uint64_t)time(NULL) - t0));
	if (hms_page_query(h, e, 4, pi) != 4)
		T_FAIL("e is not all managed any more: hms_page_query says %ld",
		       hms_page_query(h, e, 4, pi));
	for (size_t i = 0; i < 4 * T_PAGE; i++)
		if (e[i] != 'e')
			T_FAIL("e: byte %zu is %#x", i, (unsigned)(unsigned char)e[i]);
	if (hms_page_query(h, hole, 2, pi) != 2)
		T_FAIL("the moved pages are not managed: hms_page_query says %ld",
		       hms_page_query(h, hole, 2, pi));
	for (size_t i = 0; i < 2 * T_PAGE; i++)
		if (hole[i] != 'x')
			T_FAIL("moved: byte %zu is %#x", i, (unsigned)(unsigned char)hole[i]);
	/* Into a hole of 4 pages. */
	x = hms_alloc(h, 4 * T_PAGE, 0);
	T_ASSERT(x);
	memset(x, 'y', 4 * T_PAGE);
	t_to_device(h, d, x, 2, "y");
	hole = mmap(NULL, 4 * T_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(hole != MAP_FAILED);
	T_EQ(munmap(hole, 4 * T_PAGE), 0);
	if (mremap(x, 4 * T_PAGE, 2 * T_PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, hole) != hole)
		T_FAIL("mremap: %s", strerror(errno));
	T_EQ(hms_sync(h), 0);
	T_EQ(hms_page_query(h, hole + 2 * T_PAGE, 2, pi), -ENOENT);
	T_ASSERT(mmap(hole + 2 * T_PAGE, 2 * T_PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == hole + 2 * T_PAGE);
	T_EQ(hms_manage(h, hole + 2 * T_PAGE, 2 * T_PAGE), 0);
	if (hms_page_query(h, hole, 2, pi) != 2)
		T_FAIL("the moved pages (2) are not managed");
	for (size_t i = 0; i < 2 * T_PAGE; i++)
		if (hole[i] != 'y')
			T_FAIL("moved (2): byte %zu is %#x", i, (unsigned)(unsigned char)hole[i]);
	hms_softdev_destroy(d);
	hms_close(h);
	printf("ok\n");
	return 0;
}
