/* SPDX-License-Identifier: MIT */
/*
 * notifier.c - invalidations with context: mirrors (every change of the
 * context) and interval notifiers (changes overlapping an interval, found
 * through an interval tree), with the kernel's sequence protocol.
 *
 * The sequence protocol, enforced here:
 *   notifier.invalidate_seq is even when no invalidation runs and odd
 *   while at least one does (active > 0).  An invalidation passes the odd
 *   value (cur_seq) to each overlapping interval, whose driver stores it
 *   with hms_interval_set_seq() under its own lock.
 *
 *     reader (driver)                        invalidation
 *     seq = read_begin(iv)                   start: seq odd, iv->seq = cur_seq
 *       (waits while iv->seq == cur_seq        (set_seq under driver lock)
 *        and the invalidation runs)          ... CPU side changes ...
 *     hms_range_fault(seq)                   end: seq even, deferred
 *     lock; if read_retry(iv, seq) retry       inserts/removes applied
 *     program device; unlock
 *
 *   A reader that began before the invalidation sees iv->seq != seq under
 *   the driver lock and retries; one that begins during it waits for the
 *   end.  Interval insert/remove during an invalidation are deferred to
 *   its end, as in the kernel.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/internal.h"

struct hms_mirror {
	struct hms *h;
	const struct hms_mirror_ops *ops;
	void *priv;
	unsigned running;  /* callbacks in progress; notifier.lock */
	struct hms_mirror *next;
};

struct hms_interval {
	struct hms_itree_node node; /* in notifier.intervals when in_tree */
	struct hms *h;
	const struct hms_interval_ops *ops;
	void *priv;
	unsigned long invalidate_seq; /* written by the driver under its lock */
	unsigned running;             /* notifier.lock */
	bool in_tree, add_pending, remove_pending;
	struct hms_interval *next_deferred;
};

static const char *const event_names[HMS_EVENT_COUNT] = {
	"unmap", "clear", "protection_vma", "protection_page",
	"soft_dirty", "release", "migrate", "exclusive",
};

HMS_API const char *hms_event_name(enum hms_event e)
{
	return (unsigned)e < HMS_EVENT_COUNT ? event_names[e] : "unknown";
}

int hms__notifier_init(struct hms_notifier *n)
{
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	n->invalidate_seq = 2;
	return 0;
}

static void free_intervals(struct hms_itree_node *node)
{
	if (!node)
		return;
	free_intervals(node->left);
	free_intervals(node->right);
	free(node); /* the node is the first member of struct hms_interval */
}

void hms__notifier_fini(struct hms *h)
{
	struct hms_notifier *n = &h->notifier;

	/* Subscriptions a driver left behind go with the context. */
	while (n->mirrors) {
		struct hms_mirror *m = n->mirrors;

		n->mirrors = m->next;
		free(m);
	}
	free_intervals(n->intervals.root);
	while (n->deferred) {
		struct hms_interval *iv = n->deferred;

		n->deferred = iv->next_deferred;
		free(iv);
	}
	free(n->ranges);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
}

/* ---- one invalidation --------------------------------------------------- */

struct collect {
	struct hms_interval **v;
	size_t n, cap;
	bool oom;
};

static bool collect_one(struct hms_itree_node *node, void *arg)
{
	struct collect *c = arg;
	struct hms_interval *iv = (struct hms_interval *)node;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct hms_interval **v = realloc(c->v, cap * sizeof(*v));

		if (!v) {
			c->oom = true;
			return false;
		}
		c->v = v;
		c->cap = cap;
	}
	iv->running++;
	c->v[c->n++] = iv;
	return true;
}

