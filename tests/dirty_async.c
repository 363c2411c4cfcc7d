/* dirty_async: hms_dirty_scan() through asynchronous write protection and
 * PAGEMAP_SCAN (HMS_OPEN_WP_ASYNC) gives the same exact bitmaps as the
 * synchronous path, with no write-protect fault for a CPU write.  Skips
 * where the kernel lacks WP_ASYNC (before Linux 6.7) or HMS_WP_SYNC=1. */
#include "dirty_util.h"

int main(void)
{
	struct hms *h = t_open_flags(HMS_OPEN_WP_ASYNC);
	struct hms_stats s0, s;
	char *p;
	uint64_t bm[1];

	if (!hms_wp_async(h))
		T_SKIP("no asynchronous userfaultfd write protection (WP_ASYNC) here");
	t_dirty_scenario(h);

	p = hms_alloc(h, 8 * T_PAGE, 0);
	T_ASSERT(p);
	memset(p, 1, 8 * T_PAGE);
	T_EQ(hms_dirty_scan(h, p, 8 * T_PAGE, bm, 0), 8);
	T_EQ(hms_stats(h, &s0), 0);
	for (int k = 0; k < 2; k++) {
		p[1 * T_PAGE + k] = 2;
		p[4 * T_PAGE + k] = 2;
		p[7 * T_PAGE + k] = 2;
	}
	T_EQ(hms_stats(h, &s), 0);
	T_EQ(s.wp_faults - s0.wp_faults, 0); /* the kernel resolved them */
	T_EQ(s.cpu_faults - s0.cpu_faults, 0);
	T_EQ(hms_dirty_scan(h, p, 8 * T_PAGE, bm, 0), 3);
	T_EQ(bm[0], (1u << 1) | (1u << 4) | (1u << 7));
	hms_close(h);
	return 0;
}
