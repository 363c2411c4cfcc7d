/* SPDX-License-Identifier: MIT */
/*
 * cli_bad_input: every `hms` subcommand refuses a bad command line as
 * numactl does: exit 2 and a message on stderr that starts with the
 * command ("hms bench: ...") and names the bad argument; a runtime failure
 * (unreadable root, failed setup) exits 1 and says what failed.  Also that
 * the good forms next to each case still parse, and that a few cheap runs
 * (bench fill at 1 MiB, --json with skipped benchmarks, a 10-operation
 * stress, setup failures under ASan's leak check) behave.  hms bind and
 * hms stat take options up to COMMAND; a target that cannot be bound, an
 * output file that cannot be opened exit 1 before COMMAND runs.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "topo_util.h"

static const char *tool;
static char errpath[1024];
static char *out, *err;

/* Runs `ENV hms ARGS` in the shell: its exit status; stdout in out,
 * stderr in err. */
static int hms(const char *env, const char *args)
{
	char cmd[4096];
	int st;

	free(out);
	free(err);
	snprintf(cmd, sizeof(cmd), "%s '%s' %s 2>'%s'", env, tool, args, errpath);
	st = topo_run(cmd, &out);
	err = topo_read_file(errpath);
	if (!out)
		out = strdup("");
	if (!err)
		err = strdup("");
	return st;
}

/* Exit status want, and a message on stderr starting "hms " and holding
 * msg; no sanitizer report (ASan exits 1 after a leak too). */
static void fails(int want, const char *env, const char *args, const char *msg)
{
	int st = hms(env, args);

	TOPO_CHECK(st == want && !strncmp(err, "hms ", 4) && strstr(err, msg) &&
		   !strstr(err, "Sanitizer"),
		   "%s hms %s: exit %d (want %d), stderr should hold \"%s\":\n%s", env, args, st,
		   want, msg, err);
}

#define USAGE(args, msg) fails(2, "", args, msg)

static void stress_cases(bool uffd)
{
	static const char all[] =
		"cpu-read,cpu-write,dev-read,dev-write,dev-kernel,migrate-to-dev,migrate-to-sys,"
		"dev-release,dev-exclusive,prefault,protect,madv-dontneed,munmap,mmap+manage,"
		"mremap,'write(2)-from','read(2)-into',page-query,bind,bind-default,hms-migrate,"
		"fork,read-mostly,dirty-scan,unmanage";
	char args[1024];

	/* strtoull skips spaces and takes "-1" as 2^64 - 1; base 0 took 010 and 0x10 */
	USAGE("stress --ops ' -1'", "hms stress: --ops: invalid number ' -1'");
	USAGE("stress --seed ' -1'", "hms stress: --seed: invalid number ' -1'");
	USAGE("stress --ops 0x10", "hms stress: --ops: invalid number '0x10'");
	USAGE("stress --ops +5", "hms stress: --ops: invalid number '+5'");
	USAGE("stress --ops 0", "hms stress: --ops: '0' is out of range");
	USAGE("stress --threads 65", "hms stress: --threads: '65' is out of range");
	USAGE("stress --seed 99999999999999999999", "hms stress: --seed: '99999999999999999999'");
	USAGE("stress --ops", "hms stress: --ops: missing value");
	USAGE("stress --seconds 0x10", "hms stress: --seconds: invalid time '0x10'");
	USAGE("stress --seconds ' 5'", "hms stress: --seconds: invalid time ' 5'");
	USAGE("stress --bogus", "hms stress: unknown option '--bogus'");
	/* 09 is decimal 9 now: the next option is the one refused */
	USAGE("stress --seed 09 --ops x", "hms stress: --ops: invalid number 'x'");
	TOPO_CHECK(!strstr(err, "--seed:"), "--seed 09 refused:\n%s", err);

	USAGE("stress --ops 5 --seconds 1", "--ops and --seconds are alternatives");
	snprintf(args, sizeof(args), "stress --skip %s", all);
	USAGE(args, "hms stress: --skip: every operation is skipped, nothing left to run");
	USAGE("stress --skip nope", "hms stress: --skip: unknown operation 'nope'");
	USAGE("stress --skip", "hms stress: --skip: missing value");

	USAGE("stress --inject bogus:1", "hms stress: --inject: invalid spec 'bogus:1'");
	fails(2, "HMS_INJECT=bogus", "stress", "hms stress: HMS_INJECT: invalid spec 'bogus'");
	USAGE("stress --inject dev_copy:1", "hms stress: --inject: dev_copy:1 fails every pass");
	USAGE("stress --inject nomem:9,uffd_eagain:1",
	      "hms stress: --inject: uffd_eagain:1 fails every pass");
	fails(2, "HMS_INJECT=dev_copy:1", "stress", "hms stress: HMS_INJECT: dev_copy:1");
	USAGE("stress --inject notify_nomem:15",
	      "hms stress: --inject: notify_nomem:15 fails too often");
	/* N >= 2 is fine */
	USAGE("stress --inject dev_copy:2,uffd_eagain:2 --ops x", "hms stress: --ops: invalid");
	fails(2, "HMS_INJECT=dev_copy:2", "stress --ops x", "hms stress: --ops: invalid");

	if (!uffd)
		return;
	/* 010 is ten, 09 nine: a short run */
	TOPO_CHECK(hms("", "stress --seed 09 --ops 010 --threads 1 --mib 1") == 0 &&
		   strstr(out, "seed 9, 1 threads") && strstr(out, "operations 10") &&
		   strstr(out, "0 mismatches"), "stress --seed 09 --ops 010:\n%s%s", out, err);
}

