/* anon_write_huge: a device writes a 2 MiB huge-page area (HMS_ALLOC_HUGE,
 * 2 MiB aligned) in one fault round and the CPU reads every word back. */
#include <stdint.h>

#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = HMS_HUGE_PAGE_SIZE, npages = size / T_PAGE, n = size / sizeof(int);
	int *p = hms_alloc(h, size, HMS_ALLOC_HUGE);
	int *buf = malloc(size);
	struct hms_softdev_cmd c;

	T_ASSERT(p && buf);
	T_EQ((uintptr_t)p % HMS_HUGE_PAGE_SIZE, 0);
	t_fill(buf, n, 0);
	T_EQ(t_cmd(d, hms_softdev_write, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(c.faults, 1);
	t_check(p, n, 0);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);

	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
