/* SPDX-License-Identifier: MIT */
/* bench.c - `hms bench`: the benchmark runner and its shared output. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "cmd.h"
#include "hms.h"
#include "json.h"

double bench_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct bench_stat bench_stats(double *v, size_t n)
{
	struct bench_stat s = { 0 };

	if (!n)
		return s;
	qsort(v, n, sizeof(*v), cmp_double);
	s.min = v[0];
	s.max = v[n - 1];
	s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	s.p10 = v[n / 10];
	s.p90 = v[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1];
	return s;
}

/*
 * --json output, a piece at a time: every string through the library's
 * escaper (a GPU name or a skip reason may hold any byte), numbers that
 * are no JSON number (inf, nan) as null.
 */
static void json_str(const char *before, const char *s)
{
	fputs(before, stdout);
	hms__json_string(stdout, s);
}

static void json_num(const char *before, const char *fmt, double v)
{
	fputs(before, stdout);
	if (isfinite(v))
		printf(fmt, v);
	else
		fputs("null", stdout);
}

/* median, min, p10, p90, max and the closing brace */
static void json_stat(const char *before, struct bench_stat s)
{
	fputs(before, stdout);
	json_num("\"median\":", "%.6g", s.median);
	json_num(",\"min\":", "%.6g", s.min);
	json_num(",\"p10\":", "%.6g", s.p10);
	json_num(",\"p90\":", "%.6g", s.p90);
	json_num(",\"max\":", "%.6g", s.max);
	fputc('}', stdout);
}

void bench_header(const struct bench_opts *o)
{
	struct utsname u;
	struct hms *h;
	const char *mode = "unavailable";

	uname(&u);
	if (hms_open(&h, &(struct hms_options){ .size = sizeof(struct hms_options),
						.flags = HMS_OPEN_NO_TOPOLOGY }) == 0) {
		mode = hms_mode(h) == HMS_MODE_FULL ? "full" : "user-mode-only";
		hms_close(h);
	}
	if (o->json) {
		json_str("{\"machine\":{\"kernel\":", u.release);
		printf(",\"cpus\":%ld", sysconf(_SC_NPROCESSORS_ONLN));
		json_str(",\"uffd_mode\":", mode);
		json_str(",\"hms\":", hms_version());
		printf("}}\n");
	} else if (o->reps) {
		printf("hms %s benchmarks on Linux %s, %ld CPUs, userfaultfd %s mode, %u repetitions\n",
		       hms_version(), u.release, sysconf(_SC_NPROCESSORS_ONLN), mode, o->reps);
	} else {
		printf("hms %s benchmarks on Linux %s, %ld CPUs, userfaultfd %s mode, each benchmark's "
		       "default repetitions\n",
		       hms_version(), u.release, sysconf(_SC_NPROCESSORS_ONLN), mode);
	}
}

void bench_report(const struct bench_opts *o, const char *name, const char *what,
		  struct bench_stat hs, const char *baseline, struct bench_stat bs,
		  const char *unit, bool higher_better, double target, const char *params)
{
	double ratio = bs.median > 0 ? hs.median / bs.median : 0;
	bool met = target <= 0 || (higher_better ? ratio >= target : ratio <= target);

	if (o->json) {
		json_str("{\"bench\":", name);
		json_str(",\"what\":", what);
		json_str(",\"params\":", params);
		json_str(",\"unit\":", unit);
		json_stat(",\"hms\":{", hs);
		json_str(",\"baseline\":{\"name\":", baseline);
		json_stat(",", bs);
		json_num(",\"ratio\":", "%.4f", ratio);
		printf(",\"higher_is_better\":%s", higher_better ? "true" : "false");
		json_num(",\"target\":", "%.3g", target);
		printf(",\"target_met\":%s}\n", met ? "true" : "false");
		return;
	}
	printf("%-10s %s (%s)\n", name, what, params);
	printf("           hms      median %10.3f %s  (p10 %.3f, p90 %.3f)\n", hs.median, unit,
	       hs.p10, hs.p90);
	printf("           %-8s median %10.3f %s  (p10 %.3f, p90 %.3f)\n", baseline, bs.median,
	       unit, bs.p10, bs.p90);
	if (target > 0)
		printf("           ratio %.3f (target %s %.2f: %s)\n", ratio,
		       higher_better ? ">=" : "<=", target, met ? "met" : "NOT met");
	else
		printf("           ratio %.3f\n", ratio);
}

void bench_skip(const struct bench_opts *o, const char *name, const char *why)
{
	if (!o->json) {
		printf("%-10s SKIP: %s\n", name, why);
		return;
	}
	json_str("{\"bench\":", name);
	json_str(",\"skipped\":", why);
	printf("}\n");
}

void bench_note(const struct bench_opts *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(o->json ? stderr : stdout, fmt, ap);
	va_end(ap);
}

