/* SPDX-License-Identifier: MIT */
/*
 * hms_driver.h - the driver API: what a device driver (the softdev, a GPU
 * driver) uses to register device memory, mirror the CPU's address space
 * and migrate pages.  The user-space counterpart of the kernel's
 * ZONE_DEVICE/dev_pagemap, mmu notifiers, hmm_range_fault() and
 * migrate_vma.  Same error convention as hms.h.
 *
 * Locking rule for drivers (the one rule that keeps the fault engine free
 * of deadlocks): a driver must not hold a lock that its own callbacks
 * (sync, invalidate, page_free, migrate_to_ram) take while it calls
 * hms_migrate_vma_setup(), hms_migrate_vma_pages(), hms_range_fault(),
 * hms_devmem_remove() or any hms.h call that changes mappings.  Those
 * calls raise invalidations and wait for the fault handler.  Take such a
 * lock for short sections only, as the kernel's drivers do with their page
 * table lock.
 */
#ifndef HMS_DRIVER_H
#define HMS_DRIVER_H

#include <sys/types.h>

#include "hms.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Invalidations with context (mmu_notifier_range)
 * ---------------------------------------------------------------------- */

/** Why the CPU's view of a range changed. */
enum hms_event {
	HMS_EVENT_UNMAP = 0,           /* munmap, hms_free, moving side of mremap */
	HMS_EVENT_CLEAR = 1,           /* MADV_DONTNEED / MADV_REMOVE */
	HMS_EVENT_PROTECTION_VMA = 2,  /* hms_protect */
	HMS_EVENT_PROTECTION_PAGE = 3, /* write protection of single pages */
	HMS_EVENT_SOFT_DIRTY = 4,      /* dirty tracking re-armed */
	HMS_EVENT_RELEASE = 5,         /* hms_unmanage, hms_close */
	HMS_EVENT_MIGRATE = 6,         /* pages migrate; owner = migrating driver */
	HMS_EVENT_EXCLUSIVE = 7,       /* a device takes exclusive access */
	HMS_EVENT_COUNT = 8,
};

/**
 * struct hms_notify_range.flags: the callback may sleep and take locks.
 *
 * hms raises three invalidations without it, all from its fault handler
 * thread while it resolves a CPU fault, since that thread must never wait
 * for a driver (a driver thread holding its lock may be waiting for the
 * handler): the MIGRATE invalidation of a migration that migrate_to_ram()
 * starts for a CPU fault (hms_devmem_fault.nowait), and, when the CPU
 * writes a write-protected page (any store of the process, a driver's
 * hms_user_write() included), the EXCLUSIVE invalidation that revokes a
 * device's exclusive access to it and the PROTECTION_PAGE invalidation
 * that drops the replicas of a READ_MOSTLY page.  Sent from another
 * thread (a write request of hms_range_fault(), say) they are blockable.
 * A subscriber that returns false there undoes nothing: hms gives up the
 * change before making it (hms_migrate_vma_setup() fails with -EAGAIN;
 * the page stays exclusive or replicated, and write protected) and
 * retries the CPU fault about a millisecond later, sending the
 * invalidation again to every subscriber.  Changes the kernel has
 * already made when hms learns of them (UNMAP, CLEAR, the moving side of
 * mremap) cannot be retried and are always blockable, like every change
 * made on another thread.
 */
#define HMS_NOTIFY_BLOCKABLE (1u << 0)

/**
 * struct hms_notify_range - one change of the CPU's view.
 * @start, @end: page aligned [start, end).
 * @event:       enum hms_event.
 * @flags:       HMS_NOTIFY_BLOCKABLE or 0.
 * @owner:       for HMS_EVENT_MIGRATE, the pgmap_owner of the migration;
 *               for the HMS_EVENT_EXCLUSIVE of a grant, the owner given to
 *               hms_make_exclusive() (a driver skips invalidations it
 *               caused itself); NULL else (an EXCLUSIVE that revokes a
 *               grant included).
 */
struct hms_notify_range {
	uintptr_t start;
	uintptr_t end;
	enum hms_event event;
	unsigned flags;
	void *owner;
};

/** Returns a printable name of an event ("unmap", "clear", ...). */
const char *hms_event_name(enum hms_event e);

/* ------------------------------------------------------------------------
 * Mirrors (hmm_mirror)
 * ---------------------------------------------------------------------- */

struct hms_mirror;

/**
 * struct hms_mirror_ops - a mirror's callbacks.
 * @sync:    update the device's page table for @range.  Called once per
 *           change, before the change is visible to the CPU's side (pages
 *           freed, protection lowered).  When @range->flags lacks
 *           HMS_NOTIFY_BLOCKABLE the callback must not wait: it returns
 *           false if it would have to, and hms retries the whole change
 *           later, never leaving it half done.  Return true when done.
 * @release: the context is going away (hms_close): stop all device work
 *           on this address space.  May be NULL.
 */
