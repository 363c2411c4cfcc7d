/* SPDX-License-Identifier: MIT */
/* unmanage_migrate_race: hms_unmanage() keeps the range's data when
 * another thread migrates the range to a device while it runs.  A test
 * hook (UNMANAGE_EVICTED) runs on the unmanaging thread after its
 * eviction brought every page home and before the range leaves the
 * table; there another thread moves the range to a softdev:
 *   "done":      the migration runs to its end inside the hook;
 *   "in flight": it is held (MIGRATE_COMMITTED: system copy discarded,
 *                device copy made) until hms_unmanage() has returned.
 * Before the fix the table forgot pages that were on the device (their
 * device pages freed with it) or held by the migration (dead, so
 * finalize dropped the device copy as for unmapped memory), and the
 * memory, which stays mapped, read zeros: "done: word 0: 0, expected
 * 4096" and "in flight: word 0: 0, expected 8192" (Linux 6.18).  Now a
 * range being unmanaged takes no page to a device: the migration moves
 * none, the bytes stay, and the softdev holds no page afterwards. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

#define NPAGES 8
#define N_INT (NPAGES * T_PAGE / sizeof(int))

enum mode { DONE, IN_FLIGHT, NMODES };
static const char *const mode_name[NMODES] = { "done", "in flight" };

static struct {
	struct hms *h;
	struct hms_softdev *d;
	char *p;
	enum mode mode;
	pthread_t migrator;
	atomic_bool armed;     /* the unmanage hook has run */
	atomic_bool committed; /* the migration is held in MIGRATE_COMMITTED */
	atomic_bool done;      /* the migration's command returned */
	atomic_bool released;  /* hms_unmanage() returned */
	long moved;            /* pages the racing migration moved */
} race;

static void *migrate(void *arg)
{
	struct hms_softdev_cmd c;

	(void)arg;
	t_cmd(race.d, hms_softdev_migrate_to_device, race.p, NULL, NPAGES, &c);
	race.moved = (long)c.cpages;
	race.done = true;
	return NULL;
}

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)arg;
	(void)len;
	if (!race.p || start != (uintptr_t)race.p)
		return;
	if (point == HMS_HOOK_UNMANAGE_EVICTED && !race.armed) {
		race.armed = true;
		T_EQ(pthread_create(&race.migrator, NULL, migrate, NULL), 0);
		if (race.mode == DONE) {
			T_EQ(pthread_join(race.migrator, NULL), 0);
			return;
		}
		while (!race.committed && !race.done)
			usleep(1000);
	}
	/* After the eviction, the only migration of the range is the racing
	 * one (which may run on a softdev worker thread). */
	if (point == HMS_HOOK_MIGRATE_COMMITTED && race.armed && race.mode == IN_FLIGHT &&
	    !race.committed) {
		race.committed = true;
		while (!race.released)
			usleep(1000);
	}
}

static void one(struct hms *h, struct hms_softdev *d, enum mode mode)
{
	size_t size = NPAGES * T_PAGE;
	char *raw = mmap(NULL, 2 * HMS_MIGRATE_MAX_BYTES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;
	int base = 4096 * (1 + (int)mode);
	struct hms_page_info info[NPAGES];

	T_ASSERT(raw != MAP_FAILED);
	/* Inside one 2 MiB block: the softdev moves it in one batch. */
	p = (char *)(((uintptr_t)raw + HMS_MIGRATE_MAX_BYTES - 1) &
		     ~(uintptr_t)(HMS_MIGRATE_MAX_BYTES - 1));
	t_fill((int *)p, N_INT, base);
	T_EQ(hms_manage(h, p, size), 0);
	race.h = h;
	race.d = d;
	race.mode = mode;
	race.armed = race.committed = race.done = race.released = false;
	race.moved = -1;
	race.p = p;
	T_EQ(hms_unmanage(h, p, size), 0);
	race.released = true;
	if (!race.armed)
		T_FAIL("%s: the hook did not run", mode_name[mode]);
	if (mode == IN_FLIGHT)
		T_EQ(pthread_join(race.migrator, NULL), 0);
	race.p = NULL;
	for (size_t i = 0; i < N_INT; i++)
		if (((int *)p)[i] != base + (int)i)
			T_FAIL("%s: word %zu: %d, expected %d (the migration moved %ld pages)",
			       mode_name[mode], i, ((int *)p)[i], base + (int)i, race.moved);
	T_EQ(race.moved, 0);
	T_EQ(hms_softdev_pages_used(d), 0);
	T_EQ(hms_page_query(h, p, NPAGES, info), -ENOENT);
	T_EQ(munmap(raw, 2 * HMS_MIGRATE_MAX_BYTES), 0);
}

int main(int argc, char **argv)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);

	t_watchdog(60, "unmanage_migrate_race");
	hms__test_hook_set(hook, NULL);
	for (int mode = 0; mode < NMODES; mode++)
		if (argc < 2 || atoi(argv[1]) == mode) /* one case: its number */
			one(h, d, mode);
	hms__test_hook_set(NULL, NULL);
	hms_softdev_destroy(d);
	hms_close(h);
	printf("PASS\n");
	return 0;
}
