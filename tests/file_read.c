/* file_read: a device reads a shared file mapping (memory outside managed
 * areas) in place, in one fault round; since no invalidation reaches such
 * memory the softdev never caches it, so a second read faults again and
 * sees what was written to the file in between. */
#include <unistd.h>

#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 1024, size = npages * T_PAGE, n = size / sizeof(int);
	int fd = t_tmpfile(size);
	int *buf = malloc(size);
	int *p;
	struct hms_softdev_cmd c;
	struct hms_page_info pi;

	T_ASSERT(buf);
	t_fill(buf, n, 0);
	T_EQ(pwrite(fd, buf, size, 0), (ssize_t)size);
	memset(buf, 0, size);
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	T_ASSERT(p != MAP_FAILED);
	T_EQ(hms_page_query(h, p, 1, &pi), -ENOENT);

	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(c.faults, 1);
	t_check(buf, n, 0);
	T_EQ(hms_softdev_pages_used(d), 0);

	/* Change the file behind the device's back: not cached, so seen. */
	t_fill(buf, n, 3000);
	T_EQ(pwrite(fd, buf, size, 0), (ssize_t)size);
	memset(buf, 0, size);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(c.faults, 1);
	t_check(buf, n, 3000);

	T_EQ(munmap(p, size), 0);
	close(fd);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
