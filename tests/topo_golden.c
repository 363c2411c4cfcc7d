/* SPDX-License-Identifier: MIT */
/*
 * topo_golden: `hms topo --json --root TREE` of every captured and
 * hand-made sysfs tree equals tests/fixtures/expected/TREE.json.
 * HMS_UPDATE_GOLDEN=1 rewrites the expected files instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo_util.h"

static const char *const trees[] = {
	"qemu-1node-nohmat", "qemu-2node-hmat", "qemu-2node-nohmat-slit",
	"qemu-3node-memonly-hmat", "qemu-3node-memonly-hmat-k612", "this-vm-1node",
	"handmade-hbm", "handmade-cxl",
	"memorysidecaches.tar.bz2", "fakememinitiators-1np2c+1npp+gi.tar.bz2",
	"64intel64-fakeKNL-SNC4-hybrid.tar.bz2", "nvidiagpunumanodes.tar.bz2",
	"32em64t-2n8c+dax+nvme+mic+dimms.tar.bz2", "32intel64-2p8co2t+8ve.tar.bz2",
	"offline-cpu0-node0.tar.bz2",
};

static void check_tree(const char *tool, const char *fx, const char *name,
		       bool update)
{
	char *root = topo_fixture_root(name), *cmd, *out = NULL, *want, *path;
	size_t nl = strlen(name);
	int st;

	TOPO_CHECK(root, "%s: no fixture", name);
	if (!root)
		return;
	if (asprintf(&cmd, "'%s' topo --json --root '%s'", tool, root) < 0 ||
	    asprintf(&path, "%s/expected/%.*s.json", fx,
		     (int)(nl > 8 && !strcmp(name + nl - 8, ".tar.bz2") ? nl - 8 : nl),
		     name) < 0)
		exit(1);
	st = topo_run(cmd, &out);
	TOPO_CHECK(st == 0, "%s: exit %d", cmd, st);
	if (update) {
		TOPO_CHECK(topo_write_file(path, out ? out : "") == 0, "cannot write %s", path);
		printf("updated %s\n", path);
	} else {
		want = topo_read_file(path);
		TOPO_CHECK(want, "%s: missing (HMS_UPDATE_GOLDEN=1 makes it)", path);
		TOPO_CHECK(!want || (out && !strcmp(out, want)),
			   "%s differs from %s; got:\n%s", name, path, out ? out : "");
		free(want);
	}
	free(out);
	free(cmd);
	free(path);
	free(root);
}

int main(void)
{
	const char *fx = topo_fixtures(), *tool = getenv("HMS_TOOL");
	bool update = getenv("HMS_UPDATE_GOLDEN") && *getenv("HMS_UPDATE_GOLDEN") == '1';

	if (!fx || !tool) {
		fprintf(stderr, "HMS_FIXTURES and HMS_TOOL must be set (run through ctest)\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(trees) / sizeof(trees[0]); i++)
		check_tree(tool, fx, trees[i], update);
	return topo_result();
}
