/* numa_nodes: a page moves between every pair of NUMA nodes with its data intact.
 *
 * Proves the machine (in practice: the 3-node VM of tests/vm/) gives the
 * NUMA facts the library's placement tests rely on, before those exist:
 *   - with fewer than 2 memory nodes: SKIP (nothing to move between);
 *   - for every ordered pair (src, dst) of memory nodes, pages placed on src
 *     by mbind(MPOL_BIND) are there (move_pages query), move_pages() moves
 *     them to dst, they are then reported on dst, and every byte is intact;
 *   - with HMS_IN_VM=1 (set by tests/vm/run-vm-tests.sh): nodes 0 and 1
 *     have CPUs, node 2 has memory and no CPU, and the HMAT figures of
 *     node 2 are exported (node2/access0/initiators/read_latency).
 * Exit 0 pass, 1 fail, 77 skip.
 */
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NPAGES 8 /* pages moved per pair: one batch, not only one page */

static int failures;

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
			failures++;                                       \
		}                                                         \
	} while (0)

/* The byte at offset i of the page set moved from src to dst. */
static unsigned char pattern(int src, int dst, size_t i)
{
	uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ull + (uint64_t)src * 131 + (uint64_t)dst * 7;
	return (unsigned char)(x >> 29);
}

/* Node of each page (move_pages query mode); 0 or the count of errors. */
static int query_nodes(void **pages, int n, int *status)
{
	for (int i = 0; i < n; i++)
		status[i] = -1;
	if (move_pages(0, (unsigned long)n, pages, NULL, status, 0) != 0) {
		fprintf(stderr, "move_pages(query): %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

/* Place NPAGES on src, move them to dst, check placement and bytes. */
static void move_pair(int src, int dst, long psz)
{
	size_t len = (size_t)psz * NPAGES;
	unsigned char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *pages[NPAGES];
	int nodes[NPAGES], status[NPAGES];
	unsigned long mask = 1ul << src;

	CHECK(buf != MAP_FAILED, "mmap: %s", strerror(errno));
	if (buf == MAP_FAILED)
		return;
	CHECK(mbind(buf, len, MPOL_BIND, &mask, sizeof(mask) * 8, 0) == 0,
	      "mbind(node %d): %s", src, strerror(errno));
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(src, dst, i);
	for (int i = 0; i < NPAGES; i++) {
		pages[i] = buf + (size_t)i * (size_t)psz;
		nodes[i] = dst;
	}

	if (query_nodes(pages, NPAGES, status) == 0)
		for (int i = 0; i < NPAGES; i++)
			CHECK(status[i] == src, "%d->%d: page %d first placed on %d, not %d",
			      src, dst, i, status[i], src);

	/* The bind to src would pull pages back: the range follows dst now. */
	mask = 1ul << dst;
	CHECK(mbind(buf, len, MPOL_BIND, &mask, sizeof(mask) * 8, 0) == 0,
	      "mbind(node %d): %s", dst, strerror(errno));
	long rc = move_pages(0, NPAGES, pages, nodes, status, MPOL_MF_MOVE);
	CHECK(rc == 0, "%d->%d: move_pages returned %ld (%s)", src, dst, rc,
	      rc < 0 ? strerror(errno) : "pages not moved");
	for (int i = 0; i < NPAGES; i++)
		CHECK(status[i] == dst, "%d->%d: page %d: move status %d", src, dst, i, status[i]);

	if (query_nodes(pages, NPAGES, status) == 0)
		for (int i = 0; i < NPAGES; i++)
			CHECK(status[i] == dst, "%d->%d: page %d is on %d after the move",
			      src, dst, i, status[i]);

	size_t bad = 0, first_bad = 0;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != pattern(src, dst, i) && bad++ == 0)
			first_bad = i;
	CHECK(bad == 0, "%d->%d: %zu bytes changed by the move, the first at offset %zu",
	      src, dst, bad, first_bad);
	munmap(buf, len);
}

static int read_file_ok(const char *path)
{
	char buf[64];
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	int ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	return ok;
}

/* The layout tests/vm/run-vm-tests.sh boots: 0 and 1 with CPUs, 2 memory-only + HMAT. */
static void check_vm_layout(void)
{
	struct bitmask *cpus = numa_allocate_cpumask();

	CHECK(numa_max_node() == 2, "VM: highest node is %d, expected 2", numa_max_node());
	for (int n = 0; n <= 2 && n <= numa_max_node(); n++) {
		long long size = numa_node_size64(n, NULL);
		CHECK(size > 0, "VM: node %d has no memory", n);
		CHECK(numa_node_to_cpus(n, cpus) == 0, "VM: cpus of node %d: %s", n, strerror(errno));
		unsigned int ncpu = numa_bitmask_weight(cpus);
		if (n < 2)
			CHECK(ncpu > 0, "VM: node %d has no CPU", n);
		else
			CHECK(ncpu == 0, "VM: node 2 has %u CPUs, expected memory-only", ncpu);
		printf("node %d: %lld MiB, %u CPUs\n", n, size >> 20, ncpu);
	}
	CHECK(read_file_ok("/sys/devices/system/node/node2/access0/initiators/read_latency"),
	      "VM: node 2 exports no HMAT access figures");
	numa_free_cpumask(cpus);
}

int main(void)
{
	int in_vm = getenv("HMS_IN_VM") && strcmp(getenv("HMS_IN_VM"), "1") == 0;
	long psz = sysconf(_SC_PAGESIZE);

	if (numa_available() < 0) {
		if (in_vm) {
			fprintf(stderr, "FAIL: HMS_IN_VM=1 but the kernel has no NUMA support\n");
			return 1;
		}
		printf("SKIP: no NUMA support in this kernel\n");
		return 77;
	}

	int mem_nodes[64], n = 0;
	for (int i = 0; i <= numa_max_node() && n < 64; i++)
		if (numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned)i) &&
		    numa_node_size64(i, NULL) > 0)
			mem_nodes[n++] = i;

	if (in_vm)
		check_vm_layout();
	if (n < 2) {
		if (in_vm) {
			fprintf(stderr, "FAIL: HMS_IN_VM=1 but only %d NUMA node(s) with memory\n", n);
			return 1;
		}
		printf("SKIP: only %d NUMA node(s) with memory, nothing to move pages between "
		       "(tests/vm/run-vm-tests.sh runs this on 3 nodes)\n", n);
		return 77;
	}
	if (numa_max_node() >= (int)(sizeof(unsigned long) * 8)) {
		printf("SKIP: node ids above %zu are not handled by this test\n",
		       sizeof(unsigned long) * 8 - 1);
		return 77;
	}

	int pairs = 0;
	for (int a = 0; a < n; a++)
		for (int b = 0; b < n; b++)
			if (a != b) {
				move_pair(mem_nodes[a], mem_nodes[b], psz);
				pairs++;
			}
	printf("%d memory nodes, %d ordered pairs x %d pages moved: %s\n", n, pairs, NPAGES,
	       failures ? "FAILED" : "data intact");
	return failures ? 1 : 0;
}
