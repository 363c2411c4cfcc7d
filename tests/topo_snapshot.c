/* SPDX-License-Identifier: MIT */
/*
 * topo_snapshot: a snapshot never changes while drivers add and remove
 * objects from other threads; its JSON is byte for byte the same, and a
 * later snapshot shows the changes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hms_driver.h>

#include "topo_util.h"

#define THREADS 4
#define ROUNDS 300

static struct hms *h;

static char *json_of(const struct hms_topology *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	hms_topology_write_json(t, f);
	fclose(f);
	return buf;
}

static void *driver(void *arg)
{
	long id = (long)arg;
	char name[32];

	for (int i = 0; i < ROUNDS; i++) {
		struct hms_target_desc td = { .name = name, .kind = HMS_TARGET_DEVICE_PRIVATE,
					      .numa_node = HMS_NONE, .size = 1 << 20,
					      .free = HMS_SIZE_UNKNOWN, .memory_tier = HMS_NONE };
		struct hms_initiator_desc id_ = { .name = name, .kind = HMS_INITIATOR_DEVICE,
						  .numa_node = HMS_NONE };
		hms_uid t, in, l;

		snprintf(name, sizeof(name), "dev%ld.%d", id, i);
		if (hms_target_add(h, &td, &t) || hms_initiator_add(h, &id_, &in))
			return (void *)1;
		struct hms_link_desc ld = { .name = name, .initiators = &in, .ninitiators = 1,
					    .targets = &t, .ntargets = 1,
					    .perf = { 1, 2, 3, 4 } };
		if (hms_link_add(h, &ld, &l))
			return (void *)1;
		if (i % 2 && hms_object_remove(h, t)) /* takes the link with it */
			return (void *)1;
	}
	return NULL;
}

int main(void)
{
	struct hms_options o = { .size = sizeof(o) };
	struct hms_topology *before, *after;
	pthread_t th[THREADS];
	char *j1, *j2, *root = topo_fixture_root("qemu-3node-memonly-hmat-k612");
	size_t n0;
	int err;

	o.sysfs_root = root;
	err = root ? hms_open(&h, &o) : -1;
	if (err) {
		printf("SKIP: hms_open: %d (%s)\n", err, hms_last_error());
		free(root);
		return TOPO_SKIP;
	}
	TOPO_CHECK(hms_topology_get(h, &before) == 0, "get");
	n0 = hms_topology_count(before, HMS_OBJECT_ANY);
	j1 = json_of(before);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, driver, (void *)i);
	for (int i = 0; i < 200; i++) { /* read while they write */
		struct hms_topology *mid;

		TOPO_CHECK(hms_topology_get(h, &mid) == 0, "get mid");
		TOPO_CHECK(hms_topology_count(mid, HMS_OBJECT_ANY) >= n0, "mid count");
		hms_topology_put(mid);
		TOPO_CHECK(hms_topology_count(before, HMS_OBJECT_ANY) == n0, "held snapshot changed");
	}
	for (int i = 0; i < THREADS; i++) {
		void *r;

		pthread_join(th[i], &r);
		TOPO_CHECK(r == NULL, "driver thread %d failed", i);
	}
	j2 = json_of(before);
	TOPO_CHECK(j1 && j2 && !strcmp(j1, j2), "held snapshot's JSON changed");
	TOPO_CHECK(hms_topology_get(h, &after) == 0, "get after");
	/* per thread: ROUNDS initiators, ROUNDS/2 targets and links survive */
	TOPO_CHECK(hms_topology_count(after, HMS_OBJECT_INITIATOR) ==
		   hms_topology_count(before, HMS_OBJECT_INITIATOR) + THREADS * ROUNDS,
		   "initiators after: %zu", hms_topology_count(after, HMS_OBJECT_INITIATOR));
	TOPO_CHECK(hms_topology_count(after, HMS_OBJECT_TARGET) ==
		   hms_topology_count(before, HMS_OBJECT_TARGET) + THREADS * ROUNDS / 2,
		   "targets after: %zu", hms_topology_count(after, HMS_OBJECT_TARGET));
	TOPO_CHECK(hms_topology_count(after, HMS_OBJECT_LINK) ==
		   hms_topology_count(before, HMS_OBJECT_LINK) + THREADS * ROUNDS / 2,
		   "links after: %zu", hms_topology_count(after, HMS_OBJECT_LINK));
	hms_close(h); /* snapshots outlive the context */
	TOPO_CHECK(hms_topology_count(before, HMS_OBJECT_ANY) == n0, "after close");
	hms_topology_put(before);
	hms_topology_put(after);
	free(j1);
	free(j2);
	free(root);
	return topo_result();
}
