/* inject_huge_fill_eagain: a block that left as one huge page comes back
 * as one even when the kernel refuses its move in for now.  The kernel
 * answers EAGAIN to UFFDIO_MOVE while an address-space change is unread;
 * here injection point uffd_eagain, armed for one failure at each run's
 * MIGRATE_COMMIT hook, makes the whole 2 MiB move of each block's fill
 * (pool_fill, uffd.c) say so.  The fill tries again, moving whole: the
 * kept range is still whole, and the three blocks with no kept range
 * still have their note for a fresh huge page.  Before, the note was used
 * up by the refused try, and the next one filled those three blocks in
 * small pages (2 MiB of 8 huge, not 8).  Every byte reads back.  SKIP
 * without transparent huge pages, a gated discard or page reuse. */
#include "hms_test.h"
#include "inject.h"
#include "huge_round.inc"

static unsigned windows;
static uint64_t refused;

static void refuse_once(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)start, (void)len, (void)arg;
	if (point == HMS_HOOK_MIGRATE_COMMIT) {
		windows++;
		hms__inject_arm_once(HMS_INJ_UFFD_EAGAIN);
	} else if (point == HMS_HOOK_MIGRATE_COMMITTED) {
		refused += hms__inject_hits(HMS_INJ_UFFD_EAGAIN);
		T_EQ(hms__inject_arm(NULL), 0);
	}
}

int main(void)
{
	struct hr_ctx c;
	size_t copied;

	hr_open(&c);
	hr_out(&c, 100, NULL, NULL);
	copied = hms__test_pool_copied(c.h);
	T_EQ(hr_back(&c, 100, refuse_once, NULL), HR_FRESH);
	T_EQ(hms__inject_arm(NULL), 0);
	T_EQ(windows, HR_SIZE / HMS_HUGE_PAGE_SIZE);
	T_EQ(refused, HR_SIZE / HMS_HUGE_PAGE_SIZE);
	T_EQ(t_anon_huge_kb(c.p), (long)(HR_SIZE >> 10));
	/* the kept range's block: copied once, on the try that moved */
	T_EQ(hms__test_pool_copied(c.h) - copied, HMS_HUGE_PAGE_SIZE);

	/* and the next round trip finds them huge still */
	hr_out(&c, 200, NULL, NULL);
	T_EQ(hr_back(&c, 200, NULL, NULL), HR_FRESH);
	T_EQ(t_anon_huge_kb(c.p), (long)(HR_SIZE >> 10));
	hr_close(&c);
	printf("ok: %llu whole moves refused once each, every block huge again, every byte "
	       "back\n",
	       (unsigned long long)refused);
	return 0;
}
