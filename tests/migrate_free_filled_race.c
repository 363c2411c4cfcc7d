/* migrate_free_filled_race: an MADV_FREE of pages a migration back from a
 * device has already filled leaves those pages in place (the kernel keeps
 * lazily freed pages until reclaim, and a write keeps them for good), so
 * the table must keep them "maybe present" (NONE with PTE_ZERO), not
 * "never populated".  A test hook runs the madvise on the migrating thread
 * right after the fill (and waits for the fault handler to have read it);
 * then, as hms stress does after MADV_FREE, the CPU writes every page,
 * which takes no fault.  A migration to the device must then carry that
 * data (the device reads it), and the pages must come back, one alone too: taken for never-populated pages, they
 * went to the device as zeros with the CPU's pages still mapped, and every
 * later fill of them failed (EEXIST): migrate_to_ram said EAGAIN for good
 * and hms_prefault, device faults and device release never finished (hms
 * stress seed 4, --mib 8 --threads 3). */
#include <sys/mman.h>
#include <unistd.h>
#include "hms_test.h"
#include "inject.h"

#define NPAGES 8

static struct {
	struct hms *h;
	char *p;
	bool freed; /* the madvise ran */
} race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)arg;
	(void)len;
	if (!race.h || race.freed || point != HMS_HOOK_MIGRATE_COMMITTED ||
	    start < (uintptr_t)race.p || start >= (uintptr_t)race.p + NPAGES * T_PAGE)
		return;
	race.freed = true;
	T_EQ(madvise(race.p, NPAGES * T_PAGE, MADV_FREE), 0);
	/* The handler has marked them discarded (it may not wait for us). */
	T_EQ(hms_sync(race.h), 0);
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = NPAGES * T_PAGE, n = size / sizeof(int);
	char *p = t_alloc_one_batch(h, size);
	static char buf[NPAGES * 4096];
	struct hms_softdev_cmd c;

	t_watchdog(60, "migrate_free_filled_race");
	T_ASSERT(p);
	T_ASSERT(T_PAGE == 4096);
	hms__test_hook_set(hook, NULL);
	t_fill((int *)p, n, 1000);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, NPAGES, &c), 0);
	T_EQ(c.cpages, NPAGES);
	race = (typeof(race)){ h, p, false };
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, NPAGES, &c), 0);
	race.h = NULL;
	if (!race.freed)
		T_FAIL("the hook did not run");
	/* MADV_FREE, then new data: the pages stay, no fault is taken. */
	t_fill((int *)p, n, 2000);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, NPAGES, &c), 0);
	T_EQ(c.cpages, NPAGES);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_DEVICE), NPAGES);
	/* The device's copy is the CPU's data... */
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, NPAGES, &c), 0);
	t_check((const int *)buf, n, 2000);
	/* ...and each page comes home, alone too (a run of one page). */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, 1, &c), 0);
	T_EQ(c.cpages, 1);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, NPAGES, &c), 0);
	T_EQ(c.cpages, NPAGES - 1);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_DEVICE), 0);
	t_check((const int *)p, n, 2000);
	T_EQ(hms_prefault(h, p, size, true), 0);
	T_EQ(hms_softdev_pages_used(d), 0);
	hms__test_hook_set(NULL, NULL);
	T_EQ(hms_free(h, p, size), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
