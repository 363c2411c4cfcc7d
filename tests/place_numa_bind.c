/* place_numa_bind: the CPU's first touch of a range bound to a NUMA node
 * (strict, and preferred) lands on that node, for every node with memory
 * (memory-only nodes included); a page bound to [device, node] that the
 * device placed and the CPU then touches comes back onto that node.
 * Needs two nodes (the VM of tests/vm/ has three): SKIP otherwise.
 */
#include "hms_test.h"
#include "place_util.h"

#define NP 16

static void first_touch(struct hms *h, hms_uid uid, int node, unsigned flags)
{
	char *p = hms_alloc(h, NP * T_PAGE, 0);

	T_ASSERT(p);
	T_EQ(hms_bind(h, p, NP * T_PAGE, &uid, 1, flags), 0);
	t_pattern(p, NP, (unsigned)node);
	for (int i = 0; i < NP; i++)
		if (t_page_node(p + i * T_PAGE) != node)
			T_FAIL("node %d%s: page %d landed on node %d", node,
			       flags ? " (preferred)" : "", i, t_page_node(p + i * T_PAGE));
	t_where_all(h, p, NP, uid);
	t_pattern_check(p, NP, (unsigned)node);
	T_EQ(hms_free(h, p, NP * T_PAGE), 0);
}

static void device_then_cpu(struct hms *h, struct hms_softdev *d, hms_uid uid, int node)
{
	hms_uid list[2] = { hms_softdev_target(d), uid };
	char *p = hms_alloc(h, NP * T_PAGE, 0), *buf = malloc(NP * T_PAGE);
	struct hms_softdev_cmd c;

	T_ASSERT(p && buf);
	T_EQ(hms_bind(h, p, NP * T_PAGE, list, 2, 0), 0);
	t_pattern(buf, NP, 9);
	T_EQ(t_cmd(d, hms_softdev_write, p, buf, NP, &c), 0);
	t_where_all(h, p, NP, list[0]);
	t_pattern_check(p, NP, 9); /* CPU touch: back, onto the bound node */
	for (int i = 0; i < NP; i++)
		T_EQ(t_page_node(p + i * T_PAGE), node);
	T_EQ(hms_free(h, p, NP * T_PAGE), 0);
	free(buf);
}

int main(void)
{
	struct hms *h = t_open();
	hms_uid uid[T_MAX_NODES];
	int node[T_MAX_NODES];
	unsigned n;
	struct hms_softdev *d;

	t_need_nodes(h, 2);
	n = t_node_targets(h, uid, node);
	d = t_softdev(h, 1 << 20);
	for (unsigned k = 0; k < n; k++) {
		first_touch(h, uid[k], node[k], 0);
		first_touch(h, uid[k], node[k], HMS_BIND_PREFERRED);
		device_then_cpu(h, d, uid[k], node[k]);
	}
	printf("placement by policy checked on %u nodes\n", n);
	hms_close(h);
	return 0;
}
