/* SPDX-License-Identifier: MIT */
/* fault_in_give_up_race: in user-only mode a device's write fault that
 * keeps losing its page between hms' fault and the kernel's populate
 * (another device takes exclusive access each time: see
 * fault_in_exclusive_race for one such loss) is resolved again a bounded
 * number of times, then fails with -EFAULT: it must not spin for ever.
 * A test hook makes device B take the page at every one of device A's
 * tries; A's exclusive request must fail -EFAULT after about 1000 of them
 * (range.c, FAULT_IN_TRIES), and afterwards, with the hook gone, the
 * page holds the CPU's data and A's request succeeds. */
#include <string.h>
#include "hms_test.h"
#include "inject.h"

static struct {
	struct hms_softdev *other;
	char *p;
	unsigned tries, failed; /* hook runs for A; B's requests that failed */
	bool inside;
} race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	struct hms_softdev_cmd c = { 0 };

	(void)len;
	(void)arg;
	if (point != HMS_HOOK_FAULT_IN || !race.p || race.inside || start != (uintptr_t)race.p)
		return;
	race.inside = true; /* B's own fault_in runs this hook too */
	race.tries++;
	c.addr = (uint64_t)(uintptr_t)race.p;
	c.npages = 1;
	if (hms_softdev_exclusive(race.other, &c) || c.cpages != 1)
		race.failed++;
	race.inside = false;
}

int main(void)
{
	struct hms *h = t_open_flags(HMS_OPEN_USER_MODE_ONLY);
	struct hms_softdev *a = t_softdev(h, 0), *b = t_softdev(h, 0);
	char *p = hms_alloc(h, T_PAGE, 0);
	static char buf[T_PAGE];
	struct hms_softdev_cmd c;

	T_EQ(hms_mode(h), HMS_MODE_USER_ONLY);
	T_ASSERT(p);
	memset(p, 'c', T_PAGE);
	race = (typeof(race)){ b, p, 0, 0, false };
	hms__test_hook_set(hook, NULL);
	T_EQ(t_cmd(a, hms_softdev_exclusive, p, buf, 1, &c), -EFAULT);
	hms__test_hook_set(NULL, NULL);
	T_EQ(race.failed, 0);
	printf("A tried %u times\n", race.tries);
	/* The first try, then FAULT_IN_TRIES more: bounded, not one. */
	if (race.tries < 1000 || race.tries > 1001)
		T_FAIL("A tried %u times", race.tries);
	/* Nothing lost, and A gets the page once nobody takes it away. */
	T_EQ(p[0], 'c');
	T_EQ(p[T_PAGE - 1], 'c');
	memset(buf, 0, sizeof(buf));
	T_EQ(t_cmd(a, hms_softdev_exclusive, p, buf, 1, &c), 0);
	T_EQ(c.cpages, 1);
	for (size_t i = 0; i < T_PAGE; i++)
		if (buf[i] != 'c')
			T_FAIL("byte %zu of A's copy: %d", i, buf[i]);
	T_EQ(hms_free(h, p, T_PAGE), 0);
	hms_softdev_destroy(a);
	hms_softdev_destroy(b);
	hms_close(h);
	return 0;
}
