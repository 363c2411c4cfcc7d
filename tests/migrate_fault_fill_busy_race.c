/* SPDX-License-Identifier: MIT */
/* migrate_fault_fill_busy_race: a fault on a page that a migration to a
 * device has selected and not yet discarded (MIGRATING, not ZAPPED) fills
 * it write protected, holding it PTE_BUSY, and the migration waits for
 * BUSY to clear before it discards the system copy (uffd.c, fault_page;
 * migrate.c, mark_committing), so that the fill lands before the discard,
 * never after.  Two such faults at once (two device threads faulting the
 * same page through hms_range_fault, which is how interval_stress's
 * readers meet a page that a migration back and a migration out passed
 * over between their look and their fault) both took the page: the first
 * one's fill found the page present (EEXIST) and cleared BUSY while the
 * second one's fill was still to come; the migration then discarded the
 * page (UFFDIO_MOVE, which raises no event, so the fill gate let the
 * second fill through) and the second fill put a write-protected zero
 * page over the page the table now said was on the device: the CPU read
 * zeros, and the next migration back kept that zero page (a fill
 * conflict), losing the data.  Suspected cause of interval_stress's one
 * CI failure (tests/interval_stress.c:136: 0 != 1, Linux 6.12 in a VM).
 * A test hook holds the second fault inside its fill while the first one
 * finishes and the migration discards. */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include "hms_test.h"
#include "inject.h"

static struct hms *h;
static char *p;
static pthread_mutex_t lk = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct {
	bool armed, started, b_holds, discarded;
	bool done[3]; /* by role */
	long ret[3];
	pthread_t a, b;
} race;
enum { A = 1, B = 2 };
static __thread int role; /* A or B: the fault this thread is */

/* Waits up to ms for *flag (under lk); its value. */
static bool wait_for(bool *flag, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&lk);
	while (!*flag && pthread_cond_timedwait(&cv, &lk, &ts) == 0)
		;
	bool v = *flag;
	pthread_mutex_unlock(&lk);
	return v;
}

static void put(bool *flag, bool v)
{
	pthread_mutex_lock(&lk);
	*flag = v;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&lk);
}

static void set(bool *flag)
{
	put(flag, true);
}

/* The flags are read under lk too: the hooks run on every thread that
 * migrates, also after the race (fault A may bring the page back). */
static bool get(bool *flag)
{
	bool v;

	pthread_mutex_lock(&lk);
	v = *flag;
	pthread_mutex_unlock(&lk);
	return v;
}

/* A device thread's read fault on the page (hms_prefault takes the same
 * path as hms_range_fault's fault of a page that is not present); arg:
 * its role. */
static void *fault(void *arg)
{
	role = (int)(intptr_t)arg;
	race.ret[role] = hms_prefault(h, p, T_PAGE, false);
	set(&race.done[role]);
	return NULL;
}

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	uintptr_t x = (uintptr_t)p;

	(void)arg;
	if (x < start || x >= start + len || !get(&race.armed))
		return;
	switch (point) {
	case HMS_HOOK_MIGRATE_PAGES:
		/* The migrating thread: copied, nothing discarded yet. */
		if (get(&race.started))
			return;
		set(&race.started);
		T_EQ(pthread_create(&race.b, NULL, fault, (void *)(intptr_t)B), 0);
		T_ASSERT(wait_for(&race.b_holds, 30000)); /* a watchdog */
		T_EQ(pthread_create(&race.a, NULL, fault, (void *)(intptr_t)A), 0);
		/* Fixed, A waits for B (the page is held): go on without it. */
		wait_for(&race.done[A], 300);
		return;
	case HMS_HOOK_FAULT_FILL:
		if (role != B || get(&race.b_holds))
			return;
		set(&race.b_holds);
		/* Fixed, the migration waits for us before it discards. */
		wait_for(&race.discarded, 500);
		return;
	case HMS_HOOK_MIGRATE_COMMITTED:
		if (!get(&race.started) || get(&race.discarded))
			return;
		set(&race.discarded);
		wait_for(&race.done[B], 2000);
		return;
	default:
		return;
	}
}

int main(void)
{
	struct hms_softdev *dev;
	struct hms_softdev_cmd c;
	struct hms_page_info pi;
	uint64_t conflicts;

	h = t_open();
	if (!hms__test_gated_discard(h))
		T_SKIP("the discard is not gated here (no UFFDIO_MOVE): the fill gate "
		       "already refuses a fill after a discard's REMOVE event");
	dev = t_softdev(h, 0);
	p = t_alloc_one_batch(h, T_PAGE);
	T_ASSERT(p);
	memset(p, 'd', T_PAGE);
	hms__test_hook_set(hook, NULL);
	set(&race.armed);
	T_EQ(t_cmd(dev, hms_softdev_migrate_to_device, p, NULL, 1, &c), 0);
	put(&race.armed, false);
	T_ASSERT(get(&race.started));
	pthread_join(race.b, NULL);
	T_ASSERT(wait_for(&race.done[A], 30000)); /* a watchdog */
	pthread_join(race.a, NULL);
	hms__test_hook_set(NULL, NULL);
	T_EQ(race.ret[A], 1);
	T_EQ(race.ret[B], 1);
	T_EQ(hms_page_query(h, p, 1, &pi), 1);
	printf("after the race: location %u, flags %#x\n", pi.location, pi.flags);
	/* Wherever the page is, it holds its bytes: the CPU reads them, and a
	 * migration back finds no page of the CPU's in the way. */
	T_EQ(t_cmd(dev, hms_softdev_migrate_to_system, p, NULL, 1, &c), 0);
	conflicts = hms__test_fill_conflicts(h);
	for (size_t i = 0; i < T_PAGE; i++)
		if (p[i] != 'd')
			T_FAIL("byte %zu: %#x, not 'd' (fill conflicts %llu)", i,
			       (unsigned)(unsigned char)p[i], (unsigned long long)conflicts);
	T_EQ(conflicts, 0);
	hms_softdev_destroy(dev);
	hms_close(h);
	return 0;
}