static void bench_cases(bool uffd)
{
	char *s;

	USAGE("bench --reps abc", "hms bench: --reps: invalid number 'abc'");
	USAGE("bench --reps ''", "hms bench: --reps: invalid number ''");
	USAGE("bench --reps 0x10", "hms bench: --reps: invalid number '0x10'");
	USAGE("bench --reps 5abc", "hms bench: --reps: invalid number '5abc'");
	USAGE("bench --reps 1e3", "hms bench: --reps: invalid number '1e3'");
	USAGE("bench --reps -1", "hms bench: --reps: invalid number '-1'");
	USAGE("bench --reps 0", "hms bench: --reps: '0' is out of range (1 to 100000)");
	USAGE("bench --reps 4294967295", "hms bench: --reps: '4294967295' is out of range");
	USAGE("bench --reps 21474837 notify", "hms bench: --reps: '21474837' is out of range");
	USAGE("bench --mib 17592186044416", "hms bench: --mib: '17592186044416' is out of range");
	USAGE("bench --mib -1 snapshot", "hms bench: --mib: invalid number '-1'");
	USAGE("bench --mib 0", "hms bench: --mib: '0' is out of range (1 to 1048576)");
	USAGE("bench --reps", "hms bench: --reps: missing value");
	USAGE("bench fault --mib", "hms bench: --mib: missing value");
	USAGE("bench --bogus", "hms bench: unknown option '--bogus'");
	USAGE("bench nosuch", "hms bench: unknown benchmark 'nosuch'");
	USAGE("bench fault fault fault fault fault fault fault fault fault fault fault fault "
	      "fault fault fault fault fault", "hms bench: more than 16 benchmark names");
	/* -- ends the options: what follows is a name */
	USAGE("bench -- --json", "hms bench: unknown benchmark '--json'");
	USAGE("bench --reps 100000 --mib 1048576 -- x", "hms bench: unknown benchmark 'x'");
	TOPO_CHECK(strstr(err, "usage: hms bench"), "usage after the message:\n%s", err);

	/* --json: one JSON object per stdout line, skips included (no GPU
	 * library, so gpu skips on every machine) */
	TOPO_CHECK(hms("HMS_CUDA_LIBRARY=/nonexistent/libcuda.so",
		       "bench --json --reps 1 gpu") == 0 &&
		   strstr(out, "{\"bench\":\"gpu\",\"skipped\":\""), "gpu skip:\n%s%s", out, err);
	for (s = out; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL)
		TOPO_CHECK(*s == '{', "--json line is no JSON object: %.80s", s);

	if (!uffd)
		return;
	/* 1 MiB is one 2 MiB step of fill, not 0 */
	TOPO_CHECK(hms("", "bench --reps 1 --mib 1 fill") == 0 &&
		   (strstr(out, "2 MiB, 2 MiB a call") || strstr(out, "fill       SKIP")),
		   "bench fill --mib 1:\n%s%s", out, err);
	/* setup failures free what was made (exit 1, not a leak report) */
	fails(1, "HMS_INJECT=uffd_register:1", "bench --reps 1 --mib 2 migrate devread snapshot",
	      "hms bench migrate: setup failed");
	TOPO_CHECK(strstr(err, "hms bench devread: setup failed") &&
		   strstr(err, "hms bench snapshot: cannot allocate"), "setup failures:\n%s", err);
}

