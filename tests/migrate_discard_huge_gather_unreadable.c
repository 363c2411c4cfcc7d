/* migrate_discard_huge_gather_unreadable: a whole 2 MiB block of a huge
 * area (HMS_ALLOC_HUGE) comes back from device memory whose pages are
 * scattered (the driver's own pages, hms_migrate_dst_system_from: page i
 * of the block at pool page 2 * i), so migrate.c's gather_block copies
 * them into a staging buffer first; one source is unreadable (a PROT_NONE
 * page).  The gather gives up and leaves the block as it was: each run is
 * filled from the driver's pages as before, hms_migrate_vma_pages() says
 * -EFAULT (the contract fault_unreadable_sigbus tests on one page), every
 * other page is in system memory with every int right and its device page
 * handed to page_free() once, and the one page stays on the device at its
 * device page, not handed back, its data intact: once the driver reads
 * its memory again, the same migration brings it home with the right
 * bytes.  The unreadable page first, in the middle and last; before
 * each, the same round trip with every source readable comes back as one
 * huge page (the gather ran).  A driver of the test's own (minidev's 16
 * pages hold no block).  SKIP without transparent huge pages, a gated
 * discard or page reuse. */
#include <stdatomic.h>
#include <sys/mman.h>

#include "hms_test.h"
#include "inject.h"

#define BLOCK_PAGES (HMS_HUGE_PAGE_SIZE / T_PAGE)
#define POOL_PAGES (2 * BLOCK_PAGES)
#define PAGE_INTS (T_PAGE / sizeof(int))

static struct {
	char pool[POOL_PAGES][4096] __attribute__((aligned(4096)));
	atomic_int freed[POOL_PAGES]; /* page_free() calls, per pool page */
	atomic_int to_ram_calls;
	int owner; /* its address is the pgmap owner */
	struct hms_devmem *dm;
} dev;

static void *unreadable;   /* a PROT_NONE page */
static size_t bad;         /* the block's page whose source it is ... */
static atomic_bool broken; /* ... while this holds */

static char *pool_page(hms_pfn pfn)
{
	hms_pfn first = hms_devmem_pfn_first(dev.dm);

	if (pfn < first || pfn >= first + POOL_PAGES)
		T_FAIL("pfn %llu is not the test driver's", (unsigned long long)pfn);
	return dev.pool[pfn - first];
}

static void page_free(struct hms_devmem *m, hms_pfn pfn)
{
	(void)pool_page(pfn);
	dev.freed[pfn - hms_devmem_pfn_first(m)]++;
}

/* Brings the device pages of [start, end) home, from the pool (page bad's
 * from the unreadable page while broken): setup's error, or
 * hms_migrate_vma_pages()'s result; *cpages: pages selected, *moved:
 * pages that moved. */
static int home(struct hms *h, uintptr_t start, uintptr_t end, unsigned long *cpages,
		unsigned long *moved)
{
	uint64_t src[BLOCK_PAGES], dst[BLOCK_PAGES];
	struct hms_migrate_vma mv = { .start = start, .end = end, .src = src, .dst = dst,
				      .pgmap_owner = &dev.owner,
				      .flags = HMS_MIGRATE_SELECT_DEVICE_PRIVATE };
	int ret = hms_migrate_vma_setup(h, &mv);

	if (ret)
		return ret;
	for (unsigned long i = 0; i < mv.npages; i++) {
		const void *from;

		if (!(src[i] & HMS_MIGRATE_PFN_MIGRATE))
			continue;
		from = pool_page(hms_migrate_pfn_to_pfn(src[i]));
		if (broken && from == dev.pool[2 * bad])
			from = unreadable;
		T_EQ(hms_migrate_dst_system_from(&mv, i, from), 0);
	}
	ret = hms_migrate_vma_pages(&mv);
	hms_migrate_vma_finalize(&mv);
	if (cpages)
		*cpages = mv.cpages;
	if (moved) {
		*moved = 0;
		for (unsigned long i = 0; i < mv.npages; i++)
			*moved += (src[i] & HMS_MIGRATE_PFN_MIGRATE) != 0;
	}
	return ret;
}

