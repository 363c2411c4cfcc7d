/* SPDX-License-Identifier: MIT */
/* fork_child_open_race: a child of fork() opens its own context (as
 * anon_write_child's does) while the parent's fault handler is busy with
 * events.  The handler takes a lock of the library's (uffd.c's ev_lock)
 * for each batch of messages it reads; a fork that came while it held it
 * gave the child the lock held by a thread the child does not have, and
 * the child's hms_open waited for it for ever (anon_write_child timed out
 * under load).  Here a thread of the parent raises REMOVE events and
 * faults without a pause while the main thread forks 300 children, each
 * opening and closing a context: every child must exit 0 within 20 s
 * (60 children in the emulated NUMA VM, HMS_IN_VM).  Not under
 * ThreadSanitizer (tests/ci/extra.sh), which cannot follow a child that
 * starts threads. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hms_test.h"

#define NPAGES 16
#define NFORKS 300

static atomic_bool stop, running;

static void *churn(void *arg)
{
	char *p = arg;

	while (!atomic_load(&stop)) {
		for (size_t i = 0; i < NPAGES; i++)
			p[i * T_PAGE] = (char)i; /* a fault each */
		T_EQ(madvise(p, NPAGES * T_PAGE, MADV_DONTNEED), 0); /* an event */
		atomic_store(&running, true);
	}
	return NULL;
}

int main(void)
{
	struct hms *h = t_open();
	char *p = hms_alloc(h, NPAGES * T_PAGE, 0);
	pthread_t t;
	int nforks = getenv("HMS_IN_VM") ? NFORKS / 5 : NFORKS;

	T_ASSERT(p);
	T_EQ(pthread_create(&t, NULL, churn, p), 0);
	/* Fork once the thread runs: one caught inside its start-up, where
	 * GCC 12's ASan (no fork handlers) holds its thread registry's lock,
	 * leaves the child's pthread_create waiting on that lock for ever
	 * (hung at fork 0 once in CI's ASan run; hms__uffd_start waits for
	 * its own thread for the same reason). */
	while (!atomic_load(&running))
		usleep(100);
	for (int i = 0; i < nforks; i++) {
		pid_t pid = fork();
		int st;

		T_ASSERT(pid >= 0);
		if (pid == 0) {
			struct hms *c = NULL;

			alarm(0);
			if (hms_open(&c, NULL))
				_exit(2);
			hms_close(c);
			_exit(0);
		}
		st = t_wait_child(pid, 20);
		if (st == -1) {
			atomic_store(&stop, true);
			T_FAIL("fork %d: the child's hms_open did not return in 20 s", i);
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			T_FAIL("fork %d: child status %#x", i, st);
	}
	atomic_store(&stop, true);
	T_EQ(pthread_join(t, NULL), 0);
	T_EQ(hms_free(h, p, NPAGES * T_PAGE), 0);
	hms_close(h);
	return 0;
}
