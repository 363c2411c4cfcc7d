/* SPDX-License-Identifier: MIT */
/*
 * area.c - managed areas and their per-page state table: hms_alloc/free,
 * hms_manage/unmanage, hms_protect, hms_prefault, hms_page_query, and the
 * table operations the fault engine and migration use (remove, move,
 * evict).  Faults themselves are resolved in uffd.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <numaif.h>

#include "compat/uffd_compat.h"
#include "core/internal.h"
#include "inject.h"

/* ---- lookup ---------------------------------------------------------- */

struct hms_area *hms__area_find_locked(struct hms *h, uintptr_t addr)
{
	for (struct hms_area *a = h->areas; a && a->start <= addr; a = a->next)
		if (addr < a->end)
			return a;
	return NULL;
}

struct hms_pte *hms__pte_again_locked(struct hms *h, uintptr_t addr, uint64_t since)
{
	struct hms_held_dead *mine = NULL;
	struct hms_area *a;

	for (struct hms_held_dead *d = h->held_dead; d; d = d->next)
		if (d->addr == addr && d->stamp > since && (!mine || d->stamp < mine->stamp) &&
		    (d->pte.flags & (PTE_MIGRATING | PTE_BUSY)))
			mine = d;
	if (mine)
		return &mine->pte;
	a = hms__area_find_locked(h, addr);
	return a ? area_pte(a, addr) : NULL;
}

struct hms_area *hms__area_find_range_locked(struct hms *h, uintptr_t start,
					     uintptr_t end)
{
	struct hms_area *a = hms__area_find_locked(h, start);

	return a && end <= a->end ? a : NULL;
}

bool hms__range_managed_locked(struct hms *h, uintptr_t start, uintptr_t end)
{
	while (start < end) {
		struct hms_area *a = hms__area_find_locked(h, start);

		if (!a)
			return false;
		start = a->end;
	}
	return true;
}

/*
 * Does [start, end) overlap a managed area?  An area that is only kept for
 * a migration still holding its unmapped pages (PTE_DEAD) does not count:
 * this waits for that migration to finish and the area to go.
 */
static bool range_overlaps_locked(struct hms *h, uintptr_t start, uintptr_t end)
{
	for (;;) {
		bool live = false, dead = false;

		for (struct hms_area *a = h->areas; a && a->start < end; a = a->next) {
			if (a->end <= start)
				continue;
			for (uintptr_t p = a->start > start ? a->start : start;
			     p < a->end && p < end; p += PAGE_SIZE) {
				if (area_pte(a, p)->flags & PTE_DEAD)
					dead = true;
				else
					live = true;
			}
		}
		if (live || !dead)
			return live;
		pthread_cond_wait(&h->cond, &h->lock);
	}
}

/* Common argument check: page aligned, non-empty, no wrap. */
static int check_range(const void *addr, size_t len)
{
	uintptr_t s = (uintptr_t)addr;

	if (!addr || !len || !hms__aligned(s) || !hms__aligned(len) || s + len < s)
		return -EINVAL;
	return 0;
}

/* A usable context and a range as check_range() wants it: 0 or -errno. */
static int check_args(struct hms *h, const void *addr, size_t len)
{
	int ret = hms__check(h);

	return ret ? ret : check_range(addr, len);
}

/* ---- insertion, removal, moves ---------------------------------------- */

/* A table for n pages, not linked yet; chunk summaries where there is
 * memory for them (without, snapshots just read every pte). */
static struct hms_area *area_new(size_t n)
{
	struct hms_area *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->pt = calloc(n, sizeof(*a->pt));
	if (!a->pt) {
		free(a);
		return NULL;
	}
	a->sum = calloc((n + AREA_CHUNK_PAGES - 1) >> AREA_CHUNK_SHIFT, sizeof(*a->sum));
	return a;
}

static void area_link_locked(struct hms *h, struct hms_area *a)
{
	struct hms_area **pp;

	for (pp = &h->areas; *pp && (*pp)->start < a->start; pp = &(*pp)->next)
		;
	a->next = *pp;
	*pp = a;
}

/* Sets a up for [start, end) with every page's prot and loc. */
static void area_init(struct hms_area *a, uintptr_t start, uintptr_t end, int prot, bool owned,
		      bool populated)
{
	a->start = start;
	a->end = end;
	a->owned = owned;
	for (size_t i = 0; i < area_npages(a); i++)
		a->pt[i] = (struct hms_pte){ .prot = (uint8_t)prot,
					     .loc = populated ? HMS_LOC_SYSTEM : HMS_LOC_NONE };
}

int hms__area_insert_locked(struct hms *h, uintptr_t start, uintptr_t end,
			    int prot, bool owned, bool populated)
{
	struct hms_area *a = area_new((end - start) >> PAGE_SHIFT);

	if (!a)
		return -ENOMEM;
	area_init(a, start, end, prot, owned, populated);
	area_link_locked(h, a);
	return 0;
}

/*
 * Prepared tables (struct hms_move_prep): while one waits in a pool, its
 * start is 0 and its end the number of ptes its table has room for.
 * Takes one with room for n, else allocates one; NULL without memory.
 */
static struct hms_area *area_take(struct hms_area **pool, size_t n)
{
	struct hms_area **best = NULL, *a;

	for (struct hms_area **pp = pool; pool && *pp; pp = &(*pp)->next)
		if ((*pp)->end >= n && (!best || (*pp)->end < (*best)->end))
			best = pp; /* the smallest with room */
	if (!best)
		return area_new(n);
	a = *best;
	*best = a->next;
	a->end = 0;
	a->next = NULL;
	return a;
}

static bool area_pool_add(struct hms_area **pool, size_t n)
{
	struct hms_area *a = area_new(n);

	if (!a)
		return false;
	a->end = n;
	a->next = *pool;
	*pool = a;
	return true;
}

static void area_pool_free(struct hms_area *a)
{
	while (a) {
		struct hms_area *next = a->next;

		free(a->pt);
		free(a->sum);
		free(a);
		a = next;
	}
}

void hms__area_sum_reset(struct hms_area *a)
{
	if (a->sum)
		memset(a->sum, 0, ((area_npages(a) + AREA_CHUNK_PAGES - 1) >> AREA_CHUNK_SHIFT) *
					  sizeof(*a->sum));
}

void hms__area_set_huge_locked(struct hms *h, uintptr_t start)
{
	struct hms_area *a = hms__area_find_locked(h, start);

	if (a)
		a->huge = true;
}

void hms__free_list_push(struct hms *h, struct hms_free_list *fl, hms_pfn pfn)
{
	struct hms_devmem *dm = hms__devmem_of_pfn_locked(h, pfn);

	if (dm) /* the driver may give it again once page_free() has it */
		hms__devmem_hold_locked(dm, pfn, false);
	if (fl->n == fl->cap) {
		size_t cap = fl->cap ? fl->cap * 2 : 64;
		hms_pfn *p = hms__inject(HMS_INJ_NOMEM) ? NULL : realloc(fl->pfns, cap * sizeof(*p));

		if (!p) {
			/* The bitmap was allocated with the devmem: a page
			 * without one belongs to no devmem, so to nobody. */
			struct hms_devmem *dm = hms__devmem_of_pfn_locked(h, pfn);
			uint64_t i = dm ? pfn - dm->first : 0, bit = 1ULL << (i & 63);

			if (dm && !(dm->orphans[i >> 6] & bit)) {
				dm->orphans[i >> 6] |= bit;
				dm->norphans++;
				fl->orphans = true; /* its release hands them over */
			}
			return;
		}
		fl->pfns = p;
		fl->cap = cap;
	}
	fl->pfns[fl->n++] = pfn;
}

