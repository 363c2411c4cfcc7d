/* migrate_fault: pages migrate to the device, the CPU faults half of them
 * back (intact), and migrating the resulting mix again moves exactly the
 * pages that were in system memory, after which the device holds every
 * word.
 *
 * hms differs from the kernel test in what cpages counts: the pages moved
 * (hms.h), not the pages the device read back; so the second migration
 * reports the half that had come back, not npages. */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 1024, size = npages * T_PAGE, n = size / sizeof(int);
	int *p = hms_alloc(h, size, 0);
	int *buf = malloc(size);
	struct hms_softdev_cmd c;
	size_t back;

	T_ASSERT(p && buf);
	t_fill(p, n, 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), npages);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.faults, 0);
	t_check(buf, n, 0);

	/* Fault the first half back to system memory and check it. */
	t_check(p, n / 2, 0);
	back = t_count_loc(h, p, npages, HMS_LOC_SYSTEM);
	T_ASSERT(back >= npages / 2);
	T_EQ(t_count_loc(h, p, npages / 2, HMS_LOC_SYSTEM), npages / 2);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), npages - back);
	T_EQ(hms_softdev_pages_used(d), npages - back);

	/* Migrate the mix again: only system pages move. */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, back);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), npages);
	T_EQ(hms_softdev_pages_used(d), npages);
	memset(buf, 0, size);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.faults, 0);
	t_check(buf, n, 0);
	t_check(p, n, 0);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);

	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
