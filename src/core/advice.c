/* SPDX-License-Identifier: MIT */
/*
 * advice.c - hms_advise(): the advice of each range, kept in a policy
 * tree of its own (policy_tree.c).  READ_MOSTLY is acted on by replica.c,
 * ACCESSED_BY by range.c; PREFERRED_LOCATION is the HMS_BIND_PREFERRED
 * policy (policy.c) and is not stored here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "inject.h"

/* hms_pol.mode bits (0 is no entry at all, for the tree); hms_pol.targets:
 * the ACCESSED_BY devices' targets. */
#define ADV_READ_MOSTLY 1u
#define ADV_ACCESSED_BY 2u /* ntargets > 0 */

/*
 * Hung off h->advice, created by the first hms_advise() under hms.lock,
 * freed by hms_close().  Lock order: hms.lock, then lock.
 */
struct hms_advice_state {
	pthread_mutex_t lock; /* guards tree */
	struct hms_ptree tree;
};

static struct hms_advice_state *advice_state(struct hms *h)
{
	struct hms_advice_state *as;

	pthread_mutex_lock(&h->lock);
	as = h->advice;
	if (!as) {
		as = calloc(1, sizeof(*as));
		if (as) {
			pthread_mutex_init(&as->lock, NULL);
			hms__ptree_init(&as->tree);
			h->advice = as;
		}
	}
	pthread_mutex_unlock(&h->lock);
	return as;
}

void hms__advice_fini(struct hms *h)
{
	struct hms_advice_state *as = h->advice;

	if (!as)
		return;
	hms__ptree_fini(&as->tree);
	pthread_mutex_destroy(&as->lock);
	free(as);
	h->advice = NULL;
}

/* ---- queries (the core, hms.lock held) ------------------------------------------ */

static void advice_at(struct hms *h, uintptr_t addr, struct hms_pol *pol)
{
	struct hms_advice_state *as = h->advice;
	uintptr_t s, e;

	if (!as) {
		memset(pol, 0, sizeof(*pol));
		return;
	}
	pthread_mutex_lock(&as->lock);
	hms__ptree_get(&as->tree, addr, pol, &s, &e);
	pthread_mutex_unlock(&as->lock);
}

unsigned hms__test_advice(struct hms *h, const void *addr, size_t *ntargets, uintptr_t *start,
			  uintptr_t *end)
{
	struct hms_advice_state *as = h ? h->advice : NULL;
	struct hms_pol pol = { 0 };
	uintptr_t s = 0, e = UINTPTR_MAX;

	if (as) {
		pthread_mutex_lock(&as->lock);
		hms__ptree_get(&as->tree, (uintptr_t)addr, &pol, &s, &e);
		pthread_mutex_unlock(&as->lock);
	}
	*ntargets = pol.ntargets;
	*start = s;
	*end = e;
	return pol.mode;
}

bool hms__advice_read_mostly(struct hms *h, uintptr_t addr)
{
	struct hms_pol pol;

	advice_at(h, addr, &pol);
	return pol.mode & ADV_READ_MOSTLY;
}

bool hms__advice_accessed_by_locked(struct hms *h, uintptr_t addr, void *owner)
{
	struct hms_devmem *dm;
	struct hms_pol pol;

	if (!owner || !h->advice)
		return false;
	for (dm = h->devmems; dm && dm->desc.owner != owner; dm = dm->next)
		;
	if (!dm)
		return false;
	advice_at(h, addr, &pol);
	for (unsigned i = 0; i < pol.ntargets; i++)
		if (pol.targets[i] == dm->target)
			return true;
	return false;
}

void hms__advice_remove_locked(struct hms *h, uintptr_t start, uintptr_t end)
{
	struct hms_advice_state *as = h->advice;
	static const struct hms_pol none;

	if (!as || start >= end)
		return;
	pthread_mutex_lock(&as->lock);
	if (as->tree.n)
		hms__ptree_set(&as->tree, start, end, &none);
	hms__ptree_reserve(&as->tree); /* for the next split; may fail */
	pthread_mutex_unlock(&as->lock);
}

/* mremap: the advice follows the pages, as the policy does (policy.c). */
int hms__advice_move_reserve_locked(struct hms *h, uintptr_t from, size_t len)
{
	struct hms_advice_state *as = h->advice;
	int ret;

	if (!as || !len)
		return 0;
	pthread_mutex_lock(&as->lock);
	ret = hms__ptree_move_reserve(&as->tree, from, len);
	pthread_mutex_unlock(&as->lock);
	return ret;
}

void hms__advice_move_locked(struct hms *h, uintptr_t from, uintptr_t to, size_t len)
{
	struct hms_advice_state *as = h->advice;

	if (!as || !len)
		return;
	pthread_mutex_lock(&as->lock);
	hms__ptree_move(&as->tree, from, to, len);
	pthread_mutex_unlock(&as->lock);
}