/* Take up to max pages out of the orphan bitmaps into out; their devmem
 * in *dmp, held (callbacks) for the page_free() calls.  hms.lock held. */
static size_t orphans_take_locked(struct hms *h, hms_pfn *out, size_t max,
				  struct hms_devmem **dmp)
{
	for (struct hms_devmem *dm = h->devmems; dm; dm = dm->next) {
		size_t n = 0;

		if (!dm->norphans)
			continue;
		for (uint64_t w = 0; n < max && dm->norphans && w < (dm->npages + 63) / 64; w++)
			while (dm->orphans[w] && n < max) {
				unsigned b = (unsigned)__builtin_ctzll(dm->orphans[w]);

				dm->orphans[w] &= dm->orphans[w] - 1;
				dm->norphans--;
				out[n++] = dm->first + w * 64 + b;
			}
		hms__devmem_get_locked(dm);
		*dmp = dm;
		return n;
	}
	return 0;
}

void hms__orphans_release(struct hms *h)
{
	hms_pfn batch[64];

	for (;;) {
		struct hms_devmem *dm = NULL;
		size_t n;

		pthread_mutex_lock(&h->lock);
		n = orphans_take_locked(h, batch, 64, &dm);
		pthread_mutex_unlock(&h->lock);
		if (!dm)
			return;
		for (size_t i = 0; i < n; i++)
			dm->ops.page_free(dm, batch[i]);
		hms__devmem_put(h, dm);
	}
}

/* Pages go back to their drivers one run at a time: a run of pages of one
 * device memory takes hms.lock twice (find and hold it, let it go), not
 * twice per page.  Copy threads finishing 2 MiB batches on many CPUs at
 * once met on that lock (1,024 times a batch). */
void hms__free_list_release(struct hms *h, struct hms_free_list *fl)
{
	for (size_t i = 0; i < fl->n;) {
		struct hms_devmem *dm;

		pthread_mutex_lock(&h->lock);
		dm = hms__devmem_of_pfn_locked(h, fl->pfns[i]);
		if (dm)
			hms__devmem_get_locked(dm);
		pthread_mutex_unlock(&h->lock);
		if (!dm) {
			i++;
			continue;
		}
		do
			dm->ops.page_free(dm, fl->pfns[i++]);
		while (i < fl->n && fl->pfns[i] >= dm->first && fl->pfns[i] - dm->first < dm->npages);
		hms__devmem_put(h, dm);
	}
	free(fl->pfns);
	fl->pfns = NULL;
	fl->n = fl->cap = 0;
	if (fl->orphans)
		hms__orphans_release(h);
	fl->orphans = false;
}

/* Split area a at addr (a->start < addr < a->end); a keeps the left part.
 * The right part's table comes from pool (may be NULL) or is allocated. */
static int area_split_locked(struct hms_area *a, uintptr_t addr, struct hms_area **pool)
{
	size_t left = (addr - a->start) >> PAGE_SHIFT;
	size_t right = area_npages(a) - left;
	struct hms_area *b = area_take(pool, right);
	struct hms_pte *lpt;

	if (!b)
		return -ENOMEM;
	memcpy(b->pt, a->pt + left, right * sizeof(*b->pt));
	lpt = realloc(a->pt, left * sizeof(*a->pt));
	if (lpt)
		a->pt = lpt;
	hms__area_sum_reset(a); /* before a shrinks: all of its chunks */
	b->start = addr;
	b->end = a->end;
	b->owned = a->owned;
	b->huge = a->huge;
	b->next = a->next;
	a->end = addr;
	a->next = b;
	return 0;
}

static void area_unlink_free_locked(struct hms *h, struct hms_area *a)
{
	struct hms_area **pp;

	for (pp = &h->areas; *pp != a; pp = &(*pp)->next)
		;
	*pp = a->next;
	free(a->pt);
	free(a->sum);
	free(a);
}

/* Drop one pte's page: device pages go to fl; a page held by a migration
 * or a fault keeps its state for its holder to drop. */
static void pte_drop_locked(struct hms *h, struct hms_pte *pte, struct hms_free_list *fl)
{
	if (pte->flags & (PTE_MIGRATING | PTE_BUSY))
		return;
	if (pte->loc == HMS_LOC_DEVICE)
		hms__free_list_push(h, fl, pte->pfn);
	pte->loc = HMS_LOC_NONE;
	pte->pfn = 0;
	pte->flags = 0;
}

static bool range_busy_locked(struct hms_area *a, uintptr_t s, uintptr_t e)
{
	for (uintptr_t p = s; p < e; p += PAGE_SIZE)
		if (area_pte(a, p)->flags & (PTE_MIGRATING | PTE_BUSY))
			return true;
	return false;
}

static void area_remove_locked(struct hms *h, uintptr_t start, uintptr_t end,
			       struct hms_free_list *fl, struct hms_area **pool);

void hms__area_remove_locked(struct hms *h, uintptr_t start, uintptr_t end,
			     struct hms_free_list *fl)
{
	area_remove_locked(h, start, end, fl, NULL);
}

/* Splits take their tables from pool (NULL: allocated). */
static void area_remove_locked(struct hms *h, uintptr_t start, uintptr_t end,
			       struct hms_free_list *fl, struct hms_area **pool)
{
	struct hms_area *a = h->areas, *next;

	hms__policy_remove_locked(h, start, end);
	hms__advice_remove_locked(h, start, end);
	hms__thrash_forget_locked(h, start, end);
	for (; a && a->start < end; a = next) {
		next = a->next;
		if (a->end <= start)
			continue;
		uintptr_t s = start > a->start ? start : a->start;
		uintptr_t e = end < a->end ? end : a->end;

		for (uintptr_t p = s; p < e; p += PAGE_SIZE)
			pte_drop_locked(h, area_pte(a, p), fl);
		if (range_busy_locked(a, s, e)) {
			/* Someone holds a page: keep the range as a zombie (all
			 * dead) until it lets go; hms__area_reap_locked() ends it. */
			for (uintptr_t p = s; p < e; p += PAGE_SIZE)
				area_pte(a, p)->flags = (uint16_t)((area_pte(a, p)->flags |
								    PTE_DEAD) & ~PTE_REVIVE);
			h->dead_areas = true;
			continue;
		}
		if (s == a->start && e == a->end) {
			area_unlink_free_locked(h, a);
		} else if (s == a->start) {
			size_t drop = (e - a->start) >> PAGE_SHIFT;

			hms__area_sum_reset(a); /* chunks count from start */
			memmove(a->pt, a->pt + drop, (area_npages(a) - drop) * sizeof(*a->pt));
			a->start = e;
		} else if (e == a->end) {
			hms__area_sum_reset(a);
			a->end = s;
		} else if (area_split_locked(a, e, pool) == 0) {
			a->end = s;
			next = a->next->next;
		} else {
			/* No memory to split: keep the hole as never-populated pages. */
		}
	}
}

