/* anon_read_multiple: ten times, a device reads fresh anonymous memory in
 * one fault round and gets every word the CPU wrote. */
#include "hms_test.h"

#define NTIMES 10

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 1024, size = npages * T_PAGE, n = size / sizeof(int);
	int *buf = malloc(size);

	T_ASSERT(buf);
	for (int c = 0; c < NTIMES; c++) {
		int *p = hms_alloc(h, size, 0);
		struct hms_softdev_cmd cmd;

		T_ASSERT(p);
		t_fill(p, n, c);
		memset(buf, 0xAA, size);
		T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &cmd), 0);
		T_EQ(cmd.cpages, npages);
		T_EQ(cmd.faults, 1);
		t_check(buf, n, c);
		T_EQ(hms_free(h, p, size), 0);
	}
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
