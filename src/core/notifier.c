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
 *   end.  An interval inserted during an invalidation joins the tree at
 *   its end, as in the kernel.  The tree is walked only under
 *   notifier.lock, so removal is immediate; an invalidation that already
 *   holds the interval (or a mirror) skips it if it is gone by the time
 *   its call comes, and remove/unregister wait only for a call in
 *   progress, never for the invalidation: a mirror's sync() may remove an
 *   interval or unregister another mirror.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/internal.h"

/* What invalidations hold of a mirror or an interval; notifier.lock. */
struct sub_hold {
	unsigned refs;    /* invalidations holding it */
	unsigned calling; /* its callbacks in progress */
	bool gone;        /* unregistered or removed: skip it */
	bool orphan;      /* unregister/remove returned: the last ref frees it */
};

struct hms_mirror {
	struct hms *h;
	const struct hms_mirror_ops *ops;
	void *priv;
	struct sub_hold hold;
	struct hms_mirror *next;
};

struct hms_interval {
	struct hms_itree_node node; /* in notifier.intervals when in_tree */
	struct hms *h;
	const struct hms_interval_ops *ops;
	void *priv;
	unsigned long invalidate_seq; /* written by the driver under its lock */
	struct sub_hold hold;
	bool in_tree, add_pending;
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
		struct hms_interval **v = hms__inject(HMS_INJ_NOTIFY_NOMEM)
						  ? NULL
						  : realloc(c->v, cap * sizeof(*v));

		if (!v) {
			c->oom = true;
			return false;
		}
		c->v = v;
		c->cap = cap;
	}
	iv->hold.refs++;
	c->v[c->n++] = iv;
	return true;
}

