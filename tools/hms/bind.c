/* SPDX-License-Identifier: MIT */
/*
 * bind.c - `hms bind`: numactl --membind / --preferred for hms targets.
 * Sets the process's NUMA memory policy to the nodes of the named targets
 * (set_mempolicy, inherited across exec) and execs the command; --show
 * prints the current policy in hms terms.  Device memory exists only
 * inside a process using libhms: such a target is refused (hms_bind(3)).
 */
#include <errno.h>
#include <numaif.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hms.h>

#include "cli.h"
#include "cmd.h"

#ifndef MPOL_PREFERRED_MANY
#define MPOL_PREFERRED_MANY 5
#endif
#ifndef MPOL_F_STATIC_NODES
#define MPOL_F_STATIC_NODES (1 << 15)
#endif
#ifndef MPOL_F_RELATIVE_NODES
#define MPOL_F_RELATIVE_NODES (1 << 14)
#endif
#define MASK_NODES 1024

static const char *const CMD = "hms bind";

struct bind_opts {
	const char *targets; /* the --target list as given */
	bool preferred, show;
	int cmd;             /* argv index of COMMAND; 0 when none */
};

static void bind_usage(FILE *f)
{
	fputs("usage: hms bind [--preferred] --target T[,T...] [--] COMMAND [ARG...]\n"
	      "       hms bind --show\n"
	      "\n"
	      "Run COMMAND with its memory policy bound to the NUMA nodes of hms targets\n"
	      "(system memory), as numactl does for nodes.  T is a target's uid or name as\n"
	      "hms topo prints them (Target#1 node0: 1 or node0).  Device memory exists\n"
	      "only inside a program using libhms: see hms_bind(3).\n"
	      "\n"
	      "  --target T,...  the targets: the command's pages come from them only\n"
	      "  --preferred     prefer them, take other memory when they are full\n"
	      "  --show          print this process's memory policy in hms terms\n"
	      "  --help, -h      this text (alone: not with other arguments)\n"
	      "\n"
	      "Exit status: COMMAND's; 1 error (unknown target, device memory, policy\n"
	      "refused), 2 usage error, 126 COMMAND not executable, 127 not found.\n", f);
}

static int usage_error(void)
{
	bind_usage(stderr);
	return 2;
}

/* The list's elements are names or uids, none empty. */
static int check_list(const char *list)
{
	size_t n = strlen(list);

	if (!n || list[0] == ',' || list[n - 1] == ',' || strstr(list, ",,")) {
		fprintf(stderr, "%s: --target: empty target in '%s'\n", CMD, list);
		return -1;
	}
	return 0;
}

/* Returns -1 to go on (o filled), else the exit status. */
static int parse_args(int argc, char **argv, struct bind_opts *o)
{
	struct cli_opt opt;
	int i;

	for (i = 1; cli_wrapper_next(argc, argv, &i, &opt); i++) {
		if (!strcmp(opt.name, "--help") || !strcmp(opt.name, "-h"))
			return cli_wrapper_help(CMD, argc, argv, i, &opt, bind_usage);
		else if (!strcmp(opt.name, "--target")) {
			if (!opt.value) {
				fprintf(stderr, "%s: --target: missing value\n", CMD);
				return usage_error();
			}
			if (o->targets) {
				fprintf(stderr, "%s: --target: given twice (one list: T,T,...)\n",
					CMD);
				return usage_error();
			}
			if (check_list(opt.value))
				return usage_error();
			o->targets = opt.value;
			i += !opt.joined;
		} else if (!strcmp(opt.name, "--preferred") || !strcmp(opt.name, "--show")) {
			if (cli_no_value(CMD, &opt))
				return usage_error();
			*(opt.name[2] == 'p' ? &o->preferred : &o->show) = true;
		} else {
			fprintf(stderr, "%s: unknown option '%s'\n", CMD, argv[i]);
			return usage_error();
		}
	}
	o->cmd = i < argc ? i : 0;
	if (o->show && (o->targets || o->preferred || o->cmd)) {
		fprintf(stderr, "%s: --show: takes no other argument ('%s')\n", CMD,
			o->cmd ? argv[o->cmd] : o->targets ? "--target" : "--preferred");
		return usage_error();
	}
	if (o->show)
		return -1;
	if (!o->targets) {
		fprintf(stderr, "%s: --target is required\n", CMD);
		return usage_error();
	}
	if (!o->cmd) {
		fprintf(stderr, "%s: missing command\n", CMD);
		return usage_error();
	}
	return -1;
}

