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

/* Pages looked at together: one migrate_vma at most, one move_pages call. */
#define CHUNK_PAGES (HMS_MIGRATE_MAX_BYTES >> PAGE_SHIFT)
#define MAX_NODES 1024

/* ---- targets ------------------------------------------------------------------ */

static struct hms_devmem *devmem_of_target(struct hms *h, hms_uid uid)
{
	struct hms_devmem *found = NULL;

	pthread_mutex_lock(&h->lock);
	for (struct hms_devmem *dm = h->devmems; dm; dm = dm->next)
		if (dm->target == uid)
			found = dm;
	pthread_mutex_unlock(&h->lock);
	return found;
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
	return out->dm && out->dm->ops.migrate_to_device ? 0 : -EXDEV;
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
	hms__uffd_sync(h); /* munmaps that returned before us are in the table */
	pthread_mutex_lock(&h->lock);
	ret = hms__range_managed_locked(h, s, s + len) ? 0 : -ENOENT;
	pthread_mutex_unlock(&h->lock);
	return ret;
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

/* One chunk (npages <= CHUNK_PAGES, one area or several) as the table sees it. */
struct chunk {
	uintptr_t start;
	size_t npages;
	uint8_t loc[CHUNK_PAGES];
	bool skip[CHUNK_PAGES];               /* exclusive, or not managed */
	struct hms_devmem *dm[CHUNK_PAGES];  /* HMS_LOC_DEVICE */
	hms_uid uid[CHUNK_PAGES];             /* where: 0 if unknown */
};

static void chunk_read_table(struct hms *h, struct chunk *c)
{
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < c->npages; i++) {
		uintptr_t p = c->start + (i << PAGE_SHIFT);
		struct hms_area *a = hms__area_find_locked(h, p);
		struct hms_pte *pte = a ? area_pte(a, p) : NULL;

		c->loc[i] = pte ? pte->loc : HMS_LOC_NONE;
		c->skip[i] = !pte || (pte->flags & (PTE_EXCLUSIVE | PTE_DEAD));
		c->dm[i] = pte && pte->loc == HMS_LOC_DEVICE
				   ? hms__devmem_of_pfn_locked(h, pte->pfn) : NULL;
		c->uid[i] = c->dm[i] ? c->dm[i]->target : 0;
	}
	pthread_mutex_unlock(&h->lock);
}

/* Table, then one move_pages() query for the system pages. */
static void chunk_where(struct hms *h, struct chunk *c, struct node_cache *nc)
{
	void *pages[CHUNK_PAGES];
	int status[CHUNK_PAGES];
	size_t idx[CHUNK_PAGES], m = 0;

	chunk_read_table(h, c);
	for (size_t i = 0; i < c->npages; i++)
		if (c->loc[i] == HMS_LOC_SYSTEM) {
			idx[m] = i;
			pages[m++] = (void *)(c->start + (i << PAGE_SHIFT));
		}
	if (!m || move_pages(0, m, pages, NULL, status, 0))
		return;
	for (size_t k = 0; k < m; k++)
		c->uid[idx[k]] = node_uid(h, nc, status[k]);
}

HMS_API long hms_where(struct hms *h, const void *addr, size_t npages, hms_uid *uids_out)
{
	struct node_cache nc = { 0 };
	struct chunk *c;
	uintptr_t s = (uintptr_t)addr;
	int ret;

	if (!uids_out || !npages || npages > (SIZE_MAX >> PAGE_SHIFT))
		return -EINVAL;
	ret = hms__placement_range(h, addr, npages << PAGE_SHIFT);
	if (ret)
		return ret;
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t done = 0; done < npages; done += c->npages) {
		c->start = s + (done << PAGE_SHIFT);
		c->npages = npages - done < CHUNK_PAGES ? npages - done : CHUNK_PAGES;
		chunk_where(h, c, &nc);
		memcpy(uids_out + done, c->uid, c->npages * sizeof(*uids_out));
	}
	free(c);
	return (long)npages;
}

/* ---- moving one chunk ------------------------------------------------------------ */

struct move {
	struct chunk c;
	bool pending[CHUNK_PAGES]; /* populated, not yet on a listed target */
	bool done[CHUNK_PAGES];    /* moved onto a listed target */
};

static bool listed(const struct hms_tgt *tgt, size_t n, hms_uid uid)
{
	for (size_t k = 0; k < n; k++)
		if (tgt[k].uid == uid)
			return true;
	return false;
}

