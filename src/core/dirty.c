/* SPDX-License-Identifier: MIT */
/*
 * dirty.c - hms_dirty_scan(): which pages were written since the last
 * scan.  Two mechanisms with the same answers:
 *
 *  - synchronous (every kernel): a scan write-protects the range for
 *    PTE_TRACK (wp.c); the first write to a page takes a write-protect
 *    fault that wp.c records as PTE_DIRTY.  A missing page of a tracked
 *    range is filled write protected on a read (uffd.c), dirty on a write.
 *  - asynchronous (HMS_OPEN_WP_ASYNC on Linux 6.7+): the kernel clears
 *    the write protection of a written page itself, and one PAGEMAP_SCAN
 *    ioctl reads the written pages and re-protects them at once.
 *
 * Either way, the table knows what the kernel cannot: pages never
 * tracked, pages in device memory, pages a migration or MADV_DONTNEED
 * took away (their PTE_TRACKED went).  Those read as written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "compat/uffd_compat.h"
#include "core/internal.h"

struct dirty_scan {
	uintptr_t start;
	uint64_t *bitmap;
	uint64_t *seen; /* sync: pages the protection pass looked at */
	bool rearm;
};

static void dirty_set(struct dirty_scan *ds, uintptr_t addr)
{
	size_t i = (addr - ds->start) >> PAGE_SHIFT;

	ds->bitmap[i / 64] |= 1ULL << (i % 64);
}

/* What the table alone says of a page, and the state re-arming leaves in
 * it; away: nothing can protect the page now.  Lock held. */
static void dirty_report_locked(struct dirty_scan *ds, struct hms_pte *pte, uintptr_t addr,
				bool away)
{
	if (away || !(pte->flags & PTE_TRACKED) || (pte->flags & PTE_DIRTY))
		dirty_set(ds, addr);
	if (!ds->rearm)
		return;
	pte->flags |= PTE_TRACKED;
	pte->flags &= (uint16_t)~PTE_DIRTY;
	if (away) /* nothing protects it: it reads as written until it is back */
		pte->flags |= PTE_DIRTY;
}

static void dirty_table_locked(struct dirty_scan *ds, struct hms_pte *pte, uintptr_t addr)
{
	dirty_report_locked(ds, pte, addr,
			    pte->loc == HMS_LOC_DEVICE ||
				    (pte->flags & (PTE_BUSY | PTE_MIGRATING | PTE_DEAD)));
}

/* The table pass over [start, end): fn for every managed page. */
static int dirty_walk(struct hms *h, struct dirty_scan *ds, uintptr_t end,
		      void (*fn)(struct dirty_scan *ds, struct hms_pte *pte, uintptr_t addr))
{
	int ret = 0;

	pthread_mutex_lock(&h->lock);
	for (uintptr_t p = ds->start; p < end; p += PAGE_SIZE) {
		struct hms_area *a = hms__area_find_locked(h, p);

		if (!a) {
			ret = -ENOENT; /* unmapped meanwhile */
			dirty_set(ds, p);
			continue;
		}
		fn(ds, area_pte(a, p), p);
	}
	pthread_mutex_unlock(&h->lock);
	return ret;
}

/* ---- synchronous: write-protect faults ------------------------------------------ */

static bool sync_select(struct hms *h, struct hms_pte *pte, uintptr_t addr, void *arg)
{
	(void)h;
	(void)addr;
	(void)arg;
	return pte->loc != HMS_LOC_DEVICE;
}

static void sync_mark(struct hms *h, struct hms_pte *pte, uintptr_t addr, bool prot, void *arg)
{
	struct dirty_scan *ds = arg;
	size_t i = (addr - ds->start) >> PAGE_SHIFT;

	(void)h;
	ds->seen[i / 64] |= 1ULL << (i % 64);
	/* Held busy by the protection pass: no write reached it since. */
	dirty_report_locked(ds, pte, addr, (pte->flags & PTE_DEAD) != 0);
	if (!prot)
		pte->flags |= PTE_DIRTY; /* could not protect it: unseen writes */
}

/*
 * A page the protection pass did not protect (busy, migrating or on a
 * device when it chose) may be back in system memory by now, writable:
 * one a migration brought home in between.  It reads as written at the
 * next scan too, unless an earlier protection for tracking still holds.
 */
static void sync_rest(struct dirty_scan *ds, struct hms_pte *pte, uintptr_t addr)
{
	size_t i = (addr - ds->start) >> PAGE_SHIFT;
	bool armed = pte->loc == HMS_LOC_SYSTEM &&
		     (pte->flags & (PTE_WP | PTE_TRACK)) == (PTE_WP | PTE_TRACK) &&
		     !(pte->flags & (PTE_BUSY | PTE_MIGRATING | PTE_DEAD));

	if (!((ds->seen[i / 64] >> (i % 64)) & 1))
		dirty_report_locked(ds, pte, addr, !armed);
}

