/* SPDX-License-Identifier: MIT */
/*
 * internal.h - the one internal header of libhms, grouped by the file that
 * defines each declaration.  Drivers (src/drivers) must not include it:
 * they see hms_driver.h only.
 */
#ifndef HMS_INTERNAL_H
#define HMS_INTERNAL_H

#ifndef HMS_BUILDING
#error "internal.h is private to libhms (src/core); drivers use hms_driver.h"
#endif

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/types.h>

#include "hms.h"
#include "hms_driver.h"
#include "inject.h"

#define HMS_API __attribute__((visibility("default")))

#define PAGE_SIZE HMS_PAGE_SIZE
#define PAGE_SHIFT HMS_PAGE_SHIFT
#define PAGE_MASK (~(PAGE_SIZE - 1))

static inline bool hms__aligned(uintptr_t x)
{
	return (x & (PAGE_SIZE - 1)) == 0;
}

#ifdef HMS_DEBUG
#include <assert.h>
#define HMS_ASSERT(x) assert(x)
#else
#define HMS_ASSERT(x) ((void)0)
#endif

/* ------------------------------------------------------------------------
 * itree.c - augmented interval tree (treap keyed by start, max of last)
 * ---------------------------------------------------------------------- */

struct hms_itree_node {
	uintptr_t start; /* first byte */
	uintptr_t last;  /* last byte (inclusive) */
	uintptr_t max_last;
	uint32_t prio;
	struct hms_itree_node *left, *right;
};

struct hms_itree {
	struct hms_itree_node *root;
	uint32_t seed;
};

void hms__itree_insert(struct hms_itree *t, struct hms_itree_node *n);
void hms__itree_remove(struct hms_itree *t, struct hms_itree_node *n);
/* Calls fn for every node overlapping [start, last]; fn returns false to stop. */
void hms__itree_for_each(struct hms_itree *t, uintptr_t start, uintptr_t last,
			 bool (*fn)(struct hms_itree_node *n, void *arg), void *arg);

/* ------------------------------------------------------------------------
 * area.c - managed areas and the per-page state table
 * ---------------------------------------------------------------------- */

/* hms_pte.flags */
#define PTE_MIGRATING (1u << 0) /* a migration holds the page */
#define PTE_BUSY (1u << 1)      /* a fault resolution holds the page */
#define PTE_WAITERS (1u << 2)   /* a CPU fault waits for MIGRATING/BUSY to clear */
#define PTE_WP (1u << 3)        /* write-protected by hms (exclusive) */
#define PTE_EXCLUSIVE (1u << 4) /* a device holds exclusive access */
#define PTE_DEAD (1u << 5)      /* unmapped while migrating: drop at finalize */
#define PTE_ZERO (1u << 6)      /* filled with the zero page (may be COWed since),
				 * or present but shared at hms_manage: maybe it;
				 * with HMS_LOC_NONE: discarded by a REMOVE event,
				 * maybe still present (MADV_FREE keeps data) */
#define PTE_ZAPPED (1u << 7)    /* migrating, and the migration changes the CPU
				 * page now (discards the system copy, fills
				 * the page back): CPU faults wait for finalize;
				 * a page mremap moves takes the result along */
#define PTE_DISCARD (1u << 8)   /* MADV_DONTNEED/REMOVE hit it while migrating:
				 * finalize drops the result (reads zeros) */
/* Why hms write-protects a system page (PTE_WP is set with any of them;
 * wp.c resolves them all at the first write): */
#define PTE_REPLICA (1u << 9)   /* devices may hold read-only copies (replicas) */
#define PTE_TRACK (1u << 10)    /* dirty tracking armed, not written since */
/* Dirty tracking (dirty.c): */
#define PTE_TRACKED (1u << 11)  /* tracking started and its history is known */
#define PTE_DIRTY (1u << 12)    /* written since the last re-arm */
/* mremap moved a page a migration held: this dead entry's pfn is the page
 * number of its new address, where the state waits, still held, for the
 * migration's finalize (area.c, migrate.c). */
#define PTE_FORWARD (1u << 13)
/* A dead entry whose address stays mapped and managed (the old range of
 * an MREMAP_DONTUNMAP): when its holder lets go the reap makes it a live
 * page again instead of cutting it out of the area. */
#define PTE_REVIVE (1u << 14)

/*
 * One page of a managed area.  Invariants (under hms.lock):
 *   loc == HMS_LOC_DEVICE  <=>  pfn is a page of a registered devmem that
 *                               holds this page's data, and the CPU page
 *                               table has no page at this address;
 *   PTE_MIGRATING and PTE_BUSY are never both set;
 *   PTE_WAITERS only with PTE_MIGRATING or PTE_BUSY.
 */
struct hms_pte {
	hms_pfn pfn;
	uint8_t loc;
	uint8_t prot;     /* CPU protection, PROT_* (hms_protect) */
	uint16_t flags;
	uint32_t replicas; /* PTE_REPLICA: replica holders, one bit per device
			    * slot (replica.c) */
	union {
		void *excl_owner;  /* PTE_EXCLUSIVE: the owner that holds it */
		uint64_t moved_at; /* PTE_FORWARD (never exclusive: a migration
				    * holds it): h->detaches when the state
				    * moved on to pfn's address; its record
				    * there, if any, is stamped above it */
	};
};

/* Does the CPU protection of pte allow a read (and a write if write)? */
static inline bool hms__pte_allows(const struct hms_pte *pte, bool write)
{
	return (pte->prot & PROT_READ) && (!write || (pte->prot & PROT_WRITE));
}

/*
 * A managed area: [start, end), registered with the context's userfaultfd.
 * Areas never overlap; h->areas is sorted by start.  Fields guarded by
 * hms.lock.
 */
struct hms_area {
	uintptr_t start, end;
	bool owned; /* created by hms_alloc: unmapped by hms_close */
	bool huge;  /* HMS_ALLOC_HUGE: may be mapped by 2 MiB pages */
	struct hms_pte *pt;
	/*
	 * Chunk summaries, one per AREA_CHUNK_PAGES pages of pt (counted from
	 * start; may be NULL): 0 = unknown, else AREA_SUM_UNIFORM | loc << 8 |
	 * prot, meaning every pte of the chunk has that loc and prot, no
	 * flags and pfn 0.  Written by the snapshot (range.c), reset by every
	 * area_pte() of the chunk (a mutable pointer may be written) and by
	 * every change of the area's bounds.  Code that writes ptes through
	 * any other pointer must call hms__area_sum_reset().
	 */
	uint32_t *sum;
	struct hms_area *next;
};

