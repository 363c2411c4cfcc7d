/* inject_gather_nomem: where no staging buffer can be had for gathering
 * a whole 2 MiB block whose device pages are scattered (migrate.c,
 * gather_block: injection point nomem, armed from HMS_HOOK_MIGRATE_PAGES
 * to the first fill's HMS_HOOK_MIGRATE_COMMIT), the block is filled run
 * by run from the device's own pages as before the gather: in small
 * pages, every page in system memory, every byte back.  SKIP without
 * transparent huge pages, a gated discard or page reuse. */
#include "hms_test.h"
#include "inject.h"
#include "scattered_block.inc"

static unsigned long hits;
static bool armed;

static void fail_staging(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)start, (void)len, (void)arg;
	if (point == HMS_HOOK_MIGRATE_PAGES) {
		T_EQ(hms__inject_arm("nomem:1"), 0);
		armed = true;
	} else if (point == HMS_HOOK_MIGRATE_COMMIT && armed) {
		hits += hms__inject_hits(HMS_INJ_NOMEM);
		T_EQ(hms__inject_arm(NULL), 0);
		armed = false;
	}
}

int main(void)
{
	struct hms *h;
	struct hms_softdev *d;
	struct hms_softdev_cmd c;
	int *p;

	unsetenv("HMS_PAGE_POOL_MB");
	h = t_open();
	if (!hms__test_gated_discard(h))
		T_SKIP("no gated discard here (no UFFDIO_MOVE, or HMS_UFFD_MOVE=0)");
	d = t_softdev(h, 4 * HMS_HUGE_PAGE_SIZE);
	p = scattered_block(h, d, 21);
	if (hms__test_pool_bytes(h) == 0)
		T_SKIP("page reuse off here (several NUMA nodes)");
	hms__test_hook_set(fail_staging, NULL);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, BLOCK_PAGES, &c), 0);
	hms__test_hook_set(NULL, NULL);
	T_EQ(hms__inject_arm(NULL), 0);
	T_EQ(hits, 1); /* the staging buffer's allocation, nothing else */
	T_EQ(c.cpages, BLOCK_PAGES);
	T_EQ(t_count_loc(h, p, BLOCK_PAGES, HMS_LOC_SYSTEM), BLOCK_PAGES);
	t_check(p, HMS_HUGE_PAGE_SIZE / sizeof(int), 21);
	T_ASSERT(t_anon_huge_kb(p) < (long)(HMS_HUGE_PAGE_SIZE >> 10)); /* not gathered */
	printf("ok: no staging buffer: the scattered block came back run by run, every byte\n");
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
