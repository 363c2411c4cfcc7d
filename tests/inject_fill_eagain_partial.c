/* inject_fill_eagain_partial: a way back from a device whose fill the
 * kernel refuses part way, after some pages have moved in, keeps what
 * moved and fills only the rest on the next try.  A run of 64 pages
 * comes home through two kept ranges: 16 pages left in one, then 48 in
 * another.  Injection point uffd_eagain refuses the first move into the
 * second range (its third UFFDIO_MOVE: the first range takes one page
 * alone, then the other 15), as the kernel refuses while an address-space
 * change is unread.  uffd_fill (uffd.c) must then say the 16 pages were
 * done; the retry starts after them.  Had it said -EAGAIN, the retry
 * would fill the 16 again and find each present (a fill conflict, the
 * page kept), and their data would have been copied twice.  Every int
 * reads back, no conflict, each page copied into a kept page once (the
 * refused move's copy is not counted), and the run went in one fill (one
 * MIGRATE_COMMIT hook).  SKIP without page reuse. */
#include "hms_test.h"
#include "inject.h"

#define NP 64 /* the run that comes home */
#define NQ 48 /* the batch that leaves 16 pages of P's kept range */

static unsigned commits;
static uint64_t refused;

static void refuse_third_move(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)start, (void)len, (void)arg;
	if (point == HMS_HOOK_MIGRATE_COMMIT) {
		commits++;
		hms__inject_arm_nth(HMS_INJ_UFFD_EAGAIN, 3);
	} else if (point == HMS_HOOK_MIGRATE_COMMITTED) {
		refused += hms__inject_hits(HMS_INJ_UFFD_EAGAIN);
		T_EQ(hms__inject_arm(NULL), 0);
	}
}

int main(void)
{
	struct hms *h;
	struct hms_softdev *d;
	struct hms_softdev_cmd c;
	size_t copied;
	int *p, *q;

	setenv("HMS_PAGE_POOL_IDLE_MS", "60000", 1); /* kept pages stay as they are */
	h = t_open();
	d = t_softdev(h, 0);
	p = t_alloc_one_batch(h, NP * T_PAGE);
	q = t_alloc_one_batch(h, NQ * T_PAGE);
	t_fill(p, NP * T_PAGE / sizeof(int), 100);
	t_fill(q, NQ * T_PAGE / sizeof(int), 200);

	/* kept ranges, newest first: P's 64 pages, Q's 48 */
	t_to_device(h, d, q, NQ, "q there");
	if (!hms__test_pool_bytes(h))
		T_SKIP("page reuse is off here (no UFFDIO_MOVE, or several NUMA nodes)");
	t_to_device(h, d, p, NP, "p there");
	T_EQ(hms__test_pool_bytes(h), (NP + NQ) * T_PAGE);
	/* Q home through P's range: 16 of its pages are left */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, q, NULL, NQ, &c), 0);
	t_check(q, NQ * T_PAGE / sizeof(int), 200);
	T_EQ(hms__test_pool_bytes(h), (NP + NQ - NQ) * T_PAGE);

	copied = hms__test_pool_copied(h);
	hms__test_hook_set(refuse_third_move, NULL);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, NP, &c), 0);
	hms__test_hook_set(NULL, NULL);
	T_EQ(hms__inject_arm(NULL), 0);
	copied = hms__test_pool_copied(h) - copied;

	T_EQ(t_count_loc(h, p, NP, HMS_LOC_SYSTEM), NP);
	t_check(p, NP * T_PAGE / sizeof(int), 100);
	T_EQ(commits, 1); /* one run: its device pages lay together */
	T_EQ(refused, 1);
	T_EQ(hms__test_fill_conflicts(h), 0);
	T_EQ(copied, NP * T_PAGE);
	T_EQ(hms__test_pool_bytes(h), 0);

	T_EQ(hms_free(h, q, NQ * T_PAGE), 0);
	T_EQ(hms_free(h, p, NP * T_PAGE), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	printf("ok: a fill refused after 16 of 64 pages went on from there, every int back\n");
	return 0;
}
