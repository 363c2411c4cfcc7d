/* SPDX-License-Identifier: MIT */
/* pool_transit_swapped_race: pages swapped out between a migration's
 * write protection and its discard keep their uffd-wp bit in the swap
 * entry, which the discard's UFFDIO_MOVE carries into the transit range
 * as it is; a range kept for reuse then holds protected pages, and the
 * migration back, which writes them inside the fill gate, waited for the
 * handler while the handler waited for it (tests/pool_transit_wp_race
 * makes the same state with a hook, and no swap).  Here real swap does
 * it: the test hook MIGRATE_COMMIT, after the device's copy and before the
 * discard, pushes the run out with MADV_PAGEOUT.  hms lifts a kept
 * range's protection where swap was on as its pages moved in; the way back
 * must return, every byte intact.  SKIP without swap space, where the
 * kernel keeps the pages, or where page reuse is off. */
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define NPAGES 512 /* one 2 MiB batch */

static struct {
	int *p;
	size_t swapped; /* pages out when the hook left */
	int fired;
} race;

/* Pages of [p, p + NPAGES) swapped out (pagemap bit 62). */
static size_t swapped(const void *p)
{
	static uint64_t e[NPAGES];
	size_t n = 0;

	t_pagemap(p, NPAGES, e);
	for (size_t i = 0; i < NPAGES; i++)
		n += !!(e[i] & T_PM_SWAPPED);
	return n;
}

static void page_out(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)arg;
	(void)len;
	if (point != HMS_HOOK_MIGRATE_COMMIT || start != (uintptr_t)race.p || race.fired++)
		return;
	/* Written to swap first, freed at a later pass: a few tries. */
	for (int i = 0; i < 50 && swapped(race.p) < NPAGES; i++) {
		T_EQ(madvise(race.p, NPAGES * T_PAGE, MADV_PAGEOUT), 0);
		usleep(10000);
	}
	race.swapped = swapped(race.p);
}

int main(void)
{
	size_t size = NPAGES * T_PAGE;
	struct hms_softdev_cmd c;
	struct hms_softdev *d;
	struct sysinfo si;
	struct hms *h;
	int *p;

	T_EQ(sysinfo(&si), 0);
	if (!si.totalswap)
		T_SKIP("no swap space (see swapon(8); .ci/run makes a swap file)");
	setenv("HMS_PAGE_POOL_IDLE_MS", "60000", 1); /* kept hot, in transit */
	h = t_open();
	if (!hms__test_gated_discard(h))
		T_SKIP("no gated discard here (no UFFDIO_MOVE, or HMS_UFFD_MOVE=0)");
	d = t_softdev(h, 0);
	p = t_alloc_one_batch(h, size);
	t_fill(p, size / sizeof(int), 30);

	race.p = p;
	hms__test_hook_set(page_out, NULL);
	t_to_device(h, d, p, NPAGES, "there");
	hms__test_hook_set(NULL, NULL);
	T_EQ(race.fired, 1);
	if (hms__test_pool_bytes(h) == 0)
		T_SKIP("page reuse off here (several NUMA nodes, or HMS_PAGE_POOL_MB=0)");
	if (!race.swapped)
		T_SKIP("the kernel swapped out none of the pages (MADV_PAGEOUT)");

	/* Back on this thread: the fill writes the kept pages in the gate. */
	t_watchdog(30, "the migration back filling kept pages swapped out protected");
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, NPAGES, &c), 0);
	t_watchdog(0, NULL);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_SYSTEM), NPAGES);
	t_check(p, size / sizeof(int), 30);
	T_EQ(hms_free(h, p, size), 0);
	hms_close(h);
	printf("ok: %zu pages swapped out before the discard, every byte back\n", race.swapped);
	return 0;
}
