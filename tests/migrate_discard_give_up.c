/* migrate_discard_give_up: a migration to a device whose discard fails
 * part way through a run of pages.  The pages discarded before the
 * failure have lost their system copy: they must count as moved (on the
 * device, every byte there), never as "not moved", which would leave them
 * in system memory with nothing behind them (they would read as zeros).
 * The pages after the failure stay in system memory, intact.
 *
 * The failure is made by a test hook after the driver's copy, before the
 * discard: one page in the middle is unmapped (it splits the run in two),
 * and the second half is made read-only and taken out of hms' userfaultfd
 * behind its back, so that moving it out (UFFDIO_MOVE: the kernel moves
 * only writable pages) and protecting it again (before MADV_DONTNEED: not
 * registered) both fail; the test gives the registration back afterwards.
 * Run with the move and with MADV_DONTNEED
 * (HMS_UFFD_MOVE=0).  Before session 10 the first half stayed "system"
 * with its system copy gone: word 0 read 0. */
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include "hms_test.h"
#include "inject.h"

#define NPAGES 16
#define HOLE 6 /* unmapped by the hook */

static struct {
	struct hms *h;
	char *p;
	bool armed, fired;
} race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	struct uffdio_range r;

	(void)arg;
	(void)len;
	if (!race.armed || point != HMS_HOOK_MIGRATE_PAGES || start != (uintptr_t)race.p)
		return;
	race.armed = false;
	T_EQ(munmap(race.p + HOLE * T_PAGE, T_PAGE), 0);
	T_EQ(hms_sync(race.h), 0); /* the hole is known: the run splits there */
	r.start = (uintptr_t)race.p + (HOLE + 1) * T_PAGE;
	r.len = (NPAGES - HOLE - 1) * T_PAGE;
	T_EQ(ioctl(hms__test_uffd(race.h), UFFDIO_UNREGISTER, &r), 0);
	T_EQ(mprotect((void *)r.start, r.len, PROT_READ), 0);
	race.fired = true;
}

static void run(bool move)
{
	struct hms *h;
	struct hms_softdev *d;
	struct hms_softdev_cmd c;
	size_t n = T_PAGE / sizeof(int);
	char *p;

	T_EQ(setenv("HMS_UFFD_MOVE", move ? "1" : "0", 1), 0);
	h = t_open();
	if (move && !hms__test_gated_discard(h)) {
		printf("not run with UFFDIO_MOVE: the kernel lacks it (Linux 6.8)\n");
		hms_close(h);
		return;
	}
	T_EQ(hms__test_gated_discard(h), move);
	d = t_softdev(h, 0);
	p = t_alloc_one_batch(h, NPAGES * T_PAGE);
	for (int i = 0; i < NPAGES; i++)
		t_fill((int *)(p + i * T_PAGE), n, 1000 * (i + 1));
	race = (typeof(race)){ h, p, true, false };
	/* The discard fails half way: the softdev reports what moved. */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, NPAGES, &c), 0);
	if (!race.fired)
		T_FAIL("move %d: the hook did not run", move);
	T_EQ(c.cpages, HOLE);
	/* The second half's registration goes back to hms as it was: a range
	 * not registered is memory just unmapped to hms, not managed
	 * (hms_page_query() and hms_free() say -ENOENT; they answered from
	 * the table only after waiting 2 s for an event that never came). */
	{
		struct uffdio_register reg = {
			.range = { (uintptr_t)p + (HOLE + 1) * T_PAGE,
				   (NPAGES - HOLE - 1) * T_PAGE },
			.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP,
		};

		T_EQ(ioctl(hms__test_uffd(h), UFFDIO_REGISTER, &reg), 0);
	}
	if (t_count_loc(h, p, HOLE, HMS_LOC_DEVICE) != HOLE)
		T_FAIL("move %d: %zu of %d pages before the hole on the device", move,
		       t_count_loc(h, p, HOLE, HMS_LOC_DEVICE), HOLE);
	T_EQ(hms_softdev_pages_used(d), (size_t)HOLE);
	/* The pages after the hole were not touched: still system memory. */
	T_EQ(t_count_loc(h, p + (HOLE + 1) * T_PAGE, NPAGES - HOLE - 1, HMS_LOC_SYSTEM),
	     (size_t)(NPAGES - HOLE - 1));
	/* Every byte: the first ones from the device (a CPU fault brings each
	 * back), the others where they were. */
	for (int i = 0; i < NPAGES; i++)
		if (i != HOLE)
			t_check((int *)(p + i * T_PAGE), n, 1000 * (i + 1));
	T_EQ(t_count_loc(h, p, HOLE, HMS_LOC_SYSTEM), (size_t)HOLE);
	T_EQ(hms_softdev_pages_used(d), 0);
	T_EQ(hms_free(h, p, HOLE * T_PAGE), 0);
	T_EQ(hms_free(h, p + (HOLE + 1) * T_PAGE, (NPAGES - HOLE - 1) * T_PAGE), 0);
	hms_softdev_destroy(d);
	hms_close(h);
}

int main(void)
{
	hms__test_hook_set(hook, NULL);
	run(true);
	run(false);
	hms__test_hook_set(NULL, NULL);
	return 0;
}
