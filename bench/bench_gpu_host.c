/* SPDX-License-Identifier: MIT */
/*
 * bench_gpu_host.c - how fast this host's CPUs copy into pinned memory:
 * the ceiling of hms' staged copy to the GPU.  hms moves a page to the
 * GPU by reading it into a pinned buffer (hms_user_read(): streaming
 * stores) and letting the copy engine read that buffer, so each byte
 * moved crosses host memory three times (read, write, DMA read), where
 * Unified Memory's prefetch and pinned cuMemcpy cross it once.  Here 1,
 * 4, 8 and 16 threads each copy their share of the data, 2 MiB at a
 * time, into a 2 MiB pinned buffer of their own, as the copy threads do:
 * bytes copied per second, all threads together.  Where 8 or 16 threads
 * copy at no more than the copy engines' speed, no staged configuration
 * can reach the pinned-cuMemcpy target, whatever the rest costs.
 *
 * Then the same copy with what the kernel does to the source pages of a
 * move to a device, without hms: each 2 MiB is write-protected
 * (UFFDIO_WRITEPROTECT), copied, moved out of place (UFFDIO_MOVE into a
 * registered transit range) and freed there (MADV_DONTNEED) -- hms'
 * discard where the kernel has UFFDIO_MOVE -- and, second, freed in
 * place instead (MADV_DONTNEED of the source: the discard on older
 * kernels, with no handler to wait for here).  That is the host's floor
 * for a move to the GPU: what hms' host->GPU figure would be if hms'
 * own work (its page table, migration states, the fill gate) cost
 * nothing and the DMA were free.  Last, the way back: 2 MiB at a time
 * from a pinned buffer into missing pages by UFFDIO_COPY, as hms' fills
 * do: the floor for GPU->host.  And the move to the GPU once more with
 * the source in 2 MiB pages (transparent huge pages, as hms_alloc()'s
 * HMS_ALLOC_HUGE): the kernel protects, moves and frees each as one
 * entry, where 4 KiB pages take 512.
 * Part of `hms bench gpu`; lines only, no ratio.
 */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "compat/uffd_compat.h"
#include "cuda_api.h"
#include "hms.h"
#include "hms_driver.h"
#include "inject.h"

#define PIECE (2UL << 20)
#define MAX_THREADS 16

struct hcopy {
	const char *src;
	void *dst; /* PIECE bytes, pinned */
	size_t bytes;
	int err;
};

static void *hcopy_thread(void *arg)
{
	struct hcopy *c = arg;

	for (size_t off = 0; off < c->bytes; off += PIECE)
		if (hms_user_read(c->dst, c->src + off, PIECE) != (ssize_t)PIECE)
			c->err = -1;
	return NULL;
}

/*
 * Bytes per second copied by n threads, or a negative value.  Timed from
 * the first thread's start to the last one's end: starting 16 threads
 * costs well under 1% of copying a 1 GiB share among them.
 */
static double hcopy_run(const struct hms_cu *cu, const char *src, size_t bytes, unsigned n)
{
	struct hcopy c[MAX_THREADS] = { 0 };
	pthread_t t[MAX_THREADS];
	size_t share = bytes / n / PIECE * PIECE;
	unsigned started = 0, made = 0;
	double t0, secs;
	int err = 0;

	for (; made < n; made++)
		if (cu->MemAllocHost(&c[made].dst, PIECE) != CUDA_SUCCESS)
			break;
	t0 = bench_now();
	for (unsigned i = 0; i < n && made == n; i++, started++) {
		c[i] = (struct hcopy){ src + i * share, c[i].dst, share, 0 };
		if (pthread_create(&t[i], NULL, hcopy_thread, &c[i]))
			break;
	}
	for (unsigned i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		err |= c[i].err;
	}
	secs = bench_now() - t0;
	for (unsigned i = 0; i < made; i++)
		cu->MemFreeHost(c[i].dst);
	if (err || started < n || secs <= 0)
		return -1;
	return (double)(share * n) / secs;
}

