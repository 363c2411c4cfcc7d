/* inject_dev_alloc: when every second softdev page allocation fails
 * (fault injection point dev_alloc), a migration to the device moves the
 * pages it got memory for and leaves the others in system memory; every
 * byte stays intact through the device and the CPU, and once the
 * injection is off all pages move. */
#include "hms_test.h"
#include "inject.h"

int main(void)
{
	struct hms *h = t_open();
	size_t npages = 64, n = npages * T_PAGE / sizeof(int);
	struct hms_softdev *d = t_softdev(h, 0);
	int *p = hms_alloc(h, npages * T_PAGE, 0);
	int *buf = malloc(npages * T_PAGE);
	struct hms_softdev_cmd c;

	T_ASSERT(p && buf);
	T_EQ(hms_prefault(h, p, npages * T_PAGE, true), npages);
	t_fill(p, n, 7);

	T_EQ(hms__inject_arm("dev_alloc:2"), 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(hms__inject_hits(HMS_INJ_DEV_ALLOC), npages / 2);
	T_EQ(c.cpages, npages / 2);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), npages / 2);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages / 2);
	T_EQ(hms_softdev_pages_used(d), npages / 2);
	/* The device sees every byte, its own pages and system pages alike. */
	memset(buf, 0, npages * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	t_check(buf, n, 7);

	T_EQ(hms__inject_arm(NULL), 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), npages);
	t_check(p, n, 7); /* CPU faults bring every page back */
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
