/* SPDX-License-Identifier: MIT */
/*
 * inject_zap_short: a migration to a device whose system copies are
 * discarded by MADV_DONTNEED (HMS_UFFD_MOVE=0) when the kernel skips
 * part of that discard, as kernels before 6.16 do after the mapping is
 * split during it (fault injection point zap_short: each madvise covers
 * the first half of its range only):
 *   1. once: the zap reads what is left and discards it again; every
 *      page reaches the device;
 *   2. always: the zap gives up after 8 tries, with 2 of 512 pages
 *      left; the 510 it discarded count as moved (their system copy is
 *      gone: they were read as zeros on the code before), the 2 stay in
 *      system memory, and hms_migrate says 510;
 * and every byte reads back.
 */
#include <stdio.h>
#include <stdlib.h>

#include "hms_test.h"
#include "inject.h"

#define NPAGES 512 /* one 2 MiB batch */

static void round_trip(struct hms *h, struct hms_softdev *d, long want_moved, uint64_t hits,
		       int base)
{
	const size_t n = NPAGES * T_PAGE / sizeof(int);
	int *p = t_alloc_one_batch(h, NPAGES * T_PAGE);
	hms_uid t = hms_softdev_target(d);

	t_fill(p, n, base);
	T_EQ(hms_migrate(h, p, NPAGES * T_PAGE, &t, 1, 0), want_moved);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_DEVICE), (size_t)want_moved);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_SYSTEM), (size_t)(NPAGES - want_moved));
	T_EQ(hms__inject_hits(HMS_INJ_ZAP_SHORT), hits);
	hms__inject_arm(NULL);
	t_check(p, n, base);
	T_EQ(hms_free(h, p, NPAGES * T_PAGE), 0);
}

int main(void)
{
	struct hms *h;
	struct hms_softdev *d;

	setenv("HMS_UFFD_MOVE", "0", 1);
	h = t_open();
	d = t_softdev(h, 0);

	hms__inject_arm_once(HMS_INJ_ZAP_SHORT);
	round_trip(h, d, NPAGES, 1, 1);

	T_EQ(hms__inject_arm("zap_short:1"), 0);
	round_trip(h, d, NPAGES - 2, 8, 2);

	hms_close(h);
	printf("ok\n");
	return 0;
}
