/* SPDX-License-Identifier: MIT */
/*
 * driver.c - a device driver on hms_driver.h in one file: the pattern of
 * the kernel's HMM drivers (a device page table kept coherent by an
 * interval notifier and filled by range faults; device memory that pages
 * migrate into and fault back from), for a pretend device whose "memory"
 * is an array of this program.
 *
 *   cc driver.c $(pkg-config --cflags --libs hms)
 *
 * The device accesses memory only through its page table, under its lock:
 * an invalidation takes the same lock, so when it returns no device access
 * uses the old translation any more.  A missing or read-only entry is a
 * device fault: hms_range_fault() inside a read_begin / read_retry loop.
 * The locking rule of hms_driver.h holds throughout: no hms call that
 * raises invalidations runs under dev.lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <hms_driver.h>

#define PAGE HMS_PAGE_SIZE
#define DEV_PAGES 64 /* the device's memory */
#define BUF_PAGES 32 /* the buffer it shares with the CPU */
#define INTS (PAGE / sizeof(int))

struct dev {
	struct hms *h;
	struct hms_interval *iv; /* watches the buffer */
	struct hms_devmem *dm;
	uintptr_t base;          /* the buffer */
	char (*mem)[PAGE];       /* device memory: DEV_PAGES pages */

	/* lock guards pt[] and used[]; the invalidate callback takes it. */
	pthread_mutex_t lock;
	uint64_t pt[BUF_PAGES];  /* hms_range_fault() entries; 0: not mapped */
	bool used[DEV_PAGES];
	unsigned long faults, invalidations;
};

/* ---- the device page table ------------------------------------------------------ */

static bool invalidate(struct hms_interval *iv, const struct hms_notify_range *r,
		       unsigned long cur_seq)
{
	struct dev *d = hms_interval_priv(iv);
	uintptr_t s = r->start > d->base ? r->start : d->base;
	uintptr_t e = r->end < d->base + BUF_PAGES * PAGE ? r->end : d->base + BUF_PAGES * PAGE;

	/* From hms' fault handler thread we must not wait: say so, and hms
	 * tries the whole change again a little later. */
	if (r->flags & HMS_NOTIFY_BLOCKABLE)
		pthread_mutex_lock(&d->lock);
	else if (pthread_mutex_trylock(&d->lock))
		return false;
	hms_interval_set_seq(iv, cur_seq);
	for (uintptr_t a = s; a < e; a += PAGE)
		d->pt[(a - d->base) / PAGE] = 0;
	d->invalidations++;
	pthread_mutex_unlock(&d->lock);
	return true;
}

static const struct hms_interval_ops interval_ops = { .invalidate = invalidate };

/* The device faults on addr: ask hms for the page, then install it unless
 * an invalidation came in between. */
static int dev_fault(struct dev *d, uintptr_t addr, bool write)
{
	uint64_t pfn;
	struct hms_range r = {
		.interval = d->iv, .start = addr, .end = addr + PAGE, .pfns = &pfn,
		.default_flags = HMS_PFN_REQ_FAULT | (write ? HMS_PFN_REQ_WRITE : 0),
		.dev_private_owner = d, /* our own device pages stay where they are */
	};

	for (;;) {
		int ret;

		r.notifier_seq = hms_interval_read_begin(d->iv);
		ret = hms_range_fault(d->h, &r);
		if (ret == -EBUSY)
			continue; /* invalidated while faulting: again */
		if (ret)
			return ret;
		pthread_mutex_lock(&d->lock);
		if (!hms_interval_read_retry(d->iv, r.notifier_seq)) {
			d->pt[(addr - d->base) / PAGE] = pfn;
			d->faults++;
			pthread_mutex_unlock(&d->lock);
			return 0;
		}
		pthread_mutex_unlock(&d->lock);
	}
}

/* One device access of a page: copy it out (write false) or in. */
static int dev_access(struct dev *d, uintptr_t addr, void *buf, bool write)
{
	for (;;) {
		uint64_t e;
		ssize_t done = PAGE;
		int ret;

		pthread_mutex_lock(&d->lock);
		e = d->pt[(addr - d->base) / PAGE];
		if ((e & HMS_PFN_VALID) && (!write || (e & HMS_PFN_WRITE))) {
			if (e & HMS_PFN_DEVICE_PRIVATE) {
				char *page = d->mem[(e & HMS_PFN_PFN_MASK) - hms_devmem_pfn_first(d->dm)];

				memcpy(write ? page : buf, write ? buf : page, PAGE);
			} else {
				/* A system page, reached in place; the checked copy
				 * fails instead of crashing should the program unmap
				 * it before hms has told us. */
				void *page = (void *)((e & HMS_PFN_PFN_MASK) * PAGE);

				done = write ? hms_user_write(page, buf, PAGE)
					     : hms_user_read(buf, page, PAGE);
			}
			pthread_mutex_unlock(&d->lock);
			return done == (ssize_t)PAGE ? 0 : -EFAULT;
		}
		pthread_mutex_unlock(&d->lock);
		ret = dev_fault(d, addr, write);
		if (ret)
			return ret;
	}
}

