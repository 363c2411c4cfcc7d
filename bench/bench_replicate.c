/* SPDX-License-Identifier: MIT */
/*
 * bench_replicate.c - `hms bench replicate`: two softdevs alternately read
 * the same range (64 MiB unless --mib), bound to both devices' memory.
 * Without advice, and with hms' damping off (HMS_THRASH_ROUNDS=0), each
 * read moves every page to the reader (pages bounce between the devices);
 * with HMS_ADVICE_READ_MOSTLY each device keeps a read-only replica and
 * the system copy stays.  A note line gives the default: no advice, the
 * damping on, which pins the blocks in system memory after three rounds
 * (thrash.c).  Then the cost of the first
 * CPU write to a page replicated on both devices (the collapse), per page,
 * against a raw userfaultfd write-protect round trip measured in the same
 * run, and hms' own write-protect fault without replicas (dirty tracking).
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

/* ---- two devices, alternately reading ------------------------------------------- */

struct pair {
	struct hms *h;
	struct hms_softdev *d[2];
	char *p, *buf;
	size_t bytes;
};

/* bounce: no damping (HMS_THRASH_ROUNDS=0), so that the pages bounce
 * every round rather than stay in system memory once the contest is seen
 * (thrash.c): the baseline this benchmark is about. */
static int pair_open(struct pair *x, size_t bytes, bool read_mostly, bool bounce)
{
	struct hms_softdev_config c = { .size = sizeof(c), .pool_bytes = bytes + (4 << 20) };
	hms_uid t[2];
	int ret;

	memset(x, 0, sizeof(*x));
	x->bytes = bytes;
	if (bounce && setenv("HMS_THRASH_ROUNDS", "0", 1))
		return -1;
	ret = hms_open(&x->h, NULL); /* reads it */
	if (bounce)
		unsetenv("HMS_THRASH_ROUNDS");
	if (ret || hms_softdev_create(x->h, &c, &x->d[0]) ||
	    hms_softdev_create(x->h, &c, &x->d[1]))
		return -1;
	x->p = hms_alloc(x->h, bytes, 0);
	/* mapped, not malloc'd: --mib may ask for more than the process gets */
	x->buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x->buf == MAP_FAILED)
		x->buf = NULL;
	if (!x->p || !x->buf)
		return -1;
	memset(x->p, 7, bytes);
	t[0] = hms_softdev_target(x->d[0]);
	t[1] = hms_softdev_target(x->d[1]);
	/* Both devices' memory is where the pages belong: an access moves
	 * them to the reader, unless replicas serve it. */
	if (hms_bind(x->h, x->p, bytes, t, 2, HMS_BIND_PREFERRED))
		return -1;
	if (read_mostly && hms_advise(x->h, x->p, bytes, HMS_ADVICE_READ_MOSTLY, 0))
		return -1;
	return 0;
}

static void pair_close(struct pair *x)
{
	if (x->buf)
		munmap(x->buf, x->bytes);
	hms_close(x->h);
}

/* One round: device 0 reads everything, then device 1; milliseconds. */
static double pair_round(struct pair *x)
{
	double t0 = bench_now();

	for (int k = 0; k < 2; k++) {
		struct hms_softdev_cmd c = { (uintptr_t)x->p, x->buf, x->bytes / PAGE };

		if (hms_softdev_read(x->d[k], &c))
			return -1;
	}
	return (bench_now() - t0) * 1e3;
}

static int pair_rounds(size_t bytes, bool read_mostly, bool bounce, unsigned reps, double *out,
		       struct hms_stats *st)
{
	struct pair x;
	int ret = pair_open(&x, bytes, read_mostly, bounce);

	/* The first round places the pages (or makes the replicas). */
	if (!ret && pair_round(&x) < 0)
		ret = -1;
	for (unsigned i = 0; !ret && i < reps; i++)
		if ((out[i] = pair_round(&x)) < 0)
			ret = -1;
	if (!ret)
		hms_stats(x.h, st);
	pair_close(&x);
	return ret;
}

