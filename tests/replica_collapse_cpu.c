/* replica_collapse_cpu: the first CPU write to a replicated page drops the
 * copies of both devices before it completes (one write-protect fault,
 * two replicas collapsed); both devices then read the new bytes, and the
 * pages not written keep their replicas. */
#include "replica_util.h"

int main(void)
{
	struct t_rep r;
	struct hms_stats s0, s;
	size_t n = 16;

	t_rep_setup(&r, n);
	t_rep_read_check(&r, 0);
	t_rep_read_check(&r, 1);
	s0 = t_rep_stats(&r);
	T_EQ(s0.replicas_made, 2 * n);

	r.p[5 * T_PAGE + 100] = 'X';
	s = t_rep_stats(&r);
	T_EQ(s.replicas_collapsed - s0.replicas_collapsed, 2);
	T_EQ(s.wp_faults - s0.wp_faults, 1);
	T_EQ(hms_softdev_pages_used(r.d[0]), n - 1);
	T_EQ(hms_softdev_pages_used(r.d[1]), n - 1);
	T_EQ(t_rep_count_wp(&r), n - 1);

	/* Further writes to that page cost nothing. */
	r.p[5 * T_PAGE + 101] = 'Y';
	T_EQ(t_rep_stats(&r).wp_faults, s.wp_faults);

	t_rep_read_check(&r, 0);
	t_rep_read_check(&r, 1);
	T_EQ(r.buf[5 * T_PAGE + 100], 'X');
	T_EQ(r.buf[5 * T_PAGE + 101], 'Y');
	/* The page was copied again by both: two more replicas. */
	T_EQ(t_rep_stats(&r).replicas_made, 2 * n + 2);
	T_EQ(t_rep_count_wp(&r), n);

	t_rep_fini(&r);
	return 0;
}
