/* SPDX-License-Identifier: MIT */
/* migrate_protect_partial_race: a migration's setup write protects each
 * run of populated system pages with one UFFDIO_WRITEPROTECT, and that
 * ioctl can fail part way: the kernel protects mapping after mapping
 * (page after page before Linux 6.5) and stops at the first it cannot
 * take (here: the run's last page replaced, between the selection and the
 * ioctl, by a fresh mapping not registered with the userfaultfd).  Setup
 * marked the whole run "failed" and finalize neither lifted its
 * protection nor recorded it: the pages stayed write protected in the
 * kernel behind a table that said writable.  A CPU write lifts such a
 * protection (its fault reaches hms), but a kernel write in
 * user-mode-only mode cannot: hms_make_exclusive() on those pages failed
 * with -EFAULT (MADV_POPULATE_WRITE in range.c's fault_in, 1000 times).
 * The same with a protection the pages had before the migration (armed
 * by a dirty scan), which the failed run kept while finalize dropped it
 * from the table.  Before the fix both cases failed here: the kernel's
 * uffd-wp bit set on pages hms_page_query() reported unprotected, then
 * hms_make_exclusive() -EFAULT.  The test hook MIGRATE_PROTECT runs just
 * before setup's ioctl. */
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
	if (!race.h || point != HMS_HOOK_MIGRATE_PROTECT || start != (uintptr_t)race.p ||
	    race.fired++)
		return;
	/* The run's last page becomes a mapping of someone else's. */
	t_map_foreign(race.h, race.p + (NP - 1) * T_PAGE);
}

static void one(bool tracked)
{
	struct hms *h = t_open_flags(HMS_OPEN_USER_MODE_ONLY);
	struct hms_softdev *d = t_softdev(h, NP * T_PAGE);
	char *p = t_alloc_one_batch(h, NP * T_PAGE);
	struct hms_page_info info[NP - 1];
	struct hms_softdev_cmd c;
	uint64_t bm = 0;
	unsigned unrecorded = 0;
	long n;
	int owner;

	T_EQ(hms_mode(h), HMS_MODE_USER_ONLY);
	memset(p, 'x', NP * T_PAGE);
	if (tracked) /* protected before the migration */
		T_EQ(hms_dirty_scan(h, p, NP * T_PAGE, &bm, 0), NP);
	race = (typeof(race)){ h, p, 0 };
	hms__test_hook_set(hook, NULL);
	(void)t_cmd(d, hms_softdev_migrate_to_device, p, NULL, NP, &c);
	hms__test_hook_set(NULL, NULL);
	race.h = NULL;
	T_EQ(race.fired, 1);

	/* Setup's protection failed: nothing moved, nothing is lost. */
	T_EQ(hms_page_query(h, p, NP - 1, info), NP - 1);
	for (size_t i = 0; i < NP - 1; i++) {
		bool table = info[i].flags & HMS_PAGE_WRITE_PROTECTED;

		T_EQ(info[i].location, HMS_LOC_SYSTEM);
		if (t_kernel_wp(p + i * T_PAGE) && !table) {
			unrecorded++;
			fprintf(stderr, "%s: page %zu write protected in the kernel, not in the table\n",
				tracked ? "tracked" : "untracked", i);
		}
	}
	for (size_t i = 0; i < (NP - 1) * T_PAGE; i++)
		if (p[i] != 'x')
			T_FAIL("byte %zu: %d", i, p[i]);

	/* A device takes exclusive access: the kernel writes each page. */
	n = hms_make_exclusive(h, (uintptr_t)p, (uintptr_t)p + (NP - 1) * T_PAGE, &owner);
	if (n != NP - 1)
		T_FAIL("%s: hms_make_exclusive %ld, %u pages protected unrecorded",
		       tracked ? "tracked" : "untracked", n, unrecorded);
	T_EQ(unrecorded, 0);
	p[5] = 'c'; /* and the CPU writes (it gets the page back) */
	T_EQ(p[5], 'c');
	T_EQ(p[T_PAGE], 'x');
	hms_close(h);
}

int main(void)
{
	struct hms *h = t_open_flags(HMS_OPEN_USER_MODE_ONLY);
	bool async = hms_wp_async(h);

	hms_close(h);
	if (async)
		T_SKIP("a migration leaves populated pages alone with asynchronous write protection");
	one(false);
	one(true);
	printf("ok\n");
	return 0;
}
