/* SPDX-License-Identifier: MIT */
/*
 * migrate.c - migrate_vma in three phases, both directions, and the
 * staging buffers that carry device data back to system memory.
 *
 * System -> device:
 *   setup     pages marked MIGRATING (CPU faults on them wait), a MIGRATE
 *             invalidation starts, populated pages are write-protected so
 *             no CPU write can slip in after the driver's copy;
 *   (driver)  allocates device pages, copies from hms_migrate_src_ptr();
 *   pages     the system copies of moved pages are discarded (MADV_DONTNEED,
 *             recognised by the handler as our own);
 *   finalize  the table points at the device pages; pages that did not move
 *             lose their write protection; waiting CPU faults are woken and
 *             find their page on the device.
 * Device -> system:
 *   setup     device pages of the owner marked MIGRATING;
 *   (driver)  copies each page into hms_migrate_dst_system() (staging);
 *   pages     UFFDIO_COPY puts the staged data in place (one call per run);
 *   finalize  table updated, the device pages handed to page_free().
 * A CPU write racing a migration is never lost: either it happened before
 * write protection (the copy sees it) or it waits for finalize and then
 * faults the page back from wherever it now lives.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/internal.h"
#include "inject.h"

/* ---- staging buffers --------------------------------------------------------- */

struct hms_staging {
	char *buf; /* HMS_MIGRATE_MAX_BYTES, populated once */
	struct hms_staging *next;
};

static struct hms_staging *staging_get(struct hms *h)
{
	struct hms_staging *s;

