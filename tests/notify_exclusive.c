/* notify_exclusive: hms_make_exclusive tells a mirror and an interval one
 * EXCLUSIVE with the taker as owner; the CPU write that revokes it tells
 * one EXCLUSIVE with no owner; the softdev's exclusive carries it as owner. */
#include "notify_rec.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 8;
	char *p = hms_alloc(h, npages * T_PAGE, 0);
	struct t_rec *r = malloc(sizeof(*r));
	uintptr_t s = (uintptr_t)p;
	struct hms_softdev_cmd c;
	static int token;
	struct t_ev ev;

	T_ASSERT(p && r);
	memset(p, 1, npages * T_PAGE);
	t_rec_init(r, h, s, npages * T_PAGE);

	T_EQ(hms_make_exclusive(h, s, s + 4 * T_PAGE, &token), 4);
	t_rec_expect_one(r, HMS_EVENT_EXCLUSIVE, s, s + 4 * T_PAGE, &token);

	/* A CPU write revokes it: EXCLUSIVE with a NULL owner, covering the
	 * page written, told once. */
	t_rec_reset(r);
	p[T_PAGE] = 2;
	for (int src = 0; src < 2; src++) {
		size_t n = t_rec_wait(r, src, -1, 1, 2000);

		if (n != 1 || t_rec_count(r, src, HMS_EVENT_EXCLUSIVE) != 1) {
			t_rec_dump(r);
			T_FAIL("revoke: %zu events, expected one EXCLUSIVE", n);
		}
		ev = t_rec_get(r, src, HMS_EVENT_EXCLUSIVE, 0);
		T_ASSERT(ev.r.owner == NULL);
		T_ASSERT(ev.r.start <= s + T_PAGE && ev.r.end >= s + 2 * T_PAGE);
		T_ASSERT(ev.r.start >= s && ev.r.end <= s + 4 * T_PAGE);
	}
	T_EQ(p[T_PAGE], 2);

	/* The softdev's exclusive: its own pointer as owner. */
	t_rec_reset(r);
	T_EQ(t_cmd(d, hms_softdev_exclusive, p + 4 * T_PAGE, NULL, 4, &c), 0);
	T_EQ(c.cpages, 4);
	t_rec_expect_one(r, HMS_EVENT_EXCLUSIVE, s + 4 * T_PAGE, s + 8 * T_PAGE, d);

	t_rec_fini(r);
	free(r);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
