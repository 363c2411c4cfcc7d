/* SPDX-License-Identifier: MIT */
/*
 * signal_handler_touch - a signal handler that reads and writes managed
 * memory living in device memory works: the fault is served by hms'
 * handler thread like any other.  Checked for a signal raised by the
 * thread itself, and for one sent by another thread while the target
 * spins in plain code, and for signals sent while the thread makes hms
 * calls with the signal blocked around each call: a handler that touches
 * device-resident memory while it interrupts an hms call on its own thread
 * deadlocks today (the call may hold a lock the fault path needs; see
 * /work/core-bugs.md), so applications block such signals around hms
 * calls, as they do around malloc.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hms_test.h"

#define NP 16

static struct hms *h;
static struct hms_softdev *dev;
static unsigned char *mem;
static volatile sig_atomic_t seen, handled;
static atomic_int spinning;

/* Reads page 0's first byte, writes it + 1 into page 1: both on the device. */
static void on_usr1(int sig)
{
	(void)sig;
	seen = mem[0];
	mem[T_PAGE] = (unsigned char)(mem[0] + 1);
	handled++;
}

static void to_device(void)
{
	T_EQ(t_cmd(dev, hms_softdev_migrate_to_device, mem, NULL, NP, NULL), 0);
	T_EQ(t_count_loc(h, mem, NP, HMS_LOC_DEVICE), NP);
}

static void *sender(void *arg)
{
	pthread_t target = *(pthread_t *)arg;

	while (!atomic_load(&spinning))
		sched_yield();
	T_EQ(pthread_kill(target, SIGUSR1), 0);
	return NULL;
}

/* Phase 3: a stream of signals until told to stop, one at least (on a
 * loaded machine this thread may first run after the migrations). */
static void *storm(void *arg)
{
	pthread_t target = *(pthread_t *)arg;

	do {
		pthread_kill(target, SIGUSR1);
		usleep(300);
	} while (atomic_load(&spinning) != 2);
	return NULL;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	pthread_t self = pthread_self(), t;

	h = t_open();
	t_watchdog(20, "a signal handler's touch did not return");
	dev = t_softdev(h, 0);
	mem = hms_alloc(h, NP * T_PAGE, 0);
	T_ASSERT(mem);
	memset(mem, 0x41, NP * T_PAGE);
	T_EQ(sigaction(SIGUSR1, &sa, NULL), 0);

	/* 1. raise(): the handler runs on this thread before raise returns. */
	to_device();
	T_EQ(raise(SIGUSR1), 0);
	T_EQ(handled, 1);
	T_EQ(seen, 0x41);
	T_EQ(mem[T_PAGE], 0x42);
	T_EQ(mem[2 * T_PAGE], 0x41);

	/* 2. From another thread, while this one spins without hms calls. */
	memset(mem, 0x50, NP * T_PAGE);
	to_device();
	T_EQ(pthread_create(&t, NULL, sender, &self), 0);
	atomic_store(&spinning, 1);
	while (handled < 2)
		usleep(100); /* plain code; a sleep lets ThreadSanitizer deliver it */
	T_EQ(pthread_join(t, NULL), 0);
	T_EQ(seen, 0x50);
	T_EQ(mem[T_PAGE], 0x51);
	for (size_t k = 2 * T_PAGE; k < NP * T_PAGE; k++)
		T_EQ(mem[k], 0x50);

	/* 3. Signals while this thread migrates pages, blocked around each call;
	 *    in between, the handler finds the pages on the device. */
	{
		sigset_t usr1, old;
		sig_atomic_t before = handled;

		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		T_EQ(pthread_create(&t, NULL, storm, &self), 0);
		for (int i = 0; i < 400; i++) {
			int ret;

			T_EQ(pthread_sigmask(SIG_BLOCK, &usr1, &old), 0);
			ret = t_cmd(dev, hms_softdev_migrate_to_device, mem, NULL, NP, NULL);
			T_EQ(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
			if (ret && ret != -ENOENT) /* -ENOENT: all pages were on the device */
				T_FAIL("migrate_to_device: %d", ret);
			usleep(200);
		}
		atomic_store(&spinning, 2);
		T_EQ(pthread_join(t, NULL), 0);
		T_ASSERT(handled > before);
		T_EQ(mem[T_PAGE], (unsigned char)(mem[0] + 1));
		for (size_t k = 2 * T_PAGE; k < NP * T_PAGE; k++)
			T_EQ(mem[k], 0x50);
		printf("%d signals handled, the last ones during migrations\n", (int)handled);
	}
	hms_close(h);
	return 0;
}
