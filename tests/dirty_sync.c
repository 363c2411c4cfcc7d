/* dirty_sync: hms_dirty_scan() through synchronous write-protect faults
 * (a context without HMS_OPEN_WP_ASYNC) reports exactly the pages written
 * by the CPU or a device since the last scan; each first write after a
 * re-arm is one write-protect fault. */
#include "dirty_util.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_stats s0, s;
	char *p;
	uint64_t bm[1];

	T_EQ(hms_wp_async(h), 0);
	t_dirty_scenario(h);

	/* Fault accounting: 8 populated pages, re-armed, 3 written twice. */
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
	T_EQ(s.wp_faults - s0.wp_faults, 3);
	T_EQ(hms_dirty_scan(h, p, 8 * T_PAGE, bm, 0), 3);
	T_EQ(bm[0], (1u << 1) | (1u << 4) | (1u << 7));
	hms_close(h);
	return 0;
}
