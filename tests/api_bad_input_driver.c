/* api_bad_input_driver: the careless inputs bad_args does not try, given
 * to the driver API of hms_driver.h (NULL contexts and out-parameters,
 * device pfns that belong to no device memory or to another owner's,
 * unknown kinds, wrapping
 * ranges, ranges across two areas or already freed, removed uids), and the
 * calls its callbacks are allowed to make, each return the documented
 * result and lose no data. */
#include <fcntl.h>
#include <stdatomic.h>
#include <unistd.h>
#include "minidev.h"

#define NP 4

static struct hms *H;
/* Set by callbacks, on whichever thread hms runs them: atomics. */
static atomic_int sync_calls, sync_stats_ret = 1;
static atomic_bool sync_saw_invalidating;
static void *_Atomic sync_priv;

/* Allowed in sync(): hms_stats (any thread, callbacks included),
 * hms_mirror_priv and hms_range_invalidating (non-blocking reads). */
static bool rec_sync(struct hms_mirror *m, const struct hms_notify_range *r)
{
	struct hms_stats st;

	if (r->event != HMS_EVENT_PROTECTION_VMA)
		return true;
	sync_calls++;
	sync_stats_ret = hms_stats(H, &st);
	sync_priv = hms_mirror_priv(m);
	sync_saw_invalidating = hms_range_invalidating(H, r->start, r->end);
	return true;
}

static atomic_int iv_calls;
static void *_Atomic iv_priv;

static bool rec_inv(struct hms_interval *iv, const struct hms_notify_range *r, unsigned long s)
{
	(void)r;
	iv_calls++;
	iv_priv = hms_interval_priv(iv);
	hms_interval_set_seq(iv, s);
	return true;
}

/* migrate_to_ram: hms_sync() on the fault handler thread returns at once
 * (0); then the page comes home. */
static atomic_int handler_sync_ret = 1, handler_calls;

static int to_ram(struct hms_devmem *dm, const struct hms_devmem_fault *f)
{
	struct hms *h = hms_devmem_context(dm);

	handler_calls++;
	if (f->nowait)
		handler_sync_ret = hms_sync(h);
	return minidev_page_home(h, f->addr);
}

static void nop_free(struct hms_devmem *dm, hms_pfn pfn)
{
	(void)dm;
	(void)pfn;
}

/* Another driver's device memory: what hms hands it back. */
static atomic_int other_freed;

static void count_free(struct hms_devmem *dm, hms_pfn pfn)
{
	(void)dm;
	(void)pfn;
	other_freed++;
}

/* One page to the minidev with dst[0] = entry: refused with -EINVAL when
 * entry names a page of no device memory; the page stays, data intact. */
static void bogus_dst(struct hms *h, char *p, uint64_t entry, const char *what)
{
	uint64_t src[1], dst[1];
	struct hms_migrate_vma mv = { .start = (uintptr_t)p, .end = (uintptr_t)p + T_PAGE,
				      .src = src, .dst = dst, .pgmap_owner = &md.owner,
				      .flags = HMS_MIGRATE_SELECT_SYSTEM };
	struct hms_page_info pi;
	int ret;

	T_EQ(hms_migrate_vma_setup(h, &mv), 0);
	T_EQ(mv.cpages, 1);
	dst[0] = entry;
	ret = hms_migrate_vma_pages(&mv);
	if (ret != -EINVAL)
		T_FAIL("%s: hms_migrate_vma_pages %d, expected -EINVAL", what, ret);
	hms_migrate_vma_finalize(&mv);
	T_EQ(src[0] & HMS_MIGRATE_PFN_MIGRATE, 0); /* did not move */
	T_EQ(hms_page_query(h, p, 1, &pi), 1);
	if (pi.location != HMS_LOC_SYSTEM)
		T_FAIL("%s: the page left system memory (location %d)", what, pi.location);
	for (size_t i = 0; i < T_PAGE; i++)
		T_EQ(p[i], 9); /* and reads back without a fault into nowhere */
}

