/* anon_read_prot: a device read of managed memory made PROT_NONE with
 * hms_protect() fails with -EFAULT and writes nothing into the buffer, both
 * for pages the device never mirrored and for pages it had mirrored
 * before the protection changed; the data is intact afterwards.  A raw
 * mprotect(PROT_NONE) behind hms' back is seen too by a device that does
 * not mirror the pages yet (hms.h: such accesses go through the kernel). */
#include "hms_test.h"

#define DEVVAL 0x40000000 /* what the buffer holds before the read */

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 1024, size = npages * T_PAGE, n = size / sizeof(int);
	int *p = hms_alloc(h, size, 0);
	int *buf = malloc(size);
	struct hms_softdev_cmd c;
	struct hms_page_info pi;

	T_ASSERT(p && buf);
	t_fill(p, n, 0);
	t_fill(buf, n, DEVVAL);

	/* Never mirrored: the fault itself is refused. */
	T_EQ(hms_protect(h, p, size, PROT_NONE), 0);
	T_EQ(hms_page_query(h, p, 1, &pi), 1);
	T_EQ(pi.prot, PROT_NONE);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), -EFAULT);
	t_check(buf, n, DEVVAL);
	T_EQ(hms_protect(h, p, size, PROT_READ), 0);
	t_check(p, n, 0);

	/* Mirrored first, then protected: the device must lose the access. */
	T_EQ(hms_protect(h, p, size, PROT_READ | PROT_WRITE), 0);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	t_check(buf, n, 0);
	t_fill(buf, n, DEVVAL);
	T_EQ(hms_protect(h, p, size, PROT_NONE), 0);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), -EFAULT);
	t_check(buf, n, DEVVAL);
	T_EQ(hms_protect(h, p, size, PROT_READ), 0);
	t_check(p, n, 0);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);

	/* Raw mprotect() on pages the device has never mirrored. */
	{
		int *q = hms_alloc(h, size, 0);

		T_ASSERT(q);
		t_fill(q, n, 77);
		t_fill(buf, n, DEVVAL);
		T_EQ(mprotect(q, size, PROT_NONE), 0);
		T_EQ(t_cmd(d, hms_softdev_read, q, buf, npages, &c), -EFAULT);
		t_check(buf, n, DEVVAL);
		T_EQ(mprotect(q, size, PROT_READ | PROT_WRITE), 0);
		t_check(q, n, 77);
	}

	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
