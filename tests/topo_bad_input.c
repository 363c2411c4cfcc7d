/* SPDX-License-Identifier: MIT */
/*
 * topo_bad_input: a missing, empty, truncated or nonsensical sysfs file
 * gives a warning naming the file and a topology without that fact, never
 * a failure or a crash.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "topo_util.h"

#define NODE "sys/devices/system/node/"

static char *root;

static void put(const char *rel, const char *text)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (!text)
		TOPO_CHECK(unlink(path) == 0, "unlink %s", path);
	else
		TOPO_CHECK(topo_write_file(path, text) == 0, "write %s", path);
}

static struct hms_topology *load(void)
{
	struct hms_topology *t = NULL;

	TOPO_CHECK(hms_topology_load(root, 0, &t) == 0, "load %s", root);
	return t;
}

static void warned(const struct hms_topology *t, const char *what)
{
	TOPO_CHECK(topo_has_warning(t, what), "no warning containing '%s'", what);
}

int main(void)
{
	char *src = topo_fixture_root("qemu-3node-memonly-hmat-k612");
	struct hms_topology *t;
	struct hms_target_info ti;
	struct hms_initiator_info ii;
	struct hms_perf p;
	const int *nodes;

	if (!src)
		return 1;
	root = topo_copy_tree(src);
	free(src);
	TOPO_CHECK(root, "copy");
	if (!root)
		return topo_result();

	put(NODE "node1/meminfo", NULL);                       /* missing */
	put(NODE "node0/meminfo", "");                          /* empty */
	put(NODE "node2/meminfo", "Node 2 MemTot");             /* truncated */
	put(NODE "node0/distance", "10 abc 30\n");              /* garbage */
	put(NODE "node2/access1/initiators/read_bandwidth", "-5\n");
	put(NODE "node2/access1/initiators/read_latency", "99999999999999999999\n");
	put(NODE "node1/cpulist", "1-\n");                      /* cpumap still there */
	put(NODE "node2/memory_side_cache/index1/size", "lots\n");
	put("sys/devices/virtual/memory_tiering/memory_tier900/nodelist", "2-1\n");
	t = load();
	if (!t)
		return topo_result();
	warned(t, NODE "node1/meminfo: cannot read");
	warned(t, NODE "node0/meminfo: empty");
	warned(t, NODE "node2/meminfo: no valid MemTotal");
	warned(t, NODE "node0/distance");
	warned(t, NODE "node2/access1/initiators/read_bandwidth");
	warned(t, NODE "node2/access1/initiators/read_latency");
	warned(t, NODE "node1/cpulist");
	warned(t, NODE "node2/memory_side_cache/index1/size");
	warned(t, "memory_tier900/nodelist");

	hms_target_info(topo_by_name(t, HMS_OBJECT_TARGET, "node1"), &ti);
	TOPO_CHECK(ti.size == HMS_SIZE_UNKNOWN && ti.free == HMS_SIZE_UNKNOWN, "node1 size unknown");
	TOPO_CHECK(hms_target_info(topo_by_name(t, HMS_OBJECT_TARGET, "node2"), &ti) == 0 &&
		   ti.ncaches == 0 && ti.memory_tier == HMS_NONE, "node2: no cache, no tier");
	TOPO_CHECK(hms_initiator_info(topo_by_name(t, HMS_OBJECT_INITIATOR, "node1-cpus"), &ii) == 0 &&
		   ii.ncpus == 1 && !strcmp(ii.cpulist, "1"), "node1 CPUs from cpumap");
	hms_object_perf(topo_by_name(t, HMS_OBJECT_LINK, "access1:node2"), &p);
	TOPO_CHECK(p.read_bandwidth == HMS_PERF_UNKNOWN && p.read_latency == HMS_PERF_UNKNOWN &&
		   p.write_bandwidth == 2048 && p.write_latency == 200,
		   "bad figures left out, good ones kept");
	(void)nodes;
	hms_topology_put(t);

	/* garbage in every file of the tree: still a topology */
	{
		char cmd[1024];

		snprintf(cmd, sizeof(cmd),
			 "find '%s' -type f -exec sh -c 'head -c 64 /dev/urandom > \"$1\"' _ {} \\;",
			 root);
		TOPO_CHECK(topo_run(cmd, NULL) == 0, "scramble");
		t = load();
		TOPO_CHECK(t && hms_topology_warning(t, 0), "warnings after scrambling");
		hms_topology_put(t);
		snprintf(cmd, sizeof(cmd), "find '%s' -type f -exec truncate -s 0 {} \\;", root);
		TOPO_CHECK(topo_run(cmd, NULL) == 0, "empty all");
		t = load();
		TOPO_CHECK(t && hms_topology_warning(t, 0), "warnings after emptying");
		hms_topology_put(t);
	}

	/* a root without sys/: one node assumed, said so */
	{
		char *empty = topo_tmpdir();

		TOPO_CHECK(hms_topology_load(empty, 0, &t) == 0, "empty root loads");
		TOPO_CHECK(topo_has_warning(t, "no NUMA node directory"), "empty root warned");
		hms_topology_put(t);
	}
	TOPO_CHECK(hms_topology_load("/nonexistent/hms", 0, &t) == -ENOENT, "missing root");
	TOPO_CHECK(hms_topology_load(root, 1, &t) == -EINVAL, "bad flags");
	TOPO_CHECK(hms_topology_load(root, 0, NULL) == -EINVAL, "NULL out");
	free(root);
	return topo_result();
}
