/* SPDX-License-Identifier: MIT */
/*
 * bench.h - what the benchmarks share: timing, repetition statistics and
 * output (readable lines, or one JSON object per benchmark with --json).
 * Every benchmark measures hms and its baseline in the same run and
 * reports the ratio.
 */
#ifndef HMS_BENCH_H
#define HMS_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bench_opts {
	bool json;
	unsigned reps;      /* repetitions for the statistics; 0: the default */
	size_t bytes;       /* working size, where a benchmark has one; 0: the default */
	bool busy_thread;   /* $HMS_BENCH_BUSY_THREAD=1: migrate spins a thread beside */
};

/*
 * --reps and --mib bounds, far from overflow in every benchmark's
 * arithmetic: notify takes reps * 200 samples, numa 2 * reps; sizes are
 * size_t byte counts, mib << 20 plus a few MiB of pool.
 */
#define BENCH_MAX_REPS 100000u
#define BENCH_MAX_MIB (1u << 20) /* 1 TiB */

double bench_now(void); /* seconds, monotonic */

/* Statistics of a sample set (sorted in place). */
struct bench_stat {
	double median, min, max, p10, p90;
};
struct bench_stat bench_stats(double *v, size_t n);

/*
 * Report one benchmark: name, what hms measured and what the baseline
 * measured (same unit), the unit, whether higher is better, the target
 * ratio (0: none) and a free-form parameter string.
 */
void bench_report(const struct bench_opts *o, const char *name, const char *what,
		  struct bench_stat hms, const char *baseline, struct bench_stat base,
		  const char *unit, bool higher_better, double target, const char *params);

/* Machine and mode line, printed once. */
void bench_header(const struct bench_opts *o);

/*
 * A benchmark that cannot run here (exit status 0): "NAME SKIP: why", or
 * with --json {"bench":"NAME","skipped":"why"}, on stdout.
 */
void bench_skip(const struct bench_opts *o, const char *name, const char *why);

/* A line of extra information: stdout, or stderr with --json (whose
 * stdout holds JSON objects only). */
void bench_note(const struct bench_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * A raw userfaultfd for a baseline (baseline_uffd.c): O_CLOEXEC |
 * O_NONBLOCK, user-mode-only where the full one is refused (EPERM): the
 * benchmarks' faults come from user space, or none is taken.  The fd, or
 * -1 with errno.
 */
int bench_uffd_open(void);

/*
 * A baseline's handler thread: reads uffd's messages until *stop is set
 * (within 100 ms) and hands each page fault's page to resolve(uffd, page,
 * arg), which resolves it with the baseline's ioctl.
 */
void bench_uffd_serve(int uffd, atomic_int *stop,
		      void (*resolve)(int uffd, unsigned long page, void *arg), void *arg);

/*
 * CPU reads of one byte every stride bytes of [p, p + size) (a fault each
 * where the memory is on a device): microseconds per 2 MiB, and into *kb
 * (may be NULL) the KiB of the range in transparent huge pages after.
 */
double bench_read_every(const char *p, size_t size, size_t stride, long *kb);

int bench_fault(const struct bench_opts *o);
int bench_migrate(const struct bench_opts *o);
int bench_fill(const struct bench_opts *o);
int bench_devread(const struct bench_opts *o);
int bench_snapshot(const struct bench_opts *o);
int bench_notify(const struct bench_opts *o);
int bench_numa(const struct bench_opts *o);
int bench_gpu(const struct bench_opts *o);
struct hms_cu;
/* Part of bench_gpu: the cost of CUDA's virtual memory calls (lines only);
 * 0, or -1 when a call failed (said in a line). */
int bench_gpu_chunks(const struct bench_opts *o, const struct hms_cu *cu);
/* Part of bench_gpu: how fast 1-16 threads copy bytes of data into pinned
 * memory, the staged copy's ceiling (a line); 0, or -1 (said in a line). */
int bench_gpu_host(const struct bench_opts *o, const struct hms_cu *cu, size_t bytes);
struct hms;
/* Part of bench_gpu: a read-only window's replicas of N MiB against
 * hms_migrate of as many bytes to the GPU (a report line); 0, or -1 (said
 * on stderr). */
int bench_gpu_replica(const struct bench_opts *o, struct hms *h, const struct hms_cu *cu,
		      size_t bytes, unsigned reps);
int bench_replicate(const struct bench_opts *o);
int bench_thrash(const struct bench_opts *o);
int bench_place(const struct bench_opts *o);

#endif
