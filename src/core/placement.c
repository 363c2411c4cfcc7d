/* SPDX-License-Identifier: MIT */
/*
 * placement.c - moving pages between any two targets and telling where
 * they are: hms_migrate(), hms_where(), and the target resolution and
 * range checks that hms_bind() and hms_hbind() share.  System nodes move
 * with batched move_pages(); device memory through its driver
 * (migrate_to_ram out, migrate_to_device in).  The policy tree is
 * policy.c's.
 */
#include <errno.h>
#include <numaif.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define MAX_NODES 1024

/* ---- targets ------------------------------------------------------------------ */

static struct hms_devmem *devmem_of_target(struct hms *h, hms_uid uid)
{
	struct hms_devmem *found = NULL;

	pthread_mutex_lock(&h->lock);
	for (struct hms_devmem *dm = h->devmems; dm; dm = dm->next)
		if (dm->target == uid && dm->ops.migrate_to_device)
			found = dm;
	pthread_mutex_unlock(&h->lock);
	return found; /* not held: compared, never called (to_device) */
}

/* One uid of the snapshot: a node with memory, or migratable device memory. */
static int target_resolve(struct hms *h, const struct hms_topology *t, hms_uid uid,
			  struct hms_tgt *out)
{
	const struct hms_object *o = hms_object_find(t, uid);
	struct hms_target_info ti;

	if (!o)
		return -ENOENT;
	if (hms_object_type(o) != HMS_OBJECT_TARGET || hms_target_info(o, &ti))
		return -EINVAL;
	out->uid = uid;
	out->node = -1;
	out->dm = NULL;
	if (ti.kind != HMS_TARGET_DEVICE_PRIVATE && ti.numa_node != HMS_NONE) {
		if (ti.numa_node >= MAX_NODES || ti.size == 0)
			return -EXDEV;
		out->node = ti.numa_node;
		return 0;
	}
	out->dm = devmem_of_target(h, uid);
	return out->dm ? 0 : -EXDEV;
}

int hms__targets_resolve(struct hms *h, const hms_uid *uids, size_t n, struct hms_tgt *out)
{
	struct hms_topology *t;
	int ret;

	if (!uids || !n)
		return -EINVAL;
	if (n > HMS_BIND_MAX_TARGETS)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		if (!uids[i])
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (uids[j] == uids[i])
				return -EINVAL;
	}
	ret = hms_topology_get(h, &t);
	if (ret)
		return ret;
	for (size_t i = 0; i < n && !ret; i++)
		ret = target_resolve(h, t, uids[i], &out[i]);
	hms_topology_put(t);
	return ret;
}

int hms__placement_range(struct hms *h, const void *addr, size_t len)
{
	uintptr_t s = (uintptr_t)addr;
	int ret = hms__check(h);

	if (ret)
		return ret;
	if (!addr || !len || !hms__aligned(s) || !hms__aligned(len) || s + len < s)
		return -EINVAL;
	/* Synced: munmaps that returned before us are in the table; and a
	 * stale area (an munmap not heard of yet) is not managed. */
	return hms__range_live(h, s, s + len);
}

/* ---- where pages are ---------------------------------------------------------- */

/* NUMA node -> target uid, asked of the topology once per node and call. */
struct node_cache {
	hms_uid uid[64];
	bool known[64];
};

static hms_uid node_uid(struct hms *h, struct node_cache *c, int node)
{
	if (node < 0)
		return 0;
	if (node >= 64)
		return hms__topology_node_target(h, node);
	if (!c->known[node]) {
		c->uid[node] = hms__topology_node_target(h, node);
		c->known[node] = true;
	}
	return c->uid[node];
}

/*
 * A span of pages as the table sees it, with the scratch arrays of one
 * move_pages() call over all of it: the kernel drains its LRU caches at
 * every move_pages() call that moves, so one call per span costs much
 * less than one per 2 MiB.
 */
#define SPAN_PAGES 65536

struct span {
	uintptr_t start;
	size_t npages;
	uint8_t *loc;
	bool *skip;               /* exclusive, dead, or not managed */
	bool *zero;               /* filled with the zero page (maybe written since) */
	bool *area_first;         /* starts another area than the page before */
	struct hms_devmem **dm;   /* HMS_LOC_DEVICE */
	hms_uid *uid;             /* where: 0 if unknown */
	bool *pending;            /* populated, not yet on a listed target */
	bool *done;               /* moved onto a listed target */
	void **pages;             /* move_pages() arguments */
	int *nodes, *status;
	size_t *idx;
};

