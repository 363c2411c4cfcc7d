/* fault_remove_batch_race: the fault handler reads a CPU fault and a
 * MADV_DONTNEED's REMOVE event in one batch (the kernel hands out faults
 * first).  Reading the event lets the madvise go on and zap its pages at
 * once; if the handler then resolved the fault first, its fault-around
 * brought a discarded device page back over the zap, and the page read
 * its old bytes after the madvise had returned (and the REMOVE, applied
 * after, left the table saying the page was never populated).  A test
 * hook holds the handler in a first fault while the second fault and the
 * madvise queue up behind it (the test waits until /proc shows both
 * threads asleep in the kernel's userfaultfd code, where it can read
 * that), and holds the second fault's migration until the madvise has
 * returned.  The discarded page must read zeros;
 * every other byte is kept, and no device page is left behind. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "hms_test.h"
#include "inject.h"

#define WIN_PAGES 16 /* HMS_FAULT_AROUND's default window */
#define P_PAGE 8     /* the page the madvise discards, in Q's window */

static struct {
	char *s, *q; /* two windows, both on the device */
	atomic_int first_in;  /* the handler waits in the fault on s */
	atomic_int release;   /* ...until this is set */
	atomic_int madv_done; /* the madvise of q's page P returned */
	atomic_int second_in; /* the handler reached a migration in q's window */
	atomic_int tid_a, tid_b; /* the faulting and the discarding thread */
} race;

static void wait_flag(atomic_int *f, const char *what)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!atomic_load(f)) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 20)
			T_FAIL("waited 20 s for %s", what);
		usleep(1000);
	}
}

/*
 * Wait until thread tid sleeps in the kernel function fn (its stack in
 * /proc names it): the fault or the event is queued for the handler.
 * Where the stack cannot be read (not root), a pause stands in.
 */
static void wait_blocked(atomic_int *tid, const char *fn)
{
	char path[64], line[256];
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		FILE *f;
		bool found = false;

		if (atomic_load(tid)) {
			snprintf(path, sizeof(path), "/proc/self/task/%d/stack", atomic_load(tid));
			f = fopen(path, "r");
			if (!f) {
				usleep(200000);
				return;
			}
			while (!found && fgets(line, sizeof(line), f))
				found = strstr(line, fn) != NULL;
			fclose(f);
			if (found)
				return;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 20)
			T_FAIL("waited 20 s for a thread to sleep in %s", fn);
		usleep(1000);
	}
}

static bool in_win(uintptr_t a, const char *w)
{
	return a >= (uintptr_t)w && a < (uintptr_t)w + WIN_PAGES * T_PAGE;
}

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	if (point != HMS_HOOK_MIGRATE_PAGES)
		return;
	if (in_win(start, race.s) && !atomic_exchange(&race.first_in, 1))
		wait_flag(&race.release, "the test to release the first fault");
	if (in_win(start, race.q) && !atomic_exchange(&race.second_in, 1))
		wait_flag(&race.madv_done, "the madvise to return");
}

static void *touch(void *p)
{
	return (void *)(intptr_t)*(volatile int *)p;
}

static void *touch_q(void *p)
{
	atomic_store(&race.tid_a, (int)syscall(SYS_gettid));
	return touch(p);
}

static void *discard(void *p)
{
	atomic_store(&race.tid_b, (int)syscall(SYS_gettid));
	T_EQ(madvise(p, T_PAGE, MADV_DONTNEED), 0);
	atomic_store(&race.madv_done, 1);
	return NULL;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t win = WIN_PAGES * T_PAGE, n = win / sizeof(int);
	char *raw = hms_alloc(h, 4 * win, 0), *base;
	struct hms_softdev_cmd c;
	pthread_t tc, ta, tb;
	void *got;

	T_ASSERT(raw);
	base = (char *)(((uintptr_t)raw + win - 1) & ~(uintptr_t)(win - 1));
	race.q = base;
	race.s = base + 2 * win;
	t_fill((int *)race.q, n, 1000);
	t_fill((int *)race.s, n, 9000);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, race.q, NULL, WIN_PAGES, &c), 0);
	T_EQ(c.cpages, WIN_PAGES);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, race.s, NULL, WIN_PAGES, &c), 0);
	T_EQ(c.cpages, WIN_PAGES);
	hms__test_hook_set(hook, NULL);
	hms__test_hook_in_handler(true);

	/* The handler takes the fault on s and waits in its migration. */
	T_EQ(pthread_create(&tc, NULL, touch, race.s), 0);
	wait_flag(&race.first_in, "the first fault to reach the handler");
	/* Behind it: a fault on q's first page, then the madvise of P. */
	T_EQ(pthread_create(&ta, NULL, touch_q, race.q), 0);
	wait_blocked(&race.tid_a, "handle_userfault");
	T_EQ(pthread_create(&tb, NULL, discard, race.q + P_PAGE * T_PAGE), 0);
	wait_blocked(&race.tid_b, "userfaultfd_remove");
	T_EQ(atomic_load(&race.madv_done), 0); /* its event waits unread */
	atomic_store(&race.release, 1);
	T_EQ(pthread_join(tc, &got), 0);
	T_EQ(pthread_join(ta, &got), 0);
	T_EQ(pthread_join(tb, &got), 0);
	hms__test_hook_set(NULL, NULL);
	hms__test_hook_in_handler(false);
	T_EQ(atomic_load(&race.second_in), 1); /* q's fault migrated pages */

	for (size_t i = 0; i < n; i++) {
		bool gone = i / (T_PAGE / sizeof(int)) == P_PAGE;
		int want = gone ? 0 : 1000 + (int)i;

		if (((int *)race.q)[i] != want)
			T_FAIL("q word %zu (page %zu): %d, not %d%s", i, i / (T_PAGE / sizeof(int)),
			       ((int *)race.q)[i], want, gone ? " (discarded by MADV_DONTNEED)" : "");
	}
	t_check((int *)race.s, n, 9000);
	T_EQ(hms_free(h, raw, 4 * win), 0);
	T_EQ(hms_softdev_pages_used(d), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
