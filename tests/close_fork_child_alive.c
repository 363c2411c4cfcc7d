/* SPDX-License-Identifier: MIT */
/* close_fork_child_alive: after hms_close(), no memory of the process waits
 * for a fault handler, even while a fork child that inherited the
 * context is still alive.  Memory the kernel keeps registered with the
 * context's userfaultfd though hms does not manage it (an area grown in
 * place by mremap(), design 6) is let go by the kernel when the last
 * descriptor of the userfaultfd closes.  The child inherited a copy of
 * that descriptor: before the fix it kept the userfaultfd open after the
 * parent's hms_close(), the grown part stayed registered with no reader,
 * and the parent's first touch there waited for ever ("FAIL: the touch
 * after hms_close() hangs").  Now the child's fork handler closes its
 * copies of the descriptors (the child cannot use them: -ECHILD). */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hms_test.h"

static char *tail;
static atomic_bool touched;

static void *toucher(void *arg)
{
	(void)arg;
	tail[0] = 42; /* never populated: a missing-page fault */
	touched = true;
	return NULL;
}

int main(void)
{
	struct hms *h = t_open();
	char *p = mmap(NULL, 2 * T_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);
	int pipefd[2];
	pthread_t tid;
	pid_t pid;
	char c = 0;

	t_watchdog(60, "close_fork_child_alive");
	T_ASSERT(p != MAP_FAILED);
	T_EQ(munmap(p + T_PAGE, T_PAGE), 0);
	p[0] = 1;
	T_EQ(hms_manage(h, p, T_PAGE), 0);
	/* Grown in place: the new page is registered, not managed. */
	if (mremap(p, T_PAGE, 2 * T_PAGE, 0) != p)
		T_SKIP("the page after the area is taken");
	tail = p + T_PAGE;
	T_EQ(pipe(pipefd), 0);
	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) { /* alive until the parent is done */
		close(pipefd[1]);
		(void)!read(pipefd[0], &c, 1);
		_exit(0);
	}
	close(pipefd[0]);
	hms_close(h);
	T_EQ(pthread_create(&tid, NULL, toucher, NULL), 0);
	for (int ms = 0; ms < 30000 && !touched; ms++) /* 30 s: a hang, not a slow machine */
		usleep(1000);
	if (!touched) {
		/* Let the child go: the descriptor closes, the touch ends. */
		close(pipefd[1]);
		t_wait_ok(pid);
		T_EQ(pthread_join(tid, NULL), 0);
		T_FAIL("the touch after hms_close() hangs while a fork child lives");
	}
	T_EQ(pthread_join(tid, NULL), 0);
	T_EQ(tail[0], 42);
	T_EQ(p[0], 1);
	close(pipefd[1]);
	t_wait_ok(pid);
	printf("PASS\n");
	return 0;
}
