/* exclusive_mprotect: after a device took exclusive access, hms_protect()
 * to read-only takes it away: a device write fails with -EPERM, the
 * exclusive access is gone, and the data is unchanged. */
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
	t_fill(p, n, 0);
	T_EQ(t_cmd(d, hms_softdev_exclusive, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	t_check(buf, n, 0);

	T_EQ(hms_protect(h, p, size, PROT_READ), 0);
	t_fill(buf, n, 500);
	T_EQ(t_cmd(d, hms_softdev_write, p, buf, npages, &c), -EPERM);
	T_EQ(t_cmd(d, hms_softdev_check_exclusive, p, NULL, npages, NULL), 0);
	t_check(p, n, 0);
	/* A read-only range cannot be taken exclusively. */
	T_EQ(t_cmd(d, hms_softdev_exclusive, p, NULL, npages, &c), -EPERM);

	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
