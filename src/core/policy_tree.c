/* SPDX-License-Identifier: MIT */
/*
 * policy_tree.c - the policy tree: non-overlapping address ranges, each
 * with a placement policy, on the augmented interval tree of itree.c.
 * Setting a range trims, splits or removes what overlapped it and merges
 * it with equal neighbours.  Knows nothing of contexts or locks (policy.c
 * holds both), so the fuzzer can drive it alone.
 *
 * Invariants (hms__ptree_check):
 *   entries do not overlap, and start <= last;
 *   no entry has mode DEFAULT;
 *   two entries that touch (a.last + 1 == b.start) have different policies;
 *   n is the number of entries, nspare <= HMS_PTREE_SPARES.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "inject.h"

bool hms__pol_equal(const struct hms_pol *a, const struct hms_pol *b)
{
	return a->mode == b->mode && a->ntargets == b->ntargets &&
	       !memcmp(a->targets, b->targets, a->ntargets * sizeof(a->targets[0]));
}

static struct hms_ptree_entry *entry_of(struct hms_itree_node *n)
{
	return (struct hms_ptree_entry *)((char *)n - offsetof(struct hms_ptree_entry, node));
}

/* ---- entries: spares first, so removal never needs memory ---------------- */

/* inject: the allocation may fail on purpose (nomem, src/inject.h). */
static struct hms_ptree_entry *entry_alloc(bool inject)
{
	return inject && hms__inject(HMS_INJ_NOMEM) ? NULL
						   : malloc(sizeof(struct hms_ptree_entry));
}

static struct hms_ptree_entry *entry_get(struct hms_ptree *t)
{
	struct hms_ptree_entry *e = t->spares;

	if (!e)
		return entry_alloc(true);
	t->spares = e->node.right ? entry_of(e->node.right) : NULL;
	t->nspare--;
	return e;
}

static void entry_push(struct hms_ptree *t, struct hms_ptree_entry *e)
{
	e->node.right = t->spares ? &t->spares->node : NULL;
	t->spares = e;
	t->nspare++;
}

/* A move's reservation may be in use: an entry given back is kept only
 * up to the usual number. */
static void entry_put(struct hms_ptree *t, struct hms_ptree_entry *e)
{
	if (t->nspare < HMS_PTREE_SPARES)
		entry_push(t, e);
	else
		free(e);
}

static int reserve(struct hms_ptree *t, size_t n, bool inject)
{
	while (t->nspare < n) {
		struct hms_ptree_entry *e = entry_alloc(inject);

		if (!e)
			return -ENOMEM;
		entry_push(t, e);
	}
	return 0;
}

int hms__ptree_reserve(struct hms_ptree *t)
{
	return reserve(t, HMS_PTREE_SPARES, true);
}

void hms__ptree_trim(struct hms_ptree *t)
{
	while (t->nspare > HMS_PTREE_SPARES)
		free(entry_get(t));
}

void hms__ptree_init(struct hms_ptree *t)
{
	memset(t, 0, sizeof(*t));
	t->t.seed = 0x2545f491u;
}

static void free_rec(struct hms_itree_node *n)
{
	if (!n)
		return;
	free_rec(n->left);
	free_rec(n->right);
	free(entry_of(n));
}

void hms__ptree_fini(struct hms_ptree *t)
{
	free_rec(t->t.root);
	while (t->nspare)
		free(entry_get(t));
	t->t.root = NULL;
	t->n = 0;
}

/* ---- lookup ------------------------------------------------------------------ */

static bool take_first(struct hms_itree_node *n, void *arg)
{
	*(struct hms_itree_node **)arg = n;
	return false;
}

/* The first entry (lowest address) overlapping [first, last], or NULL. */
static struct hms_ptree_entry *first_overlap(struct hms_ptree *t, uintptr_t first,
					     uintptr_t last)
{
	struct hms_itree_node *n = NULL;

	hms__itree_for_each(&t->t, first, last, take_first, &n);
	return n ? entry_of(n) : NULL;
}

/* Re-key an entry whose bounds change (the treap is keyed by start). */
static void entry_rebound(struct hms_ptree *t, struct hms_ptree_entry *e, uintptr_t start,
			  uintptr_t last)
{
	hms__itree_remove(&t->t, &e->node);
	e->node.start = start;
	e->node.last = last;
	hms__itree_insert(&t->t, &e->node);
}

