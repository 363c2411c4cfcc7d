/* SPDX-License-Identifier: MIT */
/* user_copy_kernel_local_buffer: a copy through the kernel
 * (HMS_USER_COPY=kernel) in a user-mode-only context accesses the
 * caller's buffer in the kernel too, so a buffer in a managed area can
 * stop it as the address copied from or to can: hms_user_read() into a
 * buffer page never touched, and hms_user_write() from a buffer page on a
 * device, failed with -EFAULT where the guarded copy succeeds.  hms now
 * resolves the buffer's page as well (it is filled / comes home); the
 * copies return every byte, and the data is right.  A buffer in a page
 * hms_protect() denies still ends the copy there, with the bytes before. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hms_test.h"

int main(void)
{
	static char plain[3 * T_PAGE];
	struct hms_softdev_cmd c;
	struct hms *h;
	struct hms_softdev *d;
	char *p;

	h = t_open_user_kernel_copy();
	d = t_softdev(h, 0);
	p = hms_alloc(h, 4 * T_PAGE, 0);
	T_ASSERT(p);
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (char)(i * 13 + 5);

	/* Into pages 0-1 never touched (from the middle of page 0 on, so
	 * that each piece spans two pages of the source). */
	T_EQ(hms_user_read(p + 100, plain, 2 * T_PAGE - 100), (ssize_t)(2 * T_PAGE - 100));
	for (size_t i = 0; i < 100; i++)
		T_EQ(p[i], 0);
	for (size_t i = 0; i < 2 * T_PAGE - 100; i++)
		if (p[100 + i] != plain[i])
			T_FAIL("read into untouched pages: byte %zu is %d", i, p[100 + i]);

	/* From page 2-3 on the device, to plain memory. */
	memset(p + 2 * T_PAGE, 'd', 2 * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p + 2 * T_PAGE, NULL, 2, &c), 0);
	T_EQ(c.cpages, 2);
	T_EQ(t_count_loc(h, p + 2 * T_PAGE, 2, HMS_LOC_DEVICE), 2);
	memset(plain, 0, sizeof(plain));
	T_EQ(hms_user_write(plain, p + 2 * T_PAGE, 2 * T_PAGE), (ssize_t)(2 * T_PAGE));
	for (size_t i = 0; i < 2 * T_PAGE; i++)
		if (plain[i] != 'd')
			T_FAIL("write from device pages: byte %zu is %d", i, plain[i]);
	T_EQ(t_count_loc(h, p + 2 * T_PAGE, 2, HMS_LOC_SYSTEM), 2); /* came home */

	/* A buffer page hms_protect() denies: the read ends before it. */
	T_EQ(hms_protect(h, p + T_PAGE, T_PAGE, PROT_READ), 0);
	memset(plain, 'n', sizeof(plain));
	T_EQ(hms_user_read(p, plain, 2 * T_PAGE), (ssize_t)T_PAGE);
	T_EQ(p[0], 'n');
	T_EQ(p[T_PAGE - 1], 'n');
	T_EQ(p[T_PAGE], (char)((T_PAGE - 100) * 13 + 5));
	T_EQ(hms_protect(h, p + T_PAGE, T_PAGE, PROT_READ | PROT_WRITE), 0);

	T_EQ(hms_free(h, p, 4 * T_PAGE), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
