/* SPDX-License-Identifier: MIT */
/* zap_split_repeat_race: where a migration to a device discards the
 * system copy with MADV_DONTNEED (the ungated path: kernels before 6.8,
 * HMS_UFFD_MOVE=0), the mapping is split inside the run while that
 * madvise waits for its REMOVE event to be read (here by
 * MADV_NOHUGEPAGE of one page of it; hms_protect or hms_bind would do
 * the same).  Linux 6.16 and later then raise REMOVE again for the pages
 * after the split, events of the kernel's, not the application's: the
 * pages must reach the device with their bytes, none taken for
 * discarded (zap_app_discard_race's rule alone lost them).  Then the
 * device writes every page, and the CPU must read the device's bytes:
 * a system copy left behind would show the old ones.  The split comes
 * while a test hook holds the handler. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"
#include "hold_handler.inc"

#define NP 4

static struct hms_softdev *d;
static char *p;
static atomic_int mig_tid;
static atomic_bool at_commit, go_on;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	hold_hook(point, start, len, arg);
	if (point != HMS_HOOK_MIGRATE_COMMIT || start != (uintptr_t)p)
		return;
	/* Its pages are copied; it is about to discard them: hold the
	 * handler first. */
	atomic_store(&at_commit, true);
	while (!atomic_load(&go_on))
		usleep(1000);
}

static void *migrator(void *arg)
{
	struct hms_softdev_cmd c;

	(void)arg;
	atomic_store(&mig_tid, (int)syscall(SYS_gettid));
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, NP, &c), 0);
	return NULL;
}

int main(void)
{
	struct hms *h;
	struct hms_softdev *dh;
	pthread_t m, r;
	char buf[NP * 4096];
	struct hms_softdev_cmd c;

	T_EQ(setenv("HMS_UFFD_MOVE", "0", 1), 0); /* the ungated discard */
	h = t_open();
	d = t_softdev(h, 0);
	dh = t_softdev(h, 0); /* the hold page's, apart from d */
	hold = hms_alloc(h, T_PAGE, 0);
	p = hms_alloc(h, NP * T_PAGE, 0);
	T_ASSERT(hold && p);
	memset(hold, 'h', T_PAGE);
	for (int i = 0; i < NP; i++)
		memset(p + i * T_PAGE, 'A' + i, T_PAGE);
	t_to_device(h, dh, hold, 1, "hold");
	t_watchdog(60, "the handler held, or the madvises");

	hms__test_hook_in_handler(true);
	hms__test_hook_set(hook, NULL);
	T_EQ(pthread_create(&m, NULL, migrator, NULL), 0);
	while (!atomic_load(&at_commit))
		usleep(1000);
	T_EQ(pthread_create(&r, NULL, hold_reader, NULL), 0);
	hold_wait();
	atomic_store(&go_on, true);
	/* The migration's MADV_DONTNEED waits for its REMOVE to be read ... */
	while (!t_thread_sleeps_in(atomic_load(&mig_tid), SYS_madvise))
		usleep(1000);
	/* ... with the mmap lock dropped: split the mapping inside the run. */
	T_EQ(madvise(p + T_PAGE, T_PAGE, MADV_NOHUGEPAGE), 0);
	hold_release();
	T_EQ(pthread_join(m, NULL), 0);
	T_EQ(pthread_join(r, NULL), 0);
	hms__test_hook_set(NULL, NULL);
	hms__test_hook_in_handler(false);
	T_EQ(hms_sync(h), 0);
	t_watchdog(0, NULL);

	T_EQ(t_count_loc(h, p, NP, HMS_LOC_DEVICE), NP);
	T_EQ(sizeof(buf), NP * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, NP, &c), 0);
	for (int i = 0; i < NP; i++)
		for (size_t k = 0; k < T_PAGE; k++)
			if (buf[i * T_PAGE + k] != (char)('A' + i))
				T_FAIL("device: page %d byte %zu is %#x, want '%c'", i, k,
				       (unsigned)(unsigned char)buf[i * T_PAGE + k], 'A' + i);
	memset(buf, 'z', sizeof(buf));
	T_EQ(t_cmd(d, hms_softdev_write, p, buf, NP, &c), 0);
	for (int i = 0; i < NP; i++)
		for (size_t k = 0; k < T_PAGE; k++)
			if (p[i * T_PAGE + k] != 'z')
				T_FAIL("CPU: page %d byte %zu is %#x after the device wrote 'z'", i, k,
				       (unsigned)(unsigned char)p[i * T_PAGE + k]);
	hms_softdev_destroy(d);
	hms_softdev_destroy(dh);
	hms_close(h);
	return 0;
}
