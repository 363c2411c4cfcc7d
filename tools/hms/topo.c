/* SPDX-License-Identifier: MIT */
/*
 * topo.c - `hms topo`: show the memory topology as a readable tree (in
 * the spirit of lstopo's text output), JSON, graphviz, the initiator x
 * target matrix, or a sysfs-style tree of files.  Uses the public API
 * only.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hms.h>
#include <hms_cuda.h>

#include "cli.h"
#include "cmd.h"

enum topo_format { FMT_TREE, FMT_JSON, FMT_DOT, FMT_MATRIX, FMT_SYSFS };

struct topo_opts {
	enum topo_format format;
	const char *root;
	const char *sysfs_dir;
	unsigned softdevs;
	bool gpus;
	bool warnings;
};

static void topo_usage(FILE *f)
{
	fputs("usage: hms topo [--json | --dot | --matrix | --sysfs DIR] [--root DIR]\n"
	      "                [--softdev N] [--gpu] [--warnings]\n"
	      "\n"
	      "Show the memory topology: targets (memory), initiators (CPUs, devices),\n"
	      "links and bridges, with bandwidth (MiB/s) and latency (ns) where the\n"
	      "firmware or a driver gave them ('?' where nobody did).\n"
	      "\n"
	      "  --json        JSON (schema hms-topology, see hms-topo(1))\n"
	      "  --dot         graphviz digraph\n"
	      "  --matrix      initiator x target table of path performance\n"
	      "  --sysfs DIR   write the sysfs-style tree v<version>-<uid>-<type> into DIR\n"
	      "  --root DIR    read a captured sysfs tree (DIR holds sys/ and proc/)\n"
	      "  --softdev N   attach N software devices first (shows device memory)\n"
	      "  --gpu         attach every NVIDIA GPU first (CUDA driver; its link to\n"
	      "                system memory is measured as it attaches)\n"
	      "  --warnings    print what discovery could not read, on stderr\n"
	      "  --help, -h    this text (alone: not with other arguments)\n"
	      "\n"
	      "Exit status: 0 success, 1 error, 2 usage error.\n", f);
}

static int parse_args(int argc, char **argv, struct topo_opts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "dot", no_argument, NULL, 'd' },
		{ "matrix", no_argument, NULL, 'm' },
		{ "sysfs", required_argument, NULL, 's' },
		{ "root", required_argument, NULL, 'r' },
		{ "softdev", required_argument, NULL, 'n' },
		{ "gpu", no_argument, NULL, 'g' },
		{ "warnings", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	/* the format options seen, to name both of a conflicting pair */
	static const char *const fmt_opt[] = { "", "--json", "--dot", "--matrix", "--sysfs" };
	enum topo_format first = FMT_TREE, second = FMT_TREE;
	int c;

	c = cli_help("hms topo", argc, argv);
	if (c) {
		topo_usage(c > 0 ? stdout : stderr);
		return c > 0 ? 0 : 2;
	}
	argv[0] = (char *)"hms topo"; /* getopt's messages start with it */
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		uint64_t v;

		switch (c) {
		case 'j': o->format = FMT_JSON; break;
		case 'd': o->format = FMT_DOT; break;
		case 'm': o->format = FMT_MATRIX; break;
		case 's': o->format = FMT_SYSFS; o->sysfs_dir = optarg; break;
		case 'r': o->root = optarg; break;
		case 'w': o->warnings = true; break;
		case 'g': o->gpus = true; break;
		case 'h': /* an abbreviation (--he): cli_help() took --help alone */
			if (argc == 2) {
				topo_usage(stdout);
				return 0;
			}
			fprintf(stderr, "hms topo: %s (--help) takes no other arguments\n",
				argv[optind - 1]);
			topo_usage(stderr);
			return 2;
		case 'n':
			if (cli_uint("hms topo", "--softdev", optarg, 0, 64, &v))
				return 2;
			o->softdevs = (unsigned)v;
			break;
		default:
			topo_usage(stderr);
			return 2;
		}
		/*
		 * A second format is a conflict, except the same flag again
		 * (--json --json asks for one thing); a second --sysfs is one
		 * too: which directory was meant?
		 */
		if (c != 'j' && c != 'd' && c != 'm' && c != 's')
			continue;
		if (first == FMT_TREE)
			first = o->format;
		else if (second == FMT_TREE && (o->format != first || c == 's'))
			second = o->format;
	}
	if (second != FMT_TREE) {
		fprintf(stderr, "hms topo: %s and %s: choose one output format\n", fmt_opt[first],
			fmt_opt[second]);
		topo_usage(stderr);
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "hms topo: unexpected argument '%s'\n", argv[optind]);
		topo_usage(stderr);
		return 2;
	}
	return -1; /* go on */
}

