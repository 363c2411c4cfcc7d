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
	{ "bind", cmd_bind, "run a command with its memory bound to hms targets (numactl)" },
	{ "stat", cmd_stat, "run a command, then print the hms counters of the contexts it closed" },
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

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].fn && !strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

/* The status of command c, hms NAME ARGS (argv[0] is NAME). */
static int run(const struct command *c, int argc, char **argv)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "hms %s", c->name);
	return finish(cmd, c->fn(argc, argv));
}

/*
 * hms --help (-h, help): the list of commands; with a command's name
 * that command's help, as git's; any other word is a usage error.
 */
static int help(int argc, char **argv)
{
	const struct command *c = argc == 3 ? find(argv[2]) : NULL;

	if (argc == 2) {
		usage(stdout);
		return finish("hms", 0);
	}
	if (c)
		return run(c, 2, (char *[]){ argv[2], (char *)"--help", NULL });
	if (argc == 3)
		fprintf(stderr, "hms: %s: unknown command '%s'\n", argv[1], argv[2]);
	else
		fprintf(stderr, "hms: %s: unexpected argument '%s'\n", argv[1], argv[3]);
	usage(stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const struct command *c;

	cli_stdout_init();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return help(argc, argv);
	if (!strcmp(argv[1], "--version"))
		return finish("hms --version", cmd_version(argc - 1, argv + 1));
	c = find(argv[1]);
	if (c)
		return run(c, argc - 1, argv + 1);
	fprintf(stderr, "hms: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
