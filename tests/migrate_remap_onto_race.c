/* migrate_remap_onto_race: mremap(MREMAP_FIXED) moves another managed
 * range S onto a range D while a migration holds D's pages (a test hook
 * runs it after the driver's copy, and after the discard or fill), to a
 * device and back, and between the last look at the table and the fill
 * or the discard (the fill gate makes it look again).  D then holds S's
 * data, every byte, in system memory, and the device pages of D's old
 * data are all freed: the migration lets go of D's old pages instead of
 * discarding or committing over the pages that arrived.  (A discard goes
 * through the gate only where the kernel moves pages, UFFDIO_MOVE, Linux
 * 6.8; elsewhere that case is left out, and said: docs/design.md 5a.) */
#include <sys/mman.h>
#include "hms_test.h"
#include "inject.h"

#define NPAGES 16

static struct {
	struct hms *h;
	bool armed;
	enum hms_test_hook point;
	char *src, *dst;
	bool fired;
} race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)arg;
	(void)len;
	if (!race.armed || point != race.point || start < (uintptr_t)race.dst ||
	    start >= (uintptr_t)race.dst + NPAGES * T_PAGE)
		return;
	race.armed = false;
	T_ASSERT(mremap(race.src, NPAGES * T_PAGE, NPAGES * T_PAGE,
			MREMAP_MAYMOVE | MREMAP_FIXED, race.dst) == race.dst);
	T_EQ(hms_sync(race.h), 0); /* the handler moved hms' state */
	race.fired = true;
}

static const char *const point_name[] = { "pages", "commit", "committed" };

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = NPAGES * T_PAGE, n = size / sizeof(int);

	hms__test_hook_set(hook, NULL);
	for (int to_sys = 0; to_sys < 2; to_sys++)
	for (int pt = HMS_HOOK_MIGRATE_PAGES; pt <= HMS_HOOK_MIGRATE_COMMITTED; pt++) {
		if (pt == HMS_HOOK_MIGRATE_COMMIT && !to_sys && !hms__test_gated_discard(h)) {
			printf("not run: an mremap onto pages just before their discard (no "
			       "UFFDIO_MOVE here: the window of docs/design.md 5a)\n");
			continue;
		}
		/* dst in one batch: the hook runs once, in the first batch; a
		 * later batch would move the pages that arrived. */
		char *dst = t_alloc_one_batch(h, size), *src = hms_alloc(h, size, 0);
		struct hms_softdev_cmd c;

		T_ASSERT(dst && src);
		t_fill((int *)dst, n, 1000);
		t_fill((int *)src, n, 5000);
		if (to_sys) {
			T_EQ(t_cmd(d, hms_softdev_migrate_to_device, dst, NULL, NPAGES, &c), 0);
			T_EQ(c.cpages, NPAGES);
		}
		race = (typeof(race)){ h, true, (enum hms_test_hook)pt, src, dst, false };
		t_cmd(d, to_sys ? hms_softdev_migrate_to_system : hms_softdev_migrate_to_device,
		      dst, NULL, NPAGES, &c);
		if (!race.fired)
			T_FAIL("%s to_sys %d: the hook did not run", point_name[pt], to_sys);
		if (t_count_loc(h, dst, NPAGES, HMS_LOC_SYSTEM) != NPAGES)
			T_FAIL("%s to_sys %d: %zu of %d pages in system memory", point_name[pt],
			       to_sys, t_count_loc(h, dst, NPAGES, HMS_LOC_SYSTEM), NPAGES);
		for (size_t i = 0; i < n; i++)
			if (((int *)dst)[i] != 5000 + (int)i)
				T_FAIL("%s to_sys %d: word %zu: %d, not %d (the moved data)",
				       point_name[pt], to_sys, i, ((int *)dst)[i], 5000 + (int)i);
		if (hms_softdev_pages_used(d))
			T_FAIL("%s to_sys %d: %zu device pages of the old data kept",
			       point_name[pt], to_sys, hms_softdev_pages_used(d));
		T_EQ(hms_free(h, dst, size), 0);
	}
	hms__test_hook_set(NULL, NULL);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