/* ------------------------------------------------------------------------
 * The readable tree
 * ---------------------------------------------------------------------- */

static const char *target_kind(unsigned k)
{
	static const char *const w[] = { "?", "DRAM", "HBM", "PMEM", "CXL",
					 "DevicePrivate", "DeviceCoherent" };

	return k < sizeof(w) / sizeof(w[0]) ? w[k] : "?";
}

static void print_size(const char *label, uint64_t v)
{
	if (v == HMS_SIZE_UNKNOWN)
		printf(" %s=?", label);
	else if (v >= (10ULL << 30))
		printf(" %s=%lluGiB", label, (unsigned long long)(v >> 30));
	else
		printf(" %s=%lluMiB", label, (unsigned long long)(v >> 20));
}

static void print_fig(const char *label, uint32_t v, const char *unit)
{
	if (v == HMS_PERF_UNKNOWN)
		printf(" %s=?", label);
	else
		printf(" %s=%u%s", label, v, unit);
}

static void print_perf(const struct hms_perf *p)
{
	print_fig("read", p->read_bandwidth, "MiB/s");
	print_fig("write", p->write_bandwidth, "MiB/s");
	print_fig("read_lat", p->read_latency, "ns");
	print_fig("write_lat", p->write_latency, "ns");
}

static void print_note(const struct hms_object *o, const char *indent)
{
	if (*hms_object_note(o))
		printf("%s(%s)\n", indent, hms_object_note(o));
}

static void print_members(const struct hms_topology *t, const struct hms_object *o,
			  enum hms_object_type type, const char *label)
{
	long n = hms_object_members(o, type, NULL, 0);
	hms_uid *u = n > 0 ? malloc((size_t)n * sizeof(*u)) : NULL;

	if (!u)
		return;
	hms_object_members(o, type, u, (size_t)n);
	printf("      %s:", label);
	for (long i = 0; i < n; i++)
		printf(" %s#%u", hms_object_name(hms_object_find(t, u[i])), u[i]);
	printf("\n");
	free(u);
}

static void print_target(const struct hms_object *o)
{
	struct hms_target_info ti;

	hms_target_info(o, &ti);
	printf("  Target#%u %s (%s", hms_object_uid(o), hms_object_name(o),
	       target_kind(ti.kind));
	if (ti.numa_node != HMS_NONE)
		printf(" node=%d", ti.numa_node);
	print_size("size", ti.size);
	print_size("free", ti.free);
	if (ti.memory_tier != HMS_NONE)
		printf(" tier=%d", ti.memory_tier);
	printf(")\n");
	for (unsigned i = 0; i < ti.ncaches; i++) {
		struct hms_memcache c;

		hms_target_cache(o, i, &c);
		printf("    MemCache L%u (size=%lluMiB linesize=%u %s %s)\n", c.level,
		       (unsigned long long)(c.size >> 20), c.line_size,
		       c.indexing == HMS_CACHE_DIRECT_MAPPED ? "direct-mapped" :
		       c.indexing == HMS_CACHE_INDEXED ? "indexed" : "indexing=?",
		       c.write_policy == HMS_CACHE_WRITE_BACK ? "write-back" :
		       c.write_policy == HMS_CACHE_WRITE_THROUGH ? "write-through" : "policy=?");
	}
	print_note(o, "    ");
}

static void print_initiator(const struct hms_object *o)
{
	struct hms_initiator_info ii;

	hms_initiator_info(o, &ii);
	printf("  Initiator#%u %s (%s", hms_object_uid(o), hms_object_name(o),
	       ii.kind == HMS_INITIATOR_CPU ? "CPUs" : "device");
	if (ii.numa_node != HMS_NONE)
		printf(" node=%d", ii.numa_node);
	if (ii.ncpus)
		printf(" cpus=%s count=%u", ii.cpulist, ii.ncpus);
	printf(")\n");
	print_note(o, "    ");
}

static void print_link(const struct hms_topology *t, const struct hms_object *o)
{
	struct hms_perf p;

	hms_object_perf(o, &p);
	if (hms_object_type(o) == HMS_OBJECT_BRIDGE) {
		hms_uid from, to;

		hms_bridge_ends(o, &from, &to);
		printf("  Bridge#%u %s (link#%u -> link#%u)", hms_object_uid(o),
		       hms_object_name(o), from, to);
	} else {
		printf("  Link#%u %s", hms_object_uid(o), hms_object_name(o));
	}
	printf(":");
	print_perf(&p);
	printf("\n");
	print_members(t, o, HMS_OBJECT_INITIATOR, "initiators");
	if (hms_object_type(o) == HMS_OBJECT_LINK)
		print_members(t, o, HMS_OBJECT_TARGET, "targets");
	print_note(o, "      ");
}

