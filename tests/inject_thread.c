/* inject_thread: when thread creation fails (fault injection point
 * thread), hms_open() and hms_softdev_create() fail with -EAGAIN, write
 * nothing to their out-parameter and leave nothing behind (the sanitizer
 * builds check for leaks); with thread creation working again both
 * succeed and the device moves data intact. */
#include "hms_test.h"
#include "inject.h"

int main(void)
{
	struct hms *h = t_open(); /* skips where userfaultfd cannot be used */
	struct hms *h2 = (struct hms *)&h;
	struct hms_softdev *d = (struct hms_softdev *)&h, *d2;
	struct hms_softdev_config cfg = { .size = sizeof(cfg), .nthreads = 3 };
	size_t npages = 16, n = npages * T_PAGE / sizeof(int);
	struct hms_softdev_cmd c;
	int *p;

	hms_close(h);
	/* The fault handler thread. */
	T_EQ(hms__inject_arm("thread:1"), 0);
	T_EQ(hms_open(&h2, NULL), -EAGAIN);
	T_ASSERT(h2 == (struct hms *)&h);
	T_EQ(hms__inject_hits(HMS_INJ_THREAD), 1);
	T_EQ(hms__inject_arm(NULL), 0);
	h = t_open();

	/* A softdev's first worker, then its third (two already running). */
	T_EQ(hms__inject_arm("thread:1"), 0);
	T_EQ(hms_softdev_create(h, &cfg, &d), -EAGAIN);
	T_ASSERT(d == (struct hms_softdev *)&h);
	T_EQ(hms__inject_arm("thread:3"), 0);
	T_EQ(hms_softdev_create(h, &cfg, &d), -EAGAIN);
	T_ASSERT(d == (struct hms_softdev *)&h);
	T_EQ(hms__inject_hits(HMS_INJ_THREAD), 1);
	T_EQ(hms__inject_arm(NULL), 0);

	T_EQ(hms_softdev_create(h, &cfg, &d2), 0);
	p = hms_alloc(h, npages * T_PAGE, 0);
	T_ASSERT(p);
	t_fill(p, n, 3);
	T_EQ(t_cmd(d2, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	t_check(p, n, 3);
	hms_softdev_destroy(d2);
	hms_close(h);
	return 0;
}
