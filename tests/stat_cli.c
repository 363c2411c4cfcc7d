/* SPDX-License-Identifier: MIT */
/*
 * stat_cli: `hms stat -- COMMAND` prints the counters of the hms contexts
 * COMMAND closed, equal to what hms_stats() gave the program just before
 * hms_close() (this program again, as --ctx FILE: pages to a softdev and
 * back, the counters printed to FILE), summed over every process (two
 * children of a shell give the sum of what each printed), and exits with the command's
 * status (3; 128+15 for SIGTERM); no context: zeros and "no hms context
 * was closed"; not found 127, not executable 126, with no report.  A
 * program that closes every descriptor still reports; $HMS_STATS_FILE
 * naming a file that is not there creates nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "topo_util.h"

#define NPAGES 64

static const char *tool;
static char self[1024], errpath[1024], report[1024];
static char *out, *err, *rep;

/* As --ctx FILE: moves pages to a device and back, writes hms_stats() to
 * FILE just before hms_close(); with --closefrom first closes every
 * descriptor past stderr. */
static int ctx(const char *file, int closefrom)
{
	struct hms_softdev_cmd c = { 0 };
	struct hms_softdev *dev;
	struct hms_stats st;
	struct hms *h;
	volatile char *p;
	FILE *f;

	if (closefrom)
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	if (hms_open(&h, NULL) || hms_softdev_create(h, NULL, &dev))
		return 1;
	p = hms_alloc(h, NPAGES * HMS_PAGE_SIZE, 0);
	if (!p)
		return 1;
	for (size_t i = 0; i < NPAGES * HMS_PAGE_SIZE; i += HMS_PAGE_SIZE)
		p[i] = 1;
	c.addr = (uintptr_t)p;
	c.npages = NPAGES;
	if (hms_softdev_migrate_to_device(dev, &c))
		return 1;
	for (size_t i = 0; i < NPAGES * HMS_PAGE_SIZE; i += HMS_PAGE_SIZE)
		p[i]++; /* back to system memory */
	hms_free(h, (void *)p, NPAGES * HMS_PAGE_SIZE);
	hms_softdev_destroy(dev);
	f = fopen(file, "w");
	if (!f || hms_stats(h, &st) || hms_stats_print(&st, f) || fclose(f))
		return 1;
	hms_close(h);
	return 0;
}

static int hms(const char *args)
{
	char cmd[12288];
	int st;

	free(out);
	free(err);
	free(rep);
	out = err = rep = NULL;
	unlink(report);
	snprintf(cmd, sizeof(cmd), "'%s' %s 2>'%s'", tool, args, errpath);
	st = topo_run(cmd, &out);
	err = topo_read_file(errpath);
	rep = topo_read_file(report);
	if (!out)
		out = strdup("");
	if (!err)
		err = strdup("");
	if (!rep)
		rep = strdup("");
	return st;
}

/* The value of counter name in text ("name value" lines), or -1. */
static long long counter(const char *text, const char *name)
{
	char key[96];
	const char *s;

	snprintf(key, sizeof(key), "\n%.80s ", name);
	s = strstr(text, key);
	return s ? atoll(s + strlen(key)) : -1;
}

/* Every "name value" line of want is in the report, with want's value
 * plus that of the same name in also (a second process' counters; NULL:
 * none). */
static void same_counters(const char *want, const char *also)
{
	char *copy = strdup(want), *save = NULL, line[128];
	int n = 0;

	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save), n++) {
		char name[80];
		unsigned long long v;
		long long w = 0;

		if (sscanf(l, "%79s %llu", name, &v) != 2)
			continue;
		if (also) {
			w = counter(also, name);
			TOPO_CHECK(w >= 0, "the second program printed no %s", name);
		}
		snprintf(line, sizeof(line), "\n%s %llu\n", name, v + (unsigned long long)w);
		TOPO_CHECK(strstr(rep, line), "report lacks%s(the programs' sum): report\n%s",
			   line, rep);
	}
	TOPO_CHECK(n >= 19, "the program printed %d counters", n);
	free(copy);
}

/* text with a newline in front, so that counter() finds its first line */
static char *newline_first(char *text)
{
	if (!text)
		return NULL;
	text = realloc(text, strlen(text) + 2);
	memmove(text + 1, text, strlen(text) + 1);
	text[0] = '\n';
	return text;
}

