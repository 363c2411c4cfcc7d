/* SPDX-License-Identifier: MIT */
/*
 * devmem.c - device memory a driver registers: a range of device page
 * frame numbers, its callbacks, and its topology target.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

struct hms_devmem *hms__devmem_of_pfn_locked(struct hms *h, hms_pfn pfn)
{
	for (struct hms_devmem *dm = h->devmems; dm; dm = dm->next)
		if (pfn >= dm->first && pfn < dm->first + dm->npages)
			return dm;
	return NULL;
}

bool hms__devmem_held_locked(const struct hms_devmem *dm, hms_pfn pfn)
{
	uint64_t i = pfn - dm->first;

	return dm->held[i >> 6] >> (i & 63) & 1;
}

void hms__devmem_hold_locked(struct hms_devmem *dm, hms_pfn pfn, bool held)
{
	uint64_t i = pfn - dm->first, bit = 1ULL << (i & 63);

	if (held)
		dm->held[i >> 6] |= bit;
	else
		dm->held[i >> 6] &= ~bit;
}

void hms__devmem_put(struct hms *h, struct hms_devmem *dm)
{
	pthread_mutex_lock(&h->lock);
	if (--dm->callbacks == 0)
		pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

HMS_API int hms_devmem_add(struct hms *h, const struct hms_devmem_desc *desc,
			   const struct hms_devmem_ops *ops, void *priv,
			   struct hms_devmem **out)
{
	struct hms_devmem *dm;
	int ret = hms__check(h);

	if (ret)
		return ret;
	if (!desc || !ops || !out || !desc->npages || !desc->owner || !ops->migrate_to_ram ||
	    !ops->page_free || desc->npages > (1ULL << 40) ||
	    (desc->kind != HMS_DEVMEM_PRIVATE && desc->kind != HMS_DEVMEM_COHERENT))
		return -EINVAL;
	dm = calloc(1, sizeof(*dm));
	if (!dm)
		return -ENOMEM;
	dm->name = strdup(desc->name ? desc->name : "devmem");
	/* Large bitmaps come from mmap: only the words that get a bit set
	 * ever take memory. */
	dm->orphans = calloc((desc->npages + 63) / 64, sizeof(*dm->orphans));
	dm->held = calloc((desc->npages + 63) / 64, sizeof(*dm->held));
	if (!dm->name || !dm->orphans || !dm->held) {
		free(dm->name);
		free(dm->orphans);
		free(dm->held);
		free(dm);
		return -ENOMEM;
	}
	dm->h = h;
	dm->desc = *desc;
	dm->desc.name = dm->name;
	dm->ops = *ops;
	dm->priv = priv;
	dm->npages = desc->npages;
	dm->target = hms__topology_devmem_target(h, dm->name, desc->npages << PAGE_SHIFT,
						 desc->kind);
	pthread_mutex_lock(&h->lock);
	dm->first = h->next_pfn; /* never reused: pfns only grow */
	h->next_pfn += desc->npages;
	dm->next = h->devmems;
	h->devmems = dm;
	pthread_mutex_unlock(&h->lock);
	*out = dm;
	return 0;
}

static size_t devmem_used_locked(struct hms *h, struct hms_devmem *dm)
{
	size_t n = 0;

	for (struct hms_area *a = h->areas; a; a = a->next)
		for (size_t i = 0; i < area_npages(a); i++)
			if (a->pt[i].loc == HMS_LOC_DEVICE && a->pt[i].pfn >= dm->first &&
			    a->pt[i].pfn < dm->first + dm->npages)
				n++;
	return n;
}

HMS_API long hms_devmem_evict(struct hms_devmem *dm)
{
	struct hms *h;
	size_t before, after;

	if (!dm)
		return -EINVAL;
	h = dm->h;
	/* In a fork child before any lock: the child's copies may be held
	 * by a thread only the parent has (the handler, at the fork). */
	if (h->forked_child)
		return -ECHILD;
	pthread_mutex_lock(&h->lock);
	before = devmem_used_locked(h, dm);
	pthread_mutex_unlock(&h->lock);
	hms__evict_range(h, 0, UINTPTR_MAX, dm);
	pthread_mutex_lock(&h->lock);
	after = devmem_used_locked(h, dm);
	pthread_mutex_unlock(&h->lock);
	return after ? -EBUSY : (long)(before - after);
}

HMS_API int hms_devmem_remove(struct hms_devmem *dm)
{
	struct hms *h;
	struct hms_devmem **pp;
	long ret;

	if (!dm)
		return -EINVAL;
	h = dm->h;
	ret = hms_devmem_evict(dm);
	if (ret < 0)
		return (int)ret;
	pthread_mutex_lock(&h->lock);
	/*
	 * Callbacks first (page_free of pages that just left, a
	 * migrate_to_device that may still bring pages here), then the check
	 * and the unlink under one hold of the lock: no callback can find dm
	 * after that, and none that ran before can have left a page here
	 * unseen.  Waiting after the unlink instead let a running
	 * migrate_to_device fill dm after the check: its pages were lost
	 * with it.
	 */
	for (;;) {
		while (dm->callbacks)
			pthread_cond_wait(&h->cond, &h->lock);
		if (!dm->norphans)
			break;
		/* Pages that left the table without a free list: to the driver
		 * before dm goes. */
		pthread_mutex_unlock(&h->lock);
		hms__orphans_release(h);
		pthread_mutex_lock(&h->lock);
	}
	if (devmem_used_locked(h, dm)) {
		pthread_mutex_unlock(&h->lock);
		return -EBUSY; /* a page arrived meanwhile: the driver still runs */
	}
	for (pp = &h->devmems; *pp; pp = &(*pp)->next)
		if (*pp == dm) {
			*pp = dm->next;
			break;
		}
	pthread_mutex_unlock(&h->lock);
	hms__topology_remove(h, dm->target);
	free(dm->orphans);
	free(dm->held);
	free(dm->name);
	free(dm);
	return 0;
}

HMS_API void *hms_devmem_priv(const struct hms_devmem *dm)
{
	return dm ? dm->priv : NULL;
}

HMS_API hms_pfn hms_devmem_pfn_first(const struct hms_devmem *dm)
{
	return dm ? dm->first : 0;
}

HMS_API uint64_t hms_devmem_npages(const struct hms_devmem *dm)
{
	return dm ? dm->npages : 0;
}

HMS_API hms_uid hms_devmem_target(const struct hms_devmem *dm)
{
	return dm ? dm->target : 0;
}

HMS_API struct hms *hms_devmem_context(const struct hms_devmem *dm)
{
	return dm ? dm->h : NULL;
}