static const struct {
	const char *name;
	int (*fn)(const struct bench_opts *);
	const char *help;
} benches[] = {
	{ "fault", bench_fault, "CPU fault on a device page vs a raw userfaultfd round trip" },
	{ "migrate", bench_migrate, "256 MiB to the softdev and back vs memcpy" },
	{ "fill", bench_fill, "filling missing pages: UFFDIO_COPY vs populate/recycled pages + UFFDIO_MOVE" },
	{ "devread", bench_devread, "softdev read of mirrored memory vs memcpy" },
	{ "snapshot", bench_snapshot, "hms_range_fault snapshot vs /proc/self/pagemap" },
	{ "notify", bench_notify, "one invalidation with 10,000 intervals vs 10" },
	{ "numa", bench_numa, "hms_migrate of 4096 pages between two NUMA nodes vs move_pages" },
	{ "gpu", bench_gpu, "1 GiB host<->GPU vs Unified Memory prefetch and pinned cuMemcpy; fault-back" },
	{ "replicate", bench_replicate,
	  "2 softdevs reading 64 MiB in turn: READ_MOSTLY vs bouncing; replica collapse cost" },
	{ "place", bench_place, "device's first read of 64 MiB bound to it: placing by touch vs hms_migrate" },
	{ "thrash", bench_thrash,
	  "2 softdevs (a softdev and the CPU) reading 8 MiB at once: damping on vs off" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: hms bench [--json] [--reps N] [--mib N] [--] [NAME...]\n\n"
		   "benchmarks:\n");
	for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++)
		fprintf(f, "  %-9s %s\n", benches[i].name, benches[i].help);
	fprintf(f, "\nWith no NAME all run.  Each reports hms and its baseline measured in the\n"
		   "same run, and their ratio.  --reps N: 1 to %u repetitions; --mib N:\n"
		   "1 to %u MiB of working size (fault, notify and numa have none).\n",
		BENCH_MAX_REPS, BENCH_MAX_MIB);
}

#define MAX_NAMES 16

static int find_bench(const char *name)
{
	for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++)
		if (!strcmp(name, benches[i].name))
			return (int)i;
	return -1;
}

/* 0 parsed, -1 usage error (said why); --help is cli_help()'s. */
static int parse(int argc, char **argv, struct bench_opts *o, const char **names, int *nnames)
{
	bool options = true;
	const char *env;
	uint64_t v;

	for (int i = 1; i < argc; i++) {
		struct cli_opt opt;
		const char *a, *next;

		cli_option(argc, argv, i, &opt);
		a = options ? opt.name : argv[i];
		next = opt.value;
		if (options && !strcmp(a, "--")) {
			options = false;
		} else if (options && !strcmp(a, "--json")) {
			if (cli_no_value("hms bench", &opt))
				return -1;
			o->json = true;
		} else if (options && !strcmp(a, "--reps")) {
			if (cli_uint("hms bench", a, next, 1, BENCH_MAX_REPS, &v))
				return -1;
			o->reps = (unsigned)v;
			i += !opt.joined;
		} else if (options && !strcmp(a, "--mib")) {
			if (cli_uint("hms bench", a, next, 1, BENCH_MAX_MIB, &v))
				return -1;
			o->bytes = (size_t)v << 20;
			i += !opt.joined;
		} else if (options && a[0] == '-') {
			fprintf(stderr, "hms bench: unknown option '%s'\n", argv[i]);
			return -1;
		} else if (find_bench(a) < 0) {
			fprintf(stderr, "hms bench: unknown benchmark '%s'\n", a);
			return -1;
		} else if (*nnames == MAX_NAMES) {
			fprintf(stderr, "hms bench: more than %d benchmark names\n", MAX_NAMES);
			return -1;
		} else {
			names[(*nnames)++] = a;
		}
	}
	/* checked as the options are (atoi took "yes" as 0, " 1" as 1); empty: unset */
	env = getenv("HMS_BENCH_BUSY_THREAD");
	if (env && *env) {
		if (cli_uint("hms bench", "HMS_BENCH_BUSY_THREAD", env, 0, 1, &v))
			return -1;
		o->busy_thread = v;
	}
	return 0;
}

int cmd_bench(int argc, char **argv)
{
	struct bench_opts o = { .json = false };
	const char *names[MAX_NAMES];
	int nnames = 0, ret = cli_help("hms bench", argc, argv);

	if (!ret)
		ret = parse(argc, argv, &o, names, &nnames);
	if (ret) {
		usage(ret > 0 ? stdout : stderr);
		return ret > 0 ? 0 : 2;
	}
	bench_header(&o);
	for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++) {
		bool run = !nnames;

		for (int k = 0; k < nnames; k++)
			run |= !strcmp(names[k], benches[i].name);
		if (run && benches[i].fn(&o))
			ret = 1;
	}
	return ret;
}

double bench_read_every(const char *p, size_t size, size_t stride, long *kb)
{
	double t0 = bench_now(), us;

	for (size_t o = 0; o < size; o += stride)
		(void)((const volatile char *)p)[o];
	us = (bench_now() - t0) * 1e6 / ((double)size / (double)(2UL << 20));
	if (kb)
		*kb = (long)(cli_anon_huge_bytes((uintptr_t)p, (uintptr_t)p + size) >> 10);
	return us;
}