void hms__area_reap_locked(struct hms *h)
{
	struct hms_area *a, *next;

	if (!h->dead_areas)
		return;
	h->dead_areas = false;
	for (struct hms_held_dead **pp = &h->held_dead, *d; (d = *pp);) {
		if (d->pte.flags & (PTE_MIGRATING | PTE_BUSY)) {
			h->dead_areas = true;
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		free(d);
	}
	for (a = h->areas; a; a = next) {
		next = a->next;
		for (size_t i = 0; i < area_npages(a); i++) {
			struct hms_pte *pte = &a->pt[i];
			uintptr_t s, e;
			struct hms_free_list fl = { 0 };

			if (!(pte->flags & PTE_DEAD))
				continue;
			if (pte->flags & (PTE_MIGRATING | PTE_BUSY)) {
				h->dead_areas = true;
				continue;
			}
			s = a->start + (i << PAGE_SHIFT);
			if (pte->flags & PTE_REVIVE) {
				/* Still mapped here: a live page again, as the
				 * move left it (empty) or a fault since made it. */
				area_pte(a, s)->flags &= (uint16_t)~(PTE_DEAD | PTE_REVIVE);
				continue;
			}
			/* Remove the whole run of dead pages at once. */
			for (e = s; e < a->end &&
				    (area_pte(a, e)->flags & (PTE_DEAD | PTE_REVIVE)) == PTE_DEAD &&
				    !(area_pte(a, e)->flags & (PTE_MIGRATING | PTE_BUSY));
			     e += PAGE_SIZE)
				area_pte(a, e)->flags &= (uint16_t)~PTE_DEAD;
			hms__area_remove_locked(h, s, e, &fl);
			/* Dead pages never hold device memory: finalize freed it. */
			free(fl.pfns);
			h->dead_areas = true; /* rescan: the list changed */
			return hms__area_reap_locked(h);
		}
	}
}

/* Moves the state of [from, from + len), which lies in one area, to a new
 * area at [to, to + len), whose table comes from pool (or is allocated:
 * without memory the state stays behind). */
static void area_move_piece_locked(struct hms *h, uintptr_t from, uintptr_t to, size_t len,
				   bool unmapped, struct hms_area **pool)
{
	struct hms_area *src = hms__area_find_range_locked(h, from, from + len), *dst;
	struct hms_pte *moved;
	size_t n = len >> PAGE_SHIFT;

	if (!src)
		return;
	dst = area_take(pool, n);
	if (!dst)
		return;
	dst->start = to; /* its entries are the moved ones, below */
	dst->end = to + len;
	dst->owned = src->owned;
	dst->huge = src->huge; /* the kernel moves huge pages whole */
	area_link_locked(h, dst);
	moved = dst->pt;
	memcpy(moved, area_pte(src, from), n * sizeof(*moved));
	hms__area_sum_reset(src); /* written below past area_pte()'s chunk */
	/*
	 * The old range keeps being registered (MREMAP_DONTUNMAP) with empty
	 * pages; an UNMAP event follows when it was really unmapped.
	 *
	 * A page a migration holds stays behind as a dead page that forwards
	 * to the new address (PTE_FORWARD, pfn = new page number; where the
	 * old range stays mapped, PTE_REVIVE makes it a live page again
	 * when let go, see hms__area_reap_locked), and the
	 * page at the new address stays held, with its state, until the
	 * migration's finalize follows the forward and settles the page
	 * there: a migration that already discarded the system copy must
	 * put its device page at the new address, the data is nowhere else.
	 *
	 * A page a fault holds (BUSY) stays behind as a dead page for its
	 * holder, who drops its result; the state moves on without the hold.
	 * The holder's fill may have landed before the kernel moved the page,
	 * so a page thought never populated is taken as "system, maybe
	 * present" (a missing system page reads zeros all the same).
	 *
	 * A dead page (a forward left by an earlier move, or a page unmapped
	 * while held) stays where it is for its holder; what arrives at the
	 * new address is whatever the kernel moved: system memory.
	 */
	for (size_t i = 0; i < n; i++) {
		struct hms_pte *p = area_pte(src, from) + i;
		uint16_t f = p->flags, revive = unmapped ? 0 : PTE_REVIVE;

		if (f & PTE_DEAD) {
			moved[i] = (struct hms_pte){ .loc = HMS_LOC_SYSTEM, .prot = moved[i].prot };
			continue;
		}
		if (f & PTE_MIGRATING) {
			moved[i].flags &= (uint16_t)~(PTE_WAITERS | PTE_DEAD | PTE_FORWARD);
			p->loc = HMS_LOC_NONE;
			p->pfn = (hms_pfn)((to >> PAGE_SHIFT) + i);
			p->flags = (uint16_t)((f & (PTE_MIGRATING | PTE_WAITERS)) | PTE_DEAD |
					      PTE_FORWARD | revive);
			p->moved_at = h->detaches; /* after the detach at to */
			h->dead_areas = true;
			continue;
		}
		moved[i].flags &= (uint16_t)~(PTE_BUSY | PTE_WAITERS | PTE_ZAPPED | PTE_DISCARD |
					      PTE_FORWARD);
		/* A fault was filling it: maybe present, maybe the zero page
		 * (a read's fill), which PTE_ZERO makes hms ask the kernel
		 * about rather than count it as data (placement.c). */
		if ((f & PTE_BUSY) && moved[i].loc == HMS_LOC_NONE) {
			moved[i].loc = HMS_LOC_SYSTEM;
			moved[i].flags |= PTE_ZERO;
		}
		p->loc = HMS_LOC_NONE;
		p->pfn = 0;
		p->flags = (f & PTE_BUSY)
				   ? (uint16_t)((f & (PTE_BUSY | PTE_WAITERS)) | PTE_DEAD | revive)
				   : 0;
		if (f & PTE_BUSY)
			h->dead_areas = true;
	}
	hms__area_sum_reset(dst);
}

/* Each area a that [lo, hi) overlaps, with [s, e) the overlap. */
#define for_each_piece(h, lo, hi, a, s, e)                                      \
	for (struct hms_area *a = (h)->areas; a && a->start < (hi); a = a->next)   \
		for (uintptr_t s = a->start > (lo) ? a->start : (lo),                  \
			       e = a->end < (hi) ? a->end : (hi), once_ = s < e;         \
		     once_; once_ = 0)

/* A fault or a migration holds the page. */
static bool pte_held(const struct hms_pte *pte)
{
	return pte->flags & (PTE_MIGRATING | PTE_BUSY);
}

/* Pages of [start, end) that someone holds go to h->held_dead (struct
 * hms_held_dead), their table entries become empty ones: the range is
 * about to get other pages.  Without memory a page stays in the table as
 * a zombie (the old behaviour). */
static void area_detach_held_locked(struct hms *h, uintptr_t start, uintptr_t end,
				    struct hms_held_dead **pool)
{
	for_each_piece(h, start, end, a, s, e)
		for (uintptr_t p = s; p < e; p += PAGE_SIZE) {
			struct hms_pte *pte = area_pte(a, p);
			struct hms_held_dead *d;

			if (!pte_held(pte))
				continue;
			d = *pool;
			if (d)
				*pool = d->next;
			else if (!(d = malloc(sizeof(*d))))
				continue;
			d->addr = p;
			d->stamp = ++h->detaches;
			d->pte = *pte;
			d->pte.flags |= PTE_DEAD;
			d->next = h->held_dead;
			h->held_dead = d;
			h->dead_areas = true;
			*pte = (struct hms_pte){ .prot = pte->prot };
		}
}

/* An area strictly around [start, end): removing it splits the area. */
static struct hms_area *area_around_locked(struct hms *h, uintptr_t start, uintptr_t end)
{
	struct hms_area *a = hms__area_find_locked(h, start);

	return a && a->start < start && a->end > end ? a : NULL;
}

int hms__area_move_prepare_locked(struct hms *h, uintptr_t from, uintptr_t to, size_t len,
				  bool unmapped, struct hms_move_prep *p)
{
	struct hms_area *a;

	*p = (struct hms_move_prep){ 0 };
	if (hms__inject(HMS_INJ_NOMEM))
		return -ENOMEM;
	/* A record per page held where the pages arrive. */
	for_each_piece(h, to, to + len, pa, s, e)
		for (uintptr_t q = s; q < e; q += PAGE_SIZE) {
			struct hms_held_dead *d;

			if (!pte_held(area_pte(pa, q)))
				continue;
			d = malloc(sizeof(*d));
			if (!d)
				goto nomem;
			d->next = p->held;
			p->held = d;
		}
	/* The splits: around the destination, and around the source when the
	 * old range goes (sized for the area before the first split, which
	 * can only make the second one smaller). */
	if ((a = area_around_locked(h, to, to + len)) &&
	    !area_pool_add(&p->splits, (a->end - to - len) >> PAGE_SHIFT))
		goto nomem;
	if (unmapped && (a = area_around_locked(h, from, from + len)) &&
	    !area_pool_add(&p->splits, (a->end - from - len) >> PAGE_SHIFT))
		goto nomem;
	/* A table per piece of the source (the destination's removal cuts
	 * areas only outside it, so the pieces stay these). */
	for_each_piece(h, from, from + len, pa, s, e)
		if (!area_pool_add(&p->pieces, (e - s) >> PAGE_SHIFT))
			goto nomem;
	/* The entries the policy and the advice take at the destination
	 * (kept by their trees; nothing changes them while hms.lock is
	 * held but hms_advise(), whose own use the move tops up). */
	if (hms__policy_move_reserve_locked(h, from, len) ||
	    hms__advice_move_reserve_locked(h, from, len))
		goto nomem;
	return 0;
nomem:
	hms__area_move_prep_free(p);
	return -ENOMEM;
}

void hms__area_move_prep_free(struct hms_move_prep *p)
{
	area_pool_free(p->pieces);
	area_pool_free(p->splits);
	while (p->held) {
		struct hms_held_dead *d = p->held;

		p->held = d->next;
		free(d);
	}
	*p = (struct hms_move_prep){ 0 };
}

/*
 * mremap moved [from, from + len) to [to, to + len).  The kernel moves a
 * range that is one mapping to it, which may be several areas here
 * (adjacent hms_manage calls, an mremap back next to where the pages came
 * from: the kernel merged what hms keeps apart), so each area's part
 * moves on its own.  Asking for one area whole left the destination
 * unmanaged and dropped the device pages of the source (hms stress,
 * 3 threads: -ENOENT from hms_migrate on the destination, zeros read).
 * What it allocates comes from p (what is left stays there).
 */
void hms__area_move_locked(struct hms *h, uintptr_t from, uintptr_t to, size_t len,
			   bool unmapped, struct hms_move_prep *p, struct hms_free_list *fl)
{
	/* What was at the destination is gone (mremap unmapped it); pages
	 * held there leave the table for their holders. */
	area_detach_held_locked(h, to, to + len, &p->held);
	area_remove_locked(h, to, to + len, fl, &p->splits);
	for (uintptr_t s = from, e; s < from + len; s = e) {
		struct hms_area *a = h->areas;

		while (a && a->end <= s)
			a = a->next;
		if (!a || a->start >= from + len)
			break; /* the rest is not managed */
		if (a->start > s) {
			e = a->start; /* a hole that is not managed */
			continue;
		}
		e = a->end < from + len ? a->end : from + len;
		area_move_piece_locked(h, s, to + (s - from), e - s, unmapped, &p->pieces);
	}
	hms__policy_move_locked(h, from, to, len);
	hms__advice_move_locked(h, from, to, len);
	if (unmapped)
		area_remove_locked(h, from, from + len, fl, &p->splits);
}

void hms__pte_wait_locked(struct hms *h, uintptr_t addr)
{
	for (;;) {
		struct hms_area *a = hms__area_find_locked(h, addr);

		if (!a || !(area_pte(a, addr)->flags & (PTE_BUSY | PTE_MIGRATING)))
			return;
		pthread_cond_wait(&h->cond, &h->lock);
	}
}

/* ---- eviction: device pages back to system memory ---------------------- */

/*
 * Finds the first device page in [*pos, end) (of devmem only, if not NULL)
 * and returns its devmem, with *pos..*run_end the run of that devmem's
 * pages that follows (one area, at most 2 MiB).  Pages a migration or a
 * fault holds are waited for, then looked at again.
 */
static struct hms_devmem *next_device_run_locked(struct hms *h, struct hms_devmem *only,
						 uintptr_t *pos, uintptr_t end, uintptr_t *run_end)
{
	for (struct hms_area *a = h->areas; a && a->start < end; a = a->next) {
		if (a->end <= *pos)
			continue;
		for (uintptr_t p = a->start > *pos ? a->start : *pos; p < a->end && p < end;
		     p += PAGE_SIZE) {
			struct hms_pte *pte = area_pte(a, p);
			struct hms_devmem *dm;
			uintptr_t e;

			if (pte->loc != HMS_LOC_DEVICE && !(pte->flags & PTE_MIGRATING))
				continue;
			if (pte->flags & (PTE_MIGRATING | PTE_BUSY)) {
				hms__pte_wait_locked(h, p);
				*pos = p;
				return next_device_run_locked(h, only, pos, end, run_end);
			}
			dm = hms__devmem_of_pfn_locked(h, pte->pfn);
			if (!dm || (only && dm != only))
				continue;
			for (e = p + PAGE_SIZE; e < a->end && e < end && e - p < HMS_MIGRATE_MAX_BYTES &&
						area_pte(a, e)->loc == HMS_LOC_DEVICE &&
						!(area_pte(a, e)->flags & (PTE_MIGRATING | PTE_BUSY)) &&
						hms__devmem_of_pfn_locked(h, area_pte(a, e)->pfn) == dm;
			     e += PAGE_SIZE)
				;
			*pos = p;
			*run_end = e;
			return dm;
		}
	}
	return NULL;
}

/*
 * Devmems that move ranges themselves (evict_range) get each area's part
 * of [start, end) in one call; one (area part, devmem) pair per call,
 * looked up under the lock, called without it.
 */
static void evict_ranges(struct hms *h, uintptr_t start, uintptr_t end, struct hms_devmem *only)
{
	uintptr_t pos = start;

	for (;;) {
		struct hms_devmem *dm = NULL;
		uintptr_t s = 0, e = 0;

		pthread_mutex_lock(&h->lock);
		for (struct hms_area *a = h->areas; a && a->start < end && !dm; a = a->next) {
			if (a->end <= pos)
				continue;
			s = a->start > pos ? a->start : pos;
			e = a->end < end ? a->end : end;
			for (uintptr_t p = s; p < e; p += PAGE_SIZE) {
				const struct hms_pte *pte = area_pte_ro(a, p);
				struct hms_devmem *d;

				if (pte->loc != HMS_LOC_DEVICE)
					continue;
				d = hms__devmem_of_pfn_locked(h, pte->pfn);
				if (d && d->ops.evict_range && (!only || d == only)) {
					dm = d;
					s = p;
					break;
				}
			}
		}
		if (dm)
			hms__devmem_get_locked(dm);
		pthread_mutex_unlock(&h->lock);
		if (!dm)
			return;
		dm->ops.evict_range(dm, s, e);
		hms__devmem_put(h, dm);
		/* Other devmems' pages in this part are looked at from s on
		 * again; this one's are gone or left to migrate_to_ram. */
		pos = e;
	}
}

/*
 * How often one run may fail in a row before eviction gives up on it.
 * EAGAIN means another thread holds or moves the pages right now (a CPU
 * fault, a device release, the handler): it settles, so it is waited out
 * for up to about a second.  The count starts again after every run that
 * moves: a budget shared by the whole range ran out under load and left
 * pages on the device that fork() then missed (found by hms stress).
 * A run given up on stays on the device and the eviction goes on after
 * it: stopping there left every later page of the range on its device
 * too, whatever its driver would have done, and hms_close() lost them
 * all with the refused one (tests/close_lost_pages).
 */
#define EVICT_ROUNDS_EAGAIN 20000u
#define EVICT_ROUNDS_ERROR 100u

int hms__evict_range(struct hms *h, uintptr_t start, uintptr_t end, struct hms_devmem *only)
{
	uintptr_t pos = start, run_end;
	unsigned failures = 0;
	int ret, err = 0;

	if (!hms__in_handler(h))
		evict_ranges(h, start, end, only);
	for (;;) {
		struct hms_devmem *dm;
		struct hms_devmem_fault f = { 0 };

		pthread_mutex_lock(&h->lock);
		dm = next_device_run_locked(h, only, &pos, end, &run_end);
		if (dm)
			hms__devmem_get_locked(dm);
		pthread_mutex_unlock(&h->lock);
		/* None left from pos on: 0, even when the last try failed (the
		 * run moved meanwhile through another thread), unless a run was
		 * given up on.  fork() and hms_unmanage() take any error for
		 * pages left behind. */
		if (!dm)
			return err;
		f.addr = pos;
		f.start = pos;
		f.end = run_end;
		ret = dm->ops.migrate_to_ram(dm, &f);
		hms__devmem_put(h, dm);
		if (!ret) {
			failures = 0;
			continue;
		}
		if (++failures > (ret == -EAGAIN ? EVICT_ROUNDS_EAGAIN : EVICT_ROUNDS_ERROR)) {
			/* The run stays on the device (nothing lost): on to
			 * the next. */
			err = ret;
			failures = 0;
			pos = run_end;
			continue;
		}
		if (failures > 16)
			usleep(50);
		else
			sched_yield();
	}
}

/* ---- hms_alloc / hms_free ------------------------------------------------ */

/* The protection of the mappings of a range hms_manage() adopts. */
struct prot_runs {
	size_t n, cap;
	struct prot_run {
		uintptr_t start, end;
		int prot;
	} *run;
};

/* runs: the mappings' protection (NULL: read-write, hms_alloc's). */
static int manage_locked_register(struct hms *h, uintptr_t s, size_t len, bool owned,
				  bool populated, const struct prot_runs *runs)
{
	int ret;

	/* Looked at before the range is registered: a registration undone
	 * would be another area's too.  Again after it, for an area an
	 * mremap put there meanwhile.  And only once every event of what was
	 * mapped here before is handled: its UNMAP may still be on its way
	 * with nothing of its own in the table to say so (the area that went
	 * with it was moved away by an mremap, and the record that would
	 * have told the handler so taken by another mremap's UNMAP of the
	 * same addresses); inserted before it was read, the new area was
	 * removed by it (tests/alloc_remap_reuse_race).  Every such event
	 * was prepared before the range could be mapped again, so it is
	 * waited for here (and a stale area it removes overlaps no more). */
	pthread_mutex_lock(&h->manage_lock);
	hms__uffd_events_read(h, s);
	pthread_mutex_lock(&h->lock);
	ret = range_overlaps_locked(h, s, s + len) ? -EEXIST : 0;
	pthread_mutex_unlock(&h->lock);
	if (!ret)
		ret = hms__uffd_register(h, s, len);
	if (ret) {
		pthread_mutex_unlock(&h->manage_lock);
		return ret;
	}
	pthread_mutex_lock(&h->lock);
	if (range_overlaps_locked(h, s, s + len))
		ret = -EEXIST;
	else if (hms__inject(HMS_INJ_NOMEM))
		ret = -ENOMEM;
	else
		ret = hms__area_insert_locked(h, s, s + len, PROT_READ | PROT_WRITE, owned,
					      populated);
	if (!ret && runs) {
		struct hms_area *a = hms__area_find_locked(h, s); /* the new one */

		for (size_t i = 0; i < runs->n; i++)
			for (uintptr_t p = runs->run[i].start; p < runs->run[i].end; p += PAGE_SIZE)
				area_pte(a, p)->prot = (uint8_t)runs->run[i].prot;
	}
	pthread_mutex_unlock(&h->lock);
	if (ret)
		hms__uffd_unregister(h, s, len);
	pthread_mutex_unlock(&h->manage_lock);
	return ret;
}

/* Fresh anonymous memory for hms_alloc: [s, s + len), aligned; 0 (errno
 * set) without.  Huge: populated with huge pages first (userfaultfd fills
 * with 4 KiB pages). */
static uintptr_t alloc_map(size_t len, size_t align, bool huge)
{
	char *p = mmap(NULL, len + align - PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t s;

	if (p == MAP_FAILED)
		return 0;
	s = ((uintptr_t)p + align - 1) & ~(align - 1);
	if (s > (uintptr_t)p)
		munmap(p, s - (uintptr_t)p);
	if ((uintptr_t)p + len + align - PAGE_SIZE > s + len)
		munmap((void *)(s + len), (uintptr_t)p + len + align - PAGE_SIZE - (s + len));
	if (huge) {
		madvise((void *)s, len, MADV_HUGEPAGE);
		if (madvise((void *)s, len, MADV_POPULATE_WRITE)) {
			for (uintptr_t q = s; q < s + len; q += PAGE_SIZE)
				*(volatile char *)q = 0;
		}
	}
	return s;
}

/* Fresh ranges hms_alloc passes over (see there) before it gives up. */
#define ALLOC_TRIES 8

HMS_API void *hms_alloc(struct hms *h, size_t len, unsigned flags)
{
	size_t align = (flags & HMS_ALLOC_HUGE) ? HMS_HUGE_PAGE_SIZE : PAGE_SIZE;
	uintptr_t s = 0, passed[ALLOC_TRIES];
	unsigned npassed = 0;
	int ret = hms__check(h);

	if (ret || !len || (flags & ~HMS_ALLOC_HUGE) || len > (SIZE_MAX >> 1)) {
		errno = ret == -ECHILD ? ECHILD : EINVAL;
		return NULL;
	}
	len = (len + align - 1) & ~(align - 1);
	/* (Events of earlier munmaps: manage_locked_register waits for them.) */
	/*
	 * A fresh range that overlaps an area is one another thread has just
	 * unmapped (or moved away) and whose event the handler has not read
	 * yet (the kernel may not have queued it yet): the area goes when it
	 * is read.  Until then the range is kept mapped, so that mmap() does
	 * not hand it out again, and another one is taken.  (hms_alloc
	 * failed with EEXIST here.)
	 */
	for (;;) {
		s = alloc_map(len, align, flags & HMS_ALLOC_HUGE);
		ret = s ? manage_locked_register(h, s, len, true, flags & HMS_ALLOC_HUGE, NULL)
			: -errno;
		if (ret != -EEXIST || npassed == ALLOC_TRIES)
			break;
		passed[npassed++] = s;
	}
	while (npassed) /* never registered: their unmapping raises no event */
		munmap((void *)passed[--npassed], len);
	if (ret) {
		if (s)
			munmap((void *)s, len);
		errno = -ret;
		return NULL;
	}
	if (flags & HMS_ALLOC_HUGE) {
		pthread_mutex_lock(&h->lock);
		hms__area_set_huge_locked(h, s);
		pthread_mutex_unlock(&h->lock);
	}
	return (void *)s;
}

/* ---- stale areas ---------------------------------------------------------- */

/*
 * The kernel lets a mapping go before the userfaultfd event
 * that says so is even queued: munmap() removes the mapping, drops
 * mmap_lock, and only then queues its UNMAP event and waits for it to be
 * read (mremap() moving a range away does the same with REMAP and UNMAP).
 * In between another thread may mmap() the same addresses and hand them
 * to hms_manage(), whose hms__uffd_sync() cannot wait for an event that
 * no read has taken yet: the old area is still in the table.
 *
 *   thread A                thread B                      handler
 *   munmap(x): mapping gone
 *                           mmap -> x
 *                           hms_manage(x): sync, the old
 *                           area overlaps (was: EEXIST)
 *   queues UNMAP x..y,                                    reads it, removes
 *   waits for the read                                    the old area
 *
 * A live area's range is registered with the userfaultfd (hms_manage and
 * hms_alloc register before they insert the area, hms_unmanage removes it
 * before it unregisters, MADV_DONTNEED and mprotect keep the
 * registration), a fresh mapping is not, and the kernel never merges a
 * registered mapping with one that is not.  So an overlap over a range
 * that is registered nowhere is an event on its way, and waited for;
 * where any part of the range is registered, the overlap is the caller's
 * (or the range is another userfaultfd's): EEXIST at once.  (hms_alloc
 * cannot tell its fresh range from a stale area's either, but can take
 * another range instead.)
 *
 * The calls that act on managed memory (hms_free, hms_unmanage,
 * hms_protect, hms_prefault, hms_page_query, and hms_bind with the other
 * calls that check through hms__placement_range) ask the converse: a range the table calls managed but that is not
 * registered all through is a stale area's, and is waited for the same
 * way; it then answers ENOENT, as memory never managed does.  Without
 * that, hms_free() unmapped and hms_protect() mprotect()ed the fresh
 * memory another thread had just mapped there.
 */

/* How much of [s, e) is registered with a userfaultfd ("um" in its
 * mapping's VmFlags in /proc/self/smaps; an unmapped hole is not): REG_*,
 * or -errno.  Stops reading at e: the kernel makes the text of each
 * mapping as it is read. */
enum { REG_NONE, REG_PART, REG_ALL };

static int range_registered(uintptr_t s, uintptr_t e)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char *line = NULL;
	size_t cap = 0;
	bool in = false, some = false, hole = false;
	uintptr_t next = s; /* where the mappings seen so far end */

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		unsigned long vs, ve;
		int n = 0;

		if (sscanf(line, "%lx-%lx %n", &vs, &ve, &n) == 2 && n) {
			if (vs >= e)
				break;
			in = ve > s;
			if (in) {
				hole |= vs > next;
				next = ve;
			}
		} else if (in && !strncmp(line, "VmFlags:", 8)) {
			if (strstr(line, " um "))
				some = true;
			else
				hole = true;
			in = false;
		}
	}
	free(line);
	fclose(f);
	hole |= next < e;
	return !some ? REG_NONE : hole ? REG_PART : REG_ALL;
}

