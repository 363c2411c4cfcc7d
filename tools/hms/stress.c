/* SPDX-License-Identifier: MIT */
/*
 * stress.c - `hms stress`: the command line of the differential stress
 * test.  The engine (stress_layout.c, stress_ops.c, stress_run.c) runs a
 * seeded random mix of CPU, device, migration, protection and mapping
 * operations and checks every byte against a shadow copy.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "inject.h"
#include "stress.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hms stress [--seed N] [--ops N | --seconds T] [--threads N] [--mib N]\n"
		"                  [--skip OPS] [--verbose] [--serial-launch] [--inject SPEC]\n"
		"                  [--gpu] [--wp-async] [--user-only] [--huge]\n"
		"\n"
		"Runs a seeded random mix of operations on managed memory and checks every\n"
		"byte against a shadow copy: CPU reads and writes from several threads,\n"
		"device reads, writes and kernels on two softdevs, migrations both ways and\n"
		"device release, exclusive access, hms_protect, hms_prefault, MADV_DONTNEED,\n"
		"munmap, mmap + hms_manage, mremap (also MREMAP_DONTUNMAP), read(2) and\n"
		"write(2) on managed memory, hms_bind/hms_bind_default/hms_migrate to the\n"
		"devices, READ_MOSTLY advice set and unset (read-mostly), hms_dirty_scan\n"
		"(dirty-scan: every page changed since its last scan must be reported),\n"
		"hms_unmanage and hms_manage again (unmanage: the bytes checked, some\n"
		"written while unmanaged), and fork with the child checking every byte.\n"
		"Each region is owned by one writer or shared by readers at a time; hms is\n"
		"free to move pages underneath.  At the end every byte is checked through a\n"
		"device and the CPU, then again after hms_close().\n"
		"\n"
		"  --seed N      random seed (default 1); with --threads 1 a run is\n"
		"                reproducible, with more the interleaving is not.\n"
		"                --skip unmanage draws what a seed drew before that\n"
		"                operation existed, --skip unmanage,dirty-scan what\n"
		"                it drew before either did\n"
		"  --ops N       stop after N operations\n"
		"  --seconds T   stop after T seconds (default 10); not with --ops\n"
		"  --threads N   worker threads (default 4)\n"
		"  --mib N       managed memory in MiB (default 16); each softdev's pool\n"
		"                holds a quarter of it\n"
		"  --verbose, -v print progress every second, and what each thread is in\n"
		"                after a second in which no operation was tried\n"
		"  --skip OPS    never run these operations (comma-separated names as the\n"
		"                counts table prints them), to narrow a failure down\n"
		"  --serial-launch  never launch two kernels on one device at once (works\n"
		"                around a known softdev hang; off by default)\n"
		"  --inject SPEC make library calls fail on purpose while the workers run:\n"
		"                point:N[,point:N...], every Nth pass of the point fails\n"
		"                (N from 1 to 1000000000, digits only; each point once);\n"
		"                points dev_alloc, dev_copy, uffd_eagain, uffd_register,\n"
		"                nomem, notify_nomem, spare_move, zap_short (thread\n"
		"                applies to setup only: see HMS_INJECT); dev_copy and\n"
		"                uffd_eagain need N >= 2 (with 1 nothing could finish),\n"
		"                notify_nomem N >= 16.\n"
		"                $HMS_INJECT is checked alike.\n"
		"                The run must still be clean; the faults injected\n"
		"                are counted\n"
		"  --gpu         attach a CUDA GPU too (hms_cuda_attach; its pool holds\n"
		"                the memory in whole chunks plus one, two if chunks are\n"
		"                larger than 2 MiB, 4 MiB at least, at most 64 MiB or\n"
		"                three chunks: it fills up) and add its operations:\n"
		"                hms_migrate to the GPU and back to a system node, a\n"
		"                kernel adding to every word of a window over a\n"
		"                span the thread owns, and a kernel copying a read-only\n"
		"                window (READ_MOSTLY: GPU replicas) into a scratch window,\n"
		"                compared with the shadow.  Without a usable GPU it says\n"
		"                why and exits 1; HMS_CUDA_LIBRARY=build/tests/gpu/libfakecuda.so\n"
		"                (built with the tests) stands in for one on any machine\n"
		"  --wp-async    open the context with HMS_OPEN_WP_ASYNC: dirty-scan reads\n"
		"                PAGEMAP_SCAN and the kernel resolves CPU write faults.\n"
		"                read-mostly (set) and dev-exclusive must then fail with\n"
		"                -EOPNOTSUPP, and populated system pages stay put on\n"
		"                migrations to a device.  The operations drawn are the\n"
		"                same.  Without the kernel feature (Linux 6.7+) or with\n"
		"                HMS_WP_SYNC=1 it says why and exits 1\n"
		"  --user-only   open the context with HMS_OPEN_USER_MODE_ONLY, as an\n"
		"                unprivileged user gets it: the kernel's own accesses\n"
		"                (device write faults, read(2), write(2)) cannot fault\n"
		"                into hms\n"
		"  --huge        the memory is one hms_alloc(HMS_ALLOC_HUGE) area (in huge\n"
		"                pages where the kernel grants them; --mib rounded up to\n"
		"                a multiple of 2) with holes in some of its 2 MiB blocks;\n"
		"                most operations cover the whole block around their\n"
		"                region (always in even blocks, one time in four in odd\n"
		"                ones), huge-renew moves a fresh huge area over a block\n"
		"                (mremap), and each softdev's pool holds all the memory.\n"
		"                The summary says how many operations covered a block,\n"
		"                how much moved to devices as whole huge pages and came\n"
		"                back through fresh ones, how much is huge at the end\n"
		"  --help, -h    this text (alone: not with other arguments)\n"
		"\n"
		"Prints the seed, the operation counts and, on a mismatch, the address, the\n"
		"expected and actual bytes and the last operations on that page.\n"
		"Exit status: 0 clean, 1 mismatch or error, 2 usage.\n");
}

/*
 * --skip a,b,c: operation names as st_op_name() prints them.  An empty
 * name (--skip '', "a,,b", a trailing comma) is refused: strtok would
 * pass over it, and --skip '' would run with nothing skipped, silently.
 */