/*
 * A page a fault or a migration holds, whose address an mremap filled
 * with other pages (MREMAP_FIXED onto it): its entry leaves the area
 * table, where the arriving pages' entries go, for this list, where only
 * its holder looks (hms__pte_again_locked), as a dead page.  Without it
 * the holder found the arriving page's entry and discarded or committed
 * over the moved data.  Freed by hms__area_reap_locked() once let go.
 *
 * Records and holds are stamped from h->detaches, so that a hold taken
 * on an arriving page is not confused with the record of an older one at
 * the same address: a holder's record is the one at its address with the
 * smallest stamp above the count it saw when it took its hold (before
 * that, its entry was in the table: every detach at the address would
 * have taken it).
 */
struct hms_held_dead {
	uintptr_t addr;
	uint64_t stamp; /* h->detaches when the entry left the table */
	struct hms_pte pte;
	struct hms_held_dead *next;
};

#define AREA_CHUNK_SHIFT 9 /* 512 pages: 2 MiB */
#define AREA_CHUNK_PAGES (1UL << AREA_CHUNK_SHIFT)
#define AREA_SUM_UNIFORM (1u << 31)

static inline size_t area_npages(const struct hms_area *a)
{
	return (a->end - a->start) >> PAGE_SHIFT;
}

/* The pte of addr, to read or write: forgets the chunk's summary. */
static inline struct hms_pte *area_pte(struct hms_area *a, uintptr_t addr)
{
	size_t i = (addr - a->start) >> PAGE_SHIFT;

	if (a->sum)
		a->sum[i >> AREA_CHUNK_SHIFT] = 0;
	return &a->pt[i];
}

/* The pte of addr, to read only: keeps the chunk's summary. */
static inline const struct hms_pte *area_pte_ro(const struct hms_area *a, uintptr_t addr)
{
	return &a->pt[(addr - a->start) >> PAGE_SHIFT];
}

struct hms_area *hms__area_find_locked(struct hms *h, uintptr_t addr);
/* The area if [start, end) lies inside exactly one area, else NULL. */
struct hms_area *hms__area_find_range_locked(struct hms *h, uintptr_t start,
					     uintptr_t end);
/* True if every page of [start, end) is managed (possibly several areas). */
bool hms__range_managed_locked(struct hms *h, uintptr_t start, uintptr_t end);
/*
 * A range hms_unmanage() is letting go (area.c): from before its eviction
 * until it leaves the table, no system page in it is selected for a
 * migration to a device (migrate.c).  On the unmanaging thread's stack,
 * listed in h->leaving under hms.lock.
 */
struct hms_leaving {
	uintptr_t start, end;
	struct hms_leaving *next;
};
/* Is addr inside a range hms_unmanage() is letting go? */
bool hms__leaving_locked(const struct hms *h, uintptr_t addr);
/* 0 if every page of [start, end) is managed and the areas are not stale
 * (unmapped, their event not read yet: waited for), else -ENOENT.  Syncs
 * with the handler; takes hms.lock. */
int hms__range_live(struct hms *h, uintptr_t start, uintptr_t end);
int hms__area_insert_locked(struct hms *h, uintptr_t start, uintptr_t end,
			    int prot, bool owned, bool populated);
/* Forget every chunk summary of a (its ptes were written in bulk). */
void hms__area_sum_reset(struct hms_area *a);
/* Marks the area holding [start, end) as backed by huge pages. */
void hms__area_set_huge_locked(struct hms *h, uintptr_t start);
struct page_region;
/*
 * The regions of [start, end) that huge pages map, by PAGEMAP_SCAN
 * (Linux 6.7) on fd, a descriptor of /proc/self/pagemap: at most n into
 * vec, their count returned; -1 (errno) where the kernel has no
 * PAGEMAP_SCAN or fd is no pagemap.  *walk_end (NULL: not asked): where
 * the walk stopped, end or earlier where vec filled up.  Takes no lock.
 */
long hms__pagemap_huge(int fd, uintptr_t start, uintptr_t end, struct page_region *vec, size_t n,
		       uintptr_t *walk_end);
/*
 * Forget [start, end): device pages go to *freelist (to be handed to
 * page_free() outside the lock), pages under migration are marked
 * PTE_DEAD and kept until the migration ends.
 */
struct hms_free_list {
	hms_pfn *pfns;
	size_t n, cap;
	bool orphans; /* a page went to an orphan bitmap instead */
};
void hms__area_remove_locked(struct hms *h, uintptr_t start, uintptr_t end,
			     struct hms_free_list *fl);
/* Forget [start, end) (hms.lock not held): the mirrors hear ev first,
 * then the areas' pages go and their device memory is freed. */
void hms__area_forget(struct hms *h, uintptr_t start, uintptr_t end, enum hms_event ev);
/* Drop areas' pages whose ptes are all dead and not migrating (finalize). */
void hms__area_reap_locked(struct hms *h);
/*
 * What the table move of an mremap needs allocated, taken before it
 * changes anything so that it cannot fail half way and drop the pages it
 * moves: a table per piece of the source, the splits of an area around
 * the destination (and the source, when it goes), a record per page held
 * at the destination.
 */
struct hms_move_prep {
	struct hms_area *pieces, *splits;
	struct hms_held_dead *held;
};
/* Fills *p for hms__area_move_locked(); 0 or -ENOMEM (nothing taken). */
int hms__area_move_prepare_locked(struct hms *h, uintptr_t from, uintptr_t to, size_t len,
				  bool unmapped, struct hms_move_prep *p);
void hms__area_move_prep_free(struct hms_move_prep *p);
/* Move the state of [from, from+len) to [to, to+len) (mremap), and forget
 * [from, from+len) if it was unmapped; allocations come from *p (prepared,
 * or empty: then what finds no memory is dropped), which may keep some. */
void hms__area_move_locked(struct hms *h, uintptr_t from, uintptr_t to, size_t len,
			   bool unmapped, struct hms_move_prep *p, struct hms_free_list *fl);
/*
 * Device pages leave the table under hms.lock and go to page_free() after
 * it is dropped: push (hms.lock held) collects one, release (no lock) hands
 * them over.  Where the list cannot grow, the page is marked in its
 * devmem's orphan bitmap instead, and that list's release (or
 * hms_devmem_remove()) hands marked pages over: none is lost.
 */
