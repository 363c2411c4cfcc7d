/* SPDX-License-Identifier: MIT */
/* cli.c - command-line helpers shared by the subcommands (cli.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hms.h"

int cli_uint(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max,
	     uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s) {
		fprintf(stderr, "%s: %s: missing value\n", cmd, opt);
		return -1;
	}
	/* strtoull alone would take " -1", "+1" and "0x10" */
	if (!*s || s[strspn(s, "0123456789")]) {
		fprintf(stderr, "%s: %s: invalid number '%s'\n", cmd, opt, s);
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v < min || v > max) {
		fprintf(stderr, "%s: %s: '%s' is out of range (%llu to %llu)\n", cmd, opt, s,
			(unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

void cli_open_error(const char *cmd, int err)
{
	const char *root = getenv("HMS_SYSFS_ROOT");

	if (root && *root && access(root, R_OK | X_OK)) {
		fprintf(stderr, "%s: HMS_SYSFS_ROOT=%s: %s\n", cmd, root, strerror(errno));
		return;
	}
	fprintf(stderr, "%s: hms_open: %s\n", cmd,
		*hms_last_error() ? hms_last_error() : strerror(-err));
}

void cli_write_error(const char *cmd, int err)
{
	fprintf(stderr, "%s: write error on standard output%s%s\n", cmd, err ? ": " : "",
		err ? strerror(err) : "");
}

int cli_flush_stdout(const char *cmd)
{
	errno = 0;
	if (!fflush(stdout) && !ferror(stdout))
		return 0;
	/* errno is fflush's; 0 when only an earlier write failed */
	cli_write_error(cmd, errno);
	clearerr(stdout);
	return -1;
}
