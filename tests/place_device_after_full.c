/* place_device_after_full: a device that found its memory full when it
 * first touched a page of a range bound to it uses the page in system
 * memory; once it has room, its next touch of that page places it in its
 * memory, as the policy says (a note of the refusal, kept per thread,
 * made that next touch skip the placement once).
 */
#include "hms_test.h"
#include "place_util.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 4 * T_PAGE);
	hms_uid t = hms_softdev_target(d), w;
	char *p = hms_alloc(h, 8 * T_PAGE, 0), *buf = malloc(4 * T_PAGE);
	struct hms_softdev_cmd c;

	T_ASSERT(p && buf);
	T_EQ(hms_bind(h, p, 8 * T_PAGE, &t, 1, 0), 0);
	/* Four pages fill the device. */
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, 4, &c), 0);
	t_where_all(h, p, 4, t);
	T_EQ(hms_softdev_pages_used(d), 4);
	/* The fifth does not fit: used in system memory. */
	T_EQ(t_cmd(d, hms_softdev_read, p + 4 * T_PAGE, buf, 1, &c), 0);
	T_EQ(t_count_loc(h, p + 4 * T_PAGE, 1, HMS_LOC_DEVICE), 0);
	/* Room for one page again; the device's view of the fifth is dropped
	 * (an invalidation), so its next touch faults the page again. */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, 1, &c), 0);
	T_EQ(hms_softdev_pages_used(d), 3);
	T_EQ(hms_protect(h, p + 4 * T_PAGE, T_PAGE, PROT_READ | PROT_WRITE), 0);
	T_EQ(t_cmd(d, hms_softdev_read, p + 4 * T_PAGE, buf, 1, &c), 0);
	T_EQ(hms_where(h, p + 4 * T_PAGE, 1, &w), 1);
	if (w != t)
		T_FAIL("page 4: on target %u after the device's touch, expected the device (%u)", w,
		       t);
	T_EQ(hms_softdev_pages_used(d), 4);
	hms_softdev_destroy(d);
	hms_close(h);
	free(buf);
	return 0;
}