/* Does the table say in_table(h, s, e), once synced with the handler? */
static bool table_says(struct hms *h, uintptr_t s, uintptr_t e,
		       bool (*in_table)(struct hms *h, uintptr_t s, uintptr_t e))
{
	bool says;

	hms__uffd_sync(h);
	pthread_mutex_lock(&h->lock);
	says = in_table(h, s, e);
	pthread_mutex_unlock(&h->lock);
	return says;
}

/* What stale_wait() found: the table let go, the kernel bears the table
 * out, or neither in time. */
enum stale { STALE_GONE, STALE_REAL, STALE_TIMEOUT };

/*
 * Called once the table says in_table(h, s, e): waits while the kernel's
 * registration of [s, e) does not bear that out -- where whole, all of the
 * range must be registered, else any part of it; smaps unreadable counts
 * as bearing it out, and so does an event this thread is to read itself
 * (the handler's callbacks).
 */
static enum stale stale_wait(struct hms *h, uintptr_t s, uintptr_t e,
			     bool (*in_table)(struct hms *h, uintptr_t s, uintptr_t e),
			     bool whole)
{
	uint64_t t0 = hms__now_ms();

	for (unsigned round = 0;; round++) {
		int reg;

		if (hms__in_handler(h))
			return STALE_REAL; /* the event is this thread's to read */
		reg = range_registered(s, e);
		if (whole ? reg == REG_ALL || reg < 0 : reg != REG_NONE)
			return STALE_REAL;
		if (hms__now_ms() - t0 >= h->stale_wait_ms)
			return STALE_TIMEOUT;
		/* Let the unmapping thread run; then poll more gently. */
		if (round < 8)
			sched_yield();
		else
			usleep(100);
		if (!table_says(h, s, e, in_table))
			return STALE_GONE;
	}
}

