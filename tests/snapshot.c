/* snapshot: with two softdevs, a device's snapshot reports every protection
 * byte of the kernel HMM test (unmapped and PROT_NONE are ERROR, a read zero
 * page ZERO|READ, read-only READ, written WRITE, its own device page
 * DEV_PRIVATE_LOCAL|WRITE, the other device's page NONE) without faulting. */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d0 = t_softdev(h, 0), *d1 = t_softdev(h, 0);
	size_t npages = 7;
	char *p = hms_alloc(h, npages * T_PAGE, 0);
	unsigned char m[7];
	struct hms_softdev_cmd c;
	int val;

	T_ASSERT(p);
	/* Page 0: no access. */
	T_EQ(hms_protect(h, p, T_PAGE, PROT_NONE), 0);
	/* Page 1: a hole. */
	T_EQ(hms_free(h, p + T_PAGE, T_PAGE), 0);
	/* Page 2: read-only, read by the CPU (the zero page). */
	T_EQ(hms_protect(h, p + 2 * T_PAGE, T_PAGE, PROT_READ), 0);
	val = *(volatile int *)(p + 2 * T_PAGE) + 3;
	T_EQ(val, 3);
	/* Page 3: written, then read-only. */
	*(int *)(p + 3 * T_PAGE) = val;
	T_EQ(hms_protect(h, p + 3 * T_PAGE, T_PAGE, PROT_READ), 0);
	/* Pages 4-6: read-write; page 4 written. */
	*(int *)(p + 4 * T_PAGE) = val;
	/* Page 5 to device 0, page 6 to device 1. */
	T_EQ(t_cmd(d0, hms_softdev_migrate_to_device, p + 5 * T_PAGE, NULL, 1, &c), 0);
	T_EQ(c.cpages, 1);
	T_EQ(t_cmd(d1, hms_softdev_migrate_to_device, p + 6 * T_PAGE, NULL, 1, &c), 0);
	T_EQ(c.cpages, 1);

	memset(m, 0xAA, sizeof(m));
	T_EQ(t_cmd(d0, hms_softdev_snapshot, p, m, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(m[0], HMS_SNAP_ERROR);
	T_EQ(m[1], HMS_SNAP_ERROR);
	T_EQ(m[2], HMS_SNAP_ZERO | HMS_SNAP_READ);
	T_EQ(m[3], HMS_SNAP_READ);
	T_EQ(m[4], HMS_SNAP_WRITE);
	T_EQ(m[5], HMS_SNAP_DEV_PRIVATE_LOCAL | HMS_SNAP_WRITE);
	T_EQ(m[6], HMS_SNAP_NONE);

	/* A snapshot faults nothing: the device pages stayed where they were. */
	T_EQ(t_count_loc(h, p + 5 * T_PAGE, 2, HMS_LOC_DEVICE), 2);
	T_EQ(hms_softdev_pages_used(d0), 1);
	T_EQ(hms_softdev_pages_used(d1), 1);

	/* Device 1 sees the mirror image for pages 5 and 6. */
	T_EQ(t_cmd(d1, hms_softdev_snapshot, p + 5 * T_PAGE, m, 2, &c), 0);
	T_EQ(m[0], HMS_SNAP_NONE);
	T_EQ(m[1], HMS_SNAP_DEV_PRIVATE_LOCAL | HMS_SNAP_WRITE);

	hms_softdev_destroy(d0);
	hms_softdev_destroy(d1);
	hms_close(h);
	return 0;
}
