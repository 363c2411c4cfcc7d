/* SPDX-License-Identifier: MIT */
/*
 * gpu_migrate.c - the CUDA driver's side of migrate_vma.
 *
 * To the GPU: a range is cut into batches, one per 2 MiB block; the
 * calling thread and the copy threads take batches in parallel.  Each
 * batch: setup, pages of the block's slot, copies on the batch's stream
 * (staged through a pinned buffer with hms_user_read, or straight from
 * the pages pinned read-only in place), never-touched pages zeroed on the
 * GPU, wait, pages, finalize.  A copy that fails leaves its pages where
 * they were.
 * To system memory: setup, copies from the GPU into a pinned buffer, hms
 * puts them in place (hms_migrate_dst_system_from), pages, finalize; one
 * batch for a CPU fault, parallel batches for an eviction (evict_range).
 * Pages a window maps stay until hms_cuda_unmap().
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu.h"

#define BATCH_PAGES GPU_BLOCK_PAGES
#define RUN_PAGES 128

bool gpu_range_mapped_locked(const struct hms_cuda *g, uintptr_t start, uintptr_t end)
{
	if (g->closing)
		return false;
	/*
	 * A window's own pages only, not the rest of the blocks it shows
	 * (undefined there): a CPU touch of a neighbour in the same block
	 * must not wait for an unmap its own thread may be the one to do.
	 * Maps still placing pages have no window in the list yet: pages
	 * may leave them meanwhile (their check finds them gone and places
	 * them again), so waiting for them would be for nothing -- and a
	 * deadlock where the map itself waits for the page to move.
	 */
	for (const struct gpu_window *w = g->windows; w; w = w->next) {
		uintptr_t ws = w->addr & ~(uintptr_t)(GPU_PAGE - 1);
		uintptr_t we = (w->addr + w->len + GPU_PAGE - 1) & ~(uintptr_t)(GPU_PAGE - 1);

		if (start < we && ws < end)
			return true;
	}
	return false;
}

/* ---- system -> GPU ---------------------------------------------------------- */

/* Pages for the selected entries, in the block's slot (lock taken here). */
static void batch_alloc(struct hms_cuda *g, struct hms_migrate_vma *m, bool *nomem)
{
	long slot;

	pthread_mutex_lock(&g->lock);
	slot = gpu_slot_get_locked(g, m->start >> GPU_BLOCK_SHIFT);
	for (unsigned long i = 0; i < m->npages; i++) {
		unsigned idx = (unsigned)(((m->start >> GPU_SHIFT) + i) % GPU_BLOCK_PAGES);
		struct gpu_slot *s;

		if (!(m->src[i] & HMS_MIGRATE_PFN_MIGRATE))
			continue;
		if (slot < 0) {
			*nomem = true;
			continue;
		}
		s = &g->slots[slot];
		if (s->pbits[idx >> 6] & (1ULL << (idx & 63))) {
			/* A replica's copy is in flight into this place, its
			 * data perhaps older than the page's: the page stays
			 * (the replica's check fails if the page changed, and
			 * gives the place back). */
			continue;
		} else if (s->rbits[idx >> 6] & (1ULL << (idx & 63))) {
			/* Our replica of this very page: the page itself takes its
			 * place (our own MIGRATE invalidation skipped us). */
			s->rbits[idx >> 6] &= ~(1ULL << (idx & 63));
		} else if (s->bits[idx >> 6] & (1ULL << (idx & 63))) {
			continue; /* a page moved here by mremap holds it: stays */
		} else {
			s->bits[idx >> 6] |= 1ULL << (idx & 63);
			s->used++;
		}
		m->dst[i] = hms_migrate_pfn(gpu_pfn(g, (uint64_t)slot, idx));
	}
	if (slot >= 0)
		gpu_slot_maybe_release_locked(g, (uint64_t)slot);
	pthread_mutex_unlock(&g->lock);
}

