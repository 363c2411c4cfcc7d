/* dirty_async: hms_dirty_scan() through asynchronous write protection and
 * PAGEMAP_SCAN (HMS_OPEN_WP_ASYNC) gives the same exact bitmaps as the
 * synchronous path, with no write-protect fault for a CPU write.  Skips
 * where the kernel lacks WP_ASYNC (before Linux 6.7) or HMS_WP_SYNC=1. */
#include "dirty_util.h"

int main(void)
{
	struct hms *h = t_open_flags(HMS_OPEN_WP_ASYNC);
	struct hms_stats s0, s;

	if (!hms_wp_async(h))
		T_SKIP("no asynchronous userfaultfd write protection (WP_ASYNC) here");
	t_dirty_scenario(h);

	/* Fault accounting: 8 populated pages, re-armed, 3 written twice. */
	t_dirty_three_writes(h, &s0, &s);
	T_EQ(s.wp_faults - s0.wp_faults, 0); /* the kernel resolved them */
	T_EQ(s.cpu_faults - s0.cpu_faults, 0);
	hms_close(h);
	return 0;
}
