/* SPDX-License-Identifier: MIT */
/*
 * gpu_replica.c - read-only copies on the GPU of pages of READ_MOSTLY
 * ranges (hms_advise), for windows mapped with HMS_CUDA_MAP_READ_ONLY.
 *
 * hms_range_fault() with a read request marks such a page HMS_PFN_REPLICA
 * and write-protects it: the page stays in system memory, the driver
 * copies it into the page's place in its block's slot (rbits) and keeps
 * the copy until an invalidation covers it: the first write (CPU or a
 * device) sends PROTECTION_PAGE before it proceeds; unmap, discard and
 * other devices' migrations send theirs.  An invalidation of a replica a
 * read-only window shows waits for the window's end (or, where it may not
 * block, refuses, and hms retries): nobody reads the GPU's stale copy
 * after a write completed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu.h"

/* The span [*ws, *we) of window w's own pages. */
static void window_span(const struct gpu_window *w, uintptr_t *ws, uintptr_t *we)
{
	*ws = w->addr & ~(uintptr_t)(GPU_PAGE - 1);
	*we = (w->addr + w->len + GPU_PAGE - 1) & ~(uintptr_t)(GPU_PAGE - 1);
}

/* Replica bits of slot idx within [s, e), as (first page, last page + 1). */
static bool slot_span(const struct hms_cuda *g, uint64_t idx, uintptr_t s, uintptr_t e,
		      unsigned *p0, unsigned *p1)
{
	uintptr_t bs = g->slots[idx].block << GPU_BLOCK_SHIFT, be = bs + GPU_BLOCK;

	if (e <= bs || s >= be)
		return false;
	*p0 = s > bs ? (unsigned)((s - bs) >> GPU_SHIFT) : 0;
	*p1 = e < be ? (unsigned)((e - bs) >> GPU_SHIFT) : GPU_BLOCK_PAGES;
	return true;
}

static bool slot_has_replicas(const struct gpu_slot *sl, unsigned p0, unsigned p1)
{
	for (unsigned p = p0; p < p1; p++)
		if (sl->rbits[p >> 6] & (1ULL << (p & 63)))
			return true;
	return false;
}

/* Drop slot idx's replicas in pages [p0, p1) (may drop the lock). */
static void slot_drop(struct hms_cuda *g, uint64_t idx, unsigned p0, unsigned p1)
{
	struct gpu_slot *sl = &g->slots[idx];

	for (unsigned p = p0; p < p1; p++)
		if (sl->rbits[p >> 6] & (1ULL << (p & 63)))
			gpu_page_put_locked(g, idx, p); /* the last may release the chunk */
}

/* Every live slot whose block meets [s, e): walk the slots when the range
 * has more blocks than the pool has slots (a whole-space invalidation). */
static bool any_replica_locked(const struct hms_cuda *g, uintptr_t s, uintptr_t e)
{
	unsigned p0, p1;

	if (((e - 1) >> GPU_BLOCK_SHIFT) - (s >> GPU_BLOCK_SHIFT) < g->nslots) {
		for (uint64_t b = s >> GPU_BLOCK_SHIFT; b <= (e - 1) >> GPU_BLOCK_SHIFT; b++) {
			long i = gpu_slot_find_locked(g, b);

			if (i >= 0 && !g->slots[i].creating &&
			    slot_span(g, (uint64_t)i, s, e, &p0, &p1) &&
			    slot_has_replicas(&g->slots[i], p0, p1))
				return true;
		}
		return false;
	}
	for (uint64_t i = 0; i < g->nslots; i++)
		if (g->slots[i].live && !g->slots[i].creating &&
		    slot_span(g, i, s, e, &p0, &p1) && slot_has_replicas(&g->slots[i], p0, p1))
			return true;
	return false;
}

/*
 * Does a read-only window show a replica of [s, e)?  (lock held)  Its own
 * pages only, not the rest of the blocks it shows (undefined there, see
 * hms_cuda_map): a wait for those would be for nothing, and a deadlock
 * when the invalidation runs on the fault handler thread (MADV_DONTNEED
 * or munmap of a neighbour) while the window's owner waits for that
 * thread in its next hms_cuda_map (hms_sync, migrate_vma).  And replicas
 * the window shows, not any replica of the range: a range with replicas
 * in one place and a window without any in another need not wait (the
 * window's owner may be the one invalidating it, hms_protect say).
 */
static bool ro_window_shows_replica_locked(const struct hms_cuda *g, uintptr_t s, uintptr_t e)
{
	if (g->closing)
		return false;
	for (const struct gpu_window *w = g->windows; w; w = w->next) {
		uintptr_t ws, we;

		window_span(w, &ws, &we);
		if (w->ro && s < we && ws < e &&
		    any_replica_locked(g, s > ws ? s : ws, e < we ? e : we))
			return true;
	}
	return false;
}

