/* SPDX-License-Identifier: MIT */
/*
 * range.c - hms_range_fault(): snapshot a range of the address space for a
 * device and fault in what it requests, in the default or a driver-defined
 * encoding.  Managed pages are read from the state table; other memory
 * from the kernel's view (/proc/self/maps and /proc/self/pagemap).
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compat/uffd_compat.h"
#include "core/internal.h"

/* ---- encodings ----------------------------------------------------------- */

struct req {
	bool fault, write;
};

static struct req decode_req(const struct hms_range *r, uint64_t in)
{
	uint64_t v = r->default_flags | (in & r->pfn_flags_mask);
	struct req q;

	if (r->flags) {
		q.fault = v & r->flags[HMS_PFN_FLAG_VALID];
		q.write = v & r->flags[HMS_PFN_FLAG_WRITE];
	} else {
		q.fault = v & HMS_PFN_REQ_FAULT;
		q.write = v & HMS_PFN_REQ_WRITE;
	}
	if (q.write)
		q.fault = true;
	return q;
}

/* What one page is, before encoding. */
struct page_out {
	enum { OUT_NONE, OUT_ERROR, OUT_VALID, OUT_SPECIAL } kind;
	bool write, device, zero, replica;
	uint64_t pfn;
	unsigned order;
};

static uint64_t encode(const struct hms_range *r, const struct page_out *o)
{
	if (r->flags) {
		switch (o->kind) {
		case OUT_NONE:
			return r->values[HMS_PFN_VALUE_NONE];
		case OUT_ERROR:
			return r->values[HMS_PFN_VALUE_ERROR];
		case OUT_SPECIAL:
			return r->values[HMS_PFN_VALUE_SPECIAL];
		case OUT_VALID:
			if (o->zero)
				return r->values[HMS_PFN_VALUE_SPECIAL];
			return (o->pfn << r->pfn_shift) | r->flags[HMS_PFN_FLAG_VALID] |
			       (o->write ? r->flags[HMS_PFN_FLAG_WRITE] : 0) |
			       (o->device ? r->flags[HMS_PFN_FLAG_DEVICE_PRIVATE] : 0);
		}
		return 0;
	}
	switch (o->kind) {
	case OUT_NONE:
		return 0;
	case OUT_ERROR:
		return HMS_PFN_ERROR;
	case OUT_SPECIAL:
		return HMS_PFN_VALID | HMS_PFN_SPECIAL | (o->write ? HMS_PFN_WRITE : 0) |
		       (o->pfn & HMS_PFN_PFN_MASK);
	case OUT_VALID:
		return HMS_PFN_VALID | (o->write ? HMS_PFN_WRITE : 0) |
		       (o->device ? HMS_PFN_DEVICE_PRIVATE : 0) | (o->zero ? HMS_PFN_ZERO : 0) |
		       (o->replica ? HMS_PFN_REPLICA : 0) |
		       ((uint64_t)o->order << HMS_PFN_ORDER_SHIFT) | (o->pfn & HMS_PFN_PFN_MASK);
	}
	return 0;
}

/*
 * A driver encoding shifts each valid page's pfn left by pfn_shift: a pfn
 * wider than the 64 - pfn_shift bits above the shift would lose its high
 * bits and name another page (another device's, say).  Such a call fails
 * with -ERANGE.  The largest pfn a call may report is known before it
 * writes anything: the page number of the range's last page (system
 * pages report their address) or, with dev_private_owner, the last pfn of
 * that owner's device memory; so the answer does not depend on where the
 * pages happen to be.  Device memory registered while the call runs gets
 * pfns above those (they only grow): pfn_fits() checks each page as it is
 * encoded.
 */
static bool pfn_fits(const struct hms_range *r, uint64_t pfn)
{
	return !r->flags || pfn <= UINT64_MAX >> r->pfn_shift;
}

static bool shift_fits_locked(struct hms *h, const struct hms_range *r)
{
	uint64_t max = (r->end - 1) >> PAGE_SHIFT;

	if (r->dev_private_owner)
		for (struct hms_devmem *dm = h->devmems; dm; dm = dm->next)
			if (dm->desc.owner == r->dev_private_owner &&
			    dm->first + dm->npages - 1 > max)
				max = dm->first + dm->npages - 1;
	return pfn_fits(r, max);
}