/* ---- device memory ------------------------------------------------------------------- */

static long alloc_page(struct dev *d)
{
	long idx = -1;

	pthread_mutex_lock(&d->lock);
	for (long i = 0; i < DEV_PAGES && idx < 0; i++)
		if (!d->used[i])
			d->used[idx = i] = true;
	pthread_mutex_unlock(&d->lock);
	return idx;
}

static void page_free(struct hms_devmem *dm, hms_pfn pfn)
{
	struct dev *d = hms_devmem_priv(dm);

	pthread_mutex_lock(&d->lock);
	d->used[pfn - hms_devmem_pfn_first(dm)] = false;
	pthread_mutex_unlock(&d->lock);
}

/* System pages of [start, end) into device memory (hms_migrate() to our
 * target calls it), one migration per HMS_MIGRATE_MAX_BYTES. */
static long migrate_to_device(struct hms_devmem *dm, uintptr_t start, uintptr_t end)
{
	struct dev *d = hms_devmem_priv(dm);
	uint64_t src[HMS_MIGRATE_MAX_BYTES / PAGE], dst[HMS_MIGRATE_MAX_BYTES / PAGE];
	long moved = 0;

	for (uintptr_t s = start; s < end; s += HMS_MIGRATE_MAX_BYTES) {
		struct hms_migrate_vma m = {
			.start = s, .end = end - s < HMS_MIGRATE_MAX_BYTES ? end : s + HMS_MIGRATE_MAX_BYTES,
			.src = src, .dst = dst, .pgmap_owner = d, .flags = HMS_MIGRATE_SELECT_SYSTEM,
		};
		int ret = hms_migrate_vma_setup(d->h, &m);

		if (ret)
			return moved ? moved : ret;
		for (unsigned long i = 0; i < m.npages; i++) {
			const void *from = hms_migrate_src_ptr(&m, i);
			long idx;

			if (!(src[i] & HMS_MIGRATE_PFN_MIGRATE) || (idx = alloc_page(d)) < 0)
				continue; /* not selected, or no room: the page stays */
			if (!from) /* never populated: a zeroed page, no copy */
				memset(d->mem[idx], 0, PAGE);
			else if (hms_user_read(d->mem[idx], from, PAGE) != (ssize_t)PAGE) {
				page_free(dm, hms_devmem_pfn_first(dm) + (hms_pfn)idx);
				continue;
			}
			dst[i] = hms_migrate_pfn(hms_devmem_pfn_first(dm) + (hms_pfn)idx);
		}
		hms_migrate_vma_pages(&m); /* pages it could not move stay */
		hms_migrate_vma_finalize(&m);
		for (unsigned long i = 0; i < m.npages; i++)
			moved += (src[i] & HMS_MIGRATE_PFN_MIGRATE) != 0;
	}
	return moved;
}

/* The CPU (or another device) touched our pages: bring them home.  Our
 * memory is readable by the CPU, so hms copies from it directly. */
static int migrate_to_ram(struct hms_devmem *dm, const struct hms_devmem_fault *f)
{
	struct dev *d = hms_devmem_priv(dm);
	uint64_t src[HMS_MIGRATE_MAX_BYTES / PAGE], dst[HMS_MIGRATE_MAX_BYTES / PAGE];
	struct hms_migrate_vma m = { .start = f->start, .end = f->end, .src = src, .dst = dst,
				     .pgmap_owner = d,
				     .flags = HMS_MIGRATE_SELECT_DEVICE_PRIVATE };
	int ret = hms_migrate_vma_setup(d->h, &m);

	if (ret)
		return ret;
	for (unsigned long i = 0; i < m.npages; i++)
		if (src[i] & HMS_MIGRATE_PFN_MIGRATE)
			hms_migrate_dst_system_from(
				&m, i, d->mem[hms_migrate_pfn_to_pfn(src[i]) - hms_devmem_pfn_first(dm)]);
	ret = hms_migrate_vma_pages(&m);
	hms_migrate_vma_finalize(&m);
	return ret;
}

static const struct hms_devmem_ops devmem_ops = {
	.migrate_to_ram = migrate_to_ram,
	.page_free = page_free,
	.migrate_to_device = migrate_to_device,
};

/* ---- the program ----------------------------------------------------------------- */

static int fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s (%s)\n", what, strerror(err < 0 ? -err : err), hms_last_error());
	return 1;
}

