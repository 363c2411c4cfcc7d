/* replica_arm_migrate_race: READ_MOSTLY advice given while a migration to
 * a device holds the range (its pages write protected: CPU writes wait
 * for the migration's end) must leave every page it marks for replicas
 * write protected, also those the migration then leaves in system memory
 * (the device had no room): a device that takes a read-only replica of
 * such a page must see the CPU's next write (its replica dropped), and
 * read what the CPU wrote, not its old copy.  (A way a replica could go
 * stale, checked while hunting one that hms stress found, which this is
 * not: the advice passes over pages a migration holds.) */
#include <sys/mman.h>

#include "hms_test.h"
#include "inject.h"

#define NPAGES 8
#define ROOM 4 /* device pages: the migration leaves NPAGES - ROOM behind */

static struct {
	struct hms *h;
	char *p;
	int advised;
} race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)start, (void)len, (void)arg;
	/* The migration holds the pages, protected; the driver has copied. */
	if (point == HMS_HOOK_MIGRATE_PAGES && race.h && !race.advised) {
		race.advised = 1;
		T_EQ(hms_advise(race.h, race.p, NPAGES * T_PAGE, HMS_ADVICE_READ_MOSTLY, 0), 0);
	}
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, ROOM * T_PAGE), *r = t_softdev(h, 0);
	struct hms_softdev_cmd c;
	struct hms_page_info info[NPAGES];
	char *p = t_alloc_one_batch(h, NPAGES * T_PAGE);
	unsigned char buf[T_PAGE];
	size_t left = 0;

	T_ASSERT(p);
	if (hms_wp_async(h))
		T_SKIP("READ_MOSTLY needs synchronous write protection");
	memset(p, 1, NPAGES * T_PAGE);
	race = (typeof(race)){ h, p, 0 };
	hms__test_hook_set(hook, NULL);
	t_cmd(d, hms_softdev_migrate_to_device, p, NULL, NPAGES, &c);
	hms__test_hook_set(NULL, NULL);
	race.h = NULL;
	T_EQ(race.advised, 1);
	T_EQ(hms_page_query(h, p, NPAGES, info), NPAGES);
	for (size_t i = 0; i < NPAGES; i++) {
		if (info[i].location != HMS_LOC_SYSTEM)
			continue;
		left++;
		/* Marked for replicas, so protected: a write must be seen. */
		if ((info[i].flags & HMS_PAGE_REPLICATED) &&
		    !(info[i].flags & HMS_PAGE_WRITE_PROTECTED))
			T_FAIL("page %zu: replicated but not write protected", i);
	}
	T_ASSERT(left >= 1);
	/* What that means for a device: replica, CPU write, read again. */
	for (size_t i = 0; i < NPAGES; i++) {
		if (info[i].location != HMS_LOC_SYSTEM)
			continue;
		T_EQ(t_cmd(r, hms_softdev_read, p + i * T_PAGE, buf, 1, &c), 0);
		T_EQ(buf[0], 1);
		p[i * T_PAGE] = 2; /* the CPU writes */
		T_EQ(t_cmd(r, hms_softdev_read, p + i * T_PAGE, buf, 1, &c), 0);
		if (buf[0] != 2)
			T_FAIL("page %zu: the device read %u, the CPU wrote 2 (a stale replica)", i,
			       buf[0]);
	}
	hms_free(h, p, NPAGES * T_PAGE);
	hms_close(h);
	return 0;
}
