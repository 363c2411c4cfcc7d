/* SPDX-License-Identifier: MIT */
/*
 * Every man page (man/man1, man/man3, man/man7) renders without a warning
 * from groff (-man -ww: all warnings): no undefined macro or escape, no
 * character groff cannot print (a form feed where "\f" was meant once
 * turned hms_open(3)'s hms_stats line into one groff could not print), no
 * .so link to a page that is missing.  SKIP without groff (Debian package
 * groff-base, which CI installs).
 */
#include <dirent.h>
#include <unistd.h>

#include "hms_test.h"

static const char *const sections[] = { "man1", "man3", "man7" };

int main(void)
{
	const char *src = getenv("HMS_SOURCE_DIR");
	char mandir[4096], cmd[8192], line[1024];
	int pages = 0, bad = 0;

	if (!src)
		T_SKIP("HMS_SOURCE_DIR not set (run through ctest)");
	if (access("/usr/bin/groff", X_OK))
		T_SKIP("no groff (Debian package groff-base) to render the man pages");
	snprintf(mandir, sizeof(mandir), "%s/man", src);
	/* .so links name pages relative to man/ */
	T_EQ(chdir(mandir), 0);
	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		DIR *dir = opendir(sections[s]);
		struct dirent *e;

		T_ASSERT(dir);
		while ((e = readdir(dir))) {
			int lines = 0, st = -1;

			if (e->d_name[0] == '.')
				continue;
			pages++;
			snprintf(cmd, sizeof(cmd), "LC_ALL=C groff -man -ww -z '%s/%s' 2>&1",
				 sections[s], e->d_name);
			/* A warning is the page's; a run that said nothing and
			 * failed (the shell or groff not started: no memory
			 * for a process just then) is tried again, once. */
			for (int tries = 0; tries < 2 && !lines && st; tries++) {
				FILE *f = popen(cmd, "r");

				if (!f) {
					fprintf(stderr, "%s/%s: popen: %s\n", sections[s],
						e->d_name, strerror(errno));
					continue;
				}
				while (fgets(line, sizeof(line), f)) {
					fprintf(stderr, "%s/%s: %s", sections[s], e->d_name, line);
					lines++;
				}
				st = pclose(f);
				if (st)
					fprintf(stderr, "%s/%s: groff exit status %#x\n", sections[s],
						e->d_name, (unsigned)st);
			}
			bad += lines > 0 || st != 0;
		}
		closedir(dir);
	}
	T_ASSERT(pages > 50); /* the pages were found */
	T_EQ(bad, 0);
	printf("ok: %d man pages render without a warning\n", pages);
	return 0;
}
