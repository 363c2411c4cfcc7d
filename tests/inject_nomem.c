/* inject_nomem: out of memory (fault injection point nomem) gives clean
 * errors: hms_open() -ENOMEM, hms_alloc() NULL with ENOMEM, hms_manage()
 * -ENOMEM with the mapping left as it was, a migration -ENOMEM with every
 * page where it was; the data stays intact and everything works once
 * memory is back. */
#include <sys/mman.h>

#include "hms_test.h"
#include "inject.h"

int main(void)
{
	struct hms *h = t_open(), *h2 = (struct hms *)&h;
	size_t npages = 32, n = npages * T_PAGE / sizeof(int);
	struct hms_softdev *d = t_softdev(h, 0);
	int *p = hms_alloc(h, npages * T_PAGE, 0);
	int *q = mmap(NULL, npages * T_PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct hms_softdev_cmd c;

	T_ASSERT(p && q != MAP_FAILED);
	t_fill(p, n, 21);
	t_fill(q, n, 23);

	T_EQ(hms__inject_arm("nomem:1"), 0);
	T_EQ(hms_open(&h2, NULL), -ENOMEM);
	T_ASSERT(h2 == (struct hms *)&h);
	errno = 0;
	T_ASSERT(hms_alloc(h, T_PAGE, 0) == NULL);
	T_EQ(errno, ENOMEM);
	T_EQ(hms_manage(h, q, npages * T_PAGE), -ENOMEM);
	{
		struct hms_page_info info;

		T_EQ(hms_page_query(h, q, 1, &info), -ENOENT); /* not managed */
	}
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), -ENOMEM);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	T_ASSERT(hms__inject_hits(HMS_INJ_NOMEM) >= 4);
	t_check(p, n, 21);
	t_check(q, n, 23);

	T_EQ(hms__inject_arm(NULL), 0);
	T_EQ(hms_manage(h, q, npages * T_PAGE), 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, q, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	t_check(p, n, 21);
	t_check(q, n, 23);
	hms_softdev_destroy(d);
	hms_unmanage(h, q, npages * T_PAGE);
	munmap(q, npages * T_PAGE);
	hms_close(h);
	return 0;
}
