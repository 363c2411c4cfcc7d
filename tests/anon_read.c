/* anon_read: a device reads anonymous memory the CPU wrote; one fault
 * round, every byte as written, and a second read needs no fault. */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 64, n = npages * T_PAGE / sizeof(int);
	int *p = hms_alloc(h, npages * T_PAGE, 0);
	int *buf = malloc(npages * T_PAGE);
	struct hms_softdev_cmd c;

	T_ASSERT(p && buf);
	t_fill(p, n, 0);
	memset(buf, 0xAA, npages * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(c.faults, 1);
	t_check(buf, n, 0);
	/* Mirrored now: no fault. */
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.faults, 0);
	t_check(buf, n, 0);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