void hms__free_list_push(struct hms *h, struct hms_free_list *fl, hms_pfn pfn);
void hms__free_list_release(struct hms *h, struct hms_free_list *fl);
/* page_free() every page of the orphan bitmaps; no lock held. */
void hms__orphans_release(struct hms *h);
/* Bring every device page of [start, end) back to system memory (only
 * those of one devmem if only is not NULL); 0 when the pass found none
 * left, else the driver's error on the last run it gave up on (area.c,
 * EVICT_ROUNDS_*: those pages stay on the device, and the pass goes on
 * after them). */
int hms__evict_range(struct hms *h, uintptr_t start, uintptr_t end, struct hms_devmem *only);
/*
 * The pte of a page this thread holds busy (or migrating), found again
 * after hms.lock was dropped: its range cannot be removed meanwhile, but
 * the table may have moved (hms__area_remove_locked() shifts an area's
 * ptes when its head is unmapped), so a pointer kept across the unlock
 * may name another page.  A held page whose address mremap filled with
 * other pages is on h->held_dead, found first.  since: h->detaches when
 * the caller took its hold (struct hms_held_dead).  Lock held.
 */
struct hms_pte *hms__pte_again_locked(struct hms *h, uintptr_t addr, uint64_t since);
/* Clear PTE_BUSY and wake threads waiting on h->cond; true if a CPU fault
 * waited (PTE_WAITERS: wake it with hms__uffd_wake()).  Lock held; the
 * pte may be freed on return (its range was unmapped meanwhile). */
bool hms__pte_unbusy_locked(struct hms *h, struct hms_pte *pte);
/* Wait (on h->cond) while the page is busy or migrating; returns with lock held. */
void hms__pte_wait_locked(struct hms *h, uintptr_t addr);

/* ------------------------------------------------------------------------
 * uffd.c - the fault engine
 * ---------------------------------------------------------------------- */

/* Opens h's descriptors; on failure the caller closes those that are
 * >= 0 (hms_open's err_uffd). */
int hms__uffd_open(struct hms *h, unsigned open_flags);
int hms__uffd_start(struct hms *h);
void hms__uffd_stop(struct hms *h);
int hms__uffd_register(struct hms *h, uintptr_t start, size_t len);
int hms__uffd_unregister(struct hms *h, uintptr_t start, size_t len);
/* UFFDIO_POISON; 0 or -errno, *done: bytes marked (h->uffd_poison only). */
int hms__uffd_poison(struct hms *h, uintptr_t start, size_t len, size_t *done);
/* Every mapping over the range registered, no event unread (a few
 * ioctls; false: cannot tell). */
bool hms__uffd_registered_fast(struct hms *h, uintptr_t start, size_t len);
/* Write-protect (wp = true) or unprotect; retries EAGAIN unless called
 * from the handler thread, where it returns -EAGAIN. */
int hms__uffd_wp(struct hms *h, uintptr_t start, size_t len, bool wp);
/* The same; wake false: threads waiting on the range stay asleep until
 * hms__uffd_wake() (their fault's table update is not done yet). */
int hms__uffd_wp_mode(struct hms *h, uintptr_t start, size_t len, bool wp, bool wake);
/* Inside the fill gate: an EAGAIN (an address-space change unread) is
 * tried again a few times at once, then returned, not waited out. */
int hms__uffd_wp_once(struct hms *h, uintptr_t start, size_t len, bool wp);
/* The same; wake false: as hms__uffd_wp_mode(). */
int hms__uffd_wp_once_mode(struct hms *h, uintptr_t start, size_t len, bool wp, bool wake);
/* Fill missing pages: src NULL = zeros. Returns bytes filled or -errno;
 * -EEXIST is reported only if nothing was filled.  wake: resume threads
 * waiting on those pages now (else the caller wakes them later). */
long hms__uffd_fill(struct hms *h, uintptr_t dst, const void *src, size_t len, bool wake);
void hms__uffd_wake(struct hms *h, uintptr_t start, size_t len);
/* Fill one missing page with zeros, write-protected (wake: and resume
 * the threads waiting on it). */
long hms__uffd_fill_wp(struct hms *h, uintptr_t addr, bool wake);
bool hms__in_handler(struct hms *h);
/* CLOCK_MONOTONIC in milliseconds (uffd.c). */
uint64_t hms__now_ms(void);
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t hms__now_ns(void);
/* The atfork child handler's part in uffd.c: its lock starts afresh. */
void hms__uffd_fork_child(void);
/* A decimal number in [min, max] from the environment variable name, or
 * def (unset, empty, not a number, out of range). */
unsigned hms__env_uint(const char *name, unsigned def, unsigned min, unsigned max);
/*
 * EAGAIN means an event (munmap, mremap, madvise) is waiting to be read.
 * Any thread but the handler just waits for the handler to read it:
 * yields, then sleeps 20 us a try; false (give up) in the handler, while
 * closing, or after 100,000 tries (*tries counts them).
 */
bool hms__uffd_eagain_wait(struct hms *h, unsigned *tries);
/*
 * Wait until the handler has processed every message it had started to
 * read: events of munmap/mremap/madvise calls that already returned are
 * then reflected in the table.  No-op in the handler.  Callers must not
 * hold a lock the handler may wait for.
 */
void hms__uffd_sync(struct hms *h);
/*
 * Wait until no address-space change (munmap, mremap, MADV_DONTNEED) of
 * the process is unread -- the kernel's EAGAIN to UFFDIO_CONTINUE on
 * start, a registered page -- then hms__uffd_sync().  For hms_alloc and
 * hms_manage before they insert an area.  No-op in the handler.
 */
void hms__uffd_events_read(struct hms *h, uintptr_t start);
/* hms_unmanage() let [s, e) go without an event: the handler's records
 * of mremaps' old ranges inside it go too, and those it cuts into that no
 * UNMAP of their own will take (uffd.c).  Takes ev_lock. */
void hms__uffd_remap_forget(struct hms *h, uintptr_t s, uintptr_t e);
/* The fill gate (uffd.c): a fill checked against the table cannot land
 * in pages an mremap moved in while the handler had read but not yet
 * processed its event.  seen = hms__uffd_gate_sync(); check the table;
 * if hms__uffd_gate_enter(seen) fill once (hms__uffd_fill_once) and
 * hms__uffd_gate_exit(), else start over. */
uint64_t hms__uffd_gate_sync(struct hms *h);
bool hms__uffd_gate_enter(struct hms *h, uint64_t seen);
void hms__uffd_gate_exit(struct hms *h);
/* UFFDIO_COPY of [dst, dst + len) once: EAGAIN is not waited out.
 * Bytes done, or -errno when none. */
long hms__uffd_fill_once(struct hms *h, uintptr_t dst, const void *src, size_t len);
/* Would a migration's fill of [dst, dst + 2 MiB) go in as one move, maybe
 * one huge page (page reuse on, a whole aligned block of a huge area,
 * read-write)?  h->lock held. */