/* ---- the kernel's view: pagemap and maps --------------------------------- */

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_EXCLUSIVE (1ULL << 56)

struct kview {
	int pagemap;
	FILE *maps;
	uintptr_t vma_start, vma_end; /* cached VMA */
	int vma_prot;                 /* -1: not mapped */
	/* PMD-mapped regions found by PAGEMAP_SCAN, for [huge_from, huge_to) */
	struct page_region huge[32];
	unsigned nhuge, hcur; /* hcur: where the last lookup ended (addresses grow) */
	uintptr_t huge_from, huge_to;
	bool no_scan; /* the kernel has no PAGEMAP_SCAN (before 6.7) */
	int kpageflags; /* its fallback, opened on first use (0: not yet) */
	uintptr_t placed; /* policy placement was tried for this page */
	uintptr_t replica; /* addr + 1: this page must be protected for replicas */
	uintptr_t no_replica; /* addr + 1: protecting it failed, use it in place */
};

static void kview_close(struct kview *k)
{
	if (k->pagemap >= 0)
		close(k->pagemap);
	if (k->kpageflags > 0)
		close(k->kpageflags);
	if (k->maps)
		fclose(k->maps);
}

static uint64_t kview_pagemap(struct kview *k, uintptr_t addr)
{
	uint64_t e = 0;

	if (k->pagemap < 0)
		k->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (k->pagemap < 0 ||
	    pread(k->pagemap, &e, sizeof(e), (off_t)((addr >> PAGE_SHIFT) * 8)) != sizeof(e))
		return 0;
	return e;
}

/*
 * Is addr mapped by a huge page?  Asks PAGEMAP_SCAN for the huge regions of
 * [addr, end) and caches the answer; without PAGEMAP_SCAN every page reads
 * as 4 KiB (order 0).
 */
#define PM_PFN_MASK ((1ULL << 55) - 1)
#define KPF_THP 22

/* Before PAGEMAP_SCAN (Linux 6.7): the page's frame in /proc/kpageflags
 * (frames are visible to root only; without them every page reads 4 KiB). */
static bool kview_huge_kpageflags(struct kview *k, uintptr_t addr)
{
	uint64_t pm = kview_pagemap(k, addr), flags = 0;
	int fd;

	if (!(pm & PM_PRESENT) || !(pm & PM_PFN_MASK))
		return false;
	if (!k->kpageflags)
		k->kpageflags = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	fd = k->kpageflags;
	if (fd < 0)
		return false;
	if (pread(fd, &flags, sizeof(flags), (off_t)((pm & PM_PFN_MASK) * 8)) != sizeof(flags))
		flags = 0;
	return flags & (1ULL << KPF_THP);
}

static bool kview_huge(struct kview *k, uintptr_t addr, uintptr_t end)
{
	if (k->no_scan)
		return kview_huge_kpageflags(k, addr);
	if (addr < k->huge_from || addr >= k->huge_to) {
		uintptr_t walk_end = 0;
		long n;

		if (k->pagemap < 0)
			k->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		n = k->pagemap < 0 ? -1
				   : hms__pagemap_huge(k->pagemap, addr, end, k->huge,
						       sizeof(k->huge) / sizeof(k->huge[0]),
						       &walk_end);
		if (n < 0) {
			k->no_scan = true;
			return kview_huge_kpageflags(k, addr);
		}
		k->nhuge = (unsigned)n;
		k->hcur = 0;
		k->huge_from = addr;
		k->huge_to = walk_end > addr ? walk_end : end;
	}
	while (k->hcur < k->nhuge && k->huge[k->hcur].end <= addr)
		k->hcur++;
	return k->hcur < k->nhuge && addr >= k->huge[k->hcur].start;
}

/* Protection of the mapping holding addr, or -1 if nothing is mapped. */
static int kview_prot(struct kview *k, uintptr_t addr)
{
	char line[512];

	if (addr >= k->vma_start && addr < k->vma_end)
		return k->vma_prot;
	if (!k->maps)
		k->maps = fopen("/proc/self/maps", "re");
	if (!k->maps)
		return -1;
	rewind(k->maps);
	k->vma_prot = -1;
	k->vma_start = addr;
	k->vma_end = addr + PAGE_SIZE;
	while (fgets(line, sizeof(line), k->maps)) {
		unsigned long s, e;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) != 3)
			continue;
		if (addr >= s && addr < e) {
			k->vma_start = s;
			k->vma_end = e;
			k->vma_prot = (perms[0] == 'r' ? PROT_READ : 0) |
				      (perms[1] == 'w' ? PROT_WRITE : 0);
			break;
		}
	}
	return k->vma_prot;
}

