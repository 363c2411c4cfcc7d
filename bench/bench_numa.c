/* SPDX-License-Identifier: MIT */
/*
 * bench_numa.c - hms_migrate() of 4096 pages between two NUMA nodes
 * against raw move_pages() of the same pages, in the same run: each
 * repetition moves the buffer there and back once with each, so both see
 * both directions and the same pages.  Needs two nodes with memory (the
 * VM of tests/vm/); says so and does nothing on one.
 */
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "hms.h"

#define NPAGES 4096

static double gbps(size_t bytes, double secs)
{
	return secs > 0 ? (double)bytes / secs / 1e9 : 0;
}

/* The first two system-memory targets: uids and nodes. */
static int two_nodes(struct hms *h, hms_uid *uid, int *node)
{
	struct hms_topology *t;
	const struct hms_object *o;
	int n = 0;

	if (hms_topology_get(h, &t))
		return 0;
	hms_topology_for_each(t, HMS_OBJECT_TARGET, o) {
		struct hms_target_info ti;

		if (n < 2 && hms_target_info(o, &ti) == 0 && ti.numa_node != HMS_NONE &&
		    ti.kind != HMS_TARGET_DEVICE_PRIVATE && ti.size) {
			uid[n] = hms_object_uid(o);
			node[n++] = ti.numa_node;
		}
	}
	hms_topology_put(t);
	return n;
}

static double raw_move(void **pages, int *nodes, int *status, int node)
{
	double t0 = bench_now();

	for (int i = 0; i < NPAGES; i++)
		nodes[i] = node;
	if (move_pages(0, NPAGES, pages, nodes, status, MPOL_MF_MOVE) < 0)
		return -1;
	return bench_now() - t0;
}

static unsigned long short_moves; /* pages hms_migrate left behind */

static double hms_move(struct hms *h, char *p, hms_uid to)
{
	double t0 = bench_now();
	long n = hms_migrate(h, p, (size_t)NPAGES * HMS_PAGE_SIZE, &to, 1, 0);

	if (n < 0)
		return -1;
	short_moves += NPAGES - (unsigned long)n;
	return bench_now() - t0;
}

int bench_numa(const struct bench_opts *o)
{
	size_t bytes = (size_t)NPAGES * HMS_PAGE_SIZE;
	unsigned reps = o->reps ? o->reps : 5;
	double *hv = calloc(2 * reps, sizeof(double)), *rv = calloc(2 * reps, sizeof(double));
	void **pages = calloc(NPAGES, sizeof(void *));
	int *nodes = calloc(NPAGES, sizeof(int)), *status = calloc(NPAGES, sizeof(int));
	hms_uid uid[2];
	int node[2], ret = 1;
	struct hms *h;
	char *p = NULL, params[96];

	if (!hv || !rv || !pages || !nodes || !status || hms_open(&h, NULL)) {
		fprintf(stderr, "hms bench numa: setup failed\n");
		goto out_free;
	}
	if (two_nodes(h, uid, node) < 2) {
		bench_skip(o, "numa", "needs two NUMA nodes with memory "
			   "(tests/vm/run-vm-tests.sh runs it on three)");
		ret = 0;
		goto out;
	}
	p = hms_alloc(h, bytes, 0);
	if (!p || hms_migrate(h, p, bytes, &uid[0], 1, 0) < 0)
		goto out;
	memset(p, 5, bytes);
	if (hms_migrate(h, p, bytes, &uid[0], 1, 0) < 0)
		goto out;
	for (int i = 0; i < NPAGES; i++)
		pages[i] = p + (size_t)i * HMS_PAGE_SIZE;
	/* Round 0 warms up; then node0 -> node1 -> node0 with each. */
	for (unsigned r = 0; r <= reps; r++) {
		double a = hms_move(h, p, uid[1]);
		double b = raw_move(pages, nodes, status, node[0]);
		double c = raw_move(pages, nodes, status, node[1]);
		double d = hms_move(h, p, uid[0]);

		if (a < 0 || b < 0 || c < 0 || d < 0) {
			fprintf(stderr, "hms bench numa: a migration failed\n");
			goto out;
		}
		if (!r)
			continue;
		hv[2 * (r - 1)] = gbps(bytes, a);
		hv[2 * (r - 1) + 1] = gbps(bytes, d);
		rv[2 * (r - 1)] = gbps(bytes, c);
		rv[2 * (r - 1) + 1] = gbps(bytes, b);
	}
	snprintf(params, sizeof(params), "%d pages between node %d and node %d, both ways",
		 NPAGES, node[0], node[1]);
	bench_report(o, "numa", "hms_migrate node -> node", bench_stats(hv, 2 * reps),
		     "move_pages", bench_stats(rv, 2 * reps), "GB/s", true, 1.0, params);
	if (short_moves && !o->json)
		printf("           (%lu page moves of hms_migrate did not happen: busy pages)\n",
		       short_moves);
	ret = 0;
out:
	hms_close(h);
out_free:
	free(hv);
	free(rv);
	free(pages);
	free(nodes);
	free(status);
	return ret;
}
