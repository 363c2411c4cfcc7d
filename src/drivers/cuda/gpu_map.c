/* SPDX-License-Identifier: MIT */
/*
 * gpu_map.c - windows: one device pointer for a managed range, so CUDA
 * kernels can work on it.
 *
 * hms_cuda_map() holds each block of the range (its slot's window count,
 * and its placing count until the window exists: the chunk is not given
 * back, but pages may still leave), moves the pages to the GPU, checks
 * with a snapshot (hms_range_fault) that every page is in its own block's
 * slot, and maps the chunks of the blocks' regions side by side, whole,
 * in a fresh device virtual range (block b sits in slot b % chunk_slots of
 * its region's chunk: gpu.h); from then on the pages stay until
 * hms_cuda_unmap(), which undoes it and wakes CPU faults that waited for
 * the pages.
 */
#include <errno.h>
#include <stdlib.h>

#include "gpu.h"

#define MAP_ROUNDS 8

/* Drop the hold on blocks [b0, b0 + n), a placing one or a window's
 * (lock held). */
static void blocks_release_locked(struct hms_cuda *g, uint64_t b0, uint64_t n, bool placing)
{
	for (uint64_t b = b0; b < b0 + n; b++) {
		long s = gpu_slot_find_locked(g, b);

		if (s < 0 || !g->slots[s].maps)
			continue;
		g->slots[s].maps--;
		if (placing && g->slots[s].placing)
			g->slots[s].placing--;
		gpu_slot_maybe_release_locked(g, (uint64_t)s);
	}
	pthread_cond_broadcast(&g->cond);
}

static int blocks_hold(struct hms_cuda *g, uint64_t b0, uint64_t n)
{
	pthread_mutex_lock(&g->lock);
	for (uint64_t k = 0; k < n; k++) {
		long s = gpu_slot_get_locked(g, b0 + k);

		if (s < 0) {
			blocks_release_locked(g, b0, k, true);
			pthread_mutex_unlock(&g->lock);
			return -ENOMEM;
		}
		g->slots[s].maps++;
		g->slots[s].placing++;
	}
	pthread_mutex_unlock(&g->lock);
	return 0;
}

/* A replica of [s, e) whose copy is in flight (pbits), another map's
 * (lock held). */
static bool replica_pending_locked(const struct hms_cuda *g, uintptr_t s, uintptr_t e)
{
	for (uintptr_t va = s; va < e; va += GPU_PAGE) {
		long slot = gpu_slot_find_locked(g, va >> GPU_BLOCK_SHIFT);
		unsigned p = (unsigned)((va >> GPU_SHIFT) % GPU_BLOCK_PAGES);

		if (slot >= 0 && (g->slots[slot].pbits[p >> 6] & (1ULL << (p & 63))))
			return true;
	}
	return false;
}

/*
 * 0 when every page of [s, e) is in its own slot (or, with ro, has its
 * replica there); else -ENOMEM (a page is elsewhere), -EBUSY (a page of
 * ours sits in another slot), -ENOENT.  Returns with g->lock held, so the
 * caller can map the window before anything changes; with ro, *seq is the
 * interval sequence the snapshot was taken under (replicas are valid while
 * it holds).  -EAGAIN where a slot of the range was claimed, or pages left
 * it, since the snapshot began: a page it shows on the GPU may be leaving
 * (a migration home that checked for windows before this one existed,
 * which this GPU's own MIGRATE invalidations do not tell the interval).
 */