static long dirty_sync(struct hms *h, struct dirty_scan *ds, uintptr_t end)
{
	struct hms__wp_op op = { .why = PTE_TRACK, .event = HMS_EVENT_SOFT_DIRTY,
				 .unpopulated = true, .select = sync_select, .mark = sync_mark,
				 .arg = ds };
	long n;

	if (!ds->rearm)
		return dirty_walk(h, ds, end, dirty_table_locked);
	n = hms__wp_protect_op(h, ds->start, end, &op);
	if (n < 0 && n != -ENOENT)
		return n;
	/* Pages the protection pass skipped (busy, migrating, on a device). */
	return dirty_walk(h, ds, end, sync_rest);
}

/* ---- asynchronous: PAGEMAP_SCAN -------------------------------------------------- */

static int dirty_pagemap(struct hms *h, struct dirty_scan *ds, uintptr_t end)
{
	struct page_region vec[256];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = PM_SCAN_CHECK_WPASYNC | (ds->rearm ? PM_SCAN_WP_MATCHING : 0),
		.start = ds->start,
		.end = end,
		.vec = (uintptr_t)vec,
		.vec_len = 256,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};

	int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int ret = 0;

	(void)h;
	if (pagemap < 0)
		return -errno;
	for (;;) {
		long n = ioctl(pagemap, PAGEMAP_SCAN, &arg);

		if (n < 0) {
			/* EPERM: a mapping without asynchronous write
			 * protection, i.e. not managed (unmapped and mapped
			 * again during the scan). */
			ret = errno == ENOTTY ? -EOPNOTSUPP : errno == EPERM ? -ENOENT : -errno;
			/* The failed call may have re-armed pages it had found
			 * written, and does not say which: all of the rest
			 * read as written at the next scan (dirty_restore). */
			for (uintptr_t p = arg.start; ds->rearm && p < end; p += PAGE_SIZE)
				dirty_set(ds, p);
			break;
		}
		for (long i = 0; i < n; i++)
			for (uintptr_t p = vec[i].start; p < vec[i].end; p += PAGE_SIZE)
				dirty_set(ds, p);
		if (arg.walk_end >= end || n < (long)arg.vec_len)
			break;
		arg.start = arg.walk_end;
	}
	close(pagemap);
	return ret;
}

static long dirty_async(struct hms *h, struct dirty_scan *ds, uintptr_t end)
{
	struct hms_notify_range nr = { ds->start, end, HMS_EVENT_SOFT_DIRTY, HMS_NOTIFY_BLOCKABLE,
				       NULL };
	bool notified = false;
	int ret = dirty_walk(h, ds, end, dirty_table_locked);

	if (ret)
		return ret;
	/* Devices lose write access first: their writes are seen from now. */
	if (ds->rearm)
		notified = hms__notify_start(h, &nr) == 0;
	ret = dirty_pagemap(h, ds, end);
	if (notified)
		hms__notify_end(h, &nr);
	return ret;
}

/* ---- the call ------------------------------------------------------------------------ */

/* A scan that fails after re-arming consumed what it found: the pages it
 * would have reported read as written at the next scan instead. */
static void dirty_restore(struct hms *h, const struct dirty_scan *ds, size_t n)
{
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < n; i++) {
		uintptr_t p = ds->start + (i << PAGE_SHIFT);
		struct hms_area *a;

		if (((ds->bitmap[i / 64] >> (i % 64)) & 1) && (a = hms__area_find_locked(h, p)))
			area_pte(a, p)->flags |= PTE_DIRTY;
	}
	pthread_mutex_unlock(&h->lock);
}

HMS_API long hms_dirty_scan(struct hms *h, void *addr, size_t len, uint64_t *bitmap,
			    unsigned flags)
{
	size_t n = len >> PAGE_SHIFT, words = (n + 63) / 64;
	struct dirty_scan ds = { (uintptr_t)addr, NULL, NULL, !(flags & HMS_DIRTY_NO_REARM) };
	long ret = hms__check(h), count = 0;

	if (ret)
		return ret;
	if (!bitmap || (flags & ~(HMS_DIRTY_NO_REARM)))
		return -EINVAL;
	ret = hms__placement_range(h, addr, len);
	if (ret)
		return ret;
	ds.bitmap = calloc(2 * words, sizeof(uint64_t));
	if (!ds.bitmap)
		return -ENOMEM;
	ds.seen = ds.bitmap + words;
	if (hms__wp_async(h))
		ret = dirty_async(h, &ds, ds.start + len);
	else
		ret = dirty_sync(h, &ds, ds.start + len);
	if (ret >= 0) {
		memcpy(bitmap, ds.bitmap, words * sizeof(uint64_t));
		for (size_t i = 0; i < words; i++)
			count += __builtin_popcountll(ds.bitmap[i]);
	} else if (ds.rearm) {
		dirty_restore(h, &ds, n);
	}
	free(ds.bitmap);
	return ret < 0 ? ret : count;
}
