/* SPDX-License-Identifier: MIT */
/*
 * policy.c - per-range placement policy: hms_bind(), hms_bind_default(),
 * hms_policy_get(), and its enforcement: the kernel's NUMA policy
 * (mbind) for CPU placement, and the device-placement hooks the core
 * calls (a device touching a range bound to its memory).  The tree itself
 * is policy_tree.c's; moving pages is placement.c's.
 */
#include <errno.h>
#include <numaif.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/internal.h"

#ifndef MPOL_PREFERRED_MANY
#define MPOL_PREFERRED_MANY 5
#endif
#define MASK_NODES 1024

/*
 * Hung off h->policy, created by the first hms_bind() under hms.lock and
 * freed by hms_close().  Lock order: apply, then hms.lock, then lock;
 * never the reverse (the core calls hms__policy_remove_locked() with
 * hms.lock held).
 */
struct hms_policy_state {
	/* Serializes changes, so that the kernel's NUMA policy and the tree
	 * agree even when two threads bind overlapping ranges.  Held across
	 * mbind(), which never waits for the fault handler. */
	pthread_mutex_t apply;
	pthread_mutex_t lock; /* guards tree */
	struct hms_ptree tree;
};

/* ---- the state ------------------------------------------------------------------ */

static struct hms_policy_state *state_get_locked(struct hms *h)
{
	struct hms_policy_state *ps = h->policy;

	if (ps)
		return ps;
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return NULL;
	pthread_mutex_init(&ps->apply, NULL);
	pthread_mutex_init(&ps->lock, NULL);
	hms__ptree_init(&ps->tree);
	h->policy = ps;
	return ps;
}

void hms__policy_fini(struct hms *h)
{
	struct hms_policy_state *ps = h->policy;

	if (!ps)
		return;
	hms__ptree_fini(&ps->tree);
	pthread_mutex_destroy(&ps->lock);
	pthread_mutex_destroy(&ps->apply);
	free(ps);
	h->policy = NULL;
}

void hms__policy_remove_locked(struct hms *h, uintptr_t start, uintptr_t end)
{
	struct hms_policy_state *ps = h->policy;
	static const struct hms_pol none;

	if (!ps || start >= end)
		return;
	pthread_mutex_lock(&ps->lock);
	if (ps->tree.n)
		hms__ptree_set(&ps->tree, start, end, &none);
	hms__ptree_reserve(&ps->tree); /* for the next split; may fail */
	pthread_mutex_unlock(&ps->lock);
}

int hms__policy_move_reserve_locked(struct hms *h, uintptr_t from, size_t len)
{
	struct hms_policy_state *ps = h->policy;
	int ret;

	if (!ps || !len)
		return 0;
	pthread_mutex_lock(&ps->lock);
	ret = hms__ptree_move_reserve(&ps->tree, from, len);
	pthread_mutex_unlock(&ps->lock);
	return ret;
}

void hms__policy_move_locked(struct hms *h, uintptr_t from, uintptr_t to, size_t len)
{
	struct hms_policy_state *ps = h->policy;

	if (!ps || !len)
		return;
	pthread_mutex_lock(&ps->lock);
	/* The kernel moved the VMA's own mempolicy with it. */
	hms__ptree_move(&ps->tree, from, to, len);
	pthread_mutex_unlock(&ps->lock);
}

/* The policy at addr and its run; DEFAULT everywhere without a state. */
static void policy_at_locked(struct hms *h, uintptr_t addr, struct hms_pol *pol,
			     uintptr_t *start, uintptr_t *end)
{
	struct hms_policy_state *ps = h->policy;

	if (!ps) {
		memset(pol, 0, sizeof(*pol));
		*start = 0;
		*end = UINTPTR_MAX;
		return;
	}
	pthread_mutex_lock(&ps->lock);
	hms__ptree_get(&ps->tree, addr, pol, start, end);
	pthread_mutex_unlock(&ps->lock);
}

