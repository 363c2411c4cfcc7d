/* double_map: two softdevs read the same read-only memory, each with one
 * fault round, and device 0 still reads it correctly after it migrated to
 * device 1 (the kernel test's double_map). */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d0 = t_softdev(h, 0), *d1 = t_softdev(h, 0);
	size_t npages = 6, n = npages * T_PAGE / sizeof(int);
	int *p = hms_alloc(h, npages * T_PAGE, 0);
	int *buf = malloc(npages * T_PAGE);
	struct hms_softdev_cmd c;

	T_ASSERT(p && buf);
	t_fill(p, n, 0);
	T_EQ(hms_protect(h, p, npages * T_PAGE, PROT_READ), 0);

	memset(buf, 0, npages * T_PAGE);
	T_EQ(t_cmd(d0, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(c.faults, 1);
	t_check(buf, n, 0);

	memset(buf, 0, npages * T_PAGE);
	T_EQ(t_cmd(d1, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(c.faults, 1);
	t_check(buf, n, 0);

	/* Migrate to device 1, read from device 0. */
	T_EQ(t_cmd(d1, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), npages);

	memset(buf, 0, npages * T_PAGE);
	T_EQ(t_cmd(d0, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(c.faults, 1);
	t_check(buf, n, 0);
	/* Device 0 does not own them: they came back to system memory. */
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	T_EQ(hms_softdev_pages_used(d1), 0);
	t_check(p, n, 0);

	free(buf);
	hms_softdev_destroy(d0);
	hms_softdev_destroy(d1);
	hms_close(h);
	return 0;
}
