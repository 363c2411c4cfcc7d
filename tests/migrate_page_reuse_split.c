/* migrate_page_reuse_split: a way back from a device whose pages lie in
 * two mappings (hms_protect made the second half read-only) reuses kept
 * pages for the first half and lets UFFDIO_COPY fill the rest, copying
 * each page into the pool about once: every byte reads back, and the
 * bytes copied into kept pages stay within the batch plus a few probe
 * pages.  A move across the two mappings is refused as a whole, so a
 * fill that probed again one page at a time after each refused bulk move
 * copied the rest of the batch into the pool once per page moved (about
 * 100,000 pages for this batch of 512). */
#include <stdio.h>

#include "hms_test.h"
#include "inject.h"

#define NPAGES 512 /* one 2 MiB batch */

int main(void)
{
	const size_t size = NPAGES * T_PAGE, n = size / sizeof(int);
	struct hms *h;
	struct hms_softdev *d;
	struct hms_softdev_cmd c;
	size_t copied;
	int *p;

	setenv("HMS_PAGE_POOL_IDLE_MS", "60000", 1); /* kept pages stay as they are */
	h = t_open();
	d = t_softdev(h, 0);
	p = t_alloc_one_batch(h, size);
	t_fill(p, n, 7);
	t_to_device(h, d, p, NPAGES, "there");
	if (!hms__test_pool_bytes(h))
		T_SKIP("page reuse is off here (no UFFDIO_MOVE, or several NUMA nodes)");
	T_EQ(hms_protect(h, (char *)p + size / 2, size / 2, PROT_READ), 0);
	copied = hms__test_pool_copied(h);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, NPAGES, &c), 0);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_SYSTEM), NPAGES);
	t_check(p, n, 7);
	copied = hms__test_pool_copied(h) - copied;
	printf("copied into kept pages: %zu pages for %d\n", copied / T_PAGE, NPAGES);
	T_ASSERT(copied <= size + 4 * T_PAGE);
	T_EQ(hms_protect(h, p, size, PROT_READ | PROT_WRITE), 0);
	T_EQ(hms_free(h, p, size), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