struct hms_mirror_ops {
	bool (*sync)(struct hms_mirror *m, const struct hms_notify_range *range);
	void (*release)(struct hms_mirror *m);
};

/**
 * hms_mirror_register() - subscribe to every invalidation of the context.
 * @priv: returned by hms_mirror_priv().
 * Return: 0, -EINVAL, -ENOMEM.  Pairs with hms_mirror_unregister().
 */
int hms_mirror_register(struct hms *h, const struct hms_mirror_ops *ops,
			void *priv, struct hms_mirror **out);

/** hms_mirror_unregister() - returns once no callback of the mirror runs.
 *  In a fork child (the mirror is the parent's) it returns at once. */
void hms_mirror_unregister(struct hms_mirror *m);

/** The driver's pointer given to hms_mirror_register(). */
void *hms_mirror_priv(const struct hms_mirror *m);

/* ------------------------------------------------------------------------
 * Interval notifiers (mmu_interval_notifier)
 * ---------------------------------------------------------------------- */

struct hms_interval;

/**
 * struct hms_interval_ops.invalidate - an invalidation overlaps the
 * interval.  The driver takes its page-table lock, calls
 * hms_interval_set_seq(iv, cur_seq), drops what it mirrors of the range,
 * and returns true; without HMS_NOTIFY_BLOCKABLE it may return false
 * instead of waiting for its lock.
 */
struct hms_interval_ops {
	bool (*invalidate)(struct hms_interval *iv,
			   const struct hms_notify_range *range,
			   unsigned long cur_seq);
};

/**
 * hms_interval_insert() - watch [start, start + len).
 * During an invalidation the insertion takes effect at its end (the
 * interval's sequence reads as "invalidating" until then).
 * Return: 0, -EINVAL (len 0, overflow, NULL ops), -ENOMEM.
 */
int hms_interval_insert(struct hms *h, uintptr_t start, size_t len,
			const struct hms_interval_ops *ops, void *priv,
			struct hms_interval **out);

/** hms_interval_remove() - returns once no invalidate() of it runs; then
 *  the interval is freed.  In a fork child it returns at once. */
void hms_interval_remove(struct hms_interval *iv);

/** The driver's pointer given to hms_interval_insert(). */
void *hms_interval_priv(const struct hms_interval *iv);

/**
 * hms_interval_read_begin() - begin a read side critical section: waits
 * while an invalidation that overlaps the interval runs, and returns the
 * sequence to pass to hms_interval_read_retry() (always odd: the last
 * cur_seq given to hms_interval_set_seq(), or the interval's initial
 * value).  This call, hms_interval_read_retry() and hms_interval_set_seq()
 * are the driver's fast path and take a valid interval: no NULL check.
 * In a fork child (the interval is the parent's) it returns at once; the
 * hms_range_fault() that follows says -ECHILD.
 */
unsigned long hms_interval_read_begin(struct hms_interval *iv);

/** hms_interval_read_retry() - true if the interval was invalidated since
 *  @seq was read (call under the driver lock that invalidate() takes). */
bool hms_interval_read_retry(struct hms_interval *iv, unsigned long seq);

/** hms_interval_set_seq() - called from invalidate() under the driver
 *  lock, with the cur_seq it was given. */
void hms_interval_set_seq(struct hms_interval *iv, unsigned long cur_seq);

/**
 * hms_sync() - wait until every change of the address space that returned
 * before the call (munmap, madvise(MADV_DONTNEED/REMOVE), mremap of
 * managed memory) has been applied: the page-state table updated and its
 * invalidations delivered to every mirror and interval.  The kernel runs
 * its notifiers before such a call returns; hms learns of the change from
 * userfaultfd a little later, so a driver calls this at the start of a
 * device operation that may use translations it cached, and the
 * operation then sees every change made before it started (a device
 * write after the application's MADV_DONTNEED is not discarded by it).
 * Cheap when nothing is pending.
 * Context: any thread; not from a driver callback, and not while holding
 * a lock that a callback takes.  From the fault handler thread it returns
 * at once.
 * Return: 0, -EINVAL (@h NULL), -ECHILD (in a fork child).
 */
int hms_sync(struct hms *h);

/**
 * hms_range_invalidating() - true while an invalidation overlapping
 * [start, end) is in progress (the seed's range tracking).  It may answer
 * true when none overlaps, never false when one does: while an
 * invalidation runs whose range hms could not record (no memory for the
 * record), it answers true for every range, and in a fork child (an
 * invalidation of the parent's may never end there) always.
 */
bool hms_range_invalidating(struct hms *h, uintptr_t start, uintptr_t end);

/* ------------------------------------------------------------------------
 * Device memory (ZONE_DEVICE private pages, dev_pagemap_ops)
 * ---------------------------------------------------------------------- */

