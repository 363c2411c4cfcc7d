/* migrate_shared: shared memory (anonymous or a file) cannot be managed
 * (hms_manage -> -EINVAL) and so cannot migrate: migrating it fails with
 * -ENOENT, as in the kernel, and the data stays where it was. */
#include <unistd.h>

#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 1024, size = npages * T_PAGE, n = size / sizeof(int);
	int *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int fd = t_tmpfile(size);
	int *f = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	struct hms_softdev_cmd c;

	T_ASSERT(p != MAP_FAILED && f != MAP_FAILED);
	t_fill(p, n, 0);
	T_EQ(hms_manage(h, p, size), -EINVAL);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), -ENOENT);
	T_EQ(hms_softdev_pages_used(d), 0);
	t_check(p, n, 0);

	t_fill(f, n, 11);
	T_EQ(hms_manage(h, f, size), -EINVAL);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, f, NULL, npages, &c), -ENOENT);
	T_EQ(hms_softdev_pages_used(d), 0);
	t_check(f, n, 11);

	munmap(p, size);
	munmap(f, size);
	close(fd);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
