/* SPDX-License-Identifier: MIT */
/* topo_util.c - shared helpers of the topology tests. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "topo_util.h"

int topo_failures;
static char *tmpdirs[64];
static unsigned ntmpdirs;

int topo_result(void)
{
	topo_cleanup();
	if (topo_failures)
		fprintf(stderr, "%d check(s) failed\n", topo_failures);
	return topo_failures ? 1 : 0;
}

const char *topo_fixtures(void)
{
	const char *f = getenv("HMS_FIXTURES");

	if (!f || !*f)
		fprintf(stderr, "HMS_FIXTURES is not set (run through ctest)\n");
	return f && *f ? f : NULL;
}

char *topo_tmpdir(void)
{
	char tmpl[] = "/tmp/hms-topo-XXXXXX";
	char *d = mkdtemp(tmpl);

	if (!d || ntmpdirs == 64)
		return NULL;
	tmpdirs[ntmpdirs] = strdup(d);
	return tmpdirs[ntmpdirs++];
}

void topo_cleanup(void)
{
	char cmd[256];

	while (ntmpdirs) {
		char *d = tmpdirs[--ntmpdirs];

		snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", d, d);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", d);
		free(d);
	}
}

int topo_run_tool(const char *env, const char *args, char **out, char *err, size_t len)
{
	static char errpath[512];
	const char *tool = getenv("HMS_TOOL");
	char *cmd, *text;
	int st;

	err[0] = '\0';
	if (!errpath[0]) {
		char *dir = topo_tmpdir();

		if (dir)
			snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	}
	if (!tool || !errpath[0] ||
	    asprintf(&cmd, "%s '%s' %s 2>'%s'", env ? env : "", tool, args, errpath) < 0)
		return -1;
	st = topo_run(cmd, out);
	free(cmd);
	text = topo_read_file(errpath);
	if (text) {
		text[strcspn(text, "\n")] = '\0';
		snprintf(err, len, "%s", text);
		free(text);
	}
	return st;
}

int topo_run(const char *cmd, char **out)
{
	FILE *p = popen(cmd, "r");
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int st;

	if (!p || !buf) {
		free(buf);
		if (p)
			pclose(p);
		return -1;
	}
	for (;;) {
		size_t r;

		if (len + 1 == cap) {
			char *n = realloc(buf, cap * 2);

			if (!n)
				break;
			buf = n;
			cap *= 2;
		}
		r = fread(buf + len, 1, cap - 1 - len, p);
		if (r == 0)
			break;
		len += r;
	}
	buf[len] = '\0';
	st = pclose(p);
	if (out)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *topo_fixture_root(const char *name)
{
	const char *fx = topo_fixtures();
	char cmd[1024], *path = NULL, *dir, *listing = NULL;
	size_t nl = strlen(name);

	if (!fx)
		return NULL;
	if (nl < 8 || strcmp(name + nl - 8, ".tar.bz2")) {
		if (asprintf(&path, "%s/sysfs/%s", fx, name) < 0)
			return NULL;
		return path;
	}
	dir = topo_tmpdir();
	if (!dir)
		return NULL;
	snprintf(cmd, sizeof(cmd), "tar -C '%s' -xjf '%s/sysfs/hwloc/%s' && ls '%s'",
		 dir, fx, name, dir);
	if (topo_run(cmd, &listing) != 0 || !*listing) {
		fprintf(stderr, "cannot unpack %s\n", name);
		free(listing);
		return NULL;
	}
	listing[strcspn(listing, "\n")] = '\0';
	if (asprintf(&path, "%s/%s", dir, listing) < 0)
		path = NULL;
	free(listing);
	return path;
}

char *topo_copy_tree(const char *src)
{
	char cmd[1024], *dir = topo_tmpdir(), *path = NULL;

	if (!dir)
		return NULL;
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s/root'", src, dir);
	if (topo_run(cmd, NULL) != 0 || asprintf(&path, "%s/root", dir) < 0)
		return NULL;
	return path;
}

char *topo_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

int topo_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) ? -EIO : 0;
}

const struct hms_object *topo_by_name(const struct hms_topology *t,
				      enum hms_object_type type, const char *name)
{
	const struct hms_object *o;

	hms_topology_for_each(t, type, o)
		if (!strcmp(hms_object_name(o), name))
			return o;
	return NULL;
}

bool topo_has_warning(const struct hms_topology *t, const char *s)
{
	const char *w;

	for (size_t i = 0; (w = hms_topology_warning(t, i)); i++)
		if (strstr(w, s))
			return true;
	return false;
}

struct hms *topo_open_empty(void)
{
	struct hms_options o = { .size = sizeof(o), .flags = HMS_OPEN_NO_TOPOLOGY };
	struct hms *h;
	int err = hms_open(&h, &o);

	if (err) {
		printf("SKIP: hms_open: %s (%s)\n", strerror(-err), hms_last_error());
		return NULL;
	}
	return h;
}
