/* SPDX-License-Identifier: MIT */
/* lazyfree_protected_device_write: MADV_FREE raises the REMOVE event that
 * MADV_DONTNEED raises, and the table forgets the page ("discarded, maybe
 * present") with every protection it recorded; but MADV_FREE zaps
 * nothing, and the kernel's page keeps its userfaultfd write protection.
 * A device write then found the page present (the fill: EEXIST), the
 * table said SYSTEM without PTE_WP (only a tracked page recorded it), and
 * in user-mode-only mode the kernel's write (MADV_POPULATE_WRITE in
 * fault_in) failed with EFAULT every time: -EFAULT after 1000 tries.
 * (hms stress --user-only, seed 79 under ThreadSanitizer in CI: dev-kernel
 * -14 on a page the table said was system memory, rw-, no flags.)  Two
 * protections: dirty tracking (armed by a scan) and exclusive access. */
#include "lazyfree_util.h"

static void one(bool exclusive)
{
	struct t_lazy t = t_lazy_open();
	char *p = t.p;
	uint64_t bm = 0;

	if (exclusive) /* protected for a device's exclusive access */
		T_EQ(hms_make_exclusive(t.h, (uintptr_t)p, (uintptr_t)p + T_LAZY_NP * T_PAGE, &bm),
		     T_LAZY_NP);
	else /* armed: protected for dirty tracking */
		T_EQ(hms_dirty_scan(t.h, p, T_LAZY_NP * T_PAGE, &bm, 0), T_LAZY_NP);

	/* No write after it: the page stays in place, still protected. */
	T_EQ(madvise(p + T_PAGE, T_PAGE, MADV_FREE), 0);
	T_EQ(hms_sync(t.h), 0);

	t_lazy_device_write(t.d, p);
	/* The CPU writes it too (no write-protect fault left pending). */
	p[T_PAGE + 5] = 'c';
	T_EQ(p[T_PAGE + 5], 'c');
	hms_close(t.h);
}

int main(void)
{
	one(false);
	one(true);
	return 0;
}