static void entry_drop(struct hms_ptree *t, struct hms_ptree_entry *e)
{
	hms__itree_remove(&t->t, &e->node);
	t->n--;
	entry_put(t, e);
}

/* ---- set --------------------------------------------------------------------- */

/* Leave [first, last] without any entry: trim, split or remove. */
static void clear_range(struct hms_ptree *t, uintptr_t first, uintptr_t last)
{
	struct hms_ptree_entry *e;

	while ((e = first_overlap(t, first, last))) {
		uintptr_t s = e->node.start, l = e->node.last;

		if (s < first && l > last) {
			/* Split in two: the left part keeps e. */
			struct hms_ptree_entry *r = entry_get(t);

			entry_rebound(t, e, s, first - 1);
			if (!r)
				continue; /* no memory: the right part is dropped */
			r->pol = e->pol;
			r->node.start = last + 1;
			r->node.last = l;
			hms__itree_insert(&t->t, &r->node);
			t->n++;
		} else if (s < first) {
			entry_rebound(t, e, s, first - 1);
		} else if (l > last) {
			entry_rebound(t, e, last + 1, l);
		} else {
			entry_drop(t, e);
		}
	}
}

/* An entry that ends right before addr (or starts at it) with policy pol. */
static struct hms_ptree_entry *equal_at(struct hms_ptree *t, uintptr_t addr,
					const struct hms_pol *pol)
{
	struct hms_ptree_entry *e = first_overlap(t, addr, addr);

	return e && hms__pol_equal(&e->pol, pol) ? e : NULL;
}

void hms__ptree_set(struct hms_ptree *t, uintptr_t start, uintptr_t end,
		    const struct hms_pol *pol)
{
	uintptr_t first = start, last = end - 1;
	struct hms_ptree_entry *e, *nb;

	HMS_ASSERT(start < end);
	clear_range(t, first, last);
	if (pol->mode == HMS_POLICY_DEFAULT)
		return;
	/* Merge with equal neighbours: they become part of the new entry. */
	if (first > 0 && (nb = equal_at(t, first - 1, pol))) {
		first = nb->node.start;
		entry_drop(t, nb);
	}
	if (last < UINTPTR_MAX && (nb = equal_at(t, last + 1, pol))) {
		last = nb->node.last;
		entry_drop(t, nb);
	}
	e = entry_get(t);
	if (!e)
		return; /* only without a reserve: the range stays DEFAULT */
	e->pol = *pol;
	e->node.start = first;
	e->node.last = last;
	hms__itree_insert(&t->t, &e->node);
	t->n++;
}

/* ---- queries ----------------------------------------------------------------- */

struct gap {
	uintptr_t addr;
	uintptr_t below; /* largest last < addr, + 1 */
	uintptr_t above; /* smallest start > addr */
};

static bool gap_visit(struct hms_itree_node *n, void *arg)
{
	struct gap *g = arg;

	if (n->last < g->addr && n->last + 1 > g->below)
		g->below = n->last + 1;
	if (n->start > g->addr && n->start < g->above)
		g->above = n->start;
	return true;
}

/* Visit every node (in-order), for the gap bounds. */
static void walk(struct hms_itree_node *n, bool (*fn)(struct hms_itree_node *, void *),
		 void *arg)
{
	if (!n)
		return;
	walk(n->left, fn, arg);
	fn(n, arg);
	walk(n->right, fn, arg);
}

/* The nearest entries below and above addr, by descending the treap. */
static void gap_bounds(struct hms_itree_node *n, struct gap *g)
{
	while (n) {
		gap_visit(n, g);
		n = n->start > g->addr ? n->left : n->right;
	}
}

void hms__ptree_get(struct hms_ptree *t, uintptr_t addr, struct hms_pol *pol,
		    uintptr_t *start, uintptr_t *end)
{
	struct hms_ptree_entry *e = first_overlap(t, addr, addr);
	struct gap g = { addr, 0, UINTPTR_MAX };

	if (e) {
		*pol = e->pol;
		*start = e->node.start;
		*end = e->node.last + 1;
		return;
	}
	memset(pol, 0, sizeof(*pol));
	/*
	 * Entries do not overlap, so ordering by start orders by last too:
	 * the search path towards addr meets both neighbours.
	 */
	gap_bounds(t->t.root, &g);
	*start = g.below;
	*end = g.above;
}

