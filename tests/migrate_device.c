/* migrate_device: hms_migrate moves pages system -> softdev A -> softdev
 * B -> every system node -> A, with every byte intact and exact counts;
 * pages already on a listed target and never-populated pages count as
 * not moved; when A is full the rest go to the next listed target.
 */
#include "hms_test.h"
#include "place_util.h"

#define NP 64

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *da = t_softdev(h, NP * T_PAGE), *db = t_softdev(h, NP * T_PAGE);
	struct hms_softdev *small = t_softdev(h, 16 * T_PAGE);
	hms_uid a = hms_softdev_target(da), b = hms_softdev_target(db);
	hms_uid s = hms_softdev_target(small), node[T_MAX_NODES];
	int nodes[T_MAX_NODES];
	unsigned nn = t_node_targets(h, node, nodes);
	char *p = hms_alloc(h, (NP + 8) * T_PAGE, 0);

	T_ASSERT(p && nn >= 1);
	t_pattern(p, NP, 1); /* pages [NP, NP + 8) are never touched */

	T_EQ(hms_migrate(h, p, (NP + 8) * T_PAGE, &a, 1, 0), NP);
	t_where_all(h, p, NP, a);
	t_where_all(h, p + NP * T_PAGE, 8, 0);
	T_EQ(hms_softdev_pages_used(da), NP);
	/* Already there: nothing moves. */
	T_EQ(hms_migrate(h, p, NP * T_PAGE, &a, 1, 0), 0);

	/* Device to device, through system memory. */
	T_EQ(hms_migrate(h, p, NP * T_PAGE, &b, 1, 0), NP);
	t_where_all(h, p, NP, b);
	T_EQ(hms_softdev_pages_used(da), 0);
	T_EQ(hms_softdev_pages_used(db), NP);

	/* Device to each node, node to node, back to a device. */
	for (unsigned k = 0; k < nn; k++) {
		T_EQ(hms_migrate(h, p, NP * T_PAGE, &node[k], 1, 0), NP);
		t_where_all(h, p, NP, node[k]);
		T_EQ(t_page_node(p), nodes[k]);
		t_pattern_check(p, NP, 1);
		T_EQ(hms_migrate(h, p, NP * T_PAGE, &b, 1, 0), NP);
	}
	T_EQ(hms_softdev_pages_used(db), NP);

	/* A small device fills up: the rest go to the next target. */
	{
		hms_uid list[2] = { s, a };
		hms_uid w[NP];
		unsigned on_s = 0, on_a = 0;

		T_EQ(hms_migrate(h, p, NP * T_PAGE, list, 2, 0), NP);
		T_EQ(hms_where(h, p, NP, w), NP);
		for (unsigned i = 0; i < NP; i++) {
			on_s += w[i] == s;
			on_a += w[i] == a;
		}
		T_EQ(on_s, 16);
		T_EQ(on_a, NP - 16);
		/* Pages on any listed target stay. */
		T_EQ(hms_migrate(h, p, NP * T_PAGE, list, 2, 0), 0);
	}
	/* The CPU reads everything back, wherever it is. */
	t_pattern_check(p, NP, 1);
	T_EQ(t_count_loc(h, p, NP, HMS_LOC_SYSTEM), NP);
	hms_close(h);
	return 0;
}