/* ---- CPU placement: the kernel's NUMA policy -------------------------------------- */

static int set_mempolicy_range(uintptr_t s, uintptr_t e, unsigned mode,
			       const struct hms_tgt *tgt, size_t n)
{
	unsigned long mask[MASK_NODES / (8 * sizeof(unsigned long))] = { 0 };
	unsigned long one[MASK_NODES / (8 * sizeof(unsigned long))] = { 0 };
	unsigned nodes = 0;
	int first = -1, kmode = MPOL_DEFAULT;

	for (size_t i = 0; i < n; i++) {
		if (tgt[i].node < 0)
			continue;
		mask[tgt[i].node / 64] |= 1UL << (tgt[i].node % 64);
		if (first < 0)
			first = tgt[i].node;
		nodes++;
	}
	if (nodes && mode == HMS_POLICY_BIND)
		kmode = MPOL_BIND;
	else if (nodes && mode == HMS_POLICY_PREFERRED)
		kmode = nodes > 1 ? MPOL_PREFERRED_MANY : MPOL_PREFERRED;
	if (kmode == MPOL_DEFAULT)
		return mbind((void *)s, e - s, MPOL_DEFAULT, NULL, 0, 0) ? -errno : 0;
	if (mbind((void *)s, e - s, kmode, mask, MASK_NODES + 1, 0) == 0)
		return 0;
	if (kmode != MPOL_PREFERRED_MANY || errno != EINVAL)
		return -errno;
	/* Before Linux 5.15: the first listed node only. */
	one[first / 64] = 1UL << (first % 64);
	return mbind((void *)s, e - s, MPOL_PREFERRED, one, MASK_NODES + 1, 0) ? -errno : 0;
}

/* ---- applying a policy ----------------------------------------------------------- */

/*
 * mbind() failed part way through [start, end): it changes VMA after VMA,
 * so those before the one it could not change (a split past the limit of
 * mappings) have the new policy already.  Give each run of the range the
 * kernel policy the tree says it has again (a run that kept its policy is
 * left alone by the kernel; putting one back needs no split).  Targets
 * gone since are left out.  ps->apply held.
 */
static void kernel_policy_restore(struct hms *h, struct hms_policy_state *ps, uintptr_t start,
				  uintptr_t end)
{
	for (uintptr_t addr = start, s, e; addr < end; addr = e) {
		struct hms_tgt tgt[HMS_BIND_MAX_TARGETS];
		struct hms_pol pol;
		size_t n = 0;

		pthread_mutex_lock(&ps->lock);
		hms__ptree_get(&ps->tree, addr, &pol, &s, &e);
		pthread_mutex_unlock(&ps->lock);
		if (e > end || e <= addr)
			e = end;
		for (unsigned i = 0; i < pol.ntargets; i++)
			n += !hms__targets_resolve(h, &pol.targets[i], 1, &tgt[n]);
		set_mempolicy_range(addr, e, pol.mode, tgt, n);
	}
}

int hms__policy_apply(struct hms *h, uintptr_t start, uintptr_t end, unsigned mode,
		      const struct hms_tgt *tgt, size_t n)
{
	struct hms_pol pol = { .mode = (uint8_t)mode, .ntargets = (uint8_t)n };
	struct hms_policy_state *ps;
	int ret;

	for (size_t i = 0; i < n; i++)
		pol.targets[i] = tgt[i].uid;
	pthread_mutex_lock(&h->lock);
	ps = state_get_locked(h);
	pthread_mutex_unlock(&h->lock);
	if (!ps)
		return -ENOMEM;
	pthread_mutex_lock(&ps->apply);
	/* Everything that can fail happens before the tree changes. */
	pthread_mutex_lock(&ps->lock);
	ret = hms__ptree_reserve(&ps->tree);
	pthread_mutex_unlock(&ps->lock);
	if (!ret) {
		ret = set_mempolicy_range(start, end, mode, tgt, n);
		if (ret)
			kernel_policy_restore(h, ps, start, end);
	}
	if (!ret) {
		pthread_mutex_lock(&h->lock);
		/* Unmapped since the caller's check: no policy for what is gone. */
		if (!hms__range_managed_locked(h, start, end)) {
			ret = -ENOENT;
		} else {
			pthread_mutex_lock(&ps->lock);
			hms__ptree_set(&ps->tree, start, end, &pol);
			hms__ptree_reserve(&ps->tree);
			pthread_mutex_unlock(&ps->lock);
			/* A new policy: contests over its pages start anew. */
			hms__thrash_forget_locked(h, start, end);
		}
		pthread_mutex_unlock(&h->lock);
	}
	pthread_mutex_unlock(&ps->apply);
	return ret;
}

