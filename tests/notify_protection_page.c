/* notify_protection_page: write protection is told as PROTECTION_PAGE.  A
 * device read of a READ_MOSTLY range protects it (one PROTECTION_PAGE over
 * the pages protected, so no device keeps write access); the CPU write
 * that collapses a page's replicas tells one PROTECTION_PAGE for that page
 * (no owner) before it lands; re-arming dirty tracking tells SOFT_DIRTY. */
#include "notify_rec.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t n = 8, len = n * T_PAGE;
	char *p = hms_alloc(h, len, 0), *buf = malloc(len);
	struct t_rec *r = malloc(sizeof(*r));
	uintptr_t s = (uintptr_t)p;
	struct hms_softdev_cmd c;
	uint64_t bm[1];
	struct t_ev ev;

	T_ASSERT(p && r && buf);
	memset(p, 3, len);
	T_EQ(hms_advise(h, p, len, HMS_ADVICE_READ_MOSTLY, 0), 0);
	t_rec_init(r, h, s, len);

	T_EQ(t_cmd(d, hms_softdev_read, p, buf, n, &c), 0);
	t_rec_expect_one(r, HMS_EVENT_PROTECTION_PAGE, s, s + len, NULL);

	/* Reading again protects nothing new: no event. */
	t_rec_reset(r);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, n, &c), 0);
	T_EQ(t_rec_count(r, T_SRC_MIRROR, -1), 0);
	T_EQ(t_rec_count(r, T_SRC_INTERVAL, -1), 0);

	/* The CPU write: one PROTECTION_PAGE for page 2, told to both. */
	p[2 * T_PAGE] = 9;
	for (int src = 0; src < 2; src++) {
		if (t_rec_count(r, src, -1) != 1) {
			t_rec_dump(r);
			T_FAIL("collapse: expected one event");
		}
		ev = t_rec_get(r, src, HMS_EVENT_PROTECTION_PAGE, 0);
		T_ASSERT(ev.r.owner == NULL);
		T_EQ(ev.r.start, s + 2 * T_PAGE);
		T_EQ(ev.r.end, s + 3 * T_PAGE);
	}
	T_EQ(p[2 * T_PAGE], 9);

	/* UNSET drops the other seven: PROTECTION_PAGE over the range. */
	t_rec_reset(r);
	T_EQ(hms_advise(h, p, len, HMS_ADVICE_UNSET_READ_MOSTLY, 0), 0);
	t_rec_expect_one(r, HMS_EVENT_PROTECTION_PAGE, s, s + len, NULL);

	/* Dirty tracking re-armed: SOFT_DIRTY. */
	t_rec_reset(r);
	T_ASSERT(hms_dirty_scan(h, p, len, bm, 0) >= 0);
	t_rec_expect_one(r, HMS_EVENT_SOFT_DIRTY, s, s + len, NULL);

	{
		struct hms_stats st;

		T_EQ(hms_stats(h, &st), 0);
		T_ASSERT(st.invalidations[HMS_EVENT_PROTECTION_PAGE] >= 3);
		T_ASSERT(st.invalidations[HMS_EVENT_SOFT_DIRTY] >= 1);
	}
	t_rec_fini(r);
	free(r);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
