/* inject_uffd_eagain: userfaultfd ioctls answer EAGAIN while the address
 * space is changing.  With every second fault-resolving ioctl answering
 * EAGAIN (fault injection point uffd_eagain), CPU faults (zero fill, pages
 * coming back from the device), write protection for migrations and
 * hms_protect() all retry and succeed, and every byte is intact. */
#include "hms_test.h"
#include "inject.h"

int main(void)
{
	struct hms *h = t_open();
	size_t npages = 128, n = npages * T_PAGE / sizeof(int);
	struct hms_softdev *d = t_softdev(h, 0);
	int *p = hms_alloc(h, npages * T_PAGE, 0);
	int *buf = malloc(npages * T_PAGE);
	struct hms_softdev_cmd c;

	T_ASSERT(p && buf);
	T_EQ(hms__inject_arm("uffd_eagain:2"), 0);
	/* Missing pages: zero fill on first touch. */
	for (size_t i = 0; i < npages; i++)
		T_EQ(p[i * T_PAGE / sizeof(int)], 0);
	t_fill(p, n, 5);
	/* To the device and back by CPU faults, twice. */
	for (int round = 0; round < 2; round++) {
		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
		T_EQ(c.cpages, npages);
		t_check(p, n, 5);
		T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	}
	/* Device writes, read back by the CPU. */
	t_fill(buf, n, 9);
	T_EQ(t_cmd(d, hms_softdev_write, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	t_check(p, n, 9);
	/* Protection changes and exclusive access. */
	T_EQ(hms_protect(h, p, npages * T_PAGE, PROT_READ), 0);
	t_check(p, n, 9);
	T_EQ(hms_protect(h, p, npages * T_PAGE, PROT_READ | PROT_WRITE), 0);
	T_EQ(t_cmd(d, hms_softdev_exclusive, p, NULL, npages, &c), 0);
	t_fill(p, n, 13);
	memset(buf, 0, npages * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	t_check(buf, n, 13);
	T_ASSERT(hms__inject_hits(HMS_INJ_UFFD_EAGAIN) >= npages);
	T_EQ(hms__inject_arm(NULL), 0);
	t_check(p, n, 13);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
