/* devmem_remove_during_place: hms_devmem_remove() while hms runs the
 * driver's migrate_to_device for a placement (hms_migrate to the device,
 * and a device's first touch of a range bound to it) waits for that
 * callback instead of freeing the devmem under it; the pages the callback
 * moved in make it fail with -EBUSY (they would have been lost with the
 * devmem), and a second remove brings them home, every byte intact. */
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include "hms_test.h"

#define NP 16

static char pool[NP][4096] __attribute__((aligned(4096)));
static bool used[NP];
static int owner_tok;
static struct hms *ctx;
static struct hms_devmem *dm;
static hms_pfn first; /* kept apart: the callback never reads a freed dm */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool entered, release, removed;
static int remove_ret;

/* ---- a minimal driver whose migrate_to_device waits for the test --------- */

static long migrate_to_device(struct hms_devmem *m, uintptr_t start, uintptr_t end)
{
	uint64_t src[NP], dst[NP];
	struct hms_migrate_vma mv = { .start = start, .end = end, .src = src, .dst = dst,
				      .pgmap_owner = &owner_tok,
				      .flags = HMS_MIGRATE_SELECT_SYSTEM };
	long moved = 0;

	(void)m;
	T_ASSERT(end - start <= NP * T_PAGE);
	pthread_mutex_lock(&mu);
	entered = true;
	pthread_cond_broadcast(&cv);
	while (!release)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);

	if (hms_migrate_vma_setup(ctx, &mv))
		return 0;
	for (size_t i = 0; i < mv.npages; i++) {
		const void *from;
		int idx = 0;

		if (!(src[i] & HMS_MIGRATE_PFN_MIGRATE))
			continue;
		while (idx < NP && used[idx])
			idx++;
		T_ASSERT(idx < NP);
		used[idx] = true;
		from = hms_migrate_src_ptr(&mv, i);
		if (from)
			memcpy(pool[idx], from, T_PAGE);
		else
			memset(pool[idx], 0, T_PAGE);
		dst[i] = hms_migrate_pfn(first + (hms_pfn)idx);
	}
	hms_migrate_vma_pages(&mv);
	hms_migrate_vma_finalize(&mv);
	for (size_t i = 0; i < mv.npages; i++)
		moved += (src[i] & HMS_MIGRATE_PFN_MIGRATE) != 0;
	return moved;
}

static int migrate_to_ram(struct hms_devmem *m, const struct hms_devmem_fault *f)
{
	uint64_t src[512], dst[512];
	struct hms_migrate_vma mv = { .start = f->start, .end = f->end, .src = src, .dst = dst,
				      .pgmap_owner = &owner_tok,
				      .flags = HMS_MIGRATE_SELECT_DEVICE_PRIVATE };
	int ret = hms_migrate_vma_setup(hms_devmem_context(m), &mv);

	if (ret)
		return ret;
	for (size_t i = 0; i < mv.npages; i++)
		if (src[i] & HMS_MIGRATE_PFN_MIGRATE)
			T_EQ(hms_migrate_dst_system_from(&mv, i,
							 pool[hms_migrate_pfn_to_pfn(src[i]) - first]),
			     0);
	hms_migrate_vma_pages(&mv);
	hms_migrate_vma_finalize(&mv);
	return 0;
}

static void page_free(struct hms_devmem *m, hms_pfn pfn)
{
	(void)m;
	used[pfn - first] = false;
}

static const struct hms_devmem_ops ops = {
	.migrate_to_ram = migrate_to_ram,
	.page_free = page_free,
	.migrate_to_device = migrate_to_device,
};

/* ---- the two placements, and the remove ---------------------------------- */

static char *area;
static long placed;

static void *do_migrate(void *arg)
{
	hms_uid target = hms_devmem_target(dm);

	(void)arg;
	placed = hms_migrate(ctx, area, NP * T_PAGE, &target, 1, 0);
	return NULL;
}

/* The device reads the range, which is bound to its memory: the first
 * touch places each page there. */
static void *do_touch(void *arg)
{
	uint64_t pfns[NP] = { 0 };
	struct hms_range r = { .start = (uintptr_t)area, .end = (uintptr_t)area + NP * T_PAGE,
			       .pfns = pfns, .default_flags = HMS_PFN_REQ_FAULT,
			       .dev_private_owner = &owner_tok };

	(void)arg;
	placed = hms_range_fault(ctx, &r);
	return NULL;
}

static void *do_remove(void *arg)
{
	int ret = hms_devmem_remove(dm);

	(void)arg;
	pthread_mutex_lock(&mu);
	remove_ret = ret;
	removed = true;
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void run(const char *what, void *(*place)(void *), long want)
{
	struct hms_devmem_desc desc = { "testdev", NP, &owner_tok, HMS_DEVMEM_PRIVATE };
	size_t n = NP * T_PAGE / sizeof(int);
	struct timespec until;
	pthread_t pt, rt;
	hms_uid where[NP], target;

	T_EQ(hms_devmem_add(ctx, &desc, &ops, NULL, &dm), 0);
	first = hms_devmem_pfn_first(dm);
	target = hms_devmem_target(dm);
	if (!target)
		T_SKIP("no topology: the device memory is no target");
	area = hms_alloc(ctx, NP * T_PAGE, 0);
	T_ASSERT(area);
	t_fill((int *)area, n, 1000);
	/* hms_migrate moves only pages whose node the topology knows. */
	T_EQ(hms_where(ctx, area, NP, where), NP);
	if (!where[0])
		T_SKIP("the topology does not know the node of system pages");
	if (place == do_touch)
		T_EQ(hms_bind(ctx, area, NP * T_PAGE, &target, 1, 0), 0);
	entered = release = removed = false;

	T_EQ(pthread_create(&pt, NULL, place, NULL), 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&mu);
	while (!entered)
		if (pthread_cond_timedwait(&cv, &mu, &until))
			T_FAIL("%s: migrate_to_device was not called in 10 s", what);
	pthread_mutex_unlock(&mu);

	/* The callback runs: the remove must wait for it. */
	T_EQ(pthread_create(&rt, NULL, do_remove, NULL), 0);
	usleep(300 * 1000);
	pthread_mutex_lock(&mu);
	if (removed)
		T_FAIL("%s: hms_devmem_remove returned %d while migrate_to_device ran", what,
		       remove_ret);
	release = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);

	T_EQ(pthread_join(pt, NULL), 0);
	T_EQ(placed, want);
	T_EQ(pthread_join(rt, NULL), 0);
	/* The callback moved pages in after the remove had looked: it must
	 * have seen them, not dropped them with the devmem. */
	if (remove_ret != -EBUSY)
		T_FAIL("%s: hms_devmem_remove returned %d with pages on the device, not -EBUSY",
		       what, remove_ret);
	T_EQ(t_count_loc(ctx, area, NP, HMS_LOC_DEVICE), NP);

	/* Now it brings them home and goes. */
	T_EQ(hms_devmem_remove(dm), 0);
	T_EQ(t_count_loc(ctx, area, NP, HMS_LOC_SYSTEM), NP);
	t_check((int *)area, n, 1000);
	for (int i = 0; i < NP; i++)
		T_ASSERT(!used[i]);
	T_EQ(hms_free(ctx, area, NP * T_PAGE), 0);
}

int main(void)
{
	ctx = t_open();
	run("hms_migrate", do_migrate, NP);
	run("first touch", do_touch, 0);
	hms_close(ctx);
	return 0;
}
