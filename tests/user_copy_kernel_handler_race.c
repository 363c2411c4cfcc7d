/* SPDX-License-Identifier: MIT */
/* user_copy_kernel_handler_race: in a user-mode-only context hms resolves
 * a managed page that stops a copy through the kernel (see
 * user_copy_kernel_user_only).  On the fault handler thread (a driver's
 * callback run for a CPU fault) that resolution must not wait for the
 * handler, that is for itself: hms' fault path knows its thread and gives
 * up there (-EAGAIN) where it would wait.  A test hook, run on the
 * handler thread during the migration a CPU read of page A starts, reads
 * page B (on the device, not in that migration) through the kernel: the
 * read must end with -EFAULT at once, not hang; the CPU's read
 * completes, B stays on the device, and both pages keep their data. */
#include <stdlib.h>
#include <string.h>

#include "hms_test.h"
#include "inject.h"

static struct {
	char *a, *b;
	ssize_t got;
	_Atomic int done;
} race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	static char buf[T_PAGE];

	(void)arg;
	if (point != HMS_HOOK_MIGRATE_PAGES || race.done || !race.a ||
	    (uintptr_t)race.a < start || (uintptr_t)race.a >= start + len)
		return;
	race.got = hms_user_read(buf, race.b, T_PAGE);
	race.done = 1;
}

int main(void)
{
	struct hms *h;
	struct hms_softdev *d;
	struct hms_softdev_cmd c;
	char *p;
	volatile char first;

	h = t_open_user_kernel_copy();
	d = t_softdev(h, 0);
	/* A and B 1 MiB apart: the fault of A moves its 64 KiB around alone. */
	p = hms_alloc(h, 2UL << 20, 0);
	T_ASSERT(p);
	memset(p, 'a', T_PAGE);
	memset(p + (1UL << 20), 'b', T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, 1, &c), 0);
	T_EQ(c.cpages, 1);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p + (1UL << 20), NULL, 1, &c), 0);
	T_EQ(c.cpages, 1);
	race.a = p;
	race.b = p + (1UL << 20);
	hms__test_hook_set(hook, NULL);
	hms__test_hook_in_handler(true);
	first = p[0]; /* the handler migrates A home; the hook reads B */
	hms__test_hook_set(NULL, NULL);
	hms__test_hook_in_handler(false);
	T_EQ(first, 'a');
	if (!race.done)
		T_FAIL("the hook did not run on the handler thread");
	T_EQ(race.got, -EFAULT);
	T_EQ(t_count_loc(h, race.b, 1, HMS_LOC_DEVICE), 1); /* B stayed */
	T_EQ(race.b[0], 'b');
	T_EQ(race.b[T_PAGE - 1], 'b');
	T_EQ(hms_free(h, p, 2UL << 20), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
