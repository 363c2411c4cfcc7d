/* migrate_page_reuse: the pages a migration to a device discards are kept
 * and reused by the migration back (copied into, then moved in with
 * UFFDIO_MOVE, design 5a): every byte reads back, the pool empties as it
 * is used and fills no further than HMS_PAGE_POOL_MB; pages the kernel
 * took back meanwhile (memory pressure) are filled afresh; a read-only
 * range, where the kernel will not move pages, is filled by UFFDIO_COPY
 * after one page's copy in vain.  Kept pages stay as they are until
 * HMS_PAGE_POOL_IDLE_MS after the last was kept, then get MADV_FREE on the
 * handler thread (LazyFree in smaps); 0 gives it at once; a range that
 * refuses MADV_FREE is emptied, either way.  HMS_PAGE_POOL_MB=0 keeps
 * nothing.  Where reuse is off (no UFFDIO_MOVE, Linux 6.8, or several NUMA
 * nodes) it checks that nothing is kept. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

#define NPAGES 512 /* one 2 MiB batch */

static void there(struct hms *h, struct hms_softdev *d, int *p, size_t npages, int base)
{
	t_fill(p, npages * T_PAGE / sizeof(int), base);
	t_to_device(h, d, p, npages, "there");
}

static void back(struct hms *h, struct hms_softdev *d, int *p, size_t npages, int base)
{
	struct hms_softdev_cmd c;

	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, npages, &c), 0);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	t_check(p, npages * T_PAGE / sizeof(int), base);
}

static void arm_nomem_at_commit(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)start;
	(void)len;
	(void)arg;
	if (point == HMS_HOOK_MIGRATE_COMMIT)
		T_EQ(hms__inject_arm("nomem:1"), 0);
}

/* Waits (10 s at most: a watchdog, not a timing) until get(h) == want. */
static void wait_for(struct hms *h, size_t (*get)(struct hms *), size_t want, const char *what)
{
	for (int i = 0; get(h) != want; i++) {
		if (i == 1000)
			T_FAIL("%s: %zu, want %zu after 10 s", what, get(h), want);
		usleep(10000);
	}
}

/* There with every nomem point failing from the batch's commit on: the
 * kept range's MADV_FREE (as it is kept, or when it ages) is refused and
 * the range emptied, nothing kept; the way back reads every byte. */
static void refused_round(struct hms *h, struct hms_softdev *d, int *p, int base)
{
	hms__test_hook_set(arm_nomem_at_commit, NULL);
	there(h, d, p, NPAGES, base);
	hms__test_hook_set(NULL, NULL);
	wait_for(h, hms__test_pool_bytes, 0, "a kept range that refused MADV_FREE dropped");
	T_ASSERT(hms__inject_hits(HMS_INJ_NOMEM) >= 1);
	T_EQ(hms__inject_arm(NULL), 0);
	back(h, d, p, NPAGES, base);
}

/* LazyFree of the process, in bytes (smaps_rollup). */
static size_t lazy_free(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long kb = -1;

	T_ASSERT(f);
	while (kb < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "LazyFree: %ld kB", &kb) != 1)
			kb = -1;
	fclose(f);
	T_ASSERT(kb >= 0);
	return (size_t)kb << 10;
}

/* A context with kept pages aging after ms (as HMS_PAGE_POOL_IDLE_MS), a
 * softdev and one batch of managed memory. */
static struct hms *open_idle(const char *ms, struct hms_softdev **d, int **p, size_t size)
{
	struct hms *h;

	setenv("HMS_PAGE_POOL_IDLE_MS", ms, 1);
	h = t_open();
	*d = t_softdev(h, 0);
	*p = t_alloc_one_batch(h, size);
	return h;
}

