/* SPDX-License-Identifier: MIT */
/*
 * placement.c - an application places its data by the topology: list the
 * memories of the machine and how well a device reaches each, pick the
 * best one for the device, bind half of a buffer to it, let hms move the
 * pages by that policy, and look where every page lives.  The device is
 * hms' software device; a GPU registered by its driver (hms_cuda_attach)
 * shows up and is used the same way.
 *
 *   cc placement.c $(pkg-config --cflags --libs hms)
 */
#include <stdio.h>
#include <string.h>

#include <hms.h>

#define LEN (4UL << 20)
#define PAGES (LEN / HMS_PAGE_SIZE)

static const char *kind_name(unsigned kind)
{
	static const char *const names[] = { "?", "DRAM", "HBM", "PMEM", "CXL",
					     "device (private)", "device (coherent)" };

	return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

/* How many pages of buf live on target (0: not populated). */
static size_t pages_on(struct hms *h, const char *buf, hms_uid target)
{
	static hms_uid where[PAGES];
	size_t n = 0;

	if (hms_where(h, buf, PAGES, where) != (long)PAGES)
		return 0;
	for (size_t i = 0; i < PAGES; i++)
		n += where[i] == target;
	return n;
}

int main(void)
{
	struct hms *h;
	struct hms_softdev *dev;
	struct hms_topology *t;
	const struct hms_object *o;
	struct hms_policy pol;
	hms_uid gpu, node = 0;
	long best, moved_there, moved_back;
	char *buf;
	size_t bad = 0;
	int ret;

	ret = hms_open(&h, NULL);
	if (!ret)
		ret = hms_softdev_create(h, NULL, &dev);
	if (!ret)
		ret = hms_topology_get(h, &t); /* a snapshot: it includes the device */
	if (ret) {
		fprintf(stderr, "setup: %s (%s)\n", strerror(-ret), hms_last_error());
		return 1;
	}

	/* 1. What memory is there, and how does the device reach it? */
	printf("1. memory targets, and the device's path to each:\n");
	hms_topology_for_each(t, HMS_OBJECT_TARGET, o) {
		struct hms_target_info ti;
		struct hms_perf perf;
		int bridges = hms_topology_path(t, hms_softdev_initiator(dev), hms_object_uid(o),
						&perf);

		if (hms_target_info(o, &ti))
			continue;
		if (ti.kind == HMS_TARGET_DRAM && !node)
			node = hms_object_uid(o); /* system memory to come back to */
		printf("   target %u %-16s %-17s %8llu MiB  ", (unsigned)hms_object_uid(o),
		       hms_object_name(o), kind_name(ti.kind),
		       ti.size == HMS_SIZE_UNKNOWN ? 0ULL : (unsigned long long)(ti.size >> 20));
		if (bridges < 0)
			printf("no path\n");
		else if (perf.read_bandwidth == HMS_PERF_UNKNOWN)
			printf("%d bridge(s), bandwidth unknown\n", bridges);
		else
			printf("%d bridge(s), %u MiB/s read\n", bridges, perf.read_bandwidth);
	}
	/* The device's best memory by bandwidth: its own, where the figures
	 * are known; otherwise take the device's memory by its uid. */
	best = hms_topology_best_target(t, hms_softdev_initiator(dev), HMS_ATTR_BANDWIDTH);
	gpu = best > 0 ? (hms_uid)best : hms_softdev_target(dev);
	printf("   best for the device by bandwidth: target %u%s\n", (unsigned)gpu,
	       best > 0 ? "" : " (no figures: its own memory)");
	hms_topology_put(t);
	if (!node) {
		fprintf(stderr, "no DRAM target in the topology\n");
		return 1;
	}

	/* 2. A buffer, written by the CPU: all of it in system memory. */
	buf = hms_alloc(h, LEN, 0);
	if (!buf) {
		fprintf(stderr, "hms_alloc failed\n");
		return 1;
	}
	for (size_t i = 0; i < LEN; i++)
		buf[i] = (char)(i * 7);
	printf("2. 4 MiB written by the CPU: %zu pages on target %u\n", pages_on(h, buf, node),
	       (unsigned)node);

	/* 3. Bind the second half to the device's memory, then move every
	 * page by its policy: the bound half goes, the rest stays. */
	ret = hms_bind(h, buf + LEN / 2, LEN / 2, &gpu, 1, 0);
	moved_there = ret ? ret : hms_migrate(h, buf, LEN, NULL, 0, HMS_MIGRATE_POLICY);
	if (!hms_policy_get(h, buf + LEN / 2, &pol))
		printf("3. policy of the second half: %u target(s), first %u, over %zu KiB\n",
		       pol.ntargets, (unsigned)pol.targets[0], (size_t)(pol.end - pol.start) >> 10);
	printf("   hms_migrate(HMS_MIGRATE_POLICY): %ld pages moved; %zu on the device, %zu on "
	       "target %u\n", moved_there, pages_on(h, buf, gpu), pages_on(h, buf, node),
	       (unsigned)node);
	bad += moved_there != (long)PAGES / 2 || pages_on(h, buf, gpu) != PAGES / 2;

	/* 4. And back to system memory; every byte is what the CPU wrote. */
	moved_back = hms_migrate(h, buf, LEN, &node, 1, 0);
	for (size_t i = 0; i < LEN; i++)
		bad += buf[i] != (char)(i * 7);
	printf("4. hms_migrate back: %ld pages moved, %zu on target %u; data %s\n", moved_back,
	       pages_on(h, buf, node), (unsigned)node, bad ? "WRONG" : "intact");
	bad += moved_back != (long)PAGES / 2 || pages_on(h, buf, node) != PAGES;

	hms_softdev_destroy(dev);
	hms_close(h);
	return bad ? 1 : 0;
}
