/* SPDX-License-Identifier: MIT */
/*
 * wp.c - write protection of managed pages: the one mechanism that
 * read-mostly replication (replica.c), exclusive access (range.c) and
 * dirty tracking (dirty.c) share.  It owns setting userfaultfd write
 * protection with the matching invalidation, and resolving the first
 * write to a protected page.  Who asked for the protection is recorded in
 * the pte (PTE_REPLICA, PTE_EXCLUSIVE, PTE_TRACK, always with PTE_WP).
 *
 * Protecting, against a racing write:
 *
 *   wp_protect                          a writer (CPU fault or device)
 *   lock; page PTE_BUSY; unlock
 *   invalidation start (devices drop
 *     write access)
 *   UFFDIO_WRITEPROTECT                 store faults: page busy, the
 *                                       handler defers it (PTE_WAITERS)
 *   lock; PTE_WP | why; unbusy; unlock
 *   wake waiters; invalidation end      fault again: hms__wp_fault_locked
 *
 * A write before the ioctl is a write before the protection: it is part
 * of the state the protection starts from (dirty.c reports it, replicas
 * copy it).  A write after it always reaches hms__wp_fault_locked(), which
 * sends its invalidations before it lifts the protection, so no device
 * reads a replica after the write completed.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "compat/uffd_compat.h"
#include "core/internal.h"

bool hms__wp_async(const struct hms *h)
{
	return h->wp_async;
}

/* ---- protecting ------------------------------------------------------------ */

#define BIT_SET(v, i) ((v)[(i) / 64] |= 1ULL << ((i) % 64))
#define BIT_GET(v, i) (((v)[(i) / 64] >> ((i) % 64)) & 1)
#define BIT_CLR(v, i) ((v)[(i) / 64] &= ~(1ULL << ((i) % 64)))

/* Pages [i, j) of sys[] (runs of set bits) from `from` on: false at the end. */
static bool next_run(const uint64_t *v, size_t n, size_t from, size_t *i, size_t *j)
{
	size_t k = from;

	while (k < n && !BIT_GET(v, k))
		k++;
	if (k >= n)
		return false;
	*i = k;
	while (k < n && BIT_GET(v, k))
		k++;
	*j = k;
	return true;
}

/* Mark the pages select() wants busy; sel[] and sys[] (present in system
 * memory) record them, *since when (hms__pte_again_locked).  Returns how
 * many. */
static size_t wp_select(struct hms *h, uintptr_t start, size_t n, const struct hms__wp_op *op,
			uint64_t *sel, uint64_t *sys, uint64_t *since)
{
	size_t count = 0;

	pthread_mutex_lock(&h->lock);
	*since = h->detaches;
	for (size_t i = 0; i < n; i++) {
		uintptr_t p = start + (i << PAGE_SHIFT);
		struct hms_area *a = hms__area_find_locked(h, p);
		struct hms_pte *pte = a ? area_pte(a, p) : NULL;

		if (!pte || (pte->flags & (PTE_BUSY | PTE_MIGRATING | PTE_DEAD)) ||
		    !op->select(h, pte, p, op->arg))
			continue;
		pte->flags |= PTE_BUSY;
		BIT_SET(sel, i);
		if (pte->loc == HMS_LOC_SYSTEM || (op->unpopulated && pte->loc == HMS_LOC_NONE))
			BIT_SET(sys, i);
		count++;
	}
	pthread_mutex_unlock(&h->lock);
	return count;
}

/* The end of a pass over nr's range, after the table's: wakes the writers
 * its busy pages kept waiting, ends the invalidation if it began, frees
 * the pass's bitmaps. */
static void wp_pass_end(struct hms *h, const struct hms_notify_range *nr, bool notified,
			bool waiters, uint64_t *sel)
{
	if (waiters)
		hms__uffd_wake(h, nr->start, nr->end - nr->start);
	if (notified)
		hms__notify_end(h, nr);
	free(sel);
}