static int check_resident_lock(struct hms_cuda *g, uintptr_t s, uintptr_t e, uint64_t *pfns,
			       bool ro, unsigned long *seq)
{
	struct hms_range r = { .start = s, .end = e, .pfns = pfns, .dev_private_owner = g };
	unsigned long n = (e - s) >> GPU_SHIFT;
	uint64_t since;
	bool changed = false, pending = false;
	int ret, res = 0;

	/* Only replicas need the sequence.  Not taking it otherwise matters:
	 * read_begin waits for an invalidation in progress, and one may be
	 * waiting for a read-only window this very thread holds (a device
	 * write to a replicated page): a deadlock. */
	*seq = ro ? hms_interval_read_begin(g->iv) : 0;
	pthread_mutex_lock(&g->lock);
	since = g->slot_seq;
	pthread_mutex_unlock(&g->lock);
	ret = hms_range_fault(g->h, &r);
	pthread_mutex_lock(&g->lock);
	if (ret)
		return ret == -EFAULT ? -ENOENT : ret;
	for (unsigned long i = 0; i < n && res != -ENOENT; i++) {
		uintptr_t va = s + (i << GPU_SHIFT);
		long slot = gpu_slot_find_locked(g, va >> GPU_BLOCK_SHIFT);
		unsigned p = (unsigned)((va >> GPU_SHIFT) % GPU_BLOCK_PAGES);
		hms_pfn want = slot < 0 ? 0 : gpu_pfn(g, (uint64_t)slot, p);

		if (slot >= 0 && g->slots[slot].changed > since)
			changed = true;
		if (pfns[i] & HMS_PFN_SPECIAL)
			res = -ENOENT;
		else if (ro && slot >= 0 && !(pfns[i] & HMS_PFN_DEVICE_PRIVATE) &&
			 (g->slots[slot].rbits[p >> 6] & (1ULL << (p & 63))))
			/* our replica; another map's copy may still be on
			 * its way there (pending) */
			pending |= (g->slots[slot].pbits[p >> 6] & (1ULL << (p & 63))) != 0;
		else if (!(pfns[i] & HMS_PFN_DEVICE_PRIVATE))
			res = res ? res : -ENOMEM;
		else if ((pfns[i] & HMS_PFN_PFN_MASK) != want)
			res = -EBUSY;
	}
	if (!res && pending) {
		/* A window now would show the place before the copy lands:
		 * wait for its check (it holds nothing this map holds: a page
		 * whose place is pending stays in system memory), then look
		 * again. */
		while (replica_pending_locked(g, s, e))
			pthread_cond_wait(&g->cond, &g->lock);
		res = -EAGAIN;
	}
	if (!res && (changed || (ro && hms_interval_read_retry(g->iv, *seq))))
		res = -EAGAIN; /* a page or replica may have gone meanwhile: look again */
	return res;
}

/* Read-only maps: replicas for REPLICA pages, the rest moves in. */
static long place_read_only(struct hms_cuda *g, uintptr_t s, uintptr_t e, uint64_t *pfns)
{
	unsigned long n = (e - s) >> GPU_SHIFT;
	long moved = 0;
	int ret = gpu_replicas_make(g, s, e, pfns);

	if (ret)
		return ret;
	for (unsigned long i = 0, j; i < n; i = j) {
		long m;

		for (j = i + 1; j < n && !(pfns[j] & (HMS_PFN_REPLICA | HMS_PFN_DEVICE_PRIVATE)) ==
					      !(pfns[i] & (HMS_PFN_REPLICA | HMS_PFN_DEVICE_PRIVATE));
		     j++)
			;
		if (pfns[i] & (HMS_PFN_REPLICA | HMS_PFN_DEVICE_PRIVATE))
			continue;
		m = gpu_migrate_to_device(g->dm, s + (i << GPU_SHIFT), s + (j << GPU_SHIFT));
		if (m < 0)
			return m;
		moved += m;
	}
	return moved;
}

/* Unmap regions [0, n) of window w: one call per mapping, a region's
 * chunk. */
static void window_unmap_regions(struct hms_cuda *g, struct gpu_window *w, uint64_t n)
{
	size_t bytes = g->chunk_slots * GPU_BLOCK;

	for (uint64_t r = 0; r < n; r++)
		g->cu->MemUnmap(w->va + r * bytes, bytes);
}

void gpu_window_unmap(struct hms_cuda *g, struct gpu_window *w)
{
	if (w->mapped)
		window_unmap_regions(g, w, w->nreg);
	w->mapped = false;
	if (w->va)
		g->cu->MemAddressFree(w->va, w->va_len);
	w->va = 0;
}

