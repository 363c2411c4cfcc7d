/* SPDX-License-Identifier: MIT */
/*
 * bench_place.c - `hms bench place`: a softdev's first read of 64 MiB
 * (unless --mib) that the CPU wrote and a policy binds to the softdev's
 * memory, so that the read's range faults place the pages (hms_bind(3)),
 * against hms_migrate() of the same range to the softdev followed by the
 * same read: what placing by touch costs over moving the pages first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"
#include "hms.h"

#define PAGE 4096UL

/* One sample: milliseconds for the read (after hms_migrate if migrate). */
static int place_once(struct hms *h, struct hms_softdev *d, size_t bytes, char *buf,
		      bool migrate, double *ms)
{
	hms_uid t = hms_softdev_target(d);
	struct hms_softdev_cmd c = { 0, buf, bytes / PAGE };
	char *p = hms_alloc(h, bytes, 0);
	double t0;
	int ret = -1;

	if (!p)
		return -1;
	memset(p, 5, bytes);
	if (hms_bind(h, p, bytes, &t, 1, 0))
		goto out;
	c.addr = (uintptr_t)p;
	t0 = bench_now();
	if (migrate && hms_migrate(h, p, bytes, &t, 1, 0) != (long)(bytes / PAGE))
		goto out;
	if (hms_softdev_read(d, &c) || hms_softdev_pages_used(d) != bytes / PAGE)
		goto out;
	*ms = (bench_now() - t0) * 1e3;
	ret = 0;
out:
	hms_free(h, p, bytes);
	return ret;
}

int bench_place(const struct bench_opts *o)
{
	size_t bytes = o->bytes ? o->bytes : 64UL << 20;
	unsigned reps = o->reps ? o->reps : 5;
	struct hms_softdev_config c = { .size = sizeof(c), .pool_bytes = bytes + (4 << 20) };
	double *a = calloc(reps, sizeof(double)), *b = calloc(reps, sizeof(double));
	struct hms_softdev *d;
	struct hms *h = NULL;
	char *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char params[96];
	int ret = 1;

	if (buf == MAP_FAILED)
		buf = NULL;
	if (!a || !b || !buf || hms_open(&h, NULL) || hms_softdev_create(h, &c, &d)) {
		fprintf(stderr, "hms bench place: setup failed\n");
		goto out;
	}
	/* Alternated, after one warm-up of each. */
	for (unsigned i = 0; i <= reps; i++) {
		double x, y;

		if (place_once(h, d, bytes, buf, false, &x) ||
		    place_once(h, d, bytes, buf, true, &y)) {
			fprintf(stderr, "hms bench place: a read or a migration failed\n");
			goto out;
		}
		if (i) {
			a[i - 1] = x;
			b[i - 1] = y;
		}
	}
	snprintf(params, sizeof(params), "%zu MiB written by the CPU, bound to the softdev, "
		 "ms per first read", bytes >> 20);
	bench_report(o, "place", "a device's first read placing the pages by touch",
		     bench_stats(a, reps), "hms_migrate+read", bench_stats(b, reps), "ms", false, 0,
		     params);
	ret = 0;
out:
	hms_close(h);
	if (buf)
		munmap(buf, bytes);
	free(a);
	free(b);
	return ret;
}