/* ---- the floor: copy plus the kernel's work on the source pages ---------- */

enum floor_mode { FLOOR_MOVE, FLOOR_ZAP, FLOOR_BACK };

struct floor {
	int uffd;
	enum floor_mode mode;
	char *src, *transit; /* this thread's share of each, registered */
	void *dst;           /* PIECE bytes, pinned */
	size_t bytes;
	struct floor_go *go;
	double t0, t1; /* this thread's work, start and end */
	int err;
};

/* The start: every thread's pages made (ready), then all go at once
 * (open 1); open -1: a thread could not be started, nobody works. */
struct floor_go {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned ready;
	int open;
};

static bool floor_wait_go(struct floor_go *go)
{
	int open;

	pthread_mutex_lock(&go->lock);
	go->ready++;
	pthread_cond_broadcast(&go->cond);
	while (!go->open)
		pthread_cond_wait(&go->cond, &go->lock);
	open = go->open;
	pthread_mutex_unlock(&go->lock);
	return open > 0;
}

/* Main: wait for n threads to be ready, then open (1) or cancel (-1). */
static void floor_open(struct floor_go *go, unsigned n, int open)
{
	pthread_mutex_lock(&go->lock);
	while (open > 0 && go->ready < n)
		pthread_cond_wait(&go->cond, &go->lock);
	go->open = open;
	pthread_cond_broadcast(&go->cond);
	pthread_mutex_unlock(&go->lock);
}

/* The way back: 2 MiB from the pinned buffer into missing pages of the
 * registered transit range, as hms' fills do (UFFDIO_COPY). */
static int floor_back(struct floor *f, size_t off)
{
	struct uffdio_copy c = { (uintptr_t)f->transit + off, (uintptr_t)f->dst, PIECE, 0, 0 };

	return ioctl(f->uffd, UFFDIO_COPY, &c) || c.copy != (__s64)PIECE ? -1 : 0;
}

static int floor_piece(struct floor *f, size_t off)
{
	struct uffdio_writeprotect wp = { { (uintptr_t)f->src + off, PIECE },
					  UFFDIO_WRITEPROTECT_MODE_WP };
	struct uffdio_move mv = { (uintptr_t)f->transit + off, (uintptr_t)f->src + off, PIECE, 0,
				  0 };

	if (ioctl(f->uffd, UFFDIO_WRITEPROTECT, &wp) ||
	    hms_user_read(f->dst, f->src + off, PIECE) != (ssize_t)PIECE)
		return -1;
	if (((char *)f->dst)[0] != 5 || ((char *)f->dst)[PIECE - 1] != 5) {
		errno = EIO; /* the copy did not read the pages */
		return -1;
	}
	if (f->mode == FLOOR_ZAP)
		return madvise(f->src + off, PIECE, MADV_DONTNEED);
	if (ioctl(f->uffd, UFFDIO_MOVE, &mv) || mv.move != (__s64)PIECE)
		return -1;
	return madvise(f->transit + off, PIECE, MADV_DONTNEED);
}

static void *floor_thread(void *arg)
{
	struct floor *f = arg;

	/* the pages to move (or the pinned data and the missing pages to
	 * fill), made before the clock starts */
	if (f->mode == FLOOR_BACK) {
		memset(f->dst, 5, PIECE);
		if (madvise(f->transit, f->bytes, MADV_DONTNEED))
			f->err = errno;
	} else {
		memset(f->src, 5, f->bytes);
	}
	if (!floor_wait_go(f->go))
		return NULL;
	f->t0 = bench_now();
	for (size_t off = 0; off < f->bytes && !f->err; off += PIECE)
		if (f->mode == FLOOR_BACK ? floor_back(f, off) : floor_piece(f, off))
			f->err = errno ? errno : EIO;
	f->t1 = bench_now();
	/* the fills landed */
	for (size_t off = 0; f->mode == FLOOR_BACK && off < f->bytes && !f->err; off += PIECE)
		if (f->transit[off] != 5 || f->transit[off + PIECE - 1] != 5)
			f->err = EIO;
	return NULL;
}