/* Give back the pages of entries [i, j): they will not move. */
static void batch_unalloc(struct hms_cuda *g, struct hms_migrate_vma *m, unsigned long i,
			  unsigned long j)
{
	pthread_mutex_lock(&g->lock);
	for (; i < j; i++) {
		uint64_t idx;

		if (!(m->dst[i] & HMS_MIGRATE_PFN_VALID))
			continue;
		idx = hms_migrate_pfn_to_pfn(m->dst[i]) - g->first;
		m->dst[i] = 0;
		gpu_page_put_locked(g, idx / GPU_BLOCK_PAGES, (unsigned)(idx % GPU_BLOCK_PAGES));
	}
	pthread_mutex_unlock(&g->lock);
}

static bool has_dst(const struct hms_migrate_vma *m, unsigned long i)
{
	return m->dst[i] & HMS_MIGRATE_PFN_VALID;
}

/* Copy the batch's pages to the GPU; pages whose copy failed get no dst.
 * Returns whether any copy failed. */
static bool batch_copy_in(struct hms_cuda *g, struct gpu_stage *st, struct hms_migrate_vma *m)
{
	const struct hms_cu *cu = g->cu;
	void *pinned[BATCH_PAGES];
	unsigned npinned = 0;
	/* Pinning in place copies nothing on the CPU to overlap: one run
	 * (one registration) for all the batch holds contiguous, a whole
	 * 2 MiB for a huge page. */
	unsigned long run_max = g->copy_mode == HMS_CUDA_COPY_REGISTER ? BATCH_PAGES : RUN_PAGES;
	bool failed = false, copy_failed = false;

	for (unsigned long i = 0; i < m->npages;) {
		const char *src = hms_migrate_src_ptr(m, i);
		unsigned long j = i + 1;
		CUdeviceptr d;
		size_t len;
		CUresult r;

		if (!has_dst(m, i)) {
			i++;
			continue;
		}
		/* A run: device pages and sources both contiguous (or both zero),
		 * at most 512 KiB where staged, so the next run's CPU copy
		 * overlaps this one's DMA. */
		while (j < m->npages && j - i < run_max && has_dst(m, j) &&
		       hms_migrate_pfn_to_pfn(m->dst[j]) == hms_migrate_pfn_to_pfn(m->dst[i]) + (j - i) &&
		       (src ? hms_migrate_src_ptr(m, j) == src + ((j - i) << GPU_SHIFT)
			    : !hms_migrate_src_ptr(m, j)))
			j++;
		d = gpu_pfn_addr(g, hms_migrate_pfn_to_pfn(m->dst[i]));
		len = (j - i) << GPU_SHIFT;
		r = CUDA_ERROR_NOT_INITIALIZED;
		if (!src) {
			r = cu->MemsetD8Async(d, 0, len, st->stream);
		} else if (g->copy_mode == HMS_CUDA_COPY_REGISTER &&
			   cu->MemHostRegister((void *)src, len, HMS_CU_HOSTREG_READ_ONLY) ==
				   CUDA_SUCCESS) {
			pinned[npinned++] = (void *)src;
			r = cu->MemcpyHtoDAsync(d, src, len, st->stream);
		} else {
			/* (Also where pinning in place failed.) */
			/* As a DMA would: a page unmapped behind hms' back fails
			 * the copy instead of crashing this thread. */
			char *buf = st->buf + (i << GPU_SHIFT);

			r = hms_user_read(buf, src, len) == (ssize_t)len
				    ? cu->MemcpyHtoDAsync(d, buf, len, st->stream)
				    : CUDA_ERROR_INVALID_VALUE;
		}
		if (r != CUDA_SUCCESS) {
			batch_unalloc(g, m, i, j);
			copy_failed = true;
		}
		i = j;
	}
	if (cu->StreamSynchronize(st->stream) != CUDA_SUCCESS)
		failed = true;
	for (unsigned k = 0; k < npinned; k++)
		cu->MemHostUnregister(pinned[k]);
	if (failed)
		batch_unalloc(g, m, 0, m->npages);
	return failed || copy_failed;
}

