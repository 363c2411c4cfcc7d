/* SPDX-License-Identifier: MIT */
/* topo_util.h - shared helpers of the topology tests (tests/topo_*.c). */
#ifndef HMS_TEST_TOPO_UTIL_H
#define HMS_TEST_TOPO_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <hms.h>

#define TOPO_SKIP 77

/* Print "FAIL file:line: msg" and count it; tests return topo_result(). */
#define TOPO_CHECK(cond, ...)                                              \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                      \
			fputc('\n', stderr);                               \
			topo_failures++;                                   \
		}                                                          \
	} while (0)

extern int topo_failures;
int topo_result(void);

/* $HMS_FIXTURES (or NULL after a message). */
const char *topo_fixtures(void);
/* A fresh temporary directory (removed by topo_cleanup()). */
char *topo_tmpdir(void);
void topo_cleanup(void);
/*
 * The fs root of fixture NAME: tests/fixtures/sysfs/NAME, or for a
 * hwloc tarball (NAME ends in .tar.bz2) its unpacked directory in a
 * temporary directory.  Returns a malloc'd path or NULL.
 */
char *topo_fixture_root(const char *name);
/* Copy a tree (cp -a) into a new temporary directory; returns its path. */
char *topo_copy_tree(const char *src);
/* Run a shell command; its stdout (malloc'd) in *out, exit status returned
 * (-1 if it did not exit). */
int topo_run(const char *cmd, char **out);
/*
 * Runs `$HMS_TOOL ARGS` through the shell (args is shell text, quotes and
 * redirections of stdout included; env, unless NULL, goes first:
 * "VAR=x"): returns its exit status (-1 if it did not exit, or no
 * $HMS_TOOL), its stdout in *out (malloc'd; out NULL: not kept) and the
 * first line of its stderr in err[len] ("" when none).
 */
int topo_run_tool(const char *env, const char *args, char **out, char *err, size_t len);
/* Whole file into a malloc'd string, or NULL. */
char *topo_read_file(const char *path);
int topo_write_file(const char *path, const char *text);
/* The first target / initiator whose name is NAME, or NULL. */
const struct hms_object *topo_by_name(const struct hms_topology *t,
				      enum hms_object_type type, const char *name);
/* True if some warning of t contains s. */
bool topo_has_warning(const struct hms_topology *t, const char *s);
/* hms_open() with HMS_OPEN_NO_TOPOLOGY; NULL (reason printed) when this
 * machine cannot run hms (userfaultfd), so the caller skips. */
struct hms *topo_open_empty(void);

#endif
