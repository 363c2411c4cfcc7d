/* SPDX-License-Identifier: MIT */
/*
 * gpu.h - the CUDA driver's private declarations.  Like the softdev, it
 * sees hms_driver.h only.
 *
 * Memory layout: the pool is a device virtual range reserved at attach
 * (pool_va), cut into 2 MiB slots.  A slot holds one 2 MiB block of the
 * CPU's address space: the page at virtual address va lives in the slot
 * of block va >> 21 at offset va & (2 MiB - 1).  The slot's physical
 * memory is part of a cuMemCreate() chunk: chunk c holds slots
 * c * chunk_slots .. c * chunk_slots + chunk_slots - 1 (the pool is a
 * whole number of chunks), and is mapped over them at pool_va + c * chunk_slots * 2 MiB
 * while any of them is in use (or kept for reuse).  Page frame numbers:
 * first + slot * 512 + page.
 *
 * Chunks serve regions: a region is an aligned run of chunk_slots blocks
 * (block / chunk_slots), and block b of a region always sits in slot
 * b % chunk_slots of the region's chunk.  So a window (gpu_map.c) maps
 * whole chunks, one per region, side by side: CUDA maps an allocation
 * only from its start (cuMemMap's offset must be 0; NVIDIA's driver 580
 * answers CUDA_ERROR_NOT_SUPPORTED to any other), so a slot alone cannot
 * be mapped where a window needs it.
 */
#ifndef HMS_CUDA_GPU_H
#define HMS_CUDA_GPU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "cuda_api.h"
#include "hms_cuda.h"
#include "hms_driver.h"

#define GPU_API __attribute__((visibility("default")))
#define GPU_PAGE HMS_PAGE_SIZE
#define GPU_SHIFT HMS_PAGE_SHIFT
#define GPU_BLOCK (2UL << 20)
#define GPU_BLOCK_SHIFT 21
#define GPU_BLOCK_PAGES 512

#define GPU_CHUNK_MAX_SLOTS 64 /* hms_cuda_config.chunk_mib at most 128 */

struct gpu_slot {
	uint64_t block;                    /* va >> 21 of the block it holds */
	uint64_t bits[GPU_BLOCK_PAGES / 64]; /* pages in use */
	uint64_t rbits[GPU_BLOCK_PAGES / 64]; /* ...of which read-only replicas */
	uint64_t pbits[GPU_BLOCK_PAGES / 64]; /* places claimed for replicas whose
					       * copy is in flight (replicas_batch):
					       * theirs until its check, dropped or not */
	uint32_t used;                     /* popcount of bits */
	uint32_t maps;                     /* windows that map this slot, and
					    * hms_cuda_map() calls placing it */
	uint32_t placing;                  /* ...of maps: calls still placing
					    * pages (no window yet) */
	bool live;                         /* holds block: in the index, its
					    * chunk made and mapped */
	bool creating;                     /* in the index; its chunk is being made */
	uint64_t changed;                  /* g->slot_seq when it was claimed
					    * or pages last left it (a map's
					    * snapshot older than that is stale) */
};

/*
 * A physical allocation: one cuMemCreate() for chunk_slots slots.  Dead chunks wait in free_chunks; a live one whose slots
 * are all free is on the empty list (struct hms_cuda.empty), and any
 * region may take it; a live one with a block serves that block's region.
 * Its slots' memory is mapped at pool_va + index * chunk_slots * 2 MiB as
 * long as it lives.
 */
struct gpu_chunk {
	CUmemGenericAllocationHandle handle;
	uint64_t free_mask;    /* its slots that hold no block (live chunk) */
	int32_t prev, next;    /* on the empty list (-1: none) */
	bool listed;           /* on the empty list */
	bool live;             /* made and mapped */
};

/* A pinned 2 MiB host buffer for staging copies. */
struct gpu_stage {
	char *buf;
	CUstream stream;
	struct gpu_stage *next;
};

/* A window: the nreg regions from first_block / chunk_slots on, each
 * region's chunk mapped whole at va + r * chunk_slots * 2 MiB once
 * mapped. */
struct gpu_window {
	uintptr_t addr;
	size_t len;
	CUdeviceptr va;
	size_t va_len;
	uint64_t first_block, nblk;
	uint64_t nreg;
	bool mapped;
	bool ro;                /* HMS_CUDA_MAP_READ_ONLY: may show replicas */
	pthread_t owner;        /* the thread that mapped it */
	struct gpu_window *next;
};

struct gpu_job; /* a migration split among copy threads */

