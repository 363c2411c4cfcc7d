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

static uint64_t chunk_all(const struct gpu_chunk *k)
{
	return k->nslots >= 64 ? ~0ULL : (1ULL << k->nslots) - 1;
}

static CUdeviceptr chunk_va(const struct hms_cuda *g, uint64_t c)
{
	return g->pool_va + c * g->chunk_slots * GPU_BLOCK;
}

static void partial_add_locked(struct hms_cuda *g, uint64_t c)
{
	struct gpu_chunk *k = &g->chunks[c];

	if (k->partial)
		return;
	k->prev = -1;
	k->next = g->partial;
	if (g->partial >= 0)
		g->chunks[g->partial].prev = (int32_t)c;
	g->partial = (int32_t)c;
	k->partial = true;
}

static void partial_del_locked(struct hms_cuda *g, uint64_t c)
{
	struct gpu_chunk *k = &g->chunks[c];

	if (!k->partial)
		return;
	if (k->prev >= 0)
		g->chunks[k->prev].next = k->next;
	else
		g->partial = k->next;
	if (k->next >= 0)
		g->chunks[k->next].prev = k->prev;
	k->prev = k->next = -1;
	k->partial = false;
}

/* Make and map chunk c.  Called without g->lock: CUDA's virtual memory
 * calls are slow, and other threads' copies must go on meanwhile (c is in
 * no list, its nslots never changes). */
static int chunk_create(struct hms_cuda *g, uint64_t c, CUmemGenericAllocationHandle *handle)
{
	const struct hms_cu *cu = g->cu;
	struct hms_cu_alloc_prop prop = { .type = HMS_CU_ALLOC_PINNED,
					  .location = { HMS_CU_LOC_DEVICE, g->dev } };
	struct hms_cu_access_desc acc = { { HMS_CU_LOC_DEVICE, g->dev }, HMS_CU_ACCESS_RW };
	CUdeviceptr va = chunk_va(g, c);
	size_t len = g->chunks[c].nslots * GPU_BLOCK;

	cu->CtxSetCurrent(g->ctx);
	if (cu->MemCreate(handle, len, &prop, 0) != CUDA_SUCCESS)
		return -ENOMEM;
	if (cu->MemMap(va, len, 0, *handle, 0) != CUDA_SUCCESS) {
		cu->MemRelease(*handle);
		return -EIO;
	}
	if (cu->MemSetAccess(va, len, &acc, 1) != CUDA_SUCCESS) {
		cu->MemUnmap(va, len);
		cu->MemRelease(*handle);
		return -EIO;
	}
	return 0;
}

static void slot_claim_locked(struct hms_cuda *g, struct gpu_slot *s, uint64_t idx, uint64_t block)
{
	s->block = block;
	s->used = 0;
	s->maps = 0;
	s->placing = 0;
	memset(s->bits, 0, sizeof(s->bits));
	memset(s->rbits, 0, sizeof(s->rbits));
	index_insert_locked(g, block, (uint32_t)idx);
}

long gpu_slot_get_locked(struct hms_cuda *g, uint64_t block)
{
	for (;;) {
		long idx = gpu_slot_find_locked(g, block);
		CUmemGenericAllocationHandle handle;
		struct gpu_chunk *k;
		struct gpu_slot *s;
		uint64_t c;
		int ret;

		if (idx >= 0 && g->slots[idx].creating) {
			pthread_cond_wait(&g->cond, &g->lock); /* another thread makes it */
			continue;
		}
		if (idx >= 0)
			return idx;
		if (g->partial >= 0) {
			/* A free slot of a live chunk: no CUDA call. */
			unsigned bit;

			c = (uint64_t)g->partial;
			k = &g->chunks[c];
			bit = (unsigned)__builtin_ctzll(k->free_mask);
			k->free_mask &= ~(1ULL << bit);
			if (!k->free_mask)
				partial_del_locked(g, c);
			g->nkept_slots--;
			idx = (long)(c * g->chunk_slots + bit);
			slot_claim_locked(g, &g->slots[idx], (uint64_t)idx, block);
			g->slots[idx].live = true;
			return idx;
		}
		if ((g->creating_chunks && (g->chunk_slots > 1 || !g->nfree_chunks)) ||
		    (g->releasing_chunks && !g->nfree_chunks)) {
			/* A chunk on its way has slots to spare: wait for it
			 * rather than take more memory (the driver makes one
			 * chunk at a time anyway).  With no dead chunk left,
			 * one on its way back to the GPU is one in a moment:
			 * not -ENOMEM with the pool about to be free. */
			pthread_cond_wait(&g->cond, &g->lock);
			continue;
		}
		if (!g->nfree_chunks)
			return -1;
		c = g->free_chunks[--g->nfree_chunks];
		k = &g->chunks[c];
		idx = (long)(c * g->chunk_slots);
		s = &g->slots[idx];
		slot_claim_locked(g, s, (uint64_t)idx, block);
		s->creating = true;
		g->creating_chunks++;
		pthread_mutex_unlock(&g->lock);
		ret = chunk_create(g, c, &handle);
		pthread_mutex_lock(&g->lock);
		g->creating_chunks--;
		s->creating = false;
		pthread_cond_broadcast(&g->cond);
		if (ret) {
			index_remove_locked(g, block);
			g->free_chunks[g->nfree_chunks++] = (uint32_t)c;
			return -1;
		}
		k->handle = handle;
		k->live = true;
		k->free_mask = chunk_all(k) & ~1ULL; /* slot 0 is ours */
		g->live_slots += k->nslots;
		g->nkept_slots += k->nslots - 1;
		if (k->free_mask)
			partial_add_locked(g, c);
		s->live = true;
		return idx;
	}
}

