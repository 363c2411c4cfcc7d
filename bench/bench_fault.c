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
	ret = 0;
out:
	if (ret)
		fprintf(stderr, "hms bench fault: setup failed\n");
	free(a);
	free(b);
	return ret;
}