struct hms_devmem;

/** A device page frame number: unique across all device memory of a
 *  context; hms_devmem_pfn_first() gives the first one of a devmem. */
typedef uint64_t hms_pfn;

/**
 * struct hms_devmem_fault - a CPU (or another device) needs pages that
 * live in this device memory.
 * @addr:  the page that faulted.
 * @start, @end: the range hms suggests moving with it (contains addr; only
 *         pages of this devmem; at most 2 MiB).  The driver may move less,
 *         but must move @addr.
 * @write: the access is a write.
 * @nowait: the call comes from the fault handler thread: the driver must
 *         not block on a lock that a thread waiting for hms may hold
 *         (one held across hms_migrate_vma_pages(), say); it returns
 *         -EAGAIN instead and the fault is retried shortly.  Its
 *         hms_migrate_vma_setup() sends MIGRATE without
 *         HMS_NOTIFY_BLOCKABLE and may fail with -EAGAIN: return that.
 */
struct hms_devmem_fault {
	uintptr_t addr;
	uintptr_t start;
	uintptr_t end;
	bool write;
	bool nowait;
};

/**
 * struct hms_devmem_ops - device memory callbacks.
 * @migrate_to_ram: move at least f->addr back to system memory with
 *       hms_migrate_vma_setup(HMS_MIGRATE_SELECT_DEVICE_PRIVATE, owner =
 *       the devmem's owner) / _pages / _finalize.  Called from the fault
 *       handler thread or from hms_range_fault() on another device's
 *       thread.  Return 0, or a negative errno (the fault is retried; after
 *       repeated failures the faulting thread receives SIGBUS, as with the
 *       kernel's VM_FAULT_SIGBUS).
 * @page_free: the page is no longer used by the address space (migrated
 *       away, unmapped, discarded): the driver returns it to its pool.
 *       Called without hms locks held, from any thread.
 * @release: optional; hms_close() runs while the devmem is still
 *       registered: every page is back in system memory and the devmem is
 *       about to be freed.  The driver frees what it built on it.
 * @migrate_to_device: optional; move the system pages of [start, end)
 *       (page aligned, inside one managed area, any length: the
 *       driver cuts it into batches of at most HMS_MIGRATE_MAX_BYTES, and
 *       may run them in parallel) into this device memory with
 *       hms_migrate_vma_setup(HMS_MIGRATE_SELECT_SYSTEM, owner = the
 *       devmem's owner) / _pages / _finalize, best effort (pages that do
 *       not fit stay).  hms calls it for placement: hms_migrate() and
 *       hms_hbind() MIGRATE to this memory's target, and a device's first
 *       touch of a range bound to it.  Called without hms locks held,
 *       never from the fault handler thread, possibly from inside the
 *       driver's own hms_range_fault() call (so the driver must not hold
 *       its page-table lock there, as the locking rule above already
 *       says).  Return: pages moved (0 when none could be), or a negative
 *       errno (nothing moved).  Without it the memory cannot be a target
 *       of hms_bind() or hms_migrate() (-EXDEV).
 * @evict_range: optional; bring every page of this devmem in [start, end)
 *       (page aligned, inside one managed area, any length) back to system
 *       memory, as migrate_to_ram does, in batches the driver may run in
 *       parallel.  hms calls it where it evicts many pages at once
 *       (hms_migrate() to system memory, hms_devmem_evict(), fork,
 *       hms_close()), never from the fault handler thread, and brings
 *       back what it left with migrate_to_ram.  Return: pages moved, or a
 *       negative errno.
 */
struct hms_devmem_ops {
	int (*migrate_to_ram)(struct hms_devmem *dm,
			      const struct hms_devmem_fault *f);
	void (*page_free)(struct hms_devmem *dm, hms_pfn pfn);
	void (*release)(struct hms_devmem *dm);
	long (*migrate_to_device)(struct hms_devmem *dm, uintptr_t start,
				  uintptr_t end);
	long (*evict_range)(struct hms_devmem *dm, uintptr_t start, uintptr_t end);
};

/** Kinds of device memory (struct hms_devmem_desc.kind). */
enum hms_devmem_kind {
	HMS_DEVMEM_PRIVATE = 0,  /* CPU cannot reach it: faults migrate */
	HMS_DEVMEM_COHERENT = 1, /* reserved for CPU-addressable memory */
};

/**
 * struct hms_devmem_desc - device memory to register.
 * @name:   shown in the topology.
 * @npages: number of 4 KiB pages.
 * @owner:  the pgmap_owner: migrations and hms_range_fault() with this
 *          owner treat the pages as the driver's own.  Not NULL.
 * @kind:   enum hms_devmem_kind.
 */
struct hms_devmem_desc {
	const char *name;
	uint64_t npages;
	void *owner;
	enum hms_devmem_kind kind;
};

