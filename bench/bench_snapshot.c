/* SPDX-License-Identifier: MIT */
/*
 * bench_snapshot.c - hms_range_fault() snapshot of present pages against
 * reading /proc/self/pagemap for the same range, and one invalidation
 * with many registered intervals against one with few.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "hms.h"
#include "hms_driver.h"

/* One warm snapshot and one pagemap read of [p, p + bytes); ms each. */
static int snapshot_round(struct hms *h, int fd, char *p, size_t bytes, uint64_t *pfns,
			  double *ms_hms, double *ms_pagemap)
{
	struct hms_range r = { .start = (uintptr_t)p, .end = (uintptr_t)p + bytes, .pfns = pfns };
	size_t npages = bytes / HMS_PAGE_SIZE, done = 0;
	double t0 = bench_now(), t1;

	if (hms_range_fault(h, &r))
		return -1;
	t1 = bench_now();
	while (done < npages) {
		ssize_t n = pread(fd, pfns, (npages - done) * 8,
				  (off_t)(((uintptr_t)p / HMS_PAGE_SIZE + done) * 8));

		if (n <= 0)
			return -1;
		done += (size_t)n / 8;
	}
	*ms_hms = (t1 - t0) * 1e3;
	*ms_pagemap = (bench_now() - t1) * 1e3;
	return 0;
}

int bench_snapshot(const struct bench_opts *o)
{
	size_t bytes = o->bytes ? o->bytes : 4UL << 30, npages = bytes / HMS_PAGE_SIZE;
	unsigned reps = o->reps ? o->reps : 5;
	double *a = calloc(reps, sizeof(double)), *b = calloc(reps, sizeof(double));
	double *cold = calloc(reps, sizeof(double)), ma, mb;
	/* mapped, not malloc'd: 8 bytes a page is 2 GiB for 1 TiB */
	uint64_t *pfns = mmap(NULL, npages * sizeof(uint64_t), PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/proc/self/pagemap", O_RDONLY), ret = 1;
	struct hms *h = NULL;
	char *p = NULL, params[96];

	if (!a || !b || !cold || pfns == MAP_FAILED || fd < 0 || hms_open(&h, NULL)) {
		fprintf(stderr, "hms bench snapshot: setup failed\n");
		goto out;
	}
	/* Huge areas are populated at allocation: every page is present. */
	p = hms_alloc(h, bytes, HMS_ALLOC_HUGE);
	if (!p) {
		fprintf(stderr, "hms bench snapshot: cannot allocate %zu MiB\n", bytes >> 20);
		goto out;
	}
	for (unsigned i = 0; i <= reps; i++) {
		if (snapshot_round(h, fd, p, bytes, pfns, &ma, &mb))
			goto fail;
		if (i) {
			a[i - 1] = ma;
			b[i - 1] = mb;
		}
	}
	/* Cold: right after every page's state was written (an hms_protect
	 * that changes nothing), so no chunk summary is known and the
	 * snapshot reads every pte once, recomputing them. */
	for (unsigned i = 0; i < reps; i++) {
		struct hms_range r = { .start = (uintptr_t)p, .end = (uintptr_t)p + bytes,
				       .pfns = pfns };
		double t0;

		if (hms_protect(h, p, bytes, PROT_READ | PROT_WRITE))
			goto fail;
		t0 = bench_now();
		if (hms_range_fault(h, &r))
			goto fail;
		cold[i] = (bench_now() - t0) * 1e3;
	}
	if (npages >= 1024)
		snprintf(params, sizeof(params), "%zu Ki present pages", npages >> 10);
	else
		snprintf(params, sizeof(params), "%zu present pages", npages);
	/* Reported as time: the ratio is hms / pagemap, target 1/5. */
	bench_report(o, "snapshot", "hms_range_fault snapshot", bench_stats(a, reps), "pagemap",
		     bench_stats(b, reps), "ms", false, 0.2, params);
	bench_report(o, "snapshot_cold", "the same, every chunk summary forgotten",
		     bench_stats(cold, reps), "pagemap", bench_stats(b, reps), "ms", false, 0,
		     params); /* no target: shown so the fast path is not read alone */
	ret = 0;
	goto out;
fail:
	fprintf(stderr, "hms bench snapshot: a snapshot failed\n");
out:
	if (p)
		hms_free(h, p, bytes);
	hms_close(h);
	if (fd >= 0)
		close(fd);
	if (pfns != MAP_FAILED)
		munmap(pfns, npages * sizeof(uint64_t));
	free(cold);
	free(a);
	free(b);
	return ret;
}

/* ---- notify ---------------------------------------------------------------------- */

static bool nop_invalidate(struct hms_interval *iv, const struct hms_notify_range *r,
			   unsigned long seq)
{
	(void)r;
	hms_interval_set_seq(iv, seq);
	return true;
}

static const struct hms_interval_ops nop_ops = { .invalidate = nop_invalidate };

/* Median cost (us) of one hms_protect() invalidation with n intervals,
 * one of which overlaps the page. */
static int notify_cost(unsigned n, unsigned reps, double *out)
{
	struct hms *h = NULL;
	struct hms_interval **iv = calloc(n, sizeof(*iv));
	char *p;
	int ret = -1;

	if (!iv || hms_open(&h, &(struct hms_options){ .size = sizeof(struct hms_options),
							.flags = HMS_OPEN_NO_TOPOLOGY }))
		goto out;
	p = hms_alloc(h, HMS_PAGE_SIZE, 0);
	if (!p || hms_interval_insert(h, (uintptr_t)p, HMS_PAGE_SIZE, &nop_ops, NULL, &iv[0]))
		goto out;
	/* The others watch addresses far from it. */
	for (unsigned i = 1; i < n; i++)
		if (hms_interval_insert(h, (1UL << 46) + (uintptr_t)i * 8192, 4096, &nop_ops, NULL,
					&iv[i]))
			goto out;
	for (unsigned i = 0; i < reps; i++) {
		double t0 = bench_now();

		hms_protect(h, p, HMS_PAGE_SIZE, (i & 1) ? PROT_READ | PROT_WRITE : PROT_READ);
		out[i] = (bench_now() - t0) * 1e6;
	}
	ret = 0;
out:
	for (unsigned i = 0; iv && i < n; i++)
		if (iv[i])
			hms_interval_remove(iv[i]);
	free(iv);
	hms_close(h);
	return ret;
}

int bench_notify(const struct bench_opts *o)
{
	unsigned reps = o->reps ? o->reps * 200 : 2000;
	double *a = calloc(reps, sizeof(double)), *b = calloc(reps, sizeof(double));

	if (!a || !b || notify_cost(10, reps, b) || notify_cost(10000, reps, a)) {
		fprintf(stderr, "hms bench notify: setup failed\n");
		free(a);
		free(b);
		return 1;
	}
	bench_report(o, "notify", "hms_protect invalidation, 10000 intervals", bench_stats(a, reps),
		     "10-ivals", bench_stats(b, reps), "us", false, 3.0,
		     "1 interval overlaps; ratio 10000 vs 10 registered");
	free(a);
	free(b);
	return 0;
}
