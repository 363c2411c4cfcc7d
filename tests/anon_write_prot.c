/* anon_write_prot: a device write to read-only managed memory fails with
 * -EPERM and changes nothing (even where the device already mirrors the
 * page for reading); once hms_protect() allows writing, the same write
 * succeeds in one fault round. */
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
	T_EQ(hms_protect(h, p, size, PROT_READ), 0);

	/* The device reads one (zero) page: mirrored read-only. */
	memset(buf, 0xAA, T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, 1, &c), 0);
	T_EQ(c.cpages, 1);
	T_EQ(c.faults, 1);
	for (size_t i = 0; i < T_PAGE / sizeof(int); i++)
		T_EQ(buf[i], 0);

	t_fill(buf, n, 0);
	T_EQ(t_cmd(d, hms_softdev_write, p, buf, npages, &c), -EPERM);
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			T_FAIL("word %zu: %d after a refused write", i, p[i]);

	T_EQ(hms_protect(h, p, size, PROT_READ | PROT_WRITE), 0);
	T_EQ(t_cmd(d, hms_softdev_write, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(c.faults, 1);
	t_check(p, n, 0);

	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