/* The floor for a round of replica reads: two memcpys of the same bytes
 * between plain mappings (ms per round of two). */
static int memcpy_rounds(size_t bytes, unsigned reps, double *out)
{
	char *src = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *dst = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret = -1;

	if (src == MAP_FAILED || dst == MAP_FAILED)
		goto out;
	memset(src, 7, bytes);
	memset(dst, 0, bytes);
	for (unsigned i = 0; i < reps; i++) {
		double t0 = bench_now();

		for (int k = 0; k < 2; k++) {
			memcpy(dst, src, bytes);
			/* keep the copies: the compiler may not drop them */
			__asm__ volatile("" : : "r"(dst) : "memory");
		}
		out[i] = (bench_now() - t0) * 1e3;
	}
	ret = 0;
out:
	if (src != MAP_FAILED)
		munmap(src, bytes);
	if (dst != MAP_FAILED)
		munmap(dst, bytes);
	return ret;
}

/* ---- the baseline: a raw userfaultfd write-protect round trip ---------------------- */

struct rawwp {
	int uffd;
	atomic_int stop; /* the handler thread reads it */
};

static void rawwp_lift(int uffd, unsigned long page, void *arg)
{
	struct uffdio_writeprotect w = { .range = { page, PAGE }, .mode = 0 };

	(void)arg;
	ioctl(uffd, UFFDIO_WRITEPROTECT, &w);
}

static void *rawwp_handler(void *arg)
{
	struct rawwp *r = arg;

	bench_uffd_serve(r->uffd, &r->stop, rawwp_lift, NULL);
	return NULL;
}

