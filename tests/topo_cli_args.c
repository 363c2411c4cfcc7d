/* SPDX-License-Identifier: MIT */
/*
 * topo_cli_args: `hms topo`'s usage errors name what is wrong (exit 2,
 * the message first on stderr): the stray argument itself, and the two
 * output formats that were both asked for.  The same format twice asks
 * for one format and runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo_util.h"

static const char *tool, *root;
static char errpath[1024];

/* `hms topo ARGS --root ROOT`: exit status; stderr's first line in line */
static int topo(const char *args, char *line, size_t cap)
{
	char cmd[4096], *err, *nl;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' topo %s --root '%s' >/dev/null 2>'%s'", tool, args, root,
		 errpath);
	st = topo_run(cmd, NULL);
	err = topo_read_file(errpath);
	snprintf(line, cap, "%s", err ? err : "");
	nl = strchr(line, '\n');
	if (nl)
		*nl = '\0';
	free(err);
	return st;
}

static void usage_error(const char *args, const char *want)
{
	char line[1024];
	int st = topo(args, line, sizeof(line));

	TOPO_CHECK(st == 2 && !strcmp(line, want), "hms topo %s: exit %d (want 2), first line\n  %s\n"
		   "want\n  %s", args, st, line, want);
}

static void runs(const char *args)
{
	char line[1024];
	int st = topo(args, line, sizeof(line));

	TOPO_CHECK(st == 0 && !*line, "hms topo %s: exit %d (want 0): %s", args, st, line);
}

int main(void)
{
	char *fixture = topo_fixture_root("qemu-2node-hmat"), *dir = topo_tmpdir();

	tool = getenv("HMS_TOOL");
	root = fixture;
	if (!tool || !root || !dir) {
		fprintf(stderr, "HMS_TOOL / fixtures missing\n");
		return 1;
	}
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);

	usage_error("extra", "hms topo: unexpected argument 'extra'");
	usage_error("--json node0", "hms topo: unexpected argument 'node0'");
	usage_error("-- --json", "hms topo: unexpected argument '--json'");
	usage_error("--json --dot", "hms topo: --json and --dot: choose one output format");
	usage_error("--matrix --sysfs /nonexistent/x",
		    "hms topo: --matrix and --sysfs: choose one output format");
	usage_error("--sysfs /nonexistent/a --sysfs /nonexistent/b",
		    "hms topo: --sysfs and --sysfs: choose one output format");
	runs("--json --json");
	runs("--dot --dot");
	runs("--matrix --matrix");
	free(fixture);
	return topo_result();
}
