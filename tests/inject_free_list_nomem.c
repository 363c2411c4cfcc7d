/* inject_free_list_nomem: device pages that leave the table while hms
 * cannot allocate the list it hands them to page_free() from are not lost:
 * a MADV_DONTNEED, a munmap and an hms_free of device-resident pages under
 * nomem:1 give every page back to the softdev, and the range reads zeros
 * (or is gone). */
#include <sys/mman.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

enum { NPAGES = 256 };

static int *to_device(struct hms *h, struct hms_softdev *d, int base)
{
	int *p = hms_alloc(h, NPAGES * T_PAGE, 0);

	T_ASSERT(p);
	t_fill(p, NPAGES * T_PAGE / sizeof(int), base);
	t_to_device(h, d, p, NPAGES, "256 pages");
	return p;
}

/* The handler drops the pages after the madvise or munmap returned: wait
 * (30 s at most: a watchdog, not a timing) for the softdev's count, with
 * the failure still armed. */
static size_t wait_used_zero(struct hms_softdev *d)
{
	for (int i = 0; i < 30000 && hms_softdev_pages_used(d); i++)
		usleep(1000);
	return hms_softdev_pages_used(d);
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	uint64_t hits;
	int *p;

	T_EQ(hms_softdev_pages_used(d), 0);

	/* A discard: the handler's REMOVE drops the pages. */
	p = to_device(h, d, 1);
	T_EQ(hms_softdev_pages_used(d), NPAGES);
	T_EQ(hms__inject_arm("nomem:1"), 0);
	T_EQ(madvise(p, NPAGES * T_PAGE, MADV_DONTNEED), 0);
	T_EQ(wait_used_zero(d), 0);
	hits = hms__inject_hits(HMS_INJ_NOMEM);
	T_EQ(hms__inject_arm(NULL), 0);
	T_ASSERT(hits >= 1);
	for (size_t i = 0; i < NPAGES * T_PAGE / sizeof(int); i++)
		if (p[i])
			T_FAIL("word %zu after MADV_DONTNEED: %d, not 0", i, p[i]);
	T_EQ(hms_free(h, p, NPAGES * T_PAGE), 0);

	/* An unmap: the handler's UNMAP removes the area. */
	p = to_device(h, d, 2);
	T_EQ(hms__inject_arm("nomem:1"), 0);
	T_EQ(munmap(p, NPAGES * T_PAGE), 0);
	T_EQ(wait_used_zero(d), 0);
	hits = hms__inject_hits(HMS_INJ_NOMEM);
	T_EQ(hms__inject_arm(NULL), 0);
	T_ASSERT(hits >= 1);

	/* hms_free, on this thread. */
	p = to_device(h, d, 3);
	T_EQ(hms__inject_arm("nomem:1"), 0);
	T_EQ(hms_free(h, p, NPAGES * T_PAGE), 0);
	hits = hms__inject_hits(HMS_INJ_NOMEM);
	T_EQ(hms__inject_arm(NULL), 0);
	T_ASSERT(hits >= 1);
	T_EQ(hms_softdev_pages_used(d), 0);

	/* The pool works as before, and pages come back on CPU reads. */
	p = to_device(h, d, 4);
	T_EQ(hms_softdev_pages_used(d), NPAGES);
	t_check(p, NPAGES * T_PAGE / sizeof(int), 4);
	T_EQ(hms_softdev_pages_used(d), 0);
	T_EQ(hms_free(h, p, NPAGES * T_PAGE), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
