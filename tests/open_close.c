/* open_close: a context and a softdev open and close cleanly, repeatedly,
 * the softdev's target and initiator appear in the topology while it lives,
 * and nothing is counted or allocated when nothing was done. */
#include "hms_test.h"

int main(void)
{
	for (int round = 0; round < 3; round++) {
		struct hms *h = t_open();
		struct hms_softdev *d = t_softdev(h, 0);
		struct hms_topology *t;
		const struct hms_object *o;
		struct hms_stats st, zero;

		T_ASSERT(hms_softdev_target(d) != 0);
		T_ASSERT(hms_softdev_initiator(d) != 0);
		T_ASSERT(hms_softdev_target(d) != hms_softdev_initiator(d));
		T_EQ(hms_softdev_pages_used(d), 0);

		T_EQ(hms_topology_get(h, &t), 0);
		o = hms_object_find(t, hms_softdev_target(d));
		T_ASSERT(o);
		T_EQ(hms_object_type(o), HMS_OBJECT_TARGET);
		o = hms_object_find(t, hms_softdev_initiator(d));
		T_ASSERT(o);
		T_EQ(hms_object_type(o), HMS_OBJECT_INITIATOR);
		hms_topology_put(t);

		memset(&zero, 0, sizeof(zero));
		T_EQ(hms_stats(h, &st), 0);
		T_EQ(st.cpu_faults, 0);
		T_EQ(st.device_faults, 0);
		T_EQ(st.migrations_to_device, 0);
		T_EQ(st.migrations_to_system, 0);
		T_EQ(memcmp(&st.bytes_to_device, &zero.bytes_to_device,
			    sizeof(st) - offsetof(struct hms_stats, bytes_to_device)), 0);

		hms_softdev_destroy(d);
		hms_close(h);
	}
	/* A softdev left attached is destroyed by hms_close(). */
	struct hms *h = t_open();

	(void)t_softdev(h, 1 << 20);
	hms_close(h);
	return 0;
}