static void devmem_cases(struct hms *h)
{
	static const struct hms_devmem_ops ops = { to_ram, nop_free, NULL, NULL, NULL };
	struct hms_devmem_desc desc = { "api", 4, &desc, HMS_DEVMEM_PRIVATE };
	struct hms_devmem *sent = (struct hms_devmem *)(uintptr_t)0x5a5a, *dm = sent;

	T_EQ(hms_devmem_add(NULL, &desc, &ops, NULL, &dm), -EINVAL);
	T_EQ(hms_devmem_add(h, NULL, &ops, NULL, &dm), -EINVAL);
	T_EQ(hms_devmem_add(h, &desc, &ops, NULL, NULL), -EINVAL);
	desc.kind = (enum hms_devmem_kind)7;
	T_EQ(hms_devmem_add(h, &desc, &ops, NULL, &dm), -EINVAL);
	desc.kind = HMS_DEVMEM_PRIVATE;
	desc.npages = (1ULL << 40) + 1;
	T_EQ(hms_devmem_add(h, &desc, &ops, NULL, &dm), -EINVAL);
	desc.npages = UINT64_MAX;
	T_EQ(hms_devmem_add(h, &desc, &ops, NULL, &dm), -EINVAL);
	T_ASSERT(dm == sent);
	T_EQ(hms_devmem_evict(NULL), -EINVAL);
	T_EQ(hms_devmem_remove(NULL), -EINVAL);
	T_ASSERT(hms_devmem_priv(NULL) == NULL);
	T_EQ(hms_devmem_pfn_first(NULL), 0);
	T_EQ(hms_devmem_npages(NULL), 0);
	T_EQ(hms_devmem_target(NULL), 0);
	T_ASSERT(hms_devmem_context(NULL) == NULL);
	/* A NULL name is shown as "devmem"; removal takes its target away. */
	desc.name = NULL;
	desc.npages = 1;
	T_EQ(hms_devmem_add(h, &desc, &ops, NULL, &dm), 0);
	{
		hms_uid t = hms_devmem_target(dm);
		struct hms_topology *topo;

		T_ASSERT(t);
		T_EQ(hms_devmem_evict(dm), 0);
		T_EQ(hms_devmem_remove(dm), 0);
		T_EQ(hms_topology_get(h, &topo), 0);
		errno = 0;
		T_ASSERT(hms_object_find(topo, t) == NULL && errno == ENOENT);
		hms_topology_put(topo);
		T_EQ(hms_object_remove(h, t), -ENOENT); /* already gone with it */
	}
}

static void migrate_cases(struct hms *h, char *p)
{
	uint64_t src[2 * NP], dst[2 * NP];
	struct hms_migrate_vma mv = { .start = (uintptr_t)p, .end = (uintptr_t)p + T_PAGE,
				      .src = src, .dst = dst, .pgmap_owner = &md.owner,
				      .flags = HMS_MIGRATE_SELECT_SYSTEM };
	hms_pfn first = hms_devmem_pfn_first(md.dm);

	T_EQ(hms_migrate_vma_setup(NULL, &mv), -EINVAL);
	T_EQ(hms_migrate_vma_setup(h, NULL), -EINVAL);
	mv.src = NULL;
	T_EQ(hms_migrate_vma_setup(h, &mv), -EINVAL);
	mv.src = src;
	mv.dst = NULL;
	T_EQ(hms_migrate_vma_setup(h, &mv), -EINVAL);
	mv.dst = dst;
	mv.flags = HMS_MIGRATE_SELECT_DEVICE_PRIVATE;
	mv.pgmap_owner = NULL;
	T_EQ(hms_migrate_vma_setup(h, &mv), -EINVAL);
	mv.pgmap_owner = &md.owner;
	mv.flags = HMS_MIGRATE_NO_FORK_WAIT; /* selects nothing */
	T_EQ(hms_migrate_vma_setup(h, &mv), -EINVAL);
	mv.flags = HMS_MIGRATE_SELECT_SYSTEM | (1u << 3); /* unknown */
	T_EQ(hms_migrate_vma_setup(h, &mv), -EINVAL);
	mv.flags = HMS_MIGRATE_SELECT_SYSTEM;
	mv.start = (uintptr_t)p + T_PAGE; /* end before start */
	T_EQ(hms_migrate_vma_setup(h, &mv), -EINVAL);
	mv.start = UINTPTR_MAX & ~(uintptr_t)(T_PAGE - 1);
	mv.end = 0; /* wraps */
	T_EQ(hms_migrate_vma_setup(h, &mv), -EINVAL);
	mv.start = (uintptr_t)p;
	mv.end = (uintptr_t)p + T_PAGE;

	/* The phases without a setup, and after finalize. */
	mv.core = NULL;
	T_EQ(hms_migrate_vma_pages(NULL), -EINVAL);
	T_EQ(hms_migrate_vma_pages(&mv), -EINVAL);
	hms_migrate_vma_finalize(NULL);
	hms_migrate_vma_finalize(&mv);
	T_ASSERT(hms_migrate_src_ptr(NULL, 0) == NULL);
	T_ASSERT(hms_migrate_src_ptr(&mv, 0) == NULL);
	T_ASSERT(hms_migrate_dst_system(NULL, 0) == NULL);
	T_ASSERT(hms_migrate_dst_system(&mv, 0) == NULL);
	T_EQ(hms_migrate_dst_system_from(NULL, 0, p), -EINVAL);
	T_EQ(hms_migrate_dst_system_from(&mv, 0, p), -EINVAL);
	T_EQ(hms_migrate_vma_setup(h, &mv), 0);
	T_EQ(mv.cpages, 1);
	T_ASSERT(hms_migrate_src_ptr(&mv, 1) == NULL);   /* past npages */
	T_ASSERT(hms_migrate_src_ptr(&mv, ~0ul) == NULL);
	T_ASSERT(hms_migrate_dst_system(&mv, 0) == NULL); /* not a device page */
	T_EQ(hms_migrate_dst_system_from(&mv, 0, p), -EINVAL);
	hms_migrate_vma_finalize(&mv);
	T_ASSERT(mv.core == NULL);
	hms_migrate_vma_finalize(&mv); /* twice: nothing left to do */
	T_EQ(hms_migrate_vma_pages(&mv), -EINVAL);

	/* dst[] pfns that belong to no device memory. */
	bogus_dst(h, p, hms_migrate_pfn(0), "pfn 0");
	bogus_dst(h, p, hms_migrate_pfn(first + MINIDEV_PAGES), "pfn past the devmem");
	bogus_dst(h, p, hms_migrate_pfn(first + 100000), "pfn far away");
	/* A page of another driver's memory (another owner): refused too,
	 * and that driver is handed nothing it did not give. */
	{
		static const struct hms_devmem_ops ops = { to_ram, count_free, NULL, NULL, NULL };
		static int other_owner;
		struct hms_devmem_desc desc = { "other", 4, &other_owner, HMS_DEVMEM_PRIVATE };
		struct hms_devmem *other;

		T_EQ(hms_devmem_add(h, &desc, &ops, NULL, &other), 0);
		bogus_dst(h, p, hms_migrate_pfn(hms_devmem_pfn_first(other) + 1),
			  "another owner's pfn");
		T_EQ(other_freed, 0);
		T_EQ(hms_devmem_remove(other), 0);
	}
	/* A device pfn that is real still works after all that. */
	T_EQ(minidev_to_device(h, p), first);
	T_EQ(p[0], 9); /* back through to_ram */
	T_ASSERT(handler_calls >= 1);
	T_EQ(handler_sync_ret, 0);
}