HMS_API int hms_bind(struct hms *h, void *addr, size_t len, const hms_uid *targets, size_t n,
		     unsigned flags)
{
	struct hms_tgt tgt[HMS_BIND_MAX_TARGETS];
	uintptr_t s = (uintptr_t)addr;
	int ret = hms__check(h);

	if (ret)
		return ret;
	if (flags & ~HMS_BIND_PREFERRED)
		return -EINVAL;
	ret = hms__targets_resolve(h, targets, n, tgt);
	if (!ret)
		ret = hms__placement_range(h, addr, len);
	if (ret)
		return ret;
	return hms__policy_apply(h, s, s + len,
				 (flags & HMS_BIND_PREFERRED) ? HMS_POLICY_PREFERRED : HMS_POLICY_BIND,
				 tgt, n);
}

HMS_API int hms_bind_default(struct hms *h, void *addr, size_t len)
{
	uintptr_t s = (uintptr_t)addr;
	int ret = hms__placement_range(h, addr, len);

	if (ret)
		return ret;
	return hms__policy_apply(h, s, s + len, HMS_POLICY_DEFAULT, NULL, 0);
}

HMS_API int hms_policy_get(struct hms *h, const void *addr, struct hms_policy *out)
{
	uintptr_t p = (uintptr_t)addr & PAGE_MASK, s, e;
	struct hms_pol pol;
	struct hms_area *a;
	int ret = hms__check(h);

	if (ret)
		return ret;
	if (!out)
		return -EINVAL;
	hms__uffd_sync(h);
	pthread_mutex_lock(&h->lock);
	a = hms__area_find_locked(h, p);
	if (!a) {
		pthread_mutex_unlock(&h->lock);
		return -ENOENT;
	}
	policy_at_locked(h, p, &pol, &s, &e);
	if (pol.mode == HMS_POLICY_DEFAULT) {
		s = s > a->start ? s : a->start;
		e = e < a->end ? e : a->end;
	}
	pthread_mutex_unlock(&h->lock);
	memset(out, 0, sizeof(*out));
	out->start = s;
	out->end = e;
	out->mode = pol.mode;
	out->ntargets = pol.ntargets;
	memcpy(out->targets, pol.targets, pol.ntargets * sizeof(pol.targets[0]));
	return 0;
}

/* ---- migration by policy ------------------------------------------------------------ */

struct collect {
	struct hms_ptree_entry *v;
	size_t n, cap;
	bool nomem;
};

