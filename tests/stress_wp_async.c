/* SPDX-License-Identifier: MIT */
/*
 * stress_wp_async - `hms stress --wp-async`: the random mix on a context
 * opened with HMS_OPEN_WP_ASYNC, where hms_dirty_scan() reads
 * PAGEMAP_SCAN and the kernel resolves CPU write faults itself.  Three
 * worker threads and a fixed seed, 30,000 operations on 8 MiB, then
 * 20,000 on 2 MiB of the operations that change pages or move them under
 * a scan only (CPU writes, device writes, migrations, release,
 * MADV_DONTNEED, mremap, fork, dirty-scan): every byte must match the
 * shadow copy and every page changed since its last scan must be
 * reported.  First, whatever the kernel: with HMS_WP_SYNC=1 (no
 * asynchronous write protection to be had) --wp-async must refuse to run,
 * exit 1 with the reason, not test the synchronous kind instead.  Skips
 * the runs where the kernel lacks WP_ASYNC (before Linux 6.7).  Runs the
 * CLI ctest names in $HMS_TOOL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms_test.h"
#include "topo_util.h"

/* The changed-pages count of the summary's "dirty scans:" line. */
static unsigned long long dirty_required(const char *out)
{
	const char *l = strstr(out, "dirty scans: ");

	return l ? strtoull(l + strlen("dirty scans: "), NULL, 10) : 0;
}

static void run(const char *const args[], const char *want)
{
	static char out[1 << 16];

	t_stress(args, out, sizeof(out));
	T_ASSERT(strstr(out, "userfaultfd full mode with asynchronous write protection") ||
		 strstr(out, "userfaultfd user-only mode with asynchronous write protection"));
	T_ASSERT(strstr(out, want));
	T_ASSERT(dirty_required(out) > 0); /* the scans had something to find */
}

int main(void)
{
	/* (a third in the emulated NUMA VM, HMS_IN_VM: 11 s there) */
	bool vm = getenv("HMS_IN_VM");
	const char *const all[] = { "--wp-async", "--seed", "5", "--ops", vm ? "10000" : "30000",
				    "--threads", "3", "--mib", "8", NULL };
	const char *const narrow[] = {
		"--wp-async", "--seed", "6", "--ops", vm ? "7000" : "20000", "--threads", "3",
		"--mib", "2",
		"--skip", "cpu-read,dev-read,dev-kernel,dev-exclusive,prefault,protect,munmap,"
			  "mmap+manage,write(2)-from,read(2)-into,page-query,bind,bind-default,"
			  "hms-migrate,read-mostly", NULL };
	char err[512];
	struct hms *h = t_open_flags(HMS_OPEN_WP_ASYNC); /* skips without userfaultfd */
	bool async = hms_wp_async(h);
	int st;

	hms_close(h);
	st = topo_run_tool("HMS_WP_SYNC=1", "stress --wp-async --ops 10 --mib 1 --threads 1 "
			   ">/dev/null", NULL, err, sizeof(err));
	topo_cleanup(); /* (the directory of its stderr) */
	if (st != 1 || strcmp(err, "hms stress: --wp-async: HMS_WP_SYNC is set in the "
			      "environment: unset it"))
		T_FAIL("HMS_WP_SYNC=1 hms stress --wp-async: exit %d (want 1), first line\n  %s",
		       st, err);
	if (!async)
		T_SKIP("no asynchronous userfaultfd write protection (WP_ASYNC) here "
		       "(the refusal without it was checked)");
	run(all, vm ? "seed 5: 10000 operations, 0 mismatches"
		   : "seed 5: 30000 operations, 0 mismatches");
	run(narrow, vm ? "seed 6: 7000 operations, 0 mismatches"
		      : "seed 6: 20000 operations, 0 mismatches");
	return 0;
}
