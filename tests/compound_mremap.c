/* compound_mremap: a huge area (HMS_ALLOC_HUGE) that mremap() moves, its
 * 2 MiB transparent huge page with it, is still reported as one PMD
 * mapping at its new address: snapshot bytes WRITE|PMD and every byte
 * kept.  The moved part's table forgot that the area was huge, and the
 * snapshot said WRITE (4 KiB mappings). */
#include <sys/mman.h>
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = HMS_HUGE_PAGE_SIZE, npages = size / T_PAGE;
	int *p = hms_alloc(h, size, HMS_ALLOC_HUGE), *q;
	void *raw;
	char *to;

	T_ASSERT(p);
	if (t_anon_huge_kb(p) < 2048)
		T_SKIP("the kernel did not back the area with a huge page (AnonHugePages %ld kB)",
		       t_anon_huge_kb(p));
	t_fill(p, size / sizeof(int), 0);
	/* A 2 MiB aligned place to move it to, kept reserved until then. */
	to = t_map_aligned(size, PROT_NONE, &raw);
	q = mremap(p, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	T_ASSERT(q == (int *)to);
	if (t_anon_huge_kb(q) < 2048)
		T_SKIP("the kernel split the huge page in the move (AnonHugePages %ld kB)",
		       t_anon_huge_kb(q));

	t_snapshot_all(d, q, npages, HMS_SNAP_WRITE | HMS_SNAP_PMD);
	t_check(q, size / sizeof(int), 0);
	T_EQ(hms_free(h, q, size), 0);
	T_EQ(munmap(raw, 2 * size), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