static void span_free(struct span *c)
{
	free(c->loc);
	free(c->skip);
	free(c->zero);
	free(c->area_first);
	free(c->dm);
	free(c->uid);
	free(c->pending);
	free(c->done);
	free(c->pages);
	free(c->nodes);
	free(c->status);
	free(c->idx);
}

static int span_alloc(struct span *c, size_t n)
{
	memset(c, 0, sizeof(*c));
	c->loc = calloc(n, sizeof(*c->loc));
	c->skip = calloc(n, sizeof(*c->skip));
	c->zero = calloc(n, sizeof(*c->zero));
	c->area_first = calloc(n, sizeof(*c->area_first));
	c->dm = calloc(n, sizeof(*c->dm));
	c->uid = calloc(n, sizeof(*c->uid));
	c->pending = calloc(n, sizeof(*c->pending));
	c->done = calloc(n, sizeof(*c->done));
	c->pages = calloc(n, sizeof(*c->pages));
	c->nodes = calloc(n, sizeof(*c->nodes));
	c->status = calloc(n, sizeof(*c->status));
	c->idx = calloc(n, sizeof(*c->idx));
	if (c->loc && c->skip && c->zero && c->area_first && c->dm && c->uid && c->pending &&
	    c->done && c->pages && c->nodes && c->status && c->idx)
		return 0;
	span_free(c);
	return -ENOMEM;
}

static void span_read_table(struct hms *h, struct span *c)
{
	struct hms_area *prev = NULL;

	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < c->npages; i++) {
		uintptr_t p = c->start + (i << PAGE_SHIFT);
		struct hms_area *a = hms__area_find_locked(h, p);
		struct hms_pte *pte = a ? area_pte(a, p) : NULL;

		c->loc[i] = pte ? pte->loc : HMS_LOC_NONE;
		c->skip[i] = !pte || (pte->flags & (PTE_EXCLUSIVE | PTE_DEAD));
		c->zero[i] = pte && (pte->flags & PTE_ZERO);
		/* Discarded, maybe present (MADV_FREE, uffd.c): a system page
		 * if the kernel says so (zero: always asked). */
		if (pte && pte->loc == HMS_LOC_NONE && (pte->flags & PTE_ZERO))
			c->loc[i] = HMS_LOC_SYSTEM;
		c->area_first[i] = a != prev;
		prev = a;
		c->dm[i] = pte && pte->loc == HMS_LOC_DEVICE
				   ? hms__devmem_of_pfn_locked(h, pte->pfn) : NULL;
		c->uid[i] = c->dm[i] ? c->dm[i]->target : 0;
	}
	pthread_mutex_unlock(&h->lock);
}

/*
 * Table, then one move_pages() query for the system pages: which node
 * holds each, and whether it holds one (a page never written since a
 * zero-page fill, or swapped out, has none: uid 0).  trust: a machine of
 * one node, and a caller that needs only "in system memory, populated"
 * (a migration to devices only): the table's word is taken for pages it
 * filled with data, and only the zero-page fills are asked about.  Such a
 * page swapped out counts as populated then, and moves (its data comes
 * back in as it is read).
 */
static void span_where(struct hms *h, struct span *c, struct node_cache *nc, bool trust)
{
	size_t m = 0;

	span_read_table(h, c);
	for (size_t i = 0; i < c->npages; i++) {
		if (c->loc[i] != HMS_LOC_SYSTEM)
			continue;
		if (trust && !c->zero[i]) {
			c->uid[i] = node_uid(h, nc, h->only_node);
			continue;
		}
		c->idx[m] = i;
		c->pages[m++] = (void *)(c->start + (i << PAGE_SHIFT));
	}
	if (!m || move_pages(0, m, c->pages, NULL, c->status, 0))
		return;
	for (size_t k = 0; k < m; k++)
		c->uid[c->idx[k]] = node_uid(h, nc, c->status[k]);
}

