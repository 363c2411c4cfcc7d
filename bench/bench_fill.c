/* SPDX-License-Identifier: MIT */
/*
 * bench_fill.c - the kernel's ways to put data into missing pages of a
 * userfaultfd-registered range, 2 MiB at a time: the last step of every
 * migration back from a device.  hms uses UFFDIO_COPY (the kernel
 * allocates each page and copies into it); the alternatives are to
 * populate spare pages (MADV_POPULATE_WRITE: allocated and zeroed), copy
 * into them with hms_user_read() and move them into place with
 * UFFDIO_MOVE, or the same with pages kept from an earlier discard (no
 * allocation; what a pool of recycled pages would cost, holding the
 * memory).  UFFDIO_COPY is measured against memcpy, the others against
 * UFFDIO_COPY.  No hms context: it asks how fast the way back can be.
 */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "compat/uffd_compat.h"
#include "hms_driver.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define STEP (2UL << 20)

static double gbps(size_t bytes, double secs)
{
	return secs > 0 ? (double)bytes / secs / 1e9 : 0;
}

static void *map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, bytes, MADV_NOHUGEPAGE); /* 4 KiB pages, as hms' areas */
	return p;
}

static int move_in(int uffd, char *dst, char *from)
{
	struct uffdio_move m = { .dst = (uintptr_t)dst, .src = (uintptr_t)from, .len = STEP };

	return ioctl(uffd, UFFDIO_MOVE, &m) || m.move != (__s64)STEP ? -1 : 0;
}

int bench_fill(const struct bench_opts *o)
{
	/* whole calls: --mib 1 fills one 2 MiB step */
	size_t bytes = ((o->bytes ? o->bytes : 256UL << 20) + STEP - 1) & ~(STEP - 1);
	unsigned reps = o->reps ? o->reps : 5;
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MOVE };
	double *copy = calloc(reps, sizeof(double)), *pop = calloc(reps, sizeof(double));
	double *pool = calloc(reps, sizeof(double)), *base = calloc(reps, sizeof(double));
	char *src = map(bytes), *dst = map(bytes), *spare = map(bytes), *b = map(bytes);
	/* no fault is taken in the registered range: user-mode-only will do */
	int uffd = bench_uffd_open();
	struct bench_stat sc;
	char params[96];
	int ret = 1;

	struct uffdio_register r = { .range = { (uintptr_t)dst, bytes },
				     .mode = UFFDIO_REGISTER_MODE_MISSING };

	if (!copy || !pop || !pool || !base || !src || !dst || !spare || !b || uffd < 0) {
		fprintf(stderr, "hms bench fill: setup failed\n");
		goto out;
	}
	if (ioctl(uffd, UFFDIO_API, &api) || !(api.features & UFFD_FEATURE_MOVE)) {
		bench_skip(o, "fill", "this kernel has no UFFDIO_MOVE (Linux 6.8)");
		ret = 0;
		goto out;
	}
	if (ioctl(uffd, UFFDIO_REGISTER, &r)) {
		fprintf(stderr, "hms bench fill: UFFDIO_REGISTER: %s\n", strerror(errno));
		goto out;
	}
	memset(src, 7, bytes);
	memset(b, 1, bytes);
	for (unsigned i = 0; i <= reps; i++) {
		double t0, t1, tc = 0;

		/* memcpy between populated buffers */
		t0 = bench_now();
		memcpy(b, src, bytes);
		t1 = bench_now();
		if (i)
			base[i - 1] = gbps(bytes, t1 - t0);

		/* UFFDIO_COPY */
		madvise(dst, bytes, MADV_DONTNEED);
		t0 = bench_now();
		for (size_t off = 0; off < bytes; off += STEP) {
			struct uffdio_copy c = { .dst = (uintptr_t)dst + off,
						 .src = (uintptr_t)src + off, .len = STEP };

			if (ioctl(uffd, UFFDIO_COPY, &c) || c.copy != (__s64)STEP)
				goto fail;
		}
		t1 = bench_now();
		if (i)
			copy[i - 1] = gbps(bytes, t1 - t0);

		/* MADV_POPULATE_WRITE + copy + UFFDIO_MOVE, 2 MiB at a time */
		madvise(dst, bytes, MADV_DONTNEED);
		madvise(spare, bytes, MADV_DONTNEED);
		t0 = bench_now();
		for (size_t off = 0; off < bytes; off += STEP)
			if (madvise(spare + off, STEP, MADV_POPULATE_WRITE) ||
			    hms_user_read(spare + off, src + off, STEP) != (ssize_t)STEP ||
			    move_in(uffd, dst + off, spare + off))
				goto fail;
		t1 = bench_now();
		if (i)
			pop[i - 1] = gbps(bytes, t1 - t0);
		if (memcmp(dst, src, bytes))
			goto fail;

		/* recycled pages (populated before the clock starts) */
		madvise(dst, bytes, MADV_DONTNEED);
		if (madvise(spare, bytes, MADV_POPULATE_WRITE))
			goto fail;
		for (size_t off = 0; off < bytes; off += STEP) {
			t0 = bench_now();
			if (hms_user_read(spare + off, src + off, STEP) != (ssize_t)STEP ||
			    move_in(uffd, dst + off, spare + off))
				goto fail;
			tc += bench_now() - t0;
		}
		if (i)
			pool[i - 1] = gbps(bytes, tc);
		if (memcmp(dst, src, bytes))
			goto fail;
	}
	snprintf(params, sizeof(params), "%zu MiB, 2 MiB a call, 4 KiB pages", bytes >> 20);
	sc = bench_stats(copy, reps);

	bench_report(o, "fill", "UFFDIO_COPY (hms' way)", sc, "memcpy", bench_stats(base, reps),
		     "GB/s", true, 0, params);
	bench_report(o, "fill", "populate + copy + UFFDIO_MOVE", bench_stats(pop, reps),
		     "UFFDIO_COPY", sc, "GB/s", true, 0, params);
	bench_report(o, "fill", "recycled pages: copy + UFFDIO_MOVE", bench_stats(pool, reps),
		     "UFFDIO_COPY", sc, "GB/s", true, 0, params);
	ret = 0;
	goto out;
fail:
	fprintf(stderr, "hms bench fill: a fill failed: %s\n", strerror(errno));
out:
	if (uffd >= 0)
		close(uffd);
	if (src)
		munmap(src, bytes);
	if (dst)
		munmap(dst, bytes);
	if (spare)
		munmap(spare, bytes);
	if (b)
		munmap(b, bytes);
	free(copy);
	free(pop);
	free(pool);
	free(base);
	return ret;
}
