/* place_numa_several: a CPU's first touch of a range bound to several
 * NUMA nodes, strict or preferred, lands on the listed nodes only, from
 * whichever CPU it comes (which of them is the kernel's choice: the one
 * nearest to the CPU of hms' fault handler thread, hms_bind(3)).  Lists
 * the two highest nodes, so that the lowest, the nearest to some CPUs,
 * is not among them.  Needs three nodes (the VM of tests/vm/): SKIP
 * otherwise.
 */
#include <sched.h>
#include <unistd.h>

#include "hms_test.h"
#include "place_util.h"

#define NP 32

int main(void)
{
	struct hms *h = t_open();
	hms_uid uid[T_MAX_NODES];
	int node[T_MAX_NODES];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	t_need_nodes(h, 3);
	t_node_targets(h, uid, node);
	for (long cpu = 0; cpu < ncpu && cpu < 4; cpu++) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET((int)cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			continue;
		for (unsigned flags = 0; flags <= HMS_BIND_PREFERRED; flags += HMS_BIND_PREFERRED) {
			hms_uid list[2] = { uid[2], uid[1] };
			char *p = hms_alloc(h, NP * T_PAGE, 0);

			T_ASSERT(p);
			T_EQ(hms_bind(h, p, NP * T_PAGE, list, 2, flags), 0);
			t_pattern(p, NP, (unsigned)cpu);
			for (int i = 0; i < NP; i++) {
				int n = t_page_node(p + i * T_PAGE);

				if (n != node[1] && n != node[2])
					T_FAIL("cpu %ld%s: page %d on node %d, not a listed one (%d, %d)",
					       cpu, flags ? " (preferred)" : "", i, n, node[2], node[1]);
			}
			t_pattern_check(p, NP, (unsigned)cpu);
			T_EQ(hms_free(h, p, NP * T_PAGE), 0);
		}
	}
	hms_close(h);
	return 0;
}
