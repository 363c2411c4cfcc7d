/* SPDX-License-Identifier: MIT */
/* dirty_reuse_after_unmap_race: pages a migration to a device write
 * protected at setup are unmapped during the migration (a test hook at
 * its commit); once finalize has updated the table (a hook there), the
 * address is mapped again, managed, written and dirty scanned, which
 * protects the new pages.  Finalize then lifted, by address, the
 * protection it had set on the old pages: it took the scan's, and the
 * CPU's next writes to the new pages were never reported (found by
 * review).  It no longer lifts anything where entries went dead.  With
 * HMS_UFFD_MOVE=0 (the discard of kernels before 6.8, and of pages
 * UFFDIO_MOVE refuses): there the old pages stay, failed, in the
 * migration; the gated discard marks them moved. */
#include <stdlib.h>
#include <sys/mman.h>

#include "hms_test.h"
#include "inject.h"

#define NPAGES 8

static struct {
	struct hms *h;
	char *p;
	int stage;
} race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	uint64_t bm;

	(void)start, (void)len, (void)arg;
	if (point == HMS_HOOK_MIGRATE_COMMIT && race.stage == 0) {
		race.stage = 1;
		/* the application unmaps the range during the migration */
		T_EQ(munmap(race.p, NPAGES * T_PAGE), 0);
		T_EQ(hms_sync(race.h), 0);
	} else if (point == HMS_HOOK_MIGRATE_FINALIZED && race.stage == 1) {
		race.stage = 2;
		/* the address is reused: new memory, managed, written, scanned */
		T_ASSERT(mmap(race.p, NPAGES * T_PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == race.p);
		T_EQ(hms_manage(race.h, race.p, NPAGES * T_PAGE), 0);
		memset(race.p, 7, NPAGES * T_PAGE);
		T_EQ(hms_dirty_scan(race.h, race.p, NPAGES * T_PAGE, &bm, 0), NPAGES);
	}
}

int main(void)
{
	struct hms_softdev_cmd c;
	struct hms_softdev *d;
	volatile char *v;
	uint64_t bm;
	struct hms *h;
	char *p;

	T_EQ(setenv("HMS_UFFD_MOVE", "0", 1), 0);
	h = t_open();
	if (hms_wp_async(h))
		T_SKIP("asynchronous write protection: no protection to lift");
	d = t_softdev(h, 0);
	p = t_alloc_one_batch(h, NPAGES * T_PAGE);
	T_ASSERT(p);
	memset(p, 1, NPAGES * T_PAGE);
	race.h = h;
	race.p = p;
	hms__test_hook_set(hook, NULL);
	(void)t_cmd(d, hms_softdev_migrate_to_device, p, NULL, NPAGES, &c);
	hms__test_hook_set(NULL, NULL);
	T_EQ(race.stage, 2);
	v = p;
	for (int i = 0; i < NPAGES; i++)
		v[i * T_PAGE] = 9; /* the CPU writes every page */
	T_EQ(hms_dirty_scan(h, p, NPAGES * T_PAGE, &bm, 0), NPAGES);
	T_EQ(bm, (1ULL << NPAGES) - 1);
	for (int i = 0; i < NPAGES; i++)
		T_EQ(v[i * T_PAGE], 9);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
