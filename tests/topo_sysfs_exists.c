/* SPDX-License-Identifier: MIT */
/*
 * topo_sysfs_exists: hms_topology_write_sysfs() into a directory that
 * already holds a tree (its version file, or a v<version>-* entry) fails
 * with -EEXIST before writing anything, for any user.  The tree's files
 * are 0444: before the check, a second call failed with -EACCES on the
 * version file except as root (which overwrote it, then met -EEXIST).
 * As root the non-root path is checked too, in a child that becomes
 * nobody (65534) on a directory it owns.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "topo_util.h"

static bool exists(const char *dir, const char *name)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

/* A tree, then a second call into it: -EEXIST, the tree untouched.  Returns
 * the number of failed checks (the child reports it as its exit status). */
static int write_twice(const struct hms_topology *t, const char *tree)
{
	char path[1024], *before, *after;
	struct stat st0, st1;
	int failures = topo_failures, ret;

	ret = hms_topology_write_sysfs(t, tree);
	TOPO_CHECK(ret == 0, "first write into %s: %d", tree, ret);
	snprintf(path, sizeof(path), "%s/version", tree);
	TOPO_CHECK(stat(path, &st0) == 0 && (st0.st_mode & 0777) == 0444,
		   "version file, mode 0444");
	snprintf(path, sizeof(path), "%s/v1-3-target/kind", tree);
	before = topo_read_file(path);
	TOPO_CHECK(before && !strcmp(before, "dram\n"), "target kind file");

	ret = hms_topology_write_sysfs(t, tree);
	TOPO_CHECK(ret == -EEXIST, "second write into %s: %d, want -EEXIST", tree, ret);
	snprintf(path, sizeof(path), "%s/version", tree);
	TOPO_CHECK(stat(path, &st1) == 0 && st1.st_ino == st0.st_ino &&
			   st1.st_mtim.tv_sec == st0.st_mtim.tv_sec &&
			   st1.st_mtim.tv_nsec == st0.st_mtim.tv_nsec,
		   "the second write left the version file alone");
	snprintf(path, sizeof(path), "%s/v1-3-target/kind", tree);
	after = topo_read_file(path);
	TOPO_CHECK(before && after && !strcmp(before, after), "the tree is unchanged");
	free(before);
	free(after);
	return topo_failures - failures;
}

/* DIR/name holding only mark (a file, or a directory): a tree, refused
 * with -EEXIST, and absent is not written next to it. */
static void lone_mark(const struct hms_topology *t, const char *dir, const char *name,
		      const char *mark, bool is_dir, const char *absent)
{
	char path[1024], sub[2048];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	TOPO_CHECK(mkdir(path, 0755) == 0, "mkdir %s", path);
	snprintf(sub, sizeof(sub), "%s/%s", path, mark);
	TOPO_CHECK(is_dir ? mkdir(sub, 0755) == 0 : topo_write_file(sub, "1\n") == 0,
		   "make %s", sub);
	ret = hms_topology_write_sysfs(t, path);
	TOPO_CHECK(ret == -EEXIST, "%s alone: %d, want -EEXIST", mark, ret);
	TOPO_CHECK(!exists(path, absent), "nothing written next to %s", mark);
}

int main(void)
{
	char *root = topo_fixture_root("qemu-3node-memonly-hmat-k612");
	char *dir = topo_tmpdir(), path[1024], sub[2048];
	struct hms_topology *t = NULL;
	int ret;

	if (!root || !dir) {
		fprintf(stderr, "fixtures or a temporary directory missing\n");
		return 1;
	}
	ret = hms_topology_load(root, 0, &t);
	if (ret) {
		fprintf(stderr, "hms_topology_load(%s): %d\n", root, ret);
		return 1;
	}

	/* As whoever runs the test. */
	snprintf(path, sizeof(path), "%s/tree", dir);
	write_twice(t, path);

	/* Either mark alone is a tree: nothing is written next to it. */
	lone_mark(t, dir, "only-version", "version", false, "v1-1-target");
	lone_mark(t, dir, "only-object", "v1-99-target", true, "version");

	/* Other entries (another schema version's included) are no tree. */
	snprintf(path, sizeof(path), "%s/others", dir);
	TOPO_CHECK(mkdir(path, 0755) == 0, "mkdir %s", path);
	snprintf(sub, sizeof(sub), "%s/v2-1-target", path);
	TOPO_CHECK(mkdir(sub, 0755) == 0, "mkdir %s", sub);
	snprintf(sub, sizeof(sub), "%s/README", path);
	TOPO_CHECK(topo_write_file(sub, "x\n") == 0, "write %s", sub);
	ret = hms_topology_write_sysfs(t, path);
	TOPO_CHECK(ret == 0, "a directory with other entries: %d", ret);
	TOPO_CHECK(exists(path, "version") && exists(path, "v1-3-target"), "tree written");

	if (geteuid() != 0) {
		printf("not root: the checks above ran as uid %u, the non-root path; "
		       "the root path (where 0444 files do not stop a write) is not checked\n",
		       (unsigned)geteuid());
	} else {
		pid_t pid;
		int st = 0;

		/* nobody must reach the directory and own the one it writes in. */
		snprintf(path, sizeof(path), "%s/nobody", dir);
		TOPO_CHECK(chmod(dir, 0711) == 0, "chmod %s", dir);
		TOPO_CHECK(mkdir(path, 0755) == 0 && chown(path, 65534, 65534) == 0,
			   "a directory for nobody");
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			if (setgroups(0, NULL) || setgid(65534) || setuid(65534) || geteuid() != 65534)
				_exit(77);
			snprintf(path, sizeof(path), "%s/nobody/tree", dir);
			_exit(write_twice(t, path) ? 1 : 0);
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
			TOPO_CHECK(false, "the child as nobody did not run or exit");
		else if (WEXITSTATUS(st) == 77)
			printf("root, but cannot become nobody (65534): non-root path not checked\n");
		else
			TOPO_CHECK(WEXITSTATUS(st) == 0,
				   "as nobody: a second write fails with -EEXIST (see above)");
	}
	hms_topology_put(t);
	free(root);
	return topo_result();
}