static long batch_to_device(struct hms_cuda *g, uintptr_t start, uintptr_t end, bool *nomem,
			    bool no_fork_wait)
{
	uint64_t src[BATCH_PAGES], dst[BATCH_PAGES];
	struct hms_migrate_vma m = {
		.start = start, .end = end, .src = src, .dst = dst,
		.pgmap_owner = g,
		.flags = HMS_MIGRATE_SELECT_SYSTEM | (no_fork_wait ? HMS_MIGRATE_NO_FORK_WAIT : 0),
	};
	bool copy_failed = false;
	long moved = 0;
	uint64_t t = gpu_prof_now(g);
	int ret;

	/*
	 * The staging buffer is taken after the setup, never held across
	 * it: the setup waits while a fork() runs, and the fork brings this
	 * GPU's pages home through the same buffers.  Taken before, as until
	 * session 19, migrations waiting for a fork could hold every buffer
	 * and the fork's eviction waited for one for ever
	 * (tests/gpu/cuda_fork_stage_race).  A stage holder now waits for
	 * nothing a stage waiter holds.
	 */
	ret = hms_migrate_vma_setup(g->h, &m);
	gpu_prof_add(g, GPU_PROF_IN_SETUP, &t);
	if (ret)
		return ret;
	if (m.cpages) {
		struct gpu_stage *st = gpu_stage_get(g, false);

		batch_alloc(g, &m, nomem);
		gpu_prof_add(g, GPU_PROF_IN_ALLOC, &t);
		copy_failed = batch_copy_in(g, st, &m);
		gpu_stage_put(g, st);
		gpu_prof_add(g, GPU_PROF_IN_COPY, &t);
	}
	hms_migrate_vma_pages(&m);
	gpu_prof_add(g, GPU_PROF_IN_PAGES, &t);
	hms_migrate_vma_finalize(&m);
	gpu_prof_add(g, GPU_PROF_IN_FINALIZE, &t);
	for (unsigned long i = 0; i < m.npages; i++)
		moved += (m.src[i] & HMS_MIGRATE_PFN_MIGRATE) != 0;
	/* Nothing moved because the GPU's copies failed: say so (-EIO), not
	 * "nothing to move" nor "no memory". */
	return !moved && copy_failed ? -EIO : moved;
}

static long batch_to_ram(struct hms_cuda *g, uintptr_t start, uintptr_t end, bool wrong_only,
			 bool nowait);

/* A migration (either way) shared by the caller and the copy threads. */
struct gpu_job {
	uintptr_t start, end;
	bool to_ram;
	bool no_fork_wait;      /* the caller holds a window (run_job) */
	atomic_uintptr_t next;  /* next batch start */
	atomic_long moved;
	atomic_int error;
	atomic_bool nomem;
	unsigned active;        /* threads working on it (jlock) */
};

static void job_work(struct hms_cuda *g, struct gpu_job *j)
{
	for (;;) {
		uintptr_t s = atomic_load(&j->next), e;
		bool nomem = false;
		long n;

		do {
			if (s >= j->end)
				return;
			e = gpu_batch_end(s, j->end);
		} while (!atomic_compare_exchange_weak(&j->next, &s, e));
		n = j->to_ram ? batch_to_ram(g, s, e, false, false) : batch_to_device(g, s, e, &nomem, j->no_fork_wait);
		if (n > 0)
			atomic_fetch_add(&j->moved, n);
		else if (n < 0 && n != -ENOENT)
			atomic_store(&j->error, (int)n);
		if (nomem)
			atomic_store(&j->nomem, true);
	}
}

