/* SPDX-License-Identifier: MIT */
/*
 * bind_cli: `hms bind --target T -- COMMAND` runs COMMAND with the kernel
 * memory policy MPOL_BIND on T's node (MPOL_PREFERRED with --preferred),
 * T being the uid or the name `hms topo` prints for a target, as
 * get_mempolicy(2) in COMMAND (this program again, as --policy) and in
 * its children reads it, and the pages COMMAND touches land on that node
 * (--touch); with two nodes (the NUMA VM), both are in the mask, with
 * --preferred as MPOL_PREFERRED_MANY, and a bind to the other node puts
 * the pages there; `hms bind --show` names the policy and its
 * targets.  The command's exit status comes back; not found is 127, not
 * executable 126 (as env); device memory (softdev0), an unknown target or
 * the uid of an initiator exit 1 with a message naming it.
 */
#include <numaif.h>
#include <stdio.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "topo_util.h"

static const char *tool;
static char self[1024], errpath[1024];
static char *out, *err;

/* As --policy: "mode M nodes N,N..." of get_mempolicy(2). */
static int print_policy(void)
{
	unsigned long mask[16] = { 0 };
	const char *sep = "";
	int mode;

	if (get_mempolicy(&mode, mask, 16 * 64 + 1, NULL, 0)) {
		perror("get_mempolicy");
		return 1;
	}
	printf("mode %d nodes ", mode);
	for (int n = 0; n < 16 * 64; n++)
		if (mask[n / 64] & (1UL << (n % 64))) {
			printf("%s%d", sep, n);
			sep = ",";
		}
	printf("\n");
	return 0;
}

/* As --touch: maps and touches TOUCH_PAGES pages, then prints "pages
 * N,N,..." (the node of each distinct run, from get_mempolicy(2) with
 * MPOL_F_NODE | MPOL_F_ADDR) and "count C" (how many pages were asked). */
#define TOUCH_PAGES 256

static int touch_pages(void)
{
	long psz = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, TOUCH_PAGES * psz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int last = -2, count = 0;

	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(p, 1, TOUCH_PAGES * psz);
	printf("pages ");
	for (int i = 0; i < TOUCH_PAGES; i++, count++) {
		int node = -1;

		if (get_mempolicy(&node, NULL, 0, p + i * psz, MPOL_F_NODE | MPOL_F_ADDR)) {
			perror("get_mempolicy");
			return 1;
		}
		if (node != last)
			printf("%s%d", last == -2 ? "" : ",", node);
		last = node;
	}
	printf("\ncount %d\n", count);
	return 0;
}

/* `hms ARGS` in the shell: exit status, stdout in out, stderr in err. */
static int hms(const char *args)
{
	char cmd[4096];
	int st;

	free(out);
	free(err);
	out = err = NULL;
	snprintf(cmd, sizeof(cmd), "'%s' %s 2>'%s'", tool, args, errpath);
	st = topo_run(cmd, &out);
	err = topo_read_file(errpath);
	if (!out)
		out = strdup("");
	if (!err)
		err = strdup("");
	return st;
}

static void fails(int want, const char *args, const char *msg)
{
	int st = hms(args);

	TOPO_CHECK(st == want && strstr(err, msg) && !strstr(err, "Sanitizer"),
		   "hms %s: exit %d (want %d), stderr should hold \"%s\":\n%s", args, st, want,
		   msg, err);
}