static void range_cases(struct hms *h, char *p, char *q)
{
	uint64_t pfns[2 * NP];
	struct hms_range r = { .start = (uintptr_t)p, .end = (uintptr_t)p + T_PAGE, .pfns = pfns };
	static const uint64_t fl[3] = { 1, 2, 4 }, vals[3] = { 8, 0, 16 };

	T_EQ(hms_range_fault(NULL, &r), -EINVAL);
	r.end = r.start - T_PAGE;
	T_EQ(hms_range_fault(h, &r), -EINVAL);
	r.end = (uintptr_t)p + T_PAGE;
	r.flags = fl;
	r.values = vals;
	r.pfn_shift = 64;
	T_EQ(hms_range_fault(h, &r), -EINVAL);
	r.flags = NULL;
	r.values = NULL;
	r.pfn_shift = 0;
	/* Freed memory (kept inaccessible): a fault request fails, a
	 * snapshot reports the page as an error. */
	r.default_flags = HMS_PFN_REQ_FAULT;
	r.start = (uintptr_t)q;
	r.end = (uintptr_t)q + T_PAGE;
	T_EQ(hms_range_fault(h, &r), -EFAULT);
	r.default_flags = 0;
	T_EQ(hms_range_fault(h, &r), 0);
	T_EQ(pfns[0], HMS_PFN_ERROR);

	T_EQ(hms_make_exclusive(NULL, (uintptr_t)p, (uintptr_t)p + T_PAGE, NULL), -EINVAL);
	T_EQ(hms_make_exclusive(h, (uintptr_t)p + T_PAGE, (uintptr_t)p, NULL), -EINVAL);
	T_EQ(hms_make_exclusive(h, (uintptr_t)q, (uintptr_t)q + T_PAGE, NULL), -ENOENT);
	T_EQ(hms_make_exclusive(h, (uintptr_t)p + (NP - 1) * T_PAGE,
				(uintptr_t)p + (NP + 1) * T_PAGE, NULL), -ENOENT);
	T_EQ(hms_sync(NULL), -EINVAL);
	T_ASSERT(!hms_range_invalidating(NULL, 0, UINTPTR_MAX));
	T_ASSERT(!hms_range_invalidating(h, (uintptr_t)p + T_PAGE, (uintptr_t)p));
	T_ASSERT(!strcmp(hms_event_name(HMS_EVENT_COUNT), "unknown"));
	T_ASSERT(!strcmp(hms_event_name((enum hms_event)-1), "unknown"));
}

