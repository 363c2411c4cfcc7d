/* SPDX-License-Identifier: MIT */
/* main.c - the hms command: dispatches to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};


static const struct command commands[] = {
	{ "version", cmd_version, "print the library and tool version" },
	{ "demo", cmd_demo, "a short tour: migrate, launch a device kernel, fault back" },
	{ "topo", cmd_topo, "show the memory topology (targets, initiators, links, bridges)" },
	{ "bench", cmd_bench, "run benchmarks (fault, migrate, snapshot, notify, ...)" },
	{ "stress", cmd_stress, "random operations checked against a shadow copy of every byte" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: hms COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].fn)
			fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'hms COMMAND --help' describes a command.\n");
}

/*
 * The status of command cmd that returned ret, once what it printed is
 * out: output lost to a full disk or a closed pipe (SIGPIPE ignored) is a
 * failure, never exit 0 (`hms topo > /dev/full`).
 */
static int finish(const char *cmd, int ret)
{
	return cli_flush_stdout(cmd) && !ret ? 1 : ret;
}

int main(int argc, char **argv)
{
	char cmd[64];

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return finish("hms", 0);
	}
	if (!strcmp(argv[1], "--version"))
		return finish("hms --version", cmd_version(argc - 1, argv + 1));
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].fn && !strcmp(argv[1], commands[i].name)) {
			snprintf(cmd, sizeof(cmd), "hms %s", commands[i].name);
			return finish(cmd, commands[i].fn(argc - 1, argv + 1));
		}
	fprintf(stderr, "hms: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
