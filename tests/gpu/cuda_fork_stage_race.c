/* SPDX-License-Identifier: MIT */
/*
 * fork() while migrations to the GPU start: they wait in their setup for
 * the fork to end (no page may leave for a device meanwhile), and the
 * fork brings the GPU's pages home first, through the driver's pinned
 * staging buffers.  A migration to the GPU took its staging buffer before
 * its setup, so three of them waiting for the fork held all three buffers
 * of a GPU with one copy thread, and the fork's eviction waited for a
 * buffer for ever: a deadlock (the watchdog fired in fork(), with three
 * threads in hms_migrate_vma_setup).  Now a migration takes its buffer
 * after its setup, and only when it has pages to copy.
 *
 * Deterministic: a softdev migration to its device is held in its pages()
 * step by a test hook, so the fork waits for it (h->to_device) after it
 * has stopped new migrations; meanwhile the three GPU migrations start
 * and sleep in their setup.  Then the hook lets go, and the fork evicts
 * one block of GPU pages.  The child reads them; in the parent every
 * migration completes and every byte compares equal.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpu_test.h"
#include "inject.h"

#define MIB (1UL << 20)
#define BLK (2 * MIB)
#define NMIG 3 /* the GPU's staging buffers: copy_threads + 2 */

static struct hms *h;
static hms_uid gpu;
static char *base; /* block 0: on the GPU before the fork; 1..3: the
		    * migrations; 4: the softdev's */
static struct hms_softdev *sd;
static pid_t main_tid;
static _Atomic pid_t mig_tid[NMIG];
static pthread_t mig[NMIG];
static long moved[NMIG];
static _Atomic int hooked, sd_in_hook;

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void *migrate_one(void *arg)
{
	long i = (long)arg;

	mig_tid[i] = gettid_();
	moved[i] = hms_migrate(h, base + (size_t)(i + 1) * BLK, BLK, &gpu, 1, 0);
	return NULL;
}

static void wait_sleeping(pid_t tid, const char *who)
{
	if (!t_thread_settles_in(tid, SYS_futex, 30))
		T_FAIL("%s never waited", who);
}

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)len, (void)arg;
	if (point != HMS_HOOK_MIGRATE_PAGES || start != (uintptr_t)(base + 4 * BLK) ||
	    atomic_exchange(&hooked, 1))
		return;
	/* The softdev's migration is in flight (h->to_device): a fork now
	 * stops new migrations and waits for this one. */
	sd_in_hook = 1;
	wait_sleeping(main_tid, "fork()");
	usleep(20000);
	for (long i = 0; i < NMIG; i++) {
		T_EQ(pthread_create(&mig[i], NULL, migrate_one, (void *)i), 0);
		while (!mig_tid[i])
			usleep(100);
		wait_sleeping(mig_tid[i], "a migration to the GPU");
	}
	usleep(20000); /* (each sleeps in its setup, waiting for the fork) */
}

static void *sd_migrate(void *arg)
{
	(void)arg;
	T_EQ(t_cmd(sd, hms_softdev_migrate_to_device, base + 4 * BLK, NULL, 16, NULL), 0);
	return NULL;
}

int main(void)
{
	struct hms_cuda_config cfg = { .size = sizeof(cfg), .mem_bytes = 32 * MIB,
				       .copy_threads = 1 };
	struct hms_cuda *g;
	const size_t n = 5 * BLK / sizeof(int);
	pthread_t sdt;
	hms_uid sys;
	pid_t pid;

	if (!g_fake())
		T_SKIP("the fork's timing is held through a test hook (fakecuda runs only)");
	h = t_open();
	g = g_attach(h, &cfg);
	gpu = hms_cuda_target(g);
	sd = t_softdev(h, 4 * MIB);
	base = hms_alloc(h, 5 * BLK, HMS_ALLOC_HUGE);
	T_ASSERT(base);
	t_fill((int *)base, n, 41);
	T_EQ(hms_where(h, base, 1, &sys), 1);
	T_EQ(hms_migrate(h, base, BLK, &gpu, 1, 0), (long)(BLK / T_PAGE));

	main_tid = gettid_();
	hms__test_hook_set(hook, NULL);
	T_EQ(pthread_create(&sdt, NULL, sd_migrate, NULL), 0);
	while (!sd_in_hook)
		usleep(100);
	t_watchdog(30, "fork() with every staging buffer held by a migration waiting for it");
	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		/* The GPU's pages came home at the fork. */
		const int *q = (const int *)base;

		for (size_t i = 0; i < BLK / sizeof(int); i++)
			if (q[i] != (int)(41 + i))
				_exit(3);
		_exit(0);
	}
	t_watchdog(0, NULL);
	t_wait_ok(pid);
	T_EQ(pthread_join(sdt, NULL), 0);
	for (int i = 0; i < NMIG; i++) {
		T_EQ(pthread_join(mig[i], NULL), 0);
		T_EQ(moved[i], BLK / T_PAGE);
	}
	hms__test_hook_set(NULL, NULL);
	T_EQ(g_count_on(h, base + BLK, NMIG * BLK / T_PAGE, gpu), NMIG * BLK / T_PAGE);
	t_check((int *)base, n, 41);
	T_EQ(hms_free(h, base, 5 * BLK), 0);
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