static void print_tree(const struct hms_topology *t)
{
	const struct hms_object *o;
	size_t nw = 0;

	while (hms_topology_warning(t, nw))
		nw++;
	printf("Machine (%zu targets, %zu initiators, %zu links, %zu bridges)\n",
	       hms_topology_count(t, HMS_OBJECT_TARGET),
	       hms_topology_count(t, HMS_OBJECT_INITIATOR),
	       hms_topology_count(t, HMS_OBJECT_LINK),
	       hms_topology_count(t, HMS_OBJECT_BRIDGE));
	hms_topology_for_each(t, HMS_OBJECT_INITIATOR, o)
		print_initiator(o);
	hms_topology_for_each(t, HMS_OBJECT_TARGET, o)
		print_target(o);
	hms_topology_for_each(t, HMS_OBJECT_LINK, o)
		print_link(t, o);
	hms_topology_for_each(t, HMS_OBJECT_BRIDGE, o)
		print_link(t, o);
	if (nw)
		printf("%zu warning%s: hms topo --warnings\n", nw, nw > 1 ? "s" : "");
}

/* ------------------------------------------------------------------------
 * The matrix
 * ---------------------------------------------------------------------- */

static int print_matrix(const struct hms_topology *t)
{
	long n = hms_topology_matrix(t, NULL, 0);
	size_t nt = hms_topology_count(t, HMS_OBJECT_TARGET);
	struct hms_matrix_cell *c;
	const struct hms_object *o;

	if (n < 0)
		return 1;
	c = calloc((size_t)n + 1, sizeof(*c));
	if (!c || hms_topology_matrix(t, c, (size_t)n) != n) {
		free(c);
		return 1;
	}
	printf("read bandwidth MiB/s / read latency ns ('?' unknown, '-' no path)\n");
	printf("%-20s", "initiator \\ target");
	hms_topology_for_each(t, HMS_OBJECT_TARGET, o)
		printf(" %16.16s", hms_object_name(o));
	printf("\n");
	for (long i = 0; i < n; i++) {
		char cell[40], bw[16], lat[16];

		if (i % (long)nt == 0)
			printf("%-20.20s", hms_object_name(hms_object_find(t, c[i].initiator)));
		if (c[i].status < 0) {
			snprintf(cell, sizeof(cell), "-");
		} else {
			if (c[i].perf.read_bandwidth == HMS_PERF_UNKNOWN)
				snprintf(bw, sizeof(bw), "?");
			else
				snprintf(bw, sizeof(bw), "%u", c[i].perf.read_bandwidth);
			if (c[i].perf.read_latency == HMS_PERF_UNKNOWN)
				snprintf(lat, sizeof(lat), "?");
			else
				snprintf(lat, sizeof(lat), "%u", c[i].perf.read_latency);
			snprintf(cell, sizeof(cell), "%s / %s", bw, lat);
		}
		printf(" %16s", cell);
		if ((i + 1) % (long)nt == 0)
			printf("\n");
	}
	free(c);
	return 0;
}

/* ------------------------------------------------------------------------
 * Main
 * ---------------------------------------------------------------------- */

/* With software devices the topology comes from a context. */
static int topo_with_softdevs(const struct topo_opts *o, struct hms **h,
			      struct hms_topology **t)
{
	struct hms_options opts = { .size = sizeof(opts), .sysfs_root = o->root };
	int err = hms_open(h, &opts);

	if (err && o->root)
		fprintf(stderr, "hms topo: hms_open with --root %s: %s%s%s\n", o->root,
			strerror(-err), *hms_last_error() ? ": " : "", hms_last_error());
	else if (err)
		cli_open_error("hms topo", err); /* names $HMS_SYSFS_ROOT when it is at fault */
	if (err)
		return err;
	if (o->gpus) {
		char why[256] = "";
		int n = hms_cuda_device_count(why, sizeof(why));

		if (n <= 0) {
			fprintf(stderr, "hms topo: --gpu: %s\n", why);
			return n ? n : -ENODEV;
		}
		for (int i = 0; i < n; i++) {
			struct hms_cuda_config c = { .size = sizeof(c), .device = i };
			struct hms_cuda *g;

			err = hms_cuda_attach(*h, &c, &g);
			if (err) {
				fprintf(stderr, "hms topo: GPU %d: %s\n", i, strerror(-err));
				return err;
			}
		}
	}
	for (unsigned i = 0; i < o->softdevs; i++) {
		struct hms_softdev *dev;

		err = hms_softdev_create(*h, NULL, &dev);
		if (err) {
			fprintf(stderr, "hms topo: hms_softdev_create: %s\n", strerror(-err));
			return err;
		}
	}
	return hms_topology_get(*h, t);
}

