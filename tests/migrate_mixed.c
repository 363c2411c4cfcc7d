/* migrate_mixed: migrating protected memory or a range with a hole fails
 * with -EINVAL, a mix of zero, read-only and read-write pages migrates,
 * and a page already on the other device is not taken (-ENOENT), as in the
 * kernel test. */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d0 = t_softdev(h, 0), *d1 = t_softdev(h, 0);
	size_t npages = 6;
	char *p = hms_alloc(h, npages * T_PAGE, 0);
	struct hms_softdev_cmd c;
	int val;

	T_ASSERT(p);
	T_EQ(hms_protect(h, p, npages * T_PAGE, PROT_NONE), 0);
	/* Migrating a protected area is an error. */
	T_EQ(t_cmd(d1, hms_softdev_migrate_to_device, p, NULL, npages, &c), -EINVAL);
	/* Punch a hole after the first page: a range that is not all mapped. */
	T_EQ(hms_free(h, p + T_PAGE, T_PAGE), 0);
	T_EQ(t_cmd(d1, hms_softdev_migrate_to_device, p, NULL, 3, &c), -EINVAL);
	/* Page 2: read-only zero page. */
	T_EQ(hms_protect(h, p + 2 * T_PAGE, T_PAGE, PROT_READ), 0);
	val = *(volatile int *)(p + 2 * T_PAGE) + 3;
	T_EQ(val, 3);
	/* Page 3: read-only with data. */
	T_EQ(hms_protect(h, p + 3 * T_PAGE, T_PAGE, PROT_READ | PROT_WRITE), 0);
	*(int *)(p + 3 * T_PAGE) = val;
	T_EQ(hms_protect(h, p + 3 * T_PAGE, T_PAGE, PROT_READ), 0);
	/* Pages 4-5: read-write. */
	T_EQ(hms_protect(h, p + 4 * T_PAGE, 2 * T_PAGE, PROT_READ | PROT_WRITE), 0);
	*(int *)(p + 4 * T_PAGE) = val;
	*(int *)(p + 5 * T_PAGE) = val;

	/* Pages 2-5 go to device 1. */
	T_EQ(t_cmd(d1, hms_softdev_migrate_to_device, p + 2 * T_PAGE, NULL, 4, &c), 0);
	T_EQ(c.cpages, 4);
	T_EQ(t_count_loc(h, p + 2 * T_PAGE, 4, HMS_LOC_DEVICE), 4);
	/* Page 5 is not migrated to device 0: it is on device 1. */
	T_EQ(t_cmd(d0, hms_softdev_migrate_to_device, p + 5 * T_PAGE, NULL, 1, &c), -ENOENT);
	T_EQ(hms_softdev_pages_used(d0), 0);
	T_EQ(hms_softdev_pages_used(d1), 4);

	/* Data intact. */
	T_EQ(*(volatile int *)(p + 2 * T_PAGE), 0);
	T_EQ(*(volatile int *)(p + 3 * T_PAGE), 3);
	T_EQ(*(volatile int *)(p + 4 * T_PAGE), 3);
	T_EQ(*(volatile int *)(p + 5 * T_PAGE), 3);

	hms_softdev_destroy(d0);
	hms_softdev_destroy(d1);
	hms_close(h);
	return 0;
}