/* ------------------------------------------------------------------------
 * Targets to nodes
 * ---------------------------------------------------------------------- */

static bool all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* A name hms gives device memory: softdevN, cudaN (hms_softdev_create(3),
 * hms_cuda_attach(3)). */
static bool device_name(const char *s)
{
	size_t n = !strncmp(s, "softdev", 7) ? 7 : !strncmp(s, "cuda", 4) ? 4 : 0;

	return n && all_digits(s + n);
}

static void device_refused(const char *t)
{
	fprintf(stderr, "%s: --target %s: device memory: a software device or GPU exists only "
		"inside a process using libhms, so only such a program can place pages "
		"there (hms_bind(3))\n", CMD, t);
}

/* The target named t (uid or name) in topology tp, or NULL after a message. */
static const struct hms_object *find_target(const struct hms_topology *tp, const char *t)
{
	const struct hms_object *o = NULL;

	if (all_digits(t)) {
		uint64_t uid;

		if (!cli_parse_uint(t, strlen(t), 1, UINT32_MAX, &uid))
			o = hms_object_find(tp, (hms_uid)uid);
		if (o && hms_object_type(o) != HMS_OBJECT_TARGET) {
			fprintf(stderr, "%s: --target %s: %s#%s is not a target (memory); hms topo "
				"lists them\n", CMD, t, hms_object_name(o), t);
			return NULL;
		}
	} else {
		hms_topology_for_each(tp, HMS_OBJECT_TARGET, o)
			if (!strcmp(hms_object_name(o), t))
				break;
	}
	if (o)
		return o;
	if (device_name(t))
		device_refused(t);
	else
		fprintf(stderr, "%s: --target %s: no such target here (hms topo lists them; a "
			"device's memory exists only inside a program using libhms)\n", CMD, t);
	return NULL;
}

/*
 * Sets mask to the NUMA nodes of the targets in list; returns how many
 * distinct nodes, with the first in *first, or -1 after a message.
 */
static int targets_to_nodes(const char *list, unsigned long *mask, int *first)
{
	struct hms_topology *tp;
	char *copy = strdup(list), *save = NULL;
	int n = 0, err = copy ? hms_topology_load(NULL, 0, &tp) : -ENOMEM;

	if (err) {
		fprintf(stderr, "%s: the topology: %s\n", CMD, strerror(-err));
		free(copy);
		return -1;
	}
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const struct hms_object *o = find_target(tp, t);
		struct hms_target_info ti;

		if (!o || hms_target_info(o, &ti)) {
			n = -1;
			break;
		}
		if (ti.numa_node == HMS_NONE) {
			device_refused(t);
			n = -1;
			break;
		}
		if (ti.numa_node < 0 || ti.numa_node >= MASK_NODES) {
			fprintf(stderr, "%s: --target %s: node %d is beyond %d\n", CMD, t,
				ti.numa_node, MASK_NODES - 1);
			n = -1;
			break;
		}
		if (!n)
			*first = ti.numa_node;
		if (!(mask[ti.numa_node / 64] & (1UL << (ti.numa_node % 64))))
			n++;
		mask[ti.numa_node / 64] |= 1UL << (ti.numa_node % 64);
	}
	hms_topology_put(tp);
	free(copy);
	return n;
}

/* ------------------------------------------------------------------------
 * Setting the policy, running the command
 * ---------------------------------------------------------------------- */

