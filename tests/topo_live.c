/* SPDX-License-Identifier: MIT */
/*
 * topo_live: discovery of this machine's own sysfs finds every NUMA node
 * with memory as a target, every node with CPUs as an initiator, and a
 * path from each initiator to each target.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo_util.h"

int main(void)
{
	struct hms_topology *t;
	const struct hms_object *i, *g;
	DIR *d = opendir("/sys/devices/system/node");
	struct dirent *e;
	unsigned nodes = 0;

	if (!d) {
		printf("SKIP: no /sys/devices/system/node on this machine\n");
		return TOPO_SKIP;
	}
	while ((e = readdir(d)))
		nodes += !strncmp(e->d_name, "node", 4) && e->d_name[4] >= '0' && e->d_name[4] <= '9';
	closedir(d);
	TOPO_CHECK(hms_topology_load(NULL, 0, &t) == 0, "load /");
	TOPO_CHECK(hms_topology_count(t, HMS_OBJECT_TARGET) >= 1 &&
		   hms_topology_count(t, HMS_OBJECT_TARGET) <= nodes, "targets vs %u nodes", nodes);
	TOPO_CHECK(hms_topology_count(t, HMS_OBJECT_INITIATOR) >= 1, "an initiator");
	hms_topology_for_each(t, HMS_OBJECT_TARGET, g) {
		struct hms_target_info ti;

		TOPO_CHECK(hms_target_info(g, &ti) == 0 && ti.numa_node >= 0, "target node");
		TOPO_CHECK(ti.size > 0 && ti.size != HMS_SIZE_UNKNOWN, "%s size", hms_object_name(g));
		TOPO_CHECK(ti.free == HMS_SIZE_UNKNOWN || ti.free <= ti.size, "free <= size");
	}
	hms_topology_for_each(t, HMS_OBJECT_INITIATOR, i) {
		struct hms_perf p;

		hms_topology_for_each(t, HMS_OBJECT_TARGET, g)
			TOPO_CHECK(hms_topology_path(t, hms_object_uid(i), hms_object_uid(g), &p) >= 0,
				   "path %s -> %s", hms_object_name(i), hms_object_name(g));
		TOPO_CHECK(hms_topology_best_target(t, hms_object_uid(i), HMS_ATTR_CAPACITY) > 0,
			   "best by capacity");
	}
	{
		FILE *f = fopen("/dev/null", "w");

		TOPO_CHECK(f && hms_topology_write_json(t, f) == 0, "json");
		TOPO_CHECK(f && hms_topology_write_dot(t, f) == 0, "dot");
		if (f)
			fclose(f);
	}
	for (size_t k = 0; hms_topology_warning(t, k); k++)
		printf("warning: %s\n", hms_topology_warning(t, k));
	hms_topology_put(t);
	return topo_result();
}
