/* full_mode_syscall: in full userfaultfd mode, read(2) into and write(2)
 * from pages that live in device memory just work (the kernel's own access
 * faults them back), with every byte right. */
#include <unistd.h>
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d;
	size_t npages = 8, wpp = T_PAGE / sizeof(int);
	int *p, *buf = malloc(2 * T_PAGE), fds[2];
	struct hms_softdev_cmd c;

	if (hms_mode(h) != HMS_MODE_FULL)
		T_SKIP("userfaultfd full mode unavailable (needs root, /dev/userfaultfd or "
		       "vm.unprivileged_userfaultfd=1)");
	d = t_softdev(h, 0);
	p = hms_alloc(h, npages * T_PAGE, 0);
	T_ASSERT(p && buf);
	t_fill(p, npages * wpp, 3);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(pipe(fds), 0);

	/* write(2) from two device-resident pages. */
	T_EQ(write(fds[1], p, 2 * T_PAGE), (ssize_t)(2 * T_PAGE));
	T_EQ(read(fds[0], buf, 2 * T_PAGE), (ssize_t)(2 * T_PAGE));
	t_check(buf, 2 * wpp, 3);

	/* read(2) into two other device-resident pages. */
	t_fill(buf, 2 * wpp, 900);
	T_EQ(write(fds[1], buf, 2 * T_PAGE), (ssize_t)(2 * T_PAGE));
	T_EQ(read(fds[0], p + 4 * wpp, 2 * T_PAGE), (ssize_t)(2 * T_PAGE));
	T_EQ(t_count_loc(h, p + 4 * wpp, 2, HMS_LOC_SYSTEM), 2);
	t_check(p + 4 * wpp, 2 * wpp, 900);
	/* The others kept their data. */
	t_check(p, 4 * wpp, 3);
	for (size_t i = 6 * wpp; i < npages * wpp; i++)
		T_EQ(p[i], 3 + (int)i);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