/*
 * Map the chunk of each region of window w at its place (lock held, every
 * block held and checked resident: a region's blocks all sit in its chunk,
 * each in its own slot, gpu_slot_get_locked).  0, or -EIO with nothing
 * mapped.
 */
static int window_map_locked(struct hms_cuda *g, struct gpu_window *w)
{
	const struct hms_cu *cu = g->cu;
	uint64_t cs = g->chunk_slots, r0 = w->first_block / cs;
	size_t bytes = cs * GPU_BLOCK;
	struct hms_cu_access_desc acc = { { HMS_CU_LOC_DEVICE, g->dev }, HMS_CU_ACCESS_RW };

	for (uint64_t r = 0; r < w->nreg; r++) {
		/* The window's first block in the region finds its chunk. */
		uint64_t b = (r0 + r) * cs < w->first_block ? w->first_block : (r0 + r) * cs;
		long s = gpu_slot_find_locked(g, b);
		CUdeviceptr va = w->va + r * bytes;

		if (s < 0 ||
		    cu->MemMap(va, bytes, 0, gpu_chunk_handle_locked(g, (uint64_t)s / cs), 0) !=
			    CUDA_SUCCESS) {
			window_unmap_regions(g, w, r);
			return -EIO;
		}
		if (cu->MemSetAccess(va, bytes, &acc, 1) != CUDA_SUCCESS) {
			window_unmap_regions(g, w, r + 1);
			return -EIO;
		}
	}
	w->mapped = true;
	return 0;
}

static int map(struct hms_cuda *g, void *addr, size_t len, unsigned flags, uint64_t *dptr)
{
	bool ro = flags & HMS_CUDA_MAP_READ_ONLY;
	unsigned long seq;
	const struct hms_cu *cu;
	uintptr_t s, e;
	uint64_t b0, nblk, r0, *pfns;
	struct gpu_window *w;
	int ret = 0;

	/* (The end, rounded up to a page, must not wrap past zero.) */
	if (!g || !addr || !len || !dptr || len > UINTPTR_MAX - (GPU_PAGE - 1) ||
	    (uintptr_t)addr > UINTPTR_MAX - (GPU_PAGE - 1) - len ||
	    (flags & ~HMS_CUDA_MAP_READ_ONLY))
		return -EINVAL;
	cu = g->cu;
	/* Address-space changes that returned before this call (a discard,
	 * say) are applied first, so the window never shows a page they
	 * dropped. */
	hms_sync(g->h);
	s = (uintptr_t)addr & ~(uintptr_t)(GPU_PAGE - 1);
	e = ((uintptr_t)addr + len + GPU_PAGE - 1) & ~(uintptr_t)(GPU_PAGE - 1);
	b0 = s >> GPU_BLOCK_SHIFT;
	nblk = ((e - 1) >> GPU_BLOCK_SHIFT) - b0 + 1;
	if (nblk > g->nslots)
		return -ENOMEM; /* more blocks than the pool has chunks */
	r0 = b0 / g->chunk_slots;
	w = calloc(1, sizeof(*w));
	pfns = malloc(((e - s) >> GPU_SHIFT) * sizeof(*pfns));
	if (!w || !pfns) {
		free(w);
		free(pfns);
		return -ENOMEM;
	}
	w->nreg = (b0 + nblk - 1) / g->chunk_slots - r0 + 1;
	/* Memory hms does not manage: -ENOENT now, before any GPU memory is
	 * held (the residency check cannot tell a page of it that is not
	 * present from a managed page that is elsewhere: -ENOMEM).  pfns
	 * serves as the uids' scratch space (8 bytes a page, uids are 4). */
	if (hms_where(g->h, (void *)s, (e - s) >> GPU_SHIFT, (hms_uid *)pfns) == -ENOENT) {
		free(w);
		free(pfns);
		return -ENOENT;
	}
	ret = blocks_hold(g, b0, nblk);
	if (ret) {
		free(pfns);
		free(w);
		return ret;
	}
	w->addr = (uintptr_t)addr;
	w->len = len;
	w->first_block = b0;
	w->nblk = nblk;
	w->va_len = w->nreg * g->chunk_slots * GPU_BLOCK;
	w->ro = ro;
	w->owner = pthread_self();
	if (cu->MemAddressReserve(&w->va, w->va_len, GPU_BLOCK, 0, 0) != CUDA_SUCCESS) {
		ret = -ENOMEM;
		w->va = 0;
		goto fail_hold;
	}
	ret = 0;
	for (int round = 0;; round++) {
		long n;

		/* Pages of ours outside their block's slot (mremap moved them:
		 * the last check said -EBUSY) come home first; then everything
		 * moves in (or is copied).  Only then: the pass selects every
		 * GPU page of the range and sends a MIGRATE invalidation. */
		if (ret == -EBUSY)
			gpu_migrate_range_to_ram(g, s, e, true);
		n = ro ? place_read_only(g, s, e, pfns) : gpu_migrate_to_device(g->dm, s, e);
		ret = check_resident_lock(g, s, e, pfns, ro, &seq);
		if (!ret || ret == -ENOENT || round + 1 == MAP_ROUNDS)
			break; /* (lock held) */
		pthread_mutex_unlock(&g->lock);
		if ((n == -ENOMEM || n == -EIO || n == -EDEADLK) && ret == -ENOMEM) {
			/* Out of GPU memory, or its copies fail, or a fork()
			 * waits for a window this thread holds (run_job): more
			 * rounds will not help. */
			ret = (int)n;
			pthread_mutex_lock(&g->lock);
			break;
		}
	}
	if (ret) {
		pthread_mutex_unlock(&g->lock);
		goto fail_hold;
	}

	/* Lock held since the check: no replica can go before the window
	 * exists (invalidations then wait for its end). */
	ret = window_map_locked(g, w);
	if (!ret) {
		w->next = g->windows;
		g->windows = w;
		/* A window now: migrations home wait for its end. */
		for (uint64_t k = 0; k < nblk; k++) {
			long slot = gpu_slot_find_locked(g, b0 + k);

			if (slot >= 0 && g->slots[slot].placing)
				g->slots[slot].placing--;
		}
	}
	pthread_mutex_unlock(&g->lock);
	if (ret)
		goto fail_hold;
	free(pfns);
	*dptr = w->va + ((uintptr_t)addr - ((r0 * g->chunk_slots) << GPU_BLOCK_SHIFT));
	return 0;

fail_hold:
	if (w->va)
		cu->MemAddressFree(w->va, w->va_len);
	pthread_mutex_lock(&g->lock);
	blocks_release_locked(g, b0, nblk, true);
	pthread_mutex_unlock(&g->lock);
	free(pfns);
	free(w);
	return ret;
}

