/* SPDX-License-Identifier: MIT */
/* fork_during_open: fork() while another thread is inside hms_open().
 * The child must hold none of the context's descriptors (userfaultfds,
 * eventfd, timerfd, pagemap): a copy of the userfaultfd kept the parent's
 * registrations alive after the parent's hms_close() for as long as the
 * child lived (design 6, "The child's descriptors").  The fork handler
 * closed the copies of every context on its list, but one still being
 * opened was not on it yet: its descriptors stayed open in the child.
 * A thread opens and closes contexts without a pause while the main
 * thread forks 200 children (40 in the emulated NUMA VM); each child
 * counts its descriptors of those kinds and exits with the count.  Not
 * under ThreadSanitizer (tests/ci/extra.sh): it cannot follow a child of
 * a process with threads. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hms_test.h"

#define NFORKS 200

static atomic_bool stop;
static atomic_int opens;

static void *opener(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		struct hms *h = NULL;

		T_EQ(hms_open(&h, NULL), 0);
		hms_close(h);
		atomic_fetch_add(&opens, 1);
	}
	return NULL;
}

/* Descriptors of the kinds a context opens.  No malloc (opendir): the
 * child of a process with threads, under a sanitizer whose allocator may
 * have been locked by another thread at the fork. */
static int context_fds(void)
{
	int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
	char ents[4096];
	long len;

	if (dfd < 0)
		return 100;
	while ((len = syscall(SYS_getdents64, dfd, ents, sizeof(ents))) > 0) {
		for (long off = 0; off < len;) {
			struct dirent64 *e = (struct dirent64 *)(ents + off);
			char target[256];
			ssize_t tl = readlinkat(dfd, e->d_name, target, sizeof(target) - 1);

			off += e->d_reclen;
			if (tl <= 0)
				continue;
			target[tl] = 0;
			if (strstr(target, "userfaultfd") || strstr(target, "eventfd") ||
			    strstr(target, "timerfd") || strstr(target, "pagemap"))
				n++;
		}
	}
	close(dfd);
	return len < 0 ? 100 : n;
}

int main(void)
{
	int nforks = getenv("HMS_IN_VM") ? NFORKS / 5 : NFORKS, held = 0;
	pthread_t t;

	T_EQ(context_fds(), 0);
	T_EQ(pthread_create(&t, NULL, opener, NULL), 0);
	while (atomic_load(&opens) < 2) /* past its first start-up */
		usleep(100);
	for (int i = 0; i < nforks; i++) {
		pid_t pid = fork();
		int st;

		T_ASSERT(pid >= 0);
		if (pid == 0) {
			alarm(0);
			_exit(context_fds());
		}
		st = t_wait_child(pid, 20);
		if (st == -1) {
			atomic_store(&stop, true);
			T_FAIL("fork %d: the child did not exit in 20 s", i);
		}
		if (!WIFEXITED(st))
			T_FAIL("fork %d: child status %#x", i, st);
		if (WEXITSTATUS(st))
			held++;
		usleep(i % 7 * 100); /* fall at other points of hms_open */
	}
	atomic_store(&stop, true);
	T_EQ(pthread_join(t, NULL), 0);
	fprintf(stderr, "%d forks, %d opens meanwhile, %d children held a context's descriptors\n",
		nforks, atomic_load(&opens), held);
	T_EQ(held, 0);
	return 0;
}
