/* SPDX-License-Identifier: MIT */
/*
 * stress.c - `hms stress`: the command line of the differential stress
 * test.  The engine (stress_layout.c, stress_ops.c, stress_run.c) runs a
 * seeded random mix of CPU, device, migration, protection and mapping
 * operations and checks every byte against a shadow copy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "inject.h"
#include "stress.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hms stress [--seed N] [--ops N | --seconds T] [--threads N] [--mib N]\n"
		"                  [--skip OPS] [--verbose] [--serial-launch] [--inject SPEC]\n"
		"                  [--gpu]\n"
		"\n"
		"Runs a seeded random mix of operations on managed memory and checks every\n"
		"byte against a shadow copy: CPU reads and writes from several threads,\n"
		"device reads, writes and kernels on two softdevs, migrations both ways and\n"
		"device release, exclusive access, hms_protect, hms_prefault, MADV_DONTNEED,\n"
		"munmap, mmap + hms_manage, mremap (also MREMAP_DONTUNMAP), read(2) and\n"
		"write(2) on managed memory, hms_bind/hms_bind_default/hms_migrate to the\n"
		"devices, READ_MOSTLY advice set and unset (read-mostly), and fork with\n"
		"the child checking every byte.\n"
		"Each region is owned by one writer or shared by readers at a time; hms is\n"
		"free to move pages underneath.  At the end every byte is checked through a\n"
		"device and the CPU, then again after hms_close().\n"
		"\n"
		"  --seed N      random seed (default 1); with --threads 1 a run is\n"
		"                reproducible, with more the interleaving is not\n"
		"  --ops N       stop after N operations\n"
		"  --seconds T   stop after T seconds (default 10)\n"
		"  --threads N   worker threads (default 4)\n"
		"  --mib N       managed memory in MiB (default 16); each softdev's pool\n"
		"                holds a quarter of it\n"
		"  --verbose     print progress every second\n"
		"  --skip OPS    never run these operations (comma-separated names as the\n"
		"                counts table prints them), to narrow a failure down\n"
		"  --serial-launch  never launch two kernels on one device at once (works\n"
		"                around a known softdev hang; off by default)\n"
		"  --inject SPEC make library calls fail on purpose while the workers run:\n"
		"                point:N[,point:N...], every Nth pass of the point fails;\n"
		"                points dev_alloc, dev_copy, uffd_eagain, uffd_register,\n"
		"                nomem (thread applies to setup only: see HMS_INJECT).\n"
		"                The run must still be clean; the faults injected\n"
		"                are counted\n"
		"  --gpu         attach a CUDA GPU too (hms_cuda_attach; its pool holds\n"
		"                the memory + 2 MiB, 4 to 64 MiB: it fills up) and add its\n"
		"                operations: hms_migrate to the GPU and back to a system\n"
		"                node, a kernel adding to every word of a window over a\n"
		"                span the thread owns, and a kernel copying a read-only\n"
		"                window (READ_MOSTLY: GPU replicas) into a scratch window,\n"
		"                compared with the shadow.  Without a usable GPU it says\n"
		"                why and exits 1; HMS_CUDA_LIBRARY=build/tests/gpu/libfakecuda.so\n"
		"                (built with the tests) stands in for one on any machine\n"
		"\n"
		"Prints the seed, the operation counts and, on a mismatch, the address, the\n"
		"expected and actual bytes and the last operations on that page.\n"
		"Exit status: 0 clean, 1 mismatch or error, 2 usage.\n");
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* --skip a,b,c: operation names as st_op_name() prints them. */
static int parse_skip(const char *list, uint32_t *out)
{
	char *copy = strdup(list ? list : ""), *save = NULL;
	int ret = list ? 0 : -1;

	for (char *w = strtok_r(copy, ",", &save); w && !ret; w = strtok_r(NULL, ",", &save)) {
		int op = 0;

		while (op < OP_COUNT && strcmp(w, st_op_name(op)))
			op++;
		if (op == OP_COUNT) {
			fprintf(stderr, "hms stress: unknown operation '%s'\n", w);
			ret = -1;
		} else {
			*out |= 1u << op;
		}
	}
	free(copy);
	return ret;
}

static int parse(int argc, char **argv, struct stress_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t x;
		char *end;

		if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
			o->verbose = true;
			continue;
		}
		if (!strcmp(a, "--gpu")) {
			o->gpu = true;
			continue;
		}
		if (!strcmp(a, "--serial-launch")) {
			o->serial_launch = true;
			continue;
		}
		if (!strcmp(a, "--seed") && !parse_u64(v, 0, UINT64_MAX, &x))
			o->seed = x;
		else if (!strcmp(a, "--ops") && !parse_u64(v, 1, UINT64_MAX, &x))
			o->ops = x;
		else if (!strcmp(a, "--threads") && !parse_u64(v, 1, 64, &x))
			o->threads = (unsigned)x;
		else if (!strcmp(a, "--mib") && !parse_u64(v, 1, 4096, &x))
			o->mib = (unsigned)x;
		else if (!strcmp(a, "--skip") && !parse_skip(v, &o->skip_ops))
			;
		else if (!strcmp(a, "--inject") && v && *v && !hms__inject_arm(v) &&
			 !hms__inject_arm(NULL))
			o->inject = v; /* checked; armed once the devices exist */
		else if (!strcmp(a, "--seconds") && v) {
			errno = 0;
			o->seconds = strtod(v, &end);
			if (errno || *end || !(o->seconds > 0) || o->seconds > 1e7) {
				fprintf(stderr, "hms stress: bad --seconds '%s'\n", v);
				return -1;
			}
		} else {
			fprintf(stderr, "hms stress: bad option '%s'%s%s\n", a, v ? " " : "",
				v ? v : "");
			return -1;
		}
		i++;
	}
	return 0;
}

int cmd_stress(int argc, char **argv)
{
	struct stress_opts o = { .seed = 1, .seconds = 10, .threads = 4, .mib = 16,
				 .hang_seconds = 60 };

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
	if (parse(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	fflush(stdout);
	return stress_run(&o);
}