static void notifier_cases(struct hms *h, char *p)
{
	static const struct hms_mirror_ops mops = { rec_sync, NULL };
	static const struct hms_interval_ops iops = { rec_inv };
	struct hms_mirror *msent = (struct hms_mirror *)(uintptr_t)0x5a5a, *m = msent;
	struct hms_interval *isent = (struct hms_interval *)(uintptr_t)0x5a5a, *iv = isent;
	int tag;

	T_EQ(hms_mirror_register(NULL, &mops, NULL, &m), -EINVAL);
	T_EQ(hms_interval_insert(NULL, (uintptr_t)p, T_PAGE, &iops, NULL, &iv), -EINVAL);
	T_EQ(hms_interval_insert(h, (uintptr_t)p, T_PAGE, &iops, NULL, NULL), -EINVAL);
	T_EQ(hms_interval_insert(h, UINTPTR_MAX, 2, &iops, NULL, &iv), -EINVAL);
	T_ASSERT(m == msent && iv == isent);
	T_ASSERT(hms_interval_priv(NULL) == NULL);

	/* Calls the callbacks may make. */
	T_EQ(hms_mirror_register(h, &mops, &tag, &m), 0);
	T_EQ(hms_interval_insert(h, (uintptr_t)p, T_PAGE, &iops, &tag, &iv), 0);
	T_EQ(hms_protect(h, p, T_PAGE, PROT_READ), 0);
	T_EQ(hms_protect(h, p, T_PAGE, PROT_READ | PROT_WRITE), 0);
	T_EQ(sync_calls, 2);
	T_EQ(sync_stats_ret, 0);
	T_ASSERT(sync_priv == &tag);
	T_ASSERT(sync_saw_invalidating);
	T_ASSERT(iv_calls >= 2 && iv_priv == &tag);
	hms_interval_remove(iv);
	hms_mirror_unregister(m);
}

static void user_copy_cases(char *p, char *q)
{
	char buf[2 * T_PAGE];
	char *ro = mmap(NULL, T_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *half = mmap(NULL, 2 * T_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	T_ASSERT(ro != MAP_FAILED && half != MAP_FAILED);
	memset(half, 4, T_PAGE);
	T_EQ(munmap(half + T_PAGE, T_PAGE), 0);
	T_EQ(hms_user_read(NULL, p, T_PAGE), -EFAULT);
	T_EQ(hms_user_write(p, NULL, T_PAGE), -EFAULT);
	T_EQ(hms_user_read(buf, p, 0), 0);
	T_EQ(hms_user_read(buf, (void *)(UINTPTR_MAX - 8), 64), -EFAULT); /* wraps */
	T_EQ(hms_user_read(buf, p, SIZE_MAX), -EFAULT);
	T_EQ(hms_user_read(buf, q, T_PAGE), -EFAULT);  /* freed */
	T_EQ(hms_user_write(q, buf, T_PAGE), -EFAULT);
	T_EQ(hms_user_write(ro, buf, T_PAGE), -EFAULT); /* not writable */
	T_EQ(hms_user_read(buf, ro, T_PAGE), (ssize_t)T_PAGE);
	/* Runs into a hole: what came before it. */
	{
		ssize_t n = hms_user_read(buf, half, 2 * T_PAGE);

		T_ASSERT(n == (ssize_t)T_PAGE || n == -EFAULT); /* the kernel path may say none */
		if (n > 0)
			T_EQ(buf[T_PAGE - 1], 4);
	}
	munmap(ro, T_PAGE);
	munmap(half, T_PAGE);
}

int main(void)
{
	struct hms *h = t_open();
	char *p = hms_alloc(h, NP * T_PAGE, 0);
	char *q = NULL;

	H = h;
	T_ASSERT(p);
	memset(p, 9, NP * T_PAGE);
	/*
	 * Keep a freed range inaccessible: no later mapping may land there.
	 * Between the free and the reservation another thread (the handler,
	 * malloc) may map something at the freed address; then that address
	 * is not free any more and the test takes another one.
	 */
	for (int tries = 0; tries < 16 && !q; tries++) {
		char *c = hms_alloc(h, NP * T_PAGE, 0);

		T_ASSERT(c);
		T_EQ(hms_free(h, c, NP * T_PAGE), 0);
		if (t_fence(c, NP * T_PAGE))
			q = c;
	}
	T_ASSERT(q);
	minidev_add(h, "api_bad_input", to_ram);
	devmem_cases(h);
	migrate_cases(h, p);
	range_cases(h, p, q);
	notifier_cases(h, p);
	user_copy_cases(p, q);
	for (size_t i = 0; i < NP * T_PAGE; i++)
		T_EQ(p[i], 9);
	hms_close(h);
	return 0;
}