/* A page outside managed areas: report it, fault it through the kernel. */
static int unmanaged_page(struct kview *k, uintptr_t addr, struct req q, struct page_out *o)
{
	int prot = kview_prot(k, addr);
	uint64_t pm;

	if (prot < 0 || !(prot & PROT_READ)) {
		o->kind = OUT_ERROR;
		return q.fault ? -EFAULT : 0;
	}
	if (q.write && !(prot & PROT_WRITE)) {
		o->kind = OUT_ERROR;
		return -EPERM;
	}
	pm = kview_pagemap(k, addr);
	if (q.fault && (!(pm & PM_PRESENT) || (q.write && !(pm & PM_EXCLUSIVE)))) {
		if (madvise((void *)addr, PAGE_SIZE,
			    q.write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ))
			return errno == ENOMEM ? -EFAULT : -errno;
		pm = kview_pagemap(k, addr);
	}
	if (!(pm & PM_PRESENT)) {
		o->kind = OUT_NONE;
		return 0;
	}
	o->kind = OUT_SPECIAL;
	o->write = prot & PROT_WRITE;
	o->pfn = addr >> PAGE_SHIFT;
	return 0;
}

/* ---- managed pages ----------------------------------------------------------- */

/*
 * One managed page, lock held.  Returns 0 when *o is final, 1 when the
 * page must be faulted (lock dropped by the caller), or -errno.
 */
static int managed_page_locked(struct hms *h, const struct hms_range *r, struct hms_area *a,
			       uintptr_t addr, struct req q, struct kview *k, struct page_out *o)
{
	const struct hms_pte *pte = area_pte_ro(a, addr);
	struct hms_devmem *dm;

	memset(o, 0, sizeof(*o));
	if (!(pte->prot & PROT_READ)) {
		o->kind = OUT_ERROR;
		return q.fault ? -EFAULT : 0;
	}
	if (q.write && !(pte->prot & PROT_WRITE)) {
		o->kind = OUT_ERROR;
		return -EPERM;
	}
	if (pte->flags & (PTE_BUSY | PTE_MIGRATING))
		return q.fault ? 1 : 0; /* in flux: not present for a snapshot */
	switch (pte->loc) {
	case HMS_LOC_DEVICE:
		dm = hms__devmem_of_pfn_locked(h, pte->pfn);
		if (dm && r->dev_private_owner && dm->desc.owner == r->dev_private_owner) {
			o->kind = OUT_VALID;
			o->device = true;
			o->write = pte->prot & PROT_WRITE;
			o->pfn = pte->pfn;
			return 0;
		}
		return q.fault ? 1 : 0;
	case HMS_LOC_SYSTEM:
		/* A device reading a read-mostly page: protect it, then hand it
		 * out as a replica (replica.c), rather than moving it. */
		if (q.fault && !q.write && k->no_replica != addr + 1 &&
		    hms__replica_wanted_locked(h, pte, addr, r->dev_private_owner)) {
			k->replica = addr + 1;
			return 1;
		}
		/* Bound to this device's memory: hms__policy_place_device(). */
		if (q.fault && k->placed != addr + 1 && !(pte->flags & PTE_EXCLUSIVE) &&
		    !(!q.write && (pte->flags & PTE_REPLICA)) &&
		    hms__policy_wants_device_locked(h, addr, r->dev_private_owner) &&
		    !hms__advice_accessed_by_locked(h, addr, r->dev_private_owner))
			return 1;
		if (q.write && (pte->flags & PTE_WP))
			return 1;
		o->kind = OUT_VALID;
		o->write = (pte->prot & PROT_WRITE) && !(pte->flags & PTE_WP);
		if (q.fault && !q.write && (pte->flags & PTE_REPLICA) && r->dev_private_owner) {
			/* (a write to the pte: the chunk's summary goes too) */
			hms__replica_grant_locked(h, area_pte(a, addr), r->dev_private_owner);
			o->replica = true;
		}
		o->pfn = addr >> PAGE_SHIFT;
		if (a->huge && kview_huge(k, addr, r->end < a->end ? r->end : a->end))
			o->order = 9;
		if (pte->flags & PTE_ZERO) {
			uint64_t pm = kview_pagemap(k, addr);

			if ((pm & PM_PRESENT) && !(pm & PM_EXCLUSIVE)) {
				if (q.write)
					return 1; /* write to the zero page: COW it */
				o->zero = true;
				o->write = false;
			}
		}
		return 0;
	default:
		return q.fault ? 1 : 0;
	}
}

