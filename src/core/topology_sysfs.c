/* SPDX-License-Identifier: MIT */
/*
 * topology_sysfs.c - discovery of targets, initiators and links from
 * Linux sysfs under a root directory: NUMA nodes, their CPUs and memory,
 * SLIT distances, HMAT access classes, memory-side caches, memory tiers,
 * generic initiators, DAX-backed and GPU memory nodes.  Every file goes
 * through struct hms__topo_fs so the fuzzer can feed an in-memory tree.
 * Bad input never fails discovery: the fact is dropped with a warning.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hwloc.h>

#include "core/internal.h"

#define NODE_DIR "sys/devices/system/node"
#define NODE_MAX 4096 /* above the kernel's MAX_NUMNODES (1 << 10) */
#define FILE_MAX 65536

/* ------------------------------------------------------------------------
 * The real-directory reader
 * ---------------------------------------------------------------------- */

static int dir_path(const struct hms__topo_fs *fs, const char *rel, char *buf,
		    size_t cap)
{
	int n = snprintf(buf, cap, "%s/%s", fs->root, rel);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static long dir_read(const struct hms__topo_fs *fs, const char *rel, char *buf,
		     size_t cap)
{
	char path[PATH_MAX];
	struct stat st;
	size_t len = 0;
	int fd, err = dir_path(fs, rel, path, sizeof(path));

	if (err)
		return err;
	/*
	 * sysfs and procfs attributes are regular files.  A root is any
	 * directory a user names (hms topo --root): a FIFO there would
	 * block open(2) for ever, a terminal or a socket read(2), so
	 * anything else is refused, unread (O_NONBLOCK only keeps the open
	 * of a FIFO from waiting for a writer; regular files ignore it).
	 */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	if (err) {
		close(fd);
		return err;
	}
	while (len + 1 < cap) {
		ssize_t r = read(fd, buf + len, cap - 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			close(fd);
			return err;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	return (long)len;
}

static int dir_list(const struct hms__topo_fs *fs, const char *rel,
		    void (*fn)(const char *name, void *arg), void *arg)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int err = dir_path(fs, rel, path, sizeof(path));

	if (err)
		return err;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			fn(e->d_name, arg);
	closedir(d);
	return 0;
}

static long dir_readlink(const struct hms__topo_fs *fs, const char *rel,
			 char *buf, size_t cap)
{
	char path[PATH_MAX];
	ssize_t n;
	int err = dir_path(fs, rel, path, sizeof(path));

	if (err)
		return err;
	n = readlink(path, buf, cap - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

/* ------------------------------------------------------------------------
 * What is learnt about each node before objects are made
 * ---------------------------------------------------------------------- */

struct perf_entry { /* one accessN/initiators directory */
	unsigned cls;
	int *ini; /* initiator node ids, sorted */
	unsigned nini;
	struct hms_perf perf;
	bool zero; /* every figure present but 0: firmware gave none */
};

struct node {
	int id;
	unsigned *cpus;
	unsigned ncpus;
	bool mem_known; /* meminfo parsed */
	uint64_t size, free;
	int tier;
	unsigned kind;
	const char *kind_why;  /* static string, or NULL */
	char gpu[64];          /* PCI id of the GPU owning this memory */
	bool generic_initiator;
	struct hms_memcache caches[8];
	unsigned ncaches;
	struct perf_entry perf[2];
	unsigned nperf;
	hms_uid target, initiator;
};

struct disc {
	const struct hms__topo_fs *fs;
	struct hms_topology *t;
	struct node *nodes; /* sorted by id */
	unsigned n;
	bool hmat;          /* some node has an access class */
	unsigned *dist;     /* n x n, or NULL */
	char *buf;          /* FILE_MAX scratch */
};

static struct node *node_get(struct disc *d, int id)
{
	for (unsigned i = 0; i < d->n; i++)
		if (d->nodes[i].id == id)
			return &d->nodes[i];
	return NULL;
}

/* ------------------------------------------------------------------------
 * Reading files: every failure becomes a warning naming the file
 * ---------------------------------------------------------------------- */

/* Read path into d->buf; the length, or -1 after a warning.  A missing
 * file is only reported when @must is set. */
static long rd(struct disc *d, const char *path, bool must)
{
	long n = d->fs->read(d->fs, path, d->buf, FILE_MAX);

	if (n < 0) {
		if (must || n != -ENOENT)
			hms__topo_warn(d->t, "%s: cannot read (%s), left out", path,
				       strerror((int)-n));
		return -1;
	}
	if (n == 0 || strspn(d->buf, " \t\n") == (size_t)n) {
		hms__topo_warn(d->t, "%s: empty, left out", path);
		return -1;
	}
	if (n >= FILE_MAX - 1) {
		hms__topo_warn(d->t, "%s: longer than %d bytes, left out", path,
			       FILE_MAX - 1);
		return -1;
	}
	return n;
}

/* A single unsigned number and nothing else but blanks. */
static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static bool rd_u64(struct disc *d, const char *path, uint64_t max, uint64_t *out,
		   bool must)
{
	uint64_t v;

	if (rd(d, path, must) < 0)
		return false;
	if (parse_u64(d->buf, &v) || v > max) {
		hms__topo_warn(d->t, "%s: not a number in range, left out", path);
		return false;
	}
	*out = v;
	return true;
}

/* A hex mask as in cpumap ("0000ffff,00000003", most significant first). */
static int parse_mask(const char *s, unsigned **cpus, unsigned *n)
{
	size_t len = strcspn(s, "\n"), groups = 0;
	unsigned *v = NULL, k = 0, bit = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == ',')
			groups++;
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			   (c >= 'A' && c <= 'F')))
			return -EINVAL;
	}
	if (len == 0 || len > 8192)
		return -EINVAL;
	v = malloc(len * 4 * sizeof(*v) + 1);
	if (!v)
		return -ENOMEM;
	for (size_t i = len; i-- > 0;) { /* least significant digit last */
		char c = s[i];
		unsigned x;

		if (c == ',')
			continue;
		x = c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
		for (unsigned b = 0; b < 4; b++, bit++)
			if (x & (1u << b))
				v[k++] = bit;
	}
	(void)groups;
	/* collected from bit 0 upwards: already sorted */
	*cpus = v;
	*n = k;
	return 0;
}