/**
 * hms_devmem_add() - register device memory and its target.  hms
 * reserves one bit per device page (npages / 8 bytes of address space,
 * memory only where used): where hms cannot allocate while it drops
 * pages, it marks them there and hands them to page_free() soon after,
 * so no page is lost to an allocation failure.
 * Return: 0, -EINVAL (NULL @h, @desc, @ops or @out, npages 0 or above
 * 2^40, NULL owner, missing callback, unknown kind), -ENOMEM, -ECHILD.
 * Pairs with hms_devmem_remove().
 */
int hms_devmem_add(struct hms *h, const struct hms_devmem_desc *desc,
		   const struct hms_devmem_ops *ops, void *priv,
		   struct hms_devmem **out);

/**
 * hms_devmem_evict() - bring every page that lives in this device memory
 * back to system memory, through the driver's migrate_to_ram (the
 * kernel's migrate_device_range eviction).  Must not be called from
 * migrate_to_ram.  Return: pages brought back, -EINVAL (@dm NULL),
 * -EBUSY if some could not be (they stay on the device; nothing is lost),
 * -ECHILD (fork child).
 */
long hms_devmem_evict(struct hms_devmem *dm);

/**
 * hms_devmem_remove() - migrate every page still in this device memory
 * back to system memory (through migrate_to_ram), then unregister it.
 * Return: 0, -EINVAL (@dm NULL), -EBUSY if a page could not be
 * brought back (the devmem stays registered; nothing is lost), -ECHILD
 * (fork child).
 */
int hms_devmem_remove(struct hms_devmem *dm);

/** The driver's pointer given to hms_devmem_add(); NULL for NULL. */
void *hms_devmem_priv(const struct hms_devmem *dm);
/** The first of the memory's pfns: its pages are [first, first +
 *  npages), unique across the context's device memory and never reused;
 *  0 for NULL. */
hms_pfn hms_devmem_pfn_first(const struct hms_devmem *dm);
/** The number of pages registered (hms_devmem_desc.npages); 0 for NULL. */
uint64_t hms_devmem_npages(const struct hms_devmem *dm);
/** The topology target registered for this memory (0 if the topology
 *  refused it, or for NULL). */
hms_uid hms_devmem_target(const struct hms_devmem *dm);
/** The context the memory is registered with; NULL for NULL. */
struct hms *hms_devmem_context(const struct hms_devmem *dm);

/* ------------------------------------------------------------------------
 * Migration (migrate_vma)
 *
 * Entries of src[] and dst[]: (pfn << HMS_MIGRATE_PFN_SHIFT) | flags.
 * For a system page the pfn field is 0: its data is reached through
 * hms_migrate_src_ptr() (source) or hms_migrate_dst_system() (dest).
 * ---------------------------------------------------------------------- */

#define HMS_MIGRATE_PFN_VALID (1ULL << 0)   /* a page is there */
#define HMS_MIGRATE_PFN_MIGRATE (1ULL << 1) /* selected: driver should move it */
#define HMS_MIGRATE_PFN_READ (1ULL << 2)    /* CPU may read it (a device may map it) */
#define HMS_MIGRATE_PFN_WRITE (1ULL << 3)   /* CPU may write it */
#define HMS_MIGRATE_PFN_DEVICE (1ULL << 4)  /* pfn is a device page */
#define HMS_MIGRATE_PFN_SYSTEM (1ULL << 5)  /* dst: a system page (staged) */
#define HMS_MIGRATE_PFN_SHIFT 6

/**
 * hms_migrate_pfn() - the src[]/dst[] entry of device page @pfn:
 * (pfn << HMS_MIGRATE_PFN_SHIFT) | HMS_MIGRATE_PFN_VALID |
 * HMS_MIGRATE_PFN_DEVICE.  What a driver stores in dst[i] for a page it
 * moves into its memory.
 */
static inline uint64_t hms_migrate_pfn(hms_pfn pfn)
{
	return (pfn << HMS_MIGRATE_PFN_SHIFT) | HMS_MIGRATE_PFN_VALID |
	       HMS_MIGRATE_PFN_DEVICE;
}

/**
 * hms_migrate_pfn_to_pfn() - the pfn field of a src[]/dst[] entry
 * (@entry >> HMS_MIGRATE_PFN_SHIFT), whatever its flags: the device page
 * of an entry with HMS_MIGRATE_PFN_DEVICE, 0 for a system page.
 */
static inline hms_pfn hms_migrate_pfn_to_pfn(uint64_t entry)
{
	return entry >> HMS_MIGRATE_PFN_SHIFT;
}

