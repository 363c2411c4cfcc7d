/* SPDX-License-Identifier: MIT */
/*
 * bench_migrate.c - bandwidth of migration to the softdev and back (in
 * 2 MiB batches), and of a softdev read of memory it already mirrors,
 * against memcpy of the same size between populated buffers.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"
#include "hms.h"

static double gbps(size_t bytes, double secs)
{
	return secs > 0 ? (double)bytes / secs / 1e9 : 0;
}

/* memcpy between two populated buffers of the size: the baseline. */
static int memcpy_runs(size_t bytes, unsigned reps, double *out)
{
	char *a = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	char *b = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (a == MAP_FAILED || b == MAP_FAILED) {
		fprintf(stderr, "hms bench: cannot map 2 x %zu MiB for memcpy\n", bytes >> 20);
		if (a != MAP_FAILED)
			munmap(a, bytes);
		if (b != MAP_FAILED)
			munmap(b, bytes);
		return -1;
	}
	memset(a, 1, bytes);
	memset(b, 2, bytes);
	for (unsigned i = 0; i < reps; i++) {
		double t0 = bench_now();

		memcpy(b, a, bytes);
		out[i] = gbps(bytes, bench_now() - t0);
	}
	munmap(a, bytes);
	munmap(b, bytes);
	return 0;
}

/* HMS_BENCH_BUSY_THREAD=1: a thread of the process spins meanwhile (on
 * another CPU where there is one), touching no memory: every TLB flush of
 * the address space then reaches that CPU too, as with a multi-threaded
 * application or a driver's copy threads. */
static atomic_bool busy_stop;

static void *busy_thread(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&busy_stop, memory_order_relaxed))
		;
	return NULL;
}

struct setup {
	struct hms *h;
	struct hms_softdev *d;
	char *p;
	char *small; /* mixed: 4 KiB pages moved there and back first */
};

/* Closes what setup() made, all or part (hms_close frees the rest). */
static void teardown(struct setup *s)
{
	if (s->d)
		hms_softdev_destroy(s->d);
	hms_close(s->h);
	memset(s, 0, sizeof(*s));
}

static int setup(struct setup *s, size_t bytes, unsigned alloc_flags, bool mixed)
{
	struct hms_softdev_config c = { .size = sizeof(c), .pool_bytes = bytes };

	memset(s, 0, sizeof(*s));
	if (hms_open(&s->h, NULL) || hms_softdev_create(s->h, &c, &s->d) ||
	    !(s->p = hms_alloc(s->h, bytes, alloc_flags)) ||
	    (mixed && !(s->small = hms_alloc(s->h, bytes, 0)))) {
		teardown(s);
		return -1;
	}
	memset(s->p, 3, bytes);
	if (mixed)
		memset(s->small, 4, bytes);
	return 0;
}

/* reps round trips (after one to warm up) of bytes in pages of
 * alloc_flags: GB/s each way into to[] and back[].  mixed: as much in
 * 4 KiB pages goes to the device and back before each (not timed), and
 * the warm-up round counts too (what a first migration costs). */
static int migrate_rounds(size_t bytes, unsigned reps, unsigned alloc_flags, bool mixed,
			  double *to, double *back)
{
	size_t npages = bytes / HMS_PAGE_SIZE;
	struct setup s;
	int ret = 0;

	if (setup(&s, bytes, alloc_flags, mixed)) {
		fprintf(stderr, "hms bench migrate: setup failed\n");
		return -1;
	}
	for (unsigned i = mixed; i <= reps && !ret; i++) {
		struct hms_softdev_cmd c = { (uintptr_t)s.p, NULL, npages, 0, 0 };
		struct hms_softdev_cmd m = { (uintptr_t)s.small, NULL, npages, 0, 0 };
		double t0, t1;

		if (mixed && (hms_softdev_migrate_to_device(s.d, &m) ||
			      hms_softdev_migrate_to_system(s.d, &m))) {
			fprintf(stderr, "hms bench migrate: the 4 KiB pages' round trip failed\n");
			ret = -1;
			break;
		}
		t0 = bench_now();
		if (hms_softdev_migrate_to_device(s.d, &c) || c.cpages != npages) {
			fprintf(stderr, "hms bench migrate: moved %lu of %zu pages\n",
				(unsigned long)c.cpages, npages);
			ret = -1;
			break;
		}
		t1 = bench_now();
		hms_softdev_migrate_to_system(s.d, &c);
		if (i) { /* the first round warms up */
			to[i - 1] = gbps(bytes, t1 - t0);
			back[i - 1] = gbps(bytes, bench_now() - t1);
		}
	}
	teardown(&s);
	return ret;
}

