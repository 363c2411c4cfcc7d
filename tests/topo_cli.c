/* SPDX-License-Identifier: MIT */
/*
 * topo_cli: `hms topo` exit codes (0 ok, 1 error, 2 usage), the tree,
 * --dot, --matrix, --warnings and the --sysfs tree layout
 * (v<version>-<uid>-<type> directories, attributes, symlinks).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "topo_util.h"

static const char *tool;

static int run(const char *args, char **out)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "'%s' topo %s", tool, args);
	return topo_run(cmd, out);
}

int main(void)
{
	char *root = topo_fixture_root("qemu-3node-memonly-hmat-k612"), *out = NULL;
	char args[1024], path[1024], *dir = topo_tmpdir(), *s;

	tool = getenv("HMS_TOOL");
	if (!tool || !root || !dir) {
		fprintf(stderr, "HMS_TOOL / fixtures missing\n");
		return 1;
	}
	TOPO_CHECK(run("--help", NULL) == 0, "--help exits 0");
	TOPO_CHECK(run("--bogus 2>/dev/null", NULL) == 2, "unknown option exits 2");
	TOPO_CHECK(run("--json --dot 2>/dev/null", NULL) == 2, "two formats exit 2");
	TOPO_CHECK(run("--softdev x 2>/dev/null", NULL) == 2, "bad number exits 2");
	TOPO_CHECK(run("--root /nonexistent/hms 2>/dev/null", NULL) == 1, "bad root exits 1");

	snprintf(args, sizeof(args), "--root '%s'", root);
	TOPO_CHECK(run(args, &out) == 0, "tree");
	TOPO_CHECK(out && strstr(out, "Target#3 node2 (DRAM node=2") &&
		   strstr(out, "MemCache L1 (size=16MiB") && strstr(out, "tier=900"), "tree text:\n%s", out);
	free(out);

	snprintf(args, sizeof(args), "--dot --root '%s'", root);
	TOPO_CHECK(run(args, &out) == 0 && out && !strncmp(out, "digraph hms_topology {", 22) &&
		   strstr(out, "shape=cylinder"), "dot");
	free(out);

	snprintf(args, sizeof(args), "--matrix --root '%s'", root);
	TOPO_CHECK(run(args, &out) == 0 && out && strstr(out, "2048 / 200") && strstr(out, "? / ?"),
		   "matrix:\n%s", out);
	free(out);

	/* warnings go to stderr only when asked (a root with an empty sys/:
	 * the tool refuses one with neither sys/ nor proc/, cli_bad_input) */
	snprintf(path, sizeof(path), "%s/sys", dir);
	TOPO_CHECK(mkdir(path, 0755) == 0, "mkdir %s", path);
	snprintf(args, sizeof(args), "--root '%s' --warnings 2>&1 >/dev/null", dir);
	TOPO_CHECK(run(args, &out) == 0 && out && strstr(out, "warning: sys/devices/system/node"),
		   "--warnings");
	free(out);
	snprintf(args, sizeof(args), "--root '%s' 2>&1 >/dev/null", dir);
	TOPO_CHECK(run(args, &out) == 0 && out && !*out, "silent without --warnings");
	free(out);

	snprintf(args, sizeof(args), "--root '%s' --sysfs '%s/tree'", root, dir);
	TOPO_CHECK(run(args, NULL) == 0, "--sysfs");
	snprintf(path, sizeof(path), "%s/tree/v1-3-target/kind", dir);
	s = topo_read_file(path);
	TOPO_CHECK(s && !strcmp(s, "dram\n"), "target kind file");
	free(s);
	snprintf(path, sizeof(path), "%s/tree/v1-8-link/read_bandwidth", dir);
	s = topo_read_file(path);
	TOPO_CHECK(s && !strcmp(s, "2048\n"), "link bandwidth file");
	free(s);
	snprintf(path, sizeof(path), "%s/tree/v1-9-link/read_bandwidth", dir);
	s = topo_read_file(path);
	TOPO_CHECK(s && !strcmp(s, "unknown\n"), "unknown figure file");
	free(s);
	snprintf(path, sizeof(path), "%s/tree/v1-8-link/target3/name", dir);
	s = topo_read_file(path);
	TOPO_CHECK(s && !strcmp(s, "node2\n"), "symlink link -> target");
	free(s);
	snprintf(path, sizeof(path), "%s/tree/v1-8-link/initiator4/cpus", dir);
	s = topo_read_file(path);
	TOPO_CHECK(s && !strcmp(s, "0\n"), "symlink link -> initiator");
	free(s);
	snprintf(args, sizeof(args), "--root '%s' --sysfs '%s/tree' 2>/dev/null", root, dir);
	TOPO_CHECK(run(args, NULL) == 1, "--sysfs into an existing tree exits 1");
	free(root);
	return topo_result();
}
