/* SPDX-License-Identifier: MIT */
/*
 * topo_path: path performance over links and bridges is the minimum
 * bandwidth and the sum of latencies; a bridge carries only the
 * initiators it lists; unknown figures stay unknown; no path is -ENOENT.
 */
#include <errno.h>
#include <stdio.h>

#include <hms_driver.h>

#include "topo_util.h"

#define U HMS_PERF_UNKNOWN

static hms_uid target(struct hms *h, const char *name, uint64_t size)
{
	struct hms_target_desc d = { .name = name, .kind = HMS_TARGET_DRAM,
				     .numa_node = HMS_NONE, .size = size,
				     .free = HMS_SIZE_UNKNOWN, .memory_tier = HMS_NONE };
	hms_uid u = 0;

	TOPO_CHECK(hms_target_add(h, &d, &u) == 0 && u, "target_add %s", name);
	return u;
}

static hms_uid initiator(struct hms *h, const char *name)
{
	struct hms_initiator_desc d = { .name = name, .kind = HMS_INITIATOR_DEVICE,
					.numa_node = HMS_NONE };
	hms_uid u = 0;

	TOPO_CHECK(hms_initiator_add(h, &d, &u) == 0 && u, "initiator_add %s", name);
	return u;
}

static hms_uid link(struct hms *h, hms_uid i, hms_uid t, struct hms_perf p)
{
	struct hms_link_desc d = { .name = "l", .initiators = &i, .ninitiators = 1,
				   .targets = &t, .ntargets = 1, .perf = p };
	hms_uid u = 0;

	TOPO_CHECK(hms_link_add(h, &d, &u) == 0 && u, "link_add");
	return u;
}

