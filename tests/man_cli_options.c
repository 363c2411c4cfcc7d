/* SPDX-License-Identifier: MIT */
/*
 * man_cli_options: each `hms` subcommand's man page (man/man1/hms-NAME.1)
 * and its --help text name the same options, and both say how to get the
 * help: every subcommand answers --help and -h with its usage on stdout
 * and exit 0, so both spellings are in its man page.  An option is a
 * word starting with - or -- and a lower-case letter, not inside a word
 * (hms-topo, read-mostly) and not an errno name (-ENOMEM).
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo_util.h"

#define MAXOPT 64

struct opts {
	char name[MAXOPT][32];
	int n;
};

/* The options named in text (man page escapes \- already undone). */
static void options(const char *text, struct opts *o)
{
	o->n = 0;
	for (const char *s = text; *s; s++) {
		const char *w = s;
		size_t len;
		bool seen = false;

		if (*s != '-' || (s > text && (isalnum((unsigned char)s[-1]) || s[-1] == '-')))
			continue;
		w = s[1] == '-' ? s + 2 : s + 1;
		if (!islower((unsigned char)*w))
			continue;
		len = (size_t)(w - s) + strspn(w, "abcdefghijklmnopqrstuvwxyz-");
		for (int i = 0; i < o->n; i++)
			seen |= strlen(o->name[i]) == len && !strncmp(o->name[i], s, len);
		if (!seen && o->n < MAXOPT && len < sizeof(o->name[0]))
			snprintf(o->name[o->n++], sizeof(o->name[0]), "%.*s", (int)len, s);
		s += len - 1;
	}
}

static bool has(const struct opts *o, const char *name)
{
	for (int i = 0; i < o->n; i++)
		if (!strcmp(o->name[i], name))
			return true;
	return false;
}

int main(void)
{
	static const char *const cmds[] = { "version", "demo", "topo", "bench", "stress", "bind",
					    "stat" };
	const char *tool = getenv("HMS_TOOL"), *src = getenv("HMS_SOURCE_DIR");

	if (!tool || !src) {
		fprintf(stderr, "HMS_TOOL / HMS_SOURCE_DIR missing (run through ctest)\n");
		return 1;
	}
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
		char cmd[2048], path[1024], *help = NULL, *help_h = NULL, *man, *d;
		struct opts h, m;

		snprintf(cmd, sizeof(cmd), "'%s' %s --help 2>&1", tool, cmds[c]);
		TOPO_CHECK(topo_run(cmd, &help) == 0 && help && strstr(help, "usage: hms "),
			   "hms %s --help: exit 0 and the usage", cmds[c]);
		snprintf(cmd, sizeof(cmd), "'%s' %s -h 2>/dev/null", tool, cmds[c]);
		TOPO_CHECK(topo_run(cmd, &help_h) == 0 && help_h && help &&
			   !strcmp(help, help_h), "hms %s -h: exit 0 and the --help text", cmds[c]);
		snprintf(path, sizeof(path), "%s/man/man1/hms-%s.1", src, cmds[c]);
		man = topo_read_file(path);
		TOPO_CHECK(man, "no %s", path);
		if (!help || !man) {
			free(help);
			free(help_h);
			free(man);
			continue;
		}
		/* troff's \- is a -: undo it in place */
		for (char *r = man; *r; r++)
			if (r[0] == '\\' && r[1] == '-')
				memmove(r, r + 1, strlen(r));
		options(help, &h);
		options(man, &m);
		for (int i = 0; i < h.n; i++)
			TOPO_CHECK(has(&m, h.name[i]), "hms %s --help names %s, hms-%s.1 does not",
				   cmds[c], h.name[i], cmds[c]);
		for (int i = 0; i < m.n; i++)
			TOPO_CHECK(has(&h, m.name[i]) || !strcmp(m.name[i], "--help") ||
				   !strcmp(m.name[i], "-h") || !strcmp(m.name[i], "--version"),
				   "hms-%s.1 names %s, hms %s --help does not", cmds[c], m.name[i],
				   cmds[c]);
		/* the page says how to get the usage, both spellings */
		d = strstr(man, ".SH OPTIONS");
		TOPO_CHECK(d && has(&m, "--help") && has(&m, "-h"),
			   "hms-%s.1: no OPTIONS section naming --help and -h", cmds[c]);
		free(help);
		free(help_h);
		free(man);
	}
	return topo_result();
}
