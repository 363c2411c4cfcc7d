/* SPDX-License-Identifier: MIT */
/*
 * stat.c - `hms stat`: perf stat for hms.  Runs a command with
 * $HMS_STATS_FILE naming a temporary file, where every hms context the
 * command and its children close appends its counters (hms_close(3));
 * then prints their sums and the command's exit status, and exits with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hms.h>

#include "cli.h"
#include "cmd.h"

static const char *const CMD = "hms stat";

#define MAX_COUNTERS 64
#define MAX_PIDS 4096

/* The sums, by name, in the order the lines give them. */
struct sums {
	char name[MAX_COUNTERS][48];
	unsigned long long value[MAX_COUNTERS];
	int n;
	unsigned long contexts, bad_lines;
	long pid[MAX_PIDS];
	unsigned long npids; /* distinct pids, counted up to MAX_PIDS */
};

static void stat_usage(FILE *f)
{
	fputs("usage: hms stat [-o FILE] [--] COMMAND [ARG...]\n"
	      "\n"
	      "Run COMMAND; when it exits, print the hms counters (hms_stats(3)) of\n"
	      "every hms context it and its children closed, summed, and its exit status,\n"
	      "on standard error.  The contexts report through $HMS_STATS_FILE.\n"
	      "\n"
	      "  -o FILE, --output FILE  print them to FILE instead\n"
	      "  --help, -h              this text (alone: not with other arguments)\n"
	      "\n"
	      "Exit status: COMMAND's (128+N when signal N ended it); 1 error, 2 usage\n"
	      "error, 126 COMMAND not executable, 127 not found.\n", f);
}

static int usage_error(void)
{
	stat_usage(stderr);
	return 2;
}

/* Returns -1 to go on (*output, *cmd set), else the exit status. */
static int parse_args(int argc, char **argv, const char **output, int *cmd)
{
	struct cli_opt opt;
	int i;

	for (i = 1; cli_wrapper_next(argc, argv, &i, &opt); i++) {
		if (!strcmp(opt.name, "--help") || !strcmp(opt.name, "-h"))
			return cli_wrapper_help(CMD, argc, argv, i, &opt, stat_usage);
		else if (!strcmp(opt.name, "-o") || !strcmp(opt.name, "--output")) {
			if (!opt.value) {
				fprintf(stderr, "%s: %s: missing value\n", CMD, opt.name);
				return usage_error();
			}
			if (*output) {
				fprintf(stderr, "%s: %s: given twice\n", CMD, opt.name);
				return usage_error();
			}
			*output = opt.value;
			i += !opt.joined;
		} else {
			fprintf(stderr, "%s: unknown option '%s'\n", CMD, argv[i]);
			return usage_error();
		}
	}
	if (i >= argc) {
		fprintf(stderr, "%s: missing command\n", CMD);
		return usage_error();
	}
	*cmd = i;
	return -1;
}

/* ------------------------------------------------------------------------
 * Running the command
 * ---------------------------------------------------------------------- */

/*
 * Forks and execs argv with $HMS_STATS_FILE=path; waits for it.  Returns
 * its wait status, or -1 after a message with *code the exit status: 1
 * (fork failed), 126 or 127 (exec failed: the child says so through a
 * close-on-exec pipe, so that a failed exec is not taken for a command
 * that ran and exited 127).
 */
static int run(char **argv, const char *path, int *code)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	int p[2], err = 0, status;
	pid_t pid;

	*code = 1;
	if (pipe2(p, O_CLOEXEC) || setenv("HMS_STATS_FILE", path, 1)) {
		fprintf(stderr, "%s: %s\n", CMD, strerror(errno));
		return -1;
	}
	fflush(NULL);
	/* as time(1): ^C and ^\ are for the command; its end is reported */
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	pid = fork();
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		execvp(argv[0], argv);
		err = errno;
		if (write(p[1], &err, sizeof(err)) < 0) {
			/* the parent then reports exit 127 as the command's */
		}
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", CMD, strerror(errno));
		close(p[0]);
	} else {
		while (read(p[0], &err, sizeof(err)) < 0 && errno == EINTR)
			;
		close(p[0]);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	unsetenv("HMS_STATS_FILE");
	if (pid < 0)
		return -1;
	if (err) {
		fprintf(stderr, "%s: '%s': %s\n", CMD, argv[0], strerror(err));
		*code = err == ENOENT ? 127 : 126;
		return -1;
	}
	return status;
}

/* ------------------------------------------------------------------------
 * Reading and summing the lines
 * ---------------------------------------------------------------------- */

static void add(struct sums *s, const char *name, unsigned long long v)
{
	int i;

	for (i = 0; i < s->n && strcmp(s->name[i], name); i++)
		;
	if (i == s->n) {
		if (s->n == MAX_COUNTERS || strlen(name) >= sizeof(s->name[0]))
			return;
		snprintf(s->name[s->n++], sizeof(s->name[0]), "%s", name);
	}
	s->value[i] += v;
}

/* Every counter this libhms knows, at 0: the list printed when no context
 * reported, and the order of the others. */