int main(void)
{
	struct hms *h = topo_open_empty();
	struct hms_topology *t;
	struct hms_perf p;
	hms_uid cpu, gpu, dram, vram, far, lcpu, lgpu, lfar, b1, b2;

	if (!h)
		return TOPO_SKIP;
	cpu = initiator(h, "cpu");
	gpu = initiator(h, "gpu");
	dram = target(h, "dram", 1 << 30);
	vram = target(h, "vram", 1 << 28);
	far = target(h, "far", 1ULL << 34);
	lcpu = link(h, cpu, dram, (struct hms_perf){ 20000, 10000, 80, 90 });
	lgpu = link(h, gpu, vram, (struct hms_perf){ 900000, 800000, 300, 310 });
	lfar = link(h, cpu, far, (struct hms_perf){ 4000, U, 250, 260 });
	{ /* the GPU reaches DRAM through a bridge: gpu link -> cpu link */
		struct hms_bridge_desc b = { .name = "pcie", .from = lgpu, .to = lcpu,
					     .initiators = &gpu, .ninitiators = 1,
					     .perf = { 16000, 12000, 700, 800 } };

		TOPO_CHECK(hms_bridge_add(h, &b, &b1) == 0, "bridge_add");
		b.from = lcpu;
		b.to = lfar;
		b.perf = (struct hms_perf){ 64000, 64000, 5, 5 };
		TOPO_CHECK(hms_bridge_add(h, &b, &b2) == 0, "bridge_add 2");
	}
	TOPO_CHECK(hms_topology_get(h, &t) == 0, "get");

	/* within one link: the link's own figures */
	TOPO_CHECK(hms_topology_path(t, cpu, dram, &p) == 0, "cpu->dram in one link");
	TOPO_CHECK(p.read_bandwidth == 20000 && p.write_bandwidth == 10000 &&
		   p.read_latency == 80 && p.write_latency == 90, "cpu->dram figures");

	/* one bridge: min(900000, 16000, 20000), 300 + 700 + 80 */
	TOPO_CHECK(hms_topology_path(t, gpu, dram, &p) == 1, "gpu->dram crosses 1 bridge");
	TOPO_CHECK(p.read_bandwidth == 16000 && p.write_bandwidth == 10000, "min bw %u %u",
		   p.read_bandwidth, p.write_bandwidth);
	TOPO_CHECK(p.read_latency == 1080 && p.write_latency == 1200, "sum lat %u %u",
		   p.read_latency, p.write_latency);

	/* two bridges; write bandwidth unknown on the last link stays unknown */
	TOPO_CHECK(hms_topology_path(t, gpu, far, &p) == 2, "gpu->far crosses 2 bridges");
	TOPO_CHECK(p.read_bandwidth == 4000 && p.write_bandwidth == U, "far bw %u %u",
		   p.read_bandwidth, p.write_bandwidth);
	TOPO_CHECK(p.read_latency == 300 + 700 + 80 + 5 + 250, "far lat %u", p.read_latency);

	/* bridges carry only the initiators they list: the CPU has no way to vram */
	TOPO_CHECK(hms_topology_path(t, cpu, vram, &p) == -ENOENT, "cpu->vram unreachable");
	/* bridges are one-way, and the CPU may not use the GPU's bridge */
	TOPO_CHECK(hms_topology_path(t, cpu, far, &p) == 0, "cpu->far direct link");
	TOPO_CHECK(p.read_latency == 250, "cpu->far uses its direct link: %u", p.read_latency);

	/* argument errors */
	TOPO_CHECK(hms_topology_path(t, dram, cpu, &p) == -EINVAL, "swapped types");
	TOPO_CHECK(hms_topology_path(t, cpu, 999999, &p) == -ENOENT, "unknown uid");
	TOPO_CHECK(hms_topology_path(NULL, cpu, dram, &p) == -EINVAL, "NULL snapshot");
	TOPO_CHECK(hms_topology_path(t, cpu, dram, NULL) == -EINVAL, "NULL perf");
	hms_topology_put(t);

	/* a second, shorter way in: the path with fewer bridges wins */
	{
		hms_uid l = link(h, gpu, dram, (struct hms_perf){ 1000, 1000, 5000, 5000 });

		TOPO_CHECK(hms_topology_get(h, &t) == 0, "get 2");
		TOPO_CHECK(hms_topology_path(t, gpu, dram, &p) == 0 && p.read_latency == 5000,
			   "direct link preferred over the bridge");
		hms_topology_put(t);
		TOPO_CHECK(hms_object_remove(h, l) == 0, "remove link");
	}

	/* registration errors */
	{
		struct hms_link_desc bad = { .name = "bad", .initiators = &dram, .ninitiators = 1,
					     .targets = &vram, .ntargets = 1 };
		struct hms_bridge_desc bb = { .name = "bb", .from = lcpu, .to = lcpu,
					      .initiators = &cpu, .ninitiators = 1 };
		hms_uid u, nope = 123456;

		TOPO_CHECK(hms_link_add(h, &bad, &u) == -EINVAL, "link with a target as initiator");
		bad.initiators = &nope;
		TOPO_CHECK(hms_link_add(h, &bad, &u) == -ENOENT, "link with unknown uid");
		bad.initiators = &cpu;
		bad.ntargets = 0;
		TOPO_CHECK(hms_link_add(h, &bad, &u) == -EINVAL, "link without target");
		TOPO_CHECK(hms_bridge_add(h, &bb, &u) == -EINVAL, "bridge from == to");
		bb.to = dram;
		TOPO_CHECK(hms_bridge_add(h, &bb, &u) == -EINVAL, "bridge to a target");
		TOPO_CHECK(hms_link_add(h, NULL, &u) == -EINVAL, "NULL desc");
		TOPO_CHECK(hms_object_remove(h, 0) == -EINVAL, "remove uid 0");
		TOPO_CHECK(hms_object_remove(h, nope) == -ENOENT, "remove unknown");
	}

	/* removing the link a bridge leaves removes the bridge too */
	TOPO_CHECK(hms_object_remove(h, lgpu) == 0, "remove gpu link");
	TOPO_CHECK(hms_topology_get(h, &t) == 0, "get 3");
	TOPO_CHECK(!hms_object_find(t, b1) && errno == ENOENT, "bridge went with its link");
	TOPO_CHECK(hms_object_find(t, b2) != NULL, "other bridge stays");
	TOPO_CHECK(hms_topology_path(t, gpu, dram, &p) == -ENOENT, "gpu cut off");
	hms_topology_put(t);
	hms_close(h);
	return topo_result();
}
