/* dirty_migrate_stay_race: pages a migration to a device leaves in system
 * memory (the device has no room) that a dirty scan re-arms right after
 * finalize released them (made to happen every time from a test hook)
 * stay write protected: the CPU's next write to each is reported by the
 * next scan. */
#include <sys/mman.h>

#include "hms_test.h"
#include "inject.h"

#define NPAGES 8
#define ROOM 4 /* device pages: the migration leaves NPAGES - ROOM behind */

static struct {
	struct hms *h;
	char *p;
	int done;
} race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	uint64_t bm;

	(void)start, (void)len, (void)arg;
	if (point != HMS_HOOK_MIGRATE_FINALIZED || !race.h || race.done)
		return;
	race.done = 1;
	/* Finalize has released the pages; its invalidation is still open. */
	T_ASSERT(hms_dirty_scan(race.h, race.p, NPAGES * T_PAGE, &bm, 0) >= 0);
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, ROOM * T_PAGE);
	struct hms_softdev_cmd c;
	struct hms_page_info info[NPAGES];
	char *p = t_alloc_one_batch(h, NPAGES * T_PAGE);
	volatile char *v = p;
	uint64_t bm;
	size_t left = 0;

	T_ASSERT(p);
	if (hms_wp_async(h))
		T_SKIP("a migration leaves populated pages alone with asynchronous write protection");
	memset(p, 1, NPAGES * T_PAGE);
	T_EQ(hms_dirty_scan(h, p, NPAGES * T_PAGE, &bm, 0), NPAGES);
	race = (typeof(race)){ h, p, 0 };
	hms__test_hook_set(hook, NULL);
	t_cmd(d, hms_softdev_migrate_to_device, p, NULL, NPAGES, &c);
	hms__test_hook_set(NULL, NULL);
	race.h = NULL;
	T_EQ(race.done, 1);
	T_EQ(hms_page_query(h, p, NPAGES, info), NPAGES);
	for (size_t i = 0; i < NPAGES; i++) {
		if (info[i].location != HMS_LOC_SYSTEM)
			continue;
		left++;
		v[i * T_PAGE] = 2; /* the CPU writes */
	}
	T_ASSERT(left >= 1 && left < NPAGES);
	T_ASSERT(hms_dirty_scan(h, p, NPAGES * T_PAGE, &bm, 0) >= 0);
	for (size_t i = 0; i < NPAGES; i++)
		if (!((bm >> i) & 1))
			T_FAIL("page %zu (%s) written but reported clean", i,
			       info[i].location == HMS_LOC_SYSTEM ? "system" : "device");
	hms_free(h, p, NPAGES * T_PAGE);
	hms_close(h);
	return 0;
}
