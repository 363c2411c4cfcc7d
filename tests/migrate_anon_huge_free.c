/* migrate_anon_huge_free: MADV_FREE on a huge-page area whose pages live
 * in device memory succeeds; each page then reads either its old data or
 * zeros (MADV_FREE's contract), never anything else, and freeing the area
 * returns all device memory. */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = HMS_HUGE_PAGE_SIZE, npages = size / T_PAGE, n = size / sizeof(int);
	size_t per = T_PAGE / sizeof(int);
	int *p = hms_alloc(h, size, HMS_ALLOC_HUGE);
	int *buf = malloc(size);
	struct hms_softdev_cmd c;

	T_ASSERT(p && buf);
	memset(buf, 0xFF, size);
	t_fill(p, n, 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.faults, 0);
	t_check(buf, n, 0);

	T_EQ(madvise(p, size, MADV_FREE), 0);
	for (size_t pg = 0; pg < npages; pg++) {
		int *q = p + pg * per;
		int zero = q[1] == 0; /* word 1 is never 0 in the data */

		for (size_t i = 0; i < per; i++) {
			int want = zero ? 0 : (int)(pg * per + i);

			if (q[i] != want)
				T_FAIL("page %zu word %zu: %d, expected %d", pg, i, q[i], want);
		}
	}
	T_EQ(hms_free(h, p, size), 0);
	T_EQ(hms_softdev_pages_used(d), 0);

	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
