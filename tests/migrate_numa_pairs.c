/* migrate_numa_pairs: hms_migrate moves populated pages between every
 * ordered pair of NUMA nodes with batched move_pages: every page moves
 * (exact count), lands on the target node, keeps every byte, and a second
 * call moves nothing.  Needs two nodes (the VM has three): SKIP otherwise.
 */
#include "hms_test.h"
#include "place_util.h"

#define NP 600 /* more than one batch */

int main(void)
{
	struct hms *h = t_open();
	hms_uid uid[T_MAX_NODES];
	int node[T_MAX_NODES];
	unsigned n;
	char *p;

	t_need_nodes(h, 2);
	n = t_node_targets(h, uid, node);
	p = hms_alloc(h, (NP + 4) * T_PAGE, 0);
	T_ASSERT(p);
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < n; j++) {
			if (i == j)
				continue;
			t_pattern(p, NP, i * 16 + j);
			hms_migrate(h, p, NP * T_PAGE, &uid[i], 1, 0);
			t_where_all(h, p, NP, uid[i]);
			T_EQ(hms_migrate(h, p, (NP + 4) * T_PAGE, &uid[j], 1, 0), NP);
			t_where_all(h, p, NP, uid[j]);
			for (unsigned k = 0; k < NP; k += 37)
				T_EQ(t_page_node(p + k * T_PAGE), node[j]);
			t_pattern_check(p, NP, i * 16 + j);
			T_EQ(hms_migrate(h, p, NP * T_PAGE, &uid[j], 1, 0), 0);
		}
	printf("%u ordered node pairs\n", n * (n - 1));
	hms_close(h);
	return 0;
}
