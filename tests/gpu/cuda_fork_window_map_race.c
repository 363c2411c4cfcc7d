/* SPDX-License-Identifier: MIT */
/*
 * A thread that holds a window (hms_cuda_map) starts another migration to
 * the GPU while another thread forks.  The fork waits for every window to
 * end (their pages must come home for the child), and the migration's
 * setup waited for the fork to end: neither went on (hms_cuda_map and
 * hms_migrate hung; the watchdog fired).  Now a thread that holds a
 * window does not wait for a fork in its migrations to the GPU: they fail
 * (HMS_MIGRATE_NO_FORK_WAIT: hms_cuda_map -EDEADLK, hms_migrate moves
 * nothing, as it leaves any page it cannot place), the thread unmaps its window,
 * the fork goes on, and the child reads the window's bytes.  Then the
 * same map succeeds.  The fork is known to wait once its thread sleeps
 * (in the driver's wait for the window).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpu_test.h"

#define MIB (1UL << 20)
#define BLK (2 * MIB)

static char *base;
static _Atomic pid_t fork_tid;
static int child_status = -1;

static void *forker(void *arg)
{
	pid_t pid;

	(void)arg;
	fork_tid = (pid_t)syscall(SYS_gettid);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		/* The window's pages came home at the fork. */
		const int *q = (const int *)base;

		for (size_t i = 0; i < BLK / sizeof(int); i++)
			if (q[i] != (int)(7 + i))
				_exit(3);
		_exit(0);
	}
	T_ASSERT(pid > 0);
	T_EQ(waitpid(pid, &child_status, 0), pid);
	return NULL;
}

int main(void)
{
	struct hms_cuda_config cfg = { .size = sizeof(cfg), .mem_bytes = 32 * MIB,
				       .copy_threads = 1 };
	const size_t n = 2 * BLK / sizeof(int);
	struct hms_cuda *g;
	struct hms *h;
	uint64_t da, db;
	hms_uid gpu;
	pthread_t f;
	long r;

	if (!g_fake())
		T_SKIP("the fork's timing is watched through its thread's state (fakecuda runs only)");
	h = t_open();
	g = g_attach(h, &cfg);
	gpu = hms_cuda_target(g);
	base = hms_alloc(h, 2 * BLK, HMS_ALLOC_HUGE);
	T_ASSERT(base);
	t_fill((int *)base, n, 7);
	T_EQ(hms_cuda_map(g, base, BLK, 0, &da), 0);

	T_EQ(pthread_create(&f, NULL, forker, NULL), 0);
	while (!fork_tid)
		usleep(100);
	if (!t_thread_settles_in(fork_tid, SYS_futex, 30))
		T_FAIL("fork() never waited for the window");
	usleep(20000);

	t_watchdog(30, "a migration to the GPU by a thread holding a window, during a fork");
	T_EQ(hms_cuda_map(g, base + BLK, BLK, 0, &db), -EDEADLK);
	r = hms_migrate(h, base + BLK, BLK, &gpu, 1, 0); /* best effort: none moved */
	if (r != 0)
		T_FAIL("hms_migrate to the GPU during the fork: %ld, not 0", r);
	t_watchdog(0, NULL);
	T_EQ(g_count_on(h, base + BLK, BLK / T_PAGE, gpu), 0);

	T_EQ(hms_cuda_unmap(g, base, BLK), 0); /* the fork goes on */
	T_EQ(pthread_join(f, NULL), 0);
	T_ASSERT(WIFEXITED(child_status));
	T_EQ(WEXITSTATUS(child_status), 0);

	T_EQ(hms_cuda_map(g, base + BLK, BLK, 0, &db), 0);
	T_EQ(g_count_on(h, base + BLK, BLK / T_PAGE, gpu), BLK / T_PAGE);
	T_EQ(hms_cuda_unmap(g, base + BLK, BLK), 0);
	t_check((int *)base, n, 7);
	T_EQ(hms_free(h, base, 2 * BLK), 0);
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
