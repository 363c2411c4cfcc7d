/* inject_pool_unprotect_refused: when the kernel refuses to lift the write
 * protection of pages a gated discard keeps for reuse (UFFDIO_WRITEPROTECT
 * answers EAGAIN, as while an event is unread: injection point
 * uffd_eagain, armed from the moment the pages reach the transit range,
 * hook DISCARD_MOVED, until the run is committed), the pages move on to
 * the spare range (design 5a), whose descriptor never refuses for an
 * unread event and where no access waits: the range is still kept, its
 * transit range empty, and the way back fills from it, off the handler
 * (inside the fill gate) and on it (CPU faults), without waiting on a
 * protected page, every byte back.  The protection is the hook's, the
 * state swap leaves (tests/pool_transit_wp_race), and hms is told to take
 * the machine for one with swap.  SKIP where page reuse is off. */
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#include "hms_test.h"
#include "inject.h"

#define NPAGES 512 /* one 2 MiB batch */

static uintptr_t moved_at;
static uint64_t refused; /* lifts refused in the window */

static void refuse_lift(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	struct uffdio_writeprotect w = { .range = { start, len },
					 .mode = UFFDIO_WRITEPROTECT_MODE_WP };

	if (point == HMS_HOOK_DISCARD_MOVED) {
		while (ioctl(hms__test_uffd(arg), UFFDIO_WRITEPROTECT, &w))
			if (errno != EAGAIN)
				T_FAIL("UFFDIO_WRITEPROTECT of the transit pages: %s",
				       strerror(errno));
		moved_at = start;
		T_EQ(hms__inject_arm("uffd_eagain:1"), 0);
	} else if (point == HMS_HOOK_MIGRATE_COMMITTED && moved_at) {
		refused += hms__inject_hits(HMS_INJ_UFFD_EAGAIN);
		T_EQ(hms__inject_arm(NULL), 0);
	}
}

static void there(struct hms *h, struct hms_softdev *d, int *p, int base)
{
	uint64_t e;

	t_fill(p, NPAGES * T_PAGE / sizeof(int), base);
	moved_at = 0;
	refused = 0;
	hms__test_hook_set(refuse_lift, h);
	t_to_device(h, d, p, NPAGES, "there");
	hms__test_hook_set(NULL, NULL);
	T_EQ(hms__inject_arm(NULL), 0);
	T_ASSERT(moved_at);
	T_ASSERT(refused >= 1);
	/* Kept, and moved on: nothing left in the transit range. */
	T_EQ(hms__test_pool_bytes(h), NPAGES * T_PAGE);
	t_pagemap((void *)moved_at, 1, &e);
	T_ASSERT(!(e & T_PM_PRESENT));
}

int main(void)
{
	size_t size = NPAGES * T_PAGE;
	struct hms_softdev_cmd c;
	struct hms_softdev *d;
	struct hms *h;
	int *p;

	setenv("HMS_PAGE_POOL_IDLE_MS", "60000", 1); /* kept hot */
	h = t_open();
	hms__test_assume_swap(h); /* the state is swap's, made without it */
	if (!hms__test_gated_discard(h))
		T_SKIP("no gated discard here (no UFFDIO_MOVE, or HMS_UFFD_MOVE=0)");
	d = t_softdev(h, 0);
	p = t_alloc_one_batch(h, size);
	t_fill(p, size / sizeof(int), 1);
	t_to_device(h, d, p, NPAGES, "first");
	if (hms__test_pool_bytes(h) == 0)
		T_SKIP("page reuse off here (several NUMA nodes, or HMS_PAGE_POOL_MB=0)");
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, NPAGES, &c), 0);
	t_check(p, size / sizeof(int), 1);

	/* Back on this thread: the fill runs inside the gate. */
	there(h, d, p, 10);
	t_watchdog(30, "the migration back filling a kept range whose lift was refused");
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, NPAGES, &c), 0);
	t_watchdog(0, NULL);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_SYSTEM), NPAGES);
	T_EQ(hms__test_pool_bytes(h), 0);
	T_EQ(hms__test_pool_copied(h), 2 * size);
	t_check(p, size / sizeof(int), 10);

	/* Back by CPU faults: the handler's fills. */
	there(h, d, p, 20);
	t_watchdog(30, "CPU faults filling a kept range whose lift was refused");
	t_check(p, size / sizeof(int), 20);
	t_watchdog(0, NULL);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_SYSTEM), NPAGES);
	T_EQ(hms__test_pool_bytes(h), 0);

	T_EQ(hms_free(h, p, size), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	printf("ok: lift refused, kept pages moved on to the spare range, every byte back\n");
	return 0;
}