/*
 * Snapshot runs.  After a page with no flags, system (valid) or not
 * present (NONE) or unreadable (ERROR), the pages that follow with the same
 * loc and prot encode alike but for the pfn, which grows by one a page for
 * a valid page and not at all for the others: they are filled in one pass.
 * A whole chunk whose summary (struct hms_area.sum) says it is uniform is
 * filled without reading its ptes; a chunk read page by page that turns
 * out uniform gets its summary, so the next snapshot of an unchanged chunk
 * reads no pte at all.
 */

#define CHUNK_BYTES (AREA_CHUNK_PAGES << PAGE_SHIFT)

/* Does the chunk that starts at addr hold only pages in state want? */
static bool chunk_is(const struct hms_area *a, uintptr_t addr, uint32_t want)
{
	return a->sum && a->sum[(addr - a->start) >> (PAGE_SHIFT + AREA_CHUNK_SHIFT)] == want;
}

/* out[k] = e + (k + 1) * step for k < n; returns the last value. */
static uint64_t fill_run(uint64_t *out, size_t n, uint64_t e, uint64_t step)
{
	for (size_t k = 0; k < n; k++)
		out[k] = e + (k + 1) * step;
	return e + n * step;
}

/*
 * Where a run from addr may go in a huge area: within the huge region
 * addr is in, or up to the next one (the order of a valid entry changes
 * there).  0 if unknown.
 */
static uintptr_t huge_limit(const struct kview *k, const struct page_out *o, uintptr_t lim)
{
	uintptr_t l;

	if (k->no_scan)
		return 0;
	if (o->order)
		l = k->huge[k->hcur].end;
	else
		l = k->hcur < k->nhuge ? k->huge[k->hcur].start : k->huge_to;
	return l < lim ? l : lim;
}

/* Fills the run that follows addr (whose entry is written); returns the
 * last page filled. */
static uintptr_t snapshot_run_locked(const struct hms_range *r, struct hms_area *a,
				     uintptr_t addr, uintptr_t stop, struct req q, struct kview *k,
				     const struct page_out *o)
{
	const struct hms_pte *first = area_pte_ro(a, addr);
	size_t i = (addr - r->start) >> PAGE_SHIFT, pi = (addr - a->start) >> PAGE_SHIFT;
	uint64_t e = r->pfns[i], step = o->kind == OUT_VALID ? 1 : 0;
	uint32_t want = AREA_SUM_UNIFORM | (uint32_t)first->loc << 8 | first->prot;
	uintptr_t lim = stop, p, cstart;

	if (q.fault || r->pfn_flags_mask || (r->flags && step) || o->device || o->zero ||
	    first->flags || (first->loc != HMS_LOC_SYSTEM && first->loc != HMS_LOC_NONE))
		return addr;
	if (a->huge && step) {
		lim = huge_limit(k, o, lim);
		if (lim <= addr)
			return addr;
	}
	/* cstart: the start of the chunk being read page by page, if every
	 * page of it so far belongs to the run (then it is summarised). */
	cstart = (pi & (AREA_CHUNK_PAGES - 1)) ? 0 : addr;
	p = addr + PAGE_SIZE;
	if (cstart && addr + CHUNK_BYTES <= lim && chunk_is(a, addr, want)) {
		e = fill_run(r->pfns + i + 1, AREA_CHUNK_PAGES - 1, e, step);
		i += AREA_CHUNK_PAGES - 1;
		p = addr + CHUNK_BYTES;
	}
	while (p < lim) {
		const struct hms_pte *pte;

		if (!(((p - a->start) >> PAGE_SHIFT) & (AREA_CHUNK_PAGES - 1))) {
			if (p + CHUNK_BYTES <= lim && chunk_is(a, p, want)) {
				e = fill_run(r->pfns + i + 1, AREA_CHUNK_PAGES, e, step);
				i += AREA_CHUNK_PAGES;
				p += CHUNK_BYTES;
				continue;
			}
			cstart = p;
		}
		pte = area_pte_ro(a, p);
		if (pte->loc != first->loc || pte->flags || pte->prot != first->prot || pte->pfn)
			break;
		r->pfns[++i] = e += step; /* the pfn is the low field: the next page */
		p += PAGE_SIZE;
		if (cstart && p - cstart == CHUNK_BYTES && a->sum)
			a->sum[(cstart - a->start) >> (PAGE_SHIFT + AREA_CHUNK_SHIFT)] = want;
	}
	return p - PAGE_SIZE;
}

