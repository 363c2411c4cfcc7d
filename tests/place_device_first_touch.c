/* place_device_first_touch: in a range bound to a softdev's memory, the
 * device's first touch (a write, and a read of never-populated pages)
 * places the pages in its memory, not in system memory; the data is what
 * the device wrote, and an unbound range next to it stays in system
 * memory.
 */
#include "hms_test.h"
#include "place_util.h"

#define NP 32

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 4 << 20);
	hms_uid t = hms_softdev_target(d);
	char *p = hms_alloc(h, 2 * NP * T_PAGE, 0);
	char *buf = malloc(NP * T_PAGE), *zero = calloc(NP, T_PAGE);
	struct hms_softdev_cmd c;

	T_ASSERT(p && buf && zero);
	T_EQ(hms_bind(h, p, NP * T_PAGE, &t, 1, 0), 0);
	/* First half of the bound range: written by the device. */
	t_pattern(buf, NP / 2, 3);
	T_EQ(t_cmd(d, hms_softdev_write, p, buf, NP / 2, &c), 0);
	t_where_all(h, p, NP / 2, t);
	/* Second half: read first, zeros, in device memory. */
	T_EQ(t_cmd(d, hms_softdev_read, p + NP / 2 * T_PAGE, buf, NP / 2, &c), 0);
	T_ASSERT(!memcmp(buf, zero, NP / 2 * T_PAGE));
	t_where_all(h, p + NP / 2 * T_PAGE, NP / 2, t);
	T_EQ(hms_softdev_pages_used(d), NP);
	/* The unbound range next to it: system memory as usual. */
	T_EQ(t_cmd(d, hms_softdev_write, p + NP * T_PAGE, buf, NP, &c), 0);
	T_EQ(t_count_loc(h, p + NP * T_PAGE, NP, HMS_LOC_SYSTEM), NP);
	T_EQ(hms_softdev_pages_used(d), NP);
	/* The CPU sees what the device wrote. */
	t_pattern_check(p, NP / 2, 3);
	hms_close(h);
	free(buf);
	free(zero);
	return 0;
}
