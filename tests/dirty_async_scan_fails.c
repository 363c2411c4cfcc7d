/* SPDX-License-Identifier: MIT */
/* dirty_async_scan_fails: in a WP_ASYNC context, a dirty scan whose
 * PAGEMAP_SCAN fails part way (a mapping without asynchronous write
 * protection appeared inside the range during the scan: another thread
 * unmapped the tail and mapped something else there; here a mirror's
 * sync callback does it) had already re-protected the written pages it
 * walked, and returned -EPERM: those writes were never reported (found by
 * review).  hms_dirty_scan(3): on an error, the pages it would have
 * reported read as written at the next scan.  The scan now fails with
 * -ENOENT and the pages from where the failed call began read as
 * written. */
#include <stdatomic.h>
#include <sys/mman.h>
#include "hms_test.h"

static char *p;
static atomic_int armed;

static bool sync_cb(struct hms_mirror *m, const struct hms_notify_range *r)
{
	(void)m;
	if (atomic_load(&armed) && r->event == HMS_EVENT_SOFT_DIRTY) {
		atomic_store(&armed, 0);
		/* another thread unmaps the tail and something else maps
		 * there: in one call (MAP_FIXED unmaps, with the same UNMAP
		 * event), or a third thread (the handler, malloc) could map at
		 * the freed address first, and MAP_FIXED would replace that */
		T_ASSERT(mmap(p + 6 * T_PAGE, 2 * T_PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p + 6 * T_PAGE);
	}
	return true;
}

static const struct hms_mirror_ops ops = { .sync = sync_cb };

int main(void)
{
	struct hms *h = t_open_flags(HMS_OPEN_WP_ASYNC);
	struct hms_mirror *m;
	uint64_t bm[1];
	long n;

	if (!hms_wp_async(h))
		T_SKIP("no WP_ASYNC");
	p = hms_alloc(h, 8 * T_PAGE, 0);
	T_ASSERT(p);
	memset(p, 1, 8 * T_PAGE);
	T_EQ(hms_dirty_scan(h, p, 8 * T_PAGE, bm, 0), 8);
	T_EQ(hms_dirty_scan(h, p, 8 * T_PAGE, bm, 0), 0);
	p[0] = 2;          /* written after the last scan */
	p[T_PAGE] = 2;
	T_EQ(hms_mirror_register(h, &ops, NULL, &m), 0);
	atomic_store(&armed, 1);
	n = hms_dirty_scan(h, p, 8 * T_PAGE, bm, 0);
	T_EQ(n, -ENOENT); /* unmapped during the scan */
	n = hms_dirty_scan(h, p, 6 * T_PAGE, bm, 0);
	if (n < 2 || (bm[0] & 3) != 3)
		T_FAIL("writes to pages 0 and 1 lost: next scan says %ld, bitmap %#llx",
		       n, (unsigned long long)bm[0]);
	hms_mirror_unregister(m);
	hms_close(h);
	return 0;
}