/* The device adds add to every int of the buffer; returns their sum before. */
static long long dev_add(struct dev *d, int add, int *err)
{
	int page[INTS];
	long long sum = 0;

	for (size_t p = 0; p < BUF_PAGES && !*err; p++) {
		uintptr_t a = d->base + p * PAGE;

		*err = dev_access(d, a, page, false);
		for (size_t i = 0; i < INTS && !*err; i++) {
			sum += page[i];
			page[i] += add;
		}
		if (!*err && add)
			*err = dev_access(d, a, page, true);
	}
	return sum;
}

/* A counter of d, read under the lock that its writers hold. */
static unsigned long counter(struct dev *d, const unsigned long *c)
{
	unsigned long v;

	pthread_mutex_lock(&d->lock);
	v = *c;
	pthread_mutex_unlock(&d->lock);
	return v;
}

static size_t count_on(struct hms *h, const void *buf, hms_uid target)
{
	hms_uid where[BUF_PAGES];
	size_t n = 0;

	if (hms_where(h, buf, BUF_PAGES, where) != BUF_PAGES)
		return 0;
	for (size_t i = 0; i < BUF_PAGES; i++)
		n += where[i] == target;
	return n;
}

int main(void)
{
	struct dev d = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct hms_devmem_desc desc = { "example device", DEV_PAGES, &d, HMS_DEVMEM_PRIVATE };
	const long long per = INTS, n = BUF_PAGES * per;
	long long sum, expect;
	int *buf, ret = 0, bad = 0;
	hms_uid target;
	long moved;

	ret = hms_open(&d.h, NULL);
	if (ret)
		return fail("hms_open", ret);
	d.mem = calloc(DEV_PAGES, PAGE);
	buf = hms_alloc(d.h, BUF_PAGES * PAGE, 0);
	if (!d.mem || !buf)
		return fail("allocation", ENOMEM);
	d.base = (uintptr_t)buf;
	ret = hms_devmem_add(d.h, &desc, &devmem_ops, &d, &d.dm);
	if (!ret)
		ret = hms_interval_insert(d.h, d.base, BUF_PAGES * PAGE, &interval_ops, &d, &d.iv);
	if (ret)
		return fail("driver setup", ret);
	target = hms_devmem_target(d.dm);

	/* 1. The device reads what the CPU wrote: its faults map system pages. */
	for (long long i = 0; i < n; i++)
		buf[i] = (int)i;
	sum = dev_add(&d, 1, &ret);
	printf("1. device read and incremented %lld ints in system memory: sum %lld "
	       "(expected %lld), %lu device faults\n", n, sum, n * (n - 1) / 2, counter(&d, &d.faults));
	bad += ret || sum != n * (n - 1) / 2;

	/* 2. The CPU discards a page behind the device's back: the invalidation
	 * drops the device's translation, and the device then sees zeros. */
	unsigned long inv = counter(&d, &d.invalidations);

	madvise(buf, PAGE, MADV_DONTNEED);
	hms_sync(d.h); /* the kernel has told hms: the device has been told */
	sum = dev_add(&d, 0, &ret);
	expect = n * (n + 1) / 2 - per * (per + 1) / 2;
	printf("2. after MADV_DONTNEED of page 0: %lu invalidation(s), device sum %lld "
	       "(expected %lld)\n", counter(&d, &d.invalidations) - inv, sum, expect);
	bad += ret || counter(&d, &d.invalidations) == inv || sum != expect;

	/* 3. hms_migrate() to the device's target: our migrate_to_device. */
	moved = hms_migrate(d.h, buf, BUF_PAGES * PAGE, &target, 1, 0);
	printf("3. hms_migrate to the device: %ld pages moved, %zu of %d on the device\n",
	       moved, count_on(d.h, buf, target), BUF_PAGES);
	bad += moved < 0 || count_on(d.h, buf, target) != (size_t)moved || moved < BUF_PAGES - 1;

	/* 4. The device works on its own memory; then the CPU reads every int,
	 * each page coming home by migrate_to_ram on its first touch. */
	dev_add(&d, 1000, &ret);
	bad += ret != 0;
	for (long long i = 0; i < n; i++)
		if (buf[i] != (i < per ? 1000 : (int)i + 1001))
			bad++;
	printf("4. device added 1000 in device memory; the CPU read it all back: %zu pages "
	       "on the device now, %s\n", count_on(d.h, buf, target), bad ? "WRONG" : "all correct");

	hms_interval_remove(d.iv);
	hms_free(d.h, buf, BUF_PAGES * PAGE);
	ret = hms_devmem_remove(d.dm);
	hms_close(d.h);
	free(d.mem);
	return bad || ret ? 1 : 0;
}
