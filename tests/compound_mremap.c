/* compound_mremap: a huge area (HMS_ALLOC_HUGE) that mremap() moves, its
 * 2 MiB transparent huge page with it, is still reported as one PMD
 * mapping at its new address: snapshot bytes WRITE|PMD and every byte
 * kept.  The moved part's table forgot that the area was huge, and the
 * snapshot said WRITE (4 KiB mappings). */
#include <sys/mman.h>
#include "hms_test.h"

/* AnonHugePages (kB) of the mapping that holds addr. */
static long anon_huge_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false;
	long kb = -1;

	T_ASSERT(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)addr >= s && (uintptr_t)addr < e;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = HMS_HUGE_PAGE_SIZE, npages = size / T_PAGE;
	int *p = hms_alloc(h, size, HMS_ALLOC_HUGE), *q;
	unsigned char *m = malloc(npages);
	void *raw;
	char *to;
	struct hms_softdev_cmd c;

	T_ASSERT(p && m);
	if (anon_huge_kb(p) < 2048)
		T_SKIP("the kernel did not back the area with a huge page (AnonHugePages %ld kB)",
		       anon_huge_kb(p));
	t_fill(p, size / sizeof(int), 0);
	/* A 2 MiB aligned place to move it to, kept reserved until then. */
	to = t_map_aligned(size, PROT_NONE, &raw);
	q = mremap(p, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	T_ASSERT(q == (int *)to);
	if (anon_huge_kb(q) < 2048)
		T_SKIP("the kernel split the huge page in the move (AnonHugePages %ld kB)",
		       anon_huge_kb(q));

	memset(m, 0xAA, npages);
	T_EQ(t_cmd(d, hms_softdev_snapshot, q, m, npages, &c), 0);
	T_EQ(c.cpages, npages);
	for (size_t i = 0; i < npages; i++)
		if (m[i] != (HMS_SNAP_WRITE | HMS_SNAP_PMD))
			T_FAIL("page %zu: snapshot byte %#x, expected WRITE|PMD (%#x)", i, m[i],
			       HMS_SNAP_WRITE | HMS_SNAP_PMD);
	t_check(q, size / sizeof(int), 0);
	T_EQ(hms_free(h, q, size), 0);
	T_EQ(munmap(raw, 2 * size), 0);
	free(m);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
