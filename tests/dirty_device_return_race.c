/* dirty_device_return_race: a page in device memory when a re-arming
 * dirty scan picks the pages it protects, and back in system memory before
 * the scan reads the table (made to happen every time: a mirror moves it
 * back from the scan's SOFT_DIRTY invalidation), was not protected by that
 * scan: the CPU's next write to it is reported by the next scan.  (Found
 * by `hms stress`'s dirty-scan operation: the scan took the returned page
 * for a protected clean one, and the write went unreported.) */
#include <pthread.h>
#include <string.h>

#include "hms_driver.h"
#include "hms_test.h"

#define NPAGES 2 /* page 0 goes to the device; page 1 stays, so the scan protects something */

static struct {
	struct hms_softdev *d;
	char *p;
	int armed, done;
} race;

static void *move_back(void *arg)
{
	struct hms_softdev_cmd c;

	(void)arg;
	T_EQ(t_cmd(race.d, hms_softdev_migrate_to_system, race.p, NULL, 1, &c), 0);
	T_EQ(c.cpages, 1);
	return NULL;
}

/* Runs on the scanning thread, after the scan chose its pages. */
static bool sync_cb(struct hms_mirror *m, const struct hms_notify_range *r)
{
	pthread_t t;

	(void)m;
	if (r->event != HMS_EVENT_SOFT_DIRTY || !race.armed || race.done)
		return true;
	race.done = 1;
	/* Another thread: hms calls must not come from a callback. */
	T_EQ(pthread_create(&t, NULL, move_back, NULL), 0);
	T_EQ(pthread_join(t, NULL), 0);
	return true;
}

static const struct hms_mirror_ops ops = { .sync = sync_cb };

int main(void)
{
	struct hms *h = t_open();
	struct hms_mirror *m;
	struct hms_page_info info;
	volatile char *v;
	uint64_t bm;

	if (hms_wp_async(h))
		T_SKIP("the asynchronous path reads PAGEMAP_SCAN, not the table");
	race.d = t_softdev(h, NPAGES * T_PAGE);
	race.p = t_alloc_one_batch(h, NPAGES * T_PAGE);
	T_ASSERT(race.p);
	v = race.p;
	memset(race.p, 1, NPAGES * T_PAGE);
	T_EQ(hms_dirty_scan(h, race.p, NPAGES * T_PAGE, &bm, 0), NPAGES);
	t_to_device(h, race.d, race.p, 1, "page 0");
	T_EQ(hms_mirror_register(h, &ops, NULL, &m), 0);
	race.armed = 1;
	/* Page 0 is on the device when the scan picks, home when it reads. */
	T_ASSERT(hms_dirty_scan(h, race.p, NPAGES * T_PAGE, &bm, 0) >= 0);
	race.armed = 0;
	T_EQ(race.done, 1);
	T_EQ(hms_page_query(h, race.p, 1, &info), 1);
	T_EQ(info.location, HMS_LOC_SYSTEM);
	v[0] = 2; /* the CPU writes page 0 */
	T_ASSERT(hms_dirty_scan(h, race.p, NPAGES * T_PAGE, &bm, 0) >= 0);
	if (!(bm & 1))
		T_FAIL("page 0, back from the device during a scan, written and reported clean "
		       "(flags %#x)", info.flags);
	hms_mirror_unregister(m);
	hms_free(h, race.p, NPAGES * T_PAGE);
	hms_close(h);
	return 0;
}
