/* dirty_discard_race: a MADV_DONTNEED of a tracked page while a scan
 * re-arms it (made to happen every time from a mirror's SOFT_DIRTY
 * callback, which runs while the scan holds the pages) is reported as a
 * change by that scan or the next, like a discard between two scans; the
 * page reads zeros, and a later write to it is seen. */
#include <stdatomic.h>

#include "hms_test.h"

#define NP 4

static struct {
	struct hms *h;
	_Atomic(char *) page; /* discarded by the next SOFT_DIRTY callback */
} race;

static bool on_sync(struct hms_mirror *m, const struct hms_notify_range *r)
{
	char *page;

	(void)m;
	if (r->event != HMS_EVENT_SOFT_DIRTY || !(page = atomic_exchange(&race.page, NULL)))
		return true;
	T_EQ(madvise(page, T_PAGE, MADV_DONTNEED), 0);
	/* The handler applies the REMOVE event now, while the scan holds
	 * the page (nothing here holds a lock its callbacks take). */
	T_EQ(hms_sync(race.h), 0);
	return true;
}

static const struct hms_mirror_ops ops = { .sync = on_sync };

/* Scans [p, p + NP pages) and returns the bitmap. */
static uint64_t scan(struct hms *h, char *p)
{
	uint64_t bm = 0;

	T_ASSERT(hms_dirty_scan(h, p, NP * T_PAGE, &bm, 0) >= 0);
	return bm;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_mirror *m;
	volatile char *v;
	char *p = hms_alloc(h, NP * T_PAGE, 0);
	uint64_t seen;

	T_ASSERT(p);
	v = p;
	memset(p, 'x', NP * T_PAGE);
	T_EQ(scan(h, p), (1u << NP) - 1); /* never scanned */
	T_EQ(scan(h, p), 0);
	T_EQ(hms_mirror_register(h, &ops, NULL, &m), 0);

	race.h = h;
	race.page = p + 2 * T_PAGE;
	seen = scan(h, p);
	T_ASSERT(!race.page); /* the discard happened during the scan */
	T_EQ(v[2 * T_PAGE], 0);
	seen |= scan(h, p);
	if (seen != 1u << 2)
		T_FAIL("the discarded page 2 was not reported (bitmaps: %#llx)",
		       (unsigned long long)seen);

	/* Tracked again from here: a write is seen, a read is not. */
	T_EQ(scan(h, p), 0);
	v[2 * T_PAGE + 1] = 'y';
	T_EQ(scan(h, p), 1u << 2);
	T_EQ(v[2 * T_PAGE + 1], 'y');
	T_EQ(v[2 * T_PAGE], 0);

	hms_mirror_unregister(m);
	hms_close(h);
	return 0;
}