struct each {
	bool (*fn)(const struct hms_ptree_entry *e, void *arg);
	void *arg;
};

static bool each_visit(struct hms_itree_node *n, void *arg)
{
	struct each *x = arg;

	return x->fn(entry_of(n), x->arg);
}

void hms__ptree_for_each(struct hms_ptree *t, uintptr_t start, uintptr_t end,
			 bool (*fn)(const struct hms_ptree_entry *e, void *arg), void *arg)
{
	struct each x = { fn, arg };

	if (start < end)
		hms__itree_for_each(&t->t, start, end - 1, each_visit, &x);
}

/* ---- mremap ------------------------------------------------------------------- */

static bool count_visit(const struct hms_ptree_entry *e, void *arg)
{
	(void)e;
	++*(size_t *)arg;
	return true;
}

static size_t move_cost(struct hms_ptree *t, uintptr_t from, size_t len)
{
	size_t n = 1 + HMS_PTREE_SPARES;

	hms__ptree_for_each(t, from, from + len, count_visit, &n);
	return n;
}

/*
 * Not failed on purpose: an mremap's preparation fails as a whole under
 * injection, at its start (area.c).  Were each of its allocations a
 * chance, one that needs N of them would never succeed while every Nth
 * allocation fails, and the fault handler would wait for ever.
 */
int hms__ptree_move_reserve(struct hms_ptree *t, uintptr_t from, size_t len)
{
	int ret = reserve(t, move_cost(t, from, len), false);

	if (ret)
		hms__ptree_trim(t);
	return ret;
}

void hms__ptree_move(struct hms_ptree *t, uintptr_t from, uintptr_t to, size_t len)
{
	static const struct hms_pol none;

	if (!len)
		return;
	HMS_ASSERT(to + len <= from || from + len <= to);
	reserve(t, move_cost(t, from, len), false);
	hms__ptree_set(t, to, to + len, &none); /* what was there is gone */
	for (uintptr_t addr = from; addr < from + len;) {
		struct hms_pol pol;
		uintptr_t s, e;

		hms__ptree_get(t, addr, &pol, &s, &e);
		if (e > from + len || e <= addr)
			e = from + len;
		if (pol.mode)
			hms__ptree_set(t, to + (addr - from), to + (e - from), &pol);
		addr = e;
	}
	hms__ptree_trim(t);
}

/* ---- invariants --------------------------------------------------------------- */

struct check {
	const struct hms_ptree_entry *prev;
	size_t n;
	bool ok;
};

static bool check_visit(struct hms_itree_node *n, void *arg)
{
	struct check *c = arg;
	const struct hms_ptree_entry *e = entry_of(n);

	c->n++;
	if (n->start > n->last || e->pol.mode == HMS_POLICY_DEFAULT ||
	    e->pol.ntargets == 0 || e->pol.ntargets > HMS_BIND_MAX_TARGETS)
		c->ok = false;
	if (c->prev) {
		if (c->prev->node.last >= n->start)
			c->ok = false; /* overlap or out of order */
		else if (c->prev->node.last + 1 == n->start &&
			 hms__pol_equal(&c->prev->pol, &e->pol))
			c->ok = false; /* should have merged */
	}
	c->prev = e;
	return true;
}

static bool check_max(const struct hms_itree_node *n)
{
	uintptr_t m;

	if (!n)
		return true;
	m = n->last;
	if (n->left && n->left->max_last > m)
		m = n->left->max_last;
	if (n->right && n->right->max_last > m)
		m = n->right->max_last;
	return m == n->max_last && check_max(n->left) && check_max(n->right);
}

bool hms__ptree_check(struct hms_ptree *t)
{
	struct check c = { NULL, 0, true };
	size_t nspare = 0;

	walk(t->t.root, check_visit, &c);
	for (struct hms_ptree_entry *e = t->spares; e;
	     e = e->node.right ? entry_of(e->node.right) : NULL)
		nspare++;
	return c.ok && c.n == t->n && nspare == t->nspare && check_max(t->t.root);
}
