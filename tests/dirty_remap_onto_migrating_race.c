/* SPDX-License-Identifier: MIT */
/* dirty_remap_onto_migrating_race: mremap(MREMAP_FIXED) moves a
 * dirty-tracked range S (scanned: its pages write protected) onto a range
 * D while a migration of D to a device holds D's pages (after the driver's
 * copy).  D's held entries go dead and the migration moves nothing (the
 * device has room for one page, and the pages are gone).  Finalize then
 * lifted, by address, the write protection it had set at setup on D's
 * pages, which went with them: there were S's pages now, and the CPU's
 * next writes took no fault, so the next dirty scan reported the written
 * pages clean (found by review).  Finalize no longer touches the
 * protection of pages whose entries went dead. */
#include <sys/mman.h>
#include "hms_test.h"
#include "inject.h"

#define NPAGES 4
static struct { struct hms *h; char *s, *d; int fired; } race;

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)len; (void)arg;
	if (race.fired || point != HMS_HOOK_MIGRATE_PAGES || start != (uintptr_t)race.d)
		return;
	race.fired = 1;
	T_ASSERT(mremap(race.s, NPAGES * T_PAGE, NPAGES * T_PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
			race.d) == race.d);
	T_EQ(hms_sync(race.h), 0);
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *dev = t_softdev(h, T_PAGE); /* room for one page: the others stay */
	struct hms_softdev_cmd c;
	size_t size = NPAGES * T_PAGE;
	char *D = t_alloc_one_batch(h, size), *S = hms_alloc(h, size, 0);
	uint64_t bm;

	T_ASSERT(D && S);
	if (hms_wp_async(h))
		T_SKIP("asynchronous write protection");
	memset(D, 1, size);
	memset(S, 2, size);
	T_EQ(hms_dirty_scan(h, S, size, &bm, 0), NPAGES); /* armed: protected */
	race.h = h; race.s = S; race.d = D;
	hms__test_hook_set(hook, NULL);
	(void)t_cmd(dev, hms_softdev_migrate_to_device, D, NULL, NPAGES, &c);
	hms__test_hook_set(NULL, NULL);
	T_EQ(race.fired, 1);
	T_EQ(t_count_loc(h, D, NPAGES, HMS_LOC_SYSTEM), NPAGES);
	for (size_t i = 0; i < size; i++)
		if (D[i] != 2)
			T_FAIL("byte %zu at D: %d, not S's 2", i, D[i]);
	for (size_t i = 0; i < NPAGES; i++)
		D[i * T_PAGE] = 3; /* the CPU writes every page */
	T_ASSERT(hms_dirty_scan(h, D, size, &bm, 0) >= 0);
	for (size_t i = 0; i < NPAGES; i++)
		if (!((bm >> i) & 1))
			T_FAIL("page %zu written but reported clean (bitmap %#llx)", i,
			       (unsigned long long)bm);
	printf("ok\n");
	return 0;
}
