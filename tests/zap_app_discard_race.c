/* SPDX-License-Identifier: MIT */
/* zap_app_discard_race: where a migration to a device discards the system
 * copy with MADV_DONTNEED (the ungated path: kernels before 6.8,
 * HMS_UFFD_MOVE=0), the application's own MADV_DONTNEED of a page in the
 * same run, made while the migration's REMOVE event waits to be read,
 * raises a REMOVE event of its own inside the range the migration
 * recorded as its own.  Both must count: the application's discard wins
 * for its page, which reads zeros afterwards, and the other pages reach
 * the device with their bytes.  (The handler dropped every REMOVE inside
 * a recorded range: the page then kept the bytes the migration had
 * copied before the application's discard, and read them after
 * madvise() had returned.)  Both events are queued, the migration's
 * first, while a test hook holds the handler. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"
#include "hold_handler.inc"

#define NP 4

#include "zap_hold.inc"

static atomic_int app_tid;

static void *app(void *arg)
{
	(void)arg;
	atomic_store(&app_tid, (int)syscall(SYS_gettid));
	T_EQ(madvise(p + 2 * T_PAGE, T_PAGE, MADV_DONTNEED), 0);
	return NULL;
}

int main(void)
{
	struct hms *h;
	struct hms_softdev *dh;
	pthread_t m, a, r;

	zap_hold_open(&h, &dh);
	/* The migration's MADV_DONTNEED waits for its REMOVE to be read ... */
	zap_hold_start(&m, &r);
	/* ... and the application's queues behind it. */
	T_EQ(pthread_create(&a, NULL, app, NULL), 0);
	while (!atomic_load(&app_tid) || !t_thread_sleeps_in(atomic_load(&app_tid), SYS_madvise))
		usleep(1000);
	hold_release();
	T_EQ(pthread_join(a, NULL), 0);
	zap_hold_join(h, m, r);

	T_EQ(t_count_loc(h, p, 2, HMS_LOC_DEVICE), 2);
	T_EQ(t_count_loc(h, p + 3 * T_PAGE, 1, HMS_LOC_DEVICE), 1);
	for (int i = 0; i < NP; i++)
		for (size_t k = 0; k < T_PAGE; k++) {
			char want = i == 2 ? 0 : (char)('A' + i);

			if (p[i * T_PAGE + k] != want)
				T_FAIL("page %d byte %zu is %#x, want %#x%s", i, k,
				       (unsigned)(unsigned char)p[i * T_PAGE + k],
				       (unsigned)(unsigned char)want,
				       i == 2 ? " (the application discarded it)" : "");
		}
	hms_softdev_destroy(d);
	hms_softdev_destroy(dh);
	hms_close(h);
	return 0;
}
