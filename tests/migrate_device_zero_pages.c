/* migrate_device_zero_pages: hms_migrate to a device counts and moves the
 * pages that hold data and only those, whichever way hms finds out which
 * pages hold data (the page table's word on a machine of one node, a
 * move_pages() query elsewhere; HMS_ONE_NODE=0 runs the query here):
 *   - a page only read (the zero page: no data) does not move;
 *   - a page read, then written (its zero page replaced by a page of its
 *     own behind hms' back) moves, its bytes intact;
 *   - a page written moves; a page never touched does not;
 * and back on the node every byte reads as before.
 */
#include "hms_test.h"
#include "place_util.h"

#define NP 32

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, NP * T_PAGE);
	hms_uid dev = hms_softdev_target(d), node[T_MAX_NODES], where[NP];
	int nodes[T_MAX_NODES];
	unsigned nn = t_node_targets(h, node, nodes);
	volatile unsigned char *p = hms_alloc(h, NP * T_PAGE, 0);
	unsigned sum = 0;
	long want = 0;

	T_ASSERT(p && nn >= 1);
	/* Page i % 4: 0 only read, 1 read then written, 2 written, 3 untouched. */
	for (size_t i = 0; i < NP; i++) {
		volatile unsigned char *q = p + i * T_PAGE;

		switch (i % 4) {
		case 0:
			sum += q[100];
			break;
		case 1:
			sum += q[100];
			q[100] = (unsigned char)(i + 1);
			want++;
			break;
		case 2:
			q[100] = (unsigned char)(i + 1);
			want++;
			break;
		}
	}
	T_EQ(sum, 0u);
	T_EQ(hms_migrate(h, (void *)p, NP * T_PAGE, &dev, 1, 0), want);
	T_EQ(hms_where(h, (const void *)p, NP, where), NP);
	for (size_t i = 0; i < NP; i++) {
		if (i % 4 == 1 || i % 4 == 2)
			T_EQ(where[i], dev);
		else
			T_ASSERT(where[i] != dev);
	}
	T_EQ(hms_softdev_pages_used(d), (size_t)want);
	/* Back to the node: the pages with data, every byte as written. */
	T_EQ(hms_migrate(h, (void *)p, NP * T_PAGE, &node[0], 1, 0), want);
	T_EQ(hms_softdev_pages_used(d), 0);
	for (size_t i = 0; i < NP; i++)
		for (size_t b = 0; b < T_PAGE; b++) {
			unsigned char v = p[i * T_PAGE + b];
			unsigned char exp = (b == 100 && (i % 4 == 1 || i % 4 == 2))
						    ? (unsigned char)(i + 1)
						    : 0;

			if (v != exp)
				T_FAIL("page %zu byte %zu: %u, expected %u", i, b, v, exp);
		}
	hms_free(h, (void *)p, NP * T_PAGE);
	hms_close(h);
	return 0;
}
