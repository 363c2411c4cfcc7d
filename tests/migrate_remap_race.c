/* migrate_remap_race: mremap moves pages in the middle of a migration
 * (a test hook runs it at each step: after the driver's copy, between
 * marking the pages and discarding / filling them, and after that), to
 * a device and back, with and without MREMAP_DONTUNMAP, and there and
 * back again (two moves during one migration).  Every byte is at the
 * new address afterwards, the pages are where the step says
 * (the device copy counts once the system copy was discarded, the
 * system copy once it was filled), MREMAP_DONTUNMAP's old range stays
 * managed and reads zeros, and no device page leaks. */
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "hms_test.h"
#include "inject.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define NPAGES 64

static struct {
	struct hms *h;
	bool armed;
	enum hms_test_hook point;
	char *from, *to;
	int flags;
	bool back; /* move it back to from, too */
	bool fired;
	size_t run_first, run_end; /* the hooked run, in pages */
} race;

/* On the migrating thread: move the range, then wait for the fault
 * handler to have moved hms' state (the new address is managed). */
static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	struct hms_page_info info[NPAGES];
	struct timespec t0, t;

	(void)arg;
	(void)len;
	if (!race.armed || point != race.point || start < (uintptr_t)race.from ||
	    start >= (uintptr_t)race.from + NPAGES * T_PAGE)
		return;
	race.armed = false;
	race.run_first = (start - (uintptr_t)race.from) / T_PAGE;
	race.run_end = race.run_first + len / T_PAGE;
	T_ASSERT(mremap(race.from, NPAGES * T_PAGE, NPAGES * T_PAGE,
			MREMAP_MAYMOVE | MREMAP_FIXED | race.flags, race.to) == race.to);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (hms_page_query(race.h, race.to, NPAGES, info) != NPAGES) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			T_FAIL("the handler did not take the mremap in 10 s");
		usleep(100);
	}
	if (race.back) {
		T_ASSERT(mremap(race.to, NPAGES * T_PAGE, NPAGES * T_PAGE,
				MREMAP_MAYMOVE | MREMAP_FIXED, race.from) == race.from);
		T_EQ(hms_sync(race.h), 0);
	}
	race.fired = true;
}

static const char *const point_name[] = { "pages", "commit", "committed" };
static const char *const mode_name[] = { "fixed", "dontunmap", "there-and-back" };

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = NPAGES * T_PAGE, n = size / sizeof(int);
	int *buf = malloc(size);

	T_ASSERT(buf);
	race.h = h;
	hms__test_hook_set(hook, NULL);
	for (int to_sys = 0; to_sys < 2; to_sys++)
	for (int pt = HMS_HOOK_MIGRATE_PAGES; pt <= HMS_HOOK_MIGRATE_COMMITTED; pt++)
	for (int mode = 0; mode < 3; mode++) {
		/* Both ranges in one 2 MiB block: the softdev migrates it in one
		 * batch, whose runs the hook sees. */
		char *raw = mmap(NULL, 4 * HMS_HUGE_PAGE_SIZE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *map = (char *)(((uintptr_t)raw + HMS_HUGE_PAGE_SIZE - 1) &
				     ~(uintptr_t)(HMS_HUGE_PAGE_SIZE - 1));
		struct hms_softdev_cmd c;
		struct hms_page_info info[NPAGES];
		int base = 1000 * (to_sys * 9 + pt * 3 + mode);
		int *q = (int *)(mode == 2 ? map : map + size); /* where the pages end */

		T_ASSERT(raw != MAP_FAILED);
		T_EQ(madvise(map, 2 * size, MADV_NOHUGEPAGE), 0);
		T_EQ(hms_manage(h, map, size), 0);
		t_fill((int *)map, n, base);
		if (to_sys) {
			T_EQ(t_cmd(d, hms_softdev_migrate_to_device, map, NULL, NPAGES, &c), 0);
			T_EQ(c.cpages, NPAGES);
		}
		race = (typeof(race)){ h, true, (enum hms_test_hook)pt, map, map + size,
				       mode == 1 ? MREMAP_DONTUNMAP : 0, mode == 2, false, 0, 0 };
		t_cmd(d, to_sys ? hms_softdev_migrate_to_system : hms_softdev_migrate_to_device,
		      map, NULL, NPAGES, &c);
		if (!race.fired)
			T_FAIL("%s %s to_sys %d: the hook did not run",
			       point_name[pt], mode_name[mode], to_sys);
		/* Where each page must be: the runs before the hooked one moved;
		 * in the hooked run the move wins until the system copy is gone
		 * (to a device) or in place (to system memory); the later runs
		 * found their pages gone from the old address and stayed. */
		T_EQ(hms_page_query(h, q, NPAGES, info), NPAGES);
		for (size_t i = 0; i < NPAGES; i++) {
			/* (There and back before an ungated discard: it reaches
			 * the page where it started, as if nothing had moved.  A
			 * fill, and a gated discard, look at the table again
			 * after an mremap, and stay.) */
			bool moved = i < race.run_first ||
				     (i < race.run_end &&
				      (pt == HMS_HOOK_MIGRATE_COMMITTED ||
				       (pt == HMS_HOOK_MIGRATE_COMMIT && mode == 2 && !to_sys &&
					!hms__test_gated_discard(h))));
			int want = moved != to_sys ? HMS_LOC_DEVICE : HMS_LOC_SYSTEM;

			if ((int)info[i].location != want)
				T_FAIL("%s %s to_sys %d: page %zu (run %zu-%zu) at %d, not %d",
				       point_name[pt], mode_name[mode], to_sys, i, race.run_first,
				       race.run_end, (int)info[i].location, want);
		}
		/* The device reads the moved pages where they are now... */
		memset(buf, 0xFF, size);
		T_EQ(t_cmd(d, hms_softdev_read, q, buf, NPAGES, &c), 0);
		t_check(buf, n, base);
		/* ...and so does the CPU, which brings them home. */
		for (size_t i = 0; i < n; i++)
			if (q[i] != base + (int)i)
				T_FAIL("%s %s to_sys %d: word %zu: %d, not %d",
				       point_name[pt], mode_name[mode], to_sys, i, q[i], base + (int)i);
		T_EQ(t_count_loc(h, q, NPAGES, HMS_LOC_SYSTEM), NPAGES);
		/* MREMAP_DONTUNMAP's old range stays managed, every page of it
		 * (the pages the migration held there were dropped from hms'
		 * table when it let go of them), and reads zeros. */
		if (mode == 1) {
			T_EQ(hms_page_query(h, map, NPAGES, info), NPAGES);
			for (size_t i = 0; i < n; i++)
				if (((int *)map)[i])
					T_FAIL("%s dontunmap to_sys %d: old range word %zu: %d, not 0",
					       point_name[pt], to_sys, i, ((int *)map)[i]);
			T_EQ(hms_unmanage(h, map, size), 0);
		}
		T_EQ(hms_unmanage(h, q, size), 0);
		T_EQ(munmap(raw, 4 * HMS_HUGE_PAGE_SIZE), 0);
		/* No device page outlives the memory (the handler frees those of
		 * the old range when it reads the unmap). */
		for (int tries = 0; hms_softdev_pages_used(d) && tries < 10000; tries++)
			usleep(1000);
		if (hms_softdev_pages_used(d))
			T_FAIL("%s %s to_sys %d: %zu device pages leaked",
			       point_name[pt], mode_name[mode], to_sys, hms_softdev_pages_used(d));
	}
	hms__test_hook_set(NULL, NULL);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