	pthread_mutex_lock(&h->lock);
	s = h->staging;
	if (s)
		h->staging = s->next;
	pthread_mutex_unlock(&h->lock);
	if (s)
		return s;
	s = hms__inject(HMS_INJ_NOMEM) ? NULL : malloc(sizeof(*s));
	if (!s)
		return NULL;
	s->buf = mmap(NULL, HMS_MIGRATE_MAX_BYTES, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (s->buf == MAP_FAILED) {
		free(s);
		return NULL;
	}
	return s;
}

static void staging_put(struct hms *h, struct hms_staging *s)
{
	pthread_mutex_lock(&h->lock);
	s->next = h->staging;
	h->staging = s;
	pthread_mutex_unlock(&h->lock);
}

void hms__staging_fini(struct hms *h)
{
	while (h->staging) {
		struct hms_staging *s = h->staging;

		h->staging = s->next;
		munmap(s->buf, HMS_MIGRATE_MAX_BYTES);
		free(s);
	}
}

/* ---- per-migration state ------------------------------------------------------- */

#define MS_WP (1u << 0)     /* write-protected at setup, maybe in part */
#define MS_MOVED (1u << 1)  /* committed by pages() */
#define MS_FAILED (1u << 2) /* could not be isolated: must not move */
#define MS_LIFT (1u << 3)   /* stayed: its protection to lift (lift_stayed) */
#define MS_KEPT (1u << 4)   /* to a device, but the application discarded it
			     * first (PTE_DISCARD): left in place (with
			     * MS_FAILED, so not discarded), not moved */

struct hms_migrate_core {
	struct hms *h;
	bool to_device; /* counted in h->to_device */
	struct hms_notify_range nr;
	bool notified;
	struct hms_staging *staging;
	uint64_t since;    /* h->detaches when the pages were taken */
	const char **from; /* device -> system: where page i's data is */
	pthread_t owner;   /* the thread that set it up */
	struct hms_migrate_core *held_next, **held_pprev; /* h->held; h->lock */
	uint8_t st[];      /* MS_* per page */
};

static bool selected(const struct hms_migrate_vma *m, unsigned long i)
{
	return m->src[i] & HMS_MIGRATE_PFN_MIGRATE;
}

static bool src_device(const struct hms_migrate_vma *m, unsigned long i)
{
	return m->src[i] & HMS_MIGRATE_PFN_DEVICE;
}

typedef bool (*page_pred)(const struct hms_migrate_vma *m, unsigned long i);

/* The next run [*i, *j) of pages for which pred holds, from *i on. */
static bool next_run(const struct hms_migrate_vma *m, page_pred pred, unsigned long *i,
		     unsigned long *j)
{
	unsigned long k = *i;

	while (k < m->npages && !pred(m, k))
		k++;
	if (k >= m->npages)
		return false;
	*i = k;
	for (*j = k + 1; *j < m->npages && pred(m, *j); (*j)++)
		;
	return true;
}

#define for_each_run(m, pred, i, j) \
	for (unsigned long i = 0, j = 0; next_run((m), (pred), &i, &j); i = j)

static bool populated_system(const struct hms_migrate_vma *m, unsigned long i)
{
	return selected(m, i) && !src_device(m, i) && (m->src[i] & HMS_MIGRATE_PFN_VALID);
}

/* ---- setup ------------------------------------------------------------------------ */

/* Selects the pages to move; returns how many pages are managed. */
static unsigned long select_locked(struct hms *h, struct hms_migrate_vma *m)
{
	struct hms_area *a = NULL;
	unsigned long managed = 0;

	for (unsigned long i = 0; i < m->npages; i++) {
		uintptr_t p = m->start + (i << PAGE_SHIFT);
		struct hms_pte *pte;
		uint64_t e = 0;
		bool maybe;

		m->src[i] = 0;
		m->dst[i] = 0;
		if (!a || p < a->start || p >= a->end)
			a = hms__area_find_locked(h, p); /* ranges may span areas */
		if (!a)
			continue;
		managed++;
		pte = area_pte(a, p);
		/* Replicated pages stay until a write collapses them (wp.c). */
		if (pte->flags & (PTE_BUSY | PTE_MIGRATING | PTE_DEAD | PTE_EXCLUSIVE | PTE_REPLICA))
			continue;
		/* With asynchronous write protection nothing stops a CPU write
		 * racing the copy: populated system pages stay (wp.c).  A page
		 * discarded with MADV_FREE may still hold data (NONE with
		 * PTE_ZERO, uffd.c): it counts as one. */
		maybe = pte->loc == HMS_LOC_SYSTEM || (pte->flags & PTE_ZERO);
		if (maybe && hms__wp_async(h))
			continue;
		if (pte->loc == HMS_LOC_DEVICE) {
			struct hms_devmem *dm = hms__devmem_of_pfn_locked(h, pte->pfn);

			if (!(m->flags & HMS_MIGRATE_SELECT_DEVICE_PRIVATE) || !dm ||
			    dm->desc.owner != m->pgmap_owner)
				continue;
			e = hms_migrate_pfn(pte->pfn) | HMS_MIGRATE_PFN_MIGRATE;
		} else {
			/* hms_unmanage() is letting the page go: it stays (its
			 * eviction is over; forgotten on a device, the page's
			 * data went with the table: tests/unmanage_migrate_race). */
			if (!(m->flags & HMS_MIGRATE_SELECT_SYSTEM) ||
			    (h->leaving && hms__leaving_locked(h, p)))
				continue;
			e = HMS_MIGRATE_PFN_MIGRATE;
			if (maybe)
				e |= HMS_MIGRATE_PFN_VALID;
		}
		if (pte->prot & PROT_READ)
			e |= HMS_MIGRATE_PFN_READ;
		if (pte->prot & PROT_WRITE)
			e |= HMS_MIGRATE_PFN_WRITE;
		m->src[i] = e;
		pte->flags |= PTE_MIGRATING;
		m->cpages++;
	}
	return managed;
}

/* Migrations this thread set up and that are not finalized: their pages
 * are BUSY/MIGRATING until finalize, so this thread must not wait for
 * them.  A per-context list (not a count per thread), so that a driver
 * may finalize on another thread than the one that set up. */
bool hms__migrating_here(const struct hms *h)
{
	pthread_t self = pthread_self();

	for (const struct hms_migrate_core *c = h->held; c; c = c->held_next)
		if (pthread_equal(c->owner, self))
			return true;
	return false;
}

static void held_add_locked(struct hms *h, struct hms_migrate_core *c)
{
	c->owner = pthread_self();
	c->held_next = h->held;
	if (h->held)
		h->held->held_pprev = &c->held_next;
	c->held_pprev = &h->held;
	h->held = c;
}

static void held_del_locked(struct hms_migrate_core *c)
{
	*c->held_pprev = c->held_next;
	if (c->held_next)
		c->held_next->held_pprev = c->held_pprev;
}

HMS_API int hms_migrate_vma_setup(struct hms *h, struct hms_migrate_vma *m)
{
	struct hms_migrate_core *c;
	unsigned long managed;
	int ret = hms__check(h);

	if (ret)
		return ret;
	if (!m || !m->src || !m->dst || m->start >= m->end || !hms__aligned(m->start) ||
	    !hms__aligned(m->end) || m->end - m->start > HMS_MIGRATE_MAX_BYTES ||
	    !(m->flags & (HMS_MIGRATE_SELECT_SYSTEM | HMS_MIGRATE_SELECT_DEVICE_PRIVATE)) ||
	    (m->flags & ~(HMS_MIGRATE_SELECT_SYSTEM | HMS_MIGRATE_SELECT_DEVICE_PRIVATE |
			  HMS_MIGRATE_NO_FORK_WAIT)) ||
	    ((m->flags & HMS_MIGRATE_SELECT_DEVICE_PRIVATE) && !m->pgmap_owner))
		return -EINVAL;
	m->npages = (m->end - m->start) >> PAGE_SHIFT;
	m->cpages = 0;
	c = hms__inject(HMS_INJ_NOMEM) ? NULL : calloc(1, sizeof(*c) + m->npages);
	if (!c)
		return -ENOMEM;
	c->h = h;
	if (m->flags & HMS_MIGRATE_SELECT_DEVICE_PRIVATE) {
		c->from = calloc(m->npages, sizeof(*c->from));
		if (!c->from) {
			free(c);
			return -ENOMEM;
		}
	}
	hms__uffd_sync(h); /* see munmap/mremap that returned before us */
	pthread_mutex_lock(&h->lock);
	if (m->flags & HMS_MIGRATE_SELECT_SYSTEM) {
		/* A fork() in progress must find every page in system memory.
		 * A caller that holds what the fork waits for does not wait
		 * for it (the CUDA driver's windows, gpu_migrate.c). */
		while (h->forking && !(m->flags & HMS_MIGRATE_NO_FORK_WAIT))
			pthread_cond_wait(&h->cond, &h->lock);
		if (h->forking) {
			pthread_mutex_unlock(&h->lock);
			free(c->from);
			free(c);
			return -EDEADLK;
		}
		c->to_device = true;
		h->to_device++;
	}
	c->since = h->detaches;
	managed = select_locked(h, m);
	if (!managed && c->to_device && --h->to_device == 0)
		pthread_cond_broadcast(&h->cond);
	if (managed)
		held_add_locked(h, c);
	pthread_mutex_unlock(&h->lock);
	if (!managed) {
		free(c->from);
		free(c);
		return -ENOENT;
	}
	m->core = c;
	if (!m->cpages)
		return 0;

	/* On the fault handler thread (migrate_to_ram for a CPU fault) no
	 * subscriber may wait: one that would refuses, and the migration is
	 * undone before anything changed; the fault is retried later. */
	c->nr = (struct hms_notify_range){ m->start, m->end, HMS_EVENT_MIGRATE,
					   hms__in_handler(h) ? 0 : HMS_NOTIFY_BLOCKABLE,
					   m->pgmap_owner };
	if (hms__notify_start(h, &c->nr)) {
		hms_migrate_vma_finalize(m); /* nothing moved: every page released */
		m->cpages = 0;
		return -EAGAIN;
	}
	c->notified = true;
	hms__test_hook_run(h, HMS_HOOK_MIGRATE_SELECTED, m->start, m->end - m->start);

	/*
	 * Freeze populated system pages: writes now wait for finalize.  A run
	 * the ioctl could not protect stays, but the kernel may have
	 * protected part of it (mapping after mapping, page after page before
	 * Linux 6.5, up to the one it could not take), and a page may have
	 * been protected before (a dirty scan armed it): it is lifted at
	 * finalize like every page that stays (MS_WP), else the kernel kept a
	 * protection the table no longer recorded, and in user-mode-only mode
	 * every kernel write to the page failed (hms_make_exclusive -EFAULT:
	 * tests/migrate_protect_partial_race).
	 */
	for_each_run(m, populated_system, i, j) {
		int r;

		hms__test_hook_run(h, HMS_HOOK_MIGRATE_PROTECT, m->start + (i << PAGE_SHIFT),
				   (j - i) << PAGE_SHIFT);
		r = hms__uffd_wp(h, m->start + (i << PAGE_SHIFT), (j - i) << PAGE_SHIFT, true);
		for (unsigned long k = i; k < j; k++)
			c->st[k] |= r ? MS_FAILED | MS_WP : MS_WP;
	}
	return 0;
}

HMS_API const void *hms_migrate_src_ptr(const struct hms_migrate_vma *m, unsigned long i)
{
	if (!m || !m->core || i >= m->npages || !selected(m, i) || src_device(m, i) ||
	    !(m->src[i] & HMS_MIGRATE_PFN_VALID) || (m->core->st[i] & MS_FAILED))
		return NULL;
	return (const void *)(m->start + (i << PAGE_SHIFT));
}

HMS_API void *hms_migrate_dst_system(struct hms_migrate_vma *m, unsigned long i)
{
	struct hms_migrate_core *c = m ? m->core : NULL;

	if (!c || !c->from || i >= m->npages || !selected(m, i) || !src_device(m, i))
		return NULL;
	if (!c->staging) {
		/* Staging is taken on first use: drivers that hand their own
		 * pages over (dst_system_from) never need it. */
		c->staging = staging_get(c->h);
		if (!c->staging)
			return NULL;
	}
	m->dst[i] = HMS_MIGRATE_PFN_VALID | HMS_MIGRATE_PFN_SYSTEM;
	c->from[i] = c->staging->buf + (i << PAGE_SHIFT);
	return (void *)c->from[i];
}

HMS_API int hms_migrate_dst_system_from(struct hms_migrate_vma *m, unsigned long i,
					const void *src)
{
	struct hms_migrate_core *c = m ? m->core : NULL;

	if (!c || !c->from || !src || i >= m->npages || !selected(m, i) || !src_device(m, i))
		return -EINVAL;
	m->dst[i] = HMS_MIGRATE_PFN_VALID | HMS_MIGRATE_PFN_SYSTEM;
	c->from[i] = src;
	return 0;
}

/* ---- pages -------------------------------------------------------------------------- */

static bool dst_device(const struct hms_migrate_vma *m, unsigned long i)
{
	return (m->dst[i] & (HMS_MIGRATE_PFN_VALID | HMS_MIGRATE_PFN_DEVICE)) ==
	       (HMS_MIGRATE_PFN_VALID | HMS_MIGRATE_PFN_DEVICE);
}

static bool dst_system(const struct hms_migrate_vma *m, unsigned long i)
{
	return (m->dst[i] & (HMS_MIGRATE_PFN_VALID | HMS_MIGRATE_PFN_SYSTEM)) ==
	       (HMS_MIGRATE_PFN_VALID | HMS_MIGRATE_PFN_SYSTEM);
}

/* A page that may move to the device: selected, isolated, given a page. */
static bool to_device(const struct hms_migrate_vma *m, unsigned long i)
{
	return selected(m, i) && !src_device(m, i) && dst_device(m, i) &&
	       !(m->core->st[i] & MS_FAILED);
}

static bool to_device_populated(const struct hms_migrate_vma *m, unsigned long i)
{
	return to_device(m, i) && (m->src[i] & HMS_MIGRATE_PFN_VALID);
}

static bool to_system(const struct hms_migrate_vma *m, unsigned long i)
{
	return selected(m, i) && src_device(m, i) && dst_system(m, i);
}

/* Page i continues a copy run: its data follows page i - 1's. */
static bool to_system_contiguous(const struct hms_migrate_vma *m, unsigned long i)
{
	return to_system(m, i) && i > 0 && to_system(m, i - 1) &&
	       m->core->from[i] == m->core->from[i - 1] + PAGE_SIZE;
}

static bool stayed_protected(const struct hms_migrate_vma *m, unsigned long i)
{
	return (m->core->st[i] & MS_WP) && !(m->core->st[i] & MS_MOVED);
}

/*
 * Pages [*i, j) are about to lose their system copy (to a device) or to
 * be filled (to system memory): each is marked PTE_ZAPPED (a page mremap
 * moves from now on takes the result along), except pages mremap already
 * moved away or something unmapped (dead), which are marked failed and
 * stay where they are.  A discard waits for a fault filling a page first
 * (its fill must land before our discard, not after).  Pages the
 * application discarded since the migration began (MADV_DONTNEED, or
 * MADV_FREE, which raises the same event: the handler marked them
 * PTE_DISCARD) are passed over either way, and finalize drops their
 * device copy.  A fill must not land in them: they read zeros from the
 * moment a MADV_DONTNEED returned (*i moves past those that lead; a later
 * one ends the run).  A discard must not take them (MS_KEPT): a page
 * MADV_FREE left in place may have been written since, before setup
 * protected it, and that write is the application's for good; a
 * MADV_DONTNEED empties the page itself.  Returns the end of the run to
 * discard or fill from *i.
 */
static unsigned long mark_committing(struct hms_migrate_vma *m, unsigned long *i, unsigned long j,
				     bool fill)
{
	struct hms *h = m->core->h;
	unsigned long live = j;

	pthread_mutex_lock(&h->lock);
	for (unsigned long k = *i; k < j; k++) {
		uintptr_t p = m->start + (k << PAGE_SHIFT);
		struct hms_pte *pte;

		while ((pte = hms__pte_again_locked(h, p, m->core->since)) && !fill &&
		       (pte->flags & PTE_BUSY))
			pthread_cond_wait(&h->cond, &h->lock);
		if (pte && !(pte->flags & PTE_DEAD)) {
			pte->flags |= PTE_ZAPPED;
			if (!(pte->flags & PTE_DISCARD))
				continue;
			if (!fill) {
				m->core->st[k] |= MS_FAILED | MS_KEPT;
				if (live == j)
					live = k;
				continue;
			}
			if (k == *i && live == j)
				*i = k + 1; /* leading: not filled, not failed */
			else if (live == j)
				live = k;
			continue;
		}
		m->core->st[k] |= MS_FAILED;
		if (live == j)
			live = k;
	}
	pthread_mutex_unlock(&h->lock);
	return live < *i ? *i : live;
}

/* A self-zap of pages [i, j) gave up part way (hms__zap): those it
 * discarded count as moved, their system copy is gone (where the pagemap
 * cannot be read, none: they would read as zeros, as before). */
static void zap_failed(struct hms_migrate_vma *m, unsigned long i, unsigned long j)
{
	for (unsigned long k = i; k < j; k += 64) {
		unsigned n = j - k < 64 ? (unsigned)(j - k) : 64;
		uint64_t absent;

		if (hms__pages_absent(m->core->h, m->start + (k << PAGE_SHIFT), n, &absent))
			return;
		for (unsigned b = 0; b < n; b++)
			if (absent & (1ULL << b))
				m->core->st[k + b] |= MS_MOVED;
	}
}

/*
 * Pages [i, j) lose their system copy (to a device).  From the mark on a
 * missing page is ours: CPU faults wait.  A page mremap moved away is not
 * discarded (it is gone, or an empty page of MREMAP_DONTUNMAP's old
 * range): it stays in system memory at its new address.  Where the
 * kernel moves pages (UFFDIO_MOVE, Linux 6.8), each try goes through the
 * fill gate like a fill: mark, then move the live pages out only if no
 * batch of events began since the handler caught up, so pages an mremap
 * moved in meanwhile are never discarded (design 5a).  Pages the kernel
 * will not move, and all of them on older kernels, are discarded with
 * MADV_DONTNEED (hms__zap), where that window stays; those are protected
 * again first, which fails if the range was unmapped meanwhile (a move
 * needs no such check: it goes through hms' userfaultfd, which the kernel
 * refuses while the unmap's event is unread, and the gate saw the events
 * read before it).  Each page discarded is
 * marked MS_MOVED at once, so that an error later in the run leaves it
 * counted (those of a zap that gave up part way too: zap_failed).  0 or
 * -EAGAIN.
 */
static int discard_run(struct hms_migrate_vma *m, unsigned long i, unsigned long j)
{
	struct hms_migrate_core *c = m->core;
	struct hms *h = c->h;
	bool gated = h->uffd_move, hooked = false;
	unsigned long at = i;

	for (unsigned tries = 0; at < j;) {
		/* Every event read so far is handled (ungated too): a discard
		 * the application made before it wrote a page again is marked
		 * by now, and the page is kept (mark_committing). */
		uint64_t seen = hms__uffd_gate_sync(h);
		struct hms_discard *slot = NULL;
		uintptr_t s;
		unsigned long l;
		long r;

		mark_committing(m, &at, j, false);
		if (!hooked) {
			hooked = true;
			hms__test_hook_run(h, HMS_HOOK_MIGRATE_COMMIT, m->start + (i << PAGE_SHIFT),
					   (j - i) << PAGE_SHIFT);
		}
		while (at < j && (c->st[at] & MS_FAILED))
			at++;
		for (l = at; l < j && !(c->st[l] & MS_FAILED); l++)
			;
		if (at == j)
			break;
		s = m->start + (at << PAGE_SHIFT);
		if (!gated) {
			/* Protect again first: fails if the range was unmapped
			 * meanwhile, so that we never discard memory that is no
			 * longer ours (a move checks that itself). */
			if (hms__uffd_wp(h, s, (l - at) << PAGE_SHIFT, true))
				return -EAGAIN;
			if (hms__zap(h, s, (l - at) << PAGE_SHIFT)) {
				zap_failed(m, at, l);
				return -EAGAIN;
			}
			for (; at < l; at++)
				c->st[at] |= MS_MOVED;
			continue;
		}
		if (!hms__uffd_gate_enter(h, seen)) {
			r = 0; /* a batch of events began since we looked */
		} else {
			r = hms__uffd_discard_move(h, s, (l - at) << PAGE_SHIFT, &slot);
			hms__uffd_gate_exit(h);
		}
		hms__uffd_discard_done(h, slot, r > 0 ? (size_t)r : 0);
		if (r > 0)
			for (long k = 0; k < r >> PAGE_SHIFT; k++)
				c->st[at++] |= MS_MOVED;
		else if (r < 0 && r != -EAGAIN)
			gated = false; /* not movable: discarded as before */
		else if (!hms__uffd_eagain_wait(h, &tries))
			return -EAGAIN; /* an address-space change is being read */
	}
	return 0;
}

struct dst_key {
	hms_pfn pfn;
	unsigned long i;
};

static int dst_key_cmp(const void *a, const void *b)
{
	const struct dst_key *x = a, *y = b;

	if (x->pfn != y->pfn)
		return x->pfn < y->pfn ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Pages of one migration given the same device page would share it: the
 * driver's copies overwrite each other (every sharer but one reads
 * another's data) and the page would be handed to page_free() once per
 * sharer.  None of them moves (each keeps its data in system memory);
 * the first keeps its dst[], so that finalize hands the page back once,
 * the others' are cleared.  dst[] in increasing order, the usual case,
 * is answered without sorting.  -EINVAL or 0.
 */
static int check_dst_unique(struct hms_migrate_vma *m)
{
	struct dst_key k[HMS_MIGRATE_MAX_BYTES >> PAGE_SHIFT];
	unsigned long n = 0;
	bool increasing = true;
	int ret = 0;

	for (unsigned long i = 0; i < m->npages; i++) {
		if (!to_device(m, i))
			continue;
		k[n] = (struct dst_key){ hms_migrate_pfn_to_pfn(m->dst[i]), i };
		if (n && k[n].pfn <= k[n - 1].pfn)
			increasing = false;
		n++;
	}
	if (increasing)
		return 0;
	qsort(k, n, sizeof(*k), dst_key_cmp);
	for (unsigned long a = 0, b; a < n; a = b) {
		for (b = a + 1; b < n && k[b].pfn == k[a].pfn; b++)
			;
		if (b - a == 1)
			continue;
		for (unsigned long x = a; x < b; x++) {
			m->core->st[k[x].i] |= MS_FAILED;
			if (x > a)
				m->dst[k[x].i] = 0;
		}
		ret = -EINVAL;
	}
	return ret;
}

/* A device page the driver gives in dst[] (whether or not the page can
 * still move: finalize hands back what did not). */
static bool dst_given(const struct hms_migrate_vma *m, unsigned long i)
{
	return selected(m, i) && !src_device(m, i) && dst_device(m, i);
}

/*
 * A device page in dst[] must belong to registered device memory, and,
 * where the migration names an owner, to the migrating driver's: with a
 * pfn of nobody's the page would lose its system copy and no
 * migrate_to_ram could bring it back (every CPU access a SIGBUS); with
 * another driver's, that driver would be handed (page_free) and asked for
 * (migrate_to_ram) a page it never gave.  It must not be held already
 * (hms__devmem_hold_locked): another address's page, or one given to a
 * migration running beside this one, would be shared, its data
 * overwritten, and handed to page_free() twice.  Such pages stay, and
 * their dst[] is cleared, so that finalize frees nothing of another's.
 * And it must be given to one page only (check_dst_unique).  The pages
 * that pass are held from here until finalize or the page table hands
 * them back.  -EINVAL or 0.
 */
static int check_dst(struct hms *h, struct hms_migrate_vma *m)
{
	int ret = 0;

	pthread_mutex_lock(&h->lock);
	for (unsigned long i = 0; i < m->npages; i++) {
		hms_pfn pfn = hms_migrate_pfn_to_pfn(m->dst[i]);
		struct hms_devmem *dm;

		if (!dst_given(m, i))
			continue;
		dm = hms__devmem_of_pfn_locked(h, pfn);
		if (dm && !hms__devmem_held_locked(dm, pfn) &&
		    (!to_device(m, i) || !m->pgmap_owner || dm->desc.owner == m->pgmap_owner))
			continue;
		if (!dm && !to_device(m, i))
			continue; /* not moving, and nobody's: finalize frees nothing */
		m->core->st[i] |= MS_FAILED;
		m->dst[i] = 0;
		ret = -EINVAL;
	}
	if (check_dst_unique(m))
		ret = -EINVAL;
	for (unsigned long i = 0; i < m->npages; i++) {
		hms_pfn pfn = hms_migrate_pfn_to_pfn(m->dst[i]);
		struct hms_devmem *dm = dst_given(m, i) ? hms__devmem_of_pfn_locked(h, pfn) : NULL;

		if (dm)
			hms__devmem_hold_locked(dm, pfn, true);
	}
	pthread_mutex_unlock(&h->lock);
	return ret;
}

/*
 * A whole 2 MiB block of a huge area back from sources that are not
 * contiguous (a driver's own pages, hms_migrate_dst_system_from, taken
 * from wherever its allocator had them): filled one run of contiguous
 * sources at a time, it came back in small pages, and stayed small (a
 * page table) on every later way back, where hms_alloc(3) promises a huge
 * page again with page reuse on.  Gathered into a staging buffer first,
 * the block is filled at once (uffd.c, pool_fill: one whole move; only
 * where that fill would go in whole: hms__uffd_fill_whole_locked).  A
 * source that cannot be read leaves the block as it was (its run's fill
 * fails as before: tests/migrate_discard_huge_gather_unreadable), and so
 * does a staging buffer that cannot be had (tests/inject_gather_nomem).
 * tests/migrate_discard_huge_scattered.
 */
static void gather_block(struct hms_migrate_vma *m)
{
	struct hms_migrate_core *c = m->core;
	struct hms *h = c->h;
	bool whole, scattered = false;

	if (m->npages != HMS_HUGE_PAGE_SIZE >> PAGE_SHIFT)
		return;
	for (unsigned long i = 0; i < m->npages; i++) {
		if (!to_system(m, i))
			return;
		if (i && !to_system_contiguous(m, i))
			scattered = true;
	}
	if (!scattered)
		return;
	pthread_mutex_lock(&h->lock);
	whole = hms__uffd_fill_whole_locked(h, m->start);
	pthread_mutex_unlock(&h->lock);
	if (!whole)
		return;
	if (!c->staging)
		c->staging = staging_get(h);
	if (!c->staging)
		return;
	/* Page i goes to buf + i pages, which only page i's own source
	 * (hms_migrate_dst_system) may be. */
	for (unsigned long i = 0, j; i < m->npages; i = j) {
		char *to = c->staging->buf + (i << PAGE_SHIFT);

		for (j = i + 1; j < m->npages && to_system_contiguous(m, j); j++)
			;
		if (c->from[i] != to &&
		    hms_user_read(to, c->from[i], (j - i) << PAGE_SHIFT) !=
			    (ssize_t)((j - i) << PAGE_SHIFT))
			return;
	}
	for (unsigned long i = 0; i < m->npages; i++)
		c->from[i] = c->staging->buf + (i << PAGE_SHIFT);
}

HMS_API int hms_migrate_vma_pages(struct hms_migrate_vma *m)
{
	struct hms_migrate_core *c;
	struct hms *h;
	int ret = 0, bad;

	if (!m || !m->core)
		return -EINVAL;
	c = m->core;
	h = c->h;
	bad = check_dst(h, m);
	hms__test_hook_run(h, HMS_HOOK_MIGRATE_PAGES, m->start, m->end - m->start);
	/* System -> device: never-populated pages just move; populated ones
	 * lose their system copy. */
	for_each_run(m, to_device_populated, i, j) {
		uintptr_t s = m->start + (i << PAGE_SHIFT);
		size_t len = (j - i) << PAGE_SHIFT;
		int r = hms__in_handler(h) ? -EDEADLK : discard_run(m, i, j);

		/* discard_run marked what it discarded: on an error the rest
		 * stays (pages moved before it must not count as failed: their
		 * system copy is gone); what it kept stays either way. */
		for (unsigned long k = i; k < j; k++)
			if (!(c->st[k] & (MS_MOVED | MS_KEPT)))
				c->st[k] |= r ? MS_FAILED : MS_MOVED;
		if (r)
			ret = r == -EDEADLK ? -EDEADLK : -EAGAIN;
		else
			hms__test_hook_run(h, HMS_HOOK_MIGRATE_COMMITTED, s, len);
	}
	for (unsigned long i = 0; i < m->npages; i++)
		if (to_device(m, i) && !(m->src[i] & HMS_MIGRATE_PFN_VALID))
			c->st[i] |= MS_MOVED;

	/* Device -> system: put the data in place, one copy per run of pages
	 * whose sources are contiguous too. */
	gather_block(m);
	for (unsigned long i = 0; i < m->npages; i++) {
		unsigned long j = i + 1;
		long r = 0;

		if (!to_system(m, i))
			continue;
		while (j < m->npages && to_system_contiguous(m, j))
			j++;
		/* Faulting threads resume at finalize, once the table says where
		 * their page is.  A page mremap moved away before we got here
		 * is not filled: it stays on the device at its new address.
		 * Each try checks the table and fills through the gate (see
		 * hms__uffd_gate_sync), so no fill lands in pages an mremap
		 * moved in. */
		unsigned long end = j, at = i;
		bool hooked = false;

		for (unsigned tries = 0; at < end && tries <= 100000; tries++) {
			uint64_t seen = hms__uffd_gate_sync(h);
			unsigned long live = mark_committing(m, &at, end, true), n;

			if (at == end)
				break; /* the rest was discarded */
			if (live == at)
				break; /* moved away: the rest stays on the device */
			if (!hooked) {
				hooked = true;
				hms__test_hook_run(h, HMS_HOOK_MIGRATE_COMMIT,
						   m->start + (at << PAGE_SHIFT), (live - at) << PAGE_SHIFT);
			}
			if (!hms__uffd_gate_enter(h, seen)) {
				r = 0; /* a batch of events began since we looked */
			} else {
				r = hms__inject(HMS_INJ_DEV_COPY)
					    ? -EIO
					    : hms__uffd_fill_once(h, m->start + (at << PAGE_SHIFT),
								  c->from[i] + ((at - i) << PAGE_SHIFT),
								  (live - at) << PAGE_SHIFT);
				hms__uffd_gate_exit(h);
			}
			n = r > 0 ? (unsigned long)r >> PAGE_SHIFT : 0;
			for (unsigned long k = at; k < at + n; k++)
				c->st[k] |= MS_MOVED;
			at += n;
			/* The handler itself cannot wait for the event that makes
			 * the kernel say EAGAIN: it gives up, the fault is retried. */
			if (r < 0 && (r != -EAGAIN || hms__in_handler(h)))
				break;
			if (r <= 0 && tries > 10)
				usleep(20); /* an address-space change is being read */
		}
		for (unsigned long k = at; k < end; k++)
			c->st[k] |= MS_FAILED;
		/* The driver's source could not be read (EFAULT): no retry
		 * mends that, say so.  Anything else may clear by itself (the
		 * dev_copy injection's EIO stands for such a failure). */
		if (at == end)
			hms__test_hook_run(h, HMS_HOOK_MIGRATE_COMMITTED, m->start + (i << PAGE_SHIFT),
					   (end - i) << PAGE_SHIFT);
		else if (r == -EFAULT)
			ret = -EFAULT;
		else if (ret != -EFAULT)
			ret = -EAGAIN;
		i = end - 1;
	}
	return ret ? ret : bad;
}

/* ---- mremap during a migration ------------------------------------------------------ */

#define FOLLOW_MAX 64 /* forwards followed per page (each is one mremap) */

/* Addresses whose CPU faults waited on a forwarding entry: woken later. */
struct follow {
	unsigned hops; /* forwards followed */
	unsigned nwake;
	uintptr_t wake[FOLLOW_MAX];
};

/*
 * Where the state of the page at *at lives now: its own pte or, when
 * mremap moved the page while we held it, the pte its forwards lead to
 * (*at becomes that address).  The forwarding entries passed are let go
 * (dead pages, reaped at the end of finalize).  NULL: no state left.
 * Where a forward leads, our state's record (if an mremap onto it moved
 * it out of the table) is stamped above the forward's moved_at.
 */
static struct hms_pte *follow_locked(struct hms *h, uint64_t since, uintptr_t *at,
				     struct follow *fw)
{
	struct hms_pte *pte = hms__pte_again_locked(h, *at, since);
	struct hms_area *a;

	fw->nwake = 0;
	fw->hops = 0;
	for (unsigned hops = 0; pte && (pte->flags & PTE_FORWARD); hops++) {
		uintptr_t to = (uintptr_t)pte->pfn << PAGE_SHIFT;
		uint64_t arrived = pte->moved_at;

		if (pte->flags & PTE_WAITERS)
			fw->wake[fw->nwake++] = *at;
		pte->flags &= (uint16_t)~(PTE_MIGRATING | PTE_WAITERS | PTE_FORWARD | PTE_ZAPPED |
					  PTE_DISCARD);
		pte->pfn = 0;
		pte->moved_at = 0;
		*at = to;
		fw->hops = hops + 1;
		/* Where a forward leads, the page is ours if the table holds it
		 * live for a migration; if not, ours went on (held dead). */
		a = hms__area_find_locked(h, to);
		pte = a ? area_pte(a, to) : NULL;
		if (!pte || (pte->flags & (PTE_MIGRATING | PTE_DEAD)) != PTE_MIGRATING)
			pte = hms__pte_again_locked(h, to, arrived);
		if (hops + 1 == FOLLOW_MAX)
			return NULL;
	}
	return pte;
}

static bool page_resident(uintptr_t addr)
{
	unsigned char v = 0;

	return mincore((void *)addr, PAGE_SIZE, &v) == 0 && (v & 1);
}

/*
 * Page i moved with mremap to at during the migration.  Whether the CPU
 * side of the result went along depends on whether the kernel moved the
 * page before or after our discard or fill, which only the page at its
 * new address tells (nothing else fills it: it is held):
 *   to the device, a system page there means the kernel moved it before
 *   our discard reached it: the system copy stays, the device copy goes;
 *   to system memory, no page there means our fill landed in the old
 *   range after the move (MREMAP_DONTUNMAP): the device copy stays.
 */
static void check_forwarded(struct hms_migrate_vma *m, unsigned long i, uintptr_t at)
{
	uint8_t *st = &m->core->st[i];

	if (!(*st & MS_MOVED))
		return;
	if (src_device(m, i) ? !page_resident(at) : page_resident(at))
		*st = (uint8_t)((*st & ~MS_MOVED) | MS_FAILED);
}

/* ---- finalize ------------------------------------------------------------------------ */

/*
 * Where page i's state lives now, as follow_locked() finds it (*at: that
 * address; *hops: forwards passed), without letting any forward go.
 */
static struct hms_pte *peek_locked(struct hms *h, uint64_t since, uintptr_t *at, unsigned *hops)
{
	struct hms_pte *pte = hms__pte_again_locked(h, *at, since);
	struct hms_area *a;

	for (*hops = 0; pte && (pte->flags & PTE_FORWARD);) {
		uintptr_t to = (uintptr_t)pte->pfn << PAGE_SHIFT;
		uint64_t arrived = pte->moved_at;

		*at = to;
		if (++*hops == FOLLOW_MAX)
			return NULL;
		a = hms__area_find_locked(h, to);
		pte = a ? area_pte(a, to) : NULL;
		if (!pte || (pte->flags & (PTE_MIGRATING | PTE_DEAD)) != PTE_MIGRATING)
			pte = hms__pte_again_locked(h, to, arrived);
	}
	return pte;
}

/*
 * Which pages that stay in system memory still need their protection
 * lifted, and where each is now (at[i]; elsewhere if an mremap moved
 * it): marked MS_LIFT.  A page whose entry went dead (unmapped, or
 * another mapping moved onto it) took its protection along: not lifted
 * (by address it would take another page's:
 * tests/dirty_remap_onto_migrating_race).  Lock held; returns how many.
 */
static unsigned long lift_look_locked(struct hms_migrate_vma *m, uintptr_t *at)
{
	struct hms_migrate_core *c = m->core;
	unsigned long n = 0;

	for (unsigned long i = 0; i < m->npages; i++) {
		struct hms_pte *pte;
		unsigned hops;

		c->st[i] &= (uint8_t)~MS_LIFT;
		if (!stayed_protected(m, i))
			continue;
		at[i] = m->start + (i << PAGE_SHIFT);
		pte = peek_locked(c->h, c->since, &at[i], &hops);
		if (!pte || (pte->flags & PTE_DEAD)) {
			c->st[i] &= (uint8_t)~MS_WP;
			continue;
		}
		c->st[i] |= MS_LIFT;
		n++;
	}
	return n;
}

/* The next run [*i, *j) of pages marked MS_LIFT whose addresses follow
 * each other, from *i on. */
static bool next_lift_run(const struct hms_migrate_vma *m, const uintptr_t *at, unsigned long *i,
			  unsigned long *j)
{
	const uint8_t *st = m->core->st;

	while (*i < m->npages && !(st[*i] & MS_LIFT))
		(*i)++;
	if (*i >= m->npages)
		return false;
	for (*j = *i + 1; *j < m->npages && (st[*j] & MS_LIFT) && at[*j] == at[*j - 1] + PAGE_SIZE;
	     (*j)++)
		;
	return true;
}

/*
 * Pages that stay in system memory, where they are now, may be written
 * again: their protection is lifted while the migration still holds
 * them.  Lifted after the table let them go, it undid a protection set
 * in between (a dirty scan re-arming them, replicas): a write went unseen
 * (tests/dirty_migrate_stay_race).  The lift is by address, so it goes
 * through the fill gate like a fill: the table looked at after the
 * handler caught up, the ioctl only if no batch of events began since,
 * and the kernel refuses it (EAGAIN) while an address-space change is
 * unread.  Looked at and lifted without the gate, an mremap in between
 * had it take the protection of pages moved onto those addresses
 * (tests/migrate_forward_lift_race).
 */
static void lift_stayed(struct hms_migrate_vma *m)
{
	struct hms_migrate_core *c = m->core;
	struct hms *h = c->h;
	uintptr_t at[HMS_MIGRATE_MAX_BYTES >> PAGE_SHIFT];
	unsigned long i, j;
	unsigned tries = 0;
	bool any = false, hooked = false;

	for (i = 0; i < m->npages && !any; i++)
		any = stayed_protected(m, i);
	while (any) {
		uint64_t seen = hms__uffd_gate_sync(h);
		bool again = false;

		pthread_mutex_lock(&h->lock);
		any = lift_look_locked(m, at) != 0;
		pthread_mutex_unlock(&h->lock);
		if (!any)
			break;
		for (i = 0; !hooked && next_lift_run(m, at, &i, &j); i = j)
			hms__test_hook_run(h, HMS_HOOK_MIGRATE_LIFT, at[i], (j - i) << PAGE_SHIFT);
		hooked = true;
		if (!hms__uffd_gate_enter(h, seen)) {
			again = true; /* a batch of events began since we looked */
		} else {
			for (i = 0; next_lift_run(m, at, &i, &j); i = j) {
				int r = hms__uffd_wp_once(h, at[i], (j - i) << PAGE_SHIFT, false);

				for (unsigned long k = i; k < j; k++)
					c->st[k] &= (uint8_t)~(MS_LIFT | (r ? 0 : MS_WP));
				again |= r == -EAGAIN;
			}
			hms__uffd_gate_exit(h);
		}
		/* Given up (the handler cannot wait for the event it has not
		 * read), or another error: the page keeps MS_WP, and finalize
		 * records the protection (PTE_WP) for the next write to lift. */
		if (!again || !hms__uffd_eagain_wait(h, &tries))
			break;
	}
	for (i = 0; i < m->npages; i++)
		c->st[i] &= (uint8_t)~MS_LIFT;
}

HMS_API void hms_migrate_vma_finalize(struct hms_migrate_vma *m)
{
	struct hms_migrate_core *c;
	struct hms *h;
	struct hms_free_list fl = { 0 };
	bool waiters = false;
	uint64_t to_dev = 0, to_sys = 0, bytes_dev = 0;
	struct follow fw;

	if (!m || !m->core)
		return;
	c = m->core;
	h = c->h;
	lift_stayed(m);
	pthread_mutex_lock(&h->lock);
	for (unsigned long i = 0; i < m->npages; i++) {
		uintptr_t p = m->start + (i << PAGE_SHIFT), at = p;
		struct hms_pte *pte;
		bool moved, w;

		if (!selected(m, i))
			continue;
		pte = follow_locked(h, c->since, &at, &fw);
		/* Moved and maybe back again (at == p): whether the discard or
		 * fill reached the page is a question for the kernel either way. */
		if (fw.hops && pte && !(pte->flags & (PTE_DEAD | PTE_DISCARD)))
			check_forwarded(m, i, at);
		moved = c->st[i] & MS_MOVED;
		w = pte && (pte->flags & PTE_WAITERS);
		if (!pte || (pte->flags & (PTE_DEAD | PTE_DISCARD))) {
			/* Unmapped or discarded meanwhile: whatever was made is
			 * dropped, and the source device page the pte still has. */
			if (dst_device(m, i))
				hms__free_list_push(h, &fl, hms_migrate_pfn_to_pfn(m->dst[i]));
			if (src_device(m, i) &&
			    (!pte || pte->pfn == hms_migrate_pfn_to_pfn(m->src[i])))
				hms__free_list_push(h, &fl, hms_migrate_pfn_to_pfn(m->src[i]));
			if (pte) {
				/* A system page may be there still where the
				 * discard was an MADV_FREE (uffd.c): one that
				 * stayed (pages() keeps those it finds discarded:
				 * the application may have written them again
				 * before setup protected them), or one our fill
				 * put in place before the madvise (it keeps the
				 * device's data; the application may write it
				 * without a fault).  One our discard took first is
				 * gone, and nothing was written there since (a
				 * write after the madvise waited for us).
				 * Maybe present, as the event would have left it:
				 * taken for never populated, a migration to a
				 * device would leave it mapped behind the device
				 * page, every fill of that page failing (EEXIST)
				 * and every fault on it retried forever. */
				bool maybe = !(pte->flags & PTE_DEAD) &&
					     (src_device(m, i)
						      ? moved
						      : !moved && (m->src[i] & HMS_MIGRATE_PFN_VALID));

				pte->loc = HMS_LOC_NONE;
				pte->pfn = 0;
				pte->flags &= (uint16_t)~(PTE_MIGRATING | PTE_WAITERS | PTE_ZAPPED |
							  PTE_DISCARD | PTE_ZERO | PTE_WP);
				if (maybe)
					pte->flags |= PTE_ZERO;
			}
			m->src[i] &= ~HMS_MIGRATE_PFN_MIGRATE;
		} else {
			if (moved && src_device(m, i)) {
				hms__free_list_push(h, &fl, pte->pfn);
				pte->loc = HMS_LOC_SYSTEM;
				pte->pfn = 0;
				to_sys++;
			} else if (moved) {
				pte->loc = HMS_LOC_DEVICE;
				pte->pfn = hms_migrate_pfn_to_pfn(m->dst[i]);
				to_dev++;
				if (m->src[i] & HMS_MIGRATE_PFN_VALID)
					bytes_dev += PAGE_SIZE;
			} else {
				if (dst_device(m, i))
					hms__free_list_push(h, &fl, hms_migrate_pfn_to_pfn(m->dst[i]));
				m->src[i] &= ~HMS_MIGRATE_PFN_MIGRATE;
			}
			pte->flags &= (uint16_t)~(PTE_MIGRATING | PTE_WAITERS | PTE_ZAPPED);
			/* Unprotected or moved: dirty tracking lost sight of it. */
			if (pte->flags & PTE_TRACKED)
				pte->flags |= PTE_DIRTY;
			pte->flags &= (uint16_t)~(PTE_TRACK | PTE_WP);
			/* Still protected (lift_stayed() could not lift it, or
			 * a move before our discard kept the system copy, found
			 * just now): recorded, and the next write lifts it
			 * (wp.c).  Lifted here by address after the page is
			 * let go, it took a protection set since (a dirty scan
			 * re-arming it, another mapping moved onto it:
			 * tests/migrate_forward_lift_race). */
			if (stayed_protected(m, i))
				pte->flags |= PTE_WP;
			if (moved)
				pte->flags &= (uint16_t)~PTE_ZERO;
		}
		if (!fw.hops) {
			waiters |= w;
			continue;
		}
		/* Settled at another address: its waiting CPU faults are there
		 * (its protection was lifted there by lift_stayed()), and a
		 * fault may wait on a forward passed. */
		pthread_mutex_unlock(&h->lock);
		if (w || (pte && moved && src_device(m, i)))
			hms__uffd_wake(h, at, PAGE_SIZE);
		for (unsigned k = 0; k < fw.nwake; k++)
			hms__uffd_wake(h, fw.wake[k], PAGE_SIZE);
		pthread_mutex_lock(&h->lock);
	}
	hms__area_reap_locked(h);
	if (c->to_device)
		h->to_device--;
	held_del_locked(c);
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	hms__test_hook_run(h, HMS_HOOK_MIGRATE_FINALIZED, m->start, m->end - m->start);

	/* Pages still marked are those whose entries went dead (unmapped
	 * meanwhile, or no longer managed): their protection went with them
	 * (or with the registration).  Lifted by address, it took another's:
	 * the pages an mremap moved there since (a dirty scan then missed
	 * their writes, tests/dirty_remap_onto_migrating_race). */
	if (c->notified)
		hms__notify_end(h, &c->nr);
	hms__free_list_release(h, &fl);
	if (waiters || to_sys)
		hms__uffd_wake(h, m->start, m->end - m->start);
	HMS_STAT_ADD(h, migrations_to_device, to_dev);
	HMS_STAT_ADD(h, migrations_to_system, to_sys);
	HMS_STAT_ADD(h, bytes_to_device, bytes_dev);
	HMS_STAT_ADD(h, bytes_to_system, to_sys << PAGE_SHIFT);
	if (c->staging)
		staging_put(h, c->staging);
	free(c->from);
	free(c);
	m->core = NULL;
}
