/* file_write: a device writes a shared file mapping (memory outside
 * managed areas) in place, in one fault round: the CPU mapping and the
 * file both hold every word; not cached, a second write faults again. */
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

	T_ASSERT(buf);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	T_ASSERT(p != MAP_FAILED);

	for (int round = 0; round < 2; round++) {
		t_fill(buf, n, round * 7000);
		T_EQ(t_cmd(d, hms_softdev_write, p, buf, npages, &c), 0);
		T_EQ(c.cpages, npages);
		T_EQ(c.faults, 1);
		t_check(p, n, round * 7000);
		memset(buf, 0, size);
		T_EQ(pread(fd, buf, size, 0), (ssize_t)size);
		t_check(buf, n, round * 7000);
	}
	T_EQ(hms_softdev_pages_used(d), 0);

	T_EQ(munmap(p, size), 0);
	close(fd);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