int main(void)
{
	/* Kept pages stay hot all through the first part. */
	size_t size = NPAGES * T_PAGE;
	struct hms_softdev *d;
	int *p;
	struct hms *h = open_idle("60000", &d, &p, size);
	size_t copied, lazy;
	unsigned spares;
	bool reuse;

	there(h, d, p, NPAGES, 10);
	reuse = hms__test_pool_bytes(h) != 0;
	if (!reuse) {
		printf("page reuse off here (no UFFDIO_MOVE, several NUMA nodes, or "
		       "HMS_PAGE_POOL_MB=0): nothing kept\n");
		back(h, d, p, NPAGES, 10);
		T_EQ(hms__test_pool_bytes(h), 0);
		goto out;
	}
	/* Kept, as they are: the whole batch; used up by the way back, each
	 * byte copied into a kept page once. */
	T_EQ(hms__test_pool_bytes(h), size);
	T_EQ(hms__test_pool_lazy(h), 0);
	back(h, d, p, NPAGES, 10);
	T_EQ(hms__test_pool_bytes(h), 0);
	T_EQ(hms__test_pool_copied(h), size);

	/* The kernel took the kept pages back meanwhile: fresh ones. */
	there(h, d, p, NPAGES, 20);
	T_EQ(hms__test_pool_bytes(h), size);
	hms__test_pool_reclaim(h);
	back(h, d, p, NPAGES, 20);
	T_EQ(hms__test_pool_bytes(h), 0);

	/* Half the batch back: half the pool used, the rest kept. */
	there(h, d, p, NPAGES, 30);
	back(h, d, p, NPAGES / 2, 30);
	T_EQ(hms__test_pool_bytes(h), size / 2);
	back(h, d, p + NPAGES / 2 * (T_PAGE / sizeof(int)), NPAGES / 2, 30 + (int)(size / 2 / sizeof(int)));
	T_EQ(hms__test_pool_bytes(h), 0);

	/* The way back by CPU faults: the handler's fills reuse the kept
	 * pages too (moved on to the spare range first, where no access can
	 * make the handler wait for itself), every byte. */
	there(h, d, p, NPAGES, 35);
	copied = hms__test_pool_copied(h);
	t_check(p, size / sizeof(int), 35);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_SYSTEM), NPAGES);
	T_EQ(hms__test_pool_bytes(h), 0);
	T_EQ(hms__test_pool_copied(h) - copied, size);

	/* Read-only: the kernel will not move pages in; UFFDIO_COPY does,
	 * after one page per fill was copied into the pool in vain (not the
	 * whole batch). */
	there(h, d, p, NPAGES, 40);
	T_EQ(hms_protect(h, p, size, PROT_READ), 0);
	copied = hms__test_pool_copied(h);
	back(h, d, p, NPAGES, 40);
	T_EQ(hms__test_pool_bytes(h), size); /* not moved: still kept */
	T_ASSERT(hms__test_pool_copied(h) - copied >= T_PAGE);
	T_ASSERT(hms__test_pool_copied(h) - copied <= 4 * T_PAGE);
	T_EQ(hms_protect(h, p, size, PROT_READ | PROT_WRITE), 0);
	t_fill(p, size / sizeof(int), 41); /* writable again */
	t_check(p, size / sizeof(int), 41);
	/* The read-only round left its pages kept: two ranges now; a way
	 * back uses one up, which goes back to the spare ranges. */
	there(h, d, p, NPAGES, 60);
	T_EQ(hms__test_pool_bytes(h), 2 * size);
	spares = hms__test_spare_discards(h);
	back(h, d, p, NPAGES, 60);
	T_EQ(hms__test_pool_bytes(h), size);
	T_EQ(hms__test_spare_discards(h), spares + 1);
	T_EQ(hms_free(h, p, size), 0);

	hms_softdev_destroy(d);
	hms_close(h);

	/* HMS_PAGE_POOL_IDLE_MS=0: MADV_FREE as a range is kept; one that
	 * refuses (injected as nomem from the moment the batch commits) is
	 * emptied as a spare: nothing kept, nothing lost. */
	h = open_idle("0", &d, &p, size);
	there(h, d, p, NPAGES, 70);
	T_EQ(hms__test_pool_lazy(h), size);
	back(h, d, p, NPAGES, 70);
	refused_round(h, d, p, 71);
	T_EQ(hms_free(h, p, size), 0);
	hms_softdev_destroy(d);
	hms_close(h);

	/* HMS_PAGE_POOL_IDLE_MS=50: the handler ages kept ranges; one that
	 * refuses is emptied there. */
	h = open_idle("50", &d, &p, size);
	lazy = lazy_free();
	there(h, d, p, NPAGES, 72);
	wait_for(h, hms__test_pool_lazy, size, "kept pages aged");
	/* The kernel's per-CPU page lists may still hold a few. */
	T_ASSERT(lazy_free() >= lazy + size / 2);
	back(h, d, p, NPAGES, 72);
	T_EQ(hms__test_pool_bytes(h), 0);
	refused_round(h, d, p, 73);
	T_EQ(hms_free(h, p, size), 0);

out:
	hms_softdev_destroy(d);
	hms_close(h);
	unsetenv("HMS_PAGE_POOL_IDLE_MS");

	/* HMS_PAGE_POOL_MB=0: nothing kept. */
	setenv("HMS_PAGE_POOL_MB", "0", 1);
	h = t_open();
	d = t_softdev(h, 0);
	p = t_alloc_one_batch(h, size);
	there(h, d, p, NPAGES, 50);
	T_EQ(hms__test_pool_bytes(h), 0);
	back(h, d, p, NPAGES, 50);
	T_EQ(hms_free(h, p, size), 0);
	hms_softdev_destroy(d);
	hms_close(h);

	/* HMS_PAGE_POOL_MB=8: at most four ranges kept (each takes 2 MiB of
	 * address space whatever it holds), however small the discards.  Kept
	 * hot: after the default second the handler ages them, taking them
	 * off the pool while it gives them MADV_FREE, and a count then read
	 * fewer (a loaded machine takes that long over the ten migrations). */
	setenv("HMS_PAGE_POOL_MB", "8", 1);
	setenv("HMS_PAGE_POOL_IDLE_MS", "60000", 1);
	h = t_open();
	d = t_softdev(h, 0);
	if (reuse) {
		const size_t small = 16 * T_PAGE, blk = HMS_MIGRATE_MAX_BYTES;
		char *q = hms_alloc(h, 11 * blk, 0);
		char *b0 = (char *)(((uintptr_t)q + blk - 1) & ~(uintptr_t)(blk - 1));

		T_ASSERT(q);
		for (int k = 0; k < 10; k++)
			there(h, d, (int *)(b0 + k * blk), small / T_PAGE, 80 + k);
		T_EQ(hms__test_pool_bytes(h), 4 * small);
		for (int k = 0; k < 10; k++)
			back(h, d, (int *)(b0 + k * blk), small / T_PAGE, 80 + k);
		T_EQ(hms__test_pool_bytes(h), 0);
		T_EQ(hms_free(h, q, 11 * blk), 0);
	}
	hms_softdev_destroy(d);
	hms_close(h);
	unsetenv("HMS_PAGE_POOL_MB");
	unsetenv("HMS_PAGE_POOL_IDLE_MS");
	return 0;
}
