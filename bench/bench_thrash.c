/* SPDX-License-Identifier: MIT */
/*
 * bench_thrash.c - `hms bench thrash`: two parties touching the same
 * pages, bound to device memory, at once (8 MiB unless --mib).  Two
 * softdevs each read the range ten times, the policy listing both; then
 * one softdev reads it ten times while a CPU thread reads it over and
 * over.  Each runs with hms' damping (thrash.c, the defaults) and without
 * it (HMS_THRASH_ROUNDS=0) in the same run, alternately, each run cut
 * off after DEADLINE seconds; reported: device reads per second, the
 * migrations each made, and how many reads failed (-EBUSY: the softdev
 * gives up after a second of invalidations).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"
#include "hms.h"

#define PAGE 4096UL
#define READS 10
#define DEADLINE 5.0 /* seconds a run may take */

struct contest {
	struct hms *h;
	struct hms_softdev *d[2];
	char *p;
	size_t bytes;
	double until;     /* bench_now() deadline */
	atomic_int reads; /* device reads done, both devices */
	atomic_int done;  /* device threads finished */
	atomic_int failed; /* device reads that failed */
};

struct reader {
	struct contest *x;
	struct hms_softdev *d; /* NULL: the CPU */
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct contest *x = r->x;
	char *buf = r->d ? malloc(x->bytes) : NULL;
	volatile char sink = 0;

	for (int i = 0; r->d ? i < READS : !atomic_load(&x->done); i++) {
		struct hms_softdev_cmd c = { (uintptr_t)x->p, buf, x->bytes / PAGE };

		if (bench_now() > x->until)
			break;
		if (!r->d) {
			for (size_t k = 0; k < x->bytes; k += PAGE)
				sink += x->p[k];
			continue;
		}
		if (!buf)
			break;
		/* A read the contest made fail (-EBUSY after a second of
		 * invalidations: the undamped case does that) is counted. */
		if (hms_softdev_read(r->d, &c))
			atomic_fetch_add(&x->failed, 1);
		else
			atomic_fetch_add(&x->reads, 1);
	}
	(void)sink;
	if (r->d)
		atomic_fetch_add(&x->done, 1);
	free(buf);
	return NULL;
}

/*
 * One run: devices (2, or 1 and the CPU) read at once.  Device reads that
 * succeeded per second into *rate, migrations into *moves, reads that
 * failed added to *failed; -1 when the run could not be set up.
 */
static int contest_run(size_t bytes, bool damping, bool cpu, double *rate, double *moves,
		       unsigned *failed)
{
	struct hms_softdev_config c = { .size = sizeof(c), .pool_bytes = bytes + (4 << 20) };
	struct contest x = { .bytes = bytes };
	struct reader r[2] = { { &x, NULL }, { &x, NULL } };
	pthread_t th[2];
	struct hms_stats st;
	hms_uid t[2];
	double t0;
	int ret = -1;

	/* Read at hms_open. */
	if (setenv("HMS_THRASH_ROUNDS", damping ? "3" : "0", 1) || hms_open(&x.h, NULL))
		return -1;
	unsetenv("HMS_THRASH_ROUNDS");
	for (int i = 0; i < (cpu ? 1 : 2); i++) {
		if (hms_softdev_create(x.h, &c, &x.d[i]))
			goto out;
		t[i] = hms_softdev_target(x.d[i]);
		r[i].d = x.d[i];
	}
	x.p = hms_alloc(x.h, bytes, 0);
	if (!x.p)
		goto out;
	memset(x.p, 7, bytes);
	if (hms_bind(x.h, x.p, bytes, t, cpu ? 1 : 2, 0))
		goto out;
	t0 = bench_now();
	x.until = t0 + DEADLINE;
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, reader_main, &r[i]))
			goto out; /* (the first, if it started, ends by the deadline) */
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	*rate = atomic_load(&x.reads) / (bench_now() - t0);
	hms_stats(x.h, &st);
	*moves = (double)(st.migrations_to_device + st.migrations_to_system);
	*failed += (unsigned)atomic_load(&x.failed);
	ret = 0;
out:
	hms_close(x.h);
	return ret;
}

static int contest(const struct bench_opts *o, bool cpu, size_t bytes, unsigned reps)
{
	double *on = calloc(reps, sizeof(double)), *off = calloc(reps, sizeof(double));
	double *mon = calloc(reps, sizeof(double)), *moff = calloc(reps, sizeof(double));
	const char *name = cpu ? "thrash-cpu" : "thrash-dev";
	unsigned fail_on = 0, fail_off = 0;
	char params[160];
	int ret = 0;

	if (!on || !off || !mon || !moff) {
		ret = -1;
		goto out;
	}
	for (unsigned i = 0; i < reps && !ret; i++)
		if (contest_run(bytes, false, cpu, &off[i], &moff[i], &fail_off) ||
		    contest_run(bytes, true, cpu, &on[i], &mon[i], &fail_on))
			ret = -1;
	if (ret) {
		bench_skip(o, name, "a context, softdev or range could not be made");
		goto out;
	}
	snprintf(params, sizeof(params),
		 "%zu MiB, %d reads per device, %u runs, cut at %.0f s; reads failed: %u on, %u off",
		 bytes >> 20, READS, reps, DEADLINE, fail_on, fail_off);
	bench_report(o, name,
		     cpu ? "a softdev reading while a CPU thread reads, damping on vs off"
			 : "2 softdevs reading a range bound to both, damping on vs off",
		     bench_stats(on, reps), "damping off", bench_stats(off, reps), "reads/s", true,
		     0, params);
	bench_report(o, cpu ? "thrash-cpu-moves" : "thrash-dev-moves",
		     "pages migrated per run, damping on vs off", bench_stats(mon, reps),
		     "damping off", bench_stats(moff, reps), "pages", false, 0, params);
out:
	free(on);
	free(off);
	free(mon);
	free(moff);
	return ret;
}

int bench_thrash(const struct bench_opts *o)
{
	size_t bytes = o->bytes ? o->bytes : 8UL << 20;
	unsigned reps = o->reps ? o->reps : 3;

	if (contest(o, false, bytes, reps))
		return 1;
	return contest(o, true, bytes, reps) ? 1 : 0;
}
