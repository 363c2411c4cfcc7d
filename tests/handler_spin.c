/* handler_spin: with HMS_HANDLER_SPIN_US the fault handler polls for a
 * while after each batch of work instead of sleeping at once; CPU faults
 * on device pages, device faults and discards are served the same, every
 * byte reads back, and a value out of range or not a number leaves it
 * off (hms_open still works).  Timing is for `hms bench fault`, not for
 * this test. */
#include <sys/mman.h>
#include "hms_test.h"

static void round_trip(const char *spin)
{
	struct hms *h;
	struct hms_softdev *d;
	size_t npages = 64, n = npages * T_PAGE / sizeof(int);
	struct hms_softdev_cmd c;
	int *p;

	T_EQ(setenv("HMS_HANDLER_SPIN_US", spin, 1), 0);
	h = t_open();
	d = t_softdev(h, 0);
	p = hms_alloc(h, npages * T_PAGE, 0);
	T_ASSERT(p);
	for (int round = 0; round < 20; round++) {
		t_fill(p, n, round * 1000);
		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
		T_EQ(c.cpages, npages);
		/* Page by page: CPU faults (16 pages each) the handler serves. */
		for (size_t i = 0; i < npages; i++)
			if (p[i * (T_PAGE / sizeof(int))] != round * 1000 + (int)(i * (T_PAGE / sizeof(int))))
				T_FAIL("spin %s round %d: page %zu", spin, round, i);
		t_check(p, n, round * 1000);
		T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
		T_EQ(madvise(p, npages * T_PAGE, MADV_DONTNEED), 0);
		T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), 0);
	}
	T_EQ(hms_softdev_pages_used(d), 0);
	hms_softdev_destroy(d);
	hms_close(h);
}

int main(void)
{
	round_trip("1000");
	round_trip("0");
	round_trip("100001"); /* out of range: off */
	round_trip("12us");   /* not a number: off */
	return 0;
}
