/* SPDX-License-Identifier: MIT */
/* user_copy_kernel_give_up_race: hms_user_read()/hms_user_write() through
 * the kernel in a user-mode-only context resolve a page that stops the
 * copy (it is on a device) and copy it again; where another thread takes
 * the page back to the device every time, the copy gives up after 100
 * resolutions of that page and returns the bytes before it (no endless
 * loop, no byte past it claimed).  The test hook HMS_HOOK_KERNEL_COPY
 * plays the other thread: after each resolution it moves the page to the
 * device again.  Without the hook the same copies succeed whole. */
#include <stdlib.h>
#include <string.h>

#include "hms_test.h"
#include "inject.h"

#define NP 3

static struct hms_softdev *dev;
static char *page1; /* the page the hook takes again */
static unsigned calls, moves;

static void take_again(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	struct hms_softdev_cmd c;

	(void)arg;
	if (point != HMS_HOOK_KERNEL_COPY)
		return;
	calls++;
	if (start != (uintptr_t)page1 || len != T_PAGE)
		T_FAIL("hook on %#lx+%zu, expected %p+%lu", (unsigned long)start, len,
		       (void *)page1, (unsigned long)T_PAGE);
	if (t_cmd(dev, hms_softdev_migrate_to_device, page1, NULL, 1, &c) == 0 && c.cpages == 1)
		moves++;
}

int main(void)
{
	struct hms *h;
	struct hms_softdev_cmd c;
	static char buf[NP * T_PAGE], src[NP * T_PAGE];
	char *p;

	h = t_open_user_kernel_copy();
	dev = t_softdev(h, 0);
	p = hms_alloc(h, NP * T_PAGE, 0);
	T_ASSERT(p);
	page1 = p + T_PAGE;
	for (size_t i = 0; i < sizeof(src); i++)
		p[i] = (char)(i * 7 + 1);
	T_EQ(t_cmd(dev, hms_softdev_migrate_to_device, page1, NULL, 1, &c), 0);
	T_EQ(c.cpages, 1);

	/* A read: page 0's bytes, then 100 resolutions of page 1. */
	hms__test_hook_set(take_again, NULL);
	memset(buf, 0, sizeof(buf));
	T_EQ(hms_user_read(buf, p, sizeof(buf)), (ssize_t)T_PAGE);
	T_EQ(calls, 100);
	T_EQ(moves, 100);
	for (size_t i = 0; i < sizeof(buf); i++)
		if (buf[i] != (i < T_PAGE ? (char)(i * 7 + 1) : 0))
			T_FAIL("read: byte %zu is %d", i, buf[i]);
	/* Starting at the page: nothing copied, -EFAULT. */
	calls = moves = 0;
	T_EQ(hms_user_read(buf, page1, T_PAGE), -EFAULT);
	T_EQ(calls, 100);
	T_EQ(moves, 100);

	/* A write likewise stops before page 1, which keeps its bytes. */
	calls = moves = 0;
	memset(src, 'w', sizeof(src));
	T_EQ(hms_user_write(p, src, sizeof(src)), (ssize_t)T_PAGE);
	T_EQ(calls, 100);
	T_EQ(moves, 100);
	hms__test_hook_set(NULL, NULL);

	/* Without the other thread: whole, and the device page comes home. */
	T_EQ(t_count_loc(h, page1, 1, HMS_LOC_DEVICE), 1);
	T_EQ(hms_user_read(buf, p, sizeof(buf)), (ssize_t)sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++) {
		char want = i < T_PAGE ? 'w' : (char)(i * 7 + 1);

		if (buf[i] != want)
			T_FAIL("read after: byte %zu is %d, expected %d", i, buf[i], want);
	}
	T_EQ(t_count_loc(h, page1, 1, HMS_LOC_SYSTEM), 1);
	T_EQ(hms_user_write(p, src, sizeof(src)), (ssize_t)sizeof(src));
	for (size_t i = 0; i < sizeof(src); i++)
		if (p[i] != 'w')
			T_FAIL("write after: byte %zu is %d", i, p[i]);

	T_EQ(hms_free(h, p, NP * T_PAGE), 0);
	hms_softdev_destroy(dev);
	hms_close(h);
	return 0;
}