/** hms_migrate_vma.flags: which pages setup selects. */
#define HMS_MIGRATE_SELECT_SYSTEM (1u << 0)
#define HMS_MIGRATE_SELECT_DEVICE_PRIVATE (1u << 1)
/**
 * With SELECT_SYSTEM: while a fork() is bringing device pages home, setup
 * fails at once with -EDEADLK instead of waiting for the fork to end.  For
 * a caller that holds something the fork's eviction waits for (the CUDA
 * driver: a thread that holds a window).
 */
#define HMS_MIGRATE_NO_FORK_WAIT (1u << 2)

/** Largest range one migration may cover. */
#define HMS_MIGRATE_MAX_BYTES (2UL << 20)

struct hms_migrate_core; /* hms' private part of a migration */

/**
 * struct hms_migrate_vma - one migration, in three phases.
 * @start, @end:  page aligned, at most HMS_MIGRATE_MAX_BYTES; pages that
 *                are not managed are not selected.
 * @src, @dst:    arrays of (end - start) / 4096 entries, owned by the
 *                caller; setup fills src and zeroes dst.
 * @npages:       out: pages in the range.
 * @cpages:       out: pages selected (HMS_MIGRATE_PFN_MIGRATE).
 * @pgmap_owner:  SELECT_DEVICE_PRIVATE: only pages of device memory with
 *                this owner are selected; also passed as the owner of the
 *                MIGRATE invalidation.
 * @flags:        HMS_MIGRATE_SELECT_*, HMS_MIGRATE_NO_FORK_WAIT.
 * @core:         hms' state between the phases; do not touch.
 */
struct hms_migrate_vma {
	uintptr_t start;
	uintptr_t end;
	uint64_t *src;
	uint64_t *dst;
	unsigned long npages;
	unsigned long cpages;
	void *pgmap_owner;
	unsigned flags;
	struct hms_migrate_core *core;
};

/**
 * hms_migrate_vma_setup() - select and isolate the pages to migrate.
 *
 * Selected pages are marked migrating (a CPU access waits until finalize),
 * system pages are write-protected so that no write can race the copy,
 * and a MIGRATE invalidation is sent.  SELECT_SYSTEM selects pages that
 * are populated in system memory (VALID) or not populated at all (no
 * VALID: the driver should give a zeroed device page without copying).
 * Return: 0 (even if cpages is 0), -EINVAL (bad range or flags),
 * -ENOENT (no page of the range is managed), -ENOMEM, -EAGAIN (called on
 * the fault handler thread, i.e. from migrate_to_ram() with f->nowait,
 * and a subscriber refused the non-blockable MIGRATE invalidation:
 * nothing was selected or changed; return it from migrate_to_ram() and
 * the fault is retried), -EDEADLK (HMS_MIGRATE_NO_FORK_WAIT and a fork()
 * is under way: nothing was selected).  Always pair a successful setup with
 * hms_migrate_vma_finalize(), which may run on another thread.
 */
int hms_migrate_vma_setup(struct hms *h, struct hms_migrate_vma *m);

/**
 * hms_migrate_src_ptr() - for a selected, VALID system page i of a
 * SELECT_SYSTEM migration: where to copy its data from (readable until
 * hms_migrate_vma_pages()).  NULL for other pages.
 */
const void *hms_migrate_src_ptr(const struct hms_migrate_vma *m,
				unsigned long i);

/**
 * hms_migrate_dst_system() - for a SELECT_DEVICE_PRIVATE migration: give
 * page i a system page; returns where to copy the data (4 KiB) and sets
 * dst[i].  NULL if page i is not selected.
 */
void *hms_migrate_dst_system(struct hms_migrate_vma *m, unsigned long i);

/**
 * hms_migrate_dst_system_from() - like hms_migrate_dst_system(), for a
 * driver whose memory the CPU can read: hms copies page i from @src itself
 * (one copy instead of two).  @src must stay readable and unchanged until
 * hms_migrate_vma_pages() returns.  Return: 0, -EINVAL if page i is not
 * selected.
 */
int hms_migrate_dst_system_from(struct hms_migrate_vma *m, unsigned long i, const void *src);

/**
 * hms_migrate_vma_pages() - commit the copies: pages whose dst[] the
 * driver set move; the others stay where they were.  Returns 0, -EAGAIN
 * when the address space changed under the migration (nothing moved that
 * could not be finished; finalize still needed), or -EFAULT when a copy
 * into system memory could not read its source (the pointer given to
 * hms_migrate_dst_system_from(): those pages stay on the device; a
 * migrate_to_ram that moved nothing returns it, and the faulting thread
 * gets SIGBUS after a few dozen tries instead of a minute of -EAGAIN),
 * or -EDEADLK when populated system pages were to move to a device on
 * the fault handler thread (from migrate_to_ram(): those pages did not
 * move), or -EINVAL for a NULL @m, one not set up, or a dst[] device pfn
 * that belongs to no device memory registered with the context, or, when
 * @m->pgmap_owner is set, to device memory of another owner (those pages
 * stay where they were and their dst[] is cleared: finalize hands no such
 * pfn to page_free(); the others move, and their -EAGAIN or -EFAULT is
 * returned first), or one device pfn given in dst[] to several pages
 * (none of those moves, their data stays in system memory; dst[] is
 * cleared for all but the first, so finalize hands that page to
 * page_free() once), or a device pfn hms still holds: one that moved to
 * another address and has not been handed to page_free() since, or one
 * given in another migration still running (refused, its dst[] cleared,
 * the page left with its holder; after its page_free() it may be given
 * again).
 */