HMS_API long hms_where(struct hms *h, const void *addr, size_t npages, hms_uid *uids_out)
{
	struct node_cache nc = { 0 };
	struct span c;
	uintptr_t s = (uintptr_t)addr;
	int ret;

	if (!uids_out || !npages || npages > (SIZE_MAX >> PAGE_SHIFT))
		return -EINVAL;
	ret = hms__placement_range(h, addr, npages << PAGE_SHIFT);
	if (ret)
		return ret;
	if (span_alloc(&c, npages < SPAN_PAGES ? npages : SPAN_PAGES))
		return -ENOMEM;
	for (size_t done = 0; done < npages; done += c.npages) {
		c.start = s + (done << PAGE_SHIFT);
		c.npages = npages - done < SPAN_PAGES ? npages - done : SPAN_PAGES;
		span_where(h, &c, &nc, false);
		memcpy(uids_out + done, c.uid, c.npages * sizeof(*uids_out));
	}
	span_free(&c);
	return (long)npages;
}

/* ---- moving one span ------------------------------------------------------------- */

static bool listed(const struct hms_tgt *tgt, size_t n, hms_uid uid)
{
	for (size_t k = 0; k < n; k++)
		if (tgt[k].uid == uid)
			return true;
	return false;
}

/* Pending pages in device memory other than @keep go to system memory. */
static void bring_back(struct hms *h, struct span *c, const struct hms_devmem *keep)
{
	bool any = false;

	for (size_t i = 0; i < c->npages;) {
		size_t j = i;

		if (!c->pending[i] || c->loc[i] != HMS_LOC_DEVICE || c->dm[i] == keep) {
			i++;
			continue;
		}
		while (j < c->npages && c->pending[j] && c->loc[j] == HMS_LOC_DEVICE &&
		       c->dm[j] != keep)
			j++;
		/* A failure leaves the pages on their device: nothing lost, and
		 * the next step does not find them in system memory. */
		hms__evict_range(h, c->start + (i << PAGE_SHIFT), c->start + (j << PAGE_SHIFT), NULL);
		any = true;
		i = j;
	}
	if (any)
		span_read_table(h, c);
}

/* One move_pages() over the pending system pages; those that failed for a
 * passing reason (busy, isolation raced) get one more try. */
static void to_node(struct hms *h, struct span *c, const struct hms_tgt *t)
{
	bring_back(h, c, NULL);
	/* The machine's one node: every system page is on it, those
	 * bring_back filled too (pending system pages are those), so no
	 * move_pages() need look: one over 65,536 pages that stay took 7 ms
	 * on the 2-CPU VM, and it and the query in span_where() held the
	 * H200 host's GPU->host at 8-11 GB/s, 18-20 without (BENCHMARKS). */
	if (t->node == h->only_node) {
		for (size_t i = 0; i < c->npages; i++)
			if (c->pending[i] && c->loc[i] == HMS_LOC_SYSTEM) {
				c->pending[i] = false;
				c->done[i] = true;
			}
		return;
	}
	for (int round = 0; round < 2; round++) {
		size_t m = 0;

		for (size_t i = 0; i < c->npages; i++) {
			if (!c->pending[i] || c->loc[i] != HMS_LOC_SYSTEM)
				continue;
			c->idx[m] = i;
			c->pages[m] = (void *)(c->start + (i << PAGE_SHIFT));
			c->nodes[m++] = t->node;
		}
		if (!m || move_pages(0, m, c->pages, c->nodes, c->status, MPOL_MF_MOVE) < 0)
			return;
		for (size_t k = 0; k < m; k++) {
			size_t i = c->idx[k];

			if (c->status[k] == t->node) {
				c->pending[i] = false;
				c->done[i] = true;
			} else if (c->status[k] == -ENOENT || c->status[k] == -EFAULT) {
				c->pending[i] = false; /* gone, or the zero page */
			} else if (c->status[k] == -ENOMEM || round) {
				c->loc[i] = HMS_LOC_NONE; /* for the next target only */
			}
		}
	}
}

/*
 * The target's devmem, held for driver callbacks (hms_devmem_remove()
 * waits for the hold), or NULL if it is gone: t->dm was resolved without
 * a hold and may have been removed and freed since.  Uids are never
 * reused, so the uid finds the devmem or nothing.
 */
static struct hms_devmem *target_devmem_get(struct hms *h, const struct hms_tgt *t)
{
	struct hms_devmem *dm;

