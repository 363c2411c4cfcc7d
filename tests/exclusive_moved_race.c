/* SPDX-License-Identifier: MIT */
/* exclusive_moved_race: a device's exclusive request brings its pages to
 * system memory, then protects them; a page another thread moves to a
 * device in between is left out of the grant (cmd->cpages counts what was
 * granted), and a migration may take a granted page too.  The softdev then
 * copies the device's view from the CPU address with hms_user_read(),
 * which with a kernel copy (ThreadSanitizer builds, HMS_USER_COPY=kernel)
 * could not fault a device's page back in user-only mode: the request
 * failed with -EFAULT (hms stress --user-only under TSan, 1 run in 6-8).
 * hms now resolves such a page for a kernel copy (usercopy.c).  A test
 * hook moves the page to device B at that moment: device A's request must
 * succeed, grant nothing (the page is B's), and A's copy must be the
 * data. */
#include <stdlib.h>
#include <string.h>
#include "hms_test.h"
#include "inject.h"

static struct {
	struct hms_softdev *other;
	char *p;
	int ret; /* of the migration, from the hook */
	uint64_t moved;
	bool done;
} race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	struct hms_softdev_cmd c = { 0 };

	(void)len;
	(void)arg;
	if (point != HMS_HOOK_EXCLUSIVE || !race.p || race.done || start != (uintptr_t)race.p)
		return;
	race.done = true;
	c.addr = (uint64_t)(uintptr_t)race.p;
	c.npages = 1;
	race.ret = hms_softdev_migrate_to_device(race.other, &c);
	race.moved = c.cpages;
}

int main(void)
{
	struct hms *h;
	struct hms_softdev *a, *b;
	static char buf[T_PAGE];
	struct hms_softdev_cmd c;
	struct hms_page_info pi;
	char *p;

	h = t_open_user_kernel_copy();
	a = t_softdev(h, 0);
	b = t_softdev(h, 0);
	p = hms_alloc(h, T_PAGE, 0);
	T_ASSERT(p);
	memset(p, 'c', T_PAGE);
	hms__test_hook_set(hook, NULL);
	race = (typeof(race)){ b, p, 0, 0, false };
	T_EQ(t_cmd(a, hms_softdev_exclusive, p, buf, 1, &c), 0);
	hms__test_hook_set(NULL, NULL);
	if (!race.done)
		T_FAIL("the hook did not run");
	T_EQ(race.ret, 0);
	T_EQ(race.moved, 1);
	T_EQ(c.cpages, 0); /* the page was B's when the grant was taken */
	for (size_t i = 0; i < T_PAGE; i++)
		if (buf[i] != 'c')
			T_FAIL("byte %zu of A's copy: %d", i, buf[i]);
	/* A's read brought the page home from B; it is not exclusive, and the
	 * CPU sees the data. */
	T_EQ(hms_page_query(h, p, 1, &pi), 1);
	T_EQ(pi.location, HMS_LOC_SYSTEM);
	T_ASSERT(!(pi.flags & HMS_PAGE_EXCLUSIVE));
	T_EQ(p[0], 'c');
	T_EQ(p[T_PAGE - 1], 'c');
	T_EQ(hms_free(h, p, T_PAGE), 0);
	hms_softdev_destroy(a);
	hms_softdev_destroy(b);
	hms_close(h);
	return 0;
}