bool hms__uffd_fill_whole_locked(struct hms *h, uintptr_t dst);
/* Resolve a fault for a page (from the handler or a device fault path).
 * Returns 0 when the page is present (and writable if write), -EAGAIN to
 * retry later, another -errno on failure. */
int hms__fault_page(struct hms *h, uintptr_t addr, bool write, bool cpu);
/* What hms__kernel_copy_fault() did with a page. */
enum hms_kcopy {
	HMS_KCOPY_UNMANAGED, /* no context in user-mode-only mode manages it */
	HMS_KCOPY_RESOLVED,  /* resolved as a CPU access would: try again */
	HMS_KCOPY_STOP,      /* managed, but the copy must end there */
};
/* A copy through the kernel (usercopy.c) stopped at addr (the page it
 * reads when !write, writes when write): if a context in user-mode-only
 * mode manages it, resolve the page as a CPU access would (context.c). */
enum hms_kcopy hms__kernel_copy_fault(uintptr_t addr, bool write);
/* Does this thread hold a migration of h (hms_migrate_vma_setup() done on
 * it, finalize not yet)?  Its pages then wait for this thread.  Caller
 * holds h->lock (migrate.c). */
bool hms__migrating_here(const struct hms *h);
/* Self-zap: discard system pages of [start, end) without reporting a
 * CLEAR.  0, or -EAGAIN / -errno of madvise with some pages maybe
 * discarded and some not (hms__pages_absent tells them apart). */
int hms__zap(struct hms *h, uintptr_t start, size_t len);
/* Bit j of *absent: page start + j (j < n <= 64) is neither present nor
 * swapped (pagemap).  0, or -1 where the pagemap cannot be read (then
 * *absent is 0). */
int hms__pages_absent(struct hms *h, uintptr_t start, unsigned n, uint64_t *absent);
/* munmap() a range hms_free() took out of the table already; its UNMAP
 * event is not applied to an area made there since.  Returns once the
 * event was handled: 0, or -errno of munmap(). */
int hms__unmap_own(struct hms *h, uintptr_t start, size_t len);
/*
 * Discard [start, start + len) (at most HMS_MIGRATE_MAX_BYTES) through
 * the fill gate, inside hms__uffd_gate_enter/exit: UFFDIO_MOVE takes the
 * pages into a spare range and fails with EAGAIN while an address-space
 * change is unread, so pages an mremap moved in are never discarded.
 * *slot receives the spare range (NULL if none): empty it after the gate
 * with hms__uffd_discard_done(h, *slot, bytes moved), whatever the result.
 * Bytes moved (holes count), or -errno when none: -EAGAIN (an event is
 * unread: look at the table again), -EOPNOTSUPP where the kernel cannot
 * move (before Linux 6.8, HMS_UFFD_MOVE=0), -ENOMEM (no spare range),
 * another -errno (EINVAL, EBUSY: read-only, locked, pinned pages) for
 * pages it will not move: the caller discards those with hms__zap.
 */
struct hms_discard; /* a spare range, uffd.c */
long hms__uffd_discard_move(struct hms *h, uintptr_t start, size_t len,
			    struct hms_discard **slot);
void hms__uffd_discard_done(struct hms *h, struct hms_discard *slot, size_t len);
void hms__uffd_discard_fini(struct hms *h);

/* ------------------------------------------------------------------------
 * wp.c - write protection: one mechanism for replicas, exclusive access
 * and dirty tracking
 * ---------------------------------------------------------------------- */

/*
 * Write-protect pages of [start, end) for op->why (PTE_REPLICA,
 * PTE_EXCLUSIVE or PTE_TRACK; 0 for none), telling devices first with an
 * op->event invalidation (owner op->owner), so none keeps write access.
 * select() (hms.lock held) picks the pages, among those not busy or
 * migrating; the picked ones in system memory are protected, and with
 * unpopulated those thought missing too (where the table says PTE_WP
 * only of pages in system memory); mark() (may be NULL; hms.lock held)
 * then sees every picked page, and whether it was protected.  Returns
 * pages protected in system memory, or -errno if none could be.  No lock
 * held; not from the handler thread.
 */
struct hms__wp_op {
	uint16_t why;
	enum hms_event event;
	void *owner;
	/* Protect pages the table thinks missing too: a page given MADV_FREE
	 * stays in place, writable, after its REMOVE event (dirty.c). */
	bool unpopulated;
	bool (*select)(struct hms *h, struct hms_pte *pte, uintptr_t addr, void *arg);
	void (*mark)(struct hms *h, struct hms_pte *pte, uintptr_t addr, bool prot, void *arg);
	void *arg;
};
long hms__wp_protect_op(struct hms *h, uintptr_t start, uintptr_t end,
			const struct hms__wp_op *op);
/*
 * Pages of [start, end) protected for @why stop being so (an @ev
 * invalidation first); the protection is lifted where no other reason
 * keeps it.  Pages or -errno.
 */
long hms__wp_unprotect(struct hms *h, uintptr_t start, uintptr_t end, uint16_t why,
		       enum hms_event ev);
/*
 * The first write to a page hms protected (a CPU write-protect fault, or
 * a device write through hms_range_fault()): drop replicas and exclusive
 * access (invalidations), record the write for dirty tracking, lift the
 * protection.  Called with hms.lock held on a system page that is not
 * busy; returns with it dropped.  0, or -EAGAIN (handler: retry), -errno.
 */
int hms__wp_fault_locked(struct hms *h, struct hms_pte *pte, uintptr_t addr, bool cpu);
/*
 * A kernel write at addr (range.c's fault_in, user-mode-only mode) was
 * refused with EFAULT where the table has a writable system page that no
 * one holds: the kernel kept a protection hms no longer records.  Lift it
 * as a CPU write's fault lifts a stale one.  True if it tried.
 */
bool hms__wp_lift_stale(struct hms *h, uintptr_t addr);
/* The context's write protection resolves CPU writes in the kernel
 * (HMS_OPEN_WP_ASYNC): nothing can wait for a CPU write. */
bool hms__wp_async(const struct hms *h);

/* ------------------------------------------------------------------------
 * replica.c - read-mostly replication
 * ---------------------------------------------------------------------- */

/*
 * range.c, a device read fault on a system page: true when the page is
 * READ_MOSTLY and must first be protected for replication.  Lock held.
 */
bool hms__replica_wanted_locked(struct hms *h, const struct hms_pte *pte, uintptr_t addr,
				void *owner);