/*
 * The entry in dir that made hms_topology_write_sysfs() refuse it, or
 * NULL: first one this tree would have written (an earlier run of the
 * same command), else what the library refuses besides, a "version"
 * file or any v<version>-* entry (a tree of another machine, one whose
 * writer stopped early).
 */
static const char *sysfs_clash(const struct hms_topology *t, const char *dir, char *buf,
			       size_t cap)
{
	static const char *const type[] = { "any", "target", "initiator", "link", "bridge" };
	const struct hms_object *o;
	const struct dirent *e;
	char prefix[32];
	struct stat st;
	DIR *d;

	hms_topology_for_each(t, HMS_OBJECT_ANY, o) {
		unsigned k = (unsigned)hms_object_type(o);

		snprintf(buf, cap, "%s/v%d-%u-%s", dir, HMS_TOPOLOGY_SYSFS_VERSION,
			 hms_object_uid(o), type[k < 5 ? k : 0]);
		if (!lstat(buf, &st))
			return buf;
	}
	snprintf(prefix, sizeof(prefix), "v%d-", HMS_TOPOLOGY_SYSFS_VERSION);
	d = opendir(dir);
	while (d && (e = readdir(d)))
		if (!strcmp(e->d_name, "version") ||
		    !strncmp(e->d_name, prefix, strlen(prefix))) {
			snprintf(buf, cap, "%s/%s", dir, e->d_name);
			closedir(d);
			return buf;
		}
	if (d)
		closedir(d);
	return NULL;
}

static void sysfs_error(const struct hms_topology *t, const char *dir, int err)
{
	char path[4096];

	if (err == -EEXIST && sysfs_clash(t, dir, path, sizeof(path)))
		fprintf(stderr, "hms topo: --sysfs %s: %s is there already (an earlier tree?): "
			"give an empty or new directory\n", dir, path);
	else
		fprintf(stderr, "hms topo: --sysfs %s: %s\n", dir, strerror(-err));
}

/*
 * A --root must hold a captured tree: the library takes any directory
 * (a root without sys/ is one memory-only node, said in a warning), which
 * hides a mistyped path.  Refused here, in the tool only.
 */
static int check_root(const char *root)
{
	char sys[4096], proc[4096];
	struct stat st;

	if (stat(root, &st)) {
		fprintf(stderr, "hms topo: --root %s: %s\n", root, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "hms topo: --root %s: %s\n", root, strerror(ENOTDIR));
		return -1;
	}
	snprintf(sys, sizeof(sys), "%s/sys", root);
	snprintf(proc, sizeof(proc), "%s/proc", root);
	if (access(sys, F_OK) && access(proc, F_OK)) {
		fprintf(stderr, "hms topo: --root %s: neither sys/ nor proc/ in it: not a "
			"captured system tree\n", root);
		return -1;
	}
	return 0;
}

static int topo_emit(const struct topo_opts *o, const struct hms_topology *t)
{
	int err = 0;

	switch (o->format) {
	case FMT_TREE: print_tree(t); break; /* write errors: main's finish() */
	case FMT_JSON: err = hms_topology_write_json(t, stdout); break;
	case FMT_DOT: err = hms_topology_write_dot(t, stdout); break;
	case FMT_MATRIX: return print_matrix(t);
	case FMT_SYSFS:
		err = hms_topology_write_sysfs(t, o->sysfs_dir);
		if (err)
			sysfs_error(t, o->sysfs_dir, err);
		break;
	}
	if (err == -EIO && o->format != FMT_SYSFS) {
		/*
		 * The library flushed stdout and failed: errno is the reason
		 * now, gone by the time main() flushes again (stdio drops a
		 * buffer it could not write).  Said here, once.
		 */
		cli_write_error("hms topo", errno);
		clearerr(stdout);
	}
	return err ? 1 : 0;
}

int cmd_topo(int argc, char **argv)
{
	struct topo_opts o = { .format = FMT_TREE };
	struct hms_topology *t = NULL;
	struct hms *h = NULL;
	const char *w;
	int ret = parse_args(argc, argv, &o), err;

	if (ret >= 0)
		return ret;
	if (o.root && check_root(o.root))
		return 1;
	if (o.softdevs || o.gpus)
		err = topo_with_softdevs(&o, &h, &t);
	else
		err = hms_topology_load(o.root, 0, &t);
	if (err) {
		if (!o.softdevs && !o.gpus)
			fprintf(stderr, "hms topo: %s: %s\n", o.root ? o.root : "/",
				strerror(-err));
		hms_close(h);
		return 1;
	}
	if (o.warnings)
		for (size_t i = 0; (w = hms_topology_warning(t, i)); i++)
			fprintf(stderr, "warning: %s\n", w);
	ret = topo_emit(&o, t);
	hms_topology_put(t);
	hms_close(h); /* destroys the softdevs, detaches the GPUs */
	return ret;
}
