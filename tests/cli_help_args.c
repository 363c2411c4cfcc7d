/* SPDX-License-Identifier: MIT */
/*
 * cli_help_args: --help (or -h) asks for the usage and nothing else.
 * With another argument, before or after it, `hms CMD` refuses the line
 * as it refuses any other bad one (exit 2, the message first on stderr
 * naming the argument, the usage after it, nothing on stdout): the extra
 * word was ignored and the help printed with exit 0.  `hms --help CMD`
 * (and `hms help CMD`) is CMD's help, as git's is; any other word there
 * is an unknown command.  After "--", bench's "--help" is a name; after
 * the command of bind and stat, the command's argument.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo_util.h"

static const char *tool;
static char errpath[1024];

/* `hms ARGS`: exit status, stdout in *out, stderr in *err. */
static int hms(const char *args, char **out, char **err)
{
	char cmd[4096];
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' %s 2>'%s'", tool, args, errpath);
	st = topo_run(cmd, out);
	*err = topo_read_file(errpath);
	if (!*out)
		*out = strdup("");
	if (!*err)
		*err = strdup("");
	return st;
}

static void refused(const char *args, const char *want)
{
	char *out, *err, *nl;
	int st = hms(args, &out, &err);

	nl = strchr(err, '\n');
	TOPO_CHECK(st == 2 && nl && !strncmp(err, want, (size_t)(nl - err)) &&
		   strlen(want) == (size_t)(nl - err) && strstr(nl, "usage: hms") && !*out,
		   "hms %s: exit %d (want 2), stdout %zu bytes (want none), stderr\n%s\nwant first "
		   "line\n  %s\nand the usage", args, st, strlen(out), err, want);
	free(out);
	free(err);
}

/* `hms ARGS` prints what `hms SAME` does on stdout, exit 0. */
static void same_help(const char *args, const char *same)
{
	char *out, *err, *out2, *err2;
	int st = hms(args, &out, &err), st2 = hms(same, &out2, &err2);

	TOPO_CHECK(st == 0 && st2 == 0 && !strncmp(out, "usage: hms ", 11) && !strcmp(out, out2) &&
		   !*err, "hms %s: exit %d, stdout\n%s\nstderr\n%s\nwant exit 0 and what hms %s "
		   "prints", args, st, out, err, same);
	free(out);
	free(err);
	free(out2);
	free(err2);
}

int main(void)
{
	static const char *const cmds[] = { "version", "demo", "topo", "bench", "stress" };
	static const char *const runs[] = { "bind", "stat" };
	char *dir = topo_tmpdir(), args[256], want[256];

	tool = getenv("HMS_TOOL");
	if (!tool || !dir) {
		fprintf(stderr, "HMS_TOOL missing\n");
		return 1;
	}
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);

	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
		snprintf(args, sizeof(args), "%s --help extra", cmds[c]);
		snprintf(want, sizeof(want), "hms %s: --help: unexpected argument 'extra'", cmds[c]);
		refused(args, want);
		snprintf(args, sizeof(args), "%s -h ''", cmds[c]);
		snprintf(want, sizeof(want), "hms %s: -h: unexpected argument ''", cmds[c]);
		refused(args, want);
		snprintf(args, sizeof(args), "%s extra --help", cmds[c]);
		snprintf(want, sizeof(want), "hms %s: --help: unexpected argument 'extra'", cmds[c]);
		refused(args, want);
		/* the help alone, and git's spelling of it */
		snprintf(args, sizeof(args), "%s --help", cmds[c]);
		snprintf(want, sizeof(want), "help %s", cmds[c]);
		same_help(want, args);
		snprintf(want, sizeof(want), "--help %s", cmds[c]);
		same_help(want, args);
	}
	/*
	 * bind and stat take a COMMAND: the options end at its first word, so
	 * "extra --help" runs extra with --help (tests/stat_cli); before it
	 * --help still goes alone.
	 */
	for (size_t c = 0; c < sizeof(runs) / sizeof(runs[0]); c++) {
		snprintf(args, sizeof(args), "%s --help extra", runs[c]);
		snprintf(want, sizeof(want), "hms %s: --help: unexpected argument 'extra'", runs[c]);
		refused(args, want);
		snprintf(args, sizeof(args), "%s -h ''", runs[c]);
		snprintf(want, sizeof(want), "hms %s: -h: unexpected argument ''", runs[c]);
		refused(args, want);
		snprintf(args, sizeof(args), "%s --help", runs[c]);
		snprintf(want, sizeof(want), "help %s", runs[c]);
		same_help(want, args);
		snprintf(want, sizeof(want), "--help %s", runs[c]);
		same_help(want, args);
	}
	refused("bind --target node0 --help", "hms bind: --help: unexpected argument '--target'");
	refused("stat -o x -h true", "hms stat: -h: unexpected argument '-o'");
	refused("topo --json --help", "hms topo: --help: unexpected argument '--json'");
	refused("stress --ops 5 -h", "hms stress: -h: unexpected argument '--ops'");
	refused("bench fault --help", "hms bench: --help: unexpected argument 'fault'");
	refused("bench -- --help", "hms bench: unknown benchmark '--help'");

	refused("--help extra", "hms: --help: unknown command 'extra'");
	refused("-h extra", "hms: -h: unknown command 'extra'");
	refused("help extra", "hms: help: unknown command 'extra'");
	refused("help --help", "hms: help: unknown command '--help'");
	refused("--help topo extra", "hms: --help: unexpected argument 'extra'");
	same_help("-h", "--help");
	same_help("help", "--help");
	return topo_result();
}
