/* SPDX-License-Identifier: MIT */
/* user_copy_kernel_user_only: hms_user_read()/hms_user_write() through
 * the kernel (HMS_USER_COPY=kernel here; also where the program set its
 * own SIGSEGV handler after hms, and in ThreadSanitizer builds) in a
 * user-mode-only context, where the kernel's access cannot fault into
 * hms.  A page on a device, one never touched and one hms write-protects
 * (dirty tracking) each stopped the copy there (-EFAULT, or a short
 * count); hms now resolves such a page as a CPU access would and the copy
 * goes on, with the same bytes as the CPU sees.  A page hms_protect()
 * denies the access, or that no context manages, still ends the copy. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hms_test.h"

#define NP 6

int main(void)
{
	struct hms *h;
	struct hms_softdev *d;
	struct hms_softdev_cmd c;
	static char buf[NP * T_PAGE], src[NP * T_PAGE];
	struct hms_stats s0, s1;
	uint64_t bits = 0;
	char *p, *hole;

	h = t_open_user_kernel_copy();
	d = t_softdev(h, 0);
	p = hms_alloc(h, NP * T_PAGE, 0);
	T_ASSERT(p);
	/* Pages 0-1 on the device, 2 never touched, 3-5 in system memory, 5
	 * write-protected by a dirty scan (it re-arms the page). */
	memset(p, 'a', 2 * T_PAGE);
	memset(p + 3 * T_PAGE, 'b', 3 * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, 2, &c), 0);
	T_EQ(c.cpages, 2);
	T_EQ(t_count_loc(h, p, 2, HMS_LOC_DEVICE), 2);
	T_EQ(hms_dirty_scan(h, p + 5 * T_PAGE, T_PAGE, &bits, 0), 1);
	T_EQ(hms_dirty_scan(h, p + 5 * T_PAGE, T_PAGE, &bits, 0), 0);

	T_EQ(hms_user_read(buf, p, sizeof(buf)), (ssize_t)sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++) {
		char want = i < 2 * T_PAGE ? 'a' : i < 3 * T_PAGE ? 0 : 'b';

		if (buf[i] != want)
			T_FAIL("byte %zu read: %d, expected %d", i, buf[i], want);
	}
	T_EQ(t_count_loc(h, p, 2, HMS_LOC_SYSTEM), 2); /* brought home */

	/* Writes: a device page, a page read (zero) but never written, and
	 * the tracked page, whose write must be seen by the next scan. */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, 1, &c), 0);
	T_EQ(c.cpages, 1);
	memset(src, 'w', sizeof(src));
	T_EQ(hms_user_write(p, src, sizeof(src)), (ssize_t)sizeof(src));
	for (size_t i = 0; i < sizeof(src); i++)
		if (p[i] != 'w')
			T_FAIL("byte %zu after the write: %d", i, p[i]);
	T_EQ(hms_dirty_scan(h, p + 5 * T_PAGE, T_PAGE, &bits, 0), 1);
	T_EQ(bits, 1);

	/* A page hms_protect() made read-only: a write ends there, with the
	 * bytes before it; the page keeps its data. */
	T_EQ(hms_protect(h, p + 2 * T_PAGE, T_PAGE, PROT_READ), 0);
	memset(src, 'x', sizeof(src));
	T_EQ(hms_stats(h, &s0), 0);
	T_EQ(hms_user_write(p + T_PAGE, src, 2 * T_PAGE), (ssize_t)T_PAGE);
	T_EQ(hms_stats(h, &s1), 0);
	T_EQ(s1.device_faults, s0.device_faults); /* no fault resolved there */
	T_EQ(p[T_PAGE], 'x');
	T_EQ(p[2 * T_PAGE], 'w');
	T_EQ(p[3 * T_PAGE - 1], 'w');
	T_EQ(hms_protect(h, p + 2 * T_PAGE, T_PAGE, PROT_READ | PROT_WRITE), 0);

	/* Not managed by anyone, not readable: the copy ends there. */
	hole = mmap(NULL, 2 * T_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(hole != MAP_FAILED);
	memset(hole, 'h', T_PAGE);
	T_EQ(mprotect(hole + T_PAGE, T_PAGE, PROT_NONE), 0);
	T_EQ(hms_user_read(buf, hole, 2 * T_PAGE), (ssize_t)T_PAGE);
	T_EQ(hms_user_read(buf, hole + T_PAGE, T_PAGE), -EFAULT);
	T_EQ(munmap(hole, 2 * T_PAGE), 0);

	T_EQ(hms_free(h, p, NP * T_PAGE), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
