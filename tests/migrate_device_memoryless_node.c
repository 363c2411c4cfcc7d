/* migrate_device_memoryless_node: on a machine of one NUMA node with
 * memory and a node of CPUs only numbered above it, hms_migrate to a
 * device moves every page with data.  libnuma's numa_max_node() is then
 * the node without memory: taken for the one node that holds the pages,
 * no page in system memory was found on it, and none moved.
 *
 * The node without memory is made up: in a mount namespace of its own
 * the test puts a tmpfs over /sys/devices/system/node holding the real
 * node (bound) and an empty one, then runs itself again (libnuma reads
 * the nodes when it is loaded).  SKIP without the privilege to do so
 * (root), or on a machine of several nodes with memory.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hms_test.h"
#include "place_util.h"

#define NP 32
#define NODES "/sys/devices/system/node"
#define ENV "HMS_TEST_MEMORYLESS_NODE"

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	T_ASSERT(f);
	T_ASSERT(fputs(text, f) >= 0);
	T_EQ(fclose(f), 0);
}

/* Node n+1 without memory next to node n, the only node with memory. */
static void fake_nodes(char **argv)
{
	char buf[64], path[256], list[64];
	FILE *f = fopen(NODES "/has_memory", "r");
	int n = -1, fd;
	struct stat st;

	if (!f || !fgets(buf, sizeof(buf), f) || sscanf(buf, "%d%63s", &n, list) != 1)
		T_SKIP("needs a machine of one NUMA node with memory");
	fclose(f);
	snprintf(path, sizeof(path), NODES "/node%d", n + 1);
	if (!stat(path, &st))
		T_SKIP("node %d exists", n + 1);
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		T_SKIP("no mount namespace of our own (%s): needs root", strerror(errno));
	/* Opened in our namespace (a bind takes no mount of another one),
	 * before the tmpfs hides it. */
	snprintf(path, sizeof(path), NODES "/node%d", n);
	fd = open(path, O_PATH | O_DIRECTORY);
	T_ASSERT(fd >= 0);
	if (mount("none", NODES, "tmpfs", 0, NULL))
		T_SKIP("tmpfs over " NODES ": %s", strerror(errno));
	snprintf(list, sizeof(list), "%d-%d\n", n, n + 1);
	put(NODES "/online", list);
	put(NODES "/possible", list);
	put(NODES "/has_cpu", list);
	snprintf(buf, sizeof(buf), "%d\n", n);
	put(NODES "/has_memory", buf);
	put(NODES "/has_normal_memory", buf);
	T_EQ(mkdir(path, 0755), 0);
	snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd);
	T_EQ(mount(buf, path, NULL, MS_BIND | MS_REC, NULL), 0);
	close(fd);
	snprintf(path, sizeof(path), NODES "/node%d", n + 1);
	T_EQ(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), NODES "/node%d/meminfo", n + 1);
	snprintf(buf, sizeof(buf), "Node %d MemTotal: 0 kB\nNode %d MemFree: 0 kB\n", n + 1, n + 1);
	put(path, buf);
	snprintf(path, sizeof(path), NODES "/node%d/cpulist", n + 1);
	put(path, "\n");
	snprintf(path, sizeof(path), NODES "/node%d/distance", n + 1);
	put(path, "20 10\n");
	T_EQ(setenv(ENV, "1", 1), 0);
	execv("/proc/self/exe", argv);
	T_FAIL("execv: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	struct hms *h;
	struct hms_softdev *d;
	hms_uid dev;
	char *p;

	(void)argc;
	if (!getenv(ENV))
		fake_nodes(argv);
	h = t_open();
	d = t_softdev(h, NP * T_PAGE);
	dev = hms_softdev_target(d);
	p = hms_alloc(h, NP * T_PAGE, 0);
	T_ASSERT(p);
	t_pattern(p, NP, 7);
	T_EQ(hms_migrate(h, p, NP * T_PAGE, &dev, 1, 0), NP);
	T_EQ(hms_softdev_pages_used(d), NP);
	t_where_all(h, p, NP, dev);
	t_pattern_check(p, NP, 7);
	hms_free(h, p, NP * T_PAGE);
	hms_close(h);
	return 0;
}
