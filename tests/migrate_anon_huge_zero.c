/* migrate_anon_huge_zero: a read-only 2 MiB aligned THP-advised range
 * whose only content is what a CPU read fault put there (zeros) migrates
 * whole to the device, and reads as zeros on the device and, after
 * coming back, on the CPU. */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = HMS_HUGE_PAGE_SIZE, npages = size / T_PAGE, n = size / sizeof(int);
	void *raw;
	int *p = t_map_aligned(size, PROT_READ, &raw);
	int *buf = malloc(size);
	struct hms_softdev_cmd c;

	T_ASSERT(buf);
	memset(buf, 0xFF, size);
	T_EQ(hms_manage(h, p, size), 0);
	/* A read-only zero page (or pages, with fault-around). */
	T_EQ(*(volatile int *)p, 0);
	T_ASSERT(t_count_loc(h, p, npages, HMS_LOC_NONE) < npages);

	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), npages);

	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.faults, 0);
	for (size_t i = 0; i < n; i++)
		if (buf[i] != 0)
			T_FAIL("device word %zu: %d", i, buf[i]);
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			T_FAIL("CPU word %zu: %d", i, p[i]);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), 0);
	T_EQ(hms_softdev_pages_used(d), 0);

	T_EQ(hms_unmanage(h, p, size), 0);
	T_EQ(munmap(raw, 2 * size), 0);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
