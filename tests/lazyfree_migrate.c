/* lazyfree_migrate: MADV_FREE sends the same REMOVE event as
 * MADV_DONTNEED, but the kernel keeps the pages mapped until it needs the
 * memory, and a write after it keeps the page for good.  hms must not
 * take such a page for one never populated: migrated to a device as if
 * it had nothing (no copy, no discard), the CPU kept its own page and the
 * device another, and the CPU never saw the device's writes.  Now the
 * data written after MADV_FREE moves to the device and the device's write
 * reaches the CPU; hms_where() and hms_migrate() find such pages. */
#include <sys/mman.h>

#include "hms_test.h"

#ifndef MADV_FREE
#define MADV_FREE 8
#endif

#define NP 8

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	char *p = hms_alloc(h, NP * T_PAGE, 0);
	char *buf = malloc(NP * T_PAGE);
	struct hms_softdev_cmd c;

	T_ASSERT(p && buf);
	memset(p, 'a', NP * T_PAGE);
	if (madvise(p, NP * T_PAGE, MADV_FREE))
		T_SKIP("MADV_FREE: %s", strerror(errno));
	hms_sync(h);
	/* Pages 0-3 written after MADV_FREE: theirs for good. */
	memset(p, 'x', 4 * T_PAGE);

	/* To the device: the written pages carry their data there. */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, NP, &c), 0);
	memset(buf, 0, NP * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, 4, &c), 0);
	for (size_t i = 0; i < 4 * T_PAGE; i++)
		if (buf[i] != 'x')
			T_FAIL("device read byte %zu of the pages written after MADV_FREE: "
			       "'%c', expected 'x'", i, buf[i]);

	/* The device writes every page; the CPU reads what it wrote. */
	memset(buf, 'd', NP * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_write, p, buf, NP, &c), 0);
	T_EQ(c.cpages, NP);
	for (size_t i = 0; i < NP * T_PAGE; i++)
		if (p[i] != 'd')
			T_FAIL("CPU read byte %zu (page %zu) as '%c' after the device wrote 'd'", i,
			       i / T_PAGE, p[i]);

	/* hms_migrate() asks the kernel about such pages too: the ones
	 * written after MADV_FREE are found and moved with their data. */
	memset(p, 'y', NP * T_PAGE);
	T_EQ(madvise(p, NP * T_PAGE, MADV_FREE), 0);
	hms_sync(h);
	memset(p + 2 * T_PAGE, 'w', 2 * T_PAGE);
	{
		hms_uid dev = hms_softdev_target(d), where[NP];
		long n;

		T_EQ(hms_where(h, p + 2 * T_PAGE, 2, where), 2);
		T_ASSERT(where[0] != 0 && where[1] != 0); /* on a node, not "none" */
		n = hms_migrate(h, p, NP * T_PAGE, &dev, 1, 0);
		T_ASSERT(n >= 2);
		T_EQ(hms_where(h, p + 2 * T_PAGE, 2, where), 2);
		T_EQ(where[0], dev);
		T_EQ(where[1], dev);
	}
	memset(buf, 0, NP * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_read, p + 2 * T_PAGE, buf, 2, &c), 0);
	for (size_t i = 0; i < 2 * T_PAGE; i++)
		T_EQ(buf[i], 'w');
	for (size_t i = 2 * T_PAGE; i < 4 * T_PAGE; i++)
		T_EQ(p[i], 'w');

	free(buf);
	hms_free(h, p, NP * T_PAGE);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
