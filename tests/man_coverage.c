/* SPDX-License-Identifier: MIT */
/*
 * Every function libhms exports has a man page (man/man3/NAME.3, a page of
 * its own or a .so link to the page that documents it), and every .so link
 * points at a page that exists.  hms__* symbols are internal (exported for
 * the fault-injection tests only) and are left out.
 */
#include <dlfcn.h>
#include <unistd.h>

#include "hms_test.h"

int main(void)
{
	const char *src = getenv("HMS_SOURCE_DIR");
	char cmd[4096], line[512], path[4096];
	Dl_info info;
	FILE *f;
	int n = 0, missing = 0;

	if (!src)
		T_SKIP("HMS_SOURCE_DIR not set (run through ctest)");
	T_ASSERT(dladdr((void *)hms_open, &info) && info.dli_fname);
	if (access("/usr/bin/nm", X_OK))
		T_SKIP("no nm (binutils) to list the library's symbols");
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s'", info.dli_fname);
	f = popen(cmd, "r");
	T_ASSERT(f);
	while (fgets(line, sizeof(line), f)) {
		char type, name[256];
		FILE *page;

		if (sscanf(line, "%*s %c %255s", &type, name) != 2 || type != 'T')
			continue;
		name[strcspn(name, "@")] = 0; /* hms_open@@HMS_0.1 */
		if (!strncmp(name, "hms__", 5))
			continue; /* internal, test-only (fault injection): no public call */
		n++;
		snprintf(path, sizeof(path), "%s/man/man3/%s.3", src, name);
		page = fopen(path, "r");
		if (!page) {
			fprintf(stderr, "no man page for %s\n", name);
			missing++;
			continue;
		}
		if (fgets(line, sizeof(line), page) && !strncmp(line, ".so ", 4)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(path, sizeof(path), "%s/man/%s", src, line + 4);
			if (access(path, R_OK)) {
				fprintf(stderr, "%s.3 links to missing %s\n", name, line + 4);
				missing++;
			}
		}
		fclose(page);
	}
	pclose(f);
	T_ASSERT(n > 50); /* the library's calls were listed */
	T_EQ(missing, 0);
	printf("ok: %d exported functions, each with a man page\n", n);
	return 0;
}
