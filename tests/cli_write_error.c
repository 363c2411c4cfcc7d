/* SPDX-License-Identifier: MIT */
/*
 * cli_write_error: output that cannot be written is an error, never a
 * silent success.  With standard output on /dev/full every `hms`
 * subcommand (and the usage text of --help) says "write error on
 * standard output" with the reason on stderr and exits 1, as cat(1) or
 * numactl --hardware do; the one-shot commands that also open a fault
 * engine (demo, a short stress) only where this machine has userfaultfd.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "topo_util.h"

static const char *tool;
static char errpath[1024];

/* `hms ARGS >/dev/full`: exit status 1 and the message on stderr. */
static void full(const char *args, const char *cmd)
{
	char line[4096], want[256], *err;
	int st;

	/* no GPU library: bench gpu skips at once on every machine */
	snprintf(line, sizeof(line), "HMS_CUDA_LIBRARY=/nonexistent/libcuda.so '%s' %s "
		 ">/dev/full 2>'%s'", tool, args, errpath);
	st = topo_run(line, NULL);
	err = topo_read_file(errpath);
	snprintf(want, sizeof(want), "%s: write error on standard output: No space left on device\n",
		 cmd);
	TOPO_CHECK(st == 1 && err && strstr(err, want) && !strstr(err, "Sanitizer"),
		   "hms %s >/dev/full: exit %d (want 1), stderr should hold \"%s\":\n%s", args, st,
		   want, err ? err : "");
	/* said once, not by the command and again on the way out */
	TOPO_CHECK(!err || !strstr(err, want) ||
		   !strstr(strstr(err, want) + strlen(want), "write error"),
		   "hms %s: the write error is reported twice:\n%s", args, err);
	free(err);
}

int main(void)
{
	char *root = topo_fixture_root("qemu-3node-memonly-hmat-k612"), *dir = topo_tmpdir();
	char args[2048];
	struct hms *h;
	bool uffd;

	tool = getenv("HMS_TOOL");
	if (!tool || !root || !dir) {
		fprintf(stderr, "HMS_TOOL / fixtures missing\n");
		return 1;
	}
	if (access("/dev/full", W_OK)) {
		printf("SKIP: no writable /dev/full here\n");
		return TOPO_SKIP;
	}
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);

	/* the tree and the matrix are printf()s; JSON and dot are written
	 * (and flushed) by the library */
	snprintf(args, sizeof(args), "topo --root '%s'", root);
	full(args, "hms topo");
	snprintf(args, sizeof(args), "topo --matrix --root '%s'", root);
	full(args, "hms topo");
	snprintf(args, sizeof(args), "topo --json --root '%s'", root);
	full(args, "hms topo");
	snprintf(args, sizeof(args), "topo --dot --root '%s'", root);
	full(args, "hms topo");

	full("--help", "hms");
	full("topo --help", "hms topo");
	full("bench --help", "hms bench");
	full("stress --help", "hms stress");
	full("demo --help", "hms demo");
	full("bind --help", "hms bind");
	full("stat --help", "hms stat");
	full("bind --show", "hms bind");
	full("version", "hms version");
	full("--version", "hms --version");
	/* a cheap run: gpu skips (see full()) */
	full("bench --reps 1 --json gpu", "hms bench");

	uffd = hms_open(&h, &(struct hms_options){ .size = sizeof(struct hms_options),
						   .flags = HMS_OPEN_NO_TOPOLOGY }) == 0;
	if (uffd) {
		hms_close(h);
		full("demo", "hms demo");
		/* stress writes its lines with write(2), not stdio */
		full("stress --ops 10 --threads 1 --mib 1", "hms stress");
	} else {
		printf("no userfaultfd here: demo and stress runs left out\n");
	}
	free(root);
	return topo_result();
}