static int parse_skip(const char *list, uint32_t *out)
{
	if (!list) {
		fprintf(stderr, "hms stress: --skip: missing value\n");
		return -1;
	}
	for (const char *w = list;; w++) {
		size_t len = strcspn(w, ",");
		int op = 0;

		if (!len) {
			fprintf(stderr, "hms stress: --skip: empty operation name in '%s'\n", list);
			return -1;
		}
		while (op < OP_COUNT && (strlen(st_op_name(op)) != len ||
					 strncmp(w, st_op_name(op), len)))
			op++;
		if (op == OP_COUNT) {
			fprintf(stderr, "hms stress: --skip: unknown operation '%.*s'\n", (int)len, w);
			return -1;
		}
		*out |= 1u << op;
		w += len;
		if (!*w)
			return 0;
	}
}

/*
 * The points that fail on every pass with N = 1 and so leave nothing that
 * can ever finish: every copy of a migration (dev_copy), every
 * userfaultfd ioctl (uffd_eagain).  And notify_nomem, where a change that
 * cannot be refused tries again until its lists are allocated: one try
 * makes up to about ten allocations, so with N below 16 every try could
 * fail.
 */
static int check_stuck(const char *what, const char *point, uint64_t n)
{
	static const struct {
		const char *name;
		unsigned long min;
	} stuck[] = { { "dev_copy", 2 }, { "uffd_eagain", 2 }, { "notify_nomem", 16 } };

	for (size_t k = 0; k < sizeof(stuck) / sizeof(stuck[0]); k++)
		if (n < stuck[k].min && !strcmp(point, stuck[k].name)) {
			fprintf(stderr, "hms stress: %s: %s:%llu fails %s and the run can never "
				"make progress; use %s:%lu or more\n", what, point,
				(unsigned long long)n, n == 1 ? "every pass" : "too often",
				point, stuck[k].min);
			return -1;
		}
	return 0;
}

/*
 * One item of an --inject spec, the len bytes at s: a point not seen yet
 * (seen[p] set), a colon and its count (n[p]).  0, or -1 after a message
 * naming the spec and what is wrong in it.
 */
static int inject_item(const char *what, const char *spec, const char *s, size_t len,
		       bool *seen, uint64_t *n)
{
	size_t name = strcspn(s, ":,");
	int p = 0, err;

	while (p < HMS_INJ_NPOINTS && (strlen(hms__inject_name(p)) != name ||
				       strncmp(s, hms__inject_name(p), name)))
		p++;
	if (!len || name == len || p == HMS_INJ_NPOINTS || seen[p]) {
		fprintf(stderr, "hms stress: %s: invalid spec '%s': ", what, spec);
		if (!len)
			fprintf(stderr, "empty item\n");
		else if (name == len)
			fprintf(stderr, "no count in '%.*s' (point:N)\n", (int)len, s);
		else if (p == HMS_INJ_NPOINTS)
			fprintf(stderr, "unknown point '%.*s'\n", (int)name, s);
		else
			fprintf(stderr, "%s is given twice\n", hms__inject_name(p));
		return -1;
	}
	seen[p] = true;
	err = cli_parse_uint(s + name + 1, len - name - 1, 1, 1000000000, &n[p]);
	if (err) {
		fprintf(stderr, "hms stress: %s: invalid spec '%s': %s: ", what, spec,
			hms__inject_name(p));
		cli_uint_why(stderr, s + name + 1, len - name - 1, err, 1, 1000000000);
		return -1;
	}
	return 0;
}

/*
 * A spec as hms__inject_arm() takes it, checked without arming anything,
 * and strictly: each N digits only (the library's strtoul would take
 * " 5" and "+5"), no empty item, no point twice (which N was meant?).
 * what is "--inject" or "HMS_INJECT"; an empty --inject is refused.
 */