static void *gpu_thread(void *arg)
{
	struct hms_cuda *g = arg;

	g->cu->CtxSetCurrent(g->ctx);
	pthread_mutex_lock(&g->jlock);
	g->running++;
	pthread_cond_broadcast(&g->jdone);
	for (;;) {
		struct gpu_job *j;

		while (!g->stop && (!g->job || atomic_load(&g->job->next) >= g->job->end))
			pthread_cond_wait(&g->jcond, &g->jlock);
		if (g->stop)
			break;
		j = g->job;
		j->active++;
		pthread_mutex_unlock(&g->jlock);
		job_work(g, j);
		pthread_mutex_lock(&g->jlock);
		if (--j->active == 0)
			pthread_cond_broadcast(&g->jdone);
	}
	pthread_mutex_unlock(&g->jlock);
	return NULL;
}

int gpu_threads_start(struct hms_cuda *g, unsigned n)
{
	g->threads = calloc(n ? n : 1, sizeof(*g->threads));
	if (!g->threads)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		int ret = pthread_create(&g->threads[i], NULL, gpu_thread, g);

		if (ret)
			return -ret;
		g->nthreads++;
	}
	/* Return once they run: a fork() must not catch one inside its
	 * start-up, where a sanitizer's allocator may hold a lock. */
	pthread_mutex_lock(&g->jlock);
	while (g->running < g->nthreads)
		pthread_cond_wait(&g->jdone, &g->jlock);
	pthread_mutex_unlock(&g->jlock);
	return 0;
}

void gpu_threads_stop(struct hms_cuda *g)
{
	pthread_mutex_lock(&g->jlock);
	g->stop = true;
	pthread_cond_broadcast(&g->jcond);
	pthread_mutex_unlock(&g->jlock);
	for (unsigned i = 0; i < g->nthreads; i++)
		pthread_join(g->threads[i], NULL);
	g->nthreads = 0;
	free(g->threads);
	g->threads = NULL;
}

/* Does the calling thread hold a window of g?  g->lock held. */
static bool holds_window_locked(const struct hms_cuda *g)
{
	for (const struct gpu_window *w = g->windows; w; w = w->next)
		if (pthread_equal(w->owner, pthread_self()))
			return true;
	return false;
}

/*
 * A thread that holds a window does not wait for a fork() in its
 * migrations to the GPU (HMS_MIGRATE_NO_FORK_WAIT: they fail with
 * -EDEADLK): the fork waits for every window to end, since their pages
 * must come home for the child, and the thread would wait for the fork
 * in the migration's setup while the fork waited for its window, both
 * for ever (a second hms_cuda_map, an hms_migrate to the GPU, while
 * another thread forks: tests/gpu/cuda_fork_window_map).  Its batches may
 * run on the copy threads, so the job carries it.
 */
static long run_job(struct hms_cuda *g, uintptr_t start, uintptr_t end, bool to_ram)
{
	struct gpu_job j = { .start = start, .end = end, .to_ram = to_ram };
	bool shared = false;
	uint64_t t = gpu_prof_now(g);
	CUcontext prev = gpu_ctx_enter(g);
	int err;

	atomic_init(&j.next, start);
	atomic_init(&j.moved, 0);
	atomic_init(&j.error, 0);
	atomic_init(&j.nomem, false);
	if (!to_ram) {
		pthread_mutex_lock(&g->lock);
		j.no_fork_wait = holds_window_locked(g);
		pthread_mutex_unlock(&g->lock);
	}
	/* More than one batch and the threads idle: share it with them. */
	pthread_mutex_lock(&g->jlock);
	if (g->nthreads && !g->job && end - start > GPU_BLOCK && !g->stop) {
		g->job = &j;
		j.active = 1;
		shared = true;
		pthread_cond_broadcast(&g->jcond);
	}
	pthread_mutex_unlock(&g->jlock);
	job_work(g, &j);
	if (shared) {
		pthread_mutex_lock(&g->jlock);
		j.active--;
		while (j.active)
			pthread_cond_wait(&g->jdone, &g->jlock);
		g->job = NULL;
		pthread_mutex_unlock(&g->jlock);
	}
	gpu_prof_add(g, to_ram ? GPU_PROF_OUT_JOB : GPU_PROF_IN_JOB, &t);
	gpu_ctx_leave(g, prev);
	err = atomic_load(&j.error);
	if (atomic_load(&j.moved))
		return atomic_load(&j.moved);
	if (err)
		return err;
	return atomic_load(&j.nomem) ? -ENOMEM : 0;
}