/* Protect the READ_MOSTLY system pages of [start, end) for replication:
 * pages protected or -errno.  No lock held. */
long hms__replica_arm(struct hms *h, uintptr_t start, uintptr_t end);
/* A replicated page is handed to device @owner: count the new holder. */
void hms__replica_grant_locked(struct hms *h, struct hms_pte *pte, void *owner);
/* Drop every replica of [start, end) (UNSET_READ_MOSTLY): 0 or -errno. */
int hms__replica_drop(struct hms *h, uintptr_t start, uintptr_t end);

/* ------------------------------------------------------------------------
 * advice.c - hms_advise()
 * ---------------------------------------------------------------------- */

struct hms_advice_state;
bool hms__advice_read_mostly(struct hms *h, uintptr_t addr);
/* Does device @owner hold ACCESSED_BY advice at addr?  hms.lock held. */
bool hms__advice_accessed_by_locked(struct hms *h, uintptr_t addr, void *owner);
/* [start, end) stopped being managed: drop its advice.  hms.lock held. */
void hms__advice_remove_locked(struct hms *h, uintptr_t start, uintptr_t end);
/* mremap moves the advice of [from, from + len) to to, as the policy's
 * (below): reserve first (0 or -ENOMEM), then the move needs no memory. */
int hms__advice_move_reserve_locked(struct hms *h, uintptr_t from, size_t len);
void hms__advice_move_locked(struct hms *h, uintptr_t from, uintptr_t to, size_t len);
void hms__advice_fini(struct hms *h);

/* ------------------------------------------------------------------------
 * notifier.c - invalidations, mirrors, intervals
 * ---------------------------------------------------------------------- */

struct hms_notifier {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* guarded by lock: */
	struct hms_mirror *mirrors;
	struct hms_itree intervals;
	unsigned long invalidate_seq; /* odd while any invalidation runs */
	unsigned active;              /* invalidations running */
	struct hms_interval *deferred; /* insert/remove deferred to the end */
	struct hms_notify_range *ranges; /* ranges being invalidated */
	unsigned nranges, capranges;
	unsigned unrecorded; /* running without a record (no memory for it) */
	unsigned callbacks_running;
};

int hms__notifier_init(struct hms_notifier *n);
void hms__notifier_fini(struct hms *h);
/*
 * Send one invalidation to every mirror and every overlapping interval.
 * With HMS_NOTIFY_BLOCKABLE it always succeeds; without it, it returns
 * -EAGAIN if a subscriber could not proceed (nothing to undo: callbacks
 * that ran only dropped mirrored state).
 */
int hms__notify(struct hms *h, uintptr_t start, uintptr_t end,
		enum hms_event ev, unsigned flags, void *owner);
/*
 * The two halves of hms__notify(), for changes hms makes itself: between
 * start and end the range reads as invalidating (range faults overlapping
 * it fail with -EBUSY, interval readers wait), so no device can map what
 * is being changed.  Every successful start is paired with an end.
 */
int hms__notify_start(struct hms *h, const struct hms_notify_range *r);
void hms__notify_end(struct hms *h, const struct hms_notify_range *r);
void hms__notifier_release(struct hms *h);

bool hms__interval_check(struct hms_interval *iv, unsigned long seq);

/* ------------------------------------------------------------------------
 * devmem.c - device memory
 * ---------------------------------------------------------------------- */

struct hms_devmem {
	struct hms *h;
	struct hms_devmem_desc desc;
	char *name;
	struct hms_devmem_ops ops;
	void *priv;
	hms_pfn first;
	uint64_t npages;
	hms_uid target;
	unsigned callbacks; /* driver callbacks running; hms.lock */
	/* Pages that left the table when no free list could grow: one bit per
	 * page, norphans of them set, waiting for page_free(); hms.lock. */
	uint64_t *orphans;
	uint64_t norphans;
	/* Pages hms holds, one bit each: given in a migration's dst[]
	 * (check_dst) until handed back to be freed (hms__free_list_push),
	 * in a page table entry meanwhile if they moved.  A driver giving
	 * one of them again is refused.  hms.lock. */
	uint64_t *held;
	struct hms_devmem *next; /* h->devmems, guarded by hms.lock */
};

struct hms_devmem *hms__devmem_of_pfn_locked(struct hms *h, hms_pfn pfn);
/* Whether hms holds dm's page pfn (dm->held), and set or clear it;
 * hms.lock. */
bool hms__devmem_held_locked(const struct hms_devmem *dm, hms_pfn pfn);
void hms__devmem_hold_locked(struct hms_devmem *dm, hms_pfn pfn, bool held);
/*
 * Around every driver callback of a devmem: get (hms.lock held, where the
 * devmem was found) and put (no lock) keep hms_devmem_remove() from
 * freeing it while the callback runs.
 */
static inline void hms__devmem_get_locked(struct hms_devmem *dm)
{
	dm->callbacks++;
}
void hms__devmem_put(struct hms *h, struct hms_devmem *dm);

/* ------------------------------------------------------------------------
 * migrate.c - migrate_vma
 * ---------------------------------------------------------------------- */

void hms__staging_fini(struct hms *h);

/* ------------------------------------------------------------------------
 * policy_tree.c - the policy tree: non-overlapping ranges with a policy
 * each; two adjacent ranges never carry the same policy (they merge).
 * Not thread-safe: policy.c locks it.
 * ---------------------------------------------------------------------- */

struct hms_pol {
	uint8_t mode;     /* enum hms_policy_mode */
	uint8_t ntargets; /* 0 for DEFAULT */
	hms_uid targets[HMS_BIND_MAX_TARGETS];
};

struct hms_ptree_entry {
	struct hms_itree_node node; /* [node.start, node.last] */
	struct hms_pol pol;
};

#define HMS_PTREE_SPARES 2
struct hms_ptree {
	struct hms_itree t;
	size_t n; /* entries */
	/* Free entries, linked by node.right: HMS_PTREE_SPARES after
	 * hms__ptree_reserve(), more while a move's reservation lasts. */
	struct hms_ptree_entry *spares;
	size_t nspare;
};