int hms_migrate_vma_pages(struct hms_migrate_vma *m);

/**
 * hms_migrate_vma_finalize() - end the migration: the page table is
 * updated, src device pages that moved are handed to page_free(), dst
 * device pages that did not move are handed to page_free() too, waiting
 * CPU accesses resume.  After it, src[i] keeps HMS_MIGRATE_PFN_MIGRATE
 * only for pages that moved.  It reads dst[] as hms_migrate_vma_pages()
 * left it: a driver must not change dst[] in between (a device page it
 * took out of dst[] then would stay held by hms, and be refused when
 * given again).
 */
void hms_migrate_vma_finalize(struct hms_migrate_vma *m);

/* ------------------------------------------------------------------------
 * Range fault and snapshot (hmm_range_fault)
 * ---------------------------------------------------------------------- */

/*
 * Default encoding of hms_range.pfns[] (when range->flags is NULL):
 *   bit 63 VALID, 62 WRITE, 61 ERROR, 60 DEVICE_PRIVATE (a device page of
 *   dev_private_owner; the pfn field is its hms_pfn), 56-59 mapping order
 *   (0 for 4 KiB, 9 for 2 MiB), 55 SPECIAL (memory outside managed areas:
 *   the device reaches it in place and must not keep a mapping, since no
 *   invalidation reaches it), 54 ZERO (the shared zero page), low 52 bits
 *   the pfn: for a system page its virtual page number (address >> 12),
 *   since system pages are reached by their address.
 *   Input: HMS_PFN_REQ_FAULT, HMS_PFN_REQ_WRITE.
 *   With the driver encoding, SPECIAL and ZERO pages are values[SPECIAL].
 */
#define HMS_PFN_VALID (1ULL << 63)
#define HMS_PFN_WRITE (1ULL << 62)
#define HMS_PFN_ERROR (1ULL << 61)
#define HMS_PFN_DEVICE_PRIVATE (1ULL << 60)
#define HMS_PFN_SPECIAL (1ULL << 55) /* not managed: reach in place, never cache */
#define HMS_PFN_ZERO (1ULL << 54)    /* the shared zero page (read only) */
/* A read-only system page of a READ_MOSTLY range (hms_advise()): the
 * device may keep a copy in its own memory; hms sends a PROTECTION_PAGE
 * invalidation before anyone writes the page.  Default encoding only. */
#define HMS_PFN_REPLICA (1ULL << 53)
#define HMS_PFN_ORDER_SHIFT 56
#define HMS_PFN_ORDER_MASK (0xfULL << HMS_PFN_ORDER_SHIFT)
#define HMS_PFN_PFN_MASK ((1ULL << 52) - 1)
#define HMS_PFN_REQ_FAULT HMS_PFN_VALID
#define HMS_PFN_REQ_WRITE HMS_PFN_WRITE

/* Driver-defined encoding (the 2018 API): indexes of range->flags[] ... */
enum hms_pfn_flag {
	HMS_PFN_FLAG_VALID = 0,
	HMS_PFN_FLAG_WRITE = 1,
	HMS_PFN_FLAG_DEVICE_PRIVATE = 2,
	HMS_PFN_FLAG_COUNT = 3,
};
/* ... and of range->values[]. */
enum hms_pfn_value {
	HMS_PFN_VALUE_ERROR = 0,
	HMS_PFN_VALUE_NONE = 1,
	HMS_PFN_VALUE_SPECIAL = 2,
	HMS_PFN_VALUE_COUNT = 3,
};

/**
 * struct hms_range - a range to snapshot or fault.
 * @interval:       the driver's interval (for the sequence check), or NULL.
 * @notifier_seq:   from hms_interval_read_begin(); -EBUSY if it changed.
 * @start, @end:    page aligned.
 * @pfns:           (end - start) / 4096 entries: requests in, results out.
 * @default_flags:  requests for every page ...
 * @pfn_flags_mask: ... combined as default_flags | (pfns[i] & mask).
 * @dev_private_owner: pages of device memory with this owner are reported
 *                  as valid device pages; other device pages are treated as
 *                  not present (a fault request brings them back).
 * @flags, @values, @pfn_shift: driver encoding; when @flags is NULL the
 *                  default encoding above is used.  With it, an entry is
 *                  (pfn << pfn_shift) | flags[...] bits, or one of values[].
 *                  Requests are then flags[VALID] (fault) and flags[WRITE].
 *                  Every pfn the call may report must fit in the
 *                  64 - pfn_shift bits above the shift: the page number
 *                  of the range's last page (end - 1) >> 12 and, with
 *                  dev_private_owner, the last pfn of that owner's
 *                  device memory; else -ERANGE.
 */
