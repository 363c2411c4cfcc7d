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
#include "lazyfree_util.h"

int main(void)
{
	struct t_lazy t = t_lazy_open();
	uint64_t bm = 0;

	T_EQ(hms_dirty_scan(t.h, t.p, T_LAZY_NP * T_PAGE, &bm, 0), T_LAZY_NP); /* never scanned */

	T_EQ(madvise(t.p + T_PAGE, T_PAGE, MADV_FREE), 0);
	T_EQ(hms_sync(t.h), 0);
	T_EQ(hms_dirty_scan(t.h, t.p, T_LAZY_NP * T_PAGE, &bm, 0), 1); /* re-armed: protected */
	T_EQ(bm, 1u << 1);

	t_lazy_device_write(t.d, t.p);
	T_EQ(hms_dirty_scan(t.h, t.p, T_LAZY_NP * T_PAGE, &bm, 0), 1);
	T_EQ(bm, 1u << 1);
	hms_close(t.h);
	return 0;
}