/* ---- changing it ------------------------------------------------------------------ */

/* One edit of a run's advice: 0, or -E2BIG when it does not fit. */
static int advice_edit(struct hms_pol *pol, int advice, hms_uid target)
{
	unsigned i;

	switch (advice) {
	case HMS_ADVICE_READ_MOSTLY:
		pol->mode |= ADV_READ_MOSTLY;
		return 0;
	case HMS_ADVICE_UNSET_READ_MOSTLY:
		pol->mode &= (uint8_t)~ADV_READ_MOSTLY;
		return 0;
	}
	for (i = 0; i < pol->ntargets && pol->targets[i] != target; i++)
		;
	if (advice == HMS_ADVICE_ACCESSED_BY && i == pol->ntargets) {
		if (pol->ntargets == HMS_BIND_MAX_TARGETS)
			return -E2BIG;
		pol->targets[pol->ntargets++] = target;
	} else if (advice == HMS_ADVICE_UNSET_ACCESSED_BY && i < pol->ntargets) {
		memmove(&pol->targets[i], &pol->targets[i + 1],
			(pol->ntargets - i - 1) * sizeof(pol->targets[0]));
		pol->targets[--pol->ntargets] = 0;
	}
	pol->mode = (uint8_t)((pol->mode & ~ADV_ACCESSED_BY) | (pol->ntargets ? ADV_ACCESSED_BY : 0));
	return 0;
}

/* Apply one edit to every run of [start, end); with dry, only check that
 * it fits.  0, -E2BIG, -ENOMEM.  as->lock held. */
static int advice_apply_locked(struct hms_advice_state *as, uintptr_t start, uintptr_t end,
			       int advice, hms_uid target, bool dry)
{
	for (uintptr_t addr = start; addr < end;) {
		struct hms_pol pol, old;
		uintptr_t s, e;
		int ret;

		hms__ptree_get(&as->tree, addr, &pol, &s, &e);
		if (e > end || e <= addr)
			e = end;
		old = pol;
		ret = advice_edit(&pol, advice, target);
		if (ret)
			return ret;
		if (!dry && !hms__pol_equal(&pol, &old)) {
			if (hms__ptree_reserve(&as->tree))
				return -ENOMEM;
			hms__ptree_set(&as->tree, addr, e, &pol);
		}
		addr = e;
	}
	return 0;
}

/* ACCESSED_BY names device memory: 0, -EINVAL, -ENOENT, -EXDEV. */
static int advice_device_target(struct hms *h, hms_uid target)
{
	struct hms_tgt tgt;
	int ret = hms__targets_resolve(h, &target, 1, &tgt);

	if (ret)
		return ret;
	return tgt.dm ? 0 : -EXDEV;
}

/* Is target given exactly where the advice takes one? */
static bool advice_target_ok(int advice, hms_uid target)
{
	switch (advice) {
	case HMS_ADVICE_READ_MOSTLY:
	case HMS_ADVICE_UNSET_READ_MOSTLY:
	case HMS_ADVICE_UNSET_PREFERRED_LOCATION:
		return target == 0;
	case HMS_ADVICE_PREFERRED_LOCATION:
	case HMS_ADVICE_ACCESSED_BY:
	case HMS_ADVICE_UNSET_ACCESSED_BY:
		return target != 0;
	}
	return false;
}

HMS_API int hms_advise(struct hms *h, void *addr, size_t len, int advice, hms_uid target)
{
	uintptr_t s = (uintptr_t)addr, e = s + len;
	struct hms_advice_state *as;
	int ret = hms__check(h);

	if (ret)
		return ret;
	if (!advice_target_ok(advice, target))
		return -EINVAL;
	ret = hms__placement_range(h, addr, len);
	if (ret)
		return ret;
	switch (advice) {
	case HMS_ADVICE_PREFERRED_LOCATION:
		return hms_bind(h, addr, len, &target, 1, HMS_BIND_PREFERRED);
	case HMS_ADVICE_UNSET_PREFERRED_LOCATION:
		return hms_bind_default(h, addr, len);
	case HMS_ADVICE_READ_MOSTLY:
		if (hms__wp_async(h))
			return -EOPNOTSUPP;
		break;
	case HMS_ADVICE_ACCESSED_BY:
		ret = advice_device_target(h, target);
		if (ret)
			return ret;
		break;
	}
	as = advice_state(h);
	if (!as)
		return -ENOMEM;
	pthread_mutex_lock(&as->lock);
	ret = advice_apply_locked(as, s, e, advice, target, true);
	if (!ret)
		ret = advice_apply_locked(as, s, e, advice, target, false);
	pthread_mutex_unlock(&as->lock);
	if (!ret && advice == HMS_ADVICE_UNSET_READ_MOSTLY)
		ret = hms__replica_drop(h, s, e);
	return ret;
}
