/* SPDX-License-Identifier: MIT */
/* notify_rec.c - the logging mirror and interval of notify_rec.h. */
#include <time.h>

#include "notify_rec.h"

void t_msleep(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void log_ev(struct t_rec *r, int src, const struct hms_notify_range *nr,
		   unsigned long seq)
{
	pthread_mutex_lock(&r->lock);
	if (r->n < T_REC_MAX)
		r->ev[r->n++] = (struct t_ev){ src, *nr, seq };
	pthread_mutex_unlock(&r->lock);
}

static bool rec_sync(struct hms_mirror *m, const struct hms_notify_range *nr)
{
	log_ev(hms_mirror_priv(m), T_SRC_MIRROR, nr, 0);
	return true;
}

static void rec_release(struct hms_mirror *m)
{
	struct t_rec *r = hms_mirror_priv(m);

	pthread_mutex_lock(&r->lock);
	r->released++;
	pthread_mutex_unlock(&r->lock);
}

static bool rec_invalidate(struct hms_interval *iv, const struct hms_notify_range *nr,
			   unsigned long cur_seq)
{
	struct t_rec *r = hms_interval_priv(iv);

	pthread_mutex_lock(&r->lock);
	hms_interval_set_seq(iv, cur_seq);
	pthread_mutex_unlock(&r->lock);
	log_ev(r, T_SRC_INTERVAL, nr, cur_seq);
	return true;
}

static const struct hms_mirror_ops rec_mops = { .sync = rec_sync, .release = rec_release };
static const struct hms_interval_ops rec_iops = { .invalidate = rec_invalidate };

void t_rec_init(struct t_rec *r, struct hms *h, uintptr_t start, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->h = h;
	pthread_mutex_init(&r->lock, NULL);
	T_EQ(hms_mirror_register(h, &rec_mops, r, &r->m), 0);
	T_EQ(hms_interval_insert(h, start, len, &rec_iops, r, &r->iv), 0);
	T_ASSERT(hms_mirror_priv(r->m) == r);
	T_ASSERT(hms_interval_priv(r->iv) == r);
}

void t_rec_fini(struct t_rec *r)
{
	if (r->iv)
		hms_interval_remove(r->iv);
	if (r->m)
		hms_mirror_unregister(r->m);
	r->iv = NULL;
	r->m = NULL;
}

void t_rec_reset(struct t_rec *r)
{
	pthread_mutex_lock(&r->lock);
	r->n = 0;
	pthread_mutex_unlock(&r->lock);
}

size_t t_rec_count(struct t_rec *r, int src, int event)
{
	size_t c = 0;

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n; i++)
		c += r->ev[i].src == src && (event < 0 || (int)r->ev[i].r.event == event);
	pthread_mutex_unlock(&r->lock);
	return c;
}

size_t t_rec_wait(struct t_rec *r, int src, int event, size_t n, unsigned ms)
{
	for (unsigned t = 0; t < ms && t_rec_count(r, src, event) < n; t += 5)
		t_msleep(5);
	t_msleep(100);
	return t_rec_count(r, src, event);
}

struct t_ev t_rec_get(struct t_rec *r, int src, int event, size_t k)
{
	struct t_ev e;
	bool found = false;

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n && !found; i++)
		if (r->ev[i].src == src && (event < 0 || (int)r->ev[i].r.event == event)) {
			if (k-- == 0) {
				e = r->ev[i];
				found = true;
			}
		}
	pthread_mutex_unlock(&r->lock);
	if (!found)
		T_FAIL("no event %d of type %d from %s", (int)k, event,
		       src == T_SRC_MIRROR ? "mirror" : "interval");
	return e;
}

void t_rec_dump(struct t_rec *r)
{
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n; i++)
		fprintf(stderr, "  %s %s [%#lx, %#lx) flags %u owner %p\n",
			r->ev[i].src == T_SRC_MIRROR ? "mirror  " : "interval",
			hms_event_name(r->ev[i].r.event), (unsigned long)r->ev[i].r.start,
			(unsigned long)r->ev[i].r.end, r->ev[i].r.flags, r->ev[i].r.owner);
	pthread_mutex_unlock(&r->lock);
}

void t_rec_expect_one(struct t_rec *r, int ev, uintptr_t start, uintptr_t end, void *owner)
{
	for (int src = 0; src < 2; src++) {
		size_t all = t_rec_wait(r, src, -1, 1, 2000);
		struct t_ev e;

		if (all != 1 || t_rec_count(r, src, ev) != 1) {
			t_rec_dump(r);
			T_FAIL("%s: %zu events, %zu of type %s; expected exactly one",
			       src == T_SRC_MIRROR ? "mirror" : "interval", all,
			       t_rec_count(r, src, ev), hms_event_name(ev));
		}
		e = t_rec_get(r, src, ev, 0);
		if (e.r.start != start || e.r.end != end || e.r.owner != owner) {
			t_rec_dump(r);
			T_FAIL("%s: %s [%#lx, %#lx) owner %p; expected [%#lx, %#lx) owner %p",
			       src == T_SRC_MIRROR ? "mirror" : "interval", hms_event_name(ev),
			       (unsigned long)e.r.start, (unsigned long)e.r.end, e.r.owner,
			       (unsigned long)start, (unsigned long)end, owner);
		}
	}
}
