/* SPDX-License-Identifier: MIT */
/*
 * softdev_migrate.c - the softdev's side of migrate_vma: copy system pages
 * into its pool, copy its pages back, and serve CPU faults on its memory
 * (migrate_to_ram).  Written the way a hardware driver would: setup,
 * allocate and copy, pages, finalize, then update the device page table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "softdev.h"

#define BATCH_PAGES (HMS_MIGRATE_MAX_BYTES >> SD_SHIFT)

static int pfn_cmp(const void *a, const void *b)
{
	hms_pfn x = *(const hms_pfn *)a, y = *(const hms_pfn *)b;

	return x < y ? -1 : x > y;
}

/*
 * Step 2 of a migration: allocate device pages (one lock for the batch),
 * then copy.  The pages go to the batch in pool order, so that a run of
 * addresses gets a run of pool pages where the pool has one: the copy
 * back is then one call per run, not one per page (the pool hands out the
 * page freed last first, so a batch that came back is handed out again
 * in descending order).
 */
static void sd_alloc(struct hms_softdev *d, struct hms_migrate_vma *m, bool *nomem)
{
	hms_pfn got[BATCH_PAGES];
	unsigned long n = 0;

	pthread_mutex_lock(&d->lock);
	for (unsigned long i = 0; i < m->npages; i++) {
		hms_pfn pfn;

		if (!(m->src[i] & HMS_MIGRATE_PFN_MIGRATE))
			continue;
		pfn = sd_alloc_locked(d);
		if (!pfn) {
			*nomem = true;
			continue; /* this page stays where it is */
		}
		m->dst[i] = hms_migrate_pfn(pfn);
		got[n++] = pfn;
	}
	pthread_mutex_unlock(&d->lock);
	qsort(got, n, sizeof(got[0]), pfn_cmp);
	for (unsigned long i = 0, k = 0; i < m->npages; i++)
		if (m->dst[i] & HMS_MIGRATE_PFN_VALID)
			m->dst[i] = hms_migrate_pfn(got[k++]);
}

/* Give page i back: it will not move. */
static void sd_unalloc(struct hms_softdev *d, struct hms_migrate_vma *m, unsigned long i)
{
	hms_pfn pfn = hms_migrate_pfn_to_pfn(m->dst[i]);

	m->dst[i] = 0;
	pthread_mutex_lock(&d->lock);
	d->free[d->nfree++] = (uint32_t)(pfn - d->first);
	pthread_mutex_unlock(&d->lock);
}

/*
 * Copy the application's pages the way a DMA engine would
 * (hms_user_read), one call per run of pages in a row both in the
 * application and in the pool, so a page unmapped or made unreadable
 * behind hms' back fails its copy (and stays where it is) instead of
 * crashing the device's thread; the pages after it are copied on.
 */
static void sd_copy_in(struct hms_softdev *d, struct hms_migrate_vma *m)
{
	for (unsigned long i = 0; i < m->npages;) {
		const char *src = hms_migrate_src_ptr(m, i);
		char *dst;
		unsigned long j = i + 1, ok;
		ssize_t got;

		if (!(m->dst[i] & HMS_MIGRATE_PFN_VALID)) {
			i++;
			continue;
		}
		dst = sd_page(d, hms_migrate_pfn_to_pfn(m->dst[i]));
		if (!src) { /* never populated: zeros */
			memset(dst, 0, SD_PAGE);
			i++;
			continue;
		}
		while (j < m->npages && (m->dst[j] & HMS_MIGRATE_PFN_VALID) &&
		       hms_migrate_src_ptr(m, j) == src + ((j - i) << SD_SHIFT) &&
		       sd_page(d, hms_migrate_pfn_to_pfn(m->dst[j])) == dst + ((j - i) << SD_SHIFT))
			j++;
		got = hms__inject(HMS_INJ_DEV_COPY) ? -EFAULT
						    : hms_user_read(dst, src, (j - i) << SD_SHIFT);
		ok = got > 0 ? (unsigned long)got >> SD_SHIFT : 0;
		if (i + ok < j) {
			sd_unalloc(d, m, i + ok); /* this page failed: it stays */
			j = i + ok + 1;
		}
		i = j;
	}
}

/* Step 5: map what moved in the device page table, unless something
 * changed since @seq (then the pages are faulted again when used). */
static long sd_map_moved(struct hms_softdev *d, const struct hms_migrate_vma *m,
			 struct sd_seq seq)
{
	long moved = 0;
	bool valid;

	pthread_mutex_lock(&d->lock);
	valid = sd_seq_valid_locked(d, seq);
	for (unsigned long i = 0; i < m->npages; i++) {
		uint64_t vpn = (m->start >> SD_SHIFT) + i;

		if (!(m->src[i] & HMS_MIGRATE_PFN_MIGRATE))
			continue;
		if ((m->dst[i] & HMS_MIGRATE_PFN_DEVICE) && valid &&
		    (m->src[i] & HMS_MIGRATE_PFN_READ)) {
			hms_pfn pfn = hms_migrate_pfn_to_pfn(m->dst[i]);

			sd_pt_set(&d->pt, vpn, SD_V | SD_D | ((pfn - d->first) << 12) |
						     ((m->src[i] & HMS_MIGRATE_PFN_WRITE) ? SD_W : 0));
		} else {
			sd_pt_clear(&d->pt, vpn, vpn + 1);
		}
		moved++;
	}
	pthread_mutex_unlock(&d->lock);
	return moved;
}