bool hms__pol_equal(const struct hms_pol *a, const struct hms_pol *b);
void hms__ptree_init(struct hms_ptree *t);
void hms__ptree_fini(struct hms_ptree *t);
/* Make the next hms__ptree_set() allocation-free: 0 or -ENOMEM. */
int hms__ptree_reserve(struct hms_ptree *t);
/* Free the entries kept beyond HMS_PTREE_SPARES. */
void hms__ptree_trim(struct hms_ptree *t);
/*
 * mremap: [to, to + len) takes the entries of [from, from + len) (the two
 * do not overlap), which keep theirs.  hms__ptree_move_reserve() first
 * keeps as many free entries as that takes at most (one per entry of the
 * source, one for a split at the destination, and the usual spares): 0,
 * or -ENOMEM with none kept.  The move itself then needs no memory (it
 * tops the reservation up should the tree have changed meanwhile; what
 * finds no entry then is left DEFAULT) and frees what it did not use.
 */
int hms__ptree_move_reserve(struct hms_ptree *t, uintptr_t from, size_t len);
void hms__ptree_move(struct hms_ptree *t, uintptr_t from, uintptr_t to, size_t len);
/*
 * [start, end) (start < end) takes pol (mode DEFAULT: no policy).  Needs
 * no memory after a successful reserve; without it, a split that finds no
 * spare entry drops the right part's policy (it reverts to DEFAULT).
 */
void hms__ptree_set(struct hms_ptree *t, uintptr_t start, uintptr_t end,
		    const struct hms_pol *pol);
/* The policy at addr and the run [*start, *end) it covers: its entry, or
 * the gap between entries (bounded by 0 and UINTPTR_MAX). */
void hms__ptree_get(struct hms_ptree *t, uintptr_t addr, struct hms_pol *pol,
		    uintptr_t *start, uintptr_t *end);
/* Entries overlapping [start, end) in address order; fn returns false to
 * stop.  fn must not change the tree. */
void hms__ptree_for_each(struct hms_ptree *t, uintptr_t start, uintptr_t end,
			 bool (*fn)(const struct hms_ptree_entry *e, void *arg),
			 void *arg);
/* Checks every invariant (fuzzers, debug builds): true when sound. */
bool hms__ptree_check(struct hms_ptree *t);

/* ------------------------------------------------------------------------
 * hbind.c - the hbind atom stream
 * ---------------------------------------------------------------------- */

struct hms_hbind_op {
	uint32_t cmd;     /* HMS_HBIND_CMD_* */
	uint32_t *result; /* MIGRATE: where the page count goes */
};
/*
 * Decode and check everything of p that needs no context: the range's
 * shape, the counts, every atom.  Fills ops[HMS_HBIND_MAX_DWORDS];
 * returns the number of ops, -EINVAL or -E2BIG.
 */
long hms__hbind_decode(const struct hms_hbind_params *p, struct hms_hbind_op *ops);

/* ------------------------------------------------------------------------
 * placement.c - targets, migration between any targets, hms_where
 * ---------------------------------------------------------------------- */

/* A target resolved for placement: a NUMA node or a device memory. */
struct hms_tgt {
	hms_uid uid;
	int node;               /* >= 0: system node; -1: device memory */
	struct hms_devmem *dm;  /* device memory (has migrate_to_device); not
				 * held: may be removed and freed meanwhile, so
				 * only compared; a callback finds it again by
				 * uid and holds it (placement.c) */
};
/* Resolve and check n uids (1 .. HMS_BIND_MAX_TARGETS): 0, -EINVAL,
 * -E2BIG, -ENOENT, -EXDEV. */
int hms__targets_resolve(struct hms *h, const hms_uid *uids, size_t n,
			 struct hms_tgt *out);
/* Common range check: 0, -EINVAL (shape) or -ENOENT (not all managed). */
int hms__placement_range(struct hms *h, const void *addr, size_t len);
/* Move the populated pages of [start, end) onto tgt[0..n) in order;
 * pages moved onto a listed target, or -errno. */
long hms__migrate_range(struct hms *h, uintptr_t start, uintptr_t end,
			const struct hms_tgt *tgt, size_t n);

/* ------------------------------------------------------------------------
 * policy.c - per-range placement policy (hms_bind, hbind)
 * ---------------------------------------------------------------------- */

struct hms_policy_state;
/* Apply a policy to a checked range (targets resolved): 0 or -errno. */
int hms__policy_apply(struct hms *h, uintptr_t start, uintptr_t end,
		      unsigned mode, const struct hms_tgt *tgt, size_t n);
/*
 * Does the policy at addr list the memory of the device with pgmap owner
 * @owner (range.c: a device touching a system page it should hold)?
 * hms.lock held.  False in the handler thread.  (range.c asks once per
 * page and hms_range_fault() call: a page that could not be placed is
 * used where it is, and the next call tries again.)
 */
bool hms__policy_wants_device_locked(struct hms *h, uintptr_t addr, void *owner);
/* hms_migrate(HMS_MIGRATE_POLICY) on a checked range: pages moved or -errno. */
long hms__policy_migrate(struct hms *h, uintptr_t start, uintptr_t end);
void hms__policy_fini(struct hms *h);
/* mremap moved [from, from + len) to [to, to + len): so does its policy
 * (the old range keeps it until unmapped).  The reservation first (0 or
 * -ENOMEM); then the move needs no memory.  hms.lock held. */
int hms__policy_move_reserve_locked(struct hms *h, uintptr_t from, size_t len);
void hms__policy_move_locked(struct hms *h, uintptr_t from, uintptr_t to, size_t len);
/* [start, end) stopped being managed: drop its policy.  hms.lock held. */
void hms__policy_remove_locked(struct hms *h, uintptr_t start, uintptr_t end);
/*
 * A device (pgmap owner @owner) is about to fault the page at @addr in:
 * if the range's policy lists that device's memory, move the page there
 * (a first touch or a return) and return 1; 0 when the policy says
 * nothing or the page could not be placed (the device is full, say).
 * With it go the pages after it, up to @limit, that the device asks for
 * too (@write: for writing) and may place alike, in one migration: system
 * pages after a system page, the same device's pages after another
 * device's page (one eviction first); never-populated pages after a
 * never-populated one, a few, whatever @limit.
 * Called without locks held, never from the handler thread.
 */
int hms__policy_place_device(struct hms *h, uintptr_t addr, void *owner, uintptr_t limit,
			     bool write);

/* ------------------------------------------------------------------------
 * stats.c
 * ---------------------------------------------------------------------- */

struct hms_stats_atomic {
	_Atomic uint64_t cpu_faults, cpu_faults_device, device_faults, wp_faults;
	_Atomic uint64_t migrations_to_device, migrations_to_system;
	_Atomic uint64_t bytes_to_device, bytes_to_system;
	_Atomic uint64_t invalidations[9];
	_Atomic uint64_t replicas_made, replicas_collapsed, prefaulted;
	/* Not in struct hms_stats (its size is fixed): pages a migration to
	 * system memory found present although the table had them on a
	 * device (uffd.c, uffd_fill).  Never should happen; hms stress and
	 * the tests read it through hms__test_fill_conflicts(). */
	_Atomic uint64_t fill_conflicts;
};

