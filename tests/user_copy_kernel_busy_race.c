/* SPDX-License-Identifier: MIT */
/* user_copy_kernel_busy_race: in a user-mode-only context hms resolves a
 * managed page that stops a copy through the kernel (see
 * user_copy_kernel_user_only), but not a page in a migration: the copy
 * may be that migration's own (a driver reading the pages it moves), and
 * resolving would wait for the migration, that is for itself.  A test
 * hook reads, from inside a migration back from the device (its pages
 * still on the device, held by it), one of its pages with
 * hms_user_read() through the kernel: the read must end with -EFAULT at
 * once, not hang; the migration then completes and the data is whole. */
#include <stdlib.h>
#include <string.h>

#include "hms_test.h"
#include "inject.h"

static struct {
	char *p;
	ssize_t got;
	bool done;
} race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	static char buf[T_PAGE];

	(void)arg;
	if (point != HMS_HOOK_MIGRATE_PAGES || race.done || !race.p ||
	    (uintptr_t)race.p < start || (uintptr_t)race.p >= start + len)
		return;
	race.done = true;
	race.got = hms_user_read(buf, race.p, T_PAGE);
}

int main(void)
{
	struct hms *h;
	struct hms_softdev *d;
	struct hms_softdev_cmd c;
	char *p;

	h = t_open_user_kernel_copy();
	d = t_softdev(h, 0);
	p = hms_alloc(h, 4 * T_PAGE, 0);
	T_ASSERT(p);
	memset(p, 'm', 4 * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, 4, &c), 0);
	T_EQ(c.cpages, 4);
	race = (typeof(race)){ p + T_PAGE, 0, false };
	hms__test_hook_set(hook, NULL);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, 4, &c), 0);
	hms__test_hook_set(NULL, NULL);
	if (!race.done)
		T_FAIL("the hook did not run");
	T_EQ(race.got, -EFAULT);
	T_EQ(c.cpages, 4);
	T_EQ(t_count_loc(h, p, 4, HMS_LOC_SYSTEM), 4);
	for (size_t i = 0; i < 4 * T_PAGE; i++)
		if (p[i] != 'm')
			T_FAIL("byte %zu: %d", i, p[i]);
	T_EQ(hms_free(h, p, 4 * T_PAGE), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
