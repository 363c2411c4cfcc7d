/* SPDX-License-Identifier: MIT */
/*
 * gpu_mem.c - the CUDA driver's memory: 2 MiB slots backed by cuMemCreate()
 * chunks of one or more slots while in use, the index from a CPU block to
 * its slot, and the pinned staging buffers copies go through.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"

/* ---- block index: open addressing, linear probing, backward-shift delete -- */

static uint64_t index_hash(uint64_t block, uint64_t cap)
{
	return (block * 0x9e3779b97f4a7c15ULL) >> 20 & (cap - 1);
}

long gpu_slot_find_locked(const struct hms_cuda *g, uint64_t block)
{
	for (uint64_t i = index_hash(block, g->index_cap);; i = (i + 1) & (g->index_cap - 1)) {
		if (!g->index_key[i])
			return -1;
		if (g->index_key[i] == block + 1)
			return g->index_slot[i];
	}
}

static void index_insert_locked(struct hms_cuda *g, uint64_t block, uint32_t slot)
{
	uint64_t i = index_hash(block, g->index_cap);

	while (g->index_key[i])
		i = (i + 1) & (g->index_cap - 1);
	g->index_key[i] = block + 1;
	g->index_slot[i] = slot;
}

static void index_remove_locked(struct hms_cuda *g, uint64_t block)
{
	uint64_t mask = g->index_cap - 1, i = index_hash(block, g->index_cap);

	while (g->index_key[i] != block + 1) {
		if (!g->index_key[i])
			return;
		i = (i + 1) & mask;
	}
	/* Shift later members of the cluster back into the hole. */
	for (uint64_t j = (i + 1) & mask; g->index_key[j]; j = (j + 1) & mask) {
		uint64_t home = index_hash(g->index_key[j] - 1, g->index_cap);

		if (((j - home) & mask) >= ((j - i) & mask)) {
			g->index_key[i] = g->index_key[j];
			g->index_slot[i] = g->index_slot[j];
			i = j;
		}
	}
	g->index_key[i] = 0;
}

/* ---- chunks and slots ----------------------------------------------------- */

/* Every slot of a chunk, as a free_mask. */
static uint64_t chunk_all(const struct hms_cuda *g)
{
	return g->chunk_slots >= 64 ? ~0ULL : (1ULL << g->chunk_slots) - 1;
}

static size_t chunk_bytes(const struct hms_cuda *g)
{
	return g->chunk_slots * GPU_BLOCK;
}

static CUdeviceptr chunk_va(const struct hms_cuda *g, uint64_t c)
{
	return g->pool_va + c * g->chunk_slots * GPU_BLOCK;
}

static void empty_del_locked(struct hms_cuda *g, uint64_t c)
{
	struct gpu_chunk *k = &g->chunks[c];

	if (!k->listed)
		return;
	if (k->prev >= 0)
		g->chunks[k->prev].next = k->next;
	else
		g->empty = k->next;
	if (k->next >= 0)
		g->chunks[k->next].prev = k->prev;
	k->prev = k->next = -1;
	k->listed = false;
}

/* Live chunk c goes on the empty list when all its slots are free, else
 * off it. */
static void chunk_file_locked(struct hms_cuda *g, uint64_t c)
{
	struct gpu_chunk *k = &g->chunks[c];

	empty_del_locked(g, c);
	if (k->free_mask != chunk_all(g))
		return;
	k->prev = -1;
	k->next = g->empty;
	if (k->next >= 0)
		g->chunks[k->next].prev = (int32_t)c;
	g->empty = (int32_t)c;
	k->listed = true;
}

/*
 * The chunk that serves block's region, found through the region's other
 * blocks in the index; -1 when none has a slot.  *coming: that chunk is
 * being made (the block that made it waits on its slot's creating flag).
 */
static long region_chunk_locked(const struct hms_cuda *g, uint64_t block, bool *coming)
{
	uint64_t first = block - block % g->chunk_slots;

	*coming = false;
	for (uint64_t b = first; b < first + g->chunk_slots; b++) {
		long s = b == block ? -1 : gpu_slot_find_locked(g, b);

		if (s >= 0) {
			*coming = g->slots[s].creating;
			return (long)((uint64_t)s / g->chunk_slots);
		}
	}
	return -1;
}

/* Take a dead chunk off free_chunks (low chunks on top), or -1. */
static long dead_pick_locked(struct hms_cuda *g)
{
	return g->nfree_chunks ? (long)g->free_chunks[--g->nfree_chunks] : -1;
}