/* Bytes per second for n threads, from the first one's start to the last
 * one's end, or -errno. */
static double floor_run(const struct hms_cu *cu, int uffd, enum floor_mode mode, char *src,
			char *transit, size_t bytes, unsigned n)
{
	struct floor f[MAX_THREADS] = { 0 };
	pthread_t t[MAX_THREADS];
	struct floor_go go = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
	size_t share = bytes / n / PIECE * PIECE;
	unsigned started = 0, made = 0;
	double t0 = 0, t1 = 0;
	int err = 0;

	for (; made < n; made++)
		if (cu->MemAllocHost(&f[made].dst, PIECE) != CUDA_SUCCESS)
			break;
	if (made < n) {
		for (unsigned i = 0; i < made; i++)
			cu->MemFreeHost(f[i].dst);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++, started++) {
		f[i] = (struct floor){ uffd, mode, src + i * share, transit + i * share, f[i].dst,
				       share, &go, 0, 0, 0 };
		/* (HMS_INJECT=thread:N fails it: tests/gpu/cuda_bench_floor_thread) */
		if (hms__inject(HMS_INJ_THREAD) || pthread_create(&t[i], NULL, floor_thread, &f[i]))
			break;
	}
	floor_open(&go, n, started < n ? -1 : 1);
	for (unsigned i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		if (f[i].err)
			err = f[i].err;
		if (!i || f[i].t0 < t0)
			t0 = f[i].t0;
		if (f[i].t1 > t1)
			t1 = f[i].t1;
	}
	for (unsigned i = 0; i < n; i++)
		cu->MemFreeHost(f[i].dst);
	if (started < n)
		return -EAGAIN; /* a thread could not be started: nothing ran */
	if (err)
		return -err;
	return t1 > t0 ? (double)(share * n) / (t1 - t0) : -EIO;
}

/* A descriptor with UFFDIO_MOVE and write protection of anonymous memory,
 * src and transit registered with it; -1 and a reason where the kernel
 * lacks them. */
static int floor_uffd(char *src, char *transit, size_t bytes, const char **why)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_MOVE | UFFD_FEATURE_PAGEFAULT_FLAG_WP };
	/* write protection only: the pages are made again by plain faults */
	struct uffdio_register rs = { { (uintptr_t)src, bytes }, UFFDIO_REGISTER_MODE_WP, 0 };
	struct uffdio_register rt = { { (uintptr_t)transit, bytes },
				      UFFDIO_REGISTER_MODE_MISSING, 0 };
	/* no fault is taken in the registered ranges: user-mode-only will do */
	int uffd = bench_uffd_open();

	*why = "no userfaultfd";
	if (uffd < 0)
		return -1;
	*why = "this kernel has no UFFDIO_MOVE (Linux 6.8)";
	if (ioctl(uffd, UFFDIO_API, &api) || !(api.features & UFFD_FEATURE_MOVE))
		goto fail;
	*why = "UFFDIO_REGISTER failed";
	if (ioctl(uffd, UFFDIO_REGISTER, &rs) || ioctl(uffd, UFFDIO_REGISTER, &rt))
		goto fail;
	return uffd;
fail:
	close(uffd);
	return -1;
}

/* huge: the source in 2 MiB pages, and only the move out (the way back
 * by UFFDIO_COPY makes small pages whatever the range). */
