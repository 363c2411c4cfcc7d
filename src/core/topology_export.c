/* SPDX-License-Identifier: MIT */
/*
 * topology_export.c - a snapshot written out: JSON (schema version
 * HMS_TOPOLOGY_JSON_VERSION, documented in docs/topology.md), a graphviz
 * digraph, and the HMS proposal's sysfs-style tree of directories.  Reads
 * snapshots through the public accessors only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "json.h"

static const char *const type_word[] = { "any", "target", "initiator", "link",
					 "bridge" };

static const char *initiator_word(unsigned kind)
{
	return kind == HMS_INITIATOR_CPU ? "cpu" : "device";
}

static const char *indexing_word(unsigned v)
{
	return v == HMS_CACHE_DIRECT_MAPPED ? "direct-mapped" :
	       v == HMS_CACHE_INDEXED ? "indexed" : "unknown";
}

static const char *policy_word(unsigned v)
{
	return v == HMS_CACHE_WRITE_BACK ? "write-back" :
	       v == HMS_CACHE_WRITE_THROUGH ? "write-through" : "unknown";
}

/* Lower-case kind names for JSON and the sysfs tree ("dram", "cxl", ...). */
static void kind_lower(unsigned kind, char *buf, size_t cap)
{
	const char *w = hms__topo_kind_word(kind);
	size_t i;

	for (i = 0; w[i] && i + 1 < cap; i++)
		buf[i] = (char)(w[i] >= 'A' && w[i] <= 'Z' ? w[i] + 32 : w[i]);
	buf[i] = '\0';
}

/* ------------------------------------------------------------------------
 * JSON
 * ---------------------------------------------------------------------- */

/*
 * The length of the UTF-8 sequence at s, 0 where s starts none (RFC 3629:
 * C0, C1 and F5 to FF never lead; the second byte's range rules out the
 * other overlong forms, the surrogates and code points past U+10FFFF).
 */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] >= 0xf5 ? 0 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (n && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
		  (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f)))
		return 0;
	return n;
}

HMS_API void hms__json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		size_t n;

		if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
		} else if (c == '\n') {
			fputs("\\n", f);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
		} else if (c < 0x80) {
			fputc(c, f);
		} else if ((n = utf8_len((const unsigned char *)s))) {
			fwrite(s, 1, n, f);
			s += n - 1;
		} else {
			/* JSON text is UTF-8 (RFC 8259): a stray byte is replaced */
			fputs("\\ufffd", f);
		}
	}
	fputc('"', f);
}

static void json_fig(FILE *f, const char *key, uint32_t v, bool last)
{
	if (v == HMS_PERF_UNKNOWN)
		fprintf(f, "\"%s\": null%s", key, last ? "" : ", ");
	else
		fprintf(f, "\"%s\": %u%s", key, v, last ? "" : ", ");
}

static void json_size(FILE *f, const char *key, uint64_t v)
{
	if (v == HMS_SIZE_UNKNOWN)
		fprintf(f, "\"%s\": null, ", key);
	else
		fprintf(f, "\"%s\": %llu, ", key, (unsigned long long)v);
}

static void json_int_or_null(FILE *f, const char *key, int v)
{
	if (v == HMS_NONE)
		fprintf(f, "\"%s\": null, ", key);
	else
		fprintf(f, "\"%s\": %d, ", key, v);
}

static void json_perf(FILE *f, const struct hms_perf *p)
{
	json_fig(f, "read_bandwidth", p->read_bandwidth, false);
	json_fig(f, "write_bandwidth", p->write_bandwidth, false);
	json_fig(f, "read_latency", p->read_latency, false);
	json_fig(f, "write_latency", p->write_latency, true);
}

static void json_uids(FILE *f, const struct hms_object *o,
		      enum hms_object_type type)
{
	long n = hms_object_members(o, type, NULL, 0);
	hms_uid *u = n > 0 ? malloc((size_t)n * sizeof(*u)) : NULL;

	fputc('[', f);
	if (u && hms_object_members(o, type, u, (size_t)n) == n)
		for (long i = 0; i < n; i++)
			fprintf(f, "%s%u", i ? ", " : "", u[i]);
	fputc(']', f);
	free(u);
}