int bench_migrate(const struct bench_opts *o)
{
	size_t bytes = o->bytes ? o->bytes : 256UL << 20;
	unsigned reps = o->reps ? o->reps : 5;
	double *to = calloc(reps, sizeof(double)), *back = calloc(reps, sizeof(double));
	double *base = calloc(reps, sizeof(double));
	bool busy = o->busy_thread;
	pthread_t busy_tid;
	struct bench_stat bs;
	char params[128];
	int ret = 1;

	if (!to || !back || !base || memcpy_runs(bytes, reps, base))
		goto out;
	bs = bench_stats(base, reps);
	atomic_store(&busy_stop, false);
	if (busy && pthread_create(&busy_tid, NULL, busy_thread, NULL))
		busy = false;
	/* 4 KiB pages (hms_alloc's default), then 2 MiB ones (HMS_ALLOC_HUGE:
	 * the kernel protects and moves each as one entry, design 5a), then
	 * 2 MiB ones with 4 KiB ones going to the device and back before each
	 * round in the same context, no warm-up (the spare ranges hold page
	 * tables then, which huge pages must avoid: design 5a). */
	for (int huge = 0; huge < 3; huge++) {
		if (migrate_rounds(bytes, reps, huge ? HMS_ALLOC_HUGE : 0, huge == 2, to, back))
			goto out_busy;
		snprintf(params, sizeof(params), "%zu MiB in 2 MiB batches%s%s", bytes >> 20,
			 huge == 2 ? ", huge pages after 4 KiB ones, no warm-up" :
			 huge	   ? ", huge pages" : "",
			 busy ? ", a busy thread beside" : "");
		bench_report(o, "migrate", "system -> softdev", bench_stats(to, reps), "memcpy",
			     bs, "GB/s", true, 0.5, params);
		bench_report(o, "migrate", "softdev -> system", bench_stats(back, reps), "memcpy",
			     bs, "GB/s", true, 0.5, params);
	}
	ret = 0;
out_busy:
	if (busy) {
		atomic_store(&busy_stop, true);
		pthread_join(busy_tid, NULL);
	}
out:
	free(to);
	free(back);
	free(base);
	return ret;
}

int bench_devread(const struct bench_opts *o)
{
	size_t bytes = o->bytes ? o->bytes : 256UL << 20, npages = bytes / HMS_PAGE_SIZE;
	unsigned reps = o->reps ? o->reps : 5;
	double *rd = calloc(reps, sizeof(double)), *base = calloc(reps, sizeof(double));
	char *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	struct setup s = { 0 };
	char params[96];
	int ret = 1;

	if (!rd || !base || buf == MAP_FAILED || setup(&s, 2UL << 20, 0, false)) {
		fprintf(stderr, "hms bench devread: setup failed\n");
		goto out;
	}
	hms_free(s.h, s.p, 2UL << 20);
	s.p = hms_alloc(s.h, bytes, 0);
	if (!s.p) {
		fprintf(stderr, "hms bench devread: cannot allocate %zu MiB\n", bytes >> 20);
		goto out;
	}
	memset(s.p, 5, bytes);
	if (memcpy_runs(bytes, reps, base))
		goto out;
	for (unsigned i = 0; i <= reps; i++) {
		struct hms_softdev_cmd c = { (uintptr_t)s.p, buf, npages, 0, 0 };
		double t0 = bench_now();

		if (hms_softdev_read(s.d, &c)) {
			fprintf(stderr, "hms bench devread: the softdev read failed\n");
			goto out;
		}
		if (i) /* the first read mirrors the range */
			rd[i - 1] = gbps(bytes, bench_now() - t0);
	}
	snprintf(params, sizeof(params), "%zu MiB already mirrored", bytes >> 20);
	bench_report(o, "devread", "softdev read of system memory", bench_stats(rd, reps),
		     "memcpy", bench_stats(base, reps), "GB/s", true, 0.8, params);
	ret = 0;
out:
	teardown(&s);
	if (buf != MAP_FAILED)
		munmap(buf, bytes);
	free(rd);
	free(base);
	return ret;
}
