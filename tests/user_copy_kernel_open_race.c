/* SPDX-License-Identifier: MIT */
/* user_copy_kernel_open_race: a copy through the kernel in a user-mode-only
 * context that resolves a page may wait (here for another thread's
 * migration of that page home).  hms_open() and hms_close() of another
 * context must not wait for it: the copy held the lock they take for as
 * long as it resolved, so an opener that the migration waited for (a
 * test hook holds the migration until hms_open() and hms_close() have
 * returned) hung them all.  The copy returns the data once the migration
 * ends.  t_watchdog() turns a hang into a failure. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

static struct hms *h;
static char *p;
static atomic_int in_migration, release, copied;
static char buf[T_PAGE];
static ssize_t got;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	if (point != HMS_HOOK_MIGRATE_PAGES || start != (uintptr_t)p || atomic_load(&in_migration))
		return;
	atomic_store(&in_migration, 1);
	while (!atomic_load(&release))
		usleep(1000);
}

static void *migrator(void *arg)
{
	hms_uid sys = *(hms_uid *)arg;

	T_EQ(hms_migrate(h, p, T_PAGE, &sys, 1, 0), 1);
	return NULL;
}

static void *copier(void *arg)
{
	(void)arg;
	got = hms_user_read(buf, p, T_PAGE);
	atomic_store(&copied, 1);
	return NULL;
}

int main(void)
{
	struct hms_softdev_cmd c;
	struct hms_softdev *d;
	pthread_t mt, ct;
	struct hms *other;
	hms_uid sys;

	h = t_open_user_kernel_copy();
	d = t_softdev(h, 0);
	p = hms_alloc(h, T_PAGE, 0);
	T_ASSERT(p);
	memset(p, 'm', T_PAGE);
	T_EQ(hms_where(h, p, 1, &sys), 1);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, 1, &c), 0);
	T_EQ(c.cpages, 1);

	hms__test_hook_set(hook, NULL);
	T_EQ(pthread_create(&mt, NULL, migrator, &sys), 0);
	while (!atomic_load(&in_migration))
		usleep(1000);
	/* The page is in the migration, not mapped: the copy stops there,
	 * resolves it and waits for the migration. */
	T_EQ(pthread_create(&ct, NULL, copier, NULL), 0);
	usleep(200 * 1000);
	T_EQ(atomic_load(&copied), 0);

	t_watchdog(30, "hms_open/hms_close of another context while a kernel copy waits");
	other = t_open();
	hms_close(other);
	t_watchdog(0, NULL);
	atomic_store(&release, 1);
	T_EQ(pthread_join(mt, NULL), 0);
	T_EQ(pthread_join(ct, NULL), 0);
	hms__test_hook_set(NULL, NULL);
	T_EQ(got, (ssize_t)T_PAGE);
	for (size_t i = 0; i < T_PAGE; i++)
		if (buf[i] != 'm')
			T_FAIL("byte %zu is %d", i, buf[i]);
	T_EQ(t_count_loc(h, p, 1, HMS_LOC_SYSTEM), 1);

	T_EQ(hms_free(h, p, T_PAGE), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
