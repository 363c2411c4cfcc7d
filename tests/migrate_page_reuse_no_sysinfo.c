/* migrate_page_reuse_no_sysinfo: where sysinfo() fails (a seccomp filter
 * refuses it), hms takes the machine for one with swap space: the write
 * protection of a kept range's pages is lifted as it is kept, so a way
 * back that fills from them never waits on a protected page, and every
 * byte reads back.  Taking it for one without swap would skip the lift
 * and hang that way back (tests/pool_transit_wp_race tells why: only a
 * swap entry carries the uffd-wp bit into the transit range).  As there,
 * the hook DISCARD_MOVED protects the moved pages, the state swap leaves.
 * First, with sysinfo() working: the lift is made only where the machine
 * has swap (the kept range is then dropped, as memory pressure would, so
 * that the way back does not write the protected pages).  SKIP where page
 * reuse is off or seccomp filters are unavailable. */
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>

#include "hms_test.h"
#include "inject.h"

#define NPAGES 512 /* one 2 MiB batch */

static uintptr_t moved_at; /* where the discard left the pages */

static void protect_moved(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	struct uffdio_writeprotect w = { .range = { start, len },
					 .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	int fd = hms__test_uffd(arg);

	if (point != HMS_HOOK_DISCARD_MOVED)
		return;
	while (ioctl(fd, UFFDIO_WRITEPROTECT, &w))
		if (errno != EAGAIN)
			T_FAIL("UFFDIO_WRITEPROTECT of the transit pages: %s", strerror(errno));
	T_ASSERT(t_kernel_wp((void *)start));
	moved_at = start;
}

/* To the device, the moved pages protected; whether they are still
 * protected where they were kept. */
static bool there(struct hms *h, struct hms_softdev *d, int *p, int base)
{
	uint64_t e;

	t_fill(p, NPAGES * T_PAGE / sizeof(int), base);
	moved_at = 0;
	hms__test_hook_set(protect_moved, h);
	t_to_device(h, d, p, NPAGES, "there");
	hms__test_hook_set(NULL, NULL);
	if (hms__test_pool_bytes(h) == 0)
		T_SKIP("page reuse off here (several NUMA nodes, or HMS_PAGE_POOL_MB=0)");
	T_ASSERT(moved_at);
	T_EQ(hms__test_pool_bytes(h), NPAGES * T_PAGE);
	t_pagemap((void *)moved_at, 1, &e);
	T_ASSERT(e & T_PM_PRESENT); /* kept hot, in the transit range */
	return e & T_PM_UFFD_WP;
}

static void back(struct hms *h, struct hms_softdev *d, int *p, int base)
{
	struct hms_softdev_cmd c;

	t_watchdog(30, "the migration back filling kept pages");
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, NPAGES, &c), 0);
	t_watchdog(0, NULL);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_SYSTEM), NPAGES);
	t_check(p, NPAGES * T_PAGE / sizeof(int), base);
}

int main(void)
{
	struct hms_softdev *d;
	struct sysinfo si;
	bool swap;
	struct hms *h;
	int *p;

	setenv("HMS_PAGE_POOL_IDLE_MS", "60000", 1); /* kept hot, in transit */
	h = t_open();
	if (!hms__test_gated_discard(h))
		T_SKIP("no gated discard here (no UFFDIO_MOVE, or HMS_UFFD_MOVE=0)");
	d = t_softdev(h, 0);
	p = t_alloc_one_batch(h, NPAGES * T_PAGE);
	T_EQ(sysinfo(&si), 0);
	swap = si.totalswap != 0;

	/* sysinfo() answers: lifted only with swap. */
	T_EQ(there(h, d, p, 10), !swap);
	if (!swap)
		hms__test_pool_reclaim(h); /* moved on, unprotected, emptied */
	back(h, d, p, 10);

	/* sysinfo() fails: lifted, as where there is swap. */
	if (!t_seccomp_refuse(SYS_sysinfo, -1, EPERM))
		T_SKIP("seccomp filters are not available here");
	T_ASSERT(sysinfo(&si) == -1 && errno == EPERM);
	T_EQ(there(h, d, p, 20), false);
	back(h, d, p, 20);
	T_EQ(hms__test_pool_bytes(h), 0);

	T_EQ(hms_free(h, p, NPAGES * T_PAGE), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	printf("ok: %s; without sysinfo() lifted, as with swap, every byte back\n",
	       swap ? "swap here: lifted" : "no swap here: not lifted");
	return 0;
}
