/* migrate_partly_managed: the softdev asks hms about a migration's range
 * 64 pages at a time and page by page where a part is not all managed;
 * the answers stay the kernel test device's: a range with unmanaged pages
 * after or before more than 64 managed ones fails with -EINVAL and moves
 * nothing, one with no managed page with -ENOENT, an unreadable page in
 * the second block of 64 with -EINVAL, and a managed range of 70 pages
 * moves whole. */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t n = 70, gap = 2, len = (gap + n + gap) * T_PAGE;
	char *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p = map + gap * T_PAGE;
	struct hms_softdev_cmd c;

	T_ASSERT(map != MAP_FAILED);
	T_EQ(hms_manage(h, p, n * T_PAGE), 0);
	memset(p, 0x3c, n * T_PAGE);

	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, n + gap, &c), -EINVAL);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, map, NULL, gap + n, &c), -EINVAL);
	T_EQ(t_count_loc(h, p, n, HMS_LOC_DEVICE), 0);
	T_EQ(hms_softdev_pages_used(d), 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, map, NULL, gap, &c), -ENOENT);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p + n * T_PAGE, NULL, gap, &c), -ENOENT);

	T_EQ(hms_protect(h, p + 66 * T_PAGE, T_PAGE, PROT_NONE), 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, n, &c), -EINVAL);
	T_EQ(hms_softdev_pages_used(d), 0);
	T_EQ(hms_protect(h, p + 66 * T_PAGE, T_PAGE, PROT_READ | PROT_WRITE), 0);

	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, n, &c), 0);
	T_EQ(c.cpages, n);
	T_EQ(t_count_loc(h, p, n, HMS_LOC_DEVICE), n);
	for (size_t i = 0; i < n * T_PAGE; i++)
		if ((unsigned char)p[i] != 0x3c)
			T_FAIL("byte %zu: %#x", i, (unsigned char)p[i]);
	T_EQ(hms_unmanage(h, p, n * T_PAGE), 0);
	munmap(map, len);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