long hms__wp_protect_op(struct hms *h, uintptr_t start, uintptr_t end, const struct hms__wp_op *op)
{
	struct hms_notify_range nr = { start, end, op->event, HMS_NOTIFY_BLOCKABLE, op->owner };
	size_t n = (end - start) >> PAGE_SHIFT, words = (n + 63) / 64, i, j;
	uint64_t *sel = calloc(3 * words, sizeof(uint64_t)), *sys, *bad;
	bool notified, waiters = false;
	uint64_t since;
	long done = 0;
	int err = 0;

	if (!sel)
		return -ENOMEM;
	sys = sel + words;
	bad = sys + words;
	if (!wp_select(h, start, n, op, sel, sys, &since)) {
		free(sel);
		return 0;
	}
	notified = hms__notify_start(h, &nr) == 0;
	hms__test_hook_run(h, HMS_HOOK_WP_PROTECT, start, end - start);
	for (size_t k = 0; next_run(sys, n, k, &i, &j); k = j) {
		int r = hms__uffd_wp(h, start + (i << PAGE_SHIFT), (j - i) << PAGE_SHIFT, true);

		if (r) {
			err = err ? err : r;
			for (size_t x = i; x < j; x++)
				BIT_SET(bad, x);
		}
	}
	pthread_mutex_lock(&h->lock);
	for (size_t k = 0; next_run(sel, n, k, &i, &j); k = j) {
		for (size_t x = i; x < j; x++) {
			uintptr_t p = start + (x << PAGE_SHIFT);
			struct hms_pte *pte = hms__pte_again_locked(h, p, since);
			/* (in the table: not if a discard took the page
			 * meanwhile, uffd.c, nor if none was thought there) */
			bool prot = BIT_GET(sys, x) && !BIT_GET(bad, x) &&
				    (pte->loc == HMS_LOC_SYSTEM || op->unpopulated);

			if (prot && pte->loc == HMS_LOC_SYSTEM) {
				pte->flags |= PTE_WP | op->why;
				done++;
			}
			/* A run the ioctl failed on may be protected in part
			 * (the kernel goes mapping by mapping, page by page
			 * before Linux 6.5, up to the one it cannot take):
			 * recorded, for no reason, so that the next write lifts
			 * it (one ioctl if it was not).  Unrecorded, a kernel
			 * write in user-mode-only mode failed for good
			 * (tests/wp_protect_partial_race). */
			if (BIT_GET(bad, x) && pte->loc == HMS_LOC_SYSTEM &&
			    !(pte->flags & PTE_DEAD))
				pte->flags |= PTE_WP;
			if (op->mark)
				op->mark(h, pte, p, prot, op->arg);
			waiters |= hms__pte_unbusy_locked(h, pte);
		}
	}
	pthread_mutex_unlock(&h->lock);
	wp_pass_end(h, &nr, notified, waiters, sel);
	return done ? done : err;
}

/* ---- lifting protection ------------------------------------------------------ */

#define PTE_WP_WHY (PTE_REPLICA | PTE_EXCLUSIVE | PTE_TRACK)

/* The page stops being protected for why; the state a lifted protection
 * leaves (lock held, protection already lifted in the kernel if *lift). */
static void wp_lifted_locked(struct hms *h, struct hms_pte *pte, uint16_t why)
{
	if ((pte->flags & PTE_REPLICA) & why) {
		HMS_STAT_ADD(h, replicas_collapsed, (uint64_t)__builtin_popcount(pte->replicas));
		pte->replicas = 0;
	}
	if (why & PTE_EXCLUSIVE)
		pte->excl_owner = NULL;
	pte->flags &= (uint16_t)~why;
	if (!(pte->flags & PTE_WP_WHY)) {
		pte->flags &= (uint16_t)~PTE_WP;
		/* Writable again without a fault: the next write goes unseen. */
		if (pte->flags & PTE_TRACKED)
			pte->flags |= PTE_DIRTY;
	}
}

/* The page wp.c holds at p since `since` is gone: unmapped, or another
 * mapping moved onto p (its entry went dead, PTE_DEAD; its protection
 * went with it).  What is at p now is another page.  Lock held. */
