/* SPDX-License-Identifier: MIT */
/* launch_taken_race: a launch whose pages are taken away in every round
 * (a test hook reads a page of the range between the launch's migration
 * and its check: the CPU's fault brings the page home) tries again for
 * a second and then fails with -EBUSY, not -ENOMEM: no kernel ran, and
 * every byte is as it was.  Once nothing takes the pages, the next
 * launch runs the kernel on every page. */
#include <stdatomic.h>

#include "hms_test.h"
#include "inject.h"

#define NP 16

static atomic_int runs, rounds;

static void kernel(void *page, uint64_t index, void *arg)
{
	(void)index;
	(void)arg;
	((char *)page)[1]++;
	atomic_fetch_add(&runs, 1);
}

static void take(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	if (point != HMS_HOOK_LAUNCH_MIGRATED)
		return;
	atomic_fetch_add(&rounds, 1);
	(void)*(volatile char *)(start + 3 * T_PAGE); /* page 3 comes home */
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	char *p = hms_alloc(h, NP * T_PAGE, 0);
	struct hms_softdev_cmd c = { 0 };

	T_ASSERT(p);
	for (size_t i = 0; i < NP * T_PAGE; i++)
		p[i] = (char)(i * 5 + 1);
	c.addr = (uintptr_t)p;
	c.npages = NP;
	t_watchdog(120, "the launch did not give up");
	hms__test_hook_set(take, NULL);
	T_EQ(hms_softdev_launch(d, &c, kernel, NULL), -EBUSY);
	hms__test_hook_set(NULL, NULL);
	t_watchdog(0, NULL);
	T_EQ(atomic_load(&runs), 0);
	T_ASSERT(atomic_load(&rounds) >= 1000); /* softdev_ops.c: RETRY_MIN */
	for (size_t i = 0; i < NP * T_PAGE; i++)
		if (p[i] != (char)(i * 5 + 1))
			T_FAIL("byte %zu changed by a launch that ran no kernel", i);

	T_EQ(hms_softdev_launch(d, &c, kernel, NULL), 0);
	T_EQ(atomic_load(&runs), NP);
	for (size_t i = 0; i < NP * T_PAGE; i++)
		if (p[i] != (char)(i * 5 + 1 + (i % T_PAGE == 1)))
			T_FAIL("byte %zu is %d after the launch", i, p[i]);
	hms_close(h);
	printf("ok\n");
	return 0;
}
