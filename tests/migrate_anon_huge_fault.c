/* migrate_anon_huge_fault: a populated 2 MiB huge-page area migrates whole
 * to the device: the device's snapshot reports every page as its own
 * writable device page, the CPU's page table no longer maps any of them
 * (/proc/self/pagemap present bit clear), and CPU reads fault every page
 * back intact.
 *
 * hms differs from the kernel test: hms moves 4 KiB pages (hms.h), so the
 * device maps no PMD and the snapshot byte is DEV_PRIVATE_LOCAL | WRITE
 * without HMS_SNAP_PMD; and the kernel's device-private swap entry has no
 * counterpart, so only "not present" is checked. */
#include <stdint.h>
#include <unistd.h>

#include "hms_test.h"


int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = HMS_HUGE_PAGE_SIZE, npages = size / T_PAGE, n = size / sizeof(int);
	int *p = hms_alloc(h, size, HMS_ALLOC_HUGE);
	int *buf = malloc(size);
	uint64_t *pm = malloc(npages * sizeof(*pm));
	struct hms_softdev_cmd c;

	T_ASSERT(p && buf && pm);
	memset(buf, 0xFF, size);
	t_fill(p, n, 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.faults, 0);
	t_check(buf, n, 0);

	t_snapshot_all(d, p, npages, HMS_SNAP_DEV_PRIVATE_LOCAL | HMS_SNAP_WRITE);

	t_pagemap(p, npages, pm);
	for (size_t i = 0; i < npages; i++)
		if (pm[i] & T_PM_PRESENT)
			T_FAIL("page %zu still present in the CPU page table", i);

	t_check(p, n, 0);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	T_EQ(hms_softdev_pages_used(d), 0);

	free(pm);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
