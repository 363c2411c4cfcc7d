/* SPDX-License-Identifier: MIT */
/* launch_refused: hms_softdev_launch on a range its device cannot hold
 * fails with -ENOMEM before any kernel runs, and every byte stays as it
 * was: a range twice the pool, and, in a context with asynchronous write
 * protection (hms_wp_async), populated pages, which never move to a
 * device.  These are the rounds the launch counts as refused (three),
 * not taken away by others (retried for a second, then -EBUSY:
 * tests/launch_contended). */
#include <stdatomic.h>

#include "hms_test.h"

static atomic_int runs;

static void kernel(void *page, uint64_t index, void *arg)
{
	(void)page;
	(void)index;
	(void)arg;
	atomic_fetch_add(&runs, 1);
}

static void refused(struct hms *h, size_t pool, size_t np, const char *what)
{
	struct hms_softdev *d = t_softdev(h, pool);
	char *p = hms_alloc(h, np * T_PAGE, 0);
	struct hms_softdev_cmd c = { 0 };

	T_ASSERT(p);
	for (size_t i = 0; i < np * T_PAGE; i++)
		p[i] = (char)(i * 7 + 3);
	c.addr = (uintptr_t)p;
	c.npages = np;
	if (hms_softdev_launch(d, &c, kernel, NULL) != -ENOMEM)
		T_FAIL("%s: launch did not fail with -ENOMEM", what);
	T_EQ(atomic_load(&runs), 0);
	for (size_t i = 0; i < np * T_PAGE; i++)
		if (p[i] != (char)(i * 7 + 3))
			T_FAIL("%s: byte %zu changed", what, i);
	T_EQ(hms_free(h, p, np * T_PAGE), 0);
	hms_softdev_destroy(d);
}

int main(void)
{
	struct hms *h = t_open();

	refused(h, 64 * T_PAGE, 128, "a range twice the pool");
	hms_close(h);
	h = t_open_flags(HMS_OPEN_WP_ASYNC);
	if (!hms_wp_async(h)) {
		hms_close(h);
		T_SKIP("no asynchronous write protection here (PAGEMAP_SCAN, Linux 6.7)");
	}
	refused(h, 0, 16, "populated pages under hms_wp_async");
	hms_close(h);
	return 0;
}