static bool collect_one(const struct hms_ptree_entry *e, void *arg)
{
	struct collect *c = arg;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct hms_ptree_entry *v = realloc(c->v, cap * sizeof(*v));

		if (!v) {
			c->nomem = true;
			return false;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = *e;
	return true;
}

long hms__policy_migrate(struct hms *h, uintptr_t start, uintptr_t end)
{
	struct hms_policy_state *ps;
	struct collect c = { 0 };
	long moved = 0;

	pthread_mutex_lock(&h->lock);
	ps = h->policy;
	if (ps) {
		pthread_mutex_lock(&ps->lock);
		hms__ptree_for_each(&ps->tree, start, end, collect_one, &c);
		pthread_mutex_unlock(&ps->lock);
	}
	pthread_mutex_unlock(&h->lock);
	if (c.nomem) {
		free(c.v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c.n; i++) {
		struct hms_tgt tgt[HMS_BIND_MAX_TARGETS];
		uintptr_t s = c.v[i].node.start > start ? c.v[i].node.start : start;
		uintptr_t e = c.v[i].node.last + 1 < end ? c.v[i].node.last + 1 : end;
		long r;

		/* A target that went away since the bind (device removed) makes
		 * that policy unenforceable: its range is left alone. */
		if (hms__targets_resolve(h, c.v[i].pol.targets, c.v[i].pol.ntargets, tgt))
			continue;
		r = hms__migrate_range(h, s, e, tgt, c.v[i].pol.ntargets);
		if (r < 0) {
			free(c.v);
			return moved ? moved : r;
		}
		moved += r;
	}
	free(c.v);
	return moved;
}

/* ---- device placement ------------------------------------------------------------------ */

/* The first memory pol lists that belongs to owner and can take pages (a
 * driver may register several under one owner), or NULL. */
static struct hms_devmem *devmem_listed_locked(struct hms *h, const struct hms_pol *pol,
					       void *owner)
{
	for (unsigned i = 0; i < pol->ntargets; i++)
		for (struct hms_devmem *dm = h->devmems; dm; dm = dm->next)
			if (dm->target == pol->targets[i] && dm->desc.owner == owner &&
			    dm->ops.migrate_to_device)
				return dm;
	return NULL;
}

bool hms__policy_wants_device_locked(struct hms *h, uintptr_t addr, void *owner)
{
	struct hms_pol pol;
	uintptr_t s, e;

	if (!h->policy || !owner || hms__in_handler(h))
		return false;
	policy_at_locked(h, addr, &pol, &s, &e);
	return devmem_listed_locked(h, &pol, owner) != NULL && !hms__thrash_pinned_locked(h, addr);
}

/* Fault-around for a first touch: never-populated pages after addr, within
 * the policy's run and the area, at most this many. */
#define PLACE_AROUND 64

/*
 * May the system page at p join a placement run of owner's (for writing
 * if write)?  Only a plain one (no protection of hms', no replicas, no
 * exclusive access, not held: the single-page path looks at those), the
 * access allowed, not accessed in place by owner's advice, not to be read
 * through a replica (read-mostly), its block not pinned (asked at each
 * block's first page).
 */
static bool run_takes_locked(struct hms *h, struct hms_area *a, uintptr_t p, void *owner,
			     bool write)
{
	const struct hms_pte *pte = area_pte_ro(a, p);

	return pte->loc == HMS_LOC_SYSTEM && !(pte->flags & (uint16_t)~PTE_ZERO) &&
	       hms__pte_allows(pte, write) && !hms__advice_accessed_by_locked(h, p, owner) &&
	       (write || !hms__replica_wanted_locked(h, pte, p, owner)) &&
	       ((p & (HMS_HUGE_PAGE_SIZE - 1)) || !hms__thrash_pinned_locked(h, p));
}

/* May the page at p, in other's memory, join a run that a device takes
 * from other (for writing if write)?  A plain one, the access allowed. */
static bool run_takes_from_locked(struct hms *h, struct hms_area *a, uintptr_t p,
				  const struct hms_devmem *other, bool write)
{
	const struct hms_pte *pte = area_pte_ro(a, p);

	return pte->loc == HMS_LOC_DEVICE && !pte->flags &&
	       hms__devmem_of_pfn_locked(h, pte->pfn) == other && hms__pte_allows(pte, write);
}

int hms__policy_place_device(struct hms *h, uintptr_t addr, void *owner, uintptr_t limit,
			     bool write)
{
	struct hms_devmem *dm, *other = NULL;
	struct hms_area *a;
	struct hms_pte *pte;
	struct hms_pol pol;
	uintptr_t ps, pe, end;
	bool placed;

	addr &= PAGE_MASK;
	pthread_mutex_lock(&h->lock);
	a = h->policy && owner ? hms__area_find_locked(h, addr) : NULL;
	if (!a) {
		pthread_mutex_unlock(&h->lock);
		return 0;
	}
	policy_at_locked(h, addr, &pol, &ps, &pe);
	dm = devmem_listed_locked(h, &pol, owner);
	pte = area_pte(a, addr);
	if (pte->flags & (PTE_BUSY | PTE_MIGRATING | PTE_EXCLUSIVE)) {
		pthread_mutex_unlock(&h->lock);
		return 0;
	}
	if (pte->loc == HMS_LOC_DEVICE) {
		other = hms__devmem_of_pfn_locked(h, pte->pfn);
		if (other && other == dm) {
			pthread_mutex_unlock(&h->lock);
			return 1;
		}
		/* This touch takes it from another device (here, or home
		 * where this device is not listed): a round of a contest,
		 * maybe (thrash.c). */
		hms__thrash_taken_locked(h, addr, owner);
	}
	/* A block pinned for passing back and forth: used where it is. */
	if (!dm || hms__thrash_pinned_locked(h, addr)) {
		pthread_mutex_unlock(&h->lock);
		return 0;
	}
	end = addr + PAGE_SIZE;
	while (pte->loc == HMS_LOC_NONE && end < a->end && end < pe &&
	       end - addr < PLACE_AROUND * PAGE_SIZE && area_pte(a, end)->loc == HMS_LOC_NONE &&
	       !(area_pte(a, end)->flags & (PTE_BUSY | PTE_MIGRATING)))
		end += PAGE_SIZE;
	/* A run goes no further than the device asks, the area or the
	 * policy's run. */
	if (limit > a->end)
		limit = a->end;
	if (limit > pe)
		limit = pe;
	/* System pages the device asks for after this one: one migration,
	 * not one per page (a device reading 64 MiB bound to it took 7x as
	 * long as hms_migrate and the same read). */
	if (pte->loc == HMS_LOC_SYSTEM && run_takes_locked(h, a, addr, owner, write))
		while (end < limit && run_takes_locked(h, a, end, owner, write))
			end += PAGE_SIZE;
	/* Another device's pages after this one, the same way (a handoff
	 * from one device to the next). */
	if (other)
		while (end < limit && run_takes_from_locked(h, a, end, other, write)) {
			/* A take in the next block too: a round there, maybe
			 * its pin (counted only at addr, a block the runs
			 * always reached from the one before was never
			 * pinned: seen where a range started mid-block). */
			if (!(end & (HMS_HUGE_PAGE_SIZE - 1))) {
				hms__thrash_taken_locked(h, end, owner);
				if (hms__thrash_pinned_locked(h, end))
					break;
			}
			end += PAGE_SIZE;
		}
	/* Held across the callback: hms_devmem_remove() would free dm under
	 * it otherwise (other is only compared, never called). */
	hms__devmem_get_locked(dm);
	pthread_mutex_unlock(&h->lock);

	/* Another device's pages go through system memory; if the second
	 * step fails they stay there, intact. */
	if (other)
		hms__evict_range(h, addr, end, NULL);
	dm->ops.migrate_to_device(dm, addr, end);

	pthread_mutex_lock(&h->lock);
	a = hms__area_find_locked(h, addr);
	pte = a ? area_pte(a, addr) : NULL;
	placed = pte && pte->loc == HMS_LOC_DEVICE && hms__devmem_of_pfn_locked(h, pte->pfn) == dm;
	for (uintptr_t b = addr; placed && b < end;
	     b = (b & ~(uintptr_t)(HMS_HUGE_PAGE_SIZE - 1)) + HMS_HUGE_PAGE_SIZE)
		hms__thrash_placed_locked(h, b, owner);
	pthread_mutex_unlock(&h->lock);
	hms__devmem_put(h, dm);
	return placed;
}