/* Make and map chunk c.  Called without g->lock: CUDA's virtual memory
 * calls are slow, and other threads' copies must go on meanwhile (c is in
 * no list). */
static int chunk_create(struct hms_cuda *g, uint64_t c, CUmemGenericAllocationHandle *handle)
{
	const struct hms_cu *cu = g->cu;
	struct hms_cu_alloc_prop prop = { .type = HMS_CU_ALLOC_PINNED,
					  .location = { HMS_CU_LOC_DEVICE, g->dev } };
	struct hms_cu_access_desc acc = { { HMS_CU_LOC_DEVICE, g->dev }, HMS_CU_ACCESS_RW };
	CUdeviceptr va = chunk_va(g, c);
	size_t len = chunk_bytes(g);
	CUcontext prev = gpu_ctx_enter(g);
	int ret = 0;

	if (cu->MemCreate(handle, len, &prop, 0) != CUDA_SUCCESS) {
		ret = -ENOMEM;
	} else if (cu->MemMap(va, len, 0, *handle, 0) != CUDA_SUCCESS) {
		cu->MemRelease(*handle);
		ret = -EIO;
	} else if (cu->MemSetAccess(va, len, &acc, 1) != CUDA_SUCCESS) {
		cu->MemUnmap(va, len);
		cu->MemRelease(*handle);
		ret = -EIO;
	}
	gpu_ctx_leave(g, prev);
	return ret;
}

static void slot_claim_locked(struct hms_cuda *g, struct gpu_slot *s, uint64_t idx, uint64_t block)
{
	s->block = block;
	s->changed = ++g->slot_seq;
	s->used = 0;
	s->maps = 0;
	s->placing = 0;
	memset(s->bits, 0, sizeof(s->bits));
	memset(s->rbits, 0, sizeof(s->rbits));
	memset(s->pbits, 0, sizeof(s->pbits));
	index_insert_locked(g, block, (uint32_t)idx);
}

/*
 * Give empty chunks back to the GPU while more than keep slots are free:
 * called wherever nkept_slots grows (a slot freed, a chunk made).  The
 * chunk leaves its list first and is counted in releasing_chunks while
 * g->lock is dropped for CUDA (gpu_slot_get_locked waits for it rather
 * than fail); the loop looks again afterwards, as others may have freed
 * or taken slots meanwhile.
 */
static void chunks_trim_locked(struct hms_cuda *g)
{
	while (g->nkept_slots > g->keep && g->empty >= 0) {
		uint64_t c = (uint64_t)g->empty;
		struct gpu_chunk *k = &g->chunks[c];
		CUmemGenericAllocationHandle handle = k->handle;
		CUcontext prev;

		empty_del_locked(g, c);
		k->live = false;
		g->live_slots -= g->chunk_slots;
		g->nkept_slots -= g->chunk_slots;
		g->releasing_chunks++;
		pthread_mutex_unlock(&g->lock);
		prev = gpu_ctx_enter(g);
		g->cu->MemUnmap(chunk_va(g, c), chunk_bytes(g));
		g->cu->MemRelease(handle);
		gpu_ctx_leave(g, prev);
		pthread_mutex_lock(&g->lock);
		g->releasing_chunks--;
		g->free_chunks[g->nfree_chunks++] = (uint32_t)c;
		pthread_cond_broadcast(&g->cond);
	}
}

/*
 * Make dead chunk c for block's region, block in its slot (g->lock
 * dropped meanwhile: threads that want a block of the same region wait on
 * the slot's creating flag).  The slot's index, or -1.
 */
static long chunk_make_locked(struct hms_cuda *g, uint64_t c, uint64_t block)
{
	struct gpu_chunk *k = &g->chunks[c];
	uint64_t pos = block % g->chunk_slots, idx = c * g->chunk_slots + pos;
	struct gpu_slot *s = &g->slots[idx];
	CUmemGenericAllocationHandle handle;
	int ret;

	slot_claim_locked(g, s, idx, block);
	s->creating = true;
	g->creating_chunks++;
	pthread_mutex_unlock(&g->lock);
	ret = chunk_create(g, c, &handle);
	pthread_mutex_lock(&g->lock);
	if (ret) {
		index_remove_locked(g, block);
		g->free_chunks[g->nfree_chunks++] = (uint32_t)c;
	} else {
		k->handle = handle;
		k->live = true;
		k->free_mask = chunk_all(g) & ~(1ULL << pos);
		g->live_slots += g->chunk_slots;
		g->nkept_slots += g->chunk_slots - 1;
		/* An empty chunk kept while this one was made may now be
		 * one too many.  Our slot is still creating: no one else
		 * uses or frees it while the lock is dropped for that. */
		chunks_trim_locked(g);
		s->live = true;
	}
	g->creating_chunks--;
	s->creating = false;
	pthread_cond_broadcast(&g->cond);
	return ret ? -1 : (long)idx;
}

