/* SPDX-License-Identifier: MIT */
/*
 * fuzz_topology_sysfs.c - libFuzzer target over the sysfs discovery.
 *
 * The input is an in-memory tree: records "PATH\0CONTENT\0", PATH relative
 * to the root ("sys/devices/system/node/node0/meminfo"); CONTENT starting
 * with "@>" makes PATH a symlink to the rest.  Directories exist where a
 * path passes through them.  Every discovered topology is also exported,
 * to run the writers over whatever the parser let through.
 * Build and run: tests/fuzz/run-topology.sh SECONDS.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

struct rec {
	const char *path, *data;
	size_t len;
};

struct memfs {
	struct rec *r;
	size_t n;
};

int hms__check(struct hms *h) /* the core's, not linked here */
{
	return h ? 0 : -EINVAL;
}

static const struct rec *mem_find(const struct memfs *m, const char *path)
{
	for (size_t i = m->n; i-- > 0;) /* the last record of a path wins */
		if (!strcmp(m->r[i].path, path))
			return &m->r[i];
	return NULL;
}

static long mem_read(const struct hms__topo_fs *fs, const char *path, char *buf,
		     size_t cap)
{
	const struct rec *r = mem_find(fs->priv, path);
	size_t n;

	if (!r)
		return -ENOENT;
	if (r->len >= 2 && !memcmp(r->data, "@>", 2))
		return -EISDIR; /* symlinks lead to directories here */
	n = r->len < cap - 1 ? r->len : cap - 1;
	memcpy(buf, r->data, n);
	buf[n] = '\0';
	return (long)n;
}

static int mem_list(const struct hms__topo_fs *fs, const char *dir,
		    void (*fn)(const char *name, void *arg), void *arg)
{
	const struct memfs *m = fs->priv;
	size_t dl = strlen(dir);
	char name[256];
	int found = 0;

	for (size_t i = 0; i < m->n; i++) {
		const char *p = m->r[i].path, *end;
		size_t nl;
		bool dup = false;

		if (strncmp(p, dir, dl) || p[dl] != '/')
			continue;
		p += dl + 1;
		end = strchr(p, '/');
		nl = end ? (size_t)(end - p) : strlen(p);
		if (nl == 0 || nl >= sizeof(name))
			continue;
		found = 1;
		for (size_t k = 0; k < i && !dup; k++) /* names once */
			dup = !strncmp(m->r[k].path, dir, dl) && m->r[k].path[dl] == '/' &&
			      !strncmp(m->r[k].path + dl + 1, p, nl) &&
			      (m->r[k].path[dl + 1 + nl] == '/' || !m->r[k].path[dl + 1 + nl]);
		if (dup)
			continue;
		memcpy(name, p, nl);
		name[nl] = '\0';
		fn(name, arg);
	}
	return found ? 0 : -ENOENT;
}

static long mem_readlink(const struct hms__topo_fs *fs, const char *path,
			 char *buf, size_t cap)
{
	const struct rec *r = mem_find(fs->priv, path);
	size_t n;

	if (!r || r->len < 2 || memcmp(r->data, "@>", 2))
		return -EINVAL;
	n = r->len - 2 < cap - 1 ? r->len - 2 : cap - 1;
	memcpy(buf, r->data + 2, n);
	buf[n] = '\0';
	return (long)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memfs m = { 0 };
	struct hms__topo_fs fs = { .read = mem_read, .list = mem_list,
				   .readlink = mem_readlink, .priv = &m };
	struct hms_topology *t;
	char *copy = malloc(size + 2);
	size_t pos = 0;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = copy[size + 1] = '\0';
	m.r = calloc(size / 2 + 1, sizeof(*m.r));
	while (m.r && pos < size) { /* split into records */
		char *path = copy + pos, *body;

		pos += strlen(path) + 1;
		if (pos > size)
			break;
		body = copy + pos;
		m.r[m.n++] = (struct rec){ path, body, strlen(body) };
		pos += strlen(body) + 1;
	}
	if (m.r && hms__topology_discover_fs(&fs, &t) == 0) {
		FILE *f = fopen("/dev/null", "w");
		long n = hms_topology_matrix(t, NULL, 0);
		struct hms_matrix_cell *c = n > 0 && n < 100000 ? malloc(n * sizeof(*c)) : NULL;

		if (f) {
			hms_topology_write_json(t, f);
			hms_topology_write_dot(t, f);
			fclose(f);
		}
		if (c)
			hms_topology_matrix(t, c, (size_t)n);
		free(c);
		hms_topology_put(t);
	}
	free(m.r);
	free(copy);
	return 0;
}
