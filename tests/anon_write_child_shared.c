/* anon_write_child_shared: shared anonymous memory, which hms cannot
 * manage (-EINVAL), is written in place by a child's device after fork():
 * no copy-on-write, so the parent sees every word the child's device
 * wrote. */
#include <sys/wait.h>
#include <unistd.h>

#include "hms_test.h"

#define DEVVAL 0x40000000

int main(void)
{
	struct hms *h = t_open();
	size_t npages = 1024, size = npages * T_PAGE, n = size / sizeof(int);
	int *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid;

	T_ASSERT(p != MAP_FAILED);
	T_EQ(hms_manage(h, p, size), -EINVAL);
	t_fill(p, n, 0);
	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		int *buf = malloc(size);
		struct hms *ch;
		struct hms_softdev *d;
		struct hms_softdev_cmd c;

		T_ASSERT(buf);
		t_check(p, n, 0);
		t_fill(buf, n, DEVVAL);
		ch = t_open();
		d = t_softdev(ch, 0);
		T_EQ(t_cmd(d, hms_softdev_write, p, buf, npages, &c), 0);
		T_EQ(c.cpages, npages);
		T_EQ(c.faults, 1);
		t_check(p, n, DEVVAL);
		T_EQ(hms_softdev_pages_used(d), 0);
		hms_softdev_destroy(d);
		hms_close(ch);
		free(buf);
		_exit(0);
	}
	t_wait_ok(pid);
	t_check(p, n, DEVVAL);
	T_EQ(munmap(p, size), 0);
	hms_close(h);
	return 0;
}