/* 0 once [s, e) overlaps no live area, -EEXIST if it overlaps one that is
 * not stale or one stays longer than the wait. */
static int manage_overlap_wait(struct hms *h, uintptr_t s, uintptr_t e)
{
	if (!table_says(h, s, e, range_overlaps_locked))
		return 0;
	return stale_wait(h, s, e, range_overlaps_locked, false) == STALE_GONE ? 0 : -EEXIST;
}

/* 0 if [s, e) is all live managed memory, -ENOENT if not, or if the areas
 * there are stale: gone by the end of the wait, or still in the table
 * with the range not registered (then it is not ours to act on).  smaps is
 * read only where a few ioctls cannot vouch for the range (an event
 * unread, many mappings). */
int hms__range_live(struct hms *h, uintptr_t s, uintptr_t e)
{
	if (!table_says(h, s, e, hms__range_managed_locked))
		return -ENOENT;
	if (hms__uffd_registered_fast(h, s, e - s))
		return 0;
	return stale_wait(h, s, e, hms__range_managed_locked, true) == STALE_REAL ? 0 : -ENOENT;
}

/* Validate a range of managed memory; owned: all areas must be hms_alloc's. */
static int check_managed(struct hms *h, const void *addr, size_t len, bool owned)
{
	uintptr_t s = (uintptr_t)addr, e = s + len;
	int ret = check_args(h, addr, len);

	if (ret)
		return ret;
	ret = hms__range_live(h, s, e);
	if (ret)
		return ret;
	pthread_mutex_lock(&h->lock);
	if (!hms__range_managed_locked(h, s, e)) /* unmapped since */
		ret = -ENOENT;
	else if (owned)
		for (uintptr_t p = s; p < e;) {
			struct hms_area *a = hms__area_find_locked(h, p);

			if (!a->owned) {
				ret = -ENOENT;
				break;
			}
			p = a->end;
		}
	pthread_mutex_unlock(&h->lock);
	return ret;
}