GPU_API int hms_cuda_map(struct hms_cuda *g, void *addr, size_t len, unsigned flags,
			 uint64_t *dptr)
{
	CUcontext prev;
	int ret;

	if (!g)
		return -EINVAL;
	prev = gpu_ctx_enter(g);
	ret = map(g, addr, len, flags, dptr);
	gpu_ctx_leave(g, prev);
	return ret;
}

GPU_API int hms_cuda_unmap(struct hms_cuda *g, void *addr, size_t len)
{
	struct gpu_window **pw, *w = NULL;
	CUcontext prev;

	if (!g || !addr || !len)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	/* Several windows may have the same addr and len (readers sharing a
	 * range): the calling thread's own goes first, else any, so one
	 * thread never takes away a window another thread's kernel uses. */
	for (int pass = 0; pass < 2 && !w; pass++) {
		for (pw = &g->windows; *pw; pw = &(*pw)->next) {
			if ((*pw)->addr == (uintptr_t)addr && (*pw)->len == len &&
			    (pass || pthread_equal((*pw)->owner, pthread_self()))) {
				w = *pw;
				*pw = w->next;
				break;
			}
		}
	}
	if (!w) {
		pthread_mutex_unlock(&g->lock);
		return -ENOENT;
	}
	prev = gpu_ctx_enter(g);
	gpu_window_unmap(g, w);
	blocks_release_locked(g, w->first_block, w->nblk, false);
	gpu_ctx_leave(g, prev);
	pthread_mutex_unlock(&g->lock);
	free(w);
	return 0;
}
