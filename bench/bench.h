/* SPDX-License-Identifier: MIT */
/*
 * bench.h - what the benchmarks share: timing, repetition statistics and
 * output (readable lines, or one JSON object per benchmark with --json).
 * Every benchmark measures hms and its baseline in the same run and
 * reports the ratio.
 */
#ifndef HMS_BENCH_H
#define HMS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bench_opts {
	bool json;
	unsigned reps;      /* repetitions for the statistics */
	size_t bytes;       /* working size, where a benchmark has one */
};

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

int bench_fault(const struct bench_opts *o);
int bench_migrate(const struct bench_opts *o);
int bench_fill(const struct bench_opts *o);
int bench_devread(const struct bench_opts *o);
int bench_snapshot(const struct bench_opts *o);
int bench_notify(const struct bench_opts *o);
int bench_numa(const struct bench_opts *o);
int bench_gpu(const struct bench_opts *o);
int bench_replicate(const struct bench_opts *o);

#endif
