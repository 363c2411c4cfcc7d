/* migrate_discard_huge: a huge page (HMS_ALLOC_HUGE) whose data leaves for
 * a device is moved aside whole by the gated discard, into a 2 MiB
 * aligned place of its transit range: the kernel moves the one entry
 * instead of splitting the page into 512 small ones first (some 600 us
 * per 2 MiB against 2 us).  Checked where the discard hands the pages on
 * (hook DISCARD_MOVED): the moved pages are still one huge page there.
 * Where page reuse keeps them, the way back moves that huge page into
 * place whole again, so the area is still made of huge pages after a
 * round trip; and with a pool that keeps only one of the four, the other
 * three come back through fresh huge pages (pool_fill: populated, copied
 * into, moved in whole), not UFFDIO_COPY's small pages, but only where
 * the block left as one huge page (after CPU faults brought it back in
 * small pages it keeps a page table, and the kernel would split a huge
 * page to move it in).  A huge area made read-only (hms_protect), where
 * the kernel moves no page in, is filled by UFFDIO_COPY after one page
 * was copied into a kept range in vain, as for small pages (the whole
 * 2 MiB before: its move went first).  Every byte reads back either way.
 * SKIP without transparent huge pages or a gated discard. */
#include <sys/mman.h>

#include "hms_test.h"
#include "huge_moved.inc"

#define SIZE (4 * HMS_HUGE_PAGE_SIZE)

/* must_be_huge: the area is fresh, or the last way back came from kept
 * huge pages (else it may be, where khugepaged collapsed it). */
static void round_trip(struct hms *h, struct hms_softdev *d, int *p, int base, bool must_be_huge)
{
	size_t npages = SIZE / T_PAGE, copied = hms__test_pool_copied(h);
	size_t filled = hms__test_huge_filled(h);
	long fallbacks = t_thp_fallbacks();
	struct hms_softdev_cmd c;
	bool huge;

	t_fill(p, SIZE / sizeof(int), base);
	huge = t_anon_huge_kb(p) == (long)(SIZE >> 10);
	T_ASSERT(huge || !must_be_huge);
	moved_runs = moved_huge = 0;
	hms__test_hook_set(check_moved, NULL);
	t_to_device(h, d, p, npages, "to the device");
	hms__test_hook_set(NULL, NULL);
	T_EQ(moved_runs, SIZE / HMS_HUGE_PAGE_SIZE);
	if (huge)
		T_EQ(moved_huge, SIZE / HMS_HUGE_PAGE_SIZE); /* 0 before: split */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	t_check(p, SIZE / sizeof(int), base);
	/* All moved in whole: the area is made of huge pages (unless the
	 * kernel had none to give a fresh fill: it says so in vmstat). */
	if (hms__test_pool_copied(h) - copied + hms__test_huge_filled(h) - filled == SIZE &&
	    (hms__test_huge_filled(h) == filled || t_thp_fallbacks() == fallbacks))
		T_EQ(t_anon_huge_kb(p), (long)(SIZE >> 10));
}

/* A read-only huge area back from the device while a whole kept range
 * waits in the pool: one page goes first, as for small pages. */
static void read_only_round(struct hms *h, struct hms_softdev *d, int *p, int *q)
{
	size_t npages = HMS_HUGE_PAGE_SIZE / T_PAGE, copied;
	struct hms_softdev_cmd c;

	t_fill(p, HMS_HUGE_PAGE_SIZE / sizeof(int), 600);
	t_to_device(h, d, p, npages, "kept");
	T_EQ(hms__test_pool_bytes(h), HMS_HUGE_PAGE_SIZE); /* one whole range */
	t_fill(q, HMS_HUGE_PAGE_SIZE / sizeof(int), 700);
	T_EQ(hms_protect(h, q, HMS_HUGE_PAGE_SIZE, PROT_READ), 0);
	t_to_device(h, d, q, npages, "read-only");
	copied = hms__test_pool_copied(h);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, q, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(t_count_loc(h, q, npages, HMS_LOC_SYSTEM), npages);
	t_check(q, HMS_HUGE_PAGE_SIZE / sizeof(int), 700);
	T_ASSERT(hms__test_pool_copied(h) - copied >= T_PAGE);
	T_ASSERT(hms__test_pool_copied(h) - copied <= 4 * T_PAGE); /* 2 MiB before */
	T_EQ(hms__test_pool_bytes(h), HMS_HUGE_PAGE_SIZE); /* still kept */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, npages, &c), 0);
	t_check(p, HMS_HUGE_PAGE_SIZE / sizeof(int), 600);
}