#define HMS_STAT_ADD(h, field, v) \
	atomic_fetch_add_explicit(&(h)->stats.field, (v), memory_order_relaxed)

/* hms_close(): appends the final counters to $HMS_STATS_FILE, if set. */
void hms__stats_report(struct hms *h);

/* ------------------------------------------------------------------------
 * topology*.c - objects, discovery, export
 * ---------------------------------------------------------------------- */

struct hms_topo_state;
int hms__topology_open(struct hms *h, const char *sysfs_root, unsigned flags);
void hms__topology_close(struct hms *h);
/* Target uid of a NUMA node, 0 if unknown. */
hms_uid hms__topology_node_target(struct hms *h, int node);
/* Register device memory as a target; 0 on failure. */
hms_uid hms__topology_devmem_target(struct hms *h, const char *name,
				    uint64_t bytes, enum hms_devmem_kind kind);
void hms__topology_remove(struct hms *h, hms_uid uid);

/*
 * A snapshot under construction (topology.c): discovery and the
 * registration calls build a fresh struct hms_topology with these, then
 * publish it.  Not thread-safe: the builder owns the snapshot until then.
 */
struct hms_topology *hms__topo_new(void);
/* Append objects; the new uid, or 0 (errno set: EINVAL, ENOENT, ENOMEM). */
hms_uid hms__topo_add_target(struct hms_topology *t,
			     const struct hms_target_desc *d,
			     const struct hms_memcache *caches, unsigned ncaches);
hms_uid hms__topo_add_initiator(struct hms_topology *t,
				const struct hms_initiator_desc *d);
hms_uid hms__topo_add_link(struct hms_topology *t, const struct hms_link_desc *d);
hms_uid hms__topo_add_bridge(struct hms_topology *t,
			     const struct hms_bridge_desc *d);
