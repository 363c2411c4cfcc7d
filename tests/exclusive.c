/* exclusive: a device takes exclusive access to pages (they come to
 * system memory, marked exclusive, data intact); CPU writes revoke it with
 * an EXCLUSIVE invalidation, land intact, and check_exclusive then reports
 * 0 (the kernel test device's -EPERM while still exclusive). */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 1024, size = npages * T_PAGE, n = size / sizeof(int);
	int *p = hms_alloc(h, size, 0);
	int *buf = malloc(size);
	struct hms_page_info *pi = calloc(npages, sizeof(*pi));
	struct hms_softdev_cmd c;
	struct hms_stats s0, s1;

	T_ASSERT(p && buf && pi);
	t_fill(p, n, 0);
	/* Half of it in device memory first: exclusive brings it back. */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages / 2, &c), 0);
	T_EQ(c.cpages, npages / 2);

	memset(buf, 0xAA, size);
	T_EQ(t_cmd(d, hms_softdev_exclusive, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	t_check(buf, n, 0);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	T_EQ(hms_page_query(h, p, npages, pi), npages);
	for (size_t i = 0; i < npages; i++)
		T_ASSERT(pi[i].flags & HMS_PAGE_EXCLUSIVE);
	T_EQ(t_cmd(d, hms_softdev_check_exclusive, p, NULL, npages, NULL), -EPERM);

	/* CPU read-modify-write of every word: revoked by invalidations. */
	T_EQ(hms_stats(h, &s0), 0);
	for (size_t i = 0; i < n; i++) {
		if (p[i] != (int)i)
			T_FAIL("word %zu: %d, expected %zu", i, p[i], i);
		p[i]++;
	}
	t_check(p, n, 1);
	T_EQ(t_cmd(d, hms_softdev_check_exclusive, p, NULL, npages, NULL), 0);
	T_EQ(hms_page_query(h, p, npages, pi), npages);
	for (size_t i = 0; i < npages; i++)
		T_ASSERT(!(pi[i].flags & HMS_PAGE_EXCLUSIVE));
	T_EQ(hms_stats(h, &s1), 0);
	T_ASSERT(s1.invalidations[HMS_EVENT_EXCLUSIVE] > s0.invalidations[HMS_EVENT_EXCLUSIVE]);

	/* The device still sees the CPU's data. */
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	t_check(buf, n, 1);

	free(pi);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
