/* SPDX-License-Identifier: MIT */
/*
 * gpu_mem.c - the CUDA driver's memory: 2 MiB slots backed by cuMemCreate()
 * chunks while in use, the index from a CPU block to its slot, and the
 * pinned staging buffers copies go through.
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

/* ---- slots -------------------------------------------------------------- */

/* Make and map slot idx's chunk.  Called without g->lock: CUDA's virtual
 * memory calls are slow, and other threads' copies must go on meanwhile. */
static int chunk_create(struct hms_cuda *g, CUmemGenericAllocationHandle *handle, uint64_t idx)
{
	const struct hms_cu *cu = g->cu;
	struct hms_cu_alloc_prop prop = { .type = HMS_CU_ALLOC_PINNED,
					  .location = { HMS_CU_LOC_DEVICE, g->dev } };
	struct hms_cu_access_desc acc = { { HMS_CU_LOC_DEVICE, g->dev }, HMS_CU_ACCESS_RW };
	CUdeviceptr va = g->pool_va + idx * GPU_BLOCK;

	cu->CtxSetCurrent(g->ctx);
	if (cu->MemCreate(handle, GPU_BLOCK, &prop, 0) != CUDA_SUCCESS)
		return -ENOMEM;
	if (cu->MemMap(va, GPU_BLOCK, 0, *handle, 0) != CUDA_SUCCESS) {
		cu->MemRelease(*handle);
		return -EIO;
	}
	if (cu->MemSetAccess(va, GPU_BLOCK, &acc, 1) != CUDA_SUCCESS) {
		cu->MemUnmap(va, GPU_BLOCK);
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
		struct gpu_slot *s;
		int ret;

		if (idx >= 0 && g->slots[idx].creating) {
			pthread_cond_wait(&g->cond, &g->lock); /* another thread makes it */
			continue;
		}
		if (idx >= 0)
			return idx;
		if (g->nkept_slots) {
			idx = g->kept_slots[--g->nkept_slots]; /* its chunk is still there */
			slot_claim_locked(g, &g->slots[idx], (uint64_t)idx, block);
			return idx;
		}
		if (!g->nfree_slots)
			return -1;
		idx = g->free_slots[--g->nfree_slots];
		s = &g->slots[idx];
		slot_claim_locked(g, s, (uint64_t)idx, block);
		s->creating = true;
		pthread_mutex_unlock(&g->lock);
		ret = chunk_create(g, &handle, (uint64_t)idx);
		pthread_mutex_lock(&g->lock);
		s->creating = false;
		pthread_cond_broadcast(&g->cond);
		if (ret) {
			index_remove_locked(g, block);
			g->free_slots[g->nfree_slots++] = (uint32_t)idx;
			return -1;
		}
		s->handle = handle;
		s->live = true;
		g->live_slots++;
		return idx;
	}
}

/*
 * The chunk goes back to the GPU once no page and no window uses it (or
 * waits among the kept ones).  May drop g->lock while CUDA unmaps it; the
 * slot is in no list meanwhile.
 */
void gpu_slot_maybe_release_locked(struct hms_cuda *g, uint64_t idx)
{
	struct gpu_slot *s = &g->slots[idx];
	CUmemGenericAllocationHandle handle = s->handle;

	if (!s->live || s->used || s->maps)
		return;
	index_remove_locked(g, s->block);
	if (g->nkept_slots < g->keep) {
		g->kept_slots[g->nkept_slots++] = (uint32_t)idx;
		return;
	}
	s->live = false;
	g->live_slots--;
	pthread_mutex_unlock(&g->lock);
	g->cu->CtxSetCurrent(g->ctx);
	g->cu->MemUnmap(g->pool_va + idx * GPU_BLOCK, GPU_BLOCK);
	g->cu->MemRelease(handle);
	pthread_mutex_lock(&g->lock);
	g->free_slots[g->nfree_slots++] = (uint32_t)idx;
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
	g->slots = calloc(g->nslots, sizeof(*g->slots));
	g->free_slots = malloc(g->nslots * sizeof(*g->free_slots));
	g->kept_slots = malloc(g->nslots * sizeof(*g->kept_slots));
	g->index_key = calloc(g->index_cap, sizeof(*g->index_key));
	g->index_slot = calloc(g->index_cap, sizeof(*g->index_slot));
	if (!g->slots || !g->free_slots || !g->kept_slots || !g->index_key || !g->index_slot)
		return -ENOMEM;
	/* Low slots first: a stack popped from the end. */
	for (uint64_t i = 0; i < g->nslots; i++)
		g->free_slots[i] = (uint32_t)(g->nslots - 1 - i);
	g->nfree_slots = g->nslots;
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
	for (uint64_t i = 0; g->slots && i < g->nslots; i++) {
		if (!g->slots[i].live)
			continue;
		cu->MemUnmap(g->pool_va + i * GPU_BLOCK, GPU_BLOCK);
		cu->MemRelease(g->slots[i].handle);
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
	free(g->free_slots);
	free(g->kept_slots);
	free(g->index_key);
	free(g->index_slot);
}