	pthread_mutex_lock(&h->lock);
	for (dm = h->devmems; dm && dm->target != t->uid; dm = dm->next)
		;
	if (dm)
		hms__devmem_get_locked(dm);
	pthread_mutex_unlock(&h->lock);
	return dm;
}

static void to_device(struct hms *h, struct span *c, const struct hms_tgt *t)
{
	struct hms_devmem *dm = target_devmem_get(h, t);

	if (!dm)
		return; /* removed: the pages stay pending for the next target */
	bring_back(h, c, dm);
	for (size_t i = 0; i < c->npages;) {
		size_t j = i + 1;
		uintptr_t s = c->start + (i << PAGE_SHIFT);

		if (!c->pending[i] || c->loc[i] != HMS_LOC_SYSTEM) {
			i++;
			continue;
		}
		/* One area per call; the driver cuts it into migrate_vma batches
		 * (and may run them in parallel). */
		while (j < c->npages && c->pending[j] && c->loc[j] == HMS_LOC_SYSTEM &&
		       !c->area_first[j])
			j++;
		dm->ops.migrate_to_device(dm, s, c->start + (j << PAGE_SHIFT));
		i = j;
	}
	span_read_table(h, c);
	for (size_t i = 0; i < c->npages; i++) {
		if (!c->pending[i])
			continue;
		if (c->dm[i] == dm) {
			c->pending[i] = false;
			c->done[i] = true;
		} else if (c->loc[i] == HMS_LOC_NONE) {
			c->pending[i] = false; /* discarded meanwhile */
		}
	}
	hms__devmem_put(h, dm);
}

static long migrate_span(struct hms *h, struct span *c, const struct hms_tgt *tgt, size_t n,
			 struct node_cache *nc)
{
	size_t any = 0;
	long moved = 0;
	bool devices_only = h->only_node >= 0;

	for (size_t k = 0; k < n; k++)
		devices_only &= tgt[k].node < 0;
	span_where(h, c, nc, devices_only);
	for (size_t i = 0; i < c->npages; i++) {
		c->pending[i] = !c->skip[i] && c->uid[i] && !listed(tgt, n, c->uid[i]);
		c->done[i] = false;
		any += c->pending[i];
	}
	for (size_t k = 0; k < n && any; k++) {
		if (tgt[k].node >= 0)
			to_node(h, c, &tgt[k]);
		else
			to_device(h, c, &tgt[k]);
		/* What a target refused is looked at afresh for the next. */
		if (k + 1 < n)
			span_read_table(h, c);
		any = 0;
		for (size_t i = 0; i < c->npages; i++)
			any += c->pending[i];
	}
	for (size_t i = 0; i < c->npages; i++)
		moved += c->done[i];
	return moved;
}

long hms__migrate_range(struct hms *h, uintptr_t start, uintptr_t end,
			const struct hms_tgt *tgt, size_t n)
{
	size_t total = (end - start) >> PAGE_SHIFT;
	struct node_cache nc = { 0 };
	struct span c;
	long moved = 0;

	if (span_alloc(&c, total < SPAN_PAGES ? total : SPAN_PAGES))
		return -ENOMEM;
	for (size_t done = 0; done < total; done += c.npages) {
		c.start = start + (done << PAGE_SHIFT);
		c.npages = total - done < SPAN_PAGES ? total - done : SPAN_PAGES;
		moved += migrate_span(h, &c, tgt, n, &nc);
	}
	span_free(&c);
	return moved;
}

/* ---- hms_migrate ------------------------------------------------------------------ */

HMS_API long hms_migrate(struct hms *h, void *addr, size_t len, const hms_uid *targets,
			 size_t n, unsigned flags)
{
	struct hms_tgt tgt[HMS_BIND_MAX_TARGETS];
	uintptr_t s = (uintptr_t)addr;
	int ret = hms__check(h);

	if (ret)
		return ret;
	if (flags & ~HMS_MIGRATE_POLICY)
		return -EINVAL;
	if (flags & HMS_MIGRATE_POLICY) {
		if (targets || n)
			return -EINVAL;
	} else {
		ret = hms__targets_resolve(h, targets, n, tgt);
		if (ret)
			return ret;
	}
	ret = hms__placement_range(h, addr, len);
	if (ret)
		return ret;
	if (flags & HMS_MIGRATE_POLICY)
		return hms__policy_migrate(h, s, s + len);
	return hms__migrate_range(h, s, s + len, tgt, n);
}