/* How far the pages from addr ask for what addr's asks (a fault; a write
 * if it does), within r and one migration batch: a device's touch places
 * them together (hms__policy_place_device). */
static uintptr_t place_limit(const struct hms_range *r, uintptr_t addr, struct req q)
{
	uintptr_t lim = addr + HMS_MIGRATE_MAX_BYTES, p;

	if (lim > r->end || lim < addr)
		lim = r->end;
	for (p = addr + PAGE_SIZE; p < lim; p += PAGE_SIZE) {
		struct req o = decode_req(r, r->pfns[(p - r->start) >> PAGE_SHIFT]);

		if (!o.fault || o.write != q.write)
			break;
	}
	return p;
}

#define FAULT_IN_TRIES 1000

/*
 * Make the page present (and writable): the device-side fault.  The write
 * is finished by MADV_POPULATE_WRITE: on the zero page the kernel puts a
 * private page (present pages do not reach userfaultfd).  In user-mode-only
 * mode that kernel access cannot fault into hms, so protection or a
 * discard that another thread set up after our fault (a migration's
 * write protection, another device's exclusive access) fails it with
 * EFAULT: the fault is resolved again (it waits for the migration, takes
 * the other device's access), FAULT_IN_TRIES times at most.  (hms stress
 * as uid 65534: dev-exclusive -EFAULT in 3 of 5 runs of 8 s.)  Where the
 * table finds nothing to resolve, the kernel kept a protection hms no
 * longer records, and it is lifted (hms__wp_lift_stale).
 */
static int fault_in(struct hms *h, uintptr_t addr, bool write)
{
	for (unsigned tries = 0;; tries++) {
		int ret = hms__fault_page(h, addr, write, false);

		if (ret)
			return ret;
		if (write)
			hms__test_hook_run(h, HMS_HOOK_FAULT_IN, addr, PAGE_SIZE);
		if (!write || !madvise((void *)addr, PAGE_SIZE, MADV_POPULATE_WRITE) ||
		    errno != EFAULT)
			return 0;
		if (h->mode != HMS_MODE_USER_ONLY || tries == FAULT_IN_TRIES)
			return -EFAULT;
		if (!hms__wp_lift_stale(h, addr))
			sched_yield();
	}
}

