/* notify_migrate: migration to a softdev, back by request and back by a
 * CPU fault each tell a mirror and an interval exactly one MIGRATE with the
 * range and the migrating softdev as owner, and nothing else. */
#include "notify_rec.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 8;
	char *p = t_alloc_one_batch(h, npages * T_PAGE); /* one batch, one event */
	struct t_rec *r = malloc(sizeof(*r));
	uintptr_t s = (uintptr_t)p, e = s + npages * T_PAGE;
	struct hms_softdev_cmd c;
	struct t_ev ev;

	T_ASSERT(p && r);
	memset(p, 1, npages * T_PAGE);
	t_rec_init(r, h, s, npages * T_PAGE);

	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	t_rec_expect_one(r, HMS_EVENT_MIGRATE, s, e, d);

	t_rec_reset(r);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	t_rec_expect_one(r, HMS_EVENT_MIGRATE, s, e, d);

	/* Back by a CPU fault: at least the page touched, owner the device
	 * that owns the memory, one event per subscriber. */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	t_rec_reset(r);
	T_EQ(((volatile char *)p)[3 * T_PAGE], 1);
	for (int src = 0; src < 2; src++) {
		size_t n = t_rec_wait(r, src, -1, 1, 2000);

		if (n != 1 || t_rec_count(r, src, HMS_EVENT_MIGRATE) != 1) {
			t_rec_dump(r);
			T_FAIL("CPU fault: %zu events, expected one MIGRATE", n);
		}
		ev = t_rec_get(r, src, HMS_EVENT_MIGRATE, 0);
		T_ASSERT(ev.r.owner == d);
		T_ASSERT(ev.r.start <= s + 3 * T_PAGE && ev.r.end >= s + 4 * T_PAGE);
		T_ASSERT(ev.r.start >= s && ev.r.end <= e);
	}

	t_rec_fini(r);
	free(r);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
