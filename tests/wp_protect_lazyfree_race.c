/* SPDX-License-Identifier: MIT */
/* wp_protect_lazyfree_race: wp.c holds the pages it protects (PTE_BUSY)
 * from its look at the table to the UFFDIO_WRITEPROTECT ioctl.  An
 * MADV_FREE in between raises a REMOVE event that makes the table forget
 * the page ("discarded, maybe present": NONE), but zaps nothing: the
 * application writes the page again at once without a fault (it is not
 * protected yet), and the ioctl then protects the kernel's page.  The
 * table records no protection (the page is not SYSTEM), so nothing
 * that goes by the table lifts it: a device's write found the page
 * present (EEXIST), took it for SYSTEM and unprotected, and in
 * user-mode-only mode the kernel's write (MADV_POPULATE_WRITE in
 * range.c's fault_in) failed with EFAULT 1000 times: -EFAULT (the likely
 * cause of `hms stress --user-only --seed 79` failing under
 * ThreadSanitizer in CI: dev-kernel -14 on a page hms said was system
 * memory, rw-, not write protected).  The protection here is exclusive
 * access (dev 0); a test hook, WP_PROTECT, runs just before the ioctl
 * and does the MADV_FREE and the write.  Dev 1 then writes the page. */
#include <sys/mman.h>

#include "inject.h"
#include "lazyfree_util.h"

static struct {
	struct hms *h;
	char *p;
	int fired;
} race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	char *q;

	(void)arg;
	(void)len;
	if (!race.h || point != HMS_HOOK_WP_PROTECT || start != (uintptr_t)race.p || race.fired++)
		return;
	q = race.p + T_PAGE;
	T_EQ(madvise(q, T_PAGE, MADV_FREE), 0);
	T_EQ(hms_sync(race.h), 0);
	memset(q, 'y', T_PAGE); /* written again: kept for good */
}

int main(void)
{
	struct t_lazy t = t_lazy_open();
	struct hms_softdev *d1 = t_softdev(t.h, 0);
	char *p = t.p;

	race.h = t.h;
	race.p = p;
	hms__test_hook_set(hook, NULL);
	T_ASSERT(hms_make_exclusive(t.h, (uintptr_t)p, (uintptr_t)p + T_LAZY_NP * T_PAGE, t.d) >=
		 T_LAZY_NP - 1);
	hms__test_hook_set(NULL, NULL);
	T_EQ(race.fired, 1);
	T_EQ(p[T_PAGE], 'y');

	t_lazy_device_write(d1, p);
	p[T_PAGE + 5] = 'c'; /* and the CPU writes it too */
	T_EQ(p[T_PAGE + 5], 'c');
	hms_close(t.h);
	return 0;
}
