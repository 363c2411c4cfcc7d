/* replica_two_devices: with READ_MOSTLY, a device read leaves the page in
 * system memory, write protected, and gives the device a copy in its own
 * memory; a second device gets its own copy; reading again costs no fault
 * and makes no new replica; releasing one device's memory drops only its
 * copies. */
#include "replica_util.h"

int main(void)
{
	struct t_rep r;
	struct hms_softdev_cmd c;
	struct hms_stats s;
	size_t n = 64;

	t_rep_setup(&r, n);
	T_EQ(t_rep_count_wp(&r), 0);

	t_rep_read_check(&r, 0);
	s = t_rep_stats(&r);
	T_EQ(s.replicas_made, n);
	T_EQ(s.replicas_collapsed, 0);
	T_EQ(hms_softdev_pages_used(r.d[0]), n);   /* the copies */
	T_EQ(t_count_loc(r.h, r.p, n, HMS_LOC_SYSTEM), n); /* the system copy stays */
	T_EQ(t_rep_count_wp(&r), n);

	t_rep_read_check(&r, 1);
	s = t_rep_stats(&r);
	T_EQ(s.replicas_made, 2 * n);
	T_EQ(hms_softdev_pages_used(r.d[1]), n);
	T_EQ(hms_softdev_pages_used(r.d[0]), n);
	T_EQ(s.migrations_to_device, 0);

	/* Both read again from their own memory: no fault, nothing new. */
	for (int k = 0; k < 2; k++) {
		T_EQ(t_cmd(r.d[k], hms_softdev_read, r.p, r.buf, n, &c), 0);
		T_EQ(c.faults, 0);
		T_ASSERT(memcmp(r.buf, r.p, n * T_PAGE) == 0);
	}
	T_EQ(t_rep_stats(&r).replicas_made, 2 * n);

	/* The CPU reads the system copy without disturbing the replicas. */
	for (size_t i = 0; i < n; i++)
		T_EQ(r.p[i * T_PAGE + 7], 'a' + (int)(i % 26));
	T_EQ(t_rep_stats(&r).replicas_collapsed, 0);
	T_EQ(hms_softdev_pages_used(r.d[0]), n);

	/* Releasing a device's memory drops its replicas; the other keeps its. */
	T_EQ(hms_softdev_release(r.d[0]), 0);
	T_EQ(hms_softdev_pages_used(r.d[0]), 0);
	T_EQ(hms_softdev_pages_used(r.d[1]), n);
	t_rep_read_check(&r, 0);
	T_EQ(hms_softdev_pages_used(r.d[0]), n);

	t_rep_fini(&r);
	return 0;
}