static void bind_stat_cases(void)
{
	USAGE("bind true", "hms bind: --target is required");
	TOPO_CHECK(strstr(err, "usage: hms bind") && !*out, "bind usage on stderr only");
	USAGE("bind --target", "hms bind: --target: missing value");
	USAGE("bind --target node0", "hms bind: missing command");
	USAGE("bind --target node0 --", "hms bind: missing command");
	USAGE("bind --target '' true", "hms bind: --target: empty target in ''");
	USAGE("bind --target=node0,,1 true", "hms bind: --target: empty target in 'node0,,1'");
	USAGE("bind --target ,node0 true", "hms bind: --target: empty target in ',node0'");
	USAGE("bind --target node0, true", "hms bind: --target: empty target in 'node0,'");
	USAGE("bind --target node0 --target 1 true", "hms bind: --target: given twice");
	USAGE("bind --bogus --target node0 true", "hms bind: unknown option '--bogus'");
	USAGE("bind --target node0 -m 0 true", "hms bind: unknown option '-m'");
	USAGE("bind --preferred=1 --target node0 true", "hms bind: --preferred: takes no value");
	USAGE("bind --show=yes", "hms bind: --show: takes no value");
	USAGE("bind --show --target node0", "hms bind: --show: takes no other argument ('--target')");
	USAGE("bind --show true", "hms bind: --show: takes no other argument ('true')");
	USAGE("bind --preferred --show", "hms bind: --show: takes no other argument ('--preferred')");
	/* runtime failures name the target; nothing runs */
	fails(1, "", "bind --target nosuch-target echo ran", "hms bind: --target nosuch-target: ");
	TOPO_CHECK(!*out, "the command ran: %s", out);
	fails(1, "", "bind --target softdev0 echo ran", "only such a program can place pages");
	TOPO_CHECK(!*out, "the command ran: %s", out);

	USAGE("bind --help=x", "hms bind: --help: takes no value");
	USAGE("stat --help=", "hms stat: --help: takes no value");
	USAGE("stat", "hms stat: missing command");
	TOPO_CHECK(strstr(err, "usage: hms stat") && !*out, "stat usage on stderr only");
	USAGE("stat --", "hms stat: missing command");
	USAGE("stat -o x.txt", "hms stat: missing command");
	USAGE("stat -o", "hms stat: -o: missing value");
	USAGE("stat --output", "hms stat: --output: missing value");
	USAGE("stat --bogus true", "hms stat: unknown option '--bogus'");
	USAGE("stat -o a -o b true", "hms stat: -o: given twice");
	USAGE("stat -o a --output=b true", "hms stat: --output: given twice");
	fails(1, "", "stat -o /nonexistent/hms/x echo ran", "hms stat: /nonexistent/hms/x: ");
	TOPO_CHECK(!*out, "the command ran: %s", out);
	fails(127, "", "stat nosuch-hms-command", "hms stat: 'nosuch-hms-command': No such file");
}

static void other_cases(const char *fixture, const char *dir)
{
	char args[2048], path[1024];

	USAGE("version --bogus", "hms version: unknown option '--bogus'");
	USAGE("version extra", "hms version: unexpected argument 'extra'");
	USAGE("--version extra", "hms --version: unexpected argument 'extra'");
	TOPO_CHECK(hms("", "version --help") == 0 && strstr(out, "usage: hms version"),
		   "version --help");

	USAGE("demo --bogus", "hms demo: unknown option '--bogus'");
	TOPO_CHECK(!*out && strstr(err, "usage: hms demo"), "demo usage on stderr only");
	USAGE("demo ''", "hms demo: unexpected argument ''");
	TOPO_CHECK(hms("", "demo --help") == 0 && strstr(out, "usage: hms demo") && !*err,
		   "demo --help on stdout");
	fails(1, "HMS_SYSFS_ROOT=/nonexistent/hms", "demo", "HMS_SYSFS_ROOT=/nonexistent/hms: ");

	USAGE("topo --bogus", "hms topo: unrecognized option '--bogus'");
	USAGE("topo --softdev", "hms topo: option '--softdev' requires an argument");
	USAGE("topo --softdev 0x10", "hms topo: --softdev: invalid number '0x10'");
	USAGE("topo --softdev 65", "hms topo: --softdev: '65' is out of range (0 to 64)");
	fails(1, "", "topo --softdev 1 --root /nonexistent/hms", "/nonexistent/hms");
	fails(1, "", "topo --root /nonexistent/hms", "hms topo: --root /nonexistent/hms: ");
	snprintf(args, sizeof(args), "topo --root '%s'", dir);
	fails(1, "", args, "neither sys/ nor proc/");
	snprintf(path, sizeof(path), "%s/proc", dir);
	TOPO_CHECK(mkdir(path, 0755) == 0, "mkdir %s", path);
	TOPO_CHECK(hms("", args) == 0, "a root with proc/ only loads:\n%s", err);

	/* --sysfs into a tree written before names the entry in the way */
	snprintf(args, sizeof(args), "topo --root '%s' --sysfs '%s/tree'", fixture, dir);
	TOPO_CHECK(hms("", args) == 0, "--sysfs:\n%s", err);
	fails(1, "", args, "/tree/v1-1-target is there already");
}

int main(void)
{
	char *fixture = topo_fixture_root("qemu-3node-memonly-hmat-k612"), *dir = topo_tmpdir();
	struct hms *h;
	bool uffd;

	tool = getenv("HMS_TOOL");
	if (!tool || !fixture || !dir) {
		fprintf(stderr, "HMS_TOOL / fixtures missing\n");
		return 1;
	}
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	/* the runs (not the parsing) need a fault engine */
	uffd = hms_open(&h, &(struct hms_options){ .size = sizeof(struct hms_options),
						   .flags = HMS_OPEN_NO_TOPOLOGY }) == 0;
	if (uffd)
		hms_close(h);
	else
		printf("no userfaultfd here: the runs are left out, the parsing is checked\n");
	stress_cases(uffd);
	bench_cases(uffd);
	other_cases(fixture, dir);
	bind_stat_cases();
	free(out);
	free(err);
	free(fixture);
	return topo_result();
}
