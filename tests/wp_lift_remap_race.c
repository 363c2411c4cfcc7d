/* SPDX-License-Identifier: MIT */
/* wp_lift_remap_race: wp.c lifts, by address, the write protection of
 * pages it holds (PTE_BUSY) after dropping hms.lock.  An
 * mremap(MREMAP_FIXED) of another, dirty-tracked (so write-protected)
 * mapping onto such a page between wp.c's look at the table and its
 * UFFDIO_WRITEPROTECT ioctl made the ioctl lift the protection of the
 * page that arrived: its next CPU write went unreported by dirty
 * tracking (a test hook, WP_LIFT, runs just before the lift and does the
 * mremap):
 *
 *   unset:        HMS_ADVICE_UNSET_READ_MOSTLY drops the replicas of a
 *                 range (wp_unprotect_pass); tracked pages arrive onto
 *                 the replicated pages it holds.
 *   device-write: a device's write to a tracked page through
 *                 hms_range_fault (hms__wp_fault_locked off the fault
 *                 handler thread); a tracked page, read-only (so the
 *                 device's retry fails with -EPERM and does not write
 *                 it: the table still says it is protected and clean),
 *                 arrives onto it.
 *
 * The CPU then writes the pages that arrived, and a dirty scan must
 * report every one (found by review).  wp.c now lifts inside the fill
 * gate, one try (hms__uffd_wp_once), and looks at the table again when
 * an address-space event came in between: the page it held is gone
 * (PTE_DEAD), so nothing is lifted.  Case N alone: argv[1] = N. */
#include <sys/mman.h>
#include <unistd.h>

#include "dirty_util.h"
#include "hms_test.h"
#include "inject.h"

#define NPAGES 4

enum { UNSET, DEVICE_WRITE, NCASES };
static const char *const case_name[] = { "unset", "device-write" };

static struct {
	struct hms *h;
	char *d, *s;     /* held range, tracked source */
	char *onto;      /* where s's pages went */
	size_t onto_len;
	int lifts;
} race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)arg;
	if (!race.h || point != HMS_HOOK_WP_LIFT || start < (uintptr_t)race.d ||
	    start >= (uintptr_t)race.d + NPAGES * T_PAGE)
		return;
	race.lifts++;
	if (race.onto)
		return;
	race.onto = (char *)start;
	race.onto_len = len;
	T_ASSERT(mremap(race.s, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, race.onto) == race.onto);
	T_EQ(hms_sync(race.h), 0);
}

static void one(struct hms *h, int mode)
{
	struct hms_softdev *dev = t_softdev(h, 0);
	size_t size = NPAGES * T_PAGE;
	char *d = hms_alloc(h, size, 0), *s = hms_alloc(h, size, 0);
	static char buf[NPAGES * T_PAGE];
	struct hms_softdev_cmd c;
	uint64_t bm;
	int ret = 0;

	T_ASSERT(d && s);
	memset(d, 1, size);
	memset(s, 2, size);
	T_EQ(hms_dirty_scan(h, s, size, &bm, 0), NPAGES); /* armed: protected */
	if (mode == UNSET) {
		T_EQ(hms_advise(h, d, size, HMS_ADVICE_READ_MOSTLY, 0), 0);
		T_EQ(t_cmd(dev, hms_softdev_read, d, buf, NPAGES, &c), 0); /* replicas */
	} else {
		T_EQ(hms_dirty_scan(h, d, size, &bm, 0), NPAGES); /* armed: protected */
		/* read-only: the device's retry fails, and writes nothing */
		T_EQ(hms_protect(h, s, size, PROT_READ), 0);
	}
	race = (typeof(race)){ h, d, s, NULL, 0, 0 };
	hms__test_hook_set(hook, NULL);
	if (mode == UNSET) {
		ret = hms_advise(h, d, size, HMS_ADVICE_UNSET_READ_MOSTLY, 0);
		T_EQ(ret, 0);
	} else {
		memset(buf, 5, T_PAGE);
		ret = t_cmd(dev, hms_softdev_write, d, buf, 1, &c);
	}
	hms__test_hook_set(NULL, NULL);
	race.h = NULL;
	if (!race.onto)
		T_FAIL("%s: the hook did not act", case_name[mode]);
	if (mode == DEVICE_WRITE)
		T_EQ(hms_protect(h, race.onto, race.onto_len, PROT_READ | PROT_WRITE), 0);
	for (size_t i = 0; i < race.onto_len; i++)
		if (race.onto[i] != 2)
			T_FAIL("%s: byte %zu: %d, not s's 2", case_name[mode], i, race.onto[i]);
	t_dirty_write_all(h, race.onto, race.onto_len, case_name[mode]);
	printf("%s: ok (%d lifts hooked, %zu pages moved onto, returned %d)\n", case_name[mode],
	       race.lifts, race.onto_len / T_PAGE, ret);
	hms_free(h, d, size);
	hms_free(h, s, size); /* what is left of it */
	hms_softdev_destroy(dev);
}

int main(int argc, char **argv)
{
	struct hms *h = t_open();

	if (hms_wp_async(h))
		T_SKIP("READ_MOSTLY and the first-write path need synchronous write protection");
	t_run_cases(h, argc, argv, case_name, NCASES, one);
	return 0;
}