/* Record a warning ("file: what is wrong, what is left out"). */
void hms__topo_warn(struct hms_topology *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The SLIT: nodes[n] and an n x n matrix (copied). */
int hms__topo_set_distances(struct hms_topology *t, const int *nodes,
			    unsigned n, const unsigned *matrix);
/* Read back what was recorded (export). */
unsigned hms__topo_distances(const struct hms_topology *t, const int **nodes,
			     const unsigned **matrix);
/* Parse a kernel cpulist ("0-3,8"); *cpus malloc'd, sorted, unique. */
int hms__cpulist_parse(const char *s, unsigned **cpus, unsigned *n);
/* Format cpus[n] (sorted) as a cpulist into buf; returns the length. */
size_t hms__cpulist_format(const unsigned *cpus, unsigned n, char *buf,
			   size_t cap);

/*
 * topology_sysfs.c - discovery.  The reader below lets the fuzzer feed an
 * in-memory tree; hms__topology_discover() reads a real directory.
 */
struct hms__topo_fs {
	/* Read a whole file (path relative to the root, no leading '/'):
	 * length read (buf NUL-terminated, truncated to cap - 1), -errno. */
	long (*read)(const struct hms__topo_fs *fs, const char *path, char *buf,
		     size_t cap);
	/* Call fn for each entry name of a directory; 0 or -errno. */
	int (*list)(const struct hms__topo_fs *fs, const char *dir,
		    void (*fn)(const char *name, void *arg), void *arg);
	/* Read a symlink's target; length or -errno. */
	long (*readlink)(const struct hms__topo_fs *fs, const char *path,
			 char *buf, size_t cap);
	const char *root; /* a real directory, for hwloc; NULL otherwise */
	void *priv;
};
int hms__topology_discover_fs(const struct hms__topo_fs *fs,
			      struct hms_topology **out);
int hms__topology_discover(const char *root, struct hms_topology **out);
/* "DRAM", "HBM", ... for enum hms_target_kind. */
const char *hms__topo_kind_word(unsigned kind);

/* ------------------------------------------------------------------------
 * context.c
 * ---------------------------------------------------------------------- */

struct hms_zap; /* self-zap records, uffd.c */

struct hms_staging; /* staging buffers, migrate.c */

/* How long a call waits for a stale area's event, in ms (area.c): the
 * thread that unmapped queues it as soon as it runs again, so this is a
 * bound for a loaded machine, not a wait anyone should see.
 * $HMS_STALE_WAIT_MS sets it at hms_open() (tests: 0 gives up at once,
 * the path a loaded machine takes). */
#define HMS_STALE_WAIT_MS_DEFAULT 2000

/* ------------------------------------------------------------------------
 * thrash.c - pages passed back and forth: rounds counted per 2 MiB block,
 * a block pinned for a while after too many (device touches place none
 * of its pages).  Every call with hms.lock held.
 * ---------------------------------------------------------------------- */

/* One block's record: a slot of the table struct hms.thrash (hms.lock). */
struct hms_thrash {
	uintptr_t block;          /* 2 MiB aligned; 0: a free slot */
	const void *placer;       /* the owner whose touch placed a page last */
	uint64_t round_ns;        /* when the last round was counted */
	uint64_t last_ns;         /* the last placement or round */
	uint64_t pinned_until_ns; /* no placement by a touch before (0: none) */
	uint8_t rounds;           /* rounds so far, each within the window */
	bool placed;              /* a page placed since the last round */
};

/* HMS_THRASH_ROUNDS, HMS_THRASH_MS, HMS_THRASH_PIN_MS (at open). */
void hms__thrash_init(struct hms *h);
/* Free the table (hms_close). */
void hms__thrash_fini(struct hms *h);
/* A device's touch placed addr's page in its memory (owner: its pgmap
 * owner). */
void hms__thrash_placed_locked(struct hms *h, uintptr_t addr, const void *owner);
/* A page at addr left a device's memory for taker's touch (a device's
 * pgmap owner; NULL: a CPU fault). */
void hms__thrash_taken_locked(struct hms *h, uintptr_t addr, const void *taker);
/* Is addr's block pinned: may no device touch place its pages now? */
bool hms__thrash_pinned_locked(struct hms *h, uintptr_t addr);
/* Forget the records of blocks [start, end) touches (a new policy, the
 * range unmapped or unmanaged). */
void hms__thrash_forget_locked(struct hms *h, uintptr_t start, uintptr_t end);

struct hms {
	/* Set at open, read-only after. */
	int uffd;
	int uffd_spare; /* the spare ranges' own userfaultfd (uffd.c), or -1 */
	int age_fd;     /* timerfd: kept pages to age (uffd.c), or -1 */
	unsigned pool_idle_ms; /* HMS_PAGE_POOL_IDLE_MS; 0 without age_fd */
	int wake_fd; /* eventfd: stops the handler */
	enum hms_uffd_mode mode;
	uint64_t features; /* the kernel's: UFFDIO_API reports all it has */
	bool wp_async;     /* UFFD_FEATURE_WP_ASYNC enabled (wp.c) */
	bool uffd_move;    /* UFFD_FEATURE_MOVE enabled: gated discards */
	bool uffd_poison;  /* UFFD_FEATURE_POISON enabled: hms_close() marks
			    * the pages it could not bring home */
	bool test_swap;    /* tests: take swap for on (hms__test_assume_swap) */
	int only_node;     /* the machine's one NUMA node, or -1 if it has more */
	pthread_t handler;
	pid_t handler_tid;
	bool handler_started;
	struct handler_state *handler_state; /* uffd.c, handler thread's own */
	unsigned fault_around; /* pages a CPU fault on device memory moves */
	bool fault_huge; /* and a whole 2 MiB block of a huge area (uffd.c) */
	size_t fault_block_bytes; /* blocks faults asked for so (tests); hms.lock */
	unsigned stale_wait_ms; /* how long a call waits for a stale area's
				 * event (area.c; HMS_STALE_WAIT_MS) */
	uint64_t spin_ns;      /* the fault handler polls this long after work
				* before it sleeps (HMS_HANDLER_SPIN_US, 0 =
				* never: it costs the application CPU time) */
	unsigned thrash_rounds;    /* HMS_THRASH_ROUNDS (0: no damping) */
	uint64_t thrash_window_ns; /* HMS_THRASH_MS */
	uint64_t thrash_pin_ns;    /* HMS_THRASH_PIN_MS */

	/*
	 * lock guards: areas and their page tables, devmems, zaps, staging,
	 * discards.
	 * Never held across a call that waits for the fault handler
	 * (madvise/munmap/mremap of managed memory, uffd ioctls that may
	 * return EAGAIN, driver callbacks).  cond is broadcast whenever a
	 * pte leaves PTE_BUSY or PTE_MIGRATING.
	 */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/*
	 * Makes the overlap check, registration and insertion of
	 * hms_manage/hms_alloc one step (area.c): without it, a hms_manage
	 * that lost a race registered the range, found the winner's area and
	 * unregistered the range, the winner's with it.  Taken before lock;
	 * never by the fault handler, never across a driver callback.
	 */
	pthread_mutex_t manage_lock;
	struct hms_area *areas;
	struct hms_devmem *devmems;
	hms_pfn next_pfn;
	struct hms_zap *zaps;
	struct hms_zap *unmaps; /* hms_free()'s munmaps, until handled (uffd.c) */
	struct hms_leaving *leaving; /* ranges hms_unmanage() lets go (area.c) */
	struct hms_staging *staging;
	struct hms_discard *discards; /* free spare ranges (uffd.c) */
	/* Spare ranges holding discarded pages for the way back (uffd.c,
	 * "page reuse"): at most pool_max / 2 MiB of them (pool_max is set
	 * at open). */
	struct hms_discard *pool;
	size_t pool_max;
	unsigned pool_ranges; /* ranges kept, in the pool or being used */
	size_t pool_copied;   /* bytes copied into kept pages (tests) */
	/* Whole 2 MiB fills of huge areas through a fresh huge page when no
	 * kept range is whole (uffd.c, pool_fill; set at open: page reuse
	 * on and transparent huge pages not "never"); bytes filled so. */
	bool huge_fill;
	size_t huge_filled;
	/* 2 MiB blocks of huge areas whose data left as one huge page (its
	 * page table entry moved whole, none left behind): a fresh huge page
	 * moves back in whole only there (elsewhere the kernel splits it).
	 * Direct-mapped by block number, NULL until first needed, h->lock;
	 * a stale entry only costs speed.  pagemap_fd: /proc/self/pagemap
	 * for PAGEMAP_SCAN, -1 until first needed. */
	uintptr_t *huge_left;
	size_t huge_left_bytes; /* blocks noted so, in bytes (tests) */
	int pagemap_fd;
	/* Kept ranges stay as they are (hot: written pages, fast to write
	 * again) until pool_idle_ms after the last was kept, then get
	 * MADV_FREE on the handler thread, woken by the timer age_fd
	 * (uffd.c, "page reuse").  pool_hot: hot ranges, in the pool or
	 * being used; pool_stamp: when the last was kept (ms). */
	unsigned pool_hot;
	uint64_t pool_stamp;
	bool dead_areas; /* some pte has PTE_DEAD: reap at finalize */
	struct hms_held_dead *held_dead; /* see struct hms_held_dead */
	uint64_t detaches; /* held entries moved to held_dead so far: a hold
			    * notes it when taken (hms__pte_again_locked) */
	bool forking;    /* fork() is copying the address space: no page may
			  * move to a device until it is done (context.c) */
	unsigned to_device; /* system -> device migrations between setup and
			     * finalize */
	struct hms_migrate_core *held; /* migrations between setup and
					* finalize, each with the thread that
					* set it up (migrate.c) */
	unsigned kcopy_refs; /* kernel copies resolving a page of this
			      * context (context.c): hms_close() waits for
			      * none */

	struct hms_notifier notifier;
	struct hms_stats_atomic stats;
	struct hms_topo_state *topo;
	struct hms_policy_state *policy; /* policy.c, its own lock */
	/* thrash.c, hms.lock: an open-addressed table of thrash_cap slots (a
	 * power of two; NULL until the first placement), thrash_used taken. */
	struct hms_thrash *thrash;
	size_t thrash_cap, thrash_used;
	struct hms_advice_state *advice; /* advice.c, its own lock (taken
					  * inside hms.lock) */

	struct hms *next_ctx; /* all contexts, for fork (context.c) */
	bool forked_child;    /* this copy lives in a fork child: unusable */
	/* hms_close() has begun (set under ctx_list_lock, ctx_lookup_lock
	 * and hms.lock: no new kernel copy finds the context), and has
	 * brought every page home (under hms.lock; fork() waits for it). */
	bool close_started;
	bool closing;
};

void hms__set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int hms__check(struct hms *h); /* -EINVAL for NULL, -ECHILD in a fork child */

/* inject.c (the points themselves: src/inject.h) */
void hms__inject_env(void); /* arm from $HMS_INJECT, when set */

#endif /* HMS_INTERNAL_H */
