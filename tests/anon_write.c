/* anon_write: a device writes never-touched anonymous memory in one fault
 * round; the CPU then reads every word the device wrote, from system
 * memory, and a second write needs no fault. */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 1024, size = npages * T_PAGE, n = size / sizeof(int);
	int *p = hms_alloc(h, size, 0);
	int *buf = malloc(size);
	struct hms_softdev_cmd c;

	T_ASSERT(p && buf);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_NONE), npages);
	t_fill(buf, n, 0);
	T_EQ(t_cmd(d, hms_softdev_write, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(c.faults, 1);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	T_EQ(hms_softdev_pages_used(d), 0);
	t_check(p, n, 0);

	/* Still mirrored writable: no fault; the CPU sees the new data. */
	t_fill(buf, n, 5000);
	T_EQ(t_cmd(d, hms_softdev_write, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(c.faults, 0);
	t_check(p, n, 5000);

	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
