/* migrate_discard_fill_race: an application's MADV_DONTNEED of pages a
 * migration holds wins the moment it returns.  A test hook runs the
 * madvise on the migrating thread after the pages were taken (and waits
 * for the fault handler to have read it); from then on the old data must
 * never be visible: when the migration is back from system memory, its
 * fill passes over the discarded pages (none is resident right after the
 * fill, where hms stress read the old bytes back: seed 109 with
 * --inject nomem:7), and afterwards the CPU reads zeros, hms reports no
 * device page, and the device's pages are all free again.  Both
 * directions, the whole range or every other page. */
#include <sys/mman.h>
#include <unistd.h>
#include "hms_test.h"
#include "inject.h"

#define NPAGES 16

static struct {
	struct hms *h;
	char *p;
	bool every_other; /* discard the odd pages only */
	bool discarded;   /* the madvise ran */
	int resident;     /* discarded pages resident after the fill (-1: not looked) */
} race;

static bool discards(size_t i)
{
	return !race.every_other || (i & 1);
}

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	unsigned char vec[NPAGES];

	(void)arg;
	(void)len;
	if (!race.h || start < (uintptr_t)race.p || start >= (uintptr_t)race.p + NPAGES * T_PAGE)
		return;
	if (point == HMS_HOOK_MIGRATE_PAGES && !race.discarded) {
		race.discarded = true;
		for (size_t i = 0; i < NPAGES; i++)
			if (discards(i))
				T_EQ(madvise(race.p + i * T_PAGE, T_PAGE, MADV_DONTNEED), 0);
		/* The handler has marked them (it may not wait for us). */
		T_EQ(hms_sync(race.h), 0);
	}
	if (point == HMS_HOOK_MIGRATE_COMMITTED && race.discarded) {
		T_EQ(mincore(race.p, NPAGES * T_PAGE, vec), 0);
		race.resident = 0;
		for (size_t i = 0; i < NPAGES; i++)
			race.resident += discards(i) && (vec[i] & 1);
	}
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = NPAGES * T_PAGE, n = T_PAGE / sizeof(int);

	hms__test_hook_set(hook, NULL);
	for (int to_sys = 0; to_sys < 2; to_sys++)
	for (int every_other = 0; every_other < 2; every_other++) {
		char *p = t_alloc_one_batch(h, size);
		struct hms_softdev_cmd c;
		struct hms_page_info info[NPAGES];
		int base = 100000 * (1 + to_sys * 2 + every_other);

		T_ASSERT(p);
		for (size_t i = 0; i < NPAGES; i++)
			t_fill((int *)(p + i * T_PAGE), n, base + (int)(i * n));
		if (to_sys) {
			T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, NPAGES, &c), 0);
			T_EQ(c.cpages, NPAGES);
		}
		race = (typeof(race)){ h, p, every_other, false, -1 };
		t_cmd(d, to_sys ? hms_softdev_migrate_to_system : hms_softdev_migrate_to_device, p,
		      NULL, NPAGES, &c);
		race.h = NULL;
		if (!race.discarded)
			T_FAIL("to_sys %d every_other %d: the hook did not run", to_sys, every_other);
		if (to_sys && race.resident != 0)
			T_FAIL("every_other %d: %d discarded pages filled with their old data",
			       every_other, race.resident);
		/* No device copy of a discarded page is left... */
		T_EQ(hms_page_query(h, p, NPAGES, info), NPAGES);
		for (size_t i = 0; i < NPAGES; i++)
			if (discards(i) && info[i].location == HMS_LOC_DEVICE)
				T_FAIL("to_sys %d every_other %d: page %zu still on the device", to_sys,
				       every_other, i);
		/* ...the CPU reads zeros there, the rest where it was... */
		for (size_t i = 0; i < NPAGES; i++) {
			const int *q = (const int *)(p + i * T_PAGE);

			for (size_t k = 0; k < n; k++) {
				int want = discards(i) ? 0 : base + (int)(i * n + k);

				if (q[k] != want)
					T_FAIL("to_sys %d every_other %d: page %zu word %zu: %d, not %d",
					       to_sys, every_other, i, k, q[k], want);
			}
		}
		/* ...and the device holds nothing once the pages are home. */
		T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_DEVICE), 0);
		T_EQ(hms_softdev_pages_used(d), 0);
		T_EQ(hms_free(h, p, size), 0);
	}
	hms__test_hook_set(NULL, NULL);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