/* Block takes slot pos of live chunk c (free: pos is block's own). */
static long chunk_take_locked(struct hms_cuda *g, uint64_t c, uint64_t block)
{
	struct gpu_chunk *k = &g->chunks[c];
	uint64_t pos = block % g->chunk_slots, idx = c * g->chunk_slots + pos;

	if (!(k->free_mask & (1ULL << pos)))
		return -1; /* cannot be: only block itself sits there */
	k->free_mask &= ~(1ULL << pos);
	chunk_file_locked(g, c);
	g->nkept_slots--;
	slot_claim_locked(g, &g->slots[idx], idx, block);
	g->slots[idx].live = true;
	return (long)idx;
}

long gpu_slot_get_locked(struct hms_cuda *g, uint64_t block)
{
	for (;;) {
		long idx = gpu_slot_find_locked(g, block), c;
		bool coming;

		if (idx >= 0 && g->slots[idx].creating) {
			pthread_cond_wait(&g->cond, &g->lock); /* another thread makes it */
			continue;
		}
		if (idx >= 0)
			return idx;
		c = region_chunk_locked(g, block, &coming);
		if (coming) {
			pthread_cond_wait(&g->cond, &g->lock); /* our region's chunk */
			continue;
		}
		if (c < 0)
			c = g->empty; /* an empty chunk kept: any region's */
		if (c >= 0)
			return chunk_take_locked(g, (uint64_t)c, block); /* no CUDA call */
		c = dead_pick_locked(g);
		if (c >= 0)
			return chunk_make_locked(g, (uint64_t)c, block);
		if (g->creating_chunks || g->releasing_chunks) {
			/* None left, but one on its way back to the GPU is a
			 * dead chunk in a moment, and one being made may fail
			 * and come back: not -ENOMEM with the pool about to
			 * have room. */
			pthread_cond_wait(&g->cond, &g->lock);
			continue;
		}
		return -1;
	}
}

/*
 * Slot idx goes back to its chunk once no page and no window uses it;
 * then empty chunks go back to the GPU while more than keep slots are
 * free (chunks_trim_locked: not only this slot's chunk, which may still
 * hold blocks while another is empty).  May drop g->lock.
 */
void gpu_slot_maybe_release_locked(struct hms_cuda *g, uint64_t idx)
{
	struct gpu_slot *s = &g->slots[idx];
	uint64_t c = idx / g->chunk_slots;

	if (!s->live || s->used || s->maps)
		return;
	index_remove_locked(g, s->block);
	s->live = false;
	g->chunks[c].free_mask |= 1ULL << (idx % g->chunk_slots);
	g->nkept_slots++;
	chunk_file_locked(g, c);
	chunks_trim_locked(g);
}

CUmemGenericAllocationHandle gpu_chunk_handle_locked(const struct hms_cuda *g, uint64_t c)
{
	return g->chunks[c].handle;
}

void gpu_page_put_locked(struct hms_cuda *g, uint64_t idx, unsigned page)
{
	struct gpu_slot *s = &g->slots[idx];
	uint64_t bit = 1ULL << (page & 63);

	if (!(s->bits[page >> 6] & bit))
		return;
	if (s->pbits[page >> 6] & bit) {
		/* A replica whose copy is in flight: dropped, but its place
		 * stays claimed until the copy's check gives it back, so no
		 * page of a migration is put there meanwhile (replicas_batch). */
		s->rbits[page >> 6] &= ~bit;
		return;
	}
	s->bits[page >> 6] &= ~bit;
	s->rbits[page >> 6] &= ~bit;
	s->used--;
	gpu_slot_maybe_release_locked(g, idx);
}

void gpu_page_free(struct hms_devmem *dm, hms_pfn pfn)
{
	struct hms_cuda *g = hms_devmem_priv(dm);
	uint64_t i = pfn - g->first;

	pthread_mutex_lock(&g->lock);
	gpu_page_put_locked(g, i / GPU_BLOCK_PAGES, (unsigned)(i % GPU_BLOCK_PAGES));
	pthread_mutex_unlock(&g->lock);
}

