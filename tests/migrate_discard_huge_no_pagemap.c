/* migrate_discard_huge_no_pagemap: where hms cannot ask the kernel whether
 * a discarded 2 MiB block left as one huge page (pmd_mapped, uffd.c: no
 * /proc/self/pagemap descriptor, here because every descriptor is taken
 * (EMFILE); or no PAGEMAP_SCAN, here refused by a seccomp filter with
 * ENOTTY, as a kernel without it answers), it takes the block for one
 * that left in small pages: the way back makes no fresh huge page for it
 * (hms__test_huge_filled stays), fills by UFFDIO_COPY instead, and every
 * byte reads back.  A first round with both available shows the fresh
 * huge pages such a round makes here; once the descriptors are back, the
 * next discard opens one and they are made again.  SKIP without
 * transparent huge pages, a gated discard or page reuse. */
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"
#include "compat/uffd_compat.h"
#include "huge_round.inc"

/* Every descriptor below a lowered limit, taken (fds_give_back: back). */
static int taken[512], ntaken;
static struct rlimit old_lim;

static void fds_take(void)
{
	struct rlimit lim;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	T_ASSERT(fd >= 0);
	T_EQ(getrlimit(RLIMIT_NOFILE, &old_lim), 0);
	lim = old_lim;
	if (lim.rlim_cur > 512)
		lim.rlim_cur = 512;
	T_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
	taken[ntaken++] = fd;
	while ((fd = fcntl(taken[0], F_DUPFD_CLOEXEC, 0)) >= 0) {
		T_ASSERT(ntaken < 512);
		taken[ntaken++] = fd;
	}
	T_EQ(errno, EMFILE);
	T_ASSERT(open("/proc/self/pagemap", O_RDONLY) == -1 && errno == EMFILE);
}

static void fds_give_back(void)
{
	while (ntaken)
		close(taken[--ntaken]);
	T_EQ(setrlimit(RLIMIT_NOFILE, &old_lim), 0);
}

/* Each run's discard (from its commit to its end) finds no descriptor. */
static void no_fds(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)start, (void)len, (void)arg;
	if (point == HMS_HOOK_MIGRATE_COMMIT)
		fds_take();
	else if (point == HMS_HOOK_MIGRATE_COMMITTED)
		fds_give_back();
}

int main(void)
{
	struct hr_ctx c;

	/* Both there: fresh huge pages. */
	hr_open(&c);
	hr_out(&c, 100, NULL, NULL);
	T_EQ(hr_back(&c, 100, NULL, NULL), HR_FRESH);
	hr_close(&c);

	/* A new context (no descriptor yet) whose discards find none to
	 * open: no fresh huge page.  Opened by a later discard. */
	hr_open(&c);
	hr_out(&c, 200, no_fds, NULL);
	T_EQ(ntaken, 0);
	T_EQ(hr_back(&c, 200, NULL, NULL), 0);
	hr_new_area(&c);
	hr_out(&c, 300, NULL, NULL);
	T_EQ(hr_back(&c, 300, NULL, NULL), HR_FRESH);
	printf("ok: no pagemap descriptor: no fresh huge page, every byte back\n");

	/* PAGEMAP_SCAN refused (the descriptor is open now). */
	hr_new_area(&c);
	if (!t_seccomp_refuse(SYS_ioctl, (long)PAGEMAP_SCAN, ENOTTY)) {
		printf("no PAGEMAP_SCAN: not run: seccomp filters are not available here\n");
	} else {
		hr_out(&c, 400, NULL, NULL);
		T_EQ(hr_back(&c, 400, NULL, NULL), 0);
		printf("ok: no PAGEMAP_SCAN: no fresh huge page, every byte back\n");
	}
	hr_close(&c);
	return 0;
}