/* A CPU fault on a page left on the device (none is expected while the
 * source is broken: the test reads only the pages that came home). */
static int migrate_to_ram(struct hms_devmem *m, const struct hms_devmem_fault *f)
{
	unsigned long moved = 0;
	int ret;

	dev.to_ram_calls++;
	ret = home(hms_devmem_context(m), f->start, f->end, NULL, &moved);
	return moved ? 0 : ret ? ret : -EAGAIN;
}

static struct hms_devmem_ops ops = { .migrate_to_ram = migrate_to_ram, .page_free = page_free };

/* The huge block to the device: page i at pool page 2 * i. */
static void to_device(struct hms *h, int *p)
{
	uint64_t src[BLOCK_PAGES], dst[BLOCK_PAGES];
	struct hms_migrate_vma mv = { .start = (uintptr_t)p,
				      .end = (uintptr_t)p + HMS_HUGE_PAGE_SIZE,
				      .src = src,
				      .dst = dst,
				      .pgmap_owner = &dev.owner,
				      .flags = HMS_MIGRATE_SELECT_SYSTEM };

	T_EQ(hms_migrate_vma_setup(h, &mv), 0);
	T_EQ(mv.cpages, BLOCK_PAGES);
	for (size_t i = 0; i < BLOCK_PAGES; i++) {
		const void *from = hms_migrate_src_ptr(&mv, i);

		T_ASSERT(from); /* every page was written */
		memcpy(dev.pool[2 * i], from, T_PAGE);
		dst[i] = hms_migrate_pfn(hms_devmem_pfn_first(dev.dm) + 2 * i);
	}
	T_EQ(hms_migrate_vma_pages(&mv), 0);
	hms_migrate_vma_finalize(&mv);
	for (size_t i = 0; i < BLOCK_PAGES; i++)
		T_ASSERT(src[i] & HMS_MIGRATE_PFN_MIGRATE);
	T_EQ(t_count_loc(h, p, BLOCK_PAGES, HMS_LOC_DEVICE), BLOCK_PAGES);
}

/* Where the table says each page is: a snapshot with the driver as owner.
 * Page bad on the device at pool page 2 * bad, every other page a valid
 * system page. */
static void check_snapshot(struct hms *h, int *p)
{
	uint64_t pfns[BLOCK_PAGES] = { 0 };
	struct hms_range r = { .start = (uintptr_t)p,
			       .end = (uintptr_t)p + HMS_HUGE_PAGE_SIZE,
			       .pfns = pfns,
			       .dev_private_owner = &dev.owner };

	T_EQ(hms_range_fault(h, &r), 0);
	for (size_t i = 0; i < BLOCK_PAGES; i++) {
		if (i == bad) {
			T_ASSERT(pfns[i] & HMS_PFN_VALID);
			T_ASSERT(pfns[i] & HMS_PFN_DEVICE_PRIVATE);
			T_EQ(pfns[i] & HMS_PFN_PFN_MASK, hms_devmem_pfn_first(dev.dm) + 2 * bad);
		} else if (!(pfns[i] & HMS_PFN_VALID) || (pfns[i] & HMS_PFN_DEVICE_PRIVATE)) {
			T_FAIL("page %zu: entry %#llx, not a system page", i,
			       (unsigned long long)pfns[i]);
		}
	}
}