/* ---- staging buffers ------------------------------------------------------ */

struct gpu_stage *gpu_stage_get(struct hms_cuda *g, bool nowait)
{
	struct gpu_stage *st;

	pthread_mutex_lock(&g->lock);
	while (!(st = g->stages) && !nowait)
		pthread_cond_wait(&g->cond, &g->lock);
	if (st)
		g->stages = st->next;
	pthread_mutex_unlock(&g->lock);
	return st;
}

void gpu_stage_put(struct hms_cuda *g, struct gpu_stage *st)
{
	pthread_mutex_lock(&g->lock);
	st->next = g->stages;
	g->stages = st;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

/* ---- init / fini ---------------------------------------------------------- */

int gpu_mem_init(struct hms_cuda *g, unsigned nstages)
{
	const struct hms_cu *cu = g->cu;

	g->index_cap = 64;
	while (g->index_cap < 2 * g->nslots)
		g->index_cap <<= 1;
	if (!g->chunk_slots || g->chunk_slots > GPU_CHUNK_MAX_SLOTS)
		return -EINVAL;
	g->nchunks = (g->nslots + g->chunk_slots - 1) / g->chunk_slots;
	g->empty = -1;
	g->slots = calloc(g->nslots, sizeof(*g->slots));
	g->chunks = calloc(g->nchunks, sizeof(*g->chunks));
	g->free_chunks = malloc(g->nchunks * sizeof(*g->free_chunks));
	g->index_key = calloc(g->index_cap, sizeof(*g->index_key));
	g->index_slot = calloc(g->index_cap, sizeof(*g->index_slot));
	if (!g->slots || !g->chunks || !g->free_chunks || !g->index_key || !g->index_slot)
		return -ENOMEM;
	for (uint64_t c = 0; c < g->nchunks; c++) {
		g->chunks[c].prev = g->chunks[c].next = -1;
		/* Low chunks first: a stack popped from the end. */
		g->free_chunks[c] = (uint32_t)(g->nchunks - 1 - c);
	}
	g->nfree_chunks = g->nchunks;
	if (cu->MemAddressReserve(&g->pool_va, g->nslots * GPU_BLOCK, GPU_BLOCK, 0, 0) !=
	    CUDA_SUCCESS) {
		g->pool_va = 0;
		return -ENOMEM;
	}
	for (unsigned i = 0; i <= nstages; i++) { /* and the replicas' */
		struct gpu_stage *st = calloc(1, sizeof(*st));
		void *buf = NULL;

		if (!st)
			return -ENOMEM;
		if (cu->MemAllocHost(&buf, GPU_BLOCK) != CUDA_SUCCESS) {
			free(st);
			return -ENOMEM;
		}
		st->buf = buf;
		if (cu->StreamCreate(&st->stream, HMS_CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS) {
			cu->MemFreeHost(buf);
			free(st);
			return -EIO;
		}
		st->next = g->stages;
		g->stages = st;
	}
	g->rep_stage = g->stages;
	g->stages = g->stages->next;
	g->rep_stage->next = NULL;
	return 0;
}

void gpu_mem_fini(struct hms_cuda *g)
{
	const struct hms_cu *cu = g->cu;
	CUcontext prev = gpu_ctx_enter(g);

	while (g->windows) {
		struct gpu_window *w = g->windows;

		g->windows = w->next;
		gpu_window_unmap(g, w);
		free(w);
	}
	for (uint64_t c = 0; g->chunks && c < g->nchunks; c++) {
		if (!g->chunks[c].live)
			continue;
		cu->MemUnmap(chunk_va(g, c), chunk_bytes(g));
		cu->MemRelease(g->chunks[c].handle);
	}
	if (g->pool_va)
		cu->MemAddressFree(g->pool_va, g->nslots * GPU_BLOCK);
	if (g->rep_stage) {
		g->rep_stage->next = g->stages;
		g->stages = g->rep_stage;
		g->rep_stage = NULL;
	}
	while (g->stages) {
		struct gpu_stage *st = g->stages;

		g->stages = st->next;
		cu->StreamDestroy(st->stream);
		cu->MemFreeHost(st->buf);
		free(st);
	}
	gpu_ctx_leave(g, prev);
	free(g->slots);
	free(g->chunks);
	free(g->free_chunks);
	free(g->index_key);
	free(g->index_slot);
}
