/* SPDX-License-Identifier: MIT */
/* place_util.c - shared helpers of the placement tests (place_util.h). */
#include <numaif.h>

#include "hms_test.h"
#include "place_util.h"

unsigned t_node_targets(struct hms *h, hms_uid *uids, int *nodes)
{
	struct hms_topology *t;
	const struct hms_object *o;
	unsigned n = 0;

	T_EQ(hms_topology_get(h, &t), 0);
	hms_topology_for_each(t, HMS_OBJECT_TARGET, o) {
		struct hms_target_info ti;
		unsigned k;

		if (hms_target_info(o, &ti) || ti.numa_node == HMS_NONE ||
		    ti.kind == HMS_TARGET_DEVICE_PRIVATE || ti.size == 0 || n == T_MAX_NODES)
			continue;
		for (k = n; k > 0 && nodes[k - 1] > ti.numa_node; k--) {
			nodes[k] = nodes[k - 1];
			uids[k] = uids[k - 1];
		}
		nodes[k] = ti.numa_node;
		uids[k] = hms_object_uid(o);
		n++;
	}
	hms_topology_put(t);
	return n;
}

void t_need_nodes(struct hms *h, unsigned n)
{
	hms_uid uids[T_MAX_NODES];
	int nodes[T_MAX_NODES];
	unsigned have = t_node_targets(h, uids, nodes);

	if (have < n) {
		hms_close(h);
		T_SKIP("needs %u NUMA nodes with memory, this machine has %u "
		       "(run tests/vm/run-vm-tests.sh)", n, have);
	}
}

int t_page_node(const void *addr)
{
	void *p = (void *)addr;
	int status = -1;

	if (move_pages(0, 1, &p, NULL, &status, 0))
		return -errno;
	return status;
}

void t_where_all(struct hms *h, const void *addr, size_t npages, hms_uid uid)
{
	hms_uid *w = calloc(npages, sizeof(*w));

	T_ASSERT(w);
	T_EQ(hms_where(h, addr, npages, w), npages);
	for (size_t i = 0; i < npages; i++)
		if (w[i] != uid)
			T_FAIL("page %zu: hms_where says target %u, expected %u", i, w[i], uid);
	free(w);
}

static unsigned char pat(size_t i, unsigned seed)
{
	uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ull + seed * 0x85ebca6bu;

	return (unsigned char)(x >> 31);
}

void t_pattern(void *p, size_t npages, unsigned seed)
{
	unsigned char *b = p;

	for (size_t i = 0; i < npages * T_PAGE; i++)
		b[i] = pat(i, seed);
}

void t_pattern_check(const void *p, size_t npages, unsigned seed)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < npages * T_PAGE; i++)
		if (b[i] != pat(i, seed))
			T_FAIL("byte %zu (page %zu): %u, expected %u", i, i / T_PAGE, b[i], pat(i, seed));
}
