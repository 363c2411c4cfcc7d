/* SPDX-License-Identifier: MIT */
/* remap_late_unmap_race: mremap A moves p away; its REMAP is read and its
 * UNMAP of p, which A queues next, comes late.  Meanwhile B moves a page
 * of its own onto p (a hole), then
 *  - case 0: moves it on with MREMAP_DONTUNMAP, which leaves p mapped,
 *    registered and managed with an empty page;
 *  - case 1: hms_free()s it and moves another page of its own onto p.
 * A's UNMAP, read after that, must leave p managed.  A waits at a low
 * priority (SCHED_IDLE) on the CPU where a spinning thread and B run, so
 * that it queues its UNMAP only once B is done; the handler is held by a
 * test hook while A and B queue their first events.  Each round p must
 * still be managed once A's mremap has returned, and each page (on the
 * device before the moves) read back where it went.
 * Case 0: the record of A's REMAP was dropped when B moved p's page away
 * (as if p had been kept by a DONTUNMAP of A's), and A's UNMAP took the
 * record B's REMAP left: it removed p from the table (2 to 14 rounds of
 * 100 in each of 5 runs before the fix).
 * Case 1: hms_free's UNMAP took both its own record and A's REMAP's, and
 * A's UNMAP then removed B's second page from the table (zeros read in
 * round 0 to 8, 5 runs of 5). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"
#include "hold_handler.inc"

#define ROUNDS 100

static struct hms *h;
static atomic_bool spin, b_done;
static char *p, *qa, *qb, *qb2, *qc;
static int mode; /* the case */

/* The threads live through all rounds (made and joined each round, under
 * ASan a new mapping could get the addresses of a gone thread's internal
 * state, still poisoned).  Each runs its part once per start(). */
struct worker {
	pthread_t t;
	atomic_int tid, told, done;
	void (*part)(void);
	int idle; /* -1: not pinned; else pinned, at SCHED_IDLE if 1 */
};

static int cpu; /* the first CPU this process may run on */

static void pin(int idle)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	T_EQ(pthread_setaffinity_np(pthread_self(), sizeof(set), &set), 0);
	if (idle) {
		struct sched_param sp = { 0 };

		T_EQ(pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp), 0);
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;

	if (w->idle >= 0)
		pin(w->idle);
	atomic_store(&w->tid, (int)syscall(SYS_gettid));
	for (int n = 1;; n++) {
		while (atomic_load(&w->told) < n)
			usleep(100);
		w->part();
		atomic_store(&w->done, n);
	}
	return NULL;
}

static void start(struct worker *w)
{
	atomic_fetch_add(&w->told, 1);
}

static void finish(struct worker *w)
{
	while (atomic_load(&w->done) < atomic_load(&w->told))
		usleep(100);
}

static void move_a(void)
{
	T_ASSERT(mremap(p, T_PAGE, T_PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, qa) == qa);
}

static void move_b(void)
{
	T_ASSERT(mremap(qb, T_PAGE, T_PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, p) == p);
	if (mode == 0) {
		T_ASSERT(mremap(p, T_PAGE, T_PAGE,
				MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, qb2) == qb2);
	} else {
		T_EQ(hms_free(h, p, T_PAGE), 0);
		T_ASSERT(mremap(qc, T_PAGE, T_PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, p) == p);
	}
	atomic_store(&b_done, true);
}

static struct worker reader = { .part = hold_read, .idle = -1 }, wa = { .part = move_a, .idle = 1 },
		     wb = { .part = move_b, .idle = 0 };

static void *spinner(void *arg)
{
	(void)arg;
	pin(0);
	for (;;) {
		while (!atomic_load(&spin))
			usleep(100);
		while (atomic_load(&spin) && !atomic_load(&b_done))
			;
		atomic_store(&spin, false);
	}
	return NULL;
}

static bool mapped(const void *q)
{
	unsigned char vec;

	return !mincore((void *)q, T_PAGE, &vec);
}

/* Two places to move to, one page each: reserved (PROT_NONE, never
 * registered, so a move there raises no UNMAP event as onto a hole), not
 * holes, which a thread's stack made meanwhile could take (the moves then
 * replaced part of it: SIGSEGV on 6.1).  The page between them is
 * unmapped with them (unreserve). */
