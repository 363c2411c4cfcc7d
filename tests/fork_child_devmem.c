/* SPDX-License-Identifier: MIT */
/* fork_child_devmem: in a fork child, hms_devmem_evict() and
 * hms_devmem_remove() of device memory inherited with its context answer
 * -ECHILD without touching the child's copy of the context (whose locks
 * another thread of the parent may have held as fork() copied them).
 * Before, they took hms.lock and went through the child's copy of the
 * table: evict answered 0 (fork had brought the page home) and remove
 * unregistered the parent's memory in the child's copy. */
#include <unistd.h>

#include "minidev.h"

int main(void)
{
	struct hms *h = t_open();
	int *p = hms_alloc(h, T_PAGE, 0);
	size_t n = T_PAGE / sizeof(int);
	pid_t pid;

	t_watchdog(60, "fork_child_devmem");
	T_ASSERT(p);
	minidev_add(h, "child", minidev_to_ram);
	t_fill(p, n, 0x2200);
	minidev_to_device(h, p);
	pid = t_fork_alarmed();
	if (pid == 0) {
		long e, r;

		e = hms_devmem_evict(md.dm);
		r = hms_devmem_remove(md.dm);
		if (e != -ECHILD || r != -ECHILD) {
			fprintf(stderr, "child: evict %ld, remove %ld, not %d\n", e, r, -ECHILD);
			_exit(1);
		}
		for (size_t i = 0; i < n; i++)
			if (p[i] != 0x2200 + (int)i)
				_exit(2);
		_exit(0);
	}
	t_wait_ok(pid);
	t_check(p, n, 0x2200); /* the parent's memory goes on as before */
	T_EQ(minidev_to_device(h, p) != 0, 1);
	T_EQ(hms_devmem_evict(md.dm), 1);
	t_check(p, n, 0x2200);
	T_EQ(hms_devmem_remove(md.dm), 0);
	T_EQ(hms_free(h, p, T_PAGE), 0);
	hms_close(h);
	printf("PASS\n");
	return 0;
}