static void json_head(FILE *f, const struct hms_object *o)
{
	fprintf(f, "    {\"uid\": %u, \"name\": ", hms_object_uid(o));
	hms__json_string(f, hms_object_name(o));
	fputs(", ", f);
}

static void json_tail(FILE *f, const struct hms_object *o, bool last)
{
	fputs("\"note\": ", f);
	hms__json_string(f, hms_object_note(o));
	fprintf(f, "}%s\n", last ? "" : ",");
}

static void json_target(FILE *f, const struct hms_object *o)
{
	struct hms_target_info ti;
	char kind[32];

	hms_target_info(o, &ti);
	kind_lower(ti.kind, kind, sizeof(kind));
	fprintf(f, "\"kind\": \"%s\", ", kind);
	json_int_or_null(f, "numa_node", ti.numa_node);
	json_size(f, "size", ti.size);
	json_size(f, "free", ti.free);
	json_int_or_null(f, "memory_tier", ti.memory_tier);
	fputs("\"memory_side_caches\": [", f);
	for (unsigned i = 0; i < ti.ncaches; i++) {
		struct hms_memcache c;

		hms_target_cache(o, i, &c);
		fprintf(f, "%s{\"level\": %u, \"size\": %llu, \"line_size\": %u, "
			"\"indexing\": \"%s\", \"write_policy\": \"%s\"}",
			i ? ", " : "", c.level, (unsigned long long)c.size, c.line_size,
			indexing_word(c.indexing), policy_word(c.write_policy));
	}
	fputs("], ", f);
}

static void json_initiator(FILE *f, const struct hms_object *o)
{
	struct hms_initiator_info ii;

	hms_initiator_info(o, &ii);
	fprintf(f, "\"kind\": \"%s\", ", initiator_word(ii.kind));
	json_int_or_null(f, "numa_node", ii.numa_node);
	fputs("\"cpus\": ", f);
	hms__json_string(f, ii.cpulist);
	fputs(", ", f);
}

static void json_link(FILE *f, const struct hms_object *o)
{
	struct hms_perf p;

	if (hms_object_type(o) == HMS_OBJECT_BRIDGE) {
		hms_uid from, to;

		hms_bridge_ends(o, &from, &to);
		fprintf(f, "\"from\": %u, \"to\": %u, ", from, to);
	} else {
		fputs("\"targets\": ", f);
		json_uids(f, o, HMS_OBJECT_TARGET);
		fputs(", ", f);
	}
	fputs("\"initiators\": ", f);
	json_uids(f, o, HMS_OBJECT_INITIATOR);
	fputs(", ", f);
	hms_object_perf(o, &p);
	json_perf(f, &p);
	fputs(", ", f);
}

static void json_section(FILE *f, const struct hms_topology *t,
			 enum hms_object_type type, bool last)
{
	const struct hms_object *o;
	size_t n = hms_topology_count(t, type), i = 0;

	fprintf(f, "  \"%ss\": [%s", type_word[type], n ? "\n" : "");
	hms_topology_for_each(t, type, o) {
		json_head(f, o);
		if (type == HMS_OBJECT_TARGET)
			json_target(f, o);
		else if (type == HMS_OBJECT_INITIATOR)
			json_initiator(f, o);
		else
			json_link(f, o);
		json_tail(f, o, ++i == n);
	}
	fprintf(f, "%s]%s\n", n ? "  " : "", last ? "" : ",");
}

static void json_distances(FILE *f, const struct hms_topology *t)
{
	const int *nodes;
	const unsigned *m;
	unsigned n = hms__topo_distances(t, &nodes, &m);

	if (!n) {
		fputs("  \"distances\": null,\n", f);
		return;
	}
	fputs("  \"distances\": {\"nodes\": [", f);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s%d", i ? ", " : "", nodes[i]);
	fputs("], \"matrix\": [", f);
	for (unsigned i = 0; i < n; i++) {
		fprintf(f, "%s[", i ? ", " : "");
		for (unsigned j = 0; j < n; j++)
			fprintf(f, "%s%u", j ? ", " : "", m[i * n + j]);
		fputc(']', f);
	}
	fputs("]},\n", f);
}

