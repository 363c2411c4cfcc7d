/* notify_clear: MADV_DONTNEED on a managed range tells a mirror and an
 * interval exactly one CLEAR with the exact range; device memory of the
 * range is freed and the pages read zeros. */
#include "notify_rec.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 32;
	char *p = hms_alloc(h, npages * T_PAGE, 0);
	struct t_rec *r = malloc(sizeof(*r));
	uintptr_t s = (uintptr_t)p;
	struct hms_softdev_cmd c;

	T_ASSERT(p && r);
	memset(p, 1, npages * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p + 8 * T_PAGE, NULL, 8, &c), 0);
	T_EQ(c.cpages, 8);
	t_rec_init(r, h, s, npages * T_PAGE);

	/* System pages. */
	T_EQ(madvise(p, 4 * T_PAGE, MADV_DONTNEED), 0);
	t_rec_expect_one(r, HMS_EVENT_CLEAR, s, s + 4 * T_PAGE, NULL);
	T_EQ(p[0], 0);
	T_EQ(p[4 * T_PAGE], 1);

	/* Device pages: their device memory goes. */
	t_rec_reset(r);
	T_EQ(madvise(p + 8 * T_PAGE, 8 * T_PAGE, MADV_DONTNEED), 0);
	t_rec_expect_one(r, HMS_EVENT_CLEAR, s + 8 * T_PAGE, s + 16 * T_PAGE, NULL);
	T_EQ(hms_softdev_pages_used(d), 0);
	T_EQ(t_count_loc(h, p + 8 * T_PAGE, 8, HMS_LOC_NONE), 8);
	for (size_t i = 8; i < 16; i++)
		T_EQ(p[i * T_PAGE], 0);
	T_EQ(p[16 * T_PAGE], 1);

	t_rec_fini(r);
	free(r);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
