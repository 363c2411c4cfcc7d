/* SPDX-License-Identifier: MIT */
/* migrate_finalize_other_thread_race: a driver may finalize a migration on
 * another thread than the one that set it up (hms_driver.h does not tie
 * them).  A copy through the kernel in user-mode-only mode skips a busy
 * page only on a thread that holds a migration of that context (the page
 * may be its own); any other thread waits for the migration, as a CPU
 * access does.  hms counted migrations per thread, so after a setup on
 * thread A and the finalize on thread B, A counted one for ever and B
 * minus one (wrapped): both then skipped every busy page, and their
 * hms_user_read() of a page in another thread's migration failed with
 * -EFAULT instead of waiting for it.  Here A sets up, the main thread
 * finalizes, then each of them reads a page that a third thread is
 * migrating home (a test hook holds that migration for 200 ms): each read
 * must wait and return the page's data. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

static struct hms *h;
static struct hms_softdev *dev;
static char *x, *y;
static hms_uid sys;
static atomic_int armed, in_migration, release, set_up, finalized;
static uint64_t src[1], dst[1];
static struct hms_migrate_vma mv;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	if (point != HMS_HOOK_MIGRATE_PAGES || start != (uintptr_t)y || !atomic_load(&armed) ||
	    atomic_load(&in_migration))
		return;
	atomic_store(&in_migration, 1);
	while (!atomic_load(&release))
		usleep(1000);
}

static void *migrator(void *arg)
{
	(void)arg;
	T_EQ(hms_migrate(h, y, T_PAGE, &sys, 1, 0), 1);
	return NULL;
}

static void *releaser(void *arg)
{
	(void)arg;
	usleep(200 * 1000);
	atomic_store(&release, 1);
	return NULL;
}

/* On the calling thread: read y while another thread migrates it home. */
static void read_during_migration(const char *who)
{
	struct hms_softdev_cmd c;
	static char buf[T_PAGE];
	pthread_t mt, rt;
	ssize_t got;

	T_EQ(t_cmd(dev, hms_softdev_migrate_to_device, y, NULL, 1, &c), 0);
	T_EQ(c.cpages, 1);
	atomic_store(&in_migration, 0);
	atomic_store(&release, 0);
	atomic_store(&armed, 1);
	T_EQ(pthread_create(&mt, NULL, migrator, NULL), 0);
	while (!atomic_load(&in_migration))
		usleep(1000);
	T_EQ(pthread_create(&rt, NULL, releaser, NULL), 0);
	memset(buf, 0, sizeof(buf));
	got = hms_user_read(buf, y, T_PAGE);
	T_EQ(pthread_join(mt, NULL), 0);
	T_EQ(pthread_join(rt, NULL), 0);
	atomic_store(&armed, 0);
	if (got != (ssize_t)T_PAGE)
		T_FAIL("%s: hms_user_read of a page in another thread's migration: %zd", who, got);
	for (size_t i = 0; i < T_PAGE; i++)
		if (buf[i] != 'y')
			T_FAIL("%s: byte %zu is %d", who, i, buf[i]);
}

static void *thread_a(void *arg)
{
	(void)arg;
	mv = (struct hms_migrate_vma){ .start = (uintptr_t)x, .end = (uintptr_t)x + T_PAGE,
				       .src = src, .dst = dst, .pgmap_owner = &mv,
				       .flags = HMS_MIGRATE_SELECT_SYSTEM };
	T_EQ(hms_migrate_vma_setup(h, &mv), 0);
	T_EQ(mv.cpages, 1);
	atomic_store(&set_up, 1);
	while (!atomic_load(&finalized))
		usleep(1000);
	read_during_migration("the thread that set up");
	return NULL;
}

int main(void)
{
	pthread_t a;

	h = t_open_user_kernel_copy();
	dev = t_softdev(h, 0);
	x = hms_alloc(h, 2 * T_PAGE, 0);
	T_ASSERT(x);
	y = x + T_PAGE;
	memset(x, 'x', T_PAGE);
	memset(y, 'y', T_PAGE);
	T_EQ(hms_where(h, y, 1, &sys), 1);
	hms__test_hook_set(hook, NULL);

	T_EQ(pthread_create(&a, NULL, thread_a, NULL), 0);
	while (!atomic_load(&set_up))
		usleep(1000);
	hms_migrate_vma_finalize(&mv); /* nothing moved: x stays */
	atomic_store(&finalized, 1);
	T_EQ(pthread_join(a, NULL), 0);
	read_during_migration("the thread that finalized");
	hms__test_hook_set(NULL, NULL);

	for (size_t i = 0; i < T_PAGE; i++)
		T_EQ(x[i], 'x');
	T_EQ(hms_free(h, x, 2 * T_PAGE), 0);
	hms_softdev_destroy(dev);
	hms_close(h);
	return 0;
}
