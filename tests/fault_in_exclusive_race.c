/* SPDX-License-Identifier: MIT */
/* fault_in_exclusive_race: a device's write fault (hms_range_fault, and
 * hms_make_exclusive before it protects) makes the page writable through
 * the kernel (MADV_POPULATE_WRITE).  With UFFD_USER_MODE_ONLY that kernel
 * access cannot fault into hms, so a protection another thread sets up
 * between hms' fault and the populate (here another device taking
 * exclusive access, as a migration's write protection does too) failed
 * the first device's request with -EFAULT (hms stress run as uid 65534:
 * dev-exclusive -EFAULT in 3 of 5 runs).  A test hook makes device B take
 * the page at that moment: device A's exclusive request must still
 * succeed, taking B's access (B's check says it is no longer exclusive),
 * the page is exclusive, A's copy of it is the CPU's data, and a CPU
 * write still revokes it. */
#include <string.h>
#include "hms_test.h"
#include "inject.h"

static struct {
	struct hms_softdev *other;
	char *p;
	int ret; /* of the other's request, from the hook */
	bool done;
} race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	struct hms_softdev_cmd c = { 0 };
	static char buf[T_PAGE];

	(void)len;
	(void)arg;
	if (point != HMS_HOOK_FAULT_IN || !race.p || race.done || start != (uintptr_t)race.p)
		return;
	race.done = true; /* the other's own fault_in runs this hook too */
	c.addr = (uint64_t)(uintptr_t)race.p;
	c.buf = buf;
	c.npages = 1;
	race.ret = hms_softdev_exclusive(race.other, &c);
	if (!race.ret && c.cpages != 1)
		race.ret = -EIO;
}

int main(void)
{
	struct hms *h = t_open_flags(HMS_OPEN_USER_MODE_ONLY);
	struct hms_softdev *a = t_softdev(h, 0), *b = t_softdev(h, 0);
	char *p = hms_alloc(h, T_PAGE, 0);
	static char buf[T_PAGE];
	struct hms_softdev_cmd c;
	struct hms_page_info pi;

	T_EQ(hms_mode(h), HMS_MODE_USER_ONLY);
	T_ASSERT(p);
	memset(p, 'c', T_PAGE);
	hms__test_hook_set(hook, NULL);
	race = (typeof(race)){ b, p, 0, false };
	memset(buf, 0, sizeof(buf));
	T_EQ(t_cmd(a, hms_softdev_exclusive, p, buf, 1, &c), 0);
	T_EQ(c.cpages, 1);
	hms__test_hook_set(NULL, NULL);
	if (!race.done)
		T_FAIL("the hook did not run");
	T_EQ(race.ret, 0); /* B had it when A's populate ran */
	for (size_t i = 0; i < T_PAGE; i++)
		if (buf[i] != 'c')
			T_FAIL("byte %zu of A's copy: %d", i, buf[i]);
	/* The page is exclusive, B's access is gone.  (A's own record of the
	 * grant was cleared by B's EXCLUSIVE invalidation, which came after A
	 * recorded it: the softdev then claims less than it has, its rule.) */
	T_EQ(hms_page_query(h, p, 1, &pi), 1);
	T_ASSERT(pi.flags & HMS_PAGE_EXCLUSIVE);
	T_EQ(t_cmd(b, hms_softdev_check_exclusive, p, NULL, 1, NULL), 0);
	/* The CPU takes it back as usual. */
	p[0] = 'w';
	T_EQ(hms_page_query(h, p, 1, &pi), 1);
	T_ASSERT(!(pi.flags & HMS_PAGE_EXCLUSIVE));
	T_EQ(p[0], 'w');
	T_EQ(p[1], 'c');
	T_EQ(hms_free(h, p, T_PAGE), 0);
	hms_softdev_destroy(a);
	hms_softdev_destroy(b);
	hms_close(h);
	return 0;
}