enum gpu_prof {
	GPU_PROF_IN_SETUP, GPU_PROF_IN_ALLOC, GPU_PROF_IN_COPY, GPU_PROF_IN_PAGES,
	GPU_PROF_IN_FINALIZE, GPU_PROF_OUT_SETUP, GPU_PROF_OUT_COPY, GPU_PROF_OUT_PAGES,
	GPU_PROF_OUT_FINALIZE,
	/* Wall time of whole migrations (run_job, the caller's clock): with
	 * the phases above, how busy the copy threads were. */
	GPU_PROF_IN_JOB, GPU_PROF_OUT_JOB, GPU_PROF_COUNT,
};

/*
 * Lifetime: made by hms_cuda_attach(), freed by hms_cuda_detach() or by
 * hms_close() (devmem release).
 */
struct hms_cuda {
	struct hms *h;
	const struct hms_cu *cu;
	char name[64];
	char gpu_name[128];
	CUdevice dev;
	CUcontext ctx;
	struct hms_devmem *dm;
	struct hms_mirror *mirror; /* release() only */
	struct hms_interval *iv;   /* the whole address space: drops replicas */
	hms_uid initiator, link_sys, link_own;
	hms_pfn first;
	uint64_t nslots;
	uint64_t total_bytes;
	CUdeviceptr pool_va;
	unsigned copy_mode;
	uint32_t h2d_mib_s, d2h_mib_s, latency_ns;

	/*
	 * lock guards slots[], chunks[], the block index, the chunk lists,
	 * the counts below, stages and windows.  Held for short sections
	 * (CUDA calls that map or free a chunk included), never across an
	 * hms call: page_free() takes it.  cond: a window ended, a staging
	 * buffer came back, a chunk was made or went back to the GPU.
	 */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct gpu_slot *slots;
	struct gpu_chunk *chunks;
	uint64_t nchunks, chunk_slots;
	uint32_t *free_chunks;  /* dead chunks: a stack, low indexes on top */
	uint64_t nfree_chunks;
	/*
	 * Live chunks with no block (kept for reuse): a list, its head.  A
	 * block takes its slot in its region's chunk; a region without one
	 * takes an empty chunk, and only then is a chunk made.  Invariant
	 * whenever g->lock is free and no release is under way (gpu_mem.c,
	 * chunks_trim_locked): nkept_slots <= keep, or the list is empty --
	 * free slots beyond keep are only those of chunks that still hold a
	 * block.
	 */
	int32_t empty;
	unsigned creating_chunks; /* being made, g->lock dropped */
	unsigned releasing_chunks; /* going back to the GPU, g->lock dropped */
	uint64_t live_slots;    /* slots of live chunks */
	uint64_t nkept_slots;   /* ...that hold no block: kept for reuse */
	uint64_t keep;          /* release an empty chunk beyond this many */
	uint64_t *index_key; /* open addressing: block + 1 (0 = empty) */
	uint32_t *index_slot;
	uint64_t index_cap;
	struct gpu_stage *stages;
	/* One more pinned buffer, the replicas' (gpu_replica.c): taken
	 * without waiting, so that it may be held while the pages are read
	 * (NULL while taken) */
	struct gpu_stage *rep_stage;
	struct gpu_window *windows;
	uint64_t slot_seq; /* counts slot claims and pages leaving slots
			    * (struct gpu_slot.changed) */
	bool closing; /* hms_close() runs: windows no longer hold pages */

	/* HMS_CUDA_PROF=1: nanoseconds spent per phase, printed at detach. */
	bool prof;
	atomic_uint_least64_t prof_ns[GPU_PROF_COUNT];

	/* Copy threads for migrations (gpu_migrate.c). */
	pthread_mutex_t jlock;
	pthread_cond_t jcond, jdone;
	struct gpu_job *job;
	pthread_t *threads;
	unsigned nthreads;
	unsigned running; /* copy threads that reached their loop (jlock) */
	bool stop;
};