/*
 * Slot idx goes back to its chunk once no page and no window uses it; the
 * chunk goes back to the GPU once none of its slots holds a block and
 * more than keep slots are free in live chunks.  May drop g->lock while
 * CUDA unmaps it; the chunk is in no list meanwhile (counted in
 * releasing_chunks: gpu_slot_get_locked waits for it rather than fail).
 */
void gpu_slot_maybe_release_locked(struct hms_cuda *g, uint64_t idx)
{
	struct gpu_slot *s = &g->slots[idx];
	uint64_t c = idx / g->chunk_slots;
	struct gpu_chunk *k = &g->chunks[c];
	CUmemGenericAllocationHandle handle;

	if (!s->live || s->used || s->maps)
		return;
	index_remove_locked(g, s->block);
	s->live = false;
	k->free_mask |= 1ULL << (idx % g->chunk_slots);
	g->nkept_slots++;
	if (k->free_mask != chunk_all(k) || g->nkept_slots <= g->keep) {
		partial_add_locked(g, c);
		return;
	}
	partial_del_locked(g, c);
	k->live = false;
	g->live_slots -= k->nslots;
	g->nkept_slots -= k->nslots;
	handle = k->handle;
	g->releasing_chunks++;
	pthread_mutex_unlock(&g->lock);
	g->cu->CtxSetCurrent(g->ctx);
	g->cu->MemUnmap(chunk_va(g, c), k->nslots * GPU_BLOCK);
	g->cu->MemRelease(handle);
	pthread_mutex_lock(&g->lock);
	g->releasing_chunks--;
	g->free_chunks[g->nfree_chunks++] = (uint32_t)c;
	pthread_cond_broadcast(&g->cond);
}

CUmemGenericAllocationHandle gpu_slot_handle_locked(const struct hms_cuda *g, uint64_t s,
						    size_t *offset)
{
	*offset = (s % g->chunk_slots) * GPU_BLOCK;
	return g->chunks[s / g->chunk_slots].handle;
}

void gpu_page_put_locked(struct hms_cuda *g, uint64_t idx, unsigned page)
{
	struct gpu_slot *s = &g->slots[idx];
	uint64_t bit = 1ULL << (page & 63);

	if (!(s->bits[page >> 6] & bit))
		return;
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
	g->partial = -1;
	g->slots = calloc(g->nslots, sizeof(*g->slots));
	g->chunks = calloc(g->nchunks, sizeof(*g->chunks));
	g->free_chunks = malloc(g->nchunks * sizeof(*g->free_chunks));
	g->index_key = calloc(g->index_cap, sizeof(*g->index_key));
	g->index_slot = calloc(g->index_cap, sizeof(*g->index_slot));
	if (!g->slots || !g->chunks || !g->free_chunks || !g->index_key || !g->index_slot)
		return -ENOMEM;
	for (uint64_t c = 0; c < g->nchunks; c++) {
		uint64_t left = g->nslots - c * g->chunk_slots;

		g->chunks[c].nslots = (uint32_t)(left < g->chunk_slots ? left : g->chunk_slots);
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
	for (unsigned i = 0; i < nstages; i++) {
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
	return 0;
}

void gpu_mem_fini(struct hms_cuda *g)
{
	const struct hms_cu *cu = g->cu;

	cu->CtxSetCurrent(g->ctx);
	while (g->windows) {
		struct gpu_window *w = g->windows;

		g->windows = w->next;
		cu->MemUnmap(w->va, w->va_len);
		cu->MemAddressFree(w->va, w->va_len);
		free(w);
	}
	for (uint64_t c = 0; g->chunks && c < g->nchunks; c++) {
		if (!g->chunks[c].live)
			continue;
		cu->MemUnmap(chunk_va(g, c), g->chunks[c].nslots * GPU_BLOCK);
		cu->MemRelease(g->chunks[c].handle);
	}
	if (g->pool_va)
		cu->MemAddressFree(g->pool_va, g->nslots * GPU_BLOCK);
	while (g->stages) {
		struct gpu_stage *st = g->stages;

		g->stages = st->next;
		cu->StreamDestroy(st->stream);
		cu->MemFreeHost(st->buf);
		free(st);
	}
	free(g->slots);
	free(g->chunks);
	free(g->free_chunks);
	free(g->index_key);
	free(g->index_slot);
}