static int parse_inject(const char *what, const char *spec)
{
	bool seen[HMS_INJ_NPOINTS] = { false };
	uint64_t n[HMS_INJ_NPOINTS] = { 0 };

	if (!spec) {
		fprintf(stderr, "hms stress: %s: missing value\n", what);
		return -1;
	}
	if (!*spec) {
		fprintf(stderr, "hms stress: %s: empty spec\n", what);
		return -1;
	}
	for (const char *s = spec;; s++) {
		size_t len = strcspn(s, ",");

		if (inject_item(what, spec, s, len, seen, n))
			return -1;
		s += len;
		if (!*s)
			break;
	}
	for (int p = 0; p < HMS_INJ_NPOINTS; p++)
		if (seen[p] && check_stuck(what, hms__inject_name(p), n[p]))
			return -1;
	return 0;
}

static int parse_seconds(const char *v, double *out)
{
	char *end = NULL;

	if (!v) {
		fprintf(stderr, "hms stress: --seconds: missing value\n");
		return -1;
	}
	/* decimal only: strtod alone would take " 5", "0x10" and "inf" */
	errno = 0;
	if (*v && !v[strspn(v, "0123456789.")])
		*out = strtod(v, &end);
	if (!end || errno || *end || !(*out > 0) || *out > 1e7) {
		fprintf(stderr, "hms stress: --seconds: invalid time '%s' (above 0, up to "
			"10000000)\n", v);
		return -1;
	}
	return 0;
}

/* Every operation a run could draw is skipped: nothing is left. */
static bool all_skipped(const struct stress_opts *o)
{
	for (int op = 0; op < OP_COUNT; op++)
		if (!(o->skip_ops & (1u << op)) && st_op_drawn(o, op))
			return false;
	return true;
}

static int parse(int argc, char **argv, struct stress_opts *o)
{
	bool ops = false, seconds = false;
	const char *env = getenv("HMS_INJECT");

	for (int i = 1; i < argc; i++) {
		struct cli_opt opt;
		const char *a, *v;
		uint64_t x = 0;
		int err;

		cli_option(argc, argv, i, &opt);
		a = opt.name;
		v = opt.value;
		if (!strcmp(a, "--verbose") || !strcmp(a, "-v") || !strcmp(a, "--gpu") ||
		    !strcmp(a, "--serial-launch") || !strcmp(a, "--wp-async") ||
		    !strcmp(a, "--user-only") || !strcmp(a, "--huge")) {
			if (cli_no_value("hms stress", &opt))
				return -1;
			if (!strcmp(a, "--gpu"))
				o->gpu = true;
			else if (!strcmp(a, "--wp-async"))
				o->wp_async = true;
			else if (!strcmp(a, "--user-only"))
				o->user_only = true;
			else if (!strcmp(a, "--huge"))
				o->huge = true;
			else if (!strcmp(a, "--serial-launch"))
				o->serial_launch = true;
			else
				o->verbose = true;
			continue;
		}
		if (!strcmp(a, "--seed")) {
			err = cli_uint("hms stress", a, v, 0, UINT64_MAX, &x);
			o->seed = x;
		} else if (!strcmp(a, "--ops")) {
			err = cli_uint("hms stress", a, v, 1, UINT64_MAX, &x);
			o->ops = x;
			ops = true;
		} else if (!strcmp(a, "--threads")) {
			err = cli_uint("hms stress", a, v, 1, 64, &x);
			o->threads = (unsigned)x;
		} else if (!strcmp(a, "--mib")) {
			err = cli_uint("hms stress", a, v, 1, 4096, &x);
			o->mib = (unsigned)x;
		} else if (!strcmp(a, "--skip")) {
			err = parse_skip(v, &o->skip_ops);
		} else if (!strcmp(a, "--inject")) {
			err = parse_inject(a, v);
			o->inject = v; /* armed once the devices exist */
		} else if (!strcmp(a, "--seconds")) {
			err = parse_seconds(v, &o->seconds);
			seconds = true;
		} else {
			fprintf(stderr, "hms stress: %s '%s'\n", a[0] == '-' ? "unknown option" :
				"unexpected argument", argv[i]);
			return -1;
		}
		if (err)
			return -1;
		i += !opt.joined;
	}
	if (ops && seconds) {
		fprintf(stderr, "hms stress: --ops and --seconds are alternatives: give one\n");
		return -1;
	}
	if (all_skipped(o)) {
		fprintf(stderr, "hms stress: --skip: every operation is skipped, nothing left to "
			"run\n");
		return -1;
	}
	/* hms_open() ignores a bad $HMS_INJECT: refuse it as --inject is
	 * (empty: unset) */
	return env && *env ? parse_inject("HMS_INJECT", env) : 0;
}

int cmd_stress(int argc, char **argv)
{
	struct stress_opts o = { .seed = 1, .seconds = 10, .threads = 4, .mib = 16,
				 .hang_seconds = 60 };
	int ret;

	ret = cli_help("hms stress", argc, argv);
	if (ret > 0) {
		usage(stdout);
		return 0;
	}
	if (ret || parse(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	fflush(stdout);
	ret = stress_run(&o);
	/* its lines are write(2)s, which main()'s check of stdio cannot see */
	if (st_log_error() >= 0) {
		cli_write_error("hms stress", st_log_error());
		return ret ? ret : 1;
	}
	return ret;
}