static void bench_gpu_floor(const struct bench_opts *o, const struct hms_cu *cu, size_t bytes,
			    bool huge)
{
	static const unsigned threads[] = { 1, 4, 8, 16 };
	static const char *const what[] = {
		"write-protect, copy into pinned memory, UFFDIO_MOVE out, MADV_DONTNEED",
		"write-protect, copy into pinned memory, MADV_DONTNEED in place",
		"UFFDIO_COPY from pinned memory into missing pages",
	};
	/* 2 MiB aligned, so that huge pages can be had and move whole */
	char *raw = mmap(NULL, 2 * bytes + PIECE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *src = (char *)(((uintptr_t)raw + PIECE - 1) & ~(uintptr_t)(PIECE - 1));
	const char *why = "no memory";
	int uffd = -1;

	if (raw != MAP_FAILED) {
		/* 4 KiB pages, as hms' areas by default */
		madvise(src, 2 * bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		uffd = floor_uffd(src, src + bytes, bytes, &why);
	}
	if (uffd < 0) {
		bench_note(o, "gpu        host side of a move %sto the GPU without hms: not "
			      "measured (%s)\n", huge ? "of huge pages " : "", why);
		if (raw != MAP_FAILED)
			munmap(raw, 2 * bytes + PIECE);
		return;
	}
	for (int m = FLOOR_MOVE; m <= (huge ? FLOOR_MOVE : FLOOR_BACK); m++) {
		char line[320];
		size_t len = 0;

		len += (size_t)snprintf(line + len, sizeof(line) - len,
					"gpu        host side of a move %s%s the GPU without hms (%s), "
					"GB/s together:", huge ? "of huge pages " : "",
					m == FLOOR_BACK ? "back from" : "to", what[m]);
		for (size_t k = 0; k < sizeof(threads) / sizeof(threads[0]); k++) {
			double best = 0;

			for (int rep = 0; rep < 2; rep++) {
				double r = floor_run(cu, uffd, (enum floor_mode)m, src, src + bytes,
						     bytes, threads[k]);

				if (r < 0) {
					bench_note(o, "gpu        host side of a move %sto the GPU "
						      "without hms: %u threads failed (%s)\n",
						   huge ? "of huge pages " : "", threads[k],
						   strerror((int)-r));
					goto out;
				}
				if (r > best)
					best = r;
			}
			len += (size_t)snprintf(line + len, sizeof(line) - len, "%s %u thread%s %.2f",
						k ? "," : "", threads[k], threads[k] > 1 ? "s" : "",
						best / 1e9);
		}
		bench_note(o, "%s\n", line);
	}
out:
	close(uffd);
	munmap(raw, 2 * bytes + PIECE);
}

int bench_gpu_host(const struct bench_opts *o, const struct hms_cu *cu, size_t bytes)
{
	static const unsigned threads[] = { 1, 4, 8, 16 };
	char line[256];
	size_t len = 0;
	char *src;

	bytes = bytes / (MAX_THREADS * PIECE) * (MAX_THREADS * PIECE);
	if (!bytes)
		bytes = MAX_THREADS * PIECE;
	src = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED) {
		bench_note(o, "gpu        host copy into pinned memory: no memory\n");
		return -1;
	}
	memset(src, 3, bytes);
	len += (size_t)snprintf(line + len, sizeof(line) - len,
				"gpu        host copy into pinned memory (hms_user_read, 2 MiB at a "
				"time), GB/s together:");
	for (size_t k = 0; k < sizeof(threads) / sizeof(threads[0]); k++) {
		double best = 0;

		for (int rep = 0; rep < 2; rep++) { /* the first touches the buffers */
			double r = hcopy_run(cu, src, bytes, threads[k]);

			if (r < 0) {
				munmap(src, bytes);
				bench_note(o, "gpu        host copy into pinned memory: %u threads "
					   "failed\n", threads[k]);
				return -1;
			}
			if (r > best)
				best = r;
		}
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s %u thread%s %.2f",
					k ? "," : "", threads[k], threads[k] > 1 ? "s" : "",
					best / 1e9);
	}
	munmap(src, bytes);
	bench_note(o, "%s\n", line);
	bench_gpu_floor(o, cu, bytes, false);
	bench_gpu_floor(o, cu, bytes, true);
	return 0;
}
