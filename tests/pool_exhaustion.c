/* pool_exhaustion: migrating more pages than a softdev's pool holds moves
 * what fits (cpages says how many), then -ENOMEM when full, loses nothing,
 * and moves more once memory is released or pages come back. */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	size_t pool = 16, npages = 64, n = npages * T_PAGE / sizeof(int);
	struct hms_softdev *d = t_softdev(h, pool * T_PAGE);
	int *p = hms_alloc(h, npages * T_PAGE, 0);
	int *buf = malloc(npages * T_PAGE);
	struct hms_softdev_cmd c;

	T_ASSERT(p && buf);
	T_EQ(hms_prefault(h, p, npages * T_PAGE, true), npages);
	t_fill(p, n, 42);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, pool);
	T_EQ(hms_softdev_pages_used(d), pool);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), pool);
	/* Full: not one more page. */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), -ENOMEM);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), pool);
	/* All data intact, seen by the device (its pages and the rest). */
	memset(buf, 0, npages * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	t_check(buf, n, 42);
	T_EQ(hms_softdev_pages_used(d), pool);

	/* Release: everything comes back; then more moves. */
	T_EQ(hms_softdev_release(d), (long)pool);
	T_EQ(hms_softdev_pages_used(d), 0);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, pool);
	/* A CPU touch of a device page brings it (and maybe its neighbours)
	 * back and frees their pool pages: that many more move. */
	{
		struct hms_page_info *info = calloc(npages, sizeof(*info));
		size_t i = 0, freed;

		T_ASSERT(info);
		T_EQ(hms_page_query(h, p, npages, info), npages);
		while (info[i].location != HMS_LOC_DEVICE)
			i++;
		T_EQ(p[i * T_PAGE / sizeof(int)], 42 + (int)(i * T_PAGE / sizeof(int)));
		free(info);
		freed = pool - hms_softdev_pages_used(d);
		T_ASSERT(freed >= 1);
		T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), pool - freed);
		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
		T_EQ(c.cpages, freed);
		T_EQ(hms_softdev_pages_used(d), pool);
	}
	t_check(p, n, 42);
	T_EQ(hms_softdev_pages_used(d), 0);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