HMS_API int hms_range_fault(struct hms *h, struct hms_range *r)
{
	struct kview k = { .pagemap = -1, .vma_prot = -1 };
	unsigned long rounds = 0;
	int ret = hms__check(h);

	if (ret)
		return ret;
	if (!r || !r->pfns || r->start >= r->end || !hms__aligned(r->start) ||
	    !hms__aligned(r->end) || (r->flags && (!r->values || r->pfn_shift > 63)))
		return -EINVAL;
	if (hms__interval_check(r->interval, r->notifier_seq))
		return -EBUSY;
	pthread_mutex_lock(&h->lock);
	if (!shift_fits_locked(h, r)) {
		pthread_mutex_unlock(&h->lock);
		return -ERANGE;
	}
	ret = hms__range_managed_locked(h, r->start, r->end);
	pthread_mutex_unlock(&h->lock);
	if (!ret)
		hms__uffd_sync(h); /* an mremap that just returned, say */
	for (uintptr_t addr = r->start; addr < r->end;) {
		struct hms_area *a;
		struct page_out o;
		struct req q;
		uintptr_t stop;

		pthread_mutex_lock(&h->lock);
		a = hms__area_find_locked(h, addr);
		if (!a) {
			pthread_mutex_unlock(&h->lock);
			q = decode_req(r, r->pfns[(addr - r->start) >> PAGE_SHIFT]);
			memset(&o, 0, sizeof(o));
			ret = unmanaged_page(&k, addr, q, &o);
			if (ret)
				goto out;
			r->pfns[(addr - r->start) >> PAGE_SHIFT] = encode(r, &o);
			addr += PAGE_SIZE;
			continue;
		}
		/* The fast path: one lock for every page of the area that needs
		 * nothing done. */
		stop = r->end < a->end ? r->end : a->end;
		for (ret = 0; addr < stop; addr += PAGE_SIZE) {
			size_t i = (addr - r->start) >> PAGE_SHIFT;

			q = decode_req(r, r->pfns[i]);
			ret = managed_page_locked(h, r, a, addr, q, &k, &o);
			if (!ret && o.kind == OUT_VALID && !pfn_fits(r, o.pfn))
				ret = -ERANGE; /* device memory added meanwhile */
			if (ret)
				break;
			r->pfns[i] = encode(r, &o);
			addr = snapshot_run_locked(r, a, addr, stop, q, &k, &o);
		}
		if (ret == 1 && (area_pte_ro(a, addr)->flags & (PTE_BUSY | PTE_MIGRATING))) {
			hms__pte_wait_locked(h, addr);
			pthread_mutex_unlock(&h->lock);
			continue;
		}
		pthread_mutex_unlock(&h->lock);
		if (ret < 0)
			goto out;
		if (ret == 1) {
			/* Fault this page, then look at it again. */
			if (++rounds > 64 * (1 + ((r->end - r->start) >> PAGE_SHIFT))) {
				ret = -EBUSY;
				goto out;
			}
			if (k.replica == addr + 1) {
				long n;

				k.replica = 0;
				n = hms__replica_arm(h, addr, r->end);
				if (n < 0)
					k.no_replica = addr + 1; /* unmapped meanwhile, say */
				continue;
			}
			/* A device touching a range bound to its memory: place the
			 * page there instead of in system memory. */
			ret = 0;
			if (r->dev_private_owner && !hms__in_handler(h) && k.placed != addr + 1) {
				/* Once per page: if the policy cannot place it, the
				 * page is used where it is. */
				k.placed = addr + 1;
				ret = hms__policy_place_device(h, addr, r->dev_private_owner,
							       place_limit(r, addr, q), q.write);
			}
			if (ret == 1)
				continue;
			if (ret == 0)
				ret = fault_in(h, addr, q.write);
			if (ret == -EAGAIN) {
				/* The page is busy (a migration holds it, an
				 * address-space change is unread): look again,
				 * within the rounds above (then -EBUSY). */
				sched_yield();
				continue;
			}
			if (ret)
				goto out;
		}
	}
	ret = 0;
out:
	kview_close(&k);
	if (ret)
		return ret;
	if (hms__interval_check(r->interval, r->notifier_seq))
		return -EBUSY;
	return 0;
}

/* ---- exclusive access ---------------------------------------------------------- */

static bool excl_select(struct hms *h, struct hms_pte *pte, uintptr_t addr, void *arg)
{
	(void)h;
	(void)addr;
	(void)arg;
	return pte->loc == HMS_LOC_SYSTEM;
}

static void excl_mark(struct hms *h, struct hms_pte *pte, uintptr_t addr, bool prot, void *arg)
{
	(void)h;
	(void)addr;
	if (prot)
		pte->excl_owner = arg;
}

HMS_API long hms_make_exclusive(struct hms *h, uintptr_t start, uintptr_t end, void *owner)
{
	struct hms__wp_op op = { .why = PTE_EXCLUSIVE, .event = HMS_EVENT_EXCLUSIVE,
				 .owner = owner, .select = excl_select, .mark = excl_mark,
				 .arg = owner };
	int ret = hms__check(h);

	if (ret)
		return ret;
	if (start >= end || !hms__aligned(start) || !hms__aligned(end))
		return -EINVAL;
	if (hms__wp_async(h))
		return -EOPNOTSUPP; /* CPU writes would not give it back */
	pthread_mutex_lock(&h->lock);
	ret = hms__range_managed_locked(h, start, end) ? 0 : -ENOENT;
	pthread_mutex_unlock(&h->lock);
	if (ret)
		return ret;
	for (uintptr_t p = start; p < end; p += PAGE_SIZE) {
		ret = fault_in(h, p, true);
		if (ret)
			return ret;
	}
	hms__test_hook_run(h, HMS_HOOK_EXCLUSIVE, start, end - start);
	return hms__wp_protect_op(h, start, end, &op);
}
