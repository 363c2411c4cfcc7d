/* SPDX-License-Identifier: MIT */
/*
 * bench_cli_env: `hms bench` checks $HMS_BENCH_BUSY_THREAD as it checks
 * its options: 0 or 1, digits only (exit 2, the message first on stderr
 * naming the variable and its value).  atoi() took "yes" as 0 and " 1"
 * or "1x" as 1, so a typo ran the migrate benchmark in the other
 * configuration than the one asked for, silently.  Set but empty is as
 * unset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo_util.h"

/* `HMS_BENCH_BUSY_THREAD=VALUE hms bench gpu`: no GPU library, so gpu
 * skips at once on every machine should the value be taken. */
static void busy(const char *value, int want, const char *msg)
{
	char env[256], err[1024];
	int st;

	snprintf(env, sizeof(env), "HMS_BENCH_BUSY_THREAD=%s HMS_CUDA_LIBRARY=/nonexistent/libcuda.so",
		 value);
	st = topo_run_tool(env, "bench --reps 1 gpu >/dev/null", NULL, err, sizeof(err));
	TOPO_CHECK(st == want && !strcmp(err, msg), "HMS_BENCH_BUSY_THREAD=%s hms bench: "
		   "exit %d (want %d), first line\n  %s\nwant\n  %s", value, st, want, err, msg);
}

int main(void)
{
	if (!getenv("HMS_TOOL")) {
		fprintf(stderr, "HMS_TOOL missing\n");
		return 1;
	}

	busy("yes", 2, "hms bench: HMS_BENCH_BUSY_THREAD: invalid number 'yes'");
	busy("' 1'", 2, "hms bench: HMS_BENCH_BUSY_THREAD: invalid number ' 1'");
	busy("1x", 2, "hms bench: HMS_BENCH_BUSY_THREAD: invalid number '1x'");
	busy("-1", 2, "hms bench: HMS_BENCH_BUSY_THREAD: invalid number '-1'");
	busy("2", 2, "hms bench: HMS_BENCH_BUSY_THREAD: '2' is out of range (0 to 1)");
	busy("1", 0, "");
	busy("0", 0, "");
	busy("''", 0, "");
	return topo_result();
}
