/* fault_eagain_event_race: while a MADV_DONTNEED's REMOVE event waits to
 * be read, every fill of a missing page fails with EAGAIN, and the kernel
 * hands the handler all queued faults before any event.  With more faults
 * queued than the handler's retry list held (256), it stopped reading with
 * the list full: the event that made them fail was never read, and every
 * faulting thread got SIGBUS a minute later (the madvise caller waited as
 * long).  Waking a thread whose fill got EAGAIN also made it fault again,
 * queueing a second message ahead of the event for each retry.  A test
 * hook holds the handler in a first fault while 320 threads fault on
 * never-populated pages and a madvise queues behind them; once released,
 * every fault must complete with zeros and the madvise must return.
 * tests/wp_fault_eagain_event_race.c builds this with WP_FAULTS 1: the
 * same for write-protect faults on dirty-tracked pages. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "hms_test.h"
#include "inject.h"

#ifndef WP_FAULTS
#define WP_FAULTS 0 /* 1: the threads write pages dirty tracking protects */
#endif

#define NTHREADS 320
#define HOLD_PAGES 16

static struct {
	char *hold;          /* device pages: the first fault's, held */
	atomic_int held;     /* the handler waits in that fault */
	atomic_int release;  /* ...until this is set */
	atomic_int done;     /* faulting threads that read their page */
	atomic_int madv_done;
	atomic_int tids[NTHREADS + 1]; /* [NTHREADS]: the madvise thread */
} race;

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void wait_flag(atomic_int *f, const char *what)
{
	double t0 = now_s();

	while (!atomic_load(f)) {
		if (now_s() - t0 > 20)
			T_FAIL("waited 20 s for %s", what);
		usleep(1000);
	}
}

/* Is thread tid asleep in kernel function fn?  -1: cannot tell (not root). */
static int in_kernel_fn(int tid, const char *fn)
{
	char path[64], line[256];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stack", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, fn) != NULL;
	fclose(f);
	return found;
}

static void wait_blocked(int from, int to, const char *fn)
{
	double t0 = now_s();

	for (int i = from; i < to;) {
		int tid = atomic_load(&race.tids[i]), r = tid ? in_kernel_fn(tid, fn) : 0;

		if (r < 0) {
			usleep(500000); /* no /proc stacks: a pause stands in */
			return;
		}
		if (r) {
			i++;
			continue;
		}
		if (now_s() - t0 > 30)
			T_FAIL("waited 30 s for thread %d to sleep in %s", i, fn);
		usleep(1000);
	}
}

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	if (point == HMS_HOOK_MIGRATE_PAGES && start >= (uintptr_t)race.hold &&
	    start < (uintptr_t)race.hold + HOLD_PAGES * T_PAGE && !atomic_exchange(&race.held, 1))
		wait_flag(&race.release, "the test to release the first fault");
}

struct arg {
	int i;
	char *page;
	int got;
};

static void *touch_hold(void *p)
{
	return (void *)(intptr_t)*(volatile int *)p;
}

static void *touch(void *p)
{
	struct arg *a = p;

	atomic_store(&race.tids[a->i], (int)syscall(SYS_gettid));
	if (WP_FAULTS)
		*(volatile int *)a->page = a->i + 1;
	a->got = *(volatile int *)a->page;
	atomic_fetch_add(&race.done, 1);
	return NULL;
}

static void *discard(void *p)
{
	atomic_store(&race.tids[NTHREADS], (int)syscall(SYS_gettid));
	T_EQ(madvise(p, T_PAGE, MADV_DONTNEED), 0);
	atomic_store(&race.madv_done, 1);
	return NULL;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t hold = HOLD_PAGES * T_PAGE, zone = (NTHREADS + 1) * T_PAGE;
	char *area = hms_alloc(h, hold + zone, 0), *pages;
	static struct arg args[NTHREADS];
	pthread_t th[NTHREADS], thold, tdis;
	pthread_attr_t attr;
	struct hms_softdev_cmd c;
	double t0;

	T_ASSERT(area);
	race.hold = area;
	pages = area + hold;
	t_fill((int *)race.hold, hold / sizeof(int), 500);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, race.hold, NULL, HOLD_PAGES, &c), 0);
	T_EQ(c.cpages, HOLD_PAGES);
	pages[NTHREADS * T_PAGE] = 1; /* the page the madvise discards */
	if (WP_FAULTS) {
		uint64_t bm[(NTHREADS + 63) / 64];

		for (int i = 0; i < NTHREADS; i++) /* populated ... */
			pages[(size_t)i * T_PAGE] = 0;
		/* ... and write-protected for dirty tracking */
		T_ASSERT(hms_dirty_scan(h, pages, NTHREADS * T_PAGE, bm, 0) >= 0);
		T_EQ(hms_dirty_scan(h, pages, NTHREADS * T_PAGE, bm, 0), 0);
	}
	hms__test_hook_set(hook, NULL);
	hms__test_hook_in_handler(true);

	T_EQ(pthread_attr_init(&attr), 0);
	T_EQ(pthread_attr_setstacksize(&attr, 64 << 10), 0);
	T_EQ(pthread_create(&thold, &attr, touch_hold, race.hold), 0);
	wait_flag(&race.held, "the first fault to reach the handler");
	for (int i = 0; i < NTHREADS; i++) {
		args[i] = (struct arg){ i, pages + (size_t)i * T_PAGE, -1 };
		T_EQ(pthread_create(&th[i], &attr, touch, &args[i]), 0);
	}
	wait_blocked(0, NTHREADS, "handle_userfault");
	T_EQ(pthread_create(&tdis, &attr, discard, pages + NTHREADS * T_PAGE), 0);
	wait_blocked(NTHREADS, NTHREADS + 1, "userfaultfd_remove");
	T_EQ(atomic_load(&race.madv_done), 0); /* its event waits unread */
	T_EQ(atomic_load(&race.done), 0);
	atomic_store(&race.release, 1);

	/* Before the fix the faults waited a minute, then got SIGBUS. */
	t0 = now_s();
	while (atomic_load(&race.done) < NTHREADS || !atomic_load(&race.madv_done)) {
		if (now_s() - t0 > 30)
			T_FAIL("after 30 s %d of %d %s done, madvise %s", atomic_load(&race.done),
			       NTHREADS, WP_FAULTS ? "writes" : "faults",
			       atomic_load(&race.madv_done) ? "returned" : "still waiting");
		usleep(10000);
	}
	T_EQ(pthread_join(thold, NULL), 0);
	T_EQ(pthread_join(tdis, NULL), 0);
	for (int i = 0; i < NTHREADS; i++) {
		T_EQ(pthread_join(th[i], NULL), 0);
		T_EQ(args[i].got, WP_FAULTS ? i + 1 : 0);
	}
	hms__test_hook_set(NULL, NULL);
	hms__test_hook_in_handler(false);
	t_check((int *)race.hold, hold / sizeof(int), 500);
	T_EQ(pages[NTHREADS * T_PAGE], 0);
	if (WP_FAULTS) { /* every write seen */
		uint64_t bm[(NTHREADS + 63) / 64];

		T_EQ(hms_dirty_scan(h, pages, NTHREADS * T_PAGE, bm, 0), NTHREADS);
	}
	T_EQ(hms_free(h, area, hold + zone), 0);
	T_EQ(hms_softdev_pages_used(d), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
