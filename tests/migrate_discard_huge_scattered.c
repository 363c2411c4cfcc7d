/* migrate_discard_huge_scattered: a whole 2 MiB block of a huge area
 * (HMS_ALLOC_HUGE) whose device pages are not contiguous in the device's
 * memory (the softdev hands its own pages over: one fill per run of
 * contiguous sources) comes back as one huge page all the same, by a
 * migration back and by a CPU fault (HMS_FAULT_HUGE): hms_alloc(3) and
 * hms_open(3) say a migration back of a whole 2 MiB puts a huge page in
 * place again where page reuse is on.  The softdev's memory is scattered
 * first: a small area's device pages are freed every other 16 pages, and
 * the huge block takes those.  Every byte reads back. */
#include "hms_test.h"
#include "inject.h"
#include "scattered_block.inc"

static void back(bool by_fault)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 4 * HMS_HUGE_PAGE_SIZE);
	struct hms_softdev_cmd c;
	int *p;

	if (!hms__test_gated_discard(h))
		T_SKIP("no gated discard here (no UFFDIO_MOVE, or HMS_UFFD_MOVE=0)");
	p = scattered_block(h, d, 7);
	if (by_fault)
		T_EQ(((volatile int *)p)[5], 7 + 5); /* one read: the whole block */
	else
		T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, BLOCK_PAGES, &c), 0);
	T_EQ(t_count_loc(h, p, BLOCK_PAGES, HMS_LOC_SYSTEM), BLOCK_PAGES);
	if (hms__test_pool_bytes(h) == 0 && hms__test_huge_filled(h) == 0)
		T_SKIP("page reuse off here (several NUMA nodes)");
	t_check(p, HMS_HUGE_PAGE_SIZE / sizeof(int), 7);
	T_EQ(t_anon_huge_kb(p), (long)(HMS_HUGE_PAGE_SIZE >> 10));
	printf("ok: %s: the scattered block came back as one huge page\n",
	       by_fault ? "a CPU fault" : "a migration back");
	hms_softdev_destroy(d);
	hms_close(h);
}

int main(void)
{
	unsetenv("HMS_FAULT_HUGE");
	unsetenv("HMS_HUGE_FILL");
	unsetenv("HMS_PAGE_POOL_MB");
	back(false);
	back(true);
	return 0;
}
