/* SPDX-License-Identifier: MIT */
/*
 * topo_uid_unique: object uids are never reused, across removals, across
 * contexts and across hms_topology_load() calls.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <hms_driver.h>

#include "topo_util.h"

int main(void)
{
	struct hms *h = topo_open_empty(), *h2;
	struct hms_target_desc td = { .name = "t", .kind = HMS_TARGET_DEVICE_PRIVATE,
				      .numa_node = HMS_NONE, .size = 4096,
				      .free = HMS_SIZE_UNKNOWN, .memory_tier = HMS_NONE };
	struct hms_topology *t;
	hms_uid last = 0, u;
	char *root;

	if (!h)
		return TOPO_SKIP;
	h2 = topo_open_empty();
	for (int i = 0; i < 1000; i++) {
		TOPO_CHECK(hms_target_add(i % 2 ? h2 : h, &td, &u) == 0, "add %d", i);
		TOPO_CHECK(u > last, "uid %u after %u: reused or not increasing", u, last);
		last = u;
		if (i % 3 == 0)
			TOPO_CHECK(hms_object_remove(i % 2 ? h2 : h, u) == 0, "remove %u", u);
	}
	/* a removed uid stays unknown and is not handed out again */
	TOPO_CHECK(hms_object_remove(h, 1) == -ENOENT || last > 1, "uid 1 gone");
	root = topo_fixture_root("qemu-2node-hmat");
	TOPO_CHECK(root && hms_topology_load(root, 0, &t) == 0, "load");
	free(root);
	for (const struct hms_object *o = hms_topology_next(t, HMS_OBJECT_ANY, NULL); o;
	     o = hms_topology_next(t, HMS_OBJECT_ANY, o)) {
		TOPO_CHECK(hms_object_uid(o) > last, "loaded uid %u reuses", hms_object_uid(o));
		last = hms_object_uid(o);
	}
	hms_topology_put(t);
	TOPO_CHECK(hms_target_add(h, &td, &u) == 0 && u > last, "after load: %u", u);
	hms_close(h2);
	hms_close(h);
	return topo_result();
}