static void one(size_t bad_page, int base)
{
	struct hms_devmem_desc desc = { "gather_unreadable", POOL_PAGES, &dev.owner,
					HMS_DEVMEM_PRIVATE };
	struct hms *h = t_open();
	unsigned long cpages = 0, moved = 0;
	int *p;

	if (!hms__test_gated_discard(h))
		T_SKIP("no gated discard here (no UFFDIO_MOVE, or HMS_UFFD_MOVE=0)");
	memset(dev.freed, 0, sizeof(dev.freed));
	dev.to_ram_calls = 0;
	bad = bad_page;
	T_EQ(hms_devmem_add(h, &desc, &ops, NULL, &dev.dm), 0);
	p = hms_alloc(h, HMS_HUGE_PAGE_SIZE, HMS_ALLOC_HUGE);
	T_ASSERT(p);
	t_fill(p, HMS_HUGE_PAGE_SIZE / sizeof(int), base);
	if (t_anon_huge_kb(p) != (long)(HMS_HUGE_PAGE_SIZE >> 10))
		T_SKIP("no transparent huge pages here");
	to_device(h, p);
	if (hms__test_pool_bytes(h) == 0)
		T_SKIP("page reuse off here (several NUMA nodes)");

	/* Every source readable, the block is gathered: it comes back as
	 * one huge page (this driver reaches gather_block). */
	broken = false;
	T_EQ(home(h, (uintptr_t)p, (uintptr_t)p + HMS_HUGE_PAGE_SIZE, &cpages, &moved), 0);
	T_EQ(moved, BLOCK_PAGES);
	t_check(p, HMS_HUGE_PAGE_SIZE / sizeof(int), base);
	T_EQ(t_anon_huge_kb(p), (long)(HMS_HUGE_PAGE_SIZE >> 10));
	for (size_t i = 0; i < POOL_PAGES; i++)
		T_EQ(dev.freed[i], !(i & 1));
	memset(dev.freed, 0, sizeof(dev.freed));
	to_device(h, p);

	/* Back with page bad's source unreadable: the gather gives up, the
	 * runs are filled as before, that one fails. */
	broken = true;
	T_EQ(home(h, (uintptr_t)p, (uintptr_t)p + HMS_HUGE_PAGE_SIZE, &cpages, &moved), -EFAULT);
	T_EQ(cpages, BLOCK_PAGES);
	T_EQ(moved, BLOCK_PAGES - 1);
	T_EQ(t_count_loc(h, p + bad * PAGE_INTS, 1, HMS_LOC_DEVICE), 1);
	T_EQ(t_count_loc(h, p, BLOCK_PAGES, HMS_LOC_SYSTEM), BLOCK_PAGES - 1);
	check_snapshot(h, p);
	for (size_t i = 0; i < BLOCK_PAGES; i++) {
		if (i != bad)
			t_check(p + i * PAGE_INTS, PAGE_INTS, base + (int)(i * PAGE_INTS));
		T_EQ(dev.freed[2 * i], i != bad);
		T_EQ(dev.freed[2 * i + 1], 0);
	}
	T_EQ(dev.to_ram_calls, 0); /* nothing read page bad */

	/* The driver reads its memory again: the same migration brings the
	 * page home, every byte. */
	broken = false;
	T_EQ(home(h, (uintptr_t)p, (uintptr_t)p + HMS_HUGE_PAGE_SIZE, &cpages, &moved), 0);
	T_EQ(cpages, 1);
	T_EQ(moved, 1);
	T_EQ(t_count_loc(h, p, BLOCK_PAGES, HMS_LOC_SYSTEM), BLOCK_PAGES);
	t_check(p, HMS_HUGE_PAGE_SIZE / sizeof(int), base);
	T_EQ(dev.to_ram_calls, 0);
	for (size_t i = 0; i < POOL_PAGES; i++)
		T_EQ(dev.freed[i], !(i & 1)); /* each device page handed back once */

	T_EQ(hms_free(h, p, HMS_HUGE_PAGE_SIZE), 0);
	T_EQ(hms_devmem_remove(dev.dm), 0);
	hms_close(h);
	for (size_t i = 0; i < POOL_PAGES; i++)
		T_EQ(dev.freed[i], !(i & 1));
	printf("ok: page %zu unreadable: -EFAULT, %zu pages home, it stayed, then came home\n",
	       bad_page, BLOCK_PAGES - 1);
}

int main(void)
{
	unsetenv("HMS_FAULT_HUGE");
	unsetenv("HMS_HUGE_FILL");
	unsetenv("HMS_PAGE_POOL_MB");
	unreadable = mmap(NULL, T_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(unreadable != MAP_FAILED);
	one(0, 3);
	one(300, 5);
	one(BLOCK_PAGES - 1, 7);
	munmap(unreadable, T_PAGE);
	return 0;
}