static void known_counters(struct sums *s)
{
	struct hms_stats zero = { 0 };
	char *text = NULL, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return;
	hms_stats_print(&zero, f);
	fclose(f);
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');

		if (sp) {
			*sp = 0;
			add(s, l, 0);
		}
	}
	free(text);
}

static bool number(const char *w, unsigned long long *v)
{
	uint64_t u;

	if (cli_parse_uint(w, strlen(w), 0, UINT64_MAX, &u))
		return false;
	*v = u;
	return true;
}

/* One line "hms_stats pid PID NAME VALUE ..." (hms_close(3)). */
static void parse_line(struct sums *s, char *line)
{
	struct sums one = { .n = 0 };
	char *save = NULL, *w = strtok_r(line, " \n", &save), *name;
	unsigned long long v, pid;

	if (!w || strcmp(w, "hms_stats") || !(w = strtok_r(NULL, " \n", &save)) ||
	    strcmp(w, "pid") || !(w = strtok_r(NULL, " \n", &save)) || !number(w, &pid)) {
		s->bad_lines++;
		return;
	}
	while ((name = strtok_r(NULL, " \n", &save))) {
		w = strtok_r(NULL, " \n", &save);
		if (!w || !number(w, &v)) {
			s->bad_lines++;
			return;
		}
		add(&one, name, v);
	}
	for (int i = 0; i < one.n; i++)
		add(s, one.name[i], one.value[i]);
	s->contexts++;
	for (unsigned long i = 0; i < s->npids && i < MAX_PIDS; i++)
		if (s->pid[i] == (long)pid)
			return;
	if (s->npids < MAX_PIDS)
		s->pid[s->npids] = (long)pid;
	s->npids++;
}

static void read_lines(FILE *f, struct sums *s)
{
	char *line = NULL;
	size_t cap = 0;

	while (getline(&line, &cap, f) > 0)
		parse_line(s, line);
	free(line);
}

/* ------------------------------------------------------------------------
 * The report
 * ---------------------------------------------------------------------- */

static void quoted_command(FILE *out, char **argv)
{
	for (int i = 0; argv[i]; i++)
		fprintf(out, "%s%s", i ? " " : "", argv[i]);
}

static void report(FILE *out, const struct sums *s, char **argv, int status)
{
	fprintf(out, "\n hms counters for '");
	quoted_command(out, argv);
	if (s->contexts)
		fprintf(out, "': %lu context%s closed by %lu process%s\n\n", s->contexts,
			s->contexts > 1 ? "s" : "", s->npids, s->npids > 1 ? "es" : "");
	else
		fprintf(out, "': no hms context was closed\n\n");
	for (int i = 0; i < s->n; i++)
		fprintf(out, "%s %llu\n", s->name[i], s->value[i]);
	if (s->bad_lines)
		fprintf(out, "(%lu line%s of $HMS_STATS_FILE not understood, left out)\n",
			s->bad_lines, s->bad_lines > 1 ? "s" : "");
	if (WIFSIGNALED(status))
		fprintf(out, "\nkilled by signal %d (%s)\n", WTERMSIG(status),
			strsignal(WTERMSIG(status)));
	else
		fprintf(out, "\nexit status %d\n", WEXITSTATUS(status));
}

static FILE *temp_file(char *path, size_t cap)
{
	const char *dir = getenv("TMPDIR");
	FILE *f;
	int fd;

	snprintf(path, cap, "%s/hms-stat.XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0) {
		fprintf(stderr, "%s: temporary file %s: %s\n", CMD, path, strerror(errno));
		return NULL;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC); /* the command opens it by name */
	f = fdopen(fd, "r");
	if (!f) {
		fprintf(stderr, "%s: %s\n", CMD, strerror(errno));
		close(fd);
		unlink(path);
	}
	return f;
}

int cmd_stat(int argc, char **argv)
{
	const char *output = NULL;
	struct sums *s;
	FILE *out = stderr, *tmp;
	char path[4096];
	int cmd = 0, ret = parse_args(argc, argv, &output, &cmd), status, code;

	if (ret >= 0)
		return ret;
	if (output && !(out = fopen(output, "we"))) {
		fprintf(stderr, "%s: %s: %s\n", CMD, output, strerror(errno));
		return 1;
	}
	s = calloc(1, sizeof(*s));
	tmp = s ? temp_file(path, sizeof(path)) : NULL;
	if (!tmp) {
		if (!s)
			fprintf(stderr, "%s: %s\n", CMD, strerror(ENOMEM));
		free(s);
		if (out != stderr)
			fclose(out);
		return 1;
	}
	status = run(argv + cmd, path, &code);
	unlink(path);
	if (status >= 0) {
		known_counters(s);
		read_lines(tmp, s);
		report(out, s, argv + cmd, status);
		code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	}
	fclose(tmp);
	free(s);
	if (out != stderr) {
		/* errno is fclose's; 0 when only an earlier write failed */
		int bad = ferror(out);

		errno = 0;
		if (fclose(out) || bad) {
			fprintf(stderr, "%s: -o %s: write error%s%s\n", CMD, output,
				errno ? ": " : "", errno ? strerror(errno) : "");
			return code ? code : 1;
		}
	}
	return code;
}