static void drop_range_locked(struct hms_cuda *g, uintptr_t s, uintptr_t e)
{
	unsigned p0, p1;

	if (((e - 1) >> GPU_BLOCK_SHIFT) - (s >> GPU_BLOCK_SHIFT) < g->nslots) {
		for (uint64_t b = s >> GPU_BLOCK_SHIFT; b <= (e - 1) >> GPU_BLOCK_SHIFT; b++) {
			long i = gpu_slot_find_locked(g, b);

			if (i >= 0 && !g->slots[i].creating && slot_span(g, (uint64_t)i, s, e, &p0, &p1))
				slot_drop(g, (uint64_t)i, p0, p1);
		}
		return;
	}
	for (uint64_t i = 0; i < g->nslots; i++)
		if (g->slots[i].live && !g->slots[i].creating && slot_span(g, i, s, e, &p0, &p1))
			slot_drop(g, i, p0, p1);
}

static bool gpu_invalidate(struct hms_interval *iv, const struct hms_notify_range *r,
			   unsigned long cur_seq)
{
	struct hms_cuda *g = hms_interval_priv(iv);

	/* Our own migrations handle their pages (batch_alloc). */
	if (r->event == HMS_EVENT_MIGRATE && r->owner == g)
		return true;
	if (r->flags & HMS_NOTIFY_BLOCKABLE)
		pthread_mutex_lock(&g->lock);
	else if (pthread_mutex_trylock(&g->lock))
		return false;
	hms_interval_set_seq(iv, cur_seq);
	while (ro_window_shows_replica_locked(g, r->start, r->end)) {
		if (!(r->flags & HMS_NOTIFY_BLOCKABLE)) {
			pthread_mutex_unlock(&g->lock);
			return false;
		}
		pthread_cond_wait(&g->cond, &g->lock); /* hms_cuda_unmap() */
	}
	drop_range_locked(g, r->start, r->end);
	pthread_mutex_unlock(&g->lock);
	return true;
}

const struct hms_interval_ops gpu_interval_ops = {
	.invalidate = gpu_invalidate,
};

/* ---- making replicas ------------------------------------------------------------ */

struct rep {
	uint64_t slot;
	unsigned page;
	unsigned long i; /* index in the batch */
};

/* The end of the run of replicas from reps[k]: pages adjacent in the
 * range, so in their slot. */
static unsigned rep_run_end(const struct rep *reps, unsigned k, unsigned nrep)
{
	unsigned j = k + 1;

	while (j < nrep && reps[j].i == reps[j - 1].i + 1)
		j++;
	return j;
}

/* One batch (inside one block): fault for reading, copy the REPLICA
 * pages, keep them if no invalidation came meanwhile, else try again.
 * tmp: room for the batch's pages. */
