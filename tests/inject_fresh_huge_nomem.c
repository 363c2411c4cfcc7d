/* inject_fresh_huge_nomem: when the populate of a fresh huge page fails
 * (fresh_huge, uffd.c: MADV_POPULATE_WRITE without memory; injection point
 * nomem, armed only while a run of the way back is filled, hooks
 * MIGRATE_COMMIT to MIGRATE_COMMITTED), each of the three blocks that
 * would have come back through one is filled by UFFDIO_COPY instead
 * (hms__test_huge_filled stays; its range goes back to the spares), the
 * fourth still from the kept range, and every byte reads back.  The
 * populate is what fails: a spare range is there each time (a new range
 * is tried first where the spare may hold a page table, as one whose
 * populate failed may: that fails too, and the spare serves).  A first
 * round without the failure makes the
 * three fresh huge pages.  SKIP without transparent huge pages, a gated
 * discard or page reuse. */
#include "hms_test.h"
#include "inject.h"
#include "huge_round.inc"

static uint64_t failed;
static unsigned windows, spareless;

static void fail_populate(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)start, (void)len;
	if (point == HMS_HOOK_MIGRATE_COMMIT) {
		windows++;
		spareless += hms__test_spare_discards(arg) == 0;
		T_EQ(hms__inject_arm("nomem:1"), 0);
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
	hr_out(&c, 100, NULL, NULL);
	T_EQ(hr_back(&c, 100, NULL, NULL), HR_FRESH); /* all huge again */

	hr_out(&c, 200, NULL, NULL);
	copied = hms__test_pool_copied(c.h);
	T_EQ(hr_back(&c, 200, fail_populate, c.h), 0);
	T_EQ(hms__inject_arm(NULL), 0);
	T_EQ(windows, HR_SIZE / HMS_HUGE_PAGE_SIZE);
	T_EQ(spareless, 0);
	T_ASSERT(failed >= HR_FRESH / HMS_HUGE_PAGE_SIZE);
	T_ASSERT(failed <= 2 * HR_FRESH / HMS_HUGE_PAGE_SIZE);
	T_EQ(hms__test_pool_copied(c.h) - copied, HMS_HUGE_PAGE_SIZE);
	T_ASSERT(hms__test_spare_discards(c.h) >= 1);
	hr_close(&c);
	printf("ok: populate failed %llu times: copied instead, every byte back\n",
	       (unsigned long long)failed);
	return 0;
}
