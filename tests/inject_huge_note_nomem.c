/* inject_huge_note_nomem: when the table that notes which 2 MiB blocks
 * left as one huge page cannot be allocated (huge_left_note, uffd.c:
 * calloc; injection point nomem, armed only while a run of a fresh
 * context's first way to the device is discarded, hooks MIGRATE_COMMIT to
 * MIGRATE_COMMITTED), no block is noted: every discard still moves its
 * huge page aside (hook DISCARD_MOVED), the way back makes no fresh huge
 * page (hms__test_huge_filled stays), fills one block from the kept range
 * and three by UFFDIO_COPY, and every byte reads back.  The table is what
 * fails: where a discard has no spare range to take, its allocation of
 * one passes first (nomem:2).  Then, memory back, a new area's round trip
 * makes the table and the three fresh huge pages.  SKIP without
 * transparent huge pages, a gated discard or page reuse. */
#include "hms_test.h"
#include "inject.h"
#include "huge_round.inc"

static uint64_t failed;
static unsigned windows, moved;

static void fail_table(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)start, (void)len;
	if (point == HMS_HOOK_MIGRATE_COMMIT) {
		windows++;
		T_EQ(hms__inject_arm(hms__test_spare_discards(arg) ? "nomem:1" : "nomem:2"), 0);
	} else if (point == HMS_HOOK_DISCARD_MOVED) {
		moved++;
	} else if (point == HMS_HOOK_MIGRATE_COMMITTED) {
		failed += hms__inject_hits(HMS_INJ_NOMEM);
		T_EQ(hms__inject_arm(NULL), 0);
	}
}

int main(void)
{
	struct hr_ctx c;
	size_t copied;

	hr_open(&c);
	hr_out(&c, 100, fail_table, c.h);
	T_EQ(hms__inject_arm(NULL), 0);
	T_EQ(windows, HR_SIZE / HMS_HUGE_PAGE_SIZE);
	T_EQ(moved, HR_SIZE / HMS_HUGE_PAGE_SIZE);
	T_EQ(failed, HR_SIZE / HMS_HUGE_PAGE_SIZE);
	copied = hms__test_pool_copied(c.h);
	T_EQ(hr_back(&c, 100, NULL, NULL), 0);
	T_EQ(hms__test_pool_copied(c.h) - copied, HMS_HUGE_PAGE_SIZE);
	printf("ok: no table of notes (%llu failed): no fresh huge page, every byte back\n",
	       (unsigned long long)failed);

	hr_new_area(&c);
	hr_out(&c, 200, NULL, NULL);
	T_EQ(hr_back(&c, 200, NULL, NULL), HR_FRESH);
	hr_close(&c);
	printf("ok: with memory, the table made and fresh huge pages again\n");
	return 0;
}