void hms__area_forget(struct hms *h, uintptr_t s, uintptr_t e, enum hms_event ev)
{
	struct hms_free_list fl = { 0 };
	struct hms_notify_range r = { s, e, ev, HMS_NOTIFY_BLOCKABLE, NULL };

	hms__notify_start(h, &r);
	pthread_mutex_lock(&h->lock);
	hms__area_remove_locked(h, s, e, &fl);
	pthread_mutex_unlock(&h->lock);
	hms__notify_end(h, &r);
	hms__free_list_release(h, &fl);
}

HMS_API int hms_free(struct hms *h, void *addr, size_t len)
{
	int ret = check_managed(h, addr, len, true);

	if (ret)
		return ret;
	hms__area_forget(h, (uintptr_t)addr, (uintptr_t)addr + len, HMS_EVENT_UNMAP);
	/* The UNMAP event this raises is passed over (an area another thread
	 * makes at these addresses meanwhile is not ours), and waited for:
	 * the next hms_alloc() at the same address starts clean. */
	return hms__unmap_own(h, (uintptr_t)addr, len);
}

/* ---- hms_manage / hms_unmanage ------------------------------------------- */

/* Records that [vs, ve) & [s, e) has protection perms ("rw-p"); false
 * without memory.  Write access alone counts as read-write, as it works on
 * x86 (and as hms_protect() allows it). */