static int replicas_batch(struct hms_cuda *g, uintptr_t s, uintptr_t e, uint64_t *pfns,
			  char *tmp)
{
	const struct hms_cu *cu = g->cu;
	struct rep reps[GPU_BLOCK_PAGES];
	unsigned long n = (e - s) >> GPU_SHIFT;

	for (int tries = 0; tries < 100; tries++) {
		struct hms_range r = {
			.interval = g->iv, .start = s, .end = e, .pfns = pfns,
			.default_flags = HMS_PFN_REQ_FAULT, .dev_private_owner = g,
		};
		struct gpu_stage *st, *own;
		unsigned nrep = 0;
		long slot;
		bool failed = false, raced = false;
		int ret;

		r.notifier_seq = hms_interval_read_begin(g->iv);
		ret = hms_range_fault(g->h, &r);
		if (ret == -EBUSY)
			continue;
		if (ret)
			return ret;
		pthread_mutex_lock(&g->lock);
		slot = gpu_slot_get_locked(g, s >> GPU_BLOCK_SHIFT);
		for (unsigned long i = 0; i < n && slot >= 0; i++) {
			unsigned p = (unsigned)(((s >> GPU_SHIFT) + i) % GPU_BLOCK_PAGES);
			struct gpu_slot *sl = &g->slots[slot];
			uint64_t bit = 1ULL << (p & 63);

			if (!(pfns[i] & HMS_PFN_REPLICA) || (pfns[i] & HMS_PFN_SPECIAL) ||
			    (sl->rbits[p >> 6] & bit) || (sl->bits[p >> 6] & bit))
				continue; /* not one, ours already, or the place is taken */
			/* Claimed, and pending until the check below: a
			 * migration does not take the place meanwhile, and an
			 * invalidation drops the replica but not the place, so
			 * the copy never lands on a page that took it. */
			sl->bits[p >> 6] |= bit;
			sl->rbits[p >> 6] |= bit;
			sl->pbits[p >> 6] |= bit;
			sl->used++;
			reps[nrep++] = (struct rep){ (uint64_t)slot, p, i };
		}
		if (slot >= 0)
			gpu_slot_maybe_release_locked(g, (uint64_t)slot);
		pthread_mutex_unlock(&g->lock);
		if (slot < 0)
			return -ENOMEM;
		if (!nrep)
			return 0;
		/* The pages are write-protected, so they hold still; they are
		 * read as a DMA would (hms_user_read), so a page unmapped
		 * meanwhile fails its copy instead of this thread.  Read with
		 * no staging buffer held: a page that left for the GPU
		 * meanwhile is brought back by that read (a CPU access would
		 * be), through this GPU's own migrate_to_ram, which may wait
		 * for a staging buffer or for a window's owner, who may wait
		 * for one.  So straight into the replicas' own pinned buffer,
		 * which nobody waits for (taken if free), or else into tmp,
		 * then copied into a staging buffer.  By runs of adjacent
		 * pages (one block, one slot: adjacent on the GPU too), one
		 * read and one copy each: on a GPU every copy is a call and a
		 * DMA of its own. */
		pthread_mutex_lock(&g->lock);
		st = own = g->rep_stage;
		g->rep_stage = NULL;
		pthread_mutex_unlock(&g->lock);
		for (unsigned k = 0, j; k < nrep && !failed; k = j) {
			size_t len = (size_t)((j = rep_run_end(reps, k, nrep)) - k) << GPU_SHIFT;

			failed = hms_user_read((own ? own->buf : tmp) + ((size_t)k << GPU_SHIFT),
					       (const void *)(s + (reps[k].i << GPU_SHIFT)),
					       len) != (ssize_t)len;
		}
		if (!own)
			st = gpu_stage_get(g, false);
		for (unsigned k = 0, j; k < nrep && !failed; k = j) {
			char *buf = st->buf + ((size_t)k << GPU_SHIFT);
			size_t len = (size_t)((j = rep_run_end(reps, k, nrep)) - k) << GPU_SHIFT;

			if (!own)
				memcpy(buf, tmp + ((size_t)k << GPU_SHIFT), len);
			if (cu->MemcpyHtoDAsync(gpu_pfn_addr(g, gpu_pfn(g, reps[k].slot, reps[k].page)),
						buf, len, st->stream) != CUDA_SUCCESS)
				failed = true;
		}
		if (cu->StreamSynchronize(st->stream) != CUDA_SUCCESS)
			failed = true;
		if (own) {
			pthread_mutex_lock(&g->lock);
			g->rep_stage = own;
			pthread_mutex_unlock(&g->lock);
		} else {
			gpu_stage_put(g, st);
		}
		pthread_mutex_lock(&g->lock);
		/* The copies are done.  The places are still ours (pending:
		 * claimed, so the slot stays too).  A replica dropped meanwhile
		 * fails the sequence check as well (the invalidation set it
		 * first); looked at all the same. */
		for (unsigned k = 0; k < nrep; k++)
			if (!(g->slots[reps[k].slot].rbits[reps[k].page >> 6] &
			      (1ULL << (reps[k].page & 63))))
				raced = true;
		raced = raced || failed || hms_interval_read_retry(g->iv, r.notifier_seq);
		/* Raced an invalidation (or a copy failed): the places become
		 * plain claims of ours (no replica, not pending: no migration
		 * takes them, no one else's replica claims them) before any is
		 * given back, as the last put may drop the lock. */
		for (unsigned k = 0; k < nrep; k++) {
			struct gpu_slot *sl = &g->slots[reps[k].slot];
			uint64_t bit = 1ULL << (reps[k].page & 63);

			sl->pbits[reps[k].page >> 6] &= ~bit;
			if (raced)
				sl->rbits[reps[k].page >> 6] &= ~bit;
		}
		pthread_cond_broadcast(&g->cond); /* maps waiting for the copies */
		if (!raced) {
			pthread_mutex_unlock(&g->lock);
			return 0;
		}
		for (unsigned k = 0; k < nrep; k++)
			gpu_page_put_locked(g, reps[k].slot, reps[k].page);
		pthread_mutex_unlock(&g->lock);
		if (failed)
			return -EIO;
	}
	return -EBUSY;
}

int gpu_replicas_make(struct hms_cuda *g, uintptr_t s, uintptr_t e, uint64_t *pfns)
{
	/* (one batch's pages at most: a block) */
	char *tmp;

	if (e <= s)
		return 0;
	tmp = malloc(e - s < GPU_BLOCK ? e - s : GPU_BLOCK);
	if (!tmp)
		return -ENOMEM;
	for (uintptr_t bs = s, be; bs < e; bs = be) {
		int ret;

		be = gpu_batch_end(bs, e);
		ret = replicas_batch(g, bs, be, pfns + ((bs - s) >> GPU_SHIFT), tmp);
		if (ret) {
			free(tmp);
			return ret;
		}
	}
	free(tmp);
	return 0;
}