static int set_policy(const struct bind_opts *o)
{
	unsigned long mask[MASK_NODES / 64] = { 0 };
	int first = -1, n = targets_to_nodes(o->targets, mask, &first), mode;

	if (n < 0)
		return -1;
	mode = !o->preferred ? MPOL_BIND : n > 1 ? MPOL_PREFERRED_MANY : MPOL_PREFERRED;
	if (!set_mempolicy(mode, mask, MASK_NODES + 1))
		return 0;
	if (mode == MPOL_PREFERRED_MANY && errno == EINVAL)
		fprintf(stderr, "%s: --preferred with several nodes: set_mempolicy refused "
			"MPOL_PREFERRED_MANY (Linux 5.15 or later): %s\n", CMD, strerror(errno));
	else
		fprintf(stderr, "%s: --target %s: set_mempolicy: %s%s\n", CMD, o->targets,
			strerror(errno), errno == EINVAL ? " (a node outside this cpuset?)" : "");
	return -1;
}

/* Runs argv[0] in place of this process; returns the exit status it
 * could not (126, 127) after a message, as env(1) does. */
static int exec_command(char **argv)
{
	int err;

	fflush(NULL);
	execvp(argv[0], argv);
	err = errno;
	fprintf(stderr, "%s: '%s': %s\n", CMD, argv[0], strerror(err));
	return err == ENOENT ? 127 : 126;
}

/* ------------------------------------------------------------------------
 * --show
 * ---------------------------------------------------------------------- */

static const char *mode_name(int mode)
{
	static const char *const names[] = { "default", "preferred", "bind", "interleave",
					     "local", "preferred-many", "weighted-interleave" };

	return mode >= 0 && mode < (int)(sizeof(names) / sizeof(names[0])) ? names[mode] : "?";
}

/* "node0#1" for each node of mask, the target hms finds for it. */
static void show_targets(const unsigned long *mask)
{
	struct hms_topology *tp = NULL;
	const char *sep = "";

	hms_topology_load(NULL, 0, &tp);
	printf("targets:");
	for (int node = 0; node < MASK_NODES; node++) {
		const struct hms_object *o, *found = NULL;

		if (!(mask[node / 64] & (1UL << (node % 64))))
			continue;
		hms_topology_for_each(tp, HMS_OBJECT_TARGET, o) {
			struct hms_target_info ti;

			if (!hms_target_info(o, &ti) && ti.numa_node == node)
				found = o;
		}
		if (found)
			printf("%s %s#%u", sep, hms_object_name(found), hms_object_uid(found));
		else
			printf("%s node %d (no hms target)", sep, node);
		sep = ",";
	}
	printf("\n");
	hms_topology_put(tp);
}

static int show(void)
{
	unsigned long mask[MASK_NODES / 64] = { 0 };
	int mode, flags;
	bool nodes = false;

	if (get_mempolicy(&mode, mask, MASK_NODES + 1, NULL, 0)) {
		fprintf(stderr, "%s: --show: get_mempolicy: %s\n", CMD, strerror(errno));
		return 1;
	}
	flags = mode & ~0xff;
	mode &= 0xff;
	printf("policy: %s%s%s\n", mode_name(mode),
	       flags & MPOL_F_STATIC_NODES ? " static" : "",
	       flags & MPOL_F_RELATIVE_NODES ? " relative" : "");
	for (int i = 0; i < MASK_NODES / 64; i++)
		nodes |= mask[i] != 0;
	/* MPOL_PREFERRED with no node is the local policy */
	if (mode == MPOL_DEFAULT || mode == MPOL_LOCAL || !nodes)
		printf("targets: local (the node of the CPU that first touches a page)\n");
	else
		show_targets(mask);
	return 0;
}

int cmd_bind(int argc, char **argv)
{
	struct bind_opts o = { 0 };
	int ret = parse_args(argc, argv, &o);

	if (ret >= 0)
		return ret;
	if (o.show)
		return show();
	if (set_policy(&o))
		return 1;
	return exec_command(argv + o.cmd);
}
