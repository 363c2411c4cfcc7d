/* migrate_release: hms_softdev_release() brings every page of the device
 * back to system memory, reporting how many; the CPU then reads every word
 * without a single fault. */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 1024, size = npages * T_PAGE, n = size / sizeof(int);
	int *p = hms_alloc(h, size, 0);
	int *buf = malloc(size);
	struct hms_softdev_cmd c;
	struct hms_stats s0, s1;

	T_ASSERT(p && buf);
	t_fill(p, n, 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.faults, 0);
	t_check(buf, n, 0);
	T_EQ(hms_softdev_pages_used(d), npages);

	T_EQ(hms_softdev_release(d), (long)npages);
	T_EQ(hms_softdev_pages_used(d), 0);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	T_EQ(hms_stats(h, &s0), 0);
	T_EQ(s0.migrations_to_system, npages);
	t_check(p, n, 0);
	T_EQ(hms_stats(h, &s1), 0);
	T_EQ(s1.cpu_faults, s0.cpu_faults);
	T_EQ(s1.cpu_faults_device, s0.cpu_faults_device);
	/* Nothing left to release. */
	T_EQ(hms_softdev_release(d), 0);

	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
