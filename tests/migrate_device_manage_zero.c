/* migrate_device_manage_zero: memory the program read before hms_manage()
 * (the shared zero page: no data) is not moved to a device by hms_migrate
 * and takes no device memory, whichever way hms finds out which pages
 * hold data (HMS_ONE_NODE=0 runs the move_pages() query here).  The
 * device has room for the pages with data only: were the zero pages
 * taken first (they come first), every page with data would be left
 * behind.  Then the same with the memory shared with a child (fork()
 * before hms_manage): pages with data still move, the child keeps its
 * copy.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "hms_test.h"
#include "place_util.h"

#define NP 32 /* pages [0, NP/2) only read, [NP/2, NP) written */

static void run(bool shared)
{
	struct hms *h;
	struct hms_softdev *d;
	hms_uid dev, node[T_MAX_NODES], where[NP];
	int nodes[T_MAX_NODES], fds[2] = { -1, -1 }, status;
	unsigned char *p = mmap(NULL, NP * T_PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned sum = 0;
	pid_t child = -1;

	T_ASSERT(p != MAP_FAILED);
	for (size_t i = 0; i < NP / 2; i++)
		sum += ((volatile unsigned char *)p)[i * T_PAGE];
	T_EQ(sum, 0u);
	t_pattern(p + NP / 2 * T_PAGE, NP / 2, 5);
	if (shared) {
		T_EQ(pipe(fds), 0);
		child = fork();
		T_ASSERT(child >= 0);
		if (child == 0) {
			char c;

			close(fds[1]);
			(void)!read(fds[0], &c, 1); /* until the parent is done */
			for (size_t i = 0; i < NP / 2; i++)
				if (p[i * T_PAGE])
					_exit(2);
			t_pattern_check(p + NP / 2 * T_PAGE, NP / 2, 5);
			_exit(0);
		}
		close(fds[0]);
	}
	h = t_open();
	d = t_softdev(h, NP / 2 * T_PAGE);
	dev = hms_softdev_target(d);
	T_ASSERT(t_node_targets(h, node, nodes) >= 1);
	T_EQ(hms_manage(h, p, NP * T_PAGE), 0);

	T_EQ(hms_migrate(h, p, NP * T_PAGE, &dev, 1, 0), NP / 2);
	T_EQ(hms_softdev_pages_used(d), NP / 2);
	T_EQ(hms_where(h, p, NP, where), NP);
	for (size_t i = 0; i < NP; i++)
		if ((where[i] == dev) != (i >= NP / 2))
			T_FAIL("%s: page %zu (%s) %s the device", shared ? "shared" : "private", i,
			       i < NP / 2 ? "zero page" : "data", where[i] == dev ? "on" : "not on");

	T_EQ(hms_migrate(h, p, NP * T_PAGE, &node[0], 1, 0), NP / 2);
	T_EQ(hms_softdev_pages_used(d), 0);
	for (size_t i = 0; i < NP / 2; i++)
		for (size_t b = 0; b < T_PAGE; b++)
			if (p[i * T_PAGE + b])
				T_FAIL("page %zu byte %zu: %u, expected 0", i, b, p[i * T_PAGE + b]);
	t_pattern_check(p + NP / 2 * T_PAGE, NP / 2, 5);
	T_EQ(hms_unmanage(h, p, NP * T_PAGE), 0);
	hms_close(h);
	if (shared) {
		close(fds[1]);
		T_EQ(waitpid(child, &status, 0), child);
		T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	munmap(p, NP * T_PAGE);
}

int main(void)
{
	run(false);
	run(true);
	return 0;
}