/* Pending pages in device memory other than @keep go to system memory. */
static void bring_back(struct hms *h, struct move *mv, const struct hms_devmem *keep)
{
	struct chunk *c = &mv->c;

	for (size_t i = 0; i < c->npages;) {
		size_t j = i;

		if (!mv->pending[i] || c->loc[i] != HMS_LOC_DEVICE || c->dm[i] == keep) {
			i++;
			continue;
		}
		while (j < c->npages && mv->pending[j] && c->loc[j] == HMS_LOC_DEVICE &&
		       c->dm[j] != keep)
			j++;
		/* A failure leaves the pages on their device: nothing lost, and
		 * the next step does not find them in system memory. */
		hms__evict_range(h, c->start + (i << PAGE_SHIFT), c->start + (j << PAGE_SHIFT));
		i = j;
	}
	chunk_read_table(h, c);
}

static void to_node(struct hms *h, struct move *mv, const struct hms_tgt *t)
{
	struct chunk *c = &mv->c;
	void *pages[CHUNK_PAGES];
	int nodes[CHUNK_PAGES], status[CHUNK_PAGES];
	size_t idx[CHUNK_PAGES], m = 0;

	bring_back(h, mv, NULL);
	for (size_t i = 0; i < c->npages; i++) {
		if (!mv->pending[i] || c->loc[i] != HMS_LOC_SYSTEM)
			continue;
		idx[m] = i;
		pages[m] = (void *)(c->start + (i << PAGE_SHIFT));
		nodes[m++] = t->node;
	}
	if (!m || move_pages(0, m, pages, nodes, status, MPOL_MF_MOVE) < 0)
		return;
	for (size_t k = 0; k < m; k++) {
		size_t i = idx[k];

		if (status[k] == t->node) {
			mv->pending[i] = false;
			mv->done[i] = true;
		} else if (status[k] == -ENOENT || status[k] == -EFAULT) {
			mv->pending[i] = false; /* gone, or the zero page */
		}
	}
}

static void to_device(struct hms *h, struct move *mv, const struct hms_tgt *t)
{
	struct chunk *c = &mv->c;

	bring_back(h, mv, t->dm);
	for (size_t i = 0; i < c->npages;) {
		size_t j = i;

		if (!mv->pending[i] || c->loc[i] != HMS_LOC_SYSTEM) {
			i++;
			continue;
		}
		while (j < c->npages && mv->pending[j] && c->loc[j] == HMS_LOC_SYSTEM)
			j++;
		t->dm->ops.migrate_to_device(t->dm, c->start + (i << PAGE_SHIFT),
					     c->start + (j << PAGE_SHIFT));
		i = j;
	}
	chunk_read_table(h, c);
	for (size_t i = 0; i < c->npages; i++) {
		if (!mv->pending[i])
			continue;
		if (c->dm[i] == t->dm) {
			mv->pending[i] = false;
			mv->done[i] = true;
		} else if (c->loc[i] == HMS_LOC_NONE) {
			mv->pending[i] = false; /* discarded meanwhile */
		}
	}
}

static long migrate_chunk(struct hms *h, struct move *mv, const struct hms_tgt *tgt,
			  size_t n, struct node_cache *nc)
{
	struct chunk *c = &mv->c;
	size_t any = 0;
	long moved = 0;

	chunk_where(h, c, nc);
	for (size_t i = 0; i < c->npages; i++) {
		mv->pending[i] = !c->skip[i] && c->uid[i] && !listed(tgt, n, c->uid[i]);
		mv->done[i] = false;
		any += mv->pending[i];
	}
	for (size_t k = 0; k < n && any; k++) {
		if (tgt[k].node >= 0)
			to_node(h, mv, &tgt[k]);
		else
			to_device(h, mv, &tgt[k]);
		any = 0;
		for (size_t i = 0; i < c->npages; i++)
			any += mv->pending[i];
	}
	for (size_t i = 0; i < c->npages; i++)
		moved += mv->done[i];
	return moved;
}

/* The end of the chunk from s: at most CHUNK_PAGES, within s's area. */
static uintptr_t chunk_end(struct hms *h, uintptr_t s, uintptr_t end)
{
	uintptr_t e = (s + HMS_MIGRATE_MAX_BYTES) & ~(HMS_MIGRATE_MAX_BYTES - 1);
	struct hms_area *a;

	if (e > end || e <= s)
		e = end;
	pthread_mutex_lock(&h->lock);
	a = hms__area_find_locked(h, s);
	if (a && a->end < e)
		e = a->end;
	pthread_mutex_unlock(&h->lock);
	return e;
}

long hms__migrate_range(struct hms *h, uintptr_t start, uintptr_t end,
			const struct hms_tgt *tgt, size_t n)
{
	struct node_cache nc = { 0 };
	struct move *mv = malloc(sizeof(*mv));
	long moved = 0;

	if (!mv)
		return -ENOMEM;
	for (uintptr_t s = start, e; s < end; s = e) {
		e = chunk_end(h, s, end);
		mv->c.start = s;
		mv->c.npages = (e - s) >> PAGE_SHIFT;
		moved += migrate_chunk(h, mv, tgt, n, &nc);
	}
	free(mv);
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
