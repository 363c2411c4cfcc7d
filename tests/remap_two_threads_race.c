/* SPDX-License-Identifier: MIT */
/* remap_two_threads_race: two threads mremap() at once and the handler
 * reads both REMAP events in one batch (a test hook holds it in a CPU
 * fault's migration meanwhile).  Thread 1 moves X away; thread 2 moves Z,
 * whose pages are on a device, onto X's old address.  hms kept one REMAP
 * record: after the batch it named Z's move, so thread 1's UNMAP of X's
 * old range was not taken for its REMAP and removed what hms had just
 * moved there: Z's area left the table, its device pages were freed and
 * all its words read 0 (found by review).  Each mremap in flight now has
 * its record.  SEQUENTIAL=1 runs the two mremaps one after the other. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "hms_test.h"
#include "inject.h"

#define NPAGES 4
static struct hms *h;
static char *X, *Xaway, *Z, *W;
static size_t size = NPAGES * T_PAGE;
static atomic_int go1, go2, held, tid2, done2;

/* X's pages are at Xaway: thread 1's mremap has moved them (it then waits
 * for the handler to read its REMAP).  Only then may thread 2 move Z onto
 * X: the other way round, thread 1 would move Z's pages away. */
static bool x_moved_away(void)
{
	unsigned char vec;

	return !mincore(Xaway, T_PAGE, &vec) && (vec & 1);
}

/* Thread 2 moved Z onto X and waits for its REMAP to be read, or is done. */
static bool t2_moved(void)
{
	int tid = atomic_load(&tid2);

	return atomic_load(&done2) || (tid && t_thread_sleeps_in(tid, SYS_mremap));
}

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)arg; (void)len;
	if (point != HMS_HOOK_MIGRATE_PAGES || start != (uintptr_t)W || atomic_load(&held))
		return;
	atomic_store(&held, 1);
	atomic_store(&go1, 1);
	/* Not a pause: on a loaded machine thread 1 may not have run after
	 * 200 ms, and thread 2 then moved Z onto X before X went away. */
	while (!x_moved_away())
		usleep(100);
	atomic_store(&go2, 1);
	/* (Only for the race: the handler reads both REMAPs in one batch.
	 * Correct either way; 10 s at most, no failure.) */
	for (int ms = 0; ms < 10000 && !t2_moved(); ms++)
		usleep(1000);
}

static void *t1(void *a)
{
	(void)a;
	while (!atomic_load(&go1))
		usleep(100);
	T_ASSERT(mremap(X, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, Xaway) == Xaway);
	return NULL;
}

static void *t2(void *a)
{
	(void)a;
	atomic_store(&tid2, (int)syscall(SYS_gettid));
	while (!atomic_load(&go2))
		usleep(100);
	T_ASSERT(mremap(Z, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, X) == X);
	atomic_store(&done2, 1);
	return NULL;
}

static void *toucher(void *a)
{
	(void)a;
	volatile int v = *(volatile int *)W; /* a CPU fault on a device page */
	(void)v;
	return NULL;
}

int main(void)
{
	h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	struct hms_softdev_cmd c;
	pthread_t a, b, f;

	X = hms_alloc(h, size, 0);
	Z = hms_alloc(h, size, 0);
	W = t_alloc_one_batch(h, size);
	Xaway = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(X && Z && W && Xaway != MAP_FAILED);
	t_fill((int *)X, size / sizeof(int), 1000);
	t_fill((int *)Z, size / sizeof(int), 5000);
	t_fill((int *)W, size / sizeof(int), 9000);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, Z, NULL, NPAGES, &c), 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, W, NULL, NPAGES, &c), 0);
	size_t used = hms_softdev_pages_used(d);

	if (getenv("SEQUENTIAL")) { /* control: one mremap after the other */
		atomic_store(&go1, 1); t1(NULL); atomic_store(&go2, 1); t2(NULL);
		atomic_store(&held, 1);
		goto check;
	}
	t_watchdog(60, "remap_two_threads_race: the held handler, or the mremaps");
	hms__test_hook_set(hook, NULL);
	hms__test_hook_in_handler(true);
	T_EQ(pthread_create(&a, NULL, t1, NULL), 0);
	T_EQ(pthread_create(&b, NULL, t2, NULL), 0);
	T_EQ(pthread_create(&f, NULL, toucher, NULL), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	pthread_join(f, NULL);
	hms__test_hook_in_handler(false);
	hms__test_hook_set(NULL, NULL);
	t_watchdog(0, NULL);
check:
	T_EQ(hms_sync(h), 0);
	T_ASSERT(atomic_load(&held));
	{
		struct hms_page_info pi[NPAGES];

		T_EQ(hms_page_query(h, X, NPAGES, pi), NPAGES); /* Z's area, now at X */
	}
	T_ASSERT(hms_softdev_pages_used(d) <= used);
	t_check((int *)Xaway, size / sizeof(int), 1000);
	int bad = 0;
	for (size_t i = 0; i < size / sizeof(int); i++)
		if (((int *)X)[i] != 5000 + (int)i && bad++ < 3)
			printf("X word %zu: %d, not %d\n", i, ((int *)X)[i], 5000 + (int)i);
	if (bad)
		T_FAIL("%d words of Z's data lost at X", bad);
	printf("ok\n");
	return 0;
}
