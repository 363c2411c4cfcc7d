/* SPDX-License-Identifier: MIT */
/*
 * topo_sysfs_clash: `hms topo --sysfs DIR` into a directory that already
 * holds what the library refuses to write over (a "version" file, or any
 * v1-* entry, also one of a bigger tree than this one) exits 1 naming the
 * entry in the way, as hms-topo(1) says, not a bare "File exists".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "topo_util.h"

static const char *tool, *root;
static char errpath[1024];

static void clash(const char *dir, const char *entry)
{
	char cmd[4096], want[2048], *err;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' topo --root '%s' --sysfs '%s' 2>'%s'", tool, root, dir,
		 errpath);
	st = topo_run(cmd, NULL);
	err = topo_read_file(errpath);
	snprintf(want, sizeof(want), "hms topo: --sysfs %s: %s/%s is there already", dir, dir,
		 entry);
	TOPO_CHECK(st == 1 && err && !strncmp(err, want, strlen(want)),
		   "--sysfs into a directory holding %s: exit %d (want 1), stderr\n  %s\nwant\n  %s",
		   entry, st, err ? err : "", want);
	free(err);
}

int main(void)
{
	char *fixture = topo_fixture_root("qemu-2node-hmat"), *dir = topo_tmpdir();
	char path[1100], sub[1024];

	tool = getenv("HMS_TOOL");
	root = fixture;
	if (!tool || !root || !dir) {
		fprintf(stderr, "HMS_TOOL / fixtures missing\n");
		return 1;
	}
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);

	/* a version file alone (a tree whose writer stopped early) */
	snprintf(sub, sizeof(sub), "%s/a", dir);
	snprintf(path, sizeof(path), "%s/version", sub);
	TOPO_CHECK(!mkdir(sub, 0755) && !topo_write_file(path, "1\n"), "set up %s", path);
	clash(sub, "version");

	/* an entry of a bigger tree: uid 99 is none of this topology's */
	snprintf(sub, sizeof(sub), "%s/b", dir);
	snprintf(path, sizeof(path), "%s/v1-99-target", sub);
	TOPO_CHECK(!mkdir(sub, 0755) && !mkdir(path, 0755), "set up %s", path);
	clash(sub, "v1-99-target");
	free(fixture);
	return topo_result();
}