long gpu_migrate_to_device(struct hms_devmem *dm, uintptr_t start, uintptr_t end)
{
	return run_job(hms_devmem_priv(dm), start, end, false);
}

long gpu_evict_range(struct hms_devmem *dm, uintptr_t start, uintptr_t end)
{
	return run_job(hms_devmem_priv(dm), start, end, true);
}

/* ---- GPU -> system ------------------------------------------------------------- */

static bool in_own_slot(const struct hms_cuda *g, uintptr_t va, hms_pfn pfn)
{
	uint64_t idx = pfn - g->first;

	return idx % GPU_BLOCK_PAGES == ((va >> GPU_SHIFT) % GPU_BLOCK_PAGES) &&
	       g->slots[idx / GPU_BLOCK_PAGES].block == va >> GPU_BLOCK_SHIFT;
}

/* One batch [start, end) (at most 2 MiB) home.  Pages moved, or -errno. */
static long batch_to_ram(struct hms_cuda *g, uintptr_t start, uintptr_t end, bool wrong_only,
			 bool nowait)
{
	const struct hms_cu *cu = g->cu;
	uint64_t src[BATCH_PAGES], dst[BATCH_PAGES];
	struct hms_migrate_vma m = {
		.start = start, .end = end, .src = src, .dst = dst,
		.pgmap_owner = g, .flags = HMS_MIGRATE_SELECT_DEVICE_PRIVATE,
	};
	struct gpu_stage *st;
	bool copy[BATCH_PAGES] = { false }, copy_failed = false;
	long moved = 0;
	uint64_t t;
	int ret;

	t = gpu_prof_now(g);
	for (;;) {
		bool mapped;

		pthread_mutex_lock(&g->lock);
		/* (Pages outside their own slot are no window's: they may go.)
		 * No staging buffer is held while this waits: the window's
		 * owner may need one (another hms_cuda_map) before it unmaps. */
		while (!nowait && !wrong_only && gpu_range_mapped_locked(g, start, end))
			pthread_cond_wait(&g->cond, &g->lock);
		mapped = !wrong_only && gpu_range_mapped_locked(g, start, end);
		pthread_mutex_unlock(&g->lock);
		if (mapped)
			return -EAGAIN;
		st = gpu_stage_get(g, nowait);
		if (!st)
			return -EAGAIN;
		ret = hms_migrate_vma_setup(g->h, &m);
		if (ret) {
			gpu_stage_put(g, st);
			return ret;
		}
		/* A window made after the check keeps its pages: look again now
		 * that the pages are ours. */
		pthread_mutex_lock(&g->lock);
		mapped = !wrong_only && gpu_range_mapped_locked(g, start, end);
		for (unsigned long i = 0; i < m.npages && !mapped; i++) {
			hms_pfn pfn = hms_migrate_pfn_to_pfn(m.src[i]);

			copy[i] = (m.src[i] & HMS_MIGRATE_PFN_MIGRATE) &&
				  !(wrong_only && in_own_slot(g, start + (i << GPU_SHIFT), pfn));
			/* Leaving: a map whose snapshot still shows the page
			 * must not make its window (gpu_map.c). */
			if (copy[i])
				g->slots[(pfn - g->first) / GPU_BLOCK_PAGES].changed = ++g->slot_seq;
		}
		pthread_mutex_unlock(&g->lock);
		if (!mapped) {
			gpu_prof_add(g, GPU_PROF_OUT_SETUP, &t);
			break;
		}
		hms_migrate_vma_finalize(&m); /* nothing moved */
		gpu_stage_put(g, st);
		if (nowait)
			return -EAGAIN;
	}
	for (unsigned long i = 0; i < m.npages;) {
		unsigned long j = i + 1;
		CUdeviceptr d;

		if (!copy[i]) {
			i++;
			continue;
		}
		d = gpu_pfn_addr(g, hms_migrate_pfn_to_pfn(m.src[i]));
		while (j < m.npages && copy[j] &&
		       gpu_pfn_addr(g, hms_migrate_pfn_to_pfn(m.src[j])) == d + ((j - i) << GPU_SHIFT))
			j++;
		if (cu->MemcpyDtoHAsync(st->buf + (i << GPU_SHIFT), d, (j - i) << GPU_SHIFT,
					st->stream) != CUDA_SUCCESS) {
			for (unsigned long k = i; k < j; k++)
				copy[k] = false;
			copy_failed = true;
		}
		i = j;
	}
	if (cu->StreamSynchronize(st->stream) != CUDA_SUCCESS) {
		memset(copy, 0, sizeof(copy));
		copy_failed = true;
	}
	for (unsigned long i = 0; i < m.npages; i++)
		if (copy[i])
			hms_migrate_dst_system_from(&m, i, st->buf + (i << GPU_SHIFT));
	gpu_prof_add(g, GPU_PROF_OUT_COPY, &t);
	ret = hms_migrate_vma_pages(&m);
	gpu_prof_add(g, GPU_PROF_OUT_PAGES, &t);
	hms_migrate_vma_finalize(&m);
	gpu_prof_add(g, GPU_PROF_OUT_FINALIZE, &t);
	gpu_stage_put(g, st);
	for (unsigned long i = 0; i < m.npages; i++)
		moved += (m.src[i] & HMS_MIGRATE_PFN_MIGRATE) != 0;
	/* Nothing came home because the GPU's copy failed: an error no retry
	 * mends soon (a CPU fault gets SIGBUS after its retries), unlike a
	 * busy or moved page (0: the caller tries again). */
	if (!moved && copy_failed)
		return -EIO;
	if (!moved && ret == -EFAULT)
		return ret;
	return moved;
}