long sd_migrate_batch_to_device(struct hms_softdev *d, uintptr_t start, uintptr_t end,
				bool *nomem, unsigned long *selected)
{
	uint64_t src[BATCH_PAGES], dst[BATCH_PAGES];
	struct hms_migrate_vma m = {
		.start = start, .end = end, .src = src, .dst = dst,
		.pgmap_owner = d, .flags = HMS_MIGRATE_SELECT_SYSTEM,
	};
	struct sd_seq seq = sd_seq_begin(d);
	int ret = hms_migrate_vma_setup(d->h, &m);

	if (ret)
		return ret;
	*selected += m.cpages;
	if (m.cpages) {
		sd_alloc(d, &m, nomem);
		sd_copy_in(d, &m);
	}
	hms_migrate_vma_pages(&m);
	hms_migrate_vma_finalize(&m);
	return sd_map_moved(d, &m, seq);
}

/* ---- device -> system ---------------------------------------------------------- */

long sd_migrate_batch_to_system(struct hms_softdev *d, uintptr_t start, uintptr_t end,
				bool nowait)
{
	uint64_t src[BATCH_PAGES], dst[BATCH_PAGES];
	struct hms_migrate_vma m = {
		.start = start, .end = end, .src = src, .dst = dst,
		.pgmap_owner = d, .flags = HMS_MIGRATE_SELECT_DEVICE_PRIVATE,
	};
	int ret = hms_migrate_vma_setup(d->h, &m);

	if (ret)
		return ret;
	/* Our own MIGRATE invalidation skipped us: unmap the pages from the
	 * device ourselves before their data is copied, so that a device
	 * write racing this migration either lands before the copy (under the
	 * lock) or faults and waits for the page at its new place. */
	pthread_mutex_lock(&d->lock);
	for (unsigned long i = 0; i < m.npages; i++)
		if (m.src[i] & HMS_MIGRATE_PFN_MIGRATE)
			sd_pt_clear(&d->pt, (start >> SD_SHIFT) + i, (start >> SD_SHIFT) + i + 1);
	d->own_seq++;
	pthread_mutex_unlock(&d->lock);
	/* Our pool is CPU memory: hms copies from it directly. */
	for (unsigned long i = 0; i < m.npages; i++)
		if (m.src[i] & HMS_MIGRATE_PFN_MIGRATE)
			hms_migrate_dst_system_from(&m, i, sd_page(d, hms_migrate_pfn_to_pfn(m.src[i])));
	/* The pages are ours to move now; kernels still running on them finish
	 * before the copy (see struct hms_softdev).  The fault handler must
	 * not wait here: a thread holding exec may be waiting for it. */
	if (nowait ? pthread_rwlock_trywrlock(&d->exec) : pthread_rwlock_wrlock(&d->exec)) {
		hms_migrate_vma_finalize(&m); /* nothing moved */
		return -EAGAIN;
	}
	ret = hms_migrate_vma_pages(&m);
	pthread_rwlock_unlock(&d->exec);
	hms_migrate_vma_finalize(&m);
	/* Pages that left are unmapped already; count them. */
	long moved = 0;

	for (unsigned long i = 0; i < m.npages; i++)
		moved += (m.src[i] & HMS_MIGRATE_PFN_MIGRATE) != 0;
	return ret && !moved ? ret : moved;
}

int sd_migrate_to_ram(struct hms_devmem *dm, const struct hms_devmem_fault *f)
{
	struct hms_softdev *d = hms_devmem_priv(dm);
	long n = sd_migrate_batch_to_system(d, f->start, f->end, f->nowait);

	if (n < 0)
		return (int)n;
	return n ? 0 : -EAGAIN;
}

/* hms placement (hms_migrate, a bound range's first touch): system pages
 * of [start, end) into the pool, in batches; pages that do not fit stay. */
long sd_migrate_to_device(struct hms_devmem *dm, uintptr_t start, uintptr_t end)
{
	struct hms_softdev *d = hms_devmem_priv(dm);
	unsigned long selected = 0;
	bool nomem = false;
	long moved = 0;

	for (uintptr_t s = start, e; s < end; s = e) {
		long n;

		e = (s + HMS_MIGRATE_MAX_BYTES) & ~(HMS_MIGRATE_MAX_BYTES - 1);
		if (e > end || e <= s)
			e = end;
		n = sd_migrate_batch_to_device(d, s, e, &nomem, &selected);
		if (n < 0)
			return moved ? moved : n;
		moved += n;
	}
	return moved;
}
