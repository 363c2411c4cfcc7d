/* unprivileged: a process that dropped to uid/gid 65534 opens hms in
 * user-mode-only mode (vm.unprivileged_userfaultfd=0), migrates pages to a
 * softdev and reads them back; read(2)/write(2) on device-resident pages
 * fail with EFAULT until hms_prefault() brings them in. */
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hms_test.h"

static int child(int sysctl)
{
	struct hms *h;
	struct hms_softdev *d;
	size_t npages = 16, n = npages * T_PAGE / sizeof(int);
	int *p, *buf = malloc(T_PAGE), fds[2];
	struct hms_softdev_cmd c;

	T_EQ(setgroups(0, NULL), 0);
	T_EQ(setgid(65534), 0);
	T_EQ(setuid(65534), 0);
	T_EQ(getuid(), 65534);
	h = t_open();
	if (sysctl == 0)
		T_EQ(hms_mode(h), HMS_MODE_USER_ONLY);
	else
		T_EQ(hms_mode(h), HMS_MODE_FULL);
	d = t_softdev(h, 0);
	p = hms_alloc(h, npages * T_PAGE, 0);
	T_ASSERT(p && buf);
	t_fill(p, n, 11);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	t_check(p, n, 11); /* CPU reads bring every page back */
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);

	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(pipe(fds), 0);
	t_fill(buf, T_PAGE / sizeof(int), 500);
	T_EQ(write(fds[1], buf, T_PAGE), (ssize_t)T_PAGE);
	if (hms_mode(h) == HMS_MODE_USER_ONLY) {
		/* read(2) into a device-resident page: the kernel cannot fault. */
		errno = 0;
		T_EQ(read(fds[0], p, T_PAGE), -1);
		T_EQ(errno, EFAULT);
	}
	T_EQ(hms_prefault(h, p, T_PAGE, true), 1);
	T_EQ(read(fds[0], p, T_PAGE), (ssize_t)T_PAGE);
	t_check(p, T_PAGE / sizeof(int), 500);

	/* write(2) from a device-resident page: likewise. */
	if (t_count_loc(h, p + T_PAGE / sizeof(int), 1, HMS_LOC_DEVICE) == 0)
		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p + T_PAGE / sizeof(int), NULL, 1, &c),
		     0);
	T_EQ(t_count_loc(h, p + T_PAGE / sizeof(int), 1, HMS_LOC_DEVICE), 1);
	if (hms_mode(h) == HMS_MODE_USER_ONLY) {
		errno = 0;
		T_EQ(write(fds[1], p + T_PAGE / sizeof(int), T_PAGE), -1);
		T_EQ(errno, EFAULT);
	}
	T_EQ(hms_prefault(h, p + T_PAGE / sizeof(int), T_PAGE, false), 1);
	T_EQ(write(fds[1], p + T_PAGE / sizeof(int), T_PAGE), (ssize_t)T_PAGE);
	T_EQ(read(fds[0], buf, T_PAGE), (ssize_t)T_PAGE);
	for (size_t i = 0; i < T_PAGE / sizeof(int); i++)
		T_EQ(buf[i], 11 + (int)(T_PAGE / sizeof(int) + i));
	/* The rest is intact. */
	for (size_t i = 2 * T_PAGE / sizeof(int); i < n; i++)
		T_EQ(p[i], 11 + (int)i);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}

int main(void)
{
	FILE *f = fopen("/proc/sys/vm/unprivileged_userfaultfd", "re");
	int sysctl = -1, st;
	pid_t pid;

	if (getuid() != 0)
		T_SKIP("needs root to drop to uid 65534");
	if (!f || fscanf(f, "%d", &sysctl) != 1)
		T_SKIP("cannot read /proc/sys/vm/unprivileged_userfaultfd");
	fclose(f);
	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0)
		exit(child(sysctl));
	T_EQ(waitpid(pid, &st, 0), pid);
	T_ASSERT(WIFEXITED(st));
	return WEXITSTATUS(st);
}
