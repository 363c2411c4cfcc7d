/* dirty_sync: hms_dirty_scan() through synchronous write-protect faults
 * (a context without HMS_OPEN_WP_ASYNC) reports exactly the pages written
 * by the CPU or a device since the last scan; each first write after a
 * re-arm is one write-protect fault. */
#include "dirty_util.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_stats s0, s;

	T_EQ(hms_wp_async(h), 0);
	t_dirty_scenario(h);

	/* Fault accounting: 8 populated pages, re-armed, 3 written twice. */
	t_dirty_three_writes(h, &s0, &s);
	T_EQ(s.wp_faults - s0.wp_faults, 3);
	hms_close(h);
	return 0;
}