static int ranges_push_locked(struct hms_notifier *n, const struct hms_notify_range *r)
{
	if (n->nranges == n->capranges) {
		unsigned cap = n->capranges ? n->capranges * 2 : 8;
		struct hms_notify_range *v = realloc(n->ranges, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		n->ranges = v;
		n->capranges = cap;
	}
	n->ranges[n->nranges++] = *r;
	return 0;
}

static void ranges_pop_locked(struct hms_notifier *n, const struct hms_notify_range *r)
{
	for (unsigned i = 0; i < n->nranges; i++)
		if (n->ranges[i].start == r->start && n->ranges[i].end == r->end &&
		    n->ranges[i].event == r->event) {
			n->ranges[i] = n->ranges[--n->nranges];
			return;
		}
}

static void apply_deferred_locked(struct hms_notifier *n)
{
	struct hms_interval *iv = n->deferred;

	n->deferred = NULL;
	while (iv) {
		struct hms_interval *next = iv->next_deferred;

		if (iv->add_pending) {
			iv->add_pending = false;
			hms__itree_insert(&n->intervals, &iv->node);
			iv->in_tree = true;
		}
		iv = next;
	}
}

/* Takes a reference on every mirror (running++) and returns them; *nm is
 * their number, *lost is set if memory ran out and some were left out. */
static struct hms_mirror **mirrors_hold_locked(struct hms_notifier *n, size_t *nm, bool *lost)
{
	struct hms_mirror **mv;
	size_t cap = 0;

	*nm = 0;
	for (struct hms_mirror *m = n->mirrors; m; m = m->next)
		cap++;
	if (!cap)
		return NULL;
	mv = malloc(cap * sizeof(*mv));
	if (!mv) {
		*lost = true;
		return NULL;
	}
	for (struct hms_mirror *m = n->mirrors; m; m = m->next) {
		m->running++;
		mv[(*nm)++] = m;
	}
	return mv;
}

/* Drops what mirrors_hold_locked() took; callers broadcast n->cond. */
static void mirrors_put_locked(struct hms_mirror **mv, size_t nm)
{
	for (size_t i = 0; i < nm; i++)
		mv[i]->running--;
	free(mv);
}

int hms__notify_start(struct hms *h, const struct hms_notify_range *r)
{
	struct hms_notifier *n = &h->notifier;
	struct collect c = { 0 };
	struct hms_mirror **mv;
	size_t nm;
	unsigned long cur_seq;
	bool ok = true, lost = false;

	pthread_mutex_lock(&n->lock);
	/* Without memory for the record, hms_range_invalidating() cannot see
	 * this range; the invalidation itself still happens. */
	ranges_push_locked(n, r);
	if (n->active++ == 0)
		n->invalidate_seq++; /* now odd */
	cur_seq = n->invalidate_seq;
	mv = mirrors_hold_locked(n, &nm, &lost);
	hms__itree_for_each(&n->intervals, r->start, r->end - 1, collect_one, &c);
	pthread_mutex_unlock(&n->lock);

	for (size_t i = 0; i < nm; i++)
		if (!mv[i]->ops->sync(mv[i], r))
			ok = false;
	for (size_t i = 0; i < c.n; i++)
		if (!c.v[i]->ops->invalidate(c.v[i], r, cur_seq))
			ok = false;

	pthread_mutex_lock(&n->lock);
	mirrors_put_locked(mv, nm);
	for (size_t i = 0; i < c.n; i++)
		c.v[i]->running--;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
	free(c.v);

	if ((!ok || c.oom || lost) && !(r->flags & HMS_NOTIFY_BLOCKABLE)) {
		hms__notify_end(h, r);
		return -EAGAIN;
	}
	HMS_STAT_ADD(h, invalidations[r->event], 1);
	return 0;
}

void hms__notify_end(struct hms *h, const struct hms_notify_range *r)
{
	struct hms_notifier *n = &h->notifier;

	pthread_mutex_lock(&n->lock);
	ranges_pop_locked(n, r);
	if (--n->active == 0) {
		n->invalidate_seq++; /* even again */
		apply_deferred_locked(n);
	}
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

int hms__notify(struct hms *h, uintptr_t start, uintptr_t end, enum hms_event ev,
		unsigned flags, void *owner)
{
	struct hms_notify_range r = { start, end, ev, flags, owner };
	int ret = hms__notify_start(h, &r);

	if (ret == 0)
		hms__notify_end(h, &r);
	return ret;
}

HMS_API bool hms_range_invalidating(struct hms *h, uintptr_t start, uintptr_t end)
{
	struct hms_notifier *n;
	bool busy = false;

	if (!h || start >= end)
		return false;
	n = &h->notifier;
	pthread_mutex_lock(&n->lock);
	for (unsigned i = 0; i < n->nranges; i++)
		if (n->ranges[i].start < end && n->ranges[i].end > start)
			busy = true;
	pthread_mutex_unlock(&n->lock);
	return busy;
}

/* ---- mirrors ---------------------------------------------------------------- */

HMS_API int hms_mirror_register(struct hms *h, const struct hms_mirror_ops *ops, void *priv,
				struct hms_mirror **out)
{
	struct hms_mirror *m;
	int ret = hms__check(h);

	if (ret)
		return ret;
	if (!ops || !ops->sync || !out)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->h = h;
	m->ops = ops;
	m->priv = priv;
	pthread_mutex_lock(&h->notifier.lock);
	m->next = h->notifier.mirrors;
	h->notifier.mirrors = m;
	pthread_mutex_unlock(&h->notifier.lock);
	*out = m;
	return 0;
}

HMS_API void hms_mirror_unregister(struct hms_mirror *m)
{
	struct hms_notifier *n;
	struct hms_mirror **pp;

	if (!m)
		return;
	n = &m->h->notifier;
	pthread_mutex_lock(&n->lock);
	for (pp = &n->mirrors; *pp; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	while (m->running)
		pthread_cond_wait(&n->cond, &n->lock);
	pthread_mutex_unlock(&n->lock);
	free(m);
}

HMS_API void *hms_mirror_priv(const struct hms_mirror *m)
{
	return m ? m->priv : NULL;
}

void hms__notifier_release(struct hms *h)
{
	struct hms_notifier *n = &h->notifier;
	struct hms_mirror **mv;
	size_t nm;
	bool lost = false;

	pthread_mutex_lock(&n->lock);
	mv = mirrors_hold_locked(n, &nm, &lost);
	pthread_mutex_unlock(&n->lock);
	for (size_t i = 0; i < nm; i++)
		if (mv[i]->ops->release)
			mv[i]->ops->release(mv[i]);
	pthread_mutex_lock(&n->lock);
	mirrors_put_locked(mv, nm);
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

/* ---- interval notifiers ----------------------------------------------------- */

HMS_API int hms_interval_insert(struct hms *h, uintptr_t start, size_t len,
				const struct hms_interval_ops *ops, void *priv,
				struct hms_interval **out)
{
	struct hms_notifier *n;
	struct hms_interval *iv;
	int ret = hms__check(h);

	if (ret)
		return ret;
	if (!len || !ops || !ops->invalidate || !out || start + len - 1 < start)
		return -EINVAL;
	iv = calloc(1, sizeof(*iv));
	if (!iv)
		return -ENOMEM;
	iv->h = h;
	iv->ops = ops;
	iv->priv = priv;
	iv->node.start = start;
	iv->node.last = start + len - 1;
	n = &h->notifier;
	pthread_mutex_lock(&n->lock);
	if (n->active) {
		/* Reads as invalidating until the running invalidation ends. */
		iv->invalidate_seq = n->invalidate_seq;
		iv->add_pending = true;
		iv->next_deferred = n->deferred;
		n->deferred = iv;
	} else {
		iv->invalidate_seq = n->invalidate_seq - 1;
		hms__itree_insert(&n->intervals, &iv->node);
		iv->in_tree = true;
	}
	pthread_mutex_unlock(&n->lock);
	*out = iv;
	return 0;
}

HMS_API void hms_interval_remove(struct hms_interval *iv)
{
	struct hms_notifier *n;

	if (!iv)
		return;
	n = &iv->h->notifier;
	pthread_mutex_lock(&n->lock);
	/* Removal during an invalidation takes effect at its end.  The
	 * interval's sequence is the driver's (hms_interval_set_seq() from a
	 * callback, without this lock): an atomic load, as read_begin's. */
	while (n->active && (iv->in_tree || iv->add_pending) &&
	       __atomic_load_n(&iv->invalidate_seq, __ATOMIC_ACQUIRE) == n->invalidate_seq)
		pthread_cond_wait(&n->cond, &n->lock);
	if (iv->add_pending) {
		struct hms_interval **pp;

		for (pp = &n->deferred; *pp; pp = &(*pp)->next_deferred)
			if (*pp == iv) {
				*pp = iv->next_deferred;
				break;
			}
		iv->add_pending = false;
	}
	if (iv->in_tree) {
		hms__itree_remove(&n->intervals, &iv->node);
		iv->in_tree = false;
	}
	while (iv->running)
		pthread_cond_wait(&n->cond, &n->lock);
	pthread_mutex_unlock(&n->lock);
	free(iv);
}

HMS_API void *hms_interval_priv(const struct hms_interval *iv)
{
	return iv ? iv->priv : NULL;
}

HMS_API unsigned long hms_interval_read_begin(struct hms_interval *iv)
{
	struct hms_notifier *n = &iv->h->notifier;
	unsigned long seq;

	pthread_mutex_lock(&n->lock);
	seq = __atomic_load_n(&iv->invalidate_seq, __ATOMIC_ACQUIRE);
	while (seq == n->invalidate_seq && (seq & 1))
		pthread_cond_wait(&n->cond, &n->lock);
	pthread_mutex_unlock(&n->lock);
	return seq;
}

HMS_API bool hms_interval_read_retry(struct hms_interval *iv, unsigned long seq)
{
	return __atomic_load_n(&iv->invalidate_seq, __ATOMIC_ACQUIRE) != seq;
}

HMS_API void hms_interval_set_seq(struct hms_interval *iv, unsigned long cur_seq)
{
	__atomic_store_n(&iv->invalidate_seq, cur_seq, __ATOMIC_RELEASE);
}

/* Used by hms_range_fault(): has iv been invalidated since seq? */
bool hms__interval_check(struct hms_interval *iv, unsigned long seq)
{
	return iv && hms_interval_read_retry(iv, seq);
}