int main(void)
{
	struct hms *h;
	struct hms_softdev *d;
	int *p;
	bool reuse;

	h = hm_open(&d);
	p = hms_alloc(h, SIZE, HMS_ALLOC_HUGE);
	T_ASSERT(p);
	t_fill(p, SIZE / sizeof(int), 1);
	if (t_anon_huge_kb(p) != (long)(SIZE >> 10))
		T_SKIP("no transparent huge pages here (%ld KiB of %zu huge)", t_anon_huge_kb(p),
		       SIZE >> 10);
	round_trip(h, d, p, 100, true); /* fresh: huge */
	reuse = hms__test_pool_copied(h) >= SIZE;
	/* Again: what came back is whole huge pages when it came from kept
	 * ones (page reuse: one NUMA node). */
	round_trip(h, d, p, 200, reuse);
	round_trip(h, d, p, 300, reuse);
	printf("ok: %s\n", reuse ? "huge pages moved aside and back whole"
				 : "huge pages moved aside whole (page reuse off here)");
	if (reuse) {
		read_only_round(h, d, p, p + 2 * HMS_HUGE_PAGE_SIZE / sizeof(int));
		printf("ok: a read-only huge area filled by UFFDIO_COPY, one page copied in vain\n");
	}
	T_EQ(hms_free(h, p, SIZE), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	if (!reuse)
		return 0;

	/* A pool of one range: one huge page kept, three filled fresh.  CPU
	 * faults move 16-page windows (HMS_FAULT_HUGE=0), for the last part. */
	setenv("HMS_PAGE_POOL_MB", "2", 1);
	setenv("HMS_FAULT_HUGE", "0", 1);
	h = t_open();
	d = t_softdev(h, 0);
	p = hms_alloc(h, SIZE, HMS_ALLOC_HUGE);
	T_ASSERT(p);
	round_trip(h, d, p, 400, true);
	T_EQ(hms__test_pool_copied(h), HMS_HUGE_PAGE_SIZE);
	T_EQ(hms__test_huge_filled(h), SIZE - HMS_HUGE_PAGE_SIZE);
	round_trip(h, d, p, 500, true);
	T_EQ(hms__test_huge_filled(h), 2 * (SIZE - HMS_HUGE_PAGE_SIZE));
	printf("ok: with one range kept, the rest came back through fresh huge pages\n");
	/* Back by CPU faults in 16-page windows (small pages: each block
	 * keeps a page table; whole blocks come back as huge pages by default:
	 * tests/fault_huge_block),
	 * out again in small pages, back by migration: no fresh huge page,
	 * which the kernel would split to move in (slower than UFFDIO_COPY). */
	{
		size_t npages = SIZE / T_PAGE, filled;
		struct hms_softdev_cmd c;

		t_fill(p, SIZE / sizeof(int), 700);
		t_to_device(h, d, p, npages, "to the device");
		t_check(p, SIZE / sizeof(int), 700); /* CPU faults: small pages */
		T_ASSERT(t_anon_huge_kb(p) < (long)(SIZE >> 10));
		t_to_device(h, d, p, npages, "to the device again");
		filled = hms__test_huge_filled(h);
		T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, npages, &c), 0);
		T_EQ(c.cpages, npages);
		t_check(p, SIZE / sizeof(int), 700);
		T_EQ(hms__test_huge_filled(h), filled); /* none: they left small */
	}
	printf("ok: blocks that left in small pages come back without fresh huge pages\n");
	T_EQ(hms_free(h, p, SIZE), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