struct hms_range {
	struct hms_interval *interval;
	unsigned long notifier_seq;
	uintptr_t start;
	uintptr_t end;
	uint64_t *pfns;
	uint64_t default_flags;
	uint64_t pfn_flags_mask;
	void *dev_private_owner;
	const uint64_t *flags;
	const uint64_t *values;
	unsigned pfn_shift;
};

/**
 * hms_range_fault() - snapshot a range and fault the pages requested.
 *
 * Pages without a request are reported as they are (not present pages as
 * 0 / values[NONE]).  Requested pages are made present in system memory
 * (or kept in dev_private_owner's memory): never populated pages are
 * filled, pages of other devices migrate back, write requests resolve
 * write protection.  Pages without read permission report ERROR.  Memory
 * outside managed areas is reported from the kernel's view (present pages
 * from /proc/self/pagemap, protection from /proc/self/maps) and faulted by
 * touching it through the kernel; it is never cached by hms.
 * Return: 0, -EFAULT (a requested page cannot be made valid: unmapped, no
 * read permission), -EPERM (write request on read-only memory), -EBUSY
 * (range->interval was invalidated since notifier_seq: the caller decides
 * whether to retry), -ERANGE (driver encoding: a pfn would not fit above
 * pfn_shift; nothing written, unless device memory registered during the
 * call holds the page that does not fit), -EINVAL (pfn_shift above 63
 * among others).
 */
int hms_range_fault(struct hms *h, struct hms_range *range);

/**
 * hms_make_exclusive() - give a device exclusive access to pages (for
 * device atomics; the kernel's make_device_exclusive).
 * @owner: the device's pgmap owner; its own EXCLUSIVE invalidation carries
 *         it, so the device can skip it.
 *
 * The pages are brought to system memory, made writable, then
 * write-protected from the CPU.  The first CPU write to one (or a write by
 * any device, which goes through the CPU's mapping) revokes it: an
 * EXCLUSIVE invalidation with a NULL owner is sent first, then the write
 * proceeds.  Return: pages made exclusive, -EINVAL, -ENOENT (a page is
 * not managed), -EFAULT, -EPERM (not writable), -EOPNOTSUPP (a context
 * opened with HMS_OPEN_WP_ASYNC, where CPU writes cannot revoke it).
 */
long hms_make_exclusive(struct hms *h, uintptr_t start, uintptr_t end, void *owner);

/* ------------------------------------------------------------------------
 * Topology registration
 *
 * Drivers describe their memory, their engines and how they connect.
 * Each call makes a new snapshot for later hms_topology_get() calls;
 * snapshots already held do not change.  Callable from any thread at any
 * time, except from within hms callbacks.  Every uid handed out is new
 * (uids are never reused).
 * ---------------------------------------------------------------------- */

/**
 * struct hms_target_desc - memory to register (hms_target_add()).
 * @name:        shown in the topology; copied.  Not NULL.
 * @kind:        enum hms_target_kind.
 * @numa_node:   its NUMA node, or HMS_NONE.
 * @size:        bytes.
 * @free:        bytes free, or HMS_SIZE_UNKNOWN.
 * @memory_tier: memory tier id, or HMS_NONE.
 * @note:        where the facts come from, or NULL (hms_object_note()).
 */
struct hms_target_desc {
	const char *name;
	unsigned kind;
	int numa_node;
	uint64_t size;
	uint64_t free;
	int memory_tier;
	const char *note;
};

/**
 * struct hms_initiator_desc - an initiator to register.
 * @name:      not NULL; copied.
 * @kind:      enum hms_initiator_kind.
 * @numa_node: or HMS_NONE.
 * @cpulist:   CPU initiators: the CPUs ("0-3,8"); NULL or "" for devices.
 * @note:      or NULL.
 */
struct hms_initiator_desc {
	const char *name;
	unsigned kind;
	int numa_node;
	const char *cpulist;
	const char *note;
};

/**
 * struct hms_link_desc - initiators and targets that reach each other
 * alike, with that performance.
 * @name:  not NULL; copied.
 * @initiators, @ninitiators: uids of initiators (at least one).
 * @targets, @ntargets:       uids of targets (at least one).
 * @perf:  figures, HMS_PERF_UNKNOWN where not known.
 * @note:  where the figures come from, or NULL.
 */
