/* madv_free_rewrite: MADV_FREE raises the same REMOVE event as
 * MADV_DONTNEED, but the kernel keeps the pages and their data until it
 * reclaims them, and a write after it keeps them for good.  Such pages,
 * written again, then migrated to a device, must reach the device with
 * what the CPU wrote, and a device write must be what the CPU reads back.
 * The event made them "never populated" in the table: the migration gave
 * the device zero pages and left the CPU's pages in place, so the device
 * read zeros and its writes never reached the CPU.  Pages discarded with
 * MADV_DONTNEED still read zeros, on the CPU and on the device. */
#include <sys/mman.h>
#include "hms_test.h"

#define N 8

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = N * T_PAGE, n = size / sizeof(int);
	int *p = hms_alloc(h, size, 0), *q = hms_alloc(h, size, 0), *buf = malloc(size);
	struct hms_softdev_cmd c;

	T_ASSERT(p && q && buf);
	t_fill(p, n, 1);
	T_EQ(madvise(p, size, MADV_FREE), 0);
	t_fill(p, n, 5000); /* written again: the kernel keeps them */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, N, &c), 0);
	T_EQ(c.cpages, N);
	T_EQ(t_count_loc(h, p, N, HMS_LOC_DEVICE), N);
	memset(buf, 0xFF, size);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, N, &c), 0);
	for (size_t i = 0; i < n; i++)
		if (buf[i] != 5000 + (int)i)
			T_FAIL("device read word %zu: %d, the CPU wrote %d", i, buf[i], 5000 + (int)i);
	t_fill(buf, n, 9000);
	T_EQ(t_cmd(d, hms_softdev_write, p, buf, N, &c), 0);
	for (size_t i = 0; i < n; i++)
		if (p[i] != 9000 + (int)i)
			T_FAIL("CPU read word %zu: %d, the device wrote %d", i, p[i], 9000 + (int)i);
	T_EQ(t_count_loc(h, p, N, HMS_LOC_SYSTEM), N);

	/* MADV_DONTNEED: zeros everywhere. */
	t_fill(q, n, 1);
	T_EQ(madvise(q, size, MADV_DONTNEED), 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, q, NULL, N, &c), 0);
	memset(buf, 0xFF, size);
	T_EQ(t_cmd(d, hms_softdev_read, q, buf, N, &c), 0);
	for (size_t i = 0; i < n; i++)
		T_EQ(buf[i], 0);
	for (size_t i = 0; i < n; i++)
		T_EQ(q[i], 0);

	T_EQ(hms_free(h, p, size), 0);
	T_EQ(hms_free(h, q, size), 0);
	T_EQ(hms_softdev_pages_used(d), 0);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
