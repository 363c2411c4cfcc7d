/* advise_set_unset: each advice takes effect and its UNSET form undoes it.
 * READ_MOSTLY makes device reads replicate, UNSET drops every replica and
 * the write protection; PREFERRED_LOCATION brings pages back to the
 * device after a CPU touch took them, UNSET leaves them where they are;
 * ACCESSED_BY makes the preferred device use system pages in place. */
#include "replica_util.h"

/* What the pages hold: page i is all 'a' + i but for byte 0 of page 0
 * (compared without a CPU access, which would move pages). */
static void dev_read(struct t_rep *r, int k, size_t npages)
{
	struct hms_softdev_cmd c;

	T_EQ(t_cmd(r->d[k], hms_softdev_read, r->p, r->buf, npages, &c), 0);
	for (size_t i = 0; i < npages * T_PAGE; i++)
		if (r->buf[i] != (i == 0 ? 'z' : 'a' + (int)(i / T_PAGE)))
			T_FAIL("device %d read %c at %zu", k, r->buf[i], i);
}

int main(void)
{
	struct t_rep r;
	struct hms_policy pol;
	struct hms_stats s;
	size_t n = 8;
	hms_uid t0;

	/* READ_MOSTLY and its UNSET. */
	t_rep_setup(&r, n);
	r.p[0] = 'z';
	dev_read(&r, 0, n);
	dev_read(&r, 1, n);
	T_EQ(t_rep_stats(&r).replicas_made, 2 * n);
	T_EQ(hms_advise(r.h, r.p, n * T_PAGE, HMS_ADVICE_UNSET_READ_MOSTLY, 0), 0);
	s = t_rep_stats(&r);
	T_EQ(s.replicas_collapsed, 2 * n);
	T_EQ(hms_softdev_pages_used(r.d[0]), 0);
	T_EQ(hms_softdev_pages_used(r.d[1]), 0);
	T_EQ(t_rep_count_wp(&r), 0);
	/* Writes no longer fault; reads no longer replicate. */
	r.p[0] = 'z';
	T_EQ(t_rep_stats(&r).wp_faults, s.wp_faults);
	dev_read(&r, 0, n);
	T_EQ(t_rep_stats(&r).replicas_made, 2 * n);
	T_EQ(t_rep_stats(&r).wp_faults, s.wp_faults);
	T_EQ(hms_softdev_pages_used(r.d[0]), 0);
	/* UNSET twice, or where nothing was set, is fine. */
	T_EQ(hms_advise(r.h, r.p, n * T_PAGE, HMS_ADVICE_UNSET_READ_MOSTLY, 0), 0);

	/* PREFERRED_LOCATION on device 1's memory (device 1 maps nothing now:
	 * the UNSET above took its replicas). */
	t0 = hms_softdev_target(r.d[1]);
	T_EQ(hms_advise(r.h, r.p, n * T_PAGE, HMS_ADVICE_PREFERRED_LOCATION, t0), 0);
	T_EQ(hms_policy_get(r.h, r.p, &pol), 0);
	T_EQ(pol.mode, HMS_POLICY_PREFERRED);
	T_EQ(pol.ntargets, 1);
	T_EQ(pol.targets[0], t0);
	dev_read(&r, 1, n);
	T_EQ(t_count_loc(r.h, r.p, n, HMS_LOC_DEVICE), n);
	T_EQ(r.p[0], 'z'); /* the CPU takes page 0 back ... */
	T_EQ(t_count_loc(r.h, r.p, 1, HMS_LOC_SYSTEM), 1);
	dev_read(&r, 1, n); /* ... and the device's next access returns it */
	T_EQ(t_count_loc(r.h, r.p, n, HMS_LOC_DEVICE), n);

	/* ACCESSED_BY device 1: it maps the system page in place instead. */
	T_EQ(r.p[T_PAGE], 'b');
	T_EQ(hms_advise(r.h, r.p, n * T_PAGE, HMS_ADVICE_ACCESSED_BY, t0), 0);
	dev_read(&r, 1, n);
	T_EQ(t_count_loc(r.h, r.p + T_PAGE, 1, HMS_LOC_SYSTEM), 1);
	T_EQ(hms_advise(r.h, r.p, n * T_PAGE, HMS_ADVICE_UNSET_ACCESSED_BY, t0), 0);
	/* Advice changes no mapping a device holds (like hms_bind): drop
	 * device 1's mappings with a protection change, then it faults. */
	T_EQ(hms_protect(r.h, r.p, n * T_PAGE, PROT_READ), 0);
	T_EQ(hms_protect(r.h, r.p, n * T_PAGE, PROT_READ | PROT_WRITE), 0);
	dev_read(&r, 1, n);
	T_EQ(t_count_loc(r.h, r.p, n, HMS_LOC_DEVICE), n);

	/* UNSET_PREFERRED_LOCATION: the default policy, pages stay put. */
	T_EQ(hms_advise(r.h, r.p, n * T_PAGE, HMS_ADVICE_UNSET_PREFERRED_LOCATION, 0), 0);
	T_EQ(hms_policy_get(r.h, r.p, &pol), 0);
	T_EQ(pol.mode, HMS_POLICY_DEFAULT);
	T_EQ(r.p[3 * T_PAGE], 'd');
	dev_read(&r, 1, n);
	T_EQ(t_count_loc(r.h, r.p + 3 * T_PAGE, 1, HMS_LOC_SYSTEM), 1);

	t_rep_fini(&r);
	return 0;
}