HMS_API int hms_topology_write_json(const struct hms_topology *t, FILE *f)
{
	const char *w;

	if (!t || !f)
		return -EINVAL;
	fprintf(f, "{\n  \"schema\": \"hms-topology\",\n  \"version\": %d,\n",
		HMS_TOPOLOGY_JSON_VERSION);
	fputs("  \"units\": {\"bandwidth\": \"MiB/s\", \"latency\": \"ns\", "
	      "\"size\": \"bytes\"},\n", f);
	json_section(f, t, HMS_OBJECT_TARGET, false);
	json_section(f, t, HMS_OBJECT_INITIATOR, false);
	json_section(f, t, HMS_OBJECT_LINK, false);
	json_section(f, t, HMS_OBJECT_BRIDGE, false);
	json_distances(f, t);
	fputs("  \"warnings\": [", f);
	for (size_t i = 0; (w = hms_topology_warning(t, i)); i++) {
		fputs(i ? ",\n    " : "\n    ", f);
		hms__json_string(f, w);
	}
	fputs(hms_topology_warning(t, 0) ? "\n  ]\n}\n" : "]\n}\n", f);
	return fflush(f) || ferror(f) ? -EIO : 0;
}

/* ------------------------------------------------------------------------
 * graphviz
 * ---------------------------------------------------------------------- */

static void dot_label_perf(FILE *f, const struct hms_perf *p)
{
	if (p->read_bandwidth != HMS_PERF_UNKNOWN)
		fprintf(f, "\\n%u MiB/s", p->read_bandwidth);
	if (p->read_latency != HMS_PERF_UNKNOWN)
		fprintf(f, "\\n%u ns", p->read_latency);
	if (p->read_bandwidth == HMS_PERF_UNKNOWN && p->read_latency == HMS_PERF_UNKNOWN)
		fputs("\\n(no figures)", f);
}

/* Names in labels: keep to characters that need no escaping. */
static void dot_name(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 ? '_' : *s, f);
}

static void dot_members(FILE *f, const struct hms_object *o,
			enum hms_object_type type, bool to_link)
{
	long n = hms_object_members(o, type, NULL, 0);
	hms_uid *u = n > 0 ? malloc((size_t)n * sizeof(*u)) : NULL;

	if (u && hms_object_members(o, type, u, (size_t)n) == n) {
		for (long i = 0; i < n; i++) {
			hms_uid a = to_link ? u[i] : hms_object_uid(o);
			hms_uid b = to_link ? hms_object_uid(o) : u[i];

			fprintf(f, "  o%u -> o%u [dir=none];\n", a, b);
		}
	}
	free(u);
}

HMS_API int hms_topology_write_dot(const struct hms_topology *t, FILE *f)
{
	const struct hms_object *o;

	if (!t || !f)
		return -EINVAL;
	fputs("digraph hms_topology {\n  rankdir=TB;\n  node [fontsize=10];\n", f);
	hms_topology_for_each(t, HMS_OBJECT_ANY, o) {
		enum hms_object_type type = hms_object_type(o);
		struct hms_perf p;

		fprintf(f, "  o%u [label=\"", hms_object_uid(o));
		dot_name(f, hms_object_name(o));
		if (type == HMS_OBJECT_TARGET) {
			struct hms_target_info ti;

			hms_target_info(o, &ti);
			fprintf(f, "\\n%s", hms__topo_kind_word(ti.kind));
			if (ti.size != HMS_SIZE_UNKNOWN)
				fprintf(f, " %llu MiB", (unsigned long long)(ti.size >> 20));
			fputs("\", shape=cylinder];\n", f);
		} else if (type == HMS_OBJECT_INITIATOR) {
			struct hms_initiator_info ii;

			hms_initiator_info(o, &ii);
			if (ii.ncpus)
				fputs("\\ncpus ", f);
			else
				fputs("\\ndevice", f);
			dot_name(f, ii.cpulist);
			fputs("\", shape=box];\n", f);
		} else {
			hms_object_perf(o, &p);
			dot_label_perf(f, &p);
			fprintf(f, "\", shape=%s];\n", type == HMS_OBJECT_LINK ? "diamond"
									    : "cds");
		}
	}
	hms_topology_for_each(t, HMS_OBJECT_LINK, o) {
		dot_members(f, o, HMS_OBJECT_INITIATOR, true);
		dot_members(f, o, HMS_OBJECT_TARGET, false);
	}
	hms_topology_for_each(t, HMS_OBJECT_BRIDGE, o) {
		hms_uid from, to;

		hms_bridge_ends(o, &from, &to);
		fprintf(f, "  o%u -> o%u;\n  o%u -> o%u;\n", from, hms_object_uid(o),
			hms_object_uid(o), to);
	}
	fputs("}\n", f);
	return fflush(f) || ferror(f) ? -EIO : 0;
}

