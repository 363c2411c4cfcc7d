/* SPDX-License-Identifier: MIT */
/* cli.c - command-line helpers shared by the subcommands (cli.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hms.h"

int cli_parse_uint(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	bool range = false;

	/* digits only: strtoull would take " -1", "+1" and "0x10" */
	if (!len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9)
			return -EINVAL;
		if (v > (UINT64_MAX - d) / 10)
			range = true; /* still looking for a non-digit */
		else
			v = v * 10 + d;
	}
	if (range || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

void cli_uint_why(FILE *f, const char *s, size_t len, int err, uint64_t min, uint64_t max)
{
	if (err == -EINVAL)
		fprintf(f, "invalid number '%.*s'\n", (int)len, s);
	else
		fprintf(f, "'%.*s' is out of range (%llu to %llu)\n", (int)len, s,
			(unsigned long long)min, (unsigned long long)max);
}

int cli_uint(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max,
	     uint64_t *out)
{
	int err;

	if (!s) {
		fprintf(stderr, "%s: %s: missing value\n", cmd, opt);
		return -1;
	}
	err = cli_parse_uint(s, strlen(s), min, max, out);
	if (!err)
		return 0;
	fprintf(stderr, "%s: %s: ", cmd, opt);
	cli_uint_why(stderr, s, strlen(s), err, min, max);
	return -1;
}

int cli_help(const char *cmd, int argc, char **argv)
{
	int help = 0;

	for (int i = 1; i < argc && !help && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			help = i;
	if (!help || argc == 2)
		return help ? 1 : 0;
	fprintf(stderr, "%s: %s: unexpected argument '%s'\n", cmd, argv[help],
		argv[help == 1 ? 2 : 1]);
	return -1;
}

void cli_option(int argc, char **argv, int i, struct cli_opt *o)
{
	const char *a = argv[i], *eq = strchr(a, '=');
	size_t n = eq ? (size_t)(eq - a) : 0;

	o->joined = a[0] == '-' && a[1] == '-' && eq && n > 2 && n < sizeof(o->buf);
	if (!o->joined) {
		o->name = a;
		o->value = i + 1 < argc ? argv[i + 1] : NULL;
		return;
	}
	memcpy(o->buf, a, n);
	o->buf[n] = 0;
	o->name = o->buf;
	o->value = eq + 1;
}

int cli_no_value(const char *cmd, const struct cli_opt *o)
{
	if (!o->joined)
		return 0;
	fprintf(stderr, "%s: %s: takes no value\n", cmd, o->name);
	return -1;
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

/*
 * Standard output goes through a stream of ours that keeps the errno of
 * the first write that failed: stdio only remembers that one did
 * (ferror), and output longer than its buffer (hms stress --help) is
 * written part way through, long before cli_flush_stdout() asks why.
 */
static int out_errno; /* of the first failed write; main thread only */

static ssize_t out_write(void *cookie, const char *buf, size_t n)
{
	size_t done = 0;

	(void)cookie;
	while (done < n) {
		ssize_t w = write(STDOUT_FILENO, buf + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (!out_errno)
				out_errno = w < 0 ? errno : EIO;
			return -1;
		}
		done += (size_t)w;
	}
	return (ssize_t)done;
}

void cli_stdout_init(void)
{
	cookie_io_functions_t io = { .write = out_write };
	FILE *f = fopencookie(NULL, "w", io);

	if (!f)
		return; /* stdio's own stream then: the reason may be lost */
	/* As stdio would: line buffered on a terminal, else in blocks. */
	if (setvbuf(f, NULL, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, BUFSIZ)) {
		fclose(f);
		return;
	}
	fflush(stdout);
	stdout = f;
}

int cli_flush_stdout(const char *cmd)
{
	errno = 0;
	if (!fflush(stdout) && !ferror(stdout))
		return 0;
	/* errno is fflush's; 0 when only an earlier write failed, whose
	 * reason out_write() kept */
	cli_write_error(cmd, out_errno ? out_errno : errno);
	out_errno = 0;
	clearerr(stdout);
	return -1;
}

bool cli_wrapper_next(int argc, char **argv, int *i, struct cli_opt *o)
{
	if (*i >= argc)
		return false;
	if (!strcmp(argv[*i], "--")) {
		++*i;
		return false;
	}
	if (argv[*i][0] != '-' || !argv[*i][1])
		return false; /* COMMAND: what follows is its own */
	cli_option(argc, argv, *i, o);
	return true;
}

int cli_wrapper_help(const char *cmd, int argc, char **argv, int i, const struct cli_opt *opt,
		     void (*usage)(FILE *f))
{
	if (cli_no_value(cmd, opt)) {
		usage(stderr);
		return 2;
	}
	if (argc == 2) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "%s: %s: unexpected argument '%s'\n", cmd, opt->name,
		argv[i == 1 ? 2 : 1]);
	usage(stderr);
	return 2;
}

size_t cli_anon_huge_bytes(uintptr_t lo, uintptr_t hi)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[256];
	bool in = false;
	size_t sum = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b, kb;

		if (sscanf(line, "%lx-%lx ", &a, &b) == 2)
			in = a >= lo && b <= hi;
		else if (in && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1)
			sum += (size_t)kb << 10;
	}
	fclose(f);
	return sum;
}