int main(int argc, char **argv)
{
	const struct hms_object *o, *node = NULL, *cpu = NULL, *other = NULL;
	struct hms_topology *t;
	struct hms_target_info ti;
	char args[4096], want[256], *dir;
	ssize_t n;

	if (argc > 1 && !strcmp(argv[1], "--policy"))
		return print_policy();
	if (argc > 1 && !strcmp(argv[1], "--touch"))
		return touch_pages();
	tool = getenv("HMS_TOOL");
	dir = topo_tmpdir();
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (!tool || !dir || n <= 0) {
		fprintf(stderr, "HMS_TOOL, a temporary directory or /proc/self/exe missing\n");
		return 1;
	}
	self[n] = 0;
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	if (hms_topology_load(NULL, 0, &t)) {
		fprintf(stderr, "hms_topology_load failed\n");
		return 1;
	}
	/* node: the last target with a NUMA node (in the NUMA VM not node 0,
	 * where pages would land anyway); other: another one */
	hms_topology_for_each(t, HMS_OBJECT_TARGET, o)
		if (!hms_target_info(o, &ti) && ti.numa_node >= 0) {
			other = node;
			node = o;
		}
	hms_topology_for_each(t, HMS_OBJECT_INITIATOR, o)
		cpu = cpu ? cpu : o;
	if (!node || !cpu) {
		fprintf(stderr, "no target with a NUMA node, or no initiator\n");
		return 1;
	}
	hms_target_info(node, &ti);
	printf("target %s#%u, node %d\n", hms_object_name(node), hms_object_uid(node),
	       ti.numa_node);

	/* by name, by uid, twice; --target=; a child of the command inherits */
	snprintf(want, sizeof(want), "mode %d nodes %d\n", MPOL_BIND, ti.numa_node);
	snprintf(args, sizeof(args), "bind --target %s -- '%s' --policy", hms_object_name(node),
		 self);
	TOPO_CHECK(hms(args) == 0 && !strcmp(out, want), "%s: %s%s (want %s)", args, out, err,
		   want);
	snprintf(args, sizeof(args), "bind --target=%u '%s' --policy", hms_object_uid(node), self);
	TOPO_CHECK(hms(args) == 0 && !strcmp(out, want), "%s: %s%s (want %s)", args, out, err,
		   want);
	snprintf(args, sizeof(args), "bind --target %s,%u -- sh -c \"'%s' --policy\"",
		 hms_object_name(node), hms_object_uid(node), self);
	TOPO_CHECK(hms(args) == 0 && !strcmp(out, want), "%s: %s%s (want %s)", args, out, err,
		   want);
	/* --preferred */
	snprintf(want, sizeof(want), "mode %d nodes %d\n", MPOL_PREFERRED, ti.numa_node);
	snprintf(args, sizeof(args), "bind --preferred --target %s '%s' --policy",
		 hms_object_name(node), self);
	TOPO_CHECK(hms(args) == 0 && !strcmp(out, want), "%s: %s%s (want %s)", args, out, err,
		   want);
	/* the command's pages land on the node */
	snprintf(want, sizeof(want), "pages %d\ncount %d\n", ti.numa_node, TOUCH_PAGES);
	snprintf(args, sizeof(args), "bind --target %s '%s' --touch", hms_object_name(node), self);
	TOPO_CHECK(hms(args) == 0 && !strcmp(out, want), "%s: %s%s (want %s)", args, out, err,
		   want);
	if (other) {
		/* two nodes: both in the mask; --preferred is PREFERRED_MANY */
		struct hms_target_info oi;
		int lo, hi;

		hms_target_info(other, &oi);
		lo = oi.numa_node < ti.numa_node ? oi.numa_node : ti.numa_node;
		hi = oi.numa_node < ti.numa_node ? ti.numa_node : oi.numa_node;
		snprintf(want, sizeof(want), "mode %d nodes %d,%d\n", MPOL_BIND, lo, hi);
		snprintf(args, sizeof(args), "bind --target %s,%s '%s' --policy",
			 hms_object_name(node), hms_object_name(other), self);
		TOPO_CHECK(hms(args) == 0 && !strcmp(out, want), "%s: %s%s (want %s)", args, out,
			   err, want);
		snprintf(want, sizeof(want), "mode %d nodes %d,%d\n", 5 /* PREFERRED_MANY */, lo,
			 hi);
		snprintf(args, sizeof(args), "bind --preferred --target %s,%s '%s' --policy",
			 hms_object_name(node), hms_object_name(other), self);
		TOPO_CHECK(hms(args) == 0 && !strcmp(out, want), "%s: %s%s (want %s)", args, out,
			   err, want);
		/* and the other node's pages land there, not on the first's */
		snprintf(want, sizeof(want), "pages %d\ncount %d\n", oi.numa_node, TOUCH_PAGES);
		snprintf(args, sizeof(args), "bind --target %u '%s' --touch", hms_object_uid(other),
			 self);
		TOPO_CHECK(hms(args) == 0 && !strcmp(out, want), "%s: %s%s (want %s)", args, out,
			   err, want);
	} else {
		printf("two-node checks: SKIP (one NUMA node here; the NUMA VM runs them)\n");
	}

	/* without hms bind: the default policy, so the above is hms bind's doing */
	snprintf(args, sizeof(args), "'%s' --policy", self);
	free(out);
	out = NULL;
	TOPO_CHECK(topo_run(args, &out) == 0 && !strncmp(out, "mode 0 ", 7),
		   "no policy here already: %s", out);

	/* --show, outside and inside */
	TOPO_CHECK(hms("bind --show") == 0 && strstr(out, "policy: default\n"),
		   "bind --show: %s%s", out, err);
	snprintf(args, sizeof(args), "bind --target %u -- '%s' bind --show", hms_object_uid(node),
		 tool);
	snprintf(want, sizeof(want), "policy: bind\ntargets: %s#%u\n", hms_object_name(node),
		 hms_object_uid(node));
	TOPO_CHECK(hms(args) == 0 && !strcmp(out, want), "%s: %s%s (want %s)", args, out, err,
		   want);

	/* exit statuses: the command's, 127, 126 */
	snprintf(args, sizeof(args), "bind --target %u -- sh -c 'exit 3'", hms_object_uid(node));
	TOPO_CHECK(hms(args) == 3, "%s: exit 3 expected\n%s", args, err);
	snprintf(args, sizeof(args), "bind --target %u -- nosuch-hms-command",
		 hms_object_uid(node));
	fails(127, args, "hms bind: 'nosuch-hms-command': No such file or directory");
	snprintf(want, sizeof(want), "%s/not-executable", dir);
	TOPO_CHECK(!topo_write_file(want, "true\n"), "write %s", want);
	snprintf(args, sizeof(args), "bind --target %u '%s'", hms_object_uid(node), want);
	fails(126, args, "Permission denied");

	/* refused targets */
	fails(1, "bind --target softdev0 true", "hms bind: --target softdev0: device memory");
	TOPO_CHECK(strstr(err, "only such a program can place pages there (hms_bind(3))"),
		   "device memory: %s", err);
	fails(1, "bind --target cuda0 true", "hms bind: --target cuda0: device memory");
	fails(1, "bind --target nosuch-target true", "hms bind: --target nosuch-target: no such");
	snprintf(args, sizeof(args), "bind --target %s,%u true", hms_object_name(node),
		 hms_object_uid(cpu));
	snprintf(want, sizeof(want), "hms bind: --target %u: %s#%u is not a target",
		 hms_object_uid(cpu), hms_object_name(cpu), hms_object_uid(cpu));
	fails(1, args, want);
	fails(1, "bind --target 4000000000 true", "hms bind: --target 4000000000: no such");

	hms_topology_put(t);
	free(out);
	free(err);
	return topo_result();
}