static bool held_gone_locked(struct hms *h, uintptr_t p, uint64_t since)
{
	const struct hms_pte *pte = hms__pte_again_locked(h, p, since);

	return !pte || (pte->flags & PTE_DEAD);
}

/*
 * Lifting the protection of pages wp.c holds is by address, so it goes
 * through the fill gate like a fill (and like migrate.c's lift_stayed):
 * the table looked at after the handler caught up, the ioctl only if no
 * batch of events began since, and once: the kernel refuses it (EAGAIN)
 * while an address-space change is unread, and then the table is looked
 * at again.  Looked at and lifted without the gate, an
 * mremap(MREMAP_FIXED) of another mapping onto a held page in between
 * had the ioctl take the protection of the page that arrived: dirty
 * tracking missed its next write, a replica of it went stale
 * (tests/wp_lift_remap_race).  On the fault handler thread there is no
 * gate and none is needed (the kernel refuses the ioctl until the
 * handler, busy here, has read the event): one try, -EAGAIN for its retry
 * list.
 *
 * lift[]: the pages of those held from start (sel[], n of them, held
 * since `since`) to lift for why.  Lifted ones move to ok[], and so do
 * those another reason keeps protected (the table drops why alone); one
 * found gone is not lifted.  wake: as hms__uffd_wp_mode().  Returns 0 or
 * the first error (the pages it concerns stay in neither).
 */
static int wp_lift_held(struct hms *h, uintptr_t start, size_t n, uint16_t why, uint64_t since,
			uint64_t *lift, uint64_t *ok, bool wake)
{
	unsigned tries = 0;
	bool hooked = false;
	size_t i, j;
	int err = 0;

	for (;;) {
		uint64_t seen = hms__uffd_gate_sync(h);
		bool again = false, any = false;

		pthread_mutex_lock(&h->lock);
		for (size_t x = 0; x < n; x++) {
			uintptr_t p = start + (x << PAGE_SHIFT);

			if (!BIT_GET(lift, x))
				continue;
			if (held_gone_locked(h, p, since)) {
				BIT_CLR(lift, x);
			} else if (hms__pte_again_locked(h, p, since)->flags & PTE_WP_WHY & ~why) {
				BIT_CLR(lift, x); /* another reason keeps it protected */
				BIT_SET(ok, x);
			} else {
				any = true;
			}
		}
		pthread_mutex_unlock(&h->lock);
		if (!any)
			break;
		for (size_t k = 0; !hooked && next_run(lift, n, k, &i, &j); k = j)
			hms__test_hook_run(h, HMS_HOOK_WP_LIFT, start + (i << PAGE_SHIFT),
					   (j - i) << PAGE_SHIFT);
		hooked = true;
		if (!hms__uffd_gate_enter(h, seen)) {
			again = true; /* a batch of events began since we looked */
		} else {
			for (size_t k = 0; next_run(lift, n, k, &i, &j); k = j) {
				int r = hms__uffd_wp_once_mode(h, start + (i << PAGE_SHIFT),
							       (j - i) << PAGE_SHIFT, false, wake);

				if (r == -EAGAIN) {
					again = true; /* look again */
					continue;
				}
				for (size_t x = i; x < j; x++) {
					BIT_CLR(lift, x);
					if (!r)
						BIT_SET(ok, x);
				}
				err = err ? err : r;
			}
			hms__uffd_gate_exit(h);
		}
		if (!again || !hms__uffd_eagain_wait(h, &tries))
			break;
	}
	/* Given up on EAGAIN: those stay as they were. */
	for (size_t k = 0; next_run(lift, n, k, &i, &j); k = j) {
		for (size_t x = i; x < j; x++)
			BIT_CLR(lift, x);
		err = err ? err : -EAGAIN;
	}
	return err;
}

