/* SPDX-License-Identifier: MIT */
/*
 * cli_joined_options: `hms stress` and `hms bench` take an option and its
 * value joined by '=' as getopt_long does (and as `hms topo` and numactl
 * do): `--mib=1` is `--mib 1`.  An option without a value given one is a
 * usage error naming it, so is an empty value; an unknown option is named
 * whole.  A benchmark name after "--" is not split.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo_util.h"

static void usage_error(const char *args, const char *want)
{
	char err[1024];
	int st = topo_run_tool(NULL, args, NULL, err, sizeof(err));

	TOPO_CHECK(st == 2 && !strcmp(err, want),
		   "hms %s: exit %d (want 2), first line\n  %s\nwant\n  %s", args, st, err, want);
}

static void works(const char *args, const char *want_out)
{
	char *out = NULL, err[1024];
	int st = topo_run_tool(NULL, args, &out, err, sizeof(err));

	TOPO_CHECK(st == 0 && out && strstr(out, want_out),
		   "hms %s: exit %d (want 0), output should hold \"%s\":\n%s%s", args, st,
		   want_out, out ? out : "", err);
	free(out);
}

int main(void)
{
	struct hms *h;

	if (!getenv("HMS_TOOL")) {
		fprintf(stderr, "HMS_TOOL missing\n");
		return 1;
	}

	usage_error("stress --mib=", "hms stress: --mib: invalid number ''");
	usage_error("stress --mib=x", "hms stress: --mib: invalid number 'x'");
	usage_error("stress --threads=0", "hms stress: --threads: '0' is out of range (1 to 64)");
	usage_error("stress --gpu=1", "hms stress: --gpu: takes no value");
	usage_error("stress --verbose=", "hms stress: --verbose: takes no value");
	usage_error("stress --bogus=3", "hms stress: unknown option '--bogus=3'");
	usage_error("stress --skip=fork,nope", "hms stress: --skip: unknown operation 'nope'");
	usage_error("bench --reps=0", "hms bench: --reps: '0' is out of range (1 to 100000)");
	usage_error("bench --json=yes", "hms bench: --json: takes no value");
	usage_error("bench --bogus=1", "hms bench: unknown option '--bogus=1'");
	usage_error("bench -- --mib=1", "hms bench: unknown benchmark '--mib=1'");

	h = topo_open_empty();
	if (h) { /* userfaultfd works: the joined values are taken */
		hms_close(h);
		works("stress --ops=10 --mib=1 --threads=1 --seed=7 --skip=fork",
		      "hms stress: seed 7: 10 operations, 0 mismatches");
		works("bench --mib=1 --reps=1 replicate", "1 repetitions");
		works("bench --mib=1 --reps=1 replicate", "(1 MiB, ");
	}
	return topo_result();
}
