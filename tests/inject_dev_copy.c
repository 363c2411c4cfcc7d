/* inject_dev_copy: a failed data copy never loses data.  System ->
 * device: when the softdev's copy fails (fault injection point dev_copy),
 * no page moves and the system copy stays.  Device -> system: when every
 * second copy back fails, CPU faults retry until the data is in place, and
 * every byte reads back. */
#include "hms_test.h"
#include "inject.h"

int main(void)
{
	struct hms *h = t_open();
	size_t npages = 64, n = npages * T_PAGE / sizeof(int);
	struct hms_softdev *d = t_softdev(h, 0);
	int *p = hms_alloc(h, npages * T_PAGE, 0);
	struct hms_softdev_cmd c;
	int ret;

	T_ASSERT(p);
	T_EQ(hms_prefault(h, p, npages * T_PAGE, true), npages);
	t_fill(p, n, 11);

	/* To the device, every copy failing: nothing moves. */
	T_EQ(hms__inject_arm("dev_copy:1"), 0);
	ret = t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c);
	T_ASSERT(ret == 0 || ret == -ENOMEM);
	T_EQ(c.cpages, 0);
	T_ASSERT(hms__inject_hits(HMS_INJ_DEV_COPY) >= 1);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	T_EQ(hms_softdev_pages_used(d), 0);
	t_check(p, n, 11);

	/* Back to system memory, every second copy failing: CPU faults retry. */
	T_EQ(hms__inject_arm(NULL), 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(hms__inject_arm("dev_copy:2"), 0);
	t_check(p, n, 11);
	T_ASSERT(hms__inject_hits(HMS_INJ_DEV_COPY) >= 1);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	T_EQ(hms_softdev_pages_used(d), 0);

	/* And through an explicit migration back: what failed stays on the
	 * device, intact, and moves on a later call (the softdev's pages of
	 * one batch are in a row, so a batch is one copy: the first call
	 * fails every copy, later ones every second). */
	T_EQ(hms__inject_arm(NULL), 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(hms__inject_arm("dev_copy:1"), 0);
	t_cmd(d, hms_softdev_migrate_to_system, p, NULL, npages, &c);
	T_ASSERT(hms__inject_hits(HMS_INJ_DEV_COPY) >= 1);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), npages);
	T_EQ(hms__inject_arm("dev_copy:2"), 0);
	for (int tries = 0; t_count_loc(h, p, npages, HMS_LOC_DEVICE) && tries < 64; tries++)
		t_cmd(d, hms_softdev_migrate_to_system, p, NULL, npages, &c);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	T_EQ(hms__inject_arm(NULL), 0);
	t_check(p, n, 11);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