static void reserve(char **x, char **y)
{
	char *q = mmap(NULL, 3 * T_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	T_ASSERT(q != MAP_FAILED);
	*x = q;
	*y = q + 2 * T_PAGE;
}

/* The page at q, moved there from a device, has its bytes. */
static void check(const char *q, char c, int round, const char *what)
{
	for (size_t i = 0; i < T_PAGE; i++)
		if (q[i] != c)
			T_FAIL("round %d: %s: byte %zu is %#x, not '%c'", round, what, i,
			       (unsigned)(unsigned char)q[i], c);
}

static const char *const name[] = { "MREMAP_DONTUNMAP", "hms_free and mremap" };

/* ROUNDS rounds of case m: how many lost p. */
static int run(struct hms_softdev *d)
{
	int bad = 0;

	t_watchdog(120, name[mode]);
	for (int round = 0; round < ROUNDS; round++) {
		struct hms_page_info pi;
		long ret;

		p = hms_alloc(h, T_PAGE, 0);
		qb = hms_alloc(h, T_PAGE, 0);
		qc = hms_alloc(h, T_PAGE, 0);
		T_ASSERT(p && qb && qc);
		memset(p, 'a', T_PAGE);
		memset(qb, 'b', T_PAGE);
		memset(qc, 'c', T_PAGE);
		t_to_device(h, d, p, 1, "a");
		t_to_device(h, d, qb, 1, "b");
		t_to_device(h, d, qc, 1, "c");
		reserve(&qa, &qb2);
		t_to_device(h, d, hold, 1, "hold");
		hold_reset();
		hms__test_hook_in_handler(true);
		hms__test_hook_set(hold_hook, NULL);
		atomic_store(&b_done, false);
		start(&reader);
		hold_wait();
		/* A's REMAP queued, p a hole; then B's REMAP onto p. */
		start(&wa);
		while (mapped(p) || !t_thread_sleeps_in(atomic_load(&wa.tid), SYS_mremap))
			usleep(1000);
		atomic_store(&spin, true);
		start(&wb);
		while (!mapped(p) || !t_thread_sleeps_in(atomic_load(&wb.tid), SYS_mremap))
			usleep(1000);
		hold_release();
		finish(&wb);
		finish(&wa);
		finish(&reader);
		hms__test_hook_set(NULL, NULL);
		hms__test_hook_in_handler(false);
		T_EQ(hms_sync(h), 0);

		ret = hms_page_query(h, p, 1, &pi);
		if (ret != 1) {
			printf("%s, round %d: p is not managed (hms_page_query says %ld)\n",
			       name[mode], round, ret);
			bad++;
		}
		check(qa, 'a', round, "A's page");
		T_EQ(hms_free(h, qa, T_PAGE), 0);
		if (mode == 0) {
			check(qb2, 'b', round, "B's page");
			T_EQ(hms_free(h, qb2, T_PAGE), 0);
		} else {
			check(p, 'c', round, "B's second page");
			T_EQ(munmap(qb2, T_PAGE), 0);
		}
		T_EQ(munmap(qa + T_PAGE, T_PAGE), 0);
		if (ret == 1)
			T_EQ(hms_free(h, p, T_PAGE), 0);
		else
			T_EQ(munmap(p, T_PAGE), 0);
	}
	t_watchdog(0, NULL);
	return bad;
}

int main(int argc, char **argv)
{
	struct hms_softdev *d;
	pthread_t ts;
	cpu_set_t all;
	int bad[2] = { 0, 0 };

	T_EQ(sched_getaffinity(0, sizeof(all), &all), 0);
	while (!CPU_ISSET(cpu, &all))
		cpu++;
	h = t_open();
	d = t_softdev(h, 0);
	hold = hms_alloc(h, T_PAGE, 0);
	T_ASSERT(hold);
	memset(hold, 'h', T_PAGE);
	T_EQ(pthread_create(&ts, NULL, spinner, NULL), 0);
	T_EQ(pthread_create(&reader.t, NULL, work, &reader), 0);
	T_EQ(pthread_create(&wa.t, NULL, work, &wa), 0);
	T_EQ(pthread_create(&wb.t, NULL, work, &wb), 0);
	while (!atomic_load(&reader.tid) || !atomic_load(&wa.tid) || !atomic_load(&wb.tid))
		usleep(1000);
	for (mode = 0; mode < 2; mode++)
		if (argc < 2 || atoi(argv[1]) == mode)
			bad[mode] = run(d);
	if (bad[0] || bad[1])
		T_FAIL("p lost: %d rounds of %d (%s), %d of %d (%s)", bad[0], ROUNDS, name[0],
		       bad[1], ROUNDS, name[1]);
	hms_softdev_destroy(d);
	hms_close(h);
	printf("ok: %d rounds of each case, p managed after each\n", ROUNDS);
	return 0;
}
