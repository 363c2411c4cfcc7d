/* place_device_cpu_touch: a page strictly bound to device memory that the
 * CPU touches comes back to system memory for the access (device-private
 * memory cannot be reached by a CPU), with its data; the device's next
 * access puts it back in device memory, and so does
 * hms_migrate(HMS_MIGRATE_POLICY); another device reads it where it is.
 */
#include "hms_test.h"
#include "place_util.h"

#define NP 8

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 1 << 20), *other = t_softdev(h, 1 << 20);
	hms_uid t = hms_softdev_target(d);
	char *p = hms_alloc(h, NP * T_PAGE, 0);
	char *buf = malloc(NP * T_PAGE);
	struct hms_softdev_cmd c;

	T_ASSERT(p && buf);
	t_pattern(buf, NP, 5);
	T_EQ(hms_bind(h, p, NP * T_PAGE, &t, 1, 0), 0);
	T_EQ(t_cmd(d, hms_softdev_write, p, buf, NP, &c), 0);
	t_where_all(h, p, NP, t);

	/* CPU touch: back to system memory, data intact. */
	t_pattern_check(p, NP, 5);
	T_EQ(t_count_loc(h, p, NP, HMS_LOC_SYSTEM), NP);
	T_EQ(hms_softdev_pages_used(d), 0);
	p[0] = 42; /* the CPU writes one page */

	/* Another device reads the pages in place: they stay in system memory. */
	T_EQ(t_cmd(other, hms_softdev_read, p, buf, NP, &c), 0);
	T_EQ(t_count_loc(h, p, NP, HMS_LOC_SYSTEM), NP);
	T_EQ(buf[0], 42);

	/* The bound device's access takes them back. */
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, NP, &c), 0);
	t_where_all(h, p, NP, t);
	T_EQ(buf[0], 42);

	/* CPU touch again, then hms_migrate by policy returns them. */
	for (int i = 0; i < NP; i++)
		T_EQ(p[i * T_PAGE + 1], buf[i * T_PAGE + 1]);
	T_EQ(t_count_loc(h, p, NP, HMS_LOC_SYSTEM), NP);
	T_EQ(hms_migrate(h, p, NP * T_PAGE, NULL, 0, HMS_MIGRATE_POLICY), NP);
	t_where_all(h, p, NP, t);
	T_EQ(p[0], 42);
	hms_close(h);
	free(buf);
	return 0;
}
