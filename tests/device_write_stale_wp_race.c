/* SPDX-License-Identifier: MIT */
/* device_write_stale_wp_race: a device's write in user-mode-only mode is
 * done by the kernel (MADV_POPULATE_WRITE in range.c's fault_in), and a
 * write protection there cannot fault into hms: it fails with EFAULT.  A
 * page the kernel keeps protected while hms' table says it is plain
 * writable system memory (a protection hms no longer records) was then
 * refused for good: fault_in resolved the fault again 1000 times, found
 * nothing to do, and returned -EFAULT.  A CPU write lifts such a stale
 * protection (its fault reaches hms); now a device's write does too.
 *
 * The state, made for real: wp.c write protects by address after its
 * look at the table, and an mremap(MREMAP_FIXED) of another managed
 * mapping onto the range in between (test hook WP_PROTECT, during a
 * dirty scan) has the ioctl protect the pages that arrived, which the
 * table records as unprotected (their entries moved with them).  A
 * device then takes exclusive access to them (hms_make_exclusive: the
 * kernel writes each page).  Before the fix: hms_make_exclusive -EFAULT. */
#include <sys/mman.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

#define NP 4

static struct {
	struct hms *h;
	char *d, *s;
	int fired;
} race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)arg;
	if (!race.h || point != HMS_HOOK_WP_PROTECT || start != (uintptr_t)race.d || race.fired++)
		return;
	T_EQ(len, NP * T_PAGE);
	T_ASSERT(mremap(race.s, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, race.d) == race.d);
	T_EQ(hms_sync(race.h), 0);
}

int main(void)
{
	struct hms *h;
	size_t size = NP * T_PAGE;
	struct hms_page_info info[NP];
	unsigned stale = 0;
	uint64_t bm = 0;
	char *d, *s;
	int first;
	long n;

	alarm(100);
	h = t_open_flags(HMS_OPEN_USER_MODE_ONLY);
	T_EQ(hms_mode(h), HMS_MODE_USER_ONLY);
	if (hms_wp_async(h))
		T_SKIP("dirty tracking uses asynchronous write protection here: no stale protection "
		       "can refuse a kernel write");
	d = hms_alloc(h, size, 0);
	s = hms_alloc(h, size, 0);
	T_ASSERT(d && s);
	memset(d, 1, size);
	memset(s, 2, size);

	race = (typeof(race)){ h, d, s, 0 };
	hms__test_hook_set(hook, NULL);
	n = hms_dirty_scan(h, d, size, &bm, 0);
	hms__test_hook_set(NULL, NULL);
	race.h = NULL;
	T_EQ(race.fired, 1);
	T_ASSERT(n >= 0 || n == -ENOENT);

	/* s's pages are at d now, protected by the scan's ioctl, and the
	 * table does not say so: the state this test is about. */
	T_EQ(hms_page_query(h, d, NP, info), NP);
	for (size_t i = 0; i < NP; i++) {
		T_EQ(info[i].location, HMS_LOC_SYSTEM);
		if (t_kernel_wp(d + i * T_PAGE) && !(info[i].flags & HMS_PAGE_WRITE_PROTECTED))
			stale++;
	}
	if (!stale)
		T_SKIP("the scan's ioctl protected none of the pages that arrived (%ld)", n);

	n = hms_make_exclusive(h, (uintptr_t)d, (uintptr_t)d + size, &first);
	if (n != NP)
		T_FAIL("hms_make_exclusive: %ld, not %d (%u stale protections)", n, NP, stale);
	for (size_t i = 0; i < size; i++)
		if (d[i] != 2)
			T_FAIL("byte %zu: %d, not the arrived pages' 2", i, d[i]);
	d[5] = 'c'; /* the CPU gets the pages back, and writes */
	T_EQ(d[5], 'c');
	printf("ok: %u stale protections lifted for the device\n", stale);
	hms_close(h);
	return 0;
}