struct hms_link_desc {
	const char *name;
	const hms_uid *initiators;
	size_t ninitiators;
	const hms_uid *targets;
	size_t ntargets;
	struct hms_perf perf;
	const char *note;
};

/**
 * struct hms_bridge_desc - a one-way connection from link @from to link
 * @to that carries only @initiators, adding @perf (bandwidth: the bridge's
 * own limit; latency: what crossing it adds).
 */
struct hms_bridge_desc {
	const char *name;
	hms_uid from;
	hms_uid to;
	const hms_uid *initiators;
	size_t ninitiators;
	struct hms_perf perf;
	const char *note;
};

/**
 * hms_target_add() - register a memory target.
 * @out: receives its uid; may be NULL (so for every add call below).
 * Return: 0, -EINVAL (NULL desc or name, unknown kind), -ENOMEM.
 * Pairs with hms_object_remove().
 */
int hms_target_add(struct hms *h, const struct hms_target_desc *d,
		   hms_uid *out);

/**
 * hms_initiator_add() - register an initiator.
 * Return: 0, -EINVAL (NULL desc or name, unknown kind, a CPU initiator
 * without a valid cpulist), -ENOMEM.  Pairs with hms_object_remove().
 */
int hms_initiator_add(struct hms *h, const struct hms_initiator_desc *d,
		      hms_uid *out);

/**
 * hms_link_add() - register a link between initiators and targets.
 * Return: 0, -EINVAL (NULL, no initiator or no target, a uid of the wrong
 * type), -ENOENT (a uid that is not in the topology), -ENOMEM.  Pairs
 * with hms_object_remove().
 */
int hms_link_add(struct hms *h, const struct hms_link_desc *d, hms_uid *out);

/**
 * hms_bridge_add() - register a one-way bridge between two links.
 * Return: 0, -EINVAL (NULL, from == to, ends that are not links, no
 * initiator, a listed uid that is not an initiator), -ENOENT (a uid that
 * is not in the topology), -ENOMEM.  Pairs with hms_object_remove().
 */
int hms_bridge_add(struct hms *h, const struct hms_bridge_desc *d,
		   hms_uid *out);

/**
 * hms_object_remove() - remove an object from later snapshots.
 *
 * Links and bridges lose the removed object from their member lists; a
 * link left without an initiator or a target goes too, and so do the
 * bridges that leave or reach a removed link.  The uid is never given
 * again.  Snapshots already held still show the object.
 * Return: 0, -EINVAL (uid 0), -ENOENT (no such object now).
 */
int hms_object_remove(struct hms *h, hms_uid uid);

/* ------------------------------------------------------------------------
 * Reaching system memory as a device does
 * ---------------------------------------------------------------------- */

/**
 * hms_user_read() - copy @len bytes of the process's memory at @addr into
 * the driver's @buf, the way a device's DMA reaches them: with the CPU's
 * protection, a missing page faulted in as by a CPU access, and a page
 * that is not mapped readable (unmapped or protected behind the driver's
 * back, say by another thread) ending the copy there instead of raising
 * SIGSEGV in the driver's thread.  Any memory, managed or not.
 *
 * hms copies with non-temporal stores, several pages at a time, under a
 * fault guard (a SIGSEGV/SIGBUS handler
 * installed on the first call, which hands every fault outside such a
 * copy to the handler the program had before, or to the default action);
 * where the program has since set its own handler, or with
 * HMS_USER_COPY=kernel in the environment (and in ThreadSanitizer
 * builds), through the kernel (process_vm_readv()), which is slower and
 * gives the same results (in user-mode-only mode, where the kernel cannot
 * fault a managed page in, hms resolves the page that stopped the copy,
 * on either side, @addr or @buf, and goes on; 100 tries per page).
 * Must not be called from the fault handler thread (an hms callback run
 * for a CPU fault) on memory that may be missing: the fault would wait
 * for that thread.  As a CPU access, it may bring a page home from any
 * device, through that driver's migrate_to_ram(), this driver's too: do
 * not hold what that callback waits for (a staging buffer, say) while
 * calling it on memory that may have left for a device.  A page in a
 * migration is waited for, unless the calling thread set up a migration
 * of that context and has not finalized it (the page may be its own):
 * there the copy ends at that page.
 * Return: the bytes copied: @len, or fewer when a page failed (those
 * before it); -EFAULT when nothing could be copied (also for a NULL @buf
 * or a range that wraps).
 */
ssize_t hms_user_read(void *buf, const void *addr, size_t len);

/**
 * hms_user_write() - copy @len bytes of the driver's @buf into the
 * process's memory at @addr, as hms_user_read() reads it: a page that is
 * not mapped writable ends the copy; a page the CPU side write-protects
 * (dirty tracking, replicas) takes its write fault as a CPU store would.
 * Return: as hms_user_read().
 */
ssize_t hms_user_write(void *addr, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* HMS_DRIVER_H */
