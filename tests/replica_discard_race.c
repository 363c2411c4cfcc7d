/* replica_discard_race: a MADV_DONTNEED of a read-mostly page while a
 * device's read protects it for replication (made to happen every time
 * from a mirror's PROTECTION_PAGE callback, which runs while the pages are
 * held) leaves no replica the CPU can write behind: after the CPU writes
 * the page, both devices read the new bytes. */
#include <stdatomic.h>

#include "replica_util.h"

static struct {
	struct hms *h;
	_Atomic(char *) page; /* discarded by the next PROTECTION_PAGE callback */
} race;

static bool on_sync(struct hms_mirror *m, const struct hms_notify_range *r)
{
	char *page;

	(void)m;
	if (r->event != HMS_EVENT_PROTECTION_PAGE || !(page = atomic_exchange(&race.page, NULL)))
		return true;
	T_EQ(madvise(page, T_PAGE, MADV_DONTNEED), 0);
	/* The handler applies the REMOVE event now, while the pages are
	 * held (nothing here holds a lock its callbacks take). */
	T_EQ(hms_sync(race.h), 0);
	return true;
}

static const struct hms_mirror_ops ops = { .sync = on_sync };

int main(void)
{
	struct t_rep r;
	struct hms_mirror *m;
	volatile char *v;
	size_t n = 4;

	t_rep_setup(&r, n);
	v = r.p;
	T_EQ(hms_mirror_register(r.h, &ops, NULL, &m), 0);
	race.h = r.h;
	race.page = r.p + 1 * T_PAGE;
	t_rep_read_check(&r, 0); /* page 1 reads zeros now */
	T_ASSERT(!race.page);
	T_EQ(r.buf[1 * T_PAGE], 0);
	t_rep_read_check(&r, 1);

	v[1 * T_PAGE + 7] = 'X';
	t_rep_read_check(&r, 0);
	t_rep_read_check(&r, 1);
	T_EQ(r.buf[1 * T_PAGE + 7], 'X');

	hms_mirror_unregister(m);
	t_rep_fini(&r);
	return 0;
}