int hms__wp_fault_locked(struct hms *h, struct hms_pte *pte, uintptr_t addr, bool handler)
{
	/* On the fault handler thread nobody may wait (a driver thread holding
	 * its lock may be waiting for the handler): not blockable there. */
	struct hms_notify_range nr = { addr, addr + PAGE_SIZE, HMS_EVENT_EXCLUSIVE,
				       handler ? 0 : HMS_NOTIFY_BLOCKABLE, NULL };
	uint16_t why = pte->flags;
	uint64_t since = h->detaches, lift = 1, ok = 0;
	bool waiters;
	int ret;

	pte->flags |= PTE_BUSY;
	if (why & PTE_TRACKED)
		pte->flags |= PTE_DIRTY; /* before the writer can resume */
	pthread_mutex_unlock(&h->lock);
	/* Everyone who may read an old copy or write behind the CPU's back
	 * learns of the write before it can complete.  A subscriber that
	 * cannot without waiting refuses: the page stays as it is and the
	 * fault is retried. */
	if (why & PTE_EXCLUSIVE) {
		if (hms__notify_start(h, &nr))
			goto refused;
		hms__notify_end(h, &nr);
	}
	nr.event = HMS_EVENT_PROTECTION_PAGE;
	if (why & PTE_REPLICA) {
		if (hms__notify_start(h, &nr))
			goto refused;
		hms__notify_end(h, &nr);
	}
	/* The writer stays asleep until the table says what it did.  Gone
	 * meanwhile (the lift's look), the page is not lifted: at addr is
	 * another page, and its protection is not ours to lift. */
	ret = wp_lift_held(h, addr, 1, PTE_WP_WHY, since, &lift, &ok, false);
	pthread_mutex_lock(&h->lock);
	pte = hms__pte_again_locked(h, addr, since);
	if (ret == 0 && ok) {
		wp_lifted_locked(h, pte, PTE_WP_WHY);
		pte->flags &= (uint16_t)~PTE_WP; /* a stale protection too */
	}
	waiters = hms__pte_unbusy_locked(h, pte);
	pthread_mutex_unlock(&h->lock);
	HMS_STAT_ADD(h, wp_faults, 1);
	/* A CPU fault whose lift got EAGAIN waits in the handler's retry
	 * list: woken, its thread would fault again and queue one more
	 * message ahead of the event the EAGAIN waits for (uffd.c). */
	if (!(ret == -EAGAIN && handler) || waiters)
		hms__uffd_wake(h, addr, PAGE_SIZE);
	if (ret == -EAGAIN && handler)
		return -EAGAIN;
	return ret == -ENOENT ? 0 : ret;

refused:
	pthread_mutex_lock(&h->lock);
	pte = hms__pte_again_locked(h, addr, since);
	waiters = hms__pte_unbusy_locked(h, pte);
	pthread_mutex_unlock(&h->lock);
	if (waiters)
		hms__uffd_wake(h, addr, PAGE_SIZE);
	return -EAGAIN;
}

/*
 * A protection the table does not record can be left in the kernel: wp.c
 * protects by address after its look at the table, and an
 * mremap(MREMAP_FIXED) of another mapping onto the range in between has
 * the ioctl protect the pages that arrive (their entries came with them,
 * unprotected).  A CPU write lifts it (its fault reaches hms: "a stale
 * protection too", above); a kernel write in user-mode-only mode cannot
 * fault into hms, and fault_in was refused for good
 * (tests/device_write_stale_wp_race).  Only a page that nothing holds
 * (not BUSY, not MIGRATING: a protection on its way sets one of those
 * first) and that the table says is unprotected; lifting one that was
 * not protected costs an ioctl.
 */
bool hms__wp_lift_stale(struct hms *h, uintptr_t addr)
{
	struct hms_area *a;
	struct hms_pte *pte;

	addr &= PAGE_MASK;
	pthread_mutex_lock(&h->lock);
	a = hms__area_find_locked(h, addr);
	pte = a ? area_pte(a, addr) : NULL;
	if (!pte || pte->loc != HMS_LOC_SYSTEM ||
	    (pte->flags & (PTE_WP | PTE_BUSY | PTE_MIGRATING | PTE_DEAD))) {
		pthread_mutex_unlock(&h->lock);
		return false;
	}
	hms__wp_fault_locked(h, pte, addr, false); /* -EAGAIN: the caller tries again */
	return true;
}