static bool prot_runs_add(struct prot_runs *r, uintptr_t vs, uintptr_t ve, uintptr_t s,
			  uintptr_t e, const char *perms)
{
	int prot = (perms[0] == 'r' ? PROT_READ : 0) |
		   (perms[1] == 'w' ? PROT_READ | PROT_WRITE : 0);

	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 4;
		struct prot_run *p = realloc(r->run, cap * sizeof(*p));

		if (!p)
			return false;
		r->run = p;
		r->cap = cap;
	}
	r->run[r->n++] = (struct prot_run){ vs > s ? vs : s, ve < e ? ve : e, prot };
	return true;
}

/* Is [s, e) entirely private anonymous memory (per /proc/self/maps)?  The
 * protection of each mapping goes to runs. */
static int check_private_anon(uintptr_t s, uintptr_t e, struct prot_runs *runs)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	uintptr_t covered = s;
	int ret = -ENOMEM;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long vs, ve, off;
		char perms[8], dev[16];
		unsigned long ino;
		int pos = 0;

		if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %n", &vs, &ve, perms, &off, dev,
			   &ino, &pos) < 6)
			continue;
		if (ve <= covered || vs >= e)
			continue;
		if (vs > covered)
			break; /* a hole: not mapped */
		if (perms[3] != 'p' || ino != 0 ||
		    (line[pos] && line[pos] != '\n' && strncmp(line + pos, "[heap]", 6))) {
			ret = -EINVAL;
			break;
		}
		if (!prot_runs_add(runs, vs, ve, s, e, perms)) {
			ret = -ENOMEM;
			break;
		}
		covered = ve;
		if (covered >= e) {
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/*
 * Mark present pages of a new area as system memory, from pagemap.  A
 * present page that is not exclusively ours may be the shared zero page
 * (memory read before hms_manage): it gets PTE_ZERO, so that what asks
 * whether it holds data asks the kernel rather than taking the table's
 * word (hms_migrate on a machine of one node would move it to a device,
 * where it takes the room of pages with data).  A page shared with a
 * child after fork() is asked about too, and found.  Memory the kernel
 * maps by a huge page somewhere (transparent huge pages, populated before
 * hms_manage: userfaultfd fills with small pages only) makes the area a
 * huge one, as HMS_ALLOC_HUGE does: its huge pages then move whole
 * (design 5a).  PAGEMAP_SCAN (Linux 6.7) says so; without it the area
 * stays as it was.
 */
long hms__pagemap_huge(int fd, uintptr_t start, uintptr_t end, struct page_region *vec, size_t n,
		       uintptr_t *walk_end)
{
	struct pm_scan_arg a = { .size = sizeof(a), .start = start, .end = end,
				 .vec = (uintptr_t)vec, .vec_len = n,
				 .category_mask = PAGE_IS_HUGE, .return_mask = PAGE_IS_HUGE };
	long r = ioctl(fd, PAGEMAP_SCAN, &a);

	if (walk_end)
		*walk_end = a.walk_end;
	return r;
}

static void mark_present(struct hms *h, uintptr_t s, uintptr_t e)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t buf[512];
	struct page_region huge;

	if (fd < 0)
		return;
	if (e - s >= HMS_HUGE_PAGE_SIZE && hms__pagemap_huge(fd, s, e, &huge, 1, NULL) == 1) {
		pthread_mutex_lock(&h->lock);
		hms__area_set_huge_locked(h, s);
		pthread_mutex_unlock(&h->lock);
	}
	for (uintptr_t p = s; p < e;) {
		size_t n = (e - p) >> PAGE_SHIFT;
		ssize_t r;

		if (n > 512)
			n = 512;
		r = pread(fd, buf, n * 8, (off_t)((p >> PAGE_SHIFT) * 8));
		if (r <= 0)
			break;
		n = (size_t)r / 8;
		pthread_mutex_lock(&h->lock);
		for (size_t i = 0; i < n; i++) {
			struct hms_area *a = hms__area_find_locked(h, p + (i << PAGE_SHIFT));
			struct hms_pte *pte;

			if (!a || !(buf[i] >> 62)) /* neither present nor swapped */
				continue;
			pte = area_pte(a, p + (i << PAGE_SHIFT));
			pte->loc = HMS_LOC_SYSTEM;
			if ((buf[i] >> 63) && !(buf[i] & (1ULL << 56))) /* present, not exclusive */
				pte->flags |= PTE_ZERO;
		}
		pthread_mutex_unlock(&h->lock);
		p += n << PAGE_SHIFT;
	}
	close(fd);
}

HMS_API int hms_manage(struct hms *h, void *addr, size_t len)
{
	uintptr_t s = (uintptr_t)addr;
	struct prot_runs runs = { 0 };
	int ret = check_args(h, addr, len);

	if (ret)
		return ret;
	ret = manage_overlap_wait(h, s, s + len);
	if (ret)
		return ret;
	ret = check_private_anon(s, s + len, &runs);
	if (!ret)
		ret = manage_locked_register(h, s, len, false, false, &runs);
	free(runs.run);
	if (ret)
		return ret;
	mark_present(h, s, s + len);
	return 0;
}

bool hms__leaving_locked(const struct hms *h, uintptr_t addr)
{
	for (const struct hms_leaving *l = h->leaving; l; l = l->next)
		if (addr >= l->start && addr < l->end)
			return true;
	return false;
}

static void leaving_del(struct hms *h, struct hms_leaving *l)
{
	struct hms_leaving **pp;

	pthread_mutex_lock(&h->lock);
	for (pp = &h->leaving; *pp != l; pp = &(*pp)->next)
		;
	*pp = l->next;
	pthread_mutex_unlock(&h->lock);
}

