/* advise_bad_args: hms_advise() and hms_dirty_scan() refuse every malformed
 * call with the documented errno, and change nothing when they do. */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0), *more[HMS_BIND_MAX_TARGETS];
	size_t n = 4, len = n * T_PAGE;
	char *p = hms_alloc(h, len, 0);
	char *plain = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	hms_uid t = hms_softdev_target(d), node = 0;
	uint64_t bm[1];

	T_ASSERT(p && plain != MAP_FAILED);
	memset(p, 1, len);

	/* Shape of the call. */
	T_EQ(hms_advise(NULL, p, len, HMS_ADVICE_READ_MOSTLY, 0), -EINVAL);
	T_EQ(hms_advise(h, NULL, len, HMS_ADVICE_READ_MOSTLY, 0), -EINVAL);
	T_EQ(hms_advise(h, p + 1, len, HMS_ADVICE_READ_MOSTLY, 0), -EINVAL);
	T_EQ(hms_advise(h, p, len - 1, HMS_ADVICE_READ_MOSTLY, 0), -EINVAL);
	T_EQ(hms_advise(h, p, 0, HMS_ADVICE_READ_MOSTLY, 0), -EINVAL);
	T_EQ(hms_advise(h, p, SIZE_MAX & ~(T_PAGE - 1), HMS_ADVICE_READ_MOSTLY, 0), -EINVAL);
	/* Unknown advice. */
	T_EQ(hms_advise(h, p, len, 0, 0), -EINVAL);
	T_EQ(hms_advise(h, p, len, 7, 0), -EINVAL);
	T_EQ(hms_advise(h, p, len, -1, t), -EINVAL);
	/* A target where none is taken, none where one is needed. */
	T_EQ(hms_advise(h, p, len, HMS_ADVICE_READ_MOSTLY, t), -EINVAL);
	T_EQ(hms_advise(h, p, len, HMS_ADVICE_UNSET_READ_MOSTLY, t), -EINVAL);
	T_EQ(hms_advise(h, p, len, HMS_ADVICE_UNSET_PREFERRED_LOCATION, t), -EINVAL);
	T_EQ(hms_advise(h, p, len, HMS_ADVICE_PREFERRED_LOCATION, 0), -EINVAL);
	T_EQ(hms_advise(h, p, len, HMS_ADVICE_ACCESSED_BY, 0), -EINVAL);
	T_EQ(hms_advise(h, p, len, HMS_ADVICE_UNSET_ACCESSED_BY, 0), -EINVAL);
	/* Not managed (wholly or in part). */
	T_EQ(hms_advise(h, plain, len, HMS_ADVICE_READ_MOSTLY, 0), -ENOENT);
	T_EQ(hms_advise(h, p, 2 * len, HMS_ADVICE_READ_MOSTLY, 0), -ENOENT);
	/* Targets: unknown uid; system memory is not a device. */
	T_EQ(hms_advise(h, p, len, HMS_ADVICE_ACCESSED_BY, 0x7fffffff), -ENOENT);
	T_EQ(hms_advise(h, p, len, HMS_ADVICE_PREFERRED_LOCATION, 0x7fffffff), -ENOENT);
	T_EQ(hms_where(h, p, 1, &node), 1);
	if (node)
		T_EQ(hms_advise(h, p, len, HMS_ADVICE_ACCESSED_BY, node), -EXDEV);
	else
		printf("no NUMA node target here: the -EXDEV case is not checked\n");
	/* One ACCESSED_BY too many. */
	for (int i = 0; i < HMS_BIND_MAX_TARGETS; i++) {
		more[i] = t_softdev(h, 1 << 20);
		T_EQ(hms_advise(h, p, len, HMS_ADVICE_ACCESSED_BY, hms_softdev_target(more[i])), 0);
	}
	T_EQ(hms_advise(h, p, len, HMS_ADVICE_ACCESSED_BY, t), -E2BIG);
	/* ... and the same one again is no change. */
	T_EQ(hms_advise(h, p, len, HMS_ADVICE_ACCESSED_BY, hms_softdev_target(more[0])), 0);

	/* Nothing above changed a page: no protection, no replica. */
	{
		struct hms_page_info pi[4];

		T_EQ(hms_page_query(h, p, n, pi), (long)n);
		for (size_t i = 0; i < n; i++)
			T_EQ(pi[i].flags, 0);
	}

	/* hms_dirty_scan. */
	T_EQ(hms_dirty_scan(NULL, p, len, bm, 0), -EINVAL);
	T_EQ(hms_dirty_scan(h, p, len, NULL, 0), -EINVAL);
	T_EQ(hms_dirty_scan(h, p + 1, len, bm, 0), -EINVAL);
	T_EQ(hms_dirty_scan(h, p, 0, bm, 0), -EINVAL);
	T_EQ(hms_dirty_scan(h, p, len, bm, 1u << 7), -EINVAL);
	T_EQ(hms_dirty_scan(h, plain, len, bm, 0), -ENOENT);

	/* READ_MOSTLY and exclusive access where writes cannot be seen. */
	{
		struct hms *ha = t_open_flags(HMS_OPEN_WP_ASYNC);
		char *q = hms_alloc(ha, len, 0);

		T_ASSERT(q);
		if (hms_wp_async(ha)) {
			T_EQ(hms_advise(ha, q, len, HMS_ADVICE_READ_MOSTLY, 0), -EOPNOTSUPP);
			T_EQ(hms_make_exclusive(ha, (uintptr_t)q, (uintptr_t)q + len, NULL),
			     -EOPNOTSUPP);
		} else {
			printf("no asynchronous write protection here: -EOPNOTSUPP not checked\n");
			T_EQ(hms_advise(ha, q, len, HMS_ADVICE_READ_MOSTLY, 0), 0);
		}
		hms_close(ha);
	}

	T_EQ(hms_wp_async(NULL), 0);
	munmap(plain, len);
	hms_close(h);
	return 0;
}