static bool sel_why(struct hms *h, struct hms_pte *pte, uintptr_t addr, void *arg)
{
	(void)h;
	(void)addr;
	return pte->loc == HMS_LOC_SYSTEM && (pte->flags & *(uint16_t *)arg);
}

static long wp_unprotect_pass(struct hms *h, uintptr_t start, uintptr_t end, uint16_t why,
			      enum hms_event ev)
{
	struct hms_notify_range nr = { start, end, ev, HMS_NOTIFY_BLOCKABLE, NULL };
	struct hms__wp_op op = { .select = sel_why, .arg = &why };
	size_t n = (end - start) >> PAGE_SHIFT, words = (n + 63) / 64;
	uint64_t *sel = calloc(3 * words, sizeof(uint64_t)), *lift, *ok;
	bool notified, waiters = false;
	uint64_t since;
	long done = 0;
	int err;

	if (!sel)
		return -ENOMEM;
	lift = sel + words;
	ok = lift + words;
	if (!wp_select(h, start, n, &op, sel, lift, &since)) {
		free(sel);
		return 0;
	}
	/* Not in system memory: no protection of the kernel's to lift, the
	 * table drops why alone. */
	for (size_t x = 0; x < n; x++)
		if (BIT_GET(sel, x) && !BIT_GET(lift, x))
			BIT_SET(ok, x);
	notified = hms__notify_start(h, &nr) == 0;
	/* Lifted only where no other reason keeps the page protected; one
	 * that failed stays as it was. */
	err = wp_lift_held(h, start, n, why, since, lift, ok, true);
	pthread_mutex_lock(&h->lock);
	for (size_t x = 0; x < n; x++) {
		uintptr_t p = start + (x << PAGE_SHIFT);
		struct hms_pte *pte;

		if (!BIT_GET(sel, x))
			continue;
		pte = hms__pte_again_locked(h, p, since);
		if (BIT_GET(ok, x)) {
			wp_lifted_locked(h, pte, why);
			done++;
		}
		waiters |= hms__pte_unbusy_locked(h, pte);
	}
	pthread_mutex_unlock(&h->lock);
	wp_pass_end(h, &nr, notified, waiters, sel);
	return err && !done ? err : done;
}

HMS_API bool hms_wp_async(const struct hms *h)
{
	return h && hms__wp_async(h);
}

/* The first page of [start, end) that holds why and is busy (another
 * operation holds it: the pass above skipped it), or 0.  Lock held. */
static uintptr_t busy_with_locked(struct hms *h, uintptr_t start, uintptr_t end, uint16_t why)
{
	for (uintptr_t p = start; p < end; p += PAGE_SIZE) {
		struct hms_area *a = hms__area_find_locked(h, p);
		const struct hms_pte *pte = a ? area_pte_ro(a, p) : NULL;

		if (pte && (pte->flags & why) && (pte->flags & (PTE_BUSY | PTE_MIGRATING)))
			return p;
	}
	return 0;
}

/*
 * Pages another operation holds busy (a dirty scan, a write fault) are
 * skipped by a pass: they are waited for and passed over again, so that
 * no page keeps why (HMS_ADVICE_UNSET_READ_MOSTLY left replicas armed).
 * For HMS_STALE_WAIT_MS at most (2 s by default): called from a callback
 * of the very operation that holds them, waiting would never end.
 */
long hms__wp_unprotect(struct hms *h, uintptr_t start, uintptr_t end, uint16_t why,
		       enum hms_event ev)
{
	uint64_t t0 = hms__now_ms();
	long done = 0;

	for (;;) {
		long n = wp_unprotect_pass(h, start, end, why, ev);
		uintptr_t busy;

		if (n < 0)
			return done ? done : n;
		done += n;
		pthread_mutex_lock(&h->lock);
		busy = busy_with_locked(h, start, end, why);
		pthread_mutex_unlock(&h->lock);
		if (!busy || hms__now_ms() - t0 >= h->stale_wait_ms)
			return done;
		usleep(1000); /* then look again */
	}
}
