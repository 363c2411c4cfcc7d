/* SPDX-License-Identifier: MIT */
/*
 * stress_huge - `hms stress --huge` with a fixed seed and one worker
 * thread: the memory is one HMS_ALLOC_HUGE area with holes, whole 2 MiB
 * blocks are migrated, protected, discarded, read and written among all
 * the other operations, and fresh huge areas are moved over blocks
 * (mremap); with a page pool of two ranges (HMS_PAGE_POOL_MB=4), so that
 * fills of whole blocks also go through fresh huge pages.  No byte may
 * differ from the shadow copy, no call fail unexpectedly, nothing hang;
 * and the summary must show whole-block operations, faults that brought
 * whole blocks back (HMS_FAULT_HUGE), and, where the kernel
 * moves pages (UFFDIO_MOVE) and grants transparent huge pages, huge pages
 * that moved to a device whole.  Runs the CLI ctest names in $HMS_TOOL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hms_test.h"
#include "inject.h"

static char out[1 << 16];

int main(void)
{
	/* A tenth in the emulated NUMA VM (HMS_IN_VM: 10 s there), half under
	 * ThreadSanitizer. */
#if defined(__SANITIZE_THREAD__)
	const char *ops = "5000";
#else
	const char *ops = "10000";
#endif
	const char *const args[] = { "--huge", "--seed", "42", "--ops",
				     getenv("HMS_IN_VM") ? "1000" : ops, "--threads", "1",
				     "--mib", "32", NULL };
	unsigned long long blocks = 0;
	size_t left = 0, fresh = 0, end = 0, all = 0, faulted = 0;
	bool gated, thp;
	const char *line;
	struct hms *h;
	void *p;

	T_EQ(setenv("HMS_PAGE_POOL_MB", "4", 1), 0);
#if defined(__SANITIZE_THREAD__)
	/* A whole-block operation holds 64 region locks and the gate: more
	 * than ThreadSanitizer's deadlock detector tracks in one thread (64;
	 * it stops the run with "CHECK failed"). */
	{
		static char opts[512];
		const char *was = getenv("TSAN_OPTIONS");

		snprintf(opts, sizeof(opts), "%s%sdetect_deadlocks=0", was ? was : "",
			 was && *was ? " " : "");
		T_EQ(setenv("TSAN_OPTIONS", opts, 1), 0);
	}
#endif
	h = t_open();
	gated = hms__test_gated_discard(h);
	p = hms_alloc(h, HMS_HUGE_PAGE_SIZE, HMS_ALLOC_HUGE);
	T_ASSERT(p);
	thp = t_anon_huge_kb(p) == (long)(HMS_HUGE_PAGE_SIZE >> 10);
	hms_close(h);

	t_stress(args, out, sizeof(out));
	line = strstr(out, "huge pages: ");
	T_ASSERT(line);
	T_EQ(sscanf(line,
		    "huge pages: %llu operations on a whole 2 MiB block; %zu MiB moved to devices "
		    "as whole huge pages, %zu MiB came back through fresh ones; %zu of %zu MiB "
		    "in huge pages at the end; faults asked for %zu MiB as whole blocks",
		    &blocks, &left, &fresh, &end, &all, &faulted),
	     6);
	T_ASSERT(blocks > 0);
	T_ASSERT(faulted > 0); /* CPU faults on blocks all on one device */
	if (gated && thp)
		T_ASSERT(left > 0);
	else
		printf("(no huge page can move whole here: %s)\n",
		       gated ? "no transparent huge pages" : "no gated discard");
	return 0;
}
