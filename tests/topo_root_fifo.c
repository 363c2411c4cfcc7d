/* SPDX-License-Identifier: MIT */
/*
 * topo_root_fifo: a captured tree is any directory the user names, and
 * reading it must never block.  A FIFO (or a terminal, a socket) where
 * sysfs has a regular file used to hang `hms topo --root` in open(2) for
 * ever; now that file is left out with a warning that names it, as any
 * unreadable file is, and the rest of the topology is shown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "topo_util.h"

int main(void)
{
	char *src = topo_fixture_root("qemu-2node-hmat"), *root, *out = NULL;
	const char *tool = getenv("HMS_TOOL");
	char path[1024], cmd[4096];
	int st;

	if (!tool || !src) {
		fprintf(stderr, "HMS_TOOL / fixtures missing\n");
		return 1;
	}
	root = topo_copy_tree(src);
	TOPO_CHECK(root, "copy of the fixture");
	if (!root)
		return topo_result();
	snprintf(path, sizeof(path), "%s/sys/devices/system/node/node1/cpulist", root);
	TOPO_CHECK(!unlink(path) && !mkfifo(path, 0644), "FIFO in place of %s", path);

	/* timeout(1) turns the old hang into exit status 124 */
	snprintf(cmd, sizeof(cmd), "timeout 30 '%s' topo --warnings --root '%s' 2>&1", tool, root);
	st = topo_run(cmd, &out);
	TOPO_CHECK(st == 0 && out && strstr(out, "node1/cpulist") && strstr(out, "Target#"),
		   "hms topo --root with a FIFO in it: exit %d (want 0, 124 is a hang):\n%s", st,
		   out ? out : "");
	free(out);
	snprintf(cmd, sizeof(cmd), "timeout 30 '%s' topo --json --root '%s' 2>/dev/null", tool,
		 root);
	st = topo_run(cmd, &out);
	TOPO_CHECK(st == 0 && out && strstr(out, "\"schema\": \"hms-topology\""),
		   "hms topo --json --root with a FIFO in it: exit %d", st);
	free(out);
	free(src);
	free(root);
	return topo_result();
}
