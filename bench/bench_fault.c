/* SPDX-License-Identifier: MIT */
/*
 * bench_fault.c - a CPU read of one device-resident 4 KiB page (hms brings
 * it back: userfaultfd fault, migrate_to_ram, copy) against the raw
 * userfaultfd round trip it is built on: a missing fault resolved with
 * UFFDIO_COPY by a handler thread.
 */
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "hms.h"

#define PAGE 4096UL

/* ---- the baseline: a raw userfaultfd round trip ------------------------------- */

struct raw {
	int uffd;
	char *src;
	atomic_int stop; /* the handler thread reads it */
};

static void raw_copy(int uffd, unsigned long page, void *arg)
{
	struct raw *r = arg;
	struct uffdio_copy c = { .dst = page, .src = (unsigned long)r->src, .len = PAGE };

	ioctl(uffd, UFFDIO_COPY, &c);
}

static void *raw_handler(void *arg)
{
	struct raw *r = arg;

	bench_uffd_serve(r->uffd, &r->stop, raw_copy, r);
	return NULL;
}

static int raw_round_trips(unsigned reps, double *out)
{
	struct raw r = { .uffd = bench_uffd_open() };
	struct uffdio_api api = { .api = UFFD_API };
	char *page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_t t;

	struct uffdio_register reg = { .range = { (unsigned long)page, PAGE },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	int ret = -1;

	r.src = malloc(PAGE);
	if (r.uffd < 0 || ioctl(r.uffd, UFFDIO_API, &api) || page == MAP_FAILED || !r.src ||
	    ioctl(r.uffd, UFFDIO_REGISTER, &reg))
		goto out;
	memset(r.src, 1, PAGE);
	if (pthread_create(&t, NULL, raw_handler, &r))
		goto out;
	for (unsigned i = 0; i < reps; i++) {
		double t0;

		madvise(page, PAGE, MADV_DONTNEED);
		t0 = bench_now();
		(void)*(volatile char *)page;
		out[i] = (bench_now() - t0) * 1e6;
	}
	atomic_store(&r.stop, 1);
	pthread_join(t, NULL);
	ret = 0;
out:
	if (r.uffd >= 0)
		close(r.uffd);
	if (page != MAP_FAILED)
		munmap(page, PAGE);
	free(r.src);
	return ret;
}

/* ---- hms: a CPU read of a device-resident page ------------------------------------- */

static int hms_faults(unsigned reps, double *out)
{
	struct hms *h;
	struct hms_softdev *d = NULL;
	char *p;
	int ret = -1, err;

	/* One page per fault, as the baseline moves. */
	setenv("HMS_FAULT_AROUND", "1", 1);
	err = hms_open(&h, NULL);
	unsetenv("HMS_FAULT_AROUND");
	if (err)
		return -1;
	if (hms_softdev_create(h, NULL, &d))
		goto out;
	p = hms_alloc(h, PAGE, 0);
	if (!p)
		goto out;
	memset(p, 1, PAGE);
	for (unsigned i = 0; i < reps; i++) {
		struct hms_softdev_cmd c = { (uintptr_t)p, NULL, 1, 0, 0 };
		double t0;

		if (hms_softdev_migrate_to_device(d, &c) || c.cpages != 1)
			goto out;
		t0 = bench_now();
		(void)*(volatile char *)p;
		out[i] = (bench_now() - t0) * 1e6;
	}
	ret = 0;
out:
	if (d)
		hms_softdev_destroy(d);
	hms_close(h);
	return ret;
}

/* ---- huge areas: whole 2 MiB blocks against 16-page windows ------------------------ */

#define HUGE_MIB 64
#define HUGE_BLOCK (2UL << 20)

/*
 * One round: a fresh context (HMS_FAULT_HUGE=whole), a 64 MiB
 * HMS_ALLOC_HUGE area on the softdev, then a CPU read every stride bytes:
 * microseconds per 2 MiB into *us, KiB in huge pages after into *kb.
 */
static int huge_reads(bool whole, size_t stride, double *us, long *kb)
{
	size_t size = (size_t)HUGE_MIB << 20;
	struct hms_softdev_config cfg = { .size = sizeof(cfg), .pool_bytes = size };
	hms_uid t;
	struct hms *h;
	struct hms_softdev *d = NULL;
	char *p = NULL;
	int ret = -1, err;

	setenv("HMS_FAULT_HUGE", whole ? "1" : "0", 1);
	err = hms_open(&h, NULL);
	unsetenv("HMS_FAULT_HUGE");
	if (err)
		return -1;
	if (hms_softdev_create(h, &cfg, &d))
		goto out;
	t = hms_softdev_target(d);
	p = hms_alloc(h, size, HMS_ALLOC_HUGE);
	if (!p)
		goto out;
	memset(p, 1, size);
	if (hms_migrate(h, p, size, &t, 1, 0) != (long)(size / PAGE))
		goto out;
	*us = bench_read_every(p, size, stride, kb);
	ret = 0;
out:
	if (p)
		hms_free(h, p, size);
	if (d)
		hms_softdev_destroy(d);
	hms_close(h);
	return ret;
}

#define HUGE_ROUNDS 5

/* Whole blocks against windows, reading every stride bytes. */
static int bench_fault_huge(const struct bench_opts *o, size_t stride, const char *what,
			    const char *params)
{
	unsigned rounds = o->reps && o->reps < HUGE_ROUNDS ? o->reps : HUGE_ROUNDS;
	double a[HUGE_ROUNDS], b[HUGE_ROUNDS];
	long kb_whole = 0, kb_win = 0;

	/* A warm-up round each, then alternated. */
	if (huge_reads(true, stride, &a[0], &kb_whole) || huge_reads(false, stride, &b[0], &kb_win))
		return -1;
	for (unsigned i = 0; i < rounds; i++)
		if (huge_reads(true, stride, &a[i], &kb_whole) ||
		    huge_reads(false, stride, &b[i], &kb_win))
			return -1;
	bench_report(o, "fault", what, bench_stats(a, rounds), "windows", bench_stats(b, rounds),
		     "us/2MiB", false, 0, params);
	bench_note(o, "           huge pages after the reads: %ld KiB whole blocks, %ld KiB windows, "
		      "of %d MiB\n",
		   kb_whole, kb_win, HUGE_MIB);
	return 0;
}

int bench_fault(const struct bench_opts *o)
{
	unsigned reps = o->reps ? o->reps : 2000;
	double *a = calloc(reps, sizeof(double)), *b = calloc(reps, sizeof(double));
	int ret = -1;

	if (!a || !b)
		goto out;
	/* Warm up both paths, then interleave halves so drift hits both alike. */
	if (raw_round_trips(reps / 4 + 1, b) || hms_faults(reps / 4 + 1, a))
		goto out;
	if (raw_round_trips(reps / 2, b) || hms_faults(reps / 2, a) ||
	    raw_round_trips(reps - reps / 2, b + reps / 2) ||
	    hms_faults(reps - reps / 2, a + reps / 2))
		goto out;
	bench_report(o, "fault", "CPU read of a device-resident 4 KiB page", bench_stats(a, reps),
		     "raw-uffd", bench_stats(b, reps), "us", false, 1.5,
		     "1 page per fault, UFFDIO_COPY baseline");
	ret = bench_fault_huge(o, PAGE,
			       "CPU reads of every 4 KiB page of a device-resident huge area",
			       "64 MiB in 2 MiB pages: whole blocks per fault vs 16-page windows, "
			       "HMS_FAULT_HUGE=0");
	if (!ret)
		ret = bench_fault_huge(o, HUGE_BLOCK,
				       "one CPU read per 2 MiB of a device-resident huge area",
				       "64 MiB in 2 MiB pages: the whole block vs a 16-page window "
				       "per fault, HMS_FAULT_HUGE=0");
out:
	if (ret)
		fprintf(stderr, "hms bench fault: setup failed\n");
	free(a);
	free(b);
	return ret;
}
