/* hmm_cow_in_device: pages in device memory when the process forks come
 * back to system memory (the child shares them copy-on-write); the
 * parent's writes then land in its own writable system pages, as the
 * device's snapshot shows (HMS_SNAP_WRITE for every page). */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 4, size = npages * T_PAGE, n = size / sizeof(int);
	int *p = hms_alloc(h, size, 0);
	struct hms_softdev_cmd c;
	pid_t pid;
	int st;

	T_ASSERT(p);
	t_fill(p, n, 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), npages);

	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		/* Waits for SIGKILL from the parent. */
		for (;;)
			pause();
	}
	for (size_t i = 0; i < n; i++)
		p[i] = (int)i;
	T_EQ(kill(pid, SIGKILL), 0);
	T_EQ(waitpid(pid, &st, 0), pid);
	T_ASSERT(WIFSIGNALED(st));
	T_EQ(WTERMSIG(st), SIGKILL);

	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	t_snapshot_all(d, p, npages, HMS_SNAP_WRITE);
	t_check(p, n, 0);

	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
