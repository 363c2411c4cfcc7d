/* exclusive_cow: memory a device holds exclusively is copied on write
 * after fork(): parent and child each increment every word of their own
 * copy and see only their own increments; the parent's writes revoke the
 * device's exclusive access. */
#include <sys/wait.h>
#include <unistd.h>

#include "hms_test.h"

static void incr_check(int *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != (int)i)
			T_FAIL("word %zu: %d, expected %zu", i, p[i], i);
		p[i]++;
	}
	t_check(p, n, 1);
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 1024, size = npages * T_PAGE, n = size / sizeof(int);
	int *p = hms_alloc(h, size, 0);
	int *buf = malloc(size);
	struct hms_softdev_cmd c;
	pid_t pid;

	T_ASSERT(p && buf);
	t_fill(p, n, 0);
	T_EQ(t_cmd(d, hms_softdev_exclusive, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	t_check(buf, n, 0);

	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		incr_check(p, n);
		_exit(0);
	}
	incr_check(p, n);
	t_wait_ok(pid);
	t_check(p, n, 1);
	T_EQ(t_cmd(d, hms_softdev_check_exclusive, p, NULL, npages, NULL), 0);

	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
