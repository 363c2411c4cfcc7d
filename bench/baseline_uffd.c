/* SPDX-License-Identifier: MIT */
/*
 * baseline_uffd.c - the raw userfaultfd the benchmarks' baselines measure
 * hms against: opening one, and a handler thread's loop that resolves
 * each page fault with the baseline's own ioctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#define PAGE 4096UL

int bench_uffd_open(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 && errno == EPERM)
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | 1 /* USER_MODE_ONLY */);
	return fd;
}

void bench_uffd_serve(int uffd, atomic_int *stop,
		      void (*resolve)(int uffd, unsigned long page, void *arg), void *arg)
{
	struct uffd_msg m;

	while (!atomic_load(stop)) {
		struct pollfd p = { uffd, POLLIN, 0 };

		if (poll(&p, 1, 100) <= 0)
			continue;
		if (read(uffd, &m, sizeof(m)) != sizeof(m) || m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		resolve(uffd, m.arg.pagefault.address & ~(PAGE - 1), arg);
	}
}
