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
#include "hms_test.h"

#define NP 4

static void one(bool exclusive)
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
	if (exclusive) /* protected for a device's exclusive access */
		T_EQ(hms_make_exclusive(h, (uintptr_t)p, (uintptr_t)p + NP * T_PAGE, &bm), NP);
	else /* armed: protected for dirty tracking */
		T_EQ(hms_dirty_scan(h, p, NP * T_PAGE, &bm, 0), NP);

	/* No write after it: the page stays in place, still protected. */
	T_EQ(madvise(p + T_PAGE, T_PAGE, MADV_FREE), 0);
	T_EQ(hms_sync(h), 0);

	memset(buf, 'd', sizeof(buf));
	c.addr = (uint64_t)(uintptr_t)(p + T_PAGE);
	T_EQ(hms_softdev_write(d, &c), 0);
	T_EQ(c.cpages, 1);
	T_EQ(p[T_PAGE], 'd');
	T_EQ(p[2 * T_PAGE - 1], 'd');
	T_EQ(p[0], 'x');
	/* The CPU writes it too (no write-protect fault left pending). */
	p[T_PAGE + 5] = 'c';
	T_EQ(p[T_PAGE + 5], 'c');
	hms_close(h);
}

int main(void)
{
	one(false);
	one(true);
	return 0;
}
