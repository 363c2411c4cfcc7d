/* discard_device_write (issue 7): a device write issued after the
 * application's MADV_DONTNEED of the same pages returned is not discarded
 * by it, even while the pages were on that device (their translations
 * cached) and the handler applies the discard late.  2,000 rounds of
 * migrate to device, madvise(MADV_DONTNEED), device write, CPU check. */
#include <sys/mman.h>

#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	size_t npages = 8, n = npages * T_PAGE / sizeof(int);
	struct hms_softdev *d = t_softdev(h, 0);
	int *p = hms_alloc(h, npages * T_PAGE, 0);
	int *buf = malloc(npages * T_PAGE);
	struct hms_softdev_cmd c;

	T_ASSERT(p && buf);
	for (int round = 0; round < 2000; round++) {
		t_fill(p, n, round);
		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
		T_EQ(madvise(p, npages * T_PAGE, MADV_DONTNEED), 0);
		t_fill(buf, n, round + 7);
		T_EQ(t_cmd(d, hms_softdev_write, p, buf, npages, &c), 0);
		T_EQ(c.cpages, npages);
		t_check(p, n, round + 7);
	}
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
