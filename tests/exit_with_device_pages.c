/* SPDX-License-Identifier: MIT */
/*
 * exit_with_device_pages - a process that ends with pages in device memory
 * (exit() without hms_close, _exit(), exit() while another thread runs a
 * device kernel, SIGKILL) goes away promptly: no hang in atexit handlers,
 * in the fault handler thread or in the softdev's workers.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hms_test.h"

#define NP 64

enum how { HOW_EXIT, HOW__EXIT, HOW_EXIT_LAUNCHING, HOW_KILL, HOW_COUNT };
static const char *const how_name[] = { "exit()", "_exit()", "exit() during a launch",
					"SIGKILL" };

static struct hms_softdev *dev;
static char *mem;

static void slow(void *page, uint64_t index, void *arg)
{
	(void)index;
	(void)arg;
	usleep(2000);
	((char *)page)[0]++;
}

static void *launcher(void *arg)
{
	struct hms_softdev_cmd c = { (uint64_t)(uintptr_t)mem, NULL, NP, 0, 0 };

	(void)arg;
	hms_softdev_launch(dev, &c, slow, NULL);
	return NULL;
}

/* The child: pages on the device, then it ends as told.  Reports ready on fd. */
static void child(enum how how, int fd)
{
	struct hms *h = t_open();
	pthread_t t;

	dev = t_softdev(h, 0);
	mem = hms_alloc(h, NP * T_PAGE, 0);
	T_ASSERT(mem);
	memset(mem, 0x5a, NP * T_PAGE);
	T_EQ(t_cmd(dev, hms_softdev_migrate_to_device, mem, NULL, NP, NULL), 0);
	T_EQ(t_count_loc(h, mem, NP, HMS_LOC_DEVICE), NP);
	if (how == HOW_EXIT_LAUNCHING) {
		T_EQ(pthread_create(&t, NULL, launcher, NULL), 0);
		pthread_detach(t); /* it is meant to be running at exit */
		usleep(10000);
	}
	if (write(fd, "r", 1) != 1)
		_exit(3);
	switch (how) {
	case HOW_EXIT:
	case HOW_EXIT_LAUNCHING:
		exit(0);
	case HOW__EXIT:
		_exit(0);
	default:
		pause();
		_exit(4);
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	hms_close(t_open()); /* skips where userfaultfd cannot be used */
	for (int how = 0; how < HOW_COUNT; how++) {
		int fds[2], st = 0;
		char c;
		pid_t pid, w = 0;
		double t0;

		T_EQ(pipe(fds), 0);
		fflush(stdout);
		pid = fork();
		T_ASSERT(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child((enum how)how, fds[1]);
		}
		close(fds[1]);
		T_EQ(read(fds[0], &c, 1), 1);
		close(fds[0]);
		if (how == HOW_KILL)
			kill(pid, SIGKILL);
		t0 = now();
		while ((w = waitpid(pid, &st, WNOHANG)) == 0 && now() - t0 < 30)
			usleep(1000);
		if (w == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			T_FAIL("%s with pages on the device: the process did not end in 30 s",
			       how_name[how]);
		}
		T_EQ(w, pid);
		if (how == HOW_KILL)
			T_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		else if (!WIFEXITED(st) || WEXITSTATUS(st))
			T_FAIL("%s: child status 0x%x", how_name[how], st);
		printf("%-24s ended in %.3f s\n", how_name[how], now() - t0);
	}
	return 0;
}