/*
 * Pages home, then out of the table, then out of the registration.  No
 * page may leave for a device between the eviction and the table's
 * forgetting: forgotten there, its device page was freed (or, held by a
 * migration, dropped at finalize as a page unmapped) and the memory,
 * which stays mapped, read zeros (tests/unmanage_migrate_race: another
 * thread's hms_migrate, a device's first touch under a policy).  So the
 * range is listed as leaving before the eviction starts: a migration to a
 * device set up from then on passes over its system pages, and one set up
 * before holds its pages MIGRATING, which the eviction waits for.
 */
HMS_API int hms_unmanage(struct hms *h, void *addr, size_t len)
{
	uintptr_t s = (uintptr_t)addr, e = s + len;
	struct hms_leaving l = { s, e, NULL };
	int ret = check_managed(h, addr, len, false);

	if (ret)
		return ret;
	pthread_mutex_lock(&h->lock);
	l.next = h->leaving;
	h->leaving = &l;
	pthread_mutex_unlock(&h->lock);
	ret = hms__evict_range(h, s, e, NULL);
	if (!ret) {
		hms__test_hook_run(h, HMS_HOOK_UNMANAGE_EVICTED, s, len);
		hms__area_forget(h, s, e, HMS_EVENT_RELEASE);
		hms__uffd_remap_forget(h, s, e);
	}
	leaving_del(h, &l);
	return ret ? ret : hms__uffd_unregister(h, s, len);
}

/* ---- hms_protect ----------------------------------------------------------- */

HMS_API int hms_protect(struct hms *h, void *addr, size_t len, int prot)
{
	uintptr_t s = (uintptr_t)addr, e = s + len;
	struct hms_notify_range r = { s, e, HMS_EVENT_PROTECTION_VMA, HMS_NOTIFY_BLOCKABLE, NULL };
	int ret;

	if (prot & ~(PROT_READ | PROT_WRITE))
		return -EINVAL;
	if ((prot & PROT_WRITE) && !(prot & PROT_READ))
		return -EINVAL; /* write-only memory is not something devices map */
	ret = check_managed(h, addr, len, false);
	if (ret)
		return ret;
	hms__notify_start(h, &r);
	pthread_mutex_lock(&h->lock);
	if (mprotect(addr, len, prot)) {
		ret = -errno;
	} else {
		for (uintptr_t p = s; p < e; p += PAGE_SIZE) {
			struct hms_area *a = hms__area_find_locked(h, p);

			if (a)
				area_pte(a, p)->prot = (uint8_t)prot;
		}
	}
	pthread_mutex_unlock(&h->lock);
	hms__notify_end(h, &r);
	return ret;
}

/* ---- hms_prefault / hms_page_query ------------------------------------------ */

HMS_API long hms_prefault(struct hms *h, void *addr, size_t len, bool write)
{
	uintptr_t s = (uintptr_t)addr, e = s + len;
	long done = 0;
	unsigned tries = 0;
	int ret = check_managed(h, addr, len, false);

	if (ret)
		return ret;
	for (uintptr_t p = s; p < e; p += PAGE_SIZE) {
		struct hms_area *a;
		bool need;

		pthread_mutex_lock(&h->lock);
		a = hms__area_find_locked(h, p);
		if (!a) {
			pthread_mutex_unlock(&h->lock);
			return -ENOENT;
		}
		if (!(area_pte(a, p)->prot & PROT_READ)) {
			pthread_mutex_unlock(&h->lock);
			return -EFAULT;
		}
		need = area_pte(a, p)->loc != HMS_LOC_SYSTEM ||
		       (area_pte(a, p)->flags & (PTE_MIGRATING | PTE_BUSY)) ||
		       (write && (area_pte(a, p)->flags & PTE_WP));
		pthread_mutex_unlock(&h->lock);
		if (!need)
			continue;
		ret = hms__fault_page(h, p, write, false);
		/* -EFAULT: no area there any more (an mremap onto it unmaps
		 * the old one before it moves the new one in), or no read
		 * access: look again, and the checks above say which. */
		if (ret == -EFAULT && tries++ < 8) {
			p -= PAGE_SIZE;
			continue;
		}
		if (ret)
			return ret;
		tries = 0;
		done++;
	}
	HMS_STAT_ADD(h, prefaulted, (uint64_t)done);
	return done;
}

/* The target of each system page of out[0..npages) (the node the kernel
 * placed it on; 0 where none is present), asked QUERY_BATCH at a time. */
#define QUERY_BATCH 64

static void system_targets(struct hms *h, uintptr_t s, size_t npages, struct hms_page_info *out)
{
	void *pages[QUERY_BATCH];
	int status[QUERY_BATCH];
	size_t idx[QUERY_BATCH], n = 0;

	for (size_t i = 0; i <= npages; i++) {
		if (i < npages && out[i].location == HMS_LOC_SYSTEM) {
			pages[n] = (void *)(s + (i << PAGE_SHIFT));
			status[n] = -1;
			idx[n++] = i;
		}
		if (n == QUERY_BATCH || (i == npages && n)) {
			bool ok = !move_pages(0, n, pages, NULL, status, 0);
			int node = -1;
			hms_uid uid = 0;

			for (size_t k = 0; k < n; k++) {
				if (ok && status[k] >= 0 && status[k] != node) {
					node = status[k]; /* pages mostly share a node */
					uid = hms__topology_node_target(h, node);
				}
				out[idx[k]].target = ok && status[k] >= 0 ? uid : 0;
			}
			n = 0;
		}
	}
}

HMS_API long hms_page_query(struct hms *h, const void *addr, size_t npages,
			    struct hms_page_info *out)
{
	uintptr_t s = (uintptr_t)addr;
	int ret = hms__check(h);

	if (ret)
		return ret;
	if (!out || !npages || npages > (SIZE_MAX >> PAGE_SHIFT))
		return -EINVAL;
	ret = check_range(addr, npages << PAGE_SHIFT);
	if (ret)
		return ret;
	ret = hms__range_live(h, s, s + (npages << PAGE_SHIFT));
	if (ret)
		return ret;
	pthread_mutex_lock(&h->lock);
	if (!hms__range_managed_locked(h, s, s + (npages << PAGE_SHIFT))) {
		pthread_mutex_unlock(&h->lock);
		return -ENOENT;
	}
	for (size_t i = 0; i < npages; i++) {
		uintptr_t p = s + (i << PAGE_SHIFT);
		struct hms_area *a = hms__area_find_locked(h, p);
		const struct hms_pte *pte = area_pte_ro(a, p);
		struct hms_devmem *dm;

		out[i].location = pte->loc;
		out[i].prot = pte->prot;
		out[i].flags = (uint16_t)(((pte->flags & PTE_MIGRATING) ? HMS_PAGE_MIGRATING : 0) |
					  ((pte->flags & PTE_WP) ? HMS_PAGE_WRITE_PROTECTED : 0) |
					  ((pte->flags & PTE_EXCLUSIVE) ? HMS_PAGE_EXCLUSIVE : 0) |
					  ((pte->flags & PTE_REPLICA) ? HMS_PAGE_REPLICATED : 0) |
					  (hms__thrash_pinned_locked(h, p) ? HMS_PAGE_THRASHING : 0));
		out[i].target = 0;
		if (pte->loc == HMS_LOC_DEVICE) {
			dm = hms__devmem_of_pfn_locked(h, pte->pfn);
			out[i].target = dm ? dm->target : 0;
		}
	}
	pthread_mutex_unlock(&h->lock);
	/* System pages: ask the kernel which node holds each (no lock held). */
	system_targets(h, s, npages, out);
	return (long)npages;
}
