/* migrate_device_swapped: pages swapped out (MADV_PAGEOUT) move to a
 * device with hms_migrate and come back with every byte, whichever way
 * hms finds out which pages hold data (the page table's word on a machine
 * of one node; a move_pages() query with HMS_ONE_NODE=0, which counts a
 * swapped page as not populated: then it stays, its data intact).
 * SKIP where the machine has no swap space, or the kernel kept the pages.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "hms_test.h"
#include "place_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define NP 64

/* Pages of [p, p + npages) present in memory (pagemap bit 63). */
static size_t present(const void *p, size_t npages)
{
	uint64_t e[NP];
	size_t n = 0;

	t_pagemap(p, npages, e);
	for (size_t i = 0; i < npages; i++)
		n += !!(e[i] & T_PM_PRESENT);
	return n;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, NP * T_PAGE);
	hms_uid dev = hms_softdev_target(d), node[T_MAX_NODES];
	int nodes[T_MAX_NODES];
	unsigned nn = t_node_targets(h, node, nodes);
	char *p = hms_alloc(h, NP * T_PAGE, 0);
	const char *one = getenv("HMS_ONE_NODE");
	long moved;

	T_ASSERT(p && nn >= 1);
	t_pattern(p, NP, 3);
	/* Written back first, freed at a later pass: a few tries. */
	for (int i = 0; i < 50 && present(p, NP); i++) {
		if (madvise(p, NP * T_PAGE, MADV_PAGEOUT))
			T_SKIP("MADV_PAGEOUT: %s", strerror(errno));
		usleep(10000);
	}
	if (present(p, NP))
		T_SKIP("%zu of %d pages still in memory after MADV_PAGEOUT (no swap space? "
		       "see swapon(8))", present(p, NP), NP);
	moved = hms_migrate(h, p, NP * T_PAGE, &dev, 1, 0);
	if (one && !strcmp(one, "0")) {
		/* The query finds no page where the swapped ones are. */
		T_ASSERT(moved >= 0 && moved <= NP);
	} else {
		T_EQ(moved, NP);
		T_EQ(hms_softdev_pages_used(d), NP);
	}
	T_EQ(hms_migrate(h, p, NP * T_PAGE, &node[0], 1, 0), moved);
	T_EQ(hms_softdev_pages_used(d), 0);
	t_pattern_check(p, NP, 3);
	hms_free(h, p, NP * T_PAGE);
	hms_close(h);
	return 0;
}