/* ------------------------------------------------------------------------
 * The sysfs-style tree: DIR/version and DIR/v<version>-<uid>-<type>/
 * {attributes, links}.  Files are created 0444 and never overwritten.
 * ---------------------------------------------------------------------- */

static int tree_attr(int dirfd, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int tree_attr(int dirfd, const char *name, const char *fmt, ...)
{
	va_list ap;
	FILE *f;
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	int err = 0;

	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		return err;
	}
	va_start(ap, fmt);
	if (vfprintf(f, fmt, ap) < 0)
		err = -EIO;
	va_end(ap);
	if (fclose(f))
		err = err ? err : -EIO;
	return err;
}

static int tree_fig(int dirfd, const char *name, uint32_t v)
{
	return v == HMS_PERF_UNKNOWN ? tree_attr(dirfd, name, "unknown\n")
				     : tree_attr(dirfd, name, "%u\n", v);
}

static void tree_dirname(const struct hms_topology *t, hms_uid uid, char *buf,
			 size_t cap)
{
	const struct hms_object *o = hms_object_find(t, uid);

	snprintf(buf, cap, "v%d-%u-%s", HMS_TOPOLOGY_SYSFS_VERSION, uid,
		 type_word[o ? hms_object_type(o) : 0]);
}

/* Symlinks PREFIX<uid> -> ../v1-<uid>-<type> for each member. */
static int tree_links(const struct hms_topology *t, int dirfd,
		      const struct hms_object *o, enum hms_object_type type)
{
	long n = hms_object_members(o, type, NULL, 0);
	hms_uid *u;
	int err = 0;

	if (n <= 0)
		return 0;
	u = malloc((size_t)n * sizeof(*u));
	if (!u)
		return -ENOMEM;
	hms_object_members(o, type, u, (size_t)n);
	for (long i = 0; i < n && !err; i++) {
		char name[64], target[96];

		tree_dirname(t, u[i], target + 3, sizeof(target) - 3);
		memcpy(target, "../", 3);
		snprintf(name, sizeof(name), "%s%u", type_word[type], u[i]);
		if (symlinkat(target, dirfd, name))
			err = -errno;
	}
	free(u);
	return err;
}

static int tree_perf(int dirfd, const struct hms_object *o)
{
	struct hms_perf p;
	int err;

	hms_object_perf(o, &p);
	err = tree_fig(dirfd, "read_bandwidth", p.read_bandwidth);
	err = err ? err : tree_fig(dirfd, "write_bandwidth", p.write_bandwidth);
	err = err ? err : tree_fig(dirfd, "read_latency", p.read_latency);
	return err ? err : tree_fig(dirfd, "write_latency", p.write_latency);
}

static int tree_target(int dirfd, const struct hms_object *o)
{
	struct hms_target_info ti;
	char kind[32];
	int err;

	hms_target_info(o, &ti);
	kind_lower(ti.kind, kind, sizeof(kind));
	err = tree_attr(dirfd, "kind", "%s\n", kind);
	err = err ? err : tree_attr(dirfd, "numa_node", "%d\n", ti.numa_node);
	if (!err && ti.size != HMS_SIZE_UNKNOWN)
		err = tree_attr(dirfd, "size", "%llu\n", (unsigned long long)ti.size);
	if (!err && ti.free != HMS_SIZE_UNKNOWN)
		err = tree_attr(dirfd, "free", "%llu\n", (unsigned long long)ti.free);
	return err ? err : tree_attr(dirfd, "memory_tier", "%d\n", ti.memory_tier);
}

