/* SPDX-License-Identifier: MIT */
/* migrate_forward_lift_race: finalize lifts, by address, the write
 * protection a migration to a device put on the pages that stayed in
 * system memory.  It did so after dropping hms.lock, and for a page an
 * mremap moved during the migration (a forward) after the table had let
 * the page go, so the lift could land on a protection it did not set
 * (a test hook, MIGRATE_LIFT, runs just before the lift):
 *
 *   scan:         the page moved (before the migration's mark, so it
 *                 stays in system memory at its new address); a dirty
 *                 scan re-arms it right after finalize released it; the
 *                 late lift undid the scan's protection, and the CPU's
 *                 next write went unreported (dirty_migrate_stay_race,
 *                 for a page that moved).
 *   forward-onto: the page moved; before the lift, mremap(MREMAP_FIXED)
 *                 puts a dirty-tracked page (scanned: protected) where
 *                 it now is; the lift took that page's protection.
 *   stayed-onto:  pages that stayed in place (the device has no room
 *                 for them); mremap(MREMAP_FIXED) puts tracked pages
 *                 onto them between finalize's look at the table and
 *                 its lift (lift_stayed); the lift took their protection.
 *
 * In each case the CPU then writes the tracked pages and the next dirty
 * scan must report every one (found by review).  Finalize now lifts
 * while it holds the pages, inside the fill gate; a moved page it finds
 * has stayed only once it lets it go keeps its protection (PTE_WP) for
 * its next write, and the hook's action runs at MIGRATE_FINALIZED
 * instead.  Case N alone: argv[1] = N. */
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dirty_util.h"
#include "hms_test.h"
#include "inject.h"

#define NPAGES 8
#define ROOM 4 /* stayed-onto: device pages for half the range */

enum { SCAN, FORWARD_ONTO, STAYED_ONTO, NCASES };
static const char *const case_name[] = { "scan", "forward-onto", "stayed-onto" };

static struct {
	struct hms *h;
	int mode;
	char *d, *e, *s; /* migrated range, where it moves, tracked source */
	char *onto;      /* where s's pages went */
	size_t onto_len;
	int moved, lifts, acted;
} race;

static void wait_managed(char *p, size_t npages)
{
	struct hms_page_info info[NPAGES];
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (hms_page_query(race.h, p, npages, info) != (long)npages) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			T_FAIL("the handler did not take the mremap in 10 s");
		usleep(100);
	}
}

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	uint64_t bm;

	(void)arg;
	if (!race.h)
		return;
	if (point == HMS_HOOK_MIGRATE_PAGES && start == (uintptr_t)race.d && race.mode != STAYED_ONTO &&
	    !race.moved) {
		/* Before the mark: the pages stay in system memory, at e. */
		race.moved = 1;
		T_ASSERT(mremap(race.d, NPAGES * T_PAGE, NPAGES * T_PAGE,
				MREMAP_MAYMOVE | MREMAP_FIXED, race.e) == race.e);
		wait_managed(race.e, NPAGES);
		return;
	}
	/* At the lift, or (where finalize lifts nothing there) once it let
	 * the pages go. */
	if (point == HMS_HOOK_MIGRATE_LIFT)
		race.lifts++;
	else if (point != HMS_HOOK_MIGRATE_FINALIZED || race.mode == STAYED_ONTO || race.acted)
		return;
	if (race.mode == SCAN) {
		T_ASSERT(start >= (uintptr_t)race.e || point == HMS_HOOK_MIGRATE_FINALIZED);
		T_ASSERT(hms_dirty_scan(race.h, race.e, NPAGES * T_PAGE, &bm, 0) >= 0);
		race.acted = 1;
		return;
	}
	if (race.onto)
		return;
	if (point == HMS_HOOK_MIGRATE_FINALIZED) {
		start = (uintptr_t)race.e;
		len = T_PAGE;
	}
	race.acted = 1;
	race.onto = (char *)start;
	race.onto_len = len;
	T_ASSERT(mremap(race.s, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, race.onto) == race.onto);
	T_EQ(hms_sync(race.h), 0);
}

static void one(struct hms *h, int mode)
{
	struct hms_softdev *dev = t_softdev(h, mode == STAYED_ONTO ? ROOM * T_PAGE : 0);
	size_t size = NPAGES * T_PAGE;
	/* d and e in one 2 MiB block (one batch), s elsewhere */
	char *raw = mmap(NULL, 4 * HMS_HUGE_PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *d = (char *)(((uintptr_t)raw + HMS_HUGE_PAGE_SIZE - 1) &
			   ~(uintptr_t)(HMS_HUGE_PAGE_SIZE - 1));
	char *s = hms_alloc(h, size, 0), *w;
	struct hms_softdev_cmd c;
	size_t wlen;
	uint64_t bm;

	T_ASSERT(raw != MAP_FAILED && s);
	T_EQ(madvise(d, 2 * size, MADV_NOHUGEPAGE), 0);
	T_EQ(hms_manage(h, d, size), 0);
	memset(d, 1, size);
	memset(s, 2, size);
	T_EQ(hms_dirty_scan(h, s, size, &bm, 0), NPAGES); /* armed: protected */
	race = (typeof(race)){ h, mode, d, d + size, s, NULL, 0, 0, 0, 0 };
	hms__test_hook_set(hook, NULL);
	(void)t_cmd(dev, hms_softdev_migrate_to_device, d, NULL, NPAGES, &c);
	hms__test_hook_set(NULL, NULL);
	race.h = NULL;
	if (!race.acted)
		T_FAIL("%s: the hook did not act", case_name[mode]);
	if (mode != STAYED_ONTO && !race.moved)
		T_FAIL("%s: the range did not move", case_name[mode]);
	if (mode == SCAN) {
		w = race.e;
		wlen = size;
	} else {
		T_ASSERT(race.onto);
		w = race.onto;
		wlen = race.onto_len;
		for (size_t i = 0; i < wlen; i++)
			if (w[i] != 2)
				T_FAIL("%s: byte %zu: %d, not s's 2", case_name[mode], i, w[i]);
	}
	t_dirty_write_all(h, w, wlen, case_name[mode]);
	/* The moved pages take writes (a protection kept is lifted by the
	 * write's fault) and keep their data. */
	if (mode != STAYED_ONTO)
		for (size_t i = 0; i < size; i += T_PAGE) {
			volatile char *e = race.e + i;

			if (e < (volatile char *)w || e >= (volatile char *)w + wlen) {
				T_EQ(*e, 1);
				*e = 4;
			}
		}
	printf("%s: ok (%d lifts hooked)\n", case_name[mode], race.lifts);
	T_EQ(munmap(raw, 4 * HMS_HUGE_PAGE_SIZE), 0);
	hms_free(h, s, size); /* what is left of it */
	hms_softdev_destroy(dev);
}

int main(int argc, char **argv)
{
	struct hms *h = t_open();

	if (hms_wp_async(h))
		T_SKIP("a migration leaves populated pages alone with asynchronous write protection");
	t_run_cases(h, argc, argv, case_name, NCASES, one);
	return 0;
}
