/* SPDX-License-Identifier: MIT */
/*
 * topo_best_target: hms_topology_best_target() picks the reachable target
 * with the best bandwidth, latency or capacity, skips unknown figures
 * (-ENODATA if all are), and agrees with the HBM and CXL fixtures.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <hms_driver.h>

#include "topo_util.h"

static void fixtures(void)
{
	struct hms_topology *t;
	const struct hms_object *cpu0, *cpu1;
	char *root;

	root = topo_fixture_root("handmade-hbm");
	TOPO_CHECK(root && hms_topology_load(root, 0, &t) == 0, "load hbm");
	free(root);
	cpu0 = topo_by_name(t, HMS_OBJECT_INITIATOR, "node0-cpus");
	cpu1 = topo_by_name(t, HMS_OBJECT_INITIATOR, "node1-cpus");
	TOPO_CHECK(cpu0 && cpu1, "hbm initiators");
	TOPO_CHECK(hms_topology_best_target(t, hms_object_uid(cpu0), HMS_ATTR_BANDWIDTH) ==
		   hms_object_uid(topo_by_name(t, HMS_OBJECT_TARGET, "node2")), "hbm: bw -> node2");
	TOPO_CHECK(hms_topology_best_target(t, hms_object_uid(cpu0), HMS_ATTR_LATENCY) ==
		   hms_object_uid(topo_by_name(t, HMS_OBJECT_TARGET, "node0")), "hbm: lat -> node0");
	/* node1's CPUs have figures only for their own node */
	TOPO_CHECK(hms_topology_best_target(t, hms_object_uid(cpu1), HMS_ATTR_BANDWIDTH) ==
		   hms_object_uid(topo_by_name(t, HMS_OBJECT_TARGET, "node1")), "hbm: cpu1 bw");
	hms_topology_put(t);

	root = topo_fixture_root("handmade-cxl");
	TOPO_CHECK(root && hms_topology_load(root, 0, &t) == 0, "load cxl");
	free(root);
	cpu0 = topo_by_name(t, HMS_OBJECT_INITIATOR, "node0-cpus");
	TOPO_CHECK(hms_topology_best_target(t, hms_object_uid(cpu0), HMS_ATTR_CAPACITY) ==
		   hms_object_uid(topo_by_name(t, HMS_OBJECT_TARGET, "node2")), "cxl: capacity");
	TOPO_CHECK(hms_topology_best_target(t, hms_object_uid(cpu0), HMS_ATTR_BANDWIDTH) ==
		   hms_object_uid(topo_by_name(t, HMS_OBJECT_TARGET, "node0")), "cxl: bw");
	hms_topology_put(t);

	/* no HMAT at all: bandwidth is unknown everywhere */
	root = topo_fixture_root("qemu-2node-nohmat-slit");
	TOPO_CHECK(root && hms_topology_load(root, 0, &t) == 0, "load nohmat");
	free(root);
	cpu0 = topo_by_name(t, HMS_OBJECT_INITIATOR, "node0-cpus");
	TOPO_CHECK(hms_topology_best_target(t, hms_object_uid(cpu0), HMS_ATTR_BANDWIDTH) == -ENODATA,
		   "nohmat: bandwidth -ENODATA");
	TOPO_CHECK(hms_topology_best_target(t, hms_object_uid(cpu0), HMS_ATTR_CAPACITY) > 0,
		   "nohmat: capacity known");
	hms_topology_put(t);
}

static void registered(void)
{
	struct hms *h = topo_open_empty();
	struct hms_target_desc td = { .kind = HMS_TARGET_DRAM, .numa_node = HMS_NONE,
				      .free = HMS_SIZE_UNKNOWN, .memory_tier = HMS_NONE };
	struct hms_initiator_desc id = { .name = "dev", .kind = HMS_INITIATOR_DEVICE,
					 .numa_node = HMS_NONE };
	hms_uid dev, lonely, a, b, c;
	struct hms_topology *t;

	if (!h)
		return;
	TOPO_CHECK(hms_initiator_add(h, &id, &dev) == 0, "initiator");
	id.name = "lonely";
	TOPO_CHECK(hms_initiator_add(h, &id, &lonely) == 0, "initiator 2");
	td.name = "a"; td.size = 100;
	hms_target_add(h, &td, &a);
	td.name = "b"; td.size = 300;
	hms_target_add(h, &td, &b);
	td.name = "c"; td.size = 200;
	hms_target_add(h, &td, &c);
	{
		struct hms_link_desc l = { .name = "la", .initiators = &dev, .ninitiators = 1,
					   .targets = &a, .ntargets = 1,
					   .perf = { 5000, 5000, 100, 100 } };

		hms_link_add(h, &l, NULL);
		l.targets = &b;
		l.perf = (struct hms_perf){ 5000, 5000, 50, 50 }; /* same bw, lower latency */
		hms_link_add(h, &l, NULL);
		l.targets = &c;
		l.perf = (struct hms_perf){ 1000, 1000, 10, 10 };
		hms_link_add(h, &l, NULL);
	}
	TOPO_CHECK(hms_topology_get(h, &t) == 0, "get");
	TOPO_CHECK(hms_topology_best_target(t, dev, HMS_ATTR_BANDWIDTH) == b,
		   "bandwidth tie broken by latency");
	TOPO_CHECK(hms_topology_best_target(t, dev, HMS_ATTR_LATENCY) == c, "latency");
	TOPO_CHECK(hms_topology_best_target(t, dev, HMS_ATTR_CAPACITY) == b, "capacity");
	TOPO_CHECK(hms_topology_best_target(t, lonely, HMS_ATTR_CAPACITY) == -ENOENT,
		   "no reachable target");
	TOPO_CHECK(hms_topology_best_target(t, a, HMS_ATTR_CAPACITY) == -EINVAL, "not an initiator");
	TOPO_CHECK(hms_topology_best_target(t, 987654, HMS_ATTR_CAPACITY) == -ENOENT, "unknown");
	TOPO_CHECK(hms_topology_best_target(t, dev, 99) == -EINVAL, "bad attribute");
	hms_topology_put(t);
	hms_close(h);
}

int main(void)
{
	fixtures();
	registered();
	return topo_result();
}
