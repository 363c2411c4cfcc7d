/* SPDX-License-Identifier: MIT */
/* wp_protect_partial_race: wp.c write protects each run of the pages it
 * holds with one UFFDIO_WRITEPROTECT, and that ioctl can fail part way:
 * the kernel protects mapping after mapping (page after page before
 * Linux 6.5) and stops at the first it cannot take (here: the range's
 * last page replaced, between wp.c's look at the table and the ioctl, by
 * a fresh mapping not registered with the userfaultfd).  The whole run
 * counted as unprotected and the table recorded nothing, while the kernel
 * kept the protection of the pages before that one.  A CPU write lifts
 * such a protection (its fault reaches hms), a kernel write in
 * user-mode-only mode cannot: hms_make_exclusive() on those pages failed
 * with -EFAULT (MADV_POPULATE_WRITE in range.c's fault_in, 1000 times).
 * Now a run that failed is recorded write protected (PTE_WP, for no
 * reason: the next write lifts it).  The protection that fails is a dirty
 * scan's, then a device's exclusive access; test hook WP_PROTECT.  Before
 * the fix both failed here: the kernel's uffd-wp bit set on pages
 * hms_page_query() reported unprotected, then hms_make_exclusive()
 * -EFAULT. */
#include <sys/mman.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

#define NP 4

static struct {
	struct hms *h;
	char *p;
	int fired;
} race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)arg;
	(void)len;
	if (!race.h || point != HMS_HOOK_WP_PROTECT || start != (uintptr_t)race.p || race.fired++)
		return;
	/* The range's last page becomes a mapping of someone else's. */
	t_map_foreign(race.h, race.p + (NP - 1) * T_PAGE);
}

static void one(bool exclusive)
{
	const char *what = exclusive ? "exclusive" : "dirty scan";
	struct hms *h = t_open_flags(HMS_OPEN_USER_MODE_ONLY);
	char *p = hms_alloc(h, NP * T_PAGE, 0);
	struct hms_page_info info[NP - 1];
	uint64_t bm = 0;
	unsigned unrecorded = 0;
	int first, second;
	long n;

	T_EQ(hms_mode(h), HMS_MODE_USER_ONLY);
	T_ASSERT(p);
	memset(p, 'x', NP * T_PAGE);
	race = (typeof(race)){ h, p, 0 };
	hms__test_hook_set(hook, NULL);
	/* Fails: part of the range is no longer managed. */
	if (exclusive)
		n = hms_make_exclusive(h, (uintptr_t)p, (uintptr_t)p + NP * T_PAGE, &first);
	else
		n = hms_dirty_scan(h, p, NP * T_PAGE, &bm, 0);
	hms__test_hook_set(NULL, NULL);
	race.h = NULL;
	T_EQ(race.fired, 1);
	T_EQ(n, -ENOENT);

	T_EQ(hms_page_query(h, p, NP - 1, info), NP - 1);
	for (size_t i = 0; i < NP - 1; i++) {
		T_EQ(info[i].location, HMS_LOC_SYSTEM);
		T_ASSERT(!(info[i].flags & HMS_PAGE_EXCLUSIVE));
		if (t_kernel_wp(p + i * T_PAGE) && !(info[i].flags & HMS_PAGE_WRITE_PROTECTED)) {
			unrecorded++;
			fprintf(stderr, "%s: page %zu write protected in the kernel, not in the table\n",
				what, i);
		}
	}
	/* A device takes exclusive access: the kernel writes each page. */
	n = hms_make_exclusive(h, (uintptr_t)p, (uintptr_t)p + (NP - 1) * T_PAGE, &second);
	if (n != NP - 1)
		T_FAIL("%s: hms_make_exclusive %ld, %u pages protected unrecorded", what, n,
		       unrecorded);
	T_EQ(unrecorded, 0);
	for (size_t i = 0; i < (NP - 1) * T_PAGE; i++)
		if (p[i] != 'x')
			T_FAIL("%s: byte %zu: %d", what, i, p[i]);
	p[5] = 'c'; /* the CPU writes (it gets the page back) */
	T_EQ(p[5], 'c');
	hms_close(h);
}

int main(void)
{
	one(false);
	one(true);
	printf("ok\n");
	return 0;
}
