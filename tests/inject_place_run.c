/* inject_place_run: a device reading (or writing) system pages a policy
 * binds to its memory places them a run at a time: one migration per
 * 2 MiB the device asks for, not one per page (1024 for these 4 MiB
 * before: 7x the time of hms_migrate and the same read).  The run stops
 * at pages the single-page path treats otherwise: one the device accesses
 * in place (HMS_ADVICE_ACCESSED_BY) and read-mostly ones (replicas) stay in
 * system memory, the rest of the range goes, and every byte is right.  A
 * second device the policy lists takes the first one's pages a run at a
 * time too.
 */
#include "hms_test.h"
#include "place_util.h"
#include "inject.h"

#define NP 1024 /* 4 MiB */

static unsigned migrations;

static void count(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)start;
	(void)len;
	(void)arg;
	if (point == HMS_HOOK_MIGRATE_PAGES)
		migrations++;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 16 << 20), *e = t_softdev(h, 16 << 20);
	hms_uid t = hms_softdev_target(d), both[2] = { t, hms_softdev_target(e) };
	char *p = hms_alloc(h, NP * T_PAGE, 0), *q = hms_alloc(h, NP * T_PAGE, 0);
	char *buf = malloc(NP * T_PAGE);
	struct hms_page_info *info = calloc(NP, sizeof(*info));
	struct hms_softdev_cmd c;

	T_ASSERT(p && q && buf && info);
	hms__test_hook_set(count, NULL);

	/* A read of 4 MiB: two device chunks of 2 MiB, each at most two
	 * migration batches (where it crosses a 2 MiB boundary). */
	t_pattern(p, NP, 1);
	T_EQ(hms_bind(h, p, NP * T_PAGE, &t, 1, 0), 0);
	migrations = 0;
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, NP, &c), 0);
	t_pattern_check(buf, NP, 1);
	t_where_all(h, p, NP, t);
	T_ASSERT(migrations >= 2 && migrations <= 4);

	/* A write: the same, with the device's bytes. */
	t_pattern(q, NP, 2);
	T_EQ(hms_bind(h, q, NP * T_PAGE, &t, 1, 0), 0);
	t_pattern(buf, NP, 3);
	migrations = 0;
	T_EQ(t_cmd(d, hms_softdev_write, q, buf, NP, &c), 0);
	t_where_all(h, q, NP, t);
	T_ASSERT(migrations >= 2 && migrations <= 4);
	t_pattern_check(q, NP, 3); /* the CPU brings them home */
	T_EQ(t_count_loc(h, q, NP, HMS_LOC_SYSTEM), NP);

	/* Pages the run must not take: page 100 accessed in place, pages
	 * 600-601 read-mostly. */
	T_EQ(hms_free(h, q, NP * T_PAGE), 0);
	q = hms_alloc(h, NP * T_PAGE, 0);
	T_ASSERT(q);
	t_pattern(q, NP, 4);
	T_EQ(hms_bind(h, q, NP * T_PAGE, &t, 1, 0), 0);
	T_EQ(hms_advise(h, q + 100 * T_PAGE, T_PAGE, HMS_ADVICE_ACCESSED_BY, t), 0);
	T_EQ(hms_advise(h, q + 600 * T_PAGE, 2 * T_PAGE, HMS_ADVICE_READ_MOSTLY, 0), 0);
	T_EQ(t_cmd(d, hms_softdev_read, q, buf, NP, &c), 0);
	t_pattern_check(buf, NP, 4);
	T_EQ(hms_page_query(h, q, NP, info), NP);
	for (size_t i = 0; i < NP; i++) {
		bool stays = i == 100 || i == 600 || i == 601;

		if (info[i].location != (stays ? HMS_LOC_SYSTEM : HMS_LOC_DEVICE))
			T_FAIL("page %zu: location %d", i, info[i].location);
	}
	T_ASSERT(info[600].flags & HMS_PAGE_REPLICATED);
	t_pattern_check(q, NP, 4);

	/* A handoff: a policy listing two devices, the second's read takes
	 * the first's pages a run at a time too (an eviction, then a
	 * migration: 2 of each per chunk at most, 2048 in all before). */
	T_EQ(hms_free(h, q, NP * T_PAGE), 0);
	q = hms_alloc(h, NP * T_PAGE, 0);
	T_ASSERT(q);
	t_pattern(q, NP, 5);
	T_EQ(hms_bind(h, q, NP * T_PAGE, both, 2, 0), 0);
	T_EQ(t_cmd(d, hms_softdev_read, q, buf, NP, &c), 0);
	t_where_all(h, q, NP, t);
	migrations = 0;
	T_EQ(t_cmd(e, hms_softdev_read, q, buf, NP, &c), 0);
	t_pattern_check(buf, NP, 5);
	t_where_all(h, q, NP, both[1]);
	T_ASSERT(migrations >= 4 && migrations <= 8);
	T_EQ(hms_softdev_pages_used(d), NP); /* p's pages only */
	T_EQ(hms_softdev_pages_used(e), NP);

	hms__test_hook_set(NULL, NULL);
	hms_close(h);
	free(buf);
	free(info);
	return 0;
}
