/* notify_protection_vma: hms_protect tells a mirror and an interval exactly
 * one PROTECTION_VMA with the exact range per call, and a device loses the
 * access the CPU lost. */
#include "notify_rec.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 16;
	char *p = hms_alloc(h, npages * T_PAGE, 0);
	char *buf = malloc(3 * T_PAGE);
	struct t_rec *r = malloc(sizeof(*r));
	uintptr_t s = (uintptr_t)p;
	struct hms_softdev_cmd c;

	T_ASSERT(p && r && buf);
	memset(p, 1, npages * T_PAGE);
	memset(buf, 2, 3 * T_PAGE);
	/* The device mirrors the pages writable. */
	T_EQ(t_cmd(d, hms_softdev_write, p + 2 * T_PAGE, buf, 3, &c), 0);
	t_rec_init(r, h, s, npages * T_PAGE);

	T_EQ(hms_protect(h, p + 2 * T_PAGE, 3 * T_PAGE, PROT_READ), 0);
	t_rec_expect_one(r, HMS_EVENT_PROTECTION_VMA, s + 2 * T_PAGE, s + 5 * T_PAGE, NULL);
	T_EQ(t_cmd(d, hms_softdev_write, p + 2 * T_PAGE, buf, 3, &c), -EPERM);
	T_EQ(t_cmd(d, hms_softdev_read, p + 2 * T_PAGE, buf, 3, &c), 0);

	t_rec_reset(r);
	T_EQ(hms_protect(h, p + 2 * T_PAGE, 3 * T_PAGE, PROT_NONE), 0);
	t_rec_expect_one(r, HMS_EVENT_PROTECTION_VMA, s + 2 * T_PAGE, s + 5 * T_PAGE, NULL);
	T_EQ(t_cmd(d, hms_softdev_read, p + 2 * T_PAGE, buf, 3, &c), -EFAULT);

	t_rec_reset(r);
	T_EQ(hms_protect(h, p, npages * T_PAGE, PROT_READ | PROT_WRITE), 0);
	t_rec_expect_one(r, HMS_EVENT_PROTECTION_VMA, s, s + npages * T_PAGE, NULL);
	T_EQ(t_cmd(d, hms_softdev_write, p + 2 * T_PAGE, buf, 3, &c), 0);
	T_EQ(p[2 * T_PAGE], 2);

	t_rec_fini(r);
	free(r);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