/* Phase timing (HMS_CUDA_PROF): t = gpu_prof_now(g); ...; gpu_prof_add(g, P, &t). */
static inline uint64_t gpu_prof_now(const struct hms_cuda *g)
{
	struct timespec ts;

	if (!g->prof)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void gpu_prof_add(struct hms_cuda *g, enum gpu_prof p, uint64_t *t)
{
	uint64_t now;

	if (!g->prof)
		return;
	now = gpu_prof_now(g);
	atomic_fetch_add(&g->prof_ns[p], now - *t);
	*t = now;
}

/*
 * The CUDA context on threads that are not the driver's own: every call in
 * (the API, the core's callbacks) makes the GPU's context current for its
 * CUDA calls and puts back the one the thread had, so that a program's own
 * CUDA work on that thread (another GPU's context, say) goes on as before,
 * and a callback of another GPU inside one of ours (a page brought home by
 * a fault) leaves ours current.  The copy threads keep it for good.
 *   CUcontext prev = gpu_ctx_enter(g); ...; gpu_ctx_leave(g, prev);
 */
static inline CUcontext gpu_ctx_enter(const struct hms_cuda *g)
{
	CUcontext prev = NULL;

	if (g->cu->CtxGetCurrent(&prev) != CUDA_SUCCESS)
		prev = NULL;
	if (prev != g->ctx)
		g->cu->CtxSetCurrent(g->ctx);
	return prev;
}

static inline void gpu_ctx_leave(const struct hms_cuda *g, CUcontext prev)
{
	if (prev != g->ctx)
		g->cu->CtxSetCurrent(prev);
}

/* ---- gpu_mem.c: slots, the block index, staging buffers ------------------- */
int gpu_mem_init(struct hms_cuda *g, unsigned nstages);
void gpu_mem_fini(struct hms_cuda *g);
/* The slot holding block, creating it; -1 (ENOSPC or a CUDA failure).
 * May drop g->lock while CUDA makes a chunk or takes back an empty one
 * (never once the slot it returns is live). */
long gpu_slot_get_locked(struct hms_cuda *g, uint64_t block);
/* The slot holding block, or -1. */
long gpu_slot_find_locked(const struct hms_cuda *g, uint64_t block);
/* Give page idx of slot s back; the slot is freed when its last page
 * goes, and empty chunks beyond keep free slots go back to the GPU (both
 * may drop g->lock while CUDA unmaps them). */
void gpu_page_put_locked(struct hms_cuda *g, uint64_t s, unsigned idx);
void gpu_slot_maybe_release_locked(struct hms_cuda *g, uint64_t s);
/* Live chunk c's memory (chunk_slots slots). */
CUmemGenericAllocationHandle gpu_chunk_handle_locked(const struct hms_cuda *g, uint64_t c);
struct gpu_stage *gpu_stage_get(struct hms_cuda *g, bool nowait);
void gpu_stage_put(struct hms_cuda *g, struct gpu_stage *st);
void gpu_page_free(struct hms_devmem *dm, hms_pfn pfn);

static inline CUdeviceptr gpu_pfn_addr(const struct hms_cuda *g, hms_pfn pfn)
{
	return g->pool_va + ((pfn - g->first) << GPU_SHIFT);
}

/* The end of the batch that starts at s: its block's end, or end if that
 * comes first (also where the block's end wraps past zero: the last block
 * of the address space). */
static inline uintptr_t gpu_batch_end(uintptr_t s, uintptr_t end)
{
	uintptr_t e = (s & ~(uintptr_t)(GPU_BLOCK - 1)) + GPU_BLOCK;

	return !e || e > end ? end : e;
}

static inline hms_pfn gpu_pfn(const struct hms_cuda *g, uint64_t slot, unsigned idx)
{
	return g->first + slot * GPU_BLOCK_PAGES + idx;
}

/* ---- gpu_map.c ------------------------------------------------------------ */
/* Undo window w's mappings and free its device range (not its holds). */
void gpu_window_unmap(struct hms_cuda *g, struct gpu_window *w);

/* ---- gpu_replica.c: read-only copies of READ_MOSTLY pages ------------------ */
extern const struct hms_interval_ops gpu_interval_ops;
/* Copy the REPLICA pages of [s, e) to the GPU (pfns: what hms_range_fault
 * said of each page, for the caller).  0, or -errno. */
int gpu_replicas_make(struct hms_cuda *g, uintptr_t s, uintptr_t e, uint64_t *pfns);

/* ---- gpu_migrate.c ------------------------------------------------------- */
int gpu_threads_start(struct hms_cuda *g, unsigned n);
void gpu_threads_stop(struct hms_cuda *g);
long gpu_migrate_to_device(struct hms_devmem *dm, uintptr_t start, uintptr_t end);
long gpu_evict_range(struct hms_devmem *dm, uintptr_t start, uintptr_t end);
int gpu_migrate_to_ram(struct hms_devmem *dm, const struct hms_devmem_fault *f);
/* Move this GPU's pages of [start, end) home; wrong_only: only pages not
 * in their own block's slot.  Returns pages moved or -errno. */
long gpu_migrate_range_to_ram(struct hms_cuda *g, uintptr_t start, uintptr_t end,
			      bool wrong_only);
/* Is any page of [start, end) mapped by a window? (lock held)  Only the
 * windows' own pages count: not the rest of their blocks, nor the holds of
 * hms_cuda_map() calls still placing pages. */
bool gpu_range_mapped_locked(const struct hms_cuda *g, uintptr_t start, uintptr_t end);

#endif