long gpu_migrate_range_to_ram(struct hms_cuda *g, uintptr_t start, uintptr_t end,
			      bool wrong_only)
{
	long moved = 0;
	CUcontext prev = gpu_ctx_enter(g);

	for (uintptr_t s = start, e; s < end; s = e) {
		long n;

		e = gpu_batch_end(s, end);
		n = batch_to_ram(g, s, e, wrong_only, false);
		if (n < 0 && n != -ENOENT) {
			moved = moved ? moved : n;
			break;
		}
		if (n > 0)
			moved += n;
	}
	gpu_ctx_leave(g, prev);
	return moved;
}

int gpu_migrate_to_ram(struct hms_devmem *dm, const struct hms_devmem_fault *f)
{
	struct hms_cuda *g = hms_devmem_priv(dm);
	uintptr_t start = f->start, end = f->end, page = f->addr & ~(uintptr_t)(GPU_PAGE - 1);
	CUcontext prev;
	long n;

	/* The fault-around range meets a window, the page itself does not:
	 * the page alone, so it need not wait for the window's end. */
	pthread_mutex_lock(&g->lock);
	if (gpu_range_mapped_locked(g, start, end) &&
	    !gpu_range_mapped_locked(g, page, page + GPU_PAGE)) {
		start = page;
		end = page + GPU_PAGE;
	}
	pthread_mutex_unlock(&g->lock);
	prev = gpu_ctx_enter(g);
	n = batch_to_ram(g, start, end, false, f->nowait);
	gpu_ctx_leave(g, prev);
	if (n < 0)
		return (int)n;
	return n ? 0 : -EAGAIN;
}
