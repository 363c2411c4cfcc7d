/* replica_collapse_device: a device write to a replicated page drops every
 * copy (its own and the other device's) before it lands; the other device
 * and the CPU then read the bytes it wrote. */
#include "replica_util.h"

int main(void)
{
	struct t_rep r;
	struct hms_softdev_cmd c;
	struct hms_stats s0, s;
	size_t n = 16;
	char *w = malloc(T_PAGE);

	T_ASSERT(w);
	t_rep_setup(&r, n);
	t_rep_read_check(&r, 0);
	t_rep_read_check(&r, 1);
	s0 = t_rep_stats(&r);

	memset(w, 'Q', T_PAGE);
	T_EQ(t_cmd(r.d[0], hms_softdev_write, r.p + 3 * T_PAGE, w, 1, &c), 0);
	s = t_rep_stats(&r);
	T_EQ(s.replicas_collapsed - s0.replicas_collapsed, 2);
	T_ASSERT(s.wp_faults > s0.wp_faults);
	T_EQ(hms_softdev_pages_used(r.d[1]), n - 1);
	T_EQ(hms_softdev_pages_used(r.d[0]), n - 1);

	T_EQ(r.p[3 * T_PAGE], 'Q');
	T_EQ(r.p[4 * T_PAGE - 1], 'Q');
	t_rep_read_check(&r, 1);
	T_EQ(r.buf[3 * T_PAGE + 17], 'Q');
	t_rep_read_check(&r, 0);

	free(w);
	t_rep_fini(&r);
	return 0;
}
