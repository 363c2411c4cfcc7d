/* migrate_remap_onto_hold_race: while a migration holds range D's pages,
 * mremap(MREMAP_FIXED) moves range S onto D (the migration's holds leave
 * the table for records of their own, design 5a), and then a fault takes
 * a hold on one of the pages that arrived (hms_prefault of a page S never
 * touched: the fault fills it).  The two holds share an address: each
 * must find its own when it lets go.  Afterwards every page of D is in
 * system memory with S's data (zeros where S was never touched), and a
 * migration to a device takes every page: none is left held. */
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#include "hms_test.h"
#include "inject.h"

#define NPAGES 16
#define UNTOUCHED (NPAGES - 1) /* S's page that was never populated */

static struct {
	struct hms *h;
	bool armed;
	char *src, *dst;
	long prefaulted;
	bool fired;
} race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)arg;
	(void)len;
	if (!race.armed || point != HMS_HOOK_MIGRATE_PAGES || start < (uintptr_t)race.dst ||
	    start >= (uintptr_t)race.dst + NPAGES * T_PAGE)
		return;
	race.armed = false;
	T_ASSERT(mremap(race.src, NPAGES * T_PAGE, NPAGES * T_PAGE,
			MREMAP_MAYMOVE | MREMAP_FIXED, race.dst) == race.dst);
	T_EQ(hms_sync(race.h), 0); /* the handler moved hms' state */
	race.prefaulted = hms_prefault(race.h, race.dst + UNTOUCHED * T_PAGE, T_PAGE, true);
	race.fired = true;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = NPAGES * T_PAGE, n = T_PAGE / sizeof(int);

	alarm(60); /* a hold nobody lets go makes a later fault wait for ever */
	hms__test_hook_set(hook, NULL);
	for (int to_sys = 0; to_sys < 2; to_sys++) {
		char *dst = t_alloc_one_batch(h, size), *src = hms_alloc(h, size, 0);
		struct hms_softdev_cmd c;

		T_ASSERT(dst && src);
		t_fill((int *)dst, NPAGES * n, 1000);
		t_fill((int *)src, UNTOUCHED * n, 5000);
		if (to_sys) {
			T_EQ(t_cmd(d, hms_softdev_migrate_to_device, dst, NULL, NPAGES, &c), 0);
			T_EQ(c.cpages, NPAGES);
		}
		race = (typeof(race)){ h, true, src, dst, 0, false };
		t_cmd(d, to_sys ? hms_softdev_migrate_to_system : hms_softdev_migrate_to_device,
		      dst, NULL, NPAGES, &c);
		if (!race.fired)
			T_FAIL("to_sys %d: the hook did not run", to_sys);
		T_EQ(race.prefaulted, 1);
		if (t_count_loc(h, dst, NPAGES, HMS_LOC_SYSTEM) != NPAGES)
			T_FAIL("to_sys %d: %zu of %d pages in system memory", to_sys,
			       t_count_loc(h, dst, NPAGES, HMS_LOC_SYSTEM), NPAGES);
		for (size_t i = 0; i < NPAGES * n; i++) {
			int want = i < UNTOUCHED * n ? 5000 + (int)i : 0;

			if (((int *)dst)[i] != want)
				T_FAIL("to_sys %d: word %zu: %d, not %d (the moved data)", to_sys, i,
				       ((int *)dst)[i], want);
		}
		/* No page is still held: all of them go to the device and back. */
		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, dst, NULL, NPAGES, &c), 0);
		T_EQ(c.cpages, NPAGES);
		T_EQ(t_cmd(d, hms_softdev_migrate_to_system, dst, NULL, NPAGES, &c), 0);
		T_EQ(c.cpages, NPAGES);
		T_EQ(hms_softdev_pages_used(d), 0);
		T_EQ(hms_free(h, dst, size), 0);
	}
	hms__test_hook_set(NULL, NULL);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