static int tree_object(const struct hms_topology *t, int root,
		       const struct hms_object *o)
{
	enum hms_object_type type = hms_object_type(o);
	char dname[64];
	int fd, err;

	tree_dirname(t, hms_object_uid(o), dname, sizeof(dname));
	if (mkdirat(root, dname, 0755))
		return -errno;
	fd = openat(root, dname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = tree_attr(fd, "uid", "%u\n", hms_object_uid(o));
	err = err ? err : tree_attr(fd, "type", "%s\n", type_word[type]);
	err = err ? err : tree_attr(fd, "name", "%s\n", hms_object_name(o));
	if (!err && *hms_object_note(o))
		err = tree_attr(fd, "note", "%s\n", hms_object_note(o));
	if (!err && type == HMS_OBJECT_TARGET)
		err = tree_target(fd, o);
	if (!err && type == HMS_OBJECT_INITIATOR) {
		struct hms_initiator_info ii;

		hms_initiator_info(o, &ii);
		err = tree_attr(fd, "kind", "%s\n", initiator_word(ii.kind));
		err = err ? err : tree_attr(fd, "numa_node", "%d\n", ii.numa_node);
		err = err ? err : tree_attr(fd, "cpus", "%s\n", ii.cpulist);
	}
	if (!err && (type == HMS_OBJECT_LINK || type == HMS_OBJECT_BRIDGE)) {
		err = tree_perf(fd, o);
		err = err ? err : tree_links(t, fd, o, HMS_OBJECT_INITIATOR);
		if (!err && type == HMS_OBJECT_LINK)
			err = tree_links(t, fd, o, HMS_OBJECT_TARGET);
	}
	if (!err && type == HMS_OBJECT_BRIDGE) {
		hms_uid from, to;
		char target[96];

		hms_bridge_ends(o, &from, &to);
		memcpy(target, "../", 3);
		tree_dirname(t, from, target + 3, sizeof(target) - 3);
		err = symlinkat(target, fd, "from") ? -errno : 0;
		tree_dirname(t, to, target + 3, sizeof(target) - 3);
		if (!err)
			err = symlinkat(target, fd, "to") ? -errno : 0;
	}
	close(fd);
	return err;
}

/*
 * Does the directory hold no tree yet: neither a version file nor an
 * entry v<version>-*?  0, -EEXIST, or the errno of reading it.  Checked
 * before anything is written, whoever the caller: the files of a tree are
 * 0444, so a second call used to fail with -EACCES on the version file,
 * except as root, which overwrote it and then met -EEXIST.  (A writer
 * racing us still meets -EEXIST: the version file is made O_EXCL.)
 */
static int tree_absent(int root)
{
	char prefix[16];
	int plen = snprintf(prefix, sizeof(prefix), "v%d-", HMS_TOPOLOGY_SYSFS_VERSION);
	int fd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = 0;
	struct dirent *e;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	errno = 0;
	while (!err && (e = readdir(d)))
		if (!strcmp(e->d_name, "version") || !strncmp(e->d_name, prefix, (size_t)plen))
			err = -EEXIST;
	if (!err && errno)
		err = -errno;
	closedir(d);
	return err;
}

HMS_API int hms_topology_write_sysfs(const struct hms_topology *t, const char *dir)
{
	const struct hms_object *o;
	int root, err = 0;

	if (!t || !dir || !*dir)
		return -EINVAL;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	err = tree_absent(root);
	if (!err)
		err = tree_attr(root, "version", "%d\n", HMS_TOPOLOGY_SYSFS_VERSION);
	hms_topology_for_each(t, HMS_OBJECT_ANY, o) {
		if (err)
			break;
		err = tree_object(t, root, o);
	}
	close(root);
	return err;
}