int main(int argc, char **argv)
{
	char args[8192], a[1024], b[1024], *printed, *dir;
	struct hms *h;
	struct stat sb;
	ssize_t n;

	if (argc == 3 && !strcmp(argv[1], "--ctx"))
		return ctx(argv[2], 0);
	if (argc == 3 && !strcmp(argv[1], "--ctx-closefrom"))
		return ctx(argv[2], 1);
	tool = getenv("HMS_TOOL");
	dir = topo_tmpdir();
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (!tool || !dir || n <= 0) {
		fprintf(stderr, "HMS_TOOL, a temporary directory or /proc/self/exe missing\n");
		return 1;
	}
	self[n] = 0;
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	snprintf(report, sizeof(report), "%s/report", dir);
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	h = topo_open_empty();
	if (!h)
		return TOPO_SKIP;
	hms_close(h);

	/* one context: the report holds what the program read, nonzero */
	snprintf(args, sizeof(args), "stat -o '%s' -- '%s' --ctx '%s'", report, self, a);
	TOPO_CHECK(hms(args) == 0 && !*err && strstr(rep, ": 1 context closed by 1 process\n") &&
		   strstr(rep, "\nexit status 0\n"), "%s: %s%s", args, rep, err);
	printed = newline_first(topo_read_file(a));
	TOPO_CHECK(printed, "the program printed no counters");
	if (printed) {
		same_counters(printed, NULL);
		TOPO_CHECK(counter(printed, "migrations_to_device") == NPAGES &&
			   counter(printed, "migrations_to_system") == NPAGES &&
			   counter(printed, "cpu_faults_device") > 0,
			   "the program's counters:%s", printed);
	}
	free(printed);

	/* two processes, one closing every descriptor first: summed */
	snprintf(args, sizeof(args), "stat --output='%s' sh -c \"'%s' --ctx '%s' && "
		 "'%s' --ctx-closefrom '%s'\"", report, self, a, self, b);
	TOPO_CHECK(hms(args) == 0 && strstr(rep, ": 2 contexts closed by 2 processes\n"),
		   "%s: %s%s", args, rep, err);
	/* (each run's own counts: faults and invalidations vary with timing) */
	printed = newline_first(topo_read_file(a));
	if (printed) {
		char *pb = newline_first(topo_read_file(b));

		TOPO_CHECK(pb, "the second program printed no counters");
		if (pb)
			same_counters(printed, pb);
		free(pb);
	}
	free(printed);

	/* to stderr by default; the command's status; no context */
	TOPO_CHECK(hms("stat -- sh -c 'echo hi; exit 3'") == 3 && !strcmp(out, "hi\n") &&
		   strstr(err, "': no hms context was closed\n") &&
		   strstr(err, "\ncpu_faults 0\n") && strstr(err, "\nmigrations_to_device 0\n") &&
		   strstr(err, "\nexit status 3\n"), "exit 3: %s%s", out, err);
	TOPO_CHECK(hms("stat sh -c 'kill -TERM $$'") == 128 + 15 &&
		   strstr(err, "\nkilled by signal 15 "), "SIGTERM: %s", err);
	TOPO_CHECK(hms("stat nosuch-hms-command") == 127 &&
		   !strcmp(err, "hms stat: 'nosuch-hms-command': No such file or directory\n"),
		   "not found: %s", err);
	TOPO_CHECK(!topo_write_file(a, "true\n"), "write %s", a);
	snprintf(args, sizeof(args), "stat '%s'", a);
	TOPO_CHECK(hms(args) == 126 && strstr(err, "Permission denied") &&
		   !strstr(err, "exit status"), "not executable: %s", err);
	/* a report that cannot be written: 1, or the command's status */
	TOPO_CHECK(hms("stat -o /dev/full true") == 1 &&
		   !strcmp(err, "hms stat: -o /dev/full: write error: No space left on device\n"),
		   "-o /dev/full: %s", err);
	TOPO_CHECK(hms("stat -o /dev/full sh -c 'exit 4'") == 4, "-o /dev/full, exit 4: %s", err);
	/* a command's --help is its own */
	TOPO_CHECK(hms("stat sh -c 'echo $0' --help") == 0 && !strcmp(out, "--help\n"), "sh -c 'echo $0' --help: %s",
		   out);

	/* the library never creates the file */
	snprintf(args, sizeof(args), "HMS_STATS_FILE='%s/none' '%s' --ctx '%s'", dir, self, a);
	TOPO_CHECK(topo_run(args, NULL) == 0, "%s", args);
	snprintf(args, sizeof(args), "%s/none", dir);
	TOPO_CHECK(stat(args, &sb) && errno == ENOENT, "%s created", args);

	free(out);
	free(err);
	free(rep);
	return topo_result();
}
