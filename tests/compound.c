/* compound: a managed area the kernel backs with a 2 MiB transparent huge
 * page is reported as one PMD mapping: snapshot bytes WRITE|PMD (READ|PMD
 * after hms_protect(PROT_READ)) and mapping order 9 from hms_range_fault(),
 * as hms.h documents and the kernel test expects. */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = HMS_HUGE_PAGE_SIZE, npages = size / T_PAGE;
	int *p = hms_alloc(h, size, HMS_ALLOC_HUGE);
	uint64_t *pfns = calloc(npages, sizeof(*pfns));
	struct hms_range r = { 0 };
	FILE *thp;
	char mode[128] = "";

	T_ASSERT(p && pfns);
	T_EQ((uintptr_t)p % HMS_HUGE_PAGE_SIZE, 0);
	thp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
	if (thp) {
		if (!fgets(mode, sizeof(mode), thp))
			mode[0] = 0;
		fclose(thp);
	}
	if (!thp || strstr(mode, "[never]"))
		T_SKIP("transparent huge pages are disabled here");
	if (t_anon_huge_kb(p) < 2048)
		T_SKIP("the kernel did not back the area with a huge page (AnonHugePages %ld kB)",
		       t_anon_huge_kb(p));
	t_fill(p, size / sizeof(int), 0);

	t_snapshot_all(d, p, npages, HMS_SNAP_WRITE | HMS_SNAP_PMD);

	/* hms_range_fault() reports the mapping order of each entry. */
	r.start = (uintptr_t)p;
	r.end = (uintptr_t)p + size;
	r.pfns = pfns;
	T_EQ(hms_range_fault(h, &r), 0);
	for (size_t i = 0; i < npages; i++) {
		uint64_t want = HMS_PFN_VALID | HMS_PFN_WRITE | (9ULL << HMS_PFN_ORDER_SHIFT) |
				(((uintptr_t)p >> 12) + i);
		if (pfns[i] != want)
			T_FAIL("page %zu: entry %#llx, expected %#llx", i,
			       (unsigned long long)pfns[i], (unsigned long long)want);
	}

	T_EQ(hms_protect(h, p, size, PROT_READ), 0);
	t_snapshot_all(d, p, npages, HMS_SNAP_READ | HMS_SNAP_PMD);
	t_check(p, size / sizeof(int), 0);

	free(pfns);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
