/* pool_transit_wp_race: pages a gated discard kept for reuse whose page
 * table entries carry userfaultfd write protection in their transit range
 * are filled and moved in by a migration back from a device on another
 * thread than the fault handler without waiting for it, and every byte
 * reads back.  The protection gets there through swap: the kernel's
 * UFFDIO_MOVE moves a swapped-out page's entry as it is, with its uffd-wp
 * bit (setup protected the page, reclaim swapped it out before the
 * discard), and swapping it in again keeps the bit; a write there then
 * reports a write-protect fault to hms' descriptor.  Here the test hook
 * DISCARD_MOVED protects the moved pages itself, which leaves them in the
 * same state without needing swap (and tells hms to take the machine for
 * one with swap: without any, hms knows no page can carry the bit, and
 * lifts nothing; tests/pool_transit_swapped_race has real swap do it).
 * The fill copies into the kept pages
 * inside the fill gate, where the handler reads nothing until the filler
 * leaves: before the fix the copy's fault waited for the handler, the
 * handler for the filler, and the migration back never returned ("FAIL:
 * hang" after 30 s).  Then the same way back by CPU faults: the
 * handler fills from the kept pages where they are too (before the fix it
 * moved them on to their spare range first, and waited for nothing).
 * SKIP where page reuse is off. */
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#include "hms_test.h"
#include "inject.h"

#define NPAGES 512 /* one 2 MiB batch */

static unsigned protected_runs;

/* Protects the pages the discard just moved, as a swap-out and swap-in
 * of pages protected before the move would leave them. */
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
	protected_runs++;
}

static void there(struct hms *h, struct hms_softdev *d, int *p, int base)
{
	t_fill(p, NPAGES * T_PAGE / sizeof(int), base);
	protected_runs = 0;
	hms__test_hook_set(protect_moved, h);
	t_to_device(h, d, p, NPAGES, "there");
	hms__test_hook_set(NULL, NULL);
}

int main(void)
{
	size_t size = NPAGES * T_PAGE;
	struct hms_softdev_cmd c;
	struct hms_softdev *d;
	struct hms *h;
	int *p;

	setenv("HMS_PAGE_POOL_IDLE_MS", "60000", 1); /* kept hot, in transit */
	h = t_open();
	hms__test_assume_swap(h); /* the state is swap's, made without it */
	if (!hms__test_gated_discard(h))
		T_SKIP("no gated discard here (no UFFDIO_MOVE, or HMS_UFFD_MOVE=0)");
	d = t_softdev(h, 0);
	p = t_alloc_one_batch(h, size);

	there(h, d, p, 10);
	if (hms__test_pool_bytes(h) == 0)
		T_SKIP("page reuse off here (several NUMA nodes, or HMS_PAGE_POOL_MB=0)");
	T_ASSERT(protected_runs >= 1);
	T_EQ(hms__test_pool_bytes(h), size);

	/* Back on this thread: the fill runs inside the gate. */
	t_watchdog(30, "the migration back filling protected kept pages");
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, NPAGES, &c), 0);
	t_watchdog(0, NULL);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_SYSTEM), NPAGES);
	T_EQ(hms__test_pool_bytes(h), 0);
	T_EQ(hms__test_pool_copied(h), size);
	t_check(p, size / sizeof(int), 10);

	/* Back by CPU faults: the handler's fills. */
	there(h, d, p, 20);
	T_ASSERT(protected_runs >= 1);
	t_watchdog(30, "CPU faults filling protected kept pages");
	t_check(p, size / sizeof(int), 20);
	t_watchdog(0, NULL);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_SYSTEM), NPAGES);
	T_EQ(hms__test_pool_bytes(h), 0);

	T_EQ(hms_free(h, p, size), 0);
	hms_close(h);
	printf("ok: kept pages protected in transit filled and moved in, every byte back\n");
	return 0;
}