static int rawwp_faults(unsigned n, double *out)
{
	struct rawwp r = { .uffd = bench_uffd_open() };
	struct uffdio_api api = { .api = UFFD_API };
	char *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_register reg = { .range = { (unsigned long)p, n * PAGE },
				       .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect w = { .range = { (unsigned long)p, n * PAGE },
					 .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	pthread_t t;

	/* (a failed setup leaks neither the descriptor nor the mapping) */
	if (r.uffd < 0 || ioctl(r.uffd, UFFDIO_API, &api) || p == MAP_FAILED)
		goto fail;
	memset(p, 1, n * PAGE);
	if (ioctl(r.uffd, UFFDIO_REGISTER, &reg) || ioctl(r.uffd, UFFDIO_WRITEPROTECT, &w) ||
	    pthread_create(&t, NULL, rawwp_handler, &r))
		goto fail;
	for (unsigned i = 0; i < n; i++) {
		double t0 = bench_now();

		((volatile char *)p)[i * PAGE] = 2;
		out[i] = (bench_now() - t0) * 1e6;
	}
	atomic_store(&r.stop, 1);
	pthread_join(t, NULL);
	close(r.uffd);
	munmap(p, n * PAGE);
	return 0;
fail:
	if (r.uffd >= 0)
		close(r.uffd);
	if (p != MAP_FAILED)
		munmap(p, n * PAGE);
	return -1;
}

/* ---- hms: the first write to a page, with or without replicas ---------------------- */

static int hms_first_writes(unsigned n, bool replicas, double *out)
{
	struct pair x;
	uint64_t *bm = calloc((n + 63) / 64, sizeof(uint64_t));
	int ret = -1;

	memset(&x, 0, sizeof(x));
	if (!bm || hms_open(&x.h, NULL))
		goto out;
	x.p = hms_alloc(x.h, n * PAGE, 0);
	x.buf = malloc(n * PAGE);
	if (!x.p || !x.buf)
		goto out;
	memset(x.p, 1, n * PAGE);
	if (replicas) {
		/* Replicated on two devices: the write drops both copies. */
		struct hms_softdev_config c = { .size = sizeof(c), .pool_bytes = n * PAGE };

		if (hms_softdev_create(x.h, &c, &x.d[0]) || hms_softdev_create(x.h, &c, &x.d[1]) ||
		    hms_advise(x.h, x.p, n * PAGE, HMS_ADVICE_READ_MOSTLY, 0))
			goto out;
		x.bytes = n * PAGE;
		if (pair_round(&x) < 0)
			goto out;
	} else if (hms_dirty_scan(x.h, x.p, n * PAGE, bm, 0) < 0) {
		goto out; /* protected for dirty tracking only */
	}
	for (unsigned i = 0; i < n; i++) {
		double t0 = bench_now();

		((volatile char *)x.p)[i * PAGE] = 2;
		out[i] = (bench_now() - t0) * 1e6;
	}
	ret = 0;
out:
	free(bm);
	free(x.buf);
	hms_close(x.h);
	return ret;
}

int bench_replicate(const struct bench_opts *o)
{
	size_t bytes = o->bytes ? o->bytes : 64UL << 20;
	unsigned reps = o->reps ? o->reps : 5, nw = 2000;
	double *a = calloc(reps, sizeof(double)), *b = calloc(reps, sizeof(double));
	double *wa = calloc(nw, sizeof(double)), *wb = calloc(nw, sizeof(double));
	double *wc = calloc(nw, sizeof(double)), *d = calloc(reps, sizeof(double));
	double *m = calloc(reps, sizeof(double));
	struct hms_stats sa = { 0 }, sb = { 0 }, sd = { 0 };
	struct bench_stat ds;
	char params[200];
	int ret = -1;

	if (!a || !b || !wa || !wb || !wc || !d || !m)
		goto out;
	if (pair_rounds(bytes, false, true, reps, b, &sb) ||
	    pair_rounds(bytes, true, false, reps, a, &sa) ||
	    pair_rounds(bytes, false, false, reps, d, &sd) || memcpy_rounds(bytes, reps, m)) {
		fprintf(stderr, "hms bench replicate: setup failed\n");
		goto out;
	}
	snprintf(params, sizeof(params),
		 "%zu MiB, 2 softdevs reading in turn, ms per round; read-mostly: %llu replicas "
		 "made; bouncing: %llu pages migrated",
		 bytes >> 20, (unsigned long long)sa.replicas_made,
		 (unsigned long long)(sb.migrations_to_device + sb.migrations_to_system));
	bench_report(o, "replicate", "READ_MOSTLY (replicas) vs pages bouncing between devices",
		     bench_stats(a, reps), "bouncing", bench_stats(b, reps), "ms", false, 0.2,
		     params);
	bench_report(o, "replica-read", "the same rounds of replica reads vs two memcpys",
		     bench_stats(a, reps), "memcpy", bench_stats(m, reps), "ms", false, 0,
		     "the copy a read of replicas cannot avoid; a bouncing read copies at "
		     "least three times (evict, migrate, read)");
	ds = bench_stats(d, reps);
	bench_note(o,
		   "           (no advice, damping on (HMS_THRASH_*): median %.3f ms per round, "
		   "%llu pages migrated: the pages stay in system memory once the contest is seen)\n",
		   ds.median, (unsigned long long)(sd.migrations_to_device + sd.migrations_to_system));

	if (rawwp_faults(nw, wb) || hms_first_writes(nw, true, wa) ||
	    hms_first_writes(nw, false, wc)) {
		fprintf(stderr, "hms bench replicate: write-protect setup failed\n");
		goto out;
	}
	bench_report(o, "collapse", "first CPU write to a page replicated on 2 devices",
		     bench_stats(wa, nw), "raw-wp", bench_stats(wb, nw), "us", false, 0,
		     "per page: PROTECTION_PAGE to both, replicas freed, unprotect; "
		     "vs a raw userfaultfd write-protect round trip");
	bench_report(o, "wp-fault", "first CPU write to a page armed for dirty tracking",
		     bench_stats(wc, nw), "raw-wp", bench_stats(wb, nw), "us", false, 0,
		     "hms' write-protect fault without replicas vs the raw round trip");
	ret = 0;
out:
	free(a);
	free(b);
	free(wa);
	free(wb);
	free(wc);
	free(d);
	free(m);
	return ret;
}