static int ranges_push_locked(struct hms_notifier *n, const struct hms_notify_range *r)
{
	if (n->nranges == n->capranges) {
		unsigned cap = n->capranges ? n->capranges * 2 : 8;
		struct hms_notify_range *v = hms__inject(HMS_INJ_NOTIFY_NOMEM)
						     ? NULL
						     : realloc(n->ranges, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		n->ranges = v;
		n->capranges = cap;
	}
	n->ranges[n->nranges++] = *r;
	return 0;
}

/*
 * Records are matched by value, so the end of an invalidation that had
 * none may take the record of another of the same range still running:
 * that one is then counted among the unrecorded instead, which keeps
 * every running invalidation either recorded or counted (records + count
 * == running), and so visible to hms_range_invalidating().
 */
static void ranges_pop_locked(struct hms_notifier *n, const struct hms_notify_range *r)
{
	for (unsigned i = 0; i < n->nranges; i++)
		if (n->ranges[i].start == r->start && n->ranges[i].end == r->end &&
		    n->ranges[i].event == r->event) {
			n->ranges[i] = n->ranges[--n->nranges];
			return;
		}
	/* None of this value left: this one is among the unrecorded. */
	n->unrecorded--;
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

/* Takes a reference on every mirror (refs++) and returns them; *nm is
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
	mv = hms__inject(HMS_INJ_NOTIFY_NOMEM) ? NULL : malloc(cap * sizeof(*mv));
	if (!mv) {
		*lost = true;
		return NULL;
	}
	for (struct hms_mirror *m = n->mirrors; m; m = m->next) {
		m->hold.refs++;
		mv[(*nm)++] = m;
	}
	return mv;
}

/* Drops one hold: true when it was the last of a mirror or interval
 * unregistered or removed meanwhile, which the caller then frees. */
static bool hold_put_locked(struct sub_hold *s)
{
	return --s->refs == 0 && s->orphan;
}

/* Drops what mirrors_hold_locked() took, freeing the mirrors unregistered
 * meanwhile. */
static void mirrors_put_locked(struct hms_mirror **mv, size_t nm)
{
	for (size_t i = 0; i < nm; i++)
		if (hold_put_locked(&mv[i]->hold))
			free(mv[i]);
	free(mv);
}

/* Drops the mirrors and intervals an invalidation took (freeing those
 * unregistered or removed meanwhile) and empties *c. */
static void held_put_locked(struct hms_mirror **mv, size_t nm, struct collect *c)
{
	mirrors_put_locked(mv, nm);
	for (size_t i = 0; i < c->n; i++)
		if (hold_put_locked(&c->v[i]->hold))
			free(c->v[i]);
	free(c->v);
	*c = (struct collect){ 0 };
}

/*
 * A held mirror or interval that was unregistered or removed since it was
 * taken (by a callback of this invalidation, say: the call it was due
 * would wait for itself) is skipped; otherwise its call is counted, so
 * that unregister/remove wait for it.  Callers broadcast n->cond after
 * the call.
 */
static bool call_begin(struct hms_notifier *n, struct sub_hold *s)
{
	bool go;

	pthread_mutex_lock(&n->lock);
	go = !s->gone;
	if (go)
		s->calling++;
	pthread_mutex_unlock(&n->lock);
	return go;
}

static void call_end(struct hms_notifier *n, struct sub_hold *s)
{
	pthread_mutex_lock(&n->lock);
	s->calling--;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

/*
 * The end of unregister/remove (notifier.lock held, dropped here): the
 * mirror or interval is gone for invalidations under way, its call in
 * progress is waited for.  True when no invalidation holds it either: the
 * caller frees it; otherwise the last to let go does (hold_put_locked()).
 */
static bool hold_leave_unlock(struct hms_notifier *n, struct sub_hold *s)
{
	bool held;

	s->gone = true;
	while (s->calling)
		pthread_cond_wait(&n->cond, &n->lock);
	held = s->refs;
	s->orphan = held;
	pthread_mutex_unlock(&n->lock);
	return !held;
}

/* Out of memory for a list of what to call, in a change that must reach
 * everyone: lets go of notifier.lock a while for memory to come back. */
static void nomem_wait_locked(struct hms_notifier *n)
{
	pthread_mutex_unlock(&n->lock);
	usleep(1000);
	pthread_mutex_lock(&n->lock);
}

int hms__notify_start(struct hms *h, const struct hms_notify_range *r)
{
	struct hms_notifier *n = &h->notifier;
	struct collect c = { 0 };
	struct hms_mirror **mv;
	size_t nm;
	unsigned long cur_seq;
	bool ok = true, lost = false, missed;

	pthread_mutex_lock(&n->lock);
	/* Without memory for the record the invalidation still happens (it
	 * must not wait here: it may run on the fault handler), and is
	 * counted instead: while any such runs, hms_range_invalidating()
	 * cannot tell which range it covers and answers true for every
	 * range, so a driver that checks it never installs a translation of
	 * a range being changed. */
	if (ranges_push_locked(n, r))
		n->unrecorded++;
	if (n->active++ == 0)
		n->invalidate_seq++; /* now odd */
	cur_seq = n->invalidate_seq;
	for (;;) {
		mv = mirrors_hold_locked(n, &nm, &lost);
		hms__itree_for_each(&n->intervals, r->start, r->end - 1, collect_one, &c);
		if (!(c.oom || lost) || !(r->flags & HMS_NOTIFY_BLOCKABLE))
			break;
		/* Out of memory for the lists: a change that cannot be
		 * refused must reach every subscriber, or one could keep a
		 * stale translation.  Give back what was taken, wait for
		 * memory, collect again.  (One that can be refused goes on
		 * and is refused at the end.) */
		held_put_locked(mv, nm, &c);
		lost = false;
		nomem_wait_locked(n);
	}
	pthread_mutex_unlock(&n->lock);

	for (size_t i = 0; i < nm; i++) {
		if (!call_begin(n, &mv[i]->hold))
			continue;
		if (!mv[i]->ops->sync(mv[i], r))
			ok = false;
		call_end(n, &mv[i]->hold);
	}
	for (size_t i = 0; i < c.n; i++) {
		if (!call_begin(n, &c.v[i]->hold))
			continue;
		if (!c.v[i]->ops->invalidate(c.v[i], r, cur_seq))
			ok = false;
		call_end(n, &c.v[i]->hold);
	}

	/* (held_put_locked() empties c: whether it missed intervals is asked
	 * first.  Read after it, an interval list cut short by a failed
	 * allocation let a change that cannot wait go on with the intervals
	 * left out never told: a device kept a read-only replica of a page
	 * the CPU then wrote, found by hms stress --inject notify_nomem.) */
	missed = c.oom || lost;
	pthread_mutex_lock(&n->lock);
	held_put_locked(mv, nm, &c);
	pthread_mutex_unlock(&n->lock);

	if ((!ok || missed) && !(r->flags & HMS_NOTIFY_BLOCKABLE)) {
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
	/* In a fork child an invalidation that ran in the parent as fork()
	 * copied the address space never ends, and its thread may have held
	 * the lock (tests/fork_child_read_begin): one may run. */
	if (h->forked_child)
		return true;
	n = &h->notifier;
	pthread_mutex_lock(&n->lock);
	busy = n->unrecorded > 0; /* a range not recorded may be any */
	for (unsigned i = 0; !busy && i < n->nranges; i++)
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

	/* In a fork child the mirror is the parent's: a callback that ran
	 * there as fork() copied it counts in m->hold.calling for ever, and the
	 * wait for it hung the child (tests/fork_child_mirror_busy). */
	if (!m || m->h->forked_child)
		return;
	n = &m->h->notifier;
	pthread_mutex_lock(&n->lock);
	for (pp = &n->mirrors; *pp; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	if (hold_leave_unlock(n, &m->hold))
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
	/* Out of memory for the list: every mirror must hear it, or a device
	 * could go on working on an address space that is going away.  Wait
	 * for memory (hms_close() may wait) and collect again. */
	for (;;) {
		mv = mirrors_hold_locked(n, &nm, &lost);
		if (!lost)
			break;
		lost = false;
		nomem_wait_locked(n);
	}
	pthread_mutex_unlock(&n->lock);
	for (size_t i = 0; i < nm; i++) {
		if (!mv[i]->ops->release || !call_begin(n, &mv[i]->hold))
			continue;
		mv[i]->ops->release(mv[i]);
		call_end(n, &mv[i]->hold);
	}
	pthread_mutex_lock(&n->lock);
	mirrors_put_locked(mv, nm);
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

	if (!iv || iv->h->forked_child)
		return; /* the parent's (see hms_mirror_unregister) */
	n = &iv->h->notifier;
	pthread_mutex_lock(&n->lock);
	/* The tree is only walked under this lock: the interval leaves it
	 * now, even during an invalidation.  Invalidations under way that
	 * hold it skip it from now on; one whose call of it runs is waited
	 * for.  Waiting for the invalidation itself to end could wait for
	 * the caller: a mirror's sync() may remove an interval. */
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
	if (hold_leave_unlock(n, &iv->hold))
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

	/* In a fork child the interval is the parent's: the child's copy of
	 * an invalidation that ran there as fork() copied the address space
	 * never ends (its thread is not in the child), and waiting for it
	 * hung the child (tests/fork_child_read_begin); the hms_range_fault()
	 * that follows says -ECHILD. */
	if (iv->h->forked_child)
		return __atomic_load_n(&iv->invalidate_seq, __ATOMIC_ACQUIRE);
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
