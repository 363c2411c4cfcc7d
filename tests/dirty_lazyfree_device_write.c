/* SPDX-License-Identifier: MIT */
/* dirty_lazyfree_device_write: a page given MADV_FREE stays in place with
 * its bytes while the table says it is gone (dirty_lazyfree), so a dirty
 * scan write-protects the kernel's page though the table records no
 * protection.  A device write to it must lift that protection first:
 * with UFFD_USER_MODE_ONLY the kernel's own write fault on it (the fault
 * hms_range_fault asks for with MADV_POPULATE_WRITE) cannot reach the
 * handler, and the write failed with -EFAULT (found by `hms stress` run
 * as an unprivileged user).  The write lands, and the scan after reports
 * it. */
#include "hms_test.h"

#define NP 4

int main(void)
{
	struct hms *h = t_open_flags(HMS_OPEN_USER_MODE_ONLY);
	struct hms_softdev *d = t_softdev(h, 0);
	char *p = hms_alloc(h, NP * T_PAGE, 0);
	static char buf[T_PAGE];
	struct hms_softdev_cmd c = { (uint64_t)(uintptr_t)0, buf, 1, 0, 0 };
	uint64_t bm = 0;

	T_EQ(hms_mode(h), HMS_MODE_USER_ONLY);
	T_ASSERT(p);
	memset(p, 'x', NP * T_PAGE);
	T_EQ(hms_dirty_scan(h, p, NP * T_PAGE, &bm, 0), NP); /* never scanned */

	T_EQ(madvise(p + T_PAGE, T_PAGE, MADV_FREE), 0);
	T_EQ(hms_sync(h), 0);
	T_EQ(hms_dirty_scan(h, p, NP * T_PAGE, &bm, 0), 1); /* re-armed: protected */
	T_EQ(bm, 1u << 1);

	memset(buf, 'd', sizeof(buf));
	c.addr = (uint64_t)(uintptr_t)(p + T_PAGE);
	T_EQ(hms_softdev_write(d, &c), 0);
	T_EQ(c.cpages, 1);
	T_EQ(p[T_PAGE], 'd');
	T_EQ(p[2 * T_PAGE - 1], 'd');
	T_EQ(hms_dirty_scan(h, p, NP * T_PAGE, &bm, 0), 1);
	T_EQ(bm, 1u << 1);
	T_EQ(p[0], 'x');
	hms_close(h);
	return 0;
}
