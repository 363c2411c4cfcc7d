/* SPDX-License-Identifier: MIT */
/*
 * topo_discovery: the facts each captured tree's README promises are
 * found: kinds (HBM, CXL, PMEM, GPU memory), memory tiers, memory-side
 * caches, generic initiators, access0 vs access1 links, firmware zeros
 * reported as unknown, sparse and offline nodes, no invented DAX nodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo_util.h"

static struct hms_topology *load(const char *name)
{
	struct hms_topology *t = NULL;
	char *root = topo_fixture_root(name);

	TOPO_CHECK(root && hms_topology_load(root, 0, &t) == 0, "load %s", name);
	free(root);
	return t;
}

static struct hms_target_info target(const struct hms_topology *t, const char *name)
{
	struct hms_target_info ti = { 0 };

	TOPO_CHECK(hms_target_info(topo_by_name(t, HMS_OBJECT_TARGET, name), &ti) == 0,
		   "no target %s", name);
	return ti;
}

static struct hms_perf link_perf(const struct hms_topology *t, const char *name)
{
	struct hms_perf p = { 0 };

	TOPO_CHECK(hms_object_perf(topo_by_name(t, HMS_OBJECT_LINK, name), &p) == 0,
		   "no link %s", name);
	return p;
}

int main(void)
{
	struct hms_topology *t;
	struct hms_target_info ti;
	struct hms_memcache c;
	struct hms_perf p;

	t = load("qemu-3node-memonly-hmat-k612");
	ti = target(t, "node2");
	TOPO_CHECK(ti.memory_tier == 900 && ti.size == 992968ULL << 10 && ti.ncaches == 1, "k612 node2");
	TOPO_CHECK(hms_target_cache(topo_by_name(t, HMS_OBJECT_TARGET, "node2"), 0, &c) == 0 &&
		   c.size == 16777216 && c.line_size == 64 && c.indexing == HMS_CACHE_DIRECT_MAPPED &&
		   c.write_policy == HMS_CACHE_WRITE_BACK, "k612 cache");
	p = link_perf(t, "access1:node2");
	TOPO_CHECK(p.read_bandwidth == 2048 && p.read_latency == 200, "k612 node2 figures");
	p = link_perf(t, "node1:node2");
	TOPO_CHECK(p.read_bandwidth == HMS_PERF_UNKNOWN, "remote pair without figures");
	TOPO_CHECK(strstr(hms_object_note(topo_by_name(t, HMS_OBJECT_LINK, "node1:node2")),
			  "SLIT distance 30") != NULL, "distance in the note");
	hms_topology_put(t);

	t = load("qemu-3node-memonly-hmat");
	TOPO_CHECK(target(t, "node2").memory_tier == 4, "6.1 kernel: one tier");
	hms_topology_put(t);

	t = load("handmade-hbm");
	TOPO_CHECK(target(t, "node2").kind == HMS_TARGET_HBM && target(t, "node2").memory_tier == 0, "HBM");
	TOPO_CHECK(target(t, "node0").kind == HMS_TARGET_DRAM, "DRAM");
	hms_topology_put(t);

	t = load("handmade-cxl");
	TOPO_CHECK(target(t, "node2").kind == HMS_TARGET_CXL && target(t, "node2").memory_tier == 900, "CXL");
	hms_topology_put(t);

	t = load("fakememinitiators-1np2c+1npp+gi.tar.bz2");
	TOPO_CHECK(target(t, "node7").kind == HMS_TARGET_PMEM && target(t, "node10").kind == HMS_TARGET_PMEM,
		   "NVDIMM DAX nodes are PMEM");
	TOPO_CHECK(!topo_by_name(t, HMS_OBJECT_TARGET, "node0"), "CPU-only node is no target");
	{
		struct hms_initiator_info ii;

		TOPO_CHECK(hms_initiator_info(topo_by_name(t, HMS_OBJECT_INITIATOR, "node4-initiator"), &ii) == 0 &&
			   ii.kind == HMS_INITIATOR_DEVICE, "generic initiator");
	}
	p = link_perf(t, "access0:node5+node6");
	TOPO_CHECK(p.read_bandwidth == 419431 && p.read_latency == 8, "access0 link shared by node5, node6");
	p = link_perf(t, "access1:node7");
	TOPO_CHECK(p.read_bandwidth == 78644 && p.read_latency == 77, "access1 link of node7");
	hms_topology_put(t);

	t = load("memorysidecaches.tar.bz2");
	p = link_perf(t, "access0:node0");
	TOPO_CHECK(p.read_bandwidth == HMS_PERF_UNKNOWN && p.read_latency == HMS_PERF_UNKNOWN,
		   "firmware zeros are unknown, not 0");
	TOPO_CHECK(strstr(hms_object_note(topo_by_name(t, HMS_OBJECT_LINK, "access0:node0")), "gave none"),
		   "zeros explained");
	TOPO_CHECK(target(t, "node3").ncaches == 1, "96 GiB memory-side cache");
	hms_topology_put(t);

	t = load("nvidiagpunumanodes.tar.bz2");
	TOPO_CHECK(hms_topology_count(t, HMS_OBJECT_TARGET) == 8, "8 targets");
	TOPO_CHECK(target(t, "node255").kind == HMS_TARGET_DEVICE_COHERENT &&
		   target(t, "node255").numa_node == 255, "GPU memory node");
	TOPO_CHECK(topo_by_name(t, HMS_OBJECT_INITIATOR, "gpu-0004:05:00.0") != NULL, "GPU initiator");
	hms_topology_put(t);

	t = load("32em64t-2n8c+dax+nvme+mic+dimms.tar.bz2");
	TOPO_CHECK(hms_topology_count(t, HMS_OBJECT_TARGET) == 2, "DAX target nodes 4/5 not invented");
	hms_topology_put(t);

	t = load("offline-cpu0-node0.tar.bz2");
	TOPO_CHECK(hms_topology_count(t, HMS_OBJECT_TARGET) == 1 && topo_by_name(t, HMS_OBJECT_TARGET, "node1"),
		   "only the online node");
	hms_topology_put(t);

	t = load("64intel64-fakeKNL-SNC4-hybrid.tar.bz2");
	TOPO_CHECK(hms_topology_count(t, HMS_OBJECT_TARGET) == 8 &&
		   hms_topology_count(t, HMS_OBJECT_INITIATOR) == 4, "KNL: 8 targets, 4 initiators from cpumap");
	hms_topology_put(t);
	return topo_result();
}