/* A node list ("0-2,5") into node ids; false after a warning. */
static bool rd_nodelist(struct disc *d, const char *path, unsigned **ids,
			unsigned *n, bool must)
{
	long len = d->fs->read(d->fs, path, d->buf, FILE_MAX);

	if (len < 0) {
		if (must || len != -ENOENT)
			hms__topo_warn(d->t, "%s: cannot read (%s), left out", path,
				       strerror((int)-len));
		return false;
	}
	if (len >= FILE_MAX - 1 || hms__cpulist_parse(d->buf, ids, n)) {
		hms__topo_warn(d->t, "%s: not a list of numbers, left out", path);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------------
 * Step 1: which nodes exist
 * ---------------------------------------------------------------------- */

struct id_list {
	int *ids;
	unsigned n, cap;
	const char *prefix;
	bool nomem;
};

/* Collect "<prefix><number>" entries of a directory. */
static void collect_id(const char *name, void *arg)
{
	struct id_list *l = arg;
	size_t pl = strlen(l->prefix);
	uint64_t v;

	if (strncmp(name, l->prefix, pl) || parse_u64(name + pl, &v) ||
	    v >= NODE_MAX || name[pl] == ' ')
		return;
	if (l->n == l->cap) {
		unsigned cap = l->cap ? 2 * l->cap : 16;
		int *ni = realloc(l->ids, cap * sizeof(*ni));

		if (!ni) {
			l->nomem = true;
			return;
		}
		l->ids = ni;
		l->cap = cap;
	}
	l->ids[l->n++] = (int)v;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

static int list_ids(struct disc *d, const char *dir, const char *prefix,
		    struct id_list *l)
{
	int err;
	unsigned k = 0;

	*l = (struct id_list){ .prefix = prefix };
	err = d->fs->list(d->fs, dir, collect_id, l);
	if (l->nomem) {
		free(l->ids);
		return -ENOMEM;
	}
	if (err) {
		free(l->ids);
		l->ids = NULL;
		l->n = 0;
		return err;
	}
	if (l->n)
		qsort(l->ids, l->n, sizeof(int), cmp_int);
	for (unsigned i = 0; i < l->n; i++)
		if (k == 0 || l->ids[k - 1] != l->ids[i])
			l->ids[k++] = l->ids[i];
	l->n = k;
	return 0;
}

static int find_nodes(struct disc *d)
{
	struct id_list l;
	int err = list_ids(d, NODE_DIR, "node", &l);

	if (err == -ENOMEM)
		return err;
	if (err || l.n == 0) {
		/* A kernel without NUMA: one node holds everything. */
		hms__topo_warn(d->t, "%s: no NUMA node directory (%s); one node assumed, "
			       "CPUs from sys/devices/system/cpu/online, memory from proc/meminfo",
			       NODE_DIR, err ? strerror(-err) : "empty");
		free(l.ids);
		l.ids = malloc(sizeof(int));
		if (!l.ids)
			return -ENOMEM;
		l.ids[0] = -1;
		l.n = 1;
	}
	d->nodes = calloc(l.n, sizeof(*d->nodes));
	if (!d->nodes) {
		free(l.ids);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < l.n; i++) {
		d->nodes[i].id = l.ids[i];
		d->nodes[i].tier = HMS_NONE;
		d->nodes[i].kind = HMS_TARGET_DRAM;
		d->nodes[i].size = HMS_SIZE_UNKNOWN;
		d->nodes[i].free = HMS_SIZE_UNKNOWN;
	}
	d->n = l.n;
	free(l.ids);
	return 0;
}

/* ------------------------------------------------------------------------
 * Step 2: per node: CPUs, memory, caches, access classes
 * ---------------------------------------------------------------------- */

static void node_cpus(struct disc *d, struct node *nd)
{
	char path[128];

	if (nd->id < 0) {
		rd_nodelist(d, "sys/devices/system/cpu/online", &nd->cpus, &nd->ncpus, true);
		return;
	}
	snprintf(path, sizeof(path), NODE_DIR "/node%d/cpulist", nd->id);
	if (rd_nodelist(d, path, &nd->cpus, &nd->ncpus, false))
		return;
	/* Old kernels (and hwloc's captures) only have cpumap. */
	snprintf(path, sizeof(path), NODE_DIR "/node%d/cpumap", nd->id);
	if (rd(d, path, true) < 0)
		return;
	if (parse_mask(d->buf, &nd->cpus, &nd->ncpus)) {
		hms__topo_warn(d->t, "%s: not a CPU mask, CPUs left out", path);
		nd->cpus = NULL;
		nd->ncpus = 0;
	}
}

/* "Node 0 MemTotal:  1997248 kB" (per node) or "MemTotal: 1997248 kB". */
static bool meminfo_field(const char *text, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		const char *k = p;
		uint64_t v;
		char *end;

		if (!strncmp(k, "Node ", 5)) { /* skip "Node N " */
			k += 5;
			while (*k >= '0' && *k <= '9')
				k++;
			if (*k == ' ')
				k++;
		}
		if (strncmp(k, key, kl) || k[kl] != ':')
			continue;
		k += kl + 1;
		while (*k == ' ')
			k++;
		if (*k < '0' || *k > '9')
			return false;
		errno = 0;
		v = strtoull(k, &end, 10);
		if (errno || strncmp(end, " kB", 3) || v > (UINT64_MAX >> 11))
			return false;
		*out = v << 10;
		return true;
	}
	return false;
}

static void node_memory(struct disc *d, struct node *nd)
{
	char path[128];
	uint64_t total, free;

	if (nd->id < 0)
		snprintf(path, sizeof(path), "proc/meminfo");
	else
		snprintf(path, sizeof(path), NODE_DIR "/node%d/meminfo", nd->id);
	if (rd(d, path, true) < 0)
		return;
	if (!meminfo_field(d->buf, "MemTotal", &total)) {
		hms__topo_warn(d->t, "%s: no valid MemTotal line, size left out", path);
		return;
	}
	nd->mem_known = true;
	nd->size = total;
	if (meminfo_field(d->buf, "MemFree", &free) && free <= total)
		nd->free = free;
	else
		hms__topo_warn(d->t, "%s: no valid MemFree line, free memory left out", path);
}

static void node_caches(struct disc *d, struct node *nd)
{
	char dir[128], path[192];
	struct id_list l;

	snprintf(dir, sizeof(dir), NODE_DIR "/node%d/memory_side_cache", nd->id);
	if (nd->id < 0 || list_ids(d, dir, "index", &l))
		return;
	for (unsigned i = 0; i < l.n && nd->ncaches < 8; i++) {
		struct hms_memcache c = { .level = (unsigned)l.ids[i],
					  .indexing = HMS_CACHE_INDEXING_UNKNOWN,
					  .write_policy = HMS_CACHE_POLICY_UNKNOWN };
		uint64_t v;

		snprintf(path, sizeof(path), "%s/index%d/size", dir, l.ids[i]);
		if (!rd_u64(d, path, UINT64_MAX - 1, &c.size, true) || c.size == 0)
			continue; /* a cache without a size is no fact */
		snprintf(path, sizeof(path), "%s/index%d/line_size", dir, l.ids[i]);
		if (rd_u64(d, path, 1u << 20, &v, true))
			c.line_size = (unsigned)v;
		snprintf(path, sizeof(path), "%s/index%d/indexing", dir, l.ids[i]);
		if (rd_u64(d, path, 1, &v, true))
			c.indexing = (unsigned)v;
		snprintf(path, sizeof(path), "%s/index%d/write_policy", dir, l.ids[i]);
		if (rd_u64(d, path, 1, &v, true))
			c.write_policy = (unsigned)v;
		nd->caches[nd->ncaches++] = c;
	}
	free(l.ids);
}

/* accessN/initiators: the best initiators of this target and their figures. */
static void node_access(struct disc *d, struct node *nd, unsigned cls)
{
	static const char *const files[4] = { "read_bandwidth", "write_bandwidth",
					      "read_latency", "write_latency" };
	char dir[128], path[192];
	struct perf_entry *e = &nd->perf[nd->nperf];
	uint32_t *fig[4] = { &e->perf.read_bandwidth, &e->perf.write_bandwidth,
			     &e->perf.read_latency, &e->perf.write_latency };
	struct id_list l;
	unsigned zeros = 0;

	snprintf(dir, sizeof(dir), NODE_DIR "/node%d/access%u/initiators", nd->id, cls);
	/* Nodes without memory have access classes too, for their targets/. */
	if (nd->id < 0 || (nd->mem_known && nd->size == 0) || list_ids(d, dir, "node", &l))
		return;
	d->hmat = true;
	if (l.n == 0) {
		hms__topo_warn(d->t, "%s: lists no initiator node, left out", dir);
		free(l.ids);
		return;
	}
	*e = (struct perf_entry){ .cls = cls, .ini = l.ids, .nini = l.n };
	for (unsigned i = 0; i < 4; i++) {
		uint64_t v;

		*fig[i] = HMS_PERF_UNKNOWN;
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (!rd_u64(d, path, HMS_PERF_UNKNOWN - 1, &v, true))
			continue;
		if (v == 0)
			zeros++; /* 0 means "not given" (sysfs ABI) */
		else
			*fig[i] = (uint32_t)v;
	}
	e->zero = zeros == 4;
	nd->nperf++;
}

static void node_distances(struct disc *d)
{
	char path[128];
	unsigned *m = calloc((size_t)d->n * d->n + 1, sizeof(*m));
	int *ids = malloc(d->n * sizeof(*ids) + 1);

	if (!m || !ids || d->nodes[0].id < 0)
		goto out;
	for (unsigned i = 0; i < d->n; i++) {
		unsigned k = 0;
		char *p;

		ids[i] = d->nodes[i].id;
		snprintf(path, sizeof(path), NODE_DIR "/node%d/distance", ids[i]);
		if (rd(d, path, true) < 0)
			goto out;
		p = d->buf;
		for (;;) {
			unsigned long v;
			char *end;

			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '\n' || !*p)
				break;
			errno = 0;
			v = (*p >= '0' && *p <= '9') ? strtoul(p, &end, 10) : (end = p, 0);
			if (end == p || errno || v > 255 || k == d->n) {
				k = d->n + 1;
				break;
			}
			m[i * d->n + k++] = (unsigned)v;
			p = end;
		}
		if (k != d->n) {
			hms__topo_warn(d->t, "%s: expected %u distances, distances left out",
				       path, d->n);
			goto out;
		}
	}
	if (hms__topo_set_distances(d->t, ids, d->n, m) == 0) {
		d->dist = m;
		m = NULL;
	}
out:
	free(m);
	free(ids);
}

/* ------------------------------------------------------------------------
 * Step 3: facts kept outside the node directories
 * ---------------------------------------------------------------------- */

static void read_tiers(struct disc *d)
{
	const char *dir = "sys/devices/virtual/memory_tiering";
	char path[128];
	struct id_list l;

	if (list_ids(d, dir, "memory_tier", &l))
		return;
	for (unsigned i = 0; i < l.n; i++) {
		unsigned *ids, n;

		snprintf(path, sizeof(path), "%s/memory_tier%d/nodelist", dir, l.ids[i]);
		if (!rd_nodelist(d, path, &ids, &n, true))
			continue;
		for (unsigned k = 0; k < n; k++) {
			struct node *nd = node_get(d, (int)ids[k]);

			if (nd && nd->tier != HMS_NONE)
				hms__topo_warn(d->t, "%s: node%u already in memory_tier%d, kept there",
					       path, ids[k], nd->tier);
			else if (nd)
				nd->tier = l.ids[i];
		}
		free(ids);
	}
	free(l.ids);
}

static void read_generic_initiators(struct disc *d)
{
	unsigned *ids, n;

	if (!rd_nodelist(d, NODE_DIR "/has_generic_initiator", &ids, &n, false))
		return;
	for (unsigned k = 0; k < n; k++) {
		struct node *nd = node_get(d, (int)ids[k]);

		if (nd)
			nd->generic_initiator = true;
	}
	free(ids);
}

struct name_list {
	char **names;
	unsigned n;
	bool nomem;
};

static void collect_name(const char *name, void *arg)
{
	struct name_list *l = arg;
	char **nn;

	if (l->nomem || l->n >= 4096)
		return;
	nn = realloc(l->names, (l->n + 1) * sizeof(*nn));
	if (!nn || !(nn[l->n] = strdup(name))) {
		l->nomem = true;
		if (nn)
			l->names = nn;
		return;
	}
	l->names = nn;
	l->n++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Directory entries, sorted so that warnings come in a stable order. */
static int list_names(struct disc *d, const char *dir, struct name_list *l)
{
	int err = d->fs->list(d->fs, dir, collect_name, l);

	if (!err && l->n)
		qsort(l->names, l->n, sizeof(char *), cmp_str);
	return err;
}

static void names_free(struct name_list *l)
{
	for (unsigned i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
}

/* NVIDIA coherent GPU memory (POWER9 NVLink2, Grace Hopper): nodes listed
 * in proc/driver/nvidia/gpus/PCI/numa_status. */
static void read_gpus(struct disc *d)
{
	const char *dir = "proc/driver/nvidia/gpus";
	struct name_list l = { 0 };
	char path[384];

	if (list_names(d, dir, &l) == 0) {
		for (unsigned i = 0; i < l.n; i++) {
			const char *p;
			uint64_t v;
			struct node *nd;

			snprintf(path, sizeof(path), "%s/%s/numa_status", dir, l.names[i]);
			if (rd(d, path, false) < 0 || !(p = strstr(d->buf, "Node:")))
				continue;
			p += 5;
			v = strtoull(p, NULL, 10);
			nd = node_get(d, (int)v);
			if (!nd || v >= NODE_MAX) {
				hms__topo_warn(d->t, "%s: names a node that does not exist, ignored", path);
				continue;
			}
			nd->kind = HMS_TARGET_DEVICE_COHERENT;
			nd->kind_why = "GPU memory";
			snprintf(nd->gpu, sizeof(nd->gpu), "%s", l.names[i]);
		}
	}
	names_free(&l);
}

/* DAX devices onlined as system RAM (kmem): their parent tells PMEM
 * (NVDIMM region under ACPI0012 / ndbus) from CXL (region under the CXL
 * root ACPI0017). */
static void read_dax(struct disc *d)
{
	const char *dir = "sys/bus/dax/devices";
	struct name_list l = { 0 };
	char path[384], link[512];

	if (list_names(d, dir, &l) == 0) {
		for (unsigned i = 0; i < l.n; i++) {
			uint64_t node;
			struct node *nd;
			long n;

			snprintf(path, sizeof(path), "%s/%s", dir, l.names[i]);
			n = d->fs->readlink(d->fs, path, link, sizeof(link));
			snprintf(path, sizeof(path), "%s/%s/target_node", dir, l.names[i]);
			if (n <= 0 || !rd_u64(d, path, NODE_MAX, &node, false))
				continue;
			nd = node_get(d, (int)node);
			if (!nd || nd->kind != HMS_TARGET_DRAM)
				continue; /* DAX devices may target nodes that do not exist */
			if (strstr(link, "ACPI0017") || strstr(link, "cxl")) {
				nd->kind = HMS_TARGET_CXL;
				nd->kind_why = "CXL memory (DAX region under the CXL root)";
			} else if (strstr(link, "ACPI0012") || strstr(link, "ndbus")) {
				nd->kind = HMS_TARGET_PMEM;
				nd->kind_why = "persistent memory (NVDIMM DAX region onlined by kmem)";
			}
		}
	}
	names_free(&l);
}

/*
 * hwloc, on the live system only: hwloc 2.9 can be pointed at another root
 * only through the HWLOC_FSROOT environment variable, which a library must
 * not set.  It classifies nodes we could not (MCDRAM on KNL from its own
 * dumped hardware data, NVM, GPU memory).
 */
static void read_hwloc(struct disc *d)
{
	hwloc_topology_t topo;
	hwloc_obj_t o = NULL;

	if (!d->fs->root || strcmp(d->fs->root, "/") || hwloc_topology_init(&topo))
		return;
	if (hwloc_topology_set_flags(topo, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED) ||
	    hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE) ||
	    hwloc_topology_load(topo)) {
		hms__topo_warn(d->t, "hwloc: cannot load the topology, its hints left out");
		hwloc_topology_destroy(topo);
		return;
	}
	while ((o = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, o))) {
		struct node *nd = node_get(d, (int)o->os_index);
		const char *st = o->subtype;

		if (!nd || !st || nd->kind != HMS_TARGET_DRAM)
			continue;
		if (!strcmp(st, "MCDRAM") || !strcmp(st, "HBM")) {
			nd->kind = HMS_TARGET_HBM;
			nd->kind_why = "high-bandwidth memory (hwloc subtype)";
		} else if (!strcmp(st, "NVM")) {
			nd->kind = HMS_TARGET_PMEM;
			nd->kind_why = "persistent memory (hwloc subtype NVM)";
		} else if (!strncmp(st, "CXL", 3)) {
			nd->kind = HMS_TARGET_CXL;
			nd->kind_why = "CXL memory (hwloc subtype)";
		} else if (!strcmp(st, "GPUMemory")) {
			nd->kind = HMS_TARGET_DEVICE_COHERENT;
			nd->kind_why = "GPU memory (hwloc subtype)";
		}
	}
	hwloc_topology_destroy(topo);
}

/*
 * A memory-only node whose HMAT bandwidth beats every CPU node's local
 * bandwidth is high-bandwidth memory.  (No other kind is inferred from
 * figures: a slow node may be PMEM or CXL, and only DAX tells which.)
 */
static void infer_hbm(struct disc *d)
{
	uint32_t dram = 0;

	for (unsigned i = 0; i < d->n; i++) {
		const struct node *nd = &d->nodes[i];

		for (unsigned k = 0; k < nd->nperf && nd->ncpus; k++)
			if (nd->perf[k].perf.read_bandwidth != HMS_PERF_UNKNOWN &&
			    nd->perf[k].perf.read_bandwidth > dram)
				dram = nd->perf[k].perf.read_bandwidth;
	}
	for (unsigned i = 0; i < d->n && dram; i++) {
		struct node *nd = &d->nodes[i];

		if (nd->ncpus || nd->kind != HMS_TARGET_DRAM)
			continue;
		for (unsigned k = 0; k < nd->nperf; k++)
			if (nd->perf[k].perf.read_bandwidth != HMS_PERF_UNKNOWN &&
			    nd->perf[k].perf.read_bandwidth > dram) {
				nd->kind = HMS_TARGET_HBM;
				nd->kind_why = "high-bandwidth memory (memory-only node, HMAT "
					       "bandwidth above every CPU node's own memory)";
			}
	}
}

/* ------------------------------------------------------------------------
 * Step 4: objects
 * ---------------------------------------------------------------------- */

static const char *kind_word(unsigned kind)
{
	static const char *const w[] = { "?", "DRAM", "HBM", "PMEM", "CXL",
					 "device-private", "device-coherent" };

	return kind < sizeof(w) / sizeof(w[0]) ? w[kind] : "?";
}

static int make_targets(struct disc *d)
{
	char name[64], note[256];

	for (unsigned i = 0; i < d->n; i++) {
		struct node *nd = &d->nodes[i];
		struct hms_target_desc td = { .name = name, .kind = nd->kind,
					      .numa_node = nd->id, .size = nd->size,
					      .free = nd->free, .memory_tier = nd->tier,
					      .note = note };

		/* Nodes with CPUs only (MemTotal 0) are no target. */
		if (nd->mem_known && nd->size == 0)
			continue;
		snprintf(name, sizeof(name), nd->id < 0 ? "memory" : "node%d", nd->id);
		snprintf(note, sizeof(note), "%s%s%s%s%s", nd->kind_why ? nd->kind_why : "",
			 nd->gpu[0] ? " of GPU " : "", nd->gpu,
			 nd->kind_why && !nd->ncpus ? "; " : "",
			 !nd->ncpus ? "memory-only node (no CPUs)" : "");
		nd->target = hms__topo_add_target(d->t, &td, nd->caches, nd->ncaches);
		if (!nd->target)
			return -errno;
	}
	return 0;
}

static int make_initiators(struct disc *d)
{
	char name[96], note[160];
	char *cpulist = malloc(FILE_MAX);

	if (!cpulist)
		return -ENOMEM;
	for (unsigned i = 0; i < d->n; i++) {
		struct node *nd = &d->nodes[i];
		struct hms_initiator_desc id = { .name = name, .numa_node = nd->id,
						 .cpulist = cpulist, .note = note };

		note[0] = '\0';
		if (nd->ncpus) {
			id.kind = HMS_INITIATOR_CPU;
			hms__cpulist_format(nd->cpus, nd->ncpus, cpulist, FILE_MAX);
			snprintf(name, sizeof(name), nd->id < 0 ? "cpus" : "node%d-cpus", nd->id);
		} else if (nd->generic_initiator) {
			id.kind = HMS_INITIATOR_DEVICE;
			cpulist[0] = '\0';
			snprintf(name, sizeof(name), "node%d-initiator", nd->id);
			snprintf(note, sizeof(note), "ACPI generic initiator (has_generic_initiator)");
		} else if (nd->gpu[0]) {
			id.kind = HMS_INITIATOR_DEVICE;
			cpulist[0] = '\0';
			snprintf(name, sizeof(name), "gpu-%s", nd->gpu);
			snprintf(note, sizeof(note), "GPU owning node%d", nd->id);
		} else {
			continue;
		}
		nd->initiator = hms__topo_add_initiator(d->t, &id);
		if (!nd->initiator) {
			free(cpulist);
			return -errno;
		}
	}
	free(cpulist);
	return 0;
}

static bool perf_equal(const struct hms_perf *a, const struct hms_perf *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* Initiator uids of an access entry; 0 entries after a warning. */
static unsigned access_initiators(struct disc *d, const struct node *tgt,
				  const struct perf_entry *e, hms_uid *out)
{
	unsigned k = 0;

	for (unsigned i = 0; i < e->nini; i++) {
		struct node *in = node_get(d, e->ini[i]);

		if (in && in->initiator)
			out[k++] = in->initiator;
		else
			hms__topo_warn(d->t, NODE_DIR "/node%d/access%u/initiators/node%d: "
				       "not an initiator node, ignored",
				       tgt->id, e->cls, e->ini[i]);
	}
	return k;
}

static bool same_initiators(const struct perf_entry *a, const struct perf_entry *b)
{
	return a->nini == b->nini && !memcmp(a->ini, b->ini, a->nini * sizeof(int));
}

/*
 * Links from HMAT access classes.  Targets whose class lists the same
 * initiators with the same figures reach them alike: one link.  access1
 * (CPU initiators only) is taken first; access0 adds what it says beyond
 * it (generic initiators, different figures).
 */
struct hmat_ref {
	unsigned node;                 /* index in d->nodes */
	const struct perf_entry *e;
};

static unsigned hmat_refs(struct disc *d, struct hmat_ref *refs)
{
	unsigned n = 0;

	for (unsigned i = 0; i < d->n; i++) {
		const struct node *nd = &d->nodes[i];
		const struct perf_entry *a0 = NULL, *a1 = NULL;

		if (!nd->target)
			continue;
		for (unsigned k = 0; k < nd->nperf; k++) {
			if (nd->perf[k].cls == 0)
				a0 = &nd->perf[k];
			else
				a1 = &nd->perf[k];
		}
		if (a1)
			refs[n++] = (struct hmat_ref){ i, a1 };
		if (a0 && !(a1 && same_initiators(a0, a1) && perf_equal(&a0->perf, &a1->perf)))
			refs[n++] = (struct hmat_ref){ i, a0 };
	}
	return n;
}

static bool hmat_alike(const struct perf_entry *a, const struct perf_entry *b)
{
	return a->cls == b->cls && same_initiators(a, b) && perf_equal(&a->perf, &b->perf);
}

static void hmat_note(const struct perf_entry *e, char *note, size_t cap)
{
	if (e->zero)
		snprintf(note, cap, "HMAT access%u names the initiators but every "
			 "figure is 0: the firmware gave none", e->cls);
	else
		snprintf(note, cap, "HMAT access%u (%s initiators), from "
			 NODE_DIR "/nodeN/access%u/initiators", e->cls,
			 e->cls == 1 ? "CPU" : "any", e->cls);
}

static int make_hmat_links(struct disc *d, bool *covered)
{
	struct hmat_ref *refs = calloc((size_t)d->n * 2 + 1, sizeof(*refs));
	hms_uid *ini = malloc((d->n + 1) * sizeof(*ini));
	hms_uid *tgt = malloc((d->n + 1) * sizeof(*tgt));
	char name[256], note[256];
	unsigned nrefs;
	int err = 0;

	if (!refs || !ini || !tgt) {
		err = -ENOMEM;
		goto out;
	}
	nrefs = hmat_refs(d, refs);
	for (unsigned i = 0; i < nrefs; i++) {
		const struct perf_entry *e = refs[i].e;
		unsigned ntgt = 0, nini;
		int len;

		if (!e)
			continue; /* already in a link */
		nini = access_initiators(d, &d->nodes[refs[i].node], e, ini);
		len = snprintf(name, sizeof(name), "access%u:", e->cls);
		for (unsigned j = i; j < nrefs; j++) {
			const struct node *tg = &d->nodes[refs[j].node];

			if (!refs[j].e || !hmat_alike(refs[j].e, e))
				continue;
			refs[j].e = NULL;
			tgt[ntgt++] = tg->target;
			for (unsigned x = 0; x < e->nini; x++) {
				struct node *in = node_get(d, e->ini[x]);

				if (in && in->initiator)
					covered[(size_t)(in - d->nodes) * d->n + refs[j].node] = true;
			}
			if (len > 0 && (size_t)len < sizeof(name))
				len += snprintf(name + len, sizeof(name) - len, "%snode%d",
						ntgt > 1 ? "+" : "", tg->id);
		}
		if (!nini)
			continue;
		hmat_note(e, note, sizeof(note));
		struct hms_link_desc ld = { .name = name, .initiators = ini,
					    .ninitiators = nini, .targets = tgt,
					    .ntargets = ntgt, .perf = e->perf, .note = note };
		if (!hms__topo_add_link(d->t, &ld)) {
			err = -errno;
			goto out;
		}
	}
out:
	free(refs);
	free(ini);
	free(tgt);
	return err;
}

/* Every other initiator -> target pair of system memory: a link without
 * figures, saying why. */
static int make_pair_links(struct disc *d, const bool *covered)
{
	static const struct hms_perf none = { HMS_PERF_UNKNOWN, HMS_PERF_UNKNOWN,
					      HMS_PERF_UNKNOWN, HMS_PERF_UNKNOWN };
	char name[160], note[256];

	for (unsigned i = 0; i < d->n; i++) {
		struct node *in = &d->nodes[i];

		if (!in->initiator)
			continue;
		for (unsigned j = 0; j < d->n; j++) {
			struct node *tg = &d->nodes[j];
			struct hms_link_desc ld = { .name = name, .initiators = &in->initiator,
						    .ninitiators = 1, .targets = &tg->target,
						    .ntargets = 1, .perf = none, .note = note };
			int n;

			if (!tg->target || covered[(size_t)i * d->n + j])
				continue;
			/* a GPU reaches only its own memory as far as we know */
			if (in->gpu[0] && !in->ncpus && i != j)
				continue;
			snprintf(name, sizeof(name), "%s:node%d", in->id < 0 ? "cpus" : "", tg->id);
			if (in->id >= 0)
				snprintf(name, sizeof(name), "node%d:node%d", in->id, tg->id);
			if (tg->nperf || d->hmat)
				n = snprintf(note, sizeof(note), "no figures: sysfs gives HMAT "
					     "performance only from each target's best initiators");
			else
				n = snprintf(note, sizeof(note), "no figures: the firmware has no HMAT");
			if (d->dist && n > 0 && (size_t)n < sizeof(note))
				snprintf(note + n, sizeof(note) - n, "; SLIT distance %u",
					 d->dist[i * d->n + j]);
			if (!hms__topo_add_link(d->t, &ld))
				return -errno;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Discovery
 * ---------------------------------------------------------------------- */

static void disc_free(struct disc *d)
{
	for (unsigned i = 0; i < d->n; i++) {
		free(d->nodes[i].cpus);
		for (unsigned k = 0; k < d->nodes[i].nperf; k++)
			free(d->nodes[i].perf[k].ini);
	}
	free(d->nodes);
	free(d->dist);
	free(d->buf);
}

static int discover(struct disc *d)
{
	bool *covered;
	int err = find_nodes(d);

	if (err)
		return err;
	for (unsigned i = 0; i < d->n; i++) {
		node_cpus(d, &d->nodes[i]);
		node_memory(d, &d->nodes[i]);
		node_caches(d, &d->nodes[i]);
		node_access(d, &d->nodes[i], 0);
		node_access(d, &d->nodes[i], 1);
	}
	if (d->n > 1)
		node_distances(d);
	read_tiers(d);
	read_generic_initiators(d);
	read_gpus(d);
	read_dax(d);
	read_hwloc(d);
	infer_hbm(d);
	err = make_targets(d);
	if (!err)
		err = make_initiators(d);
	if (err)
		return err;
	covered = calloc((size_t)d->n * d->n + 1, sizeof(*covered));
	if (!covered)
		return -ENOMEM;
	err = make_hmat_links(d, covered);
	if (!err)
		err = make_pair_links(d, covered);
	free(covered);
	return err;
}

int hms__topology_discover_fs(const struct hms__topo_fs *fs,
			      struct hms_topology **out)
{
	struct disc d = { .fs = fs };
	int err;

	d.t = hms__topo_new();
	d.buf = malloc(FILE_MAX);
	if (!d.t || !d.buf) {
		hms_topology_put(d.t);
		free(d.buf);
		return -ENOMEM;
	}
	err = discover(&d);
	disc_free(&d);
	if (err) {
		hms_topology_put(d.t);
		return err;
	}
	*out = d.t;
	return 0;
}

int hms__topology_discover(const char *root, struct hms_topology **out)
{
	struct hms__topo_fs fs = { .read = dir_read, .list = dir_list,
				   .readlink = dir_readlink, .root = root };
	struct stat st;

	if (stat(root, &st) || !S_ISDIR(st.st_mode))
		return -ENOENT;
	return hms__topology_discover_fs(&fs, out);
}

const char *hms__topo_kind_word(unsigned kind)
{
	return kind_word(kind);
}
