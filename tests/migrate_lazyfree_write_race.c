/* SPDX-License-Identifier: MIT */
/* migrate_lazyfree_write_race: what the application writes after an
 * MADV_FREE is never lost, even when the pages were taken by a migration
 * to a device.  MADV_FREE raises the same REMOVE event as MADV_DONTNEED
 * (the handler marks pages under migration PTE_DISCARD), but the kernel
 * leaves the pages in place, and a write keeps them for good.  A test
 * hook (MIGRATE_SELECTED) runs on the migrating thread after the
 * migration took the pages and before it write protected them: it gives
 * the odd pages MADV_FREE (and waits for the handler to have marked them),
 * then writes them again, which takes no fault.  The driver copied the
 * new bytes, the migration discarded the system pages, and finalize,
 * seeing PTE_DISCARD, dropped the device's copy too and left the table
 * saying "never populated": the CPU read zeros where it had written
 * (failed so before the fix: "free+write, CPU after the race: page 1
 * word 0: 0, not 52024", on Linux 6.18 with UFFDIO_MOVE and with
 * HMS_UFFD_MOVE=0, and on Linux 6.1 in the VM).  Now the discard keeps
 * the pages it finds discarded in place.  The other cases: an
 * MADV_FREE with no write (the old bytes or zeros, a whole page either
 * way), a write that comes after the write protection (from another
 * thread: it waits for finalize), and an MADV_DONTNEED at the same point
 * (zeros).  Each time the CPU's view is checked, then the pages go to the
 * device and back and must carry exactly what the CPU read. */
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

#define NPAGES 8
#define N_INT (4096 / sizeof(int))

enum mode { FREE_WRITE, FREE_ONLY, FREE_WRITE_LATE, DONTNEED, NMODES };
static const char *const mode_name[NMODES] = { "free+write", "free", "free+late write",
					       "dontneed" };

static struct {
	struct hms *h;
	char *p;
	enum mode mode;
	int fresh;     /* what the odd pages are written with */
	bool advised;  /* the madvise ran */
	bool writer;   /* a writer thread was started */
	pthread_t tid;
} race;

static int *page(char *p, size_t i)
{
	return (int *)(p + i * T_PAGE);
}

static void write_odd(void)
{
	for (size_t i = 1; i < NPAGES; i += 2)
		t_fill(page(race.p, i), N_INT, race.fresh + (int)(i * N_INT));
}

static void *writer(void *arg)
{
	(void)arg;
	write_odd(); /* the first store faults and waits for finalize */
	return NULL;
}

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)arg;
	(void)len;
	if (!race.h || start != (uintptr_t)race.p)
		return;
	if (point == HMS_HOOK_MIGRATE_SELECTED && !race.advised) {
		race.advised = true;
		for (size_t i = 1; i < NPAGES; i += 2)
			T_EQ(madvise(race.p + i * T_PAGE, T_PAGE,
				     race.mode == DONTNEED ? MADV_DONTNEED : MADV_FREE),
			     0);
		/* The handler has marked them (it may not wait for us). */
		T_EQ(hms_sync(race.h), 0);
		if (race.mode == FREE_WRITE)
			write_odd(); /* not protected yet: no fault */
	}
	if (point == HMS_HOOK_MIGRATE_PAGES && race.mode == FREE_WRITE_LATE && !race.writer) {
		/* Protected and copied now: the writer's store faults and
		 * waits; give it time to get there (it is right either way). */
		race.writer = true;
		T_EQ(pthread_create(&race.tid, NULL, writer, NULL), 0);
		usleep(50000);
	}
}

/* What page i must hold after the race: its int k is want + k, want -1
 * if it may be either its old bytes or zeros (MADV_FREE, no write). */
static int expected(enum mode mode, int base, int fresh, size_t i)
{
	if (!(i & 1))
		return base + (int)(i * N_INT);
	switch (mode) {
	case FREE_WRITE:
	case FREE_WRITE_LATE:
		return fresh + (int)(i * N_INT);
	case FREE_ONLY:
		return -1;
	default:
		return 0; /* zeros */
	}
}

/* Checks page i of q against want (see expected()); 0 stands for zeros.
 * With want -1 it may be either base's bytes or zeros: returns which it
 * was, for the next look to match. */
static int check_page(const int *q, int want, int base, size_t i, const char *where,
		      enum mode mode)
{
	if (want == -1)
		want = q[0] == 0 ? 0 : base + (int)(i * N_INT);
	for (size_t k = 0; k < N_INT; k++) {
		int w = want ? want + (int)k : 0;

		if (q[k] != w)
			T_FAIL("%s, %s: page %zu word %zu: %d, not %d", mode_name[mode], where, i,
			       k, q[k], w);
	}
	return want;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = NPAGES * T_PAGE;
	static int buf[NPAGES * N_INT];

	T_ASSERT(T_PAGE == 4096);
	t_watchdog(60, "migrate_lazyfree_write_race");
	hms__test_hook_set(hook, NULL);
	for (int mode = 0; mode < NMODES; mode++) {
		char *p = t_alloc_one_batch(h, size);
		int base = 1000 + 100000 * mode, fresh = base + 50000, want[NPAGES];
		struct hms_softdev_cmd c;

		T_ASSERT(p);
		for (size_t i = 0; i < NPAGES; i++)
			t_fill(page(p, i), N_INT, base + (int)(i * N_INT));
		race = (typeof(race)){ h, p, mode, fresh, false, false, 0 };
		t_cmd(d, hms_softdev_migrate_to_device, p, NULL, NPAGES, &c);
		race.h = NULL;
		if (race.writer)
			T_EQ(pthread_join(race.tid, NULL), 0);
		if (!race.advised || (mode == FREE_WRITE_LATE && !race.writer))
			T_FAIL("%s: the hook did not run", mode_name[mode]);
		/* What the CPU reads now... */
		for (size_t i = 0; i < NPAGES; i++)
			want[i] = check_page(page(p, i), expected(mode, base, fresh, i), base, i,
					     "CPU after the race", mode);
		/* ...the device gets, and the CPU reads again when it is back. */
		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, NPAGES, &c), 0);
		T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_DEVICE), NPAGES);
		T_EQ(t_cmd(d, hms_softdev_read, p, buf, NPAGES, &c), 0);
		for (size_t i = 0; i < NPAGES; i++)
			check_page(buf + i * N_INT, want[i], base, i, "device", mode);
		T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, NPAGES, &c), 0);
		T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_DEVICE), 0);
		for (size_t i = 0; i < NPAGES; i++)
			check_page(page(p, i), want[i], base, i, "CPU after a round trip", mode);
		T_EQ(hms_softdev_pages_used(d), 0);
		T_EQ(hms_free(h, p, size), 0);
	}
	hms__test_hook_set(NULL, NULL);
	t_watchdog(0, NULL);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
