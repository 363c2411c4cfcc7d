/* dirty_lazyfree: a page given MADV_FREE stays in place until memory runs
 * short, with its bytes; its REMOVE event makes the table forget it.  A
 * scan reports it (its history is lost) and re-arms it all the same: the
 * CPU's next write to it, which needs no fault to land on the page still
 * there, is reported by the scan after. */
#include "hms_test.h"

#define NP 4

int main(void)
{
	struct hms *h = t_open();
	char *p = hms_alloc(h, NP * T_PAGE, 0);
	volatile char *v = p;
	uint64_t bm = 0;

	T_ASSERT(p);
	memset(p, 'x', NP * T_PAGE);
	T_EQ(hms_dirty_scan(h, p, NP * T_PAGE, &bm, 0), NP); /* never scanned */
	T_EQ(hms_dirty_scan(h, p, NP * T_PAGE, &bm, 0), 0);

	v[1 * T_PAGE] = 'y'; /* unprotected from here */
	T_EQ(madvise(p + 1 * T_PAGE, T_PAGE, MADV_FREE), 0);
	T_EQ(hms_sync(h), 0);
	T_EQ(hms_dirty_scan(h, p, NP * T_PAGE, &bm, 0), 1);
	T_EQ(bm, 1u << 1);
	T_EQ(hms_dirty_scan(h, p, NP * T_PAGE, &bm, 0), 0);

	v[1 * T_PAGE + 1] = 'z';
	T_EQ(hms_dirty_scan(h, p, NP * T_PAGE, &bm, 0), 1);
	T_EQ(bm, 1u << 1);
	T_EQ(v[1 * T_PAGE + 1], 'z');
	hms_close(h);
	return 0;
}
