/* SPDX-License-Identifier: MIT */
/*
 * inject.h - fault injection for tests: named points in the library that
 * can be made to fail on purpose, so that tests and `hms stress --inject`
 * can show each failure ends in a clean error or a retry and loses no
 * data.  Test-only and internal: not part of hms.h or hms_driver.h, no
 * stability promise.  Shared by the core, the bundled softdev, the hms
 * tool and the tests (the one header outside include/ that a driver sees).
 *
 * Arming: HMS_INJECT="point:N[,point:N...]" in the environment (read by
 * every hms_open()), or hms__inject_arm() with the same string.  An armed
 * point fails every Nth time the library passes it (N >= 1; 1 = always),
 * counted per point over the whole process, so a single-threaded run is
 * reproducible.  Points:
 *
 *   dev_alloc    the softdev's page allocator finds no free page
 *   dev_copy     a migration's data copy fails: system -> device in the
 *                softdev (as if process_vm_readv failed), device -> system
 *                in the core (as if UFFDIO_COPY failed)
 *   thread       pthread_create of the fault handler or a softdev worker,
 *                and of the threads of `hms bench gpu`'s host floor
 *                (bench/bench_gpu_host.c: the run is cancelled, -EAGAIN)
 *   uffd_eagain  a userfaultfd ioctl of hms' descriptor (COPY, ZEROPAGE,
 *                WRITEPROTECT, MOVE, POISON) answers EAGAIN, as it does
 *                while an address-space change is waiting to be read; not
 *                a move through the spare ranges' descriptor, which asks
 *                for no event (spare_move is that move's point)
 *   uffd_register  a UFFDIO_REGISTER fails (ENOMEM, as when the kernel
 *                cannot split a mapping): hms_alloc/hms_manage, and the
 *                set-up of a spare range for gated discards
 *   nomem        the core's allocations of migrations, staging buffers,
 *                area page tables, policy and advice entries, contexts
 *                and the lists device pages are freed from (the pages go
 *                to the devmem's orphan bitmap instead), the MADV_FREE
 *                of a range page reuse keeps (it is emptied instead),
 *                the table of 2 MiB blocks that left as one huge page
 *                (none is noted: the way back makes no fresh huge page)
 *                and the populate of a fresh huge page (the fill copies
 *                as it would without one); an
 *                mremap's preparation (design 5c) fails as a
 *                whole, once per try, and the handler waits and tries
 *                again
 *   notify_nomem the lists an invalidation collects its mirrors and
 *                intervals into: a change that cannot be refused waits
 *                for memory and collects again; one that can is refused
 *                (EAGAIN); hms_close() waits likewise for the list of
 *                mirrors it calls release() for.  And the record of the
 *                range being invalidated, when it needs more memory: the
 *                change goes on unrecorded, and hms_range_invalidating()
 *                answers true for every range until it ends
 *   spare_move   the UFFDIO_MOVE that takes a discard's pages on from its
 *                transit range to its spare range (design 5a) is refused,
 *                as the kernel refuses a page it will not move (pinned,
 *                under writeback): the range is unmapped, pages and all,
 *                instead of emptied for reuse; a kept range the fault
 *                handler would fill from is left to UFFDIO_COPY
 *   zap_short    the MADV_DONTNEED of an ungated discard (hms__zap, a
 *                migration to a device) covers the first half of its
 *                range only (of more than one page), as a kernel before
 *                6.16 does after the mapping was split during it: the zap
 *                finds the rest still there and tries again, 8 times in
 *                all, then the migration fails for the pages left (those
 *                discarded count as moved)
 */
#ifndef HMS_INJECT_H
#define HMS_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hms_inject_point {
	HMS_INJ_DEV_ALLOC,
	HMS_INJ_DEV_COPY,
	HMS_INJ_THREAD,
	HMS_INJ_UFFD_EAGAIN,
	HMS_INJ_NOMEM,
	HMS_INJ_UFFD_REGISTER,
	HMS_INJ_NOTIFY_NOMEM,
	HMS_INJ_SPARE_MOVE,
	HMS_INJ_ZAP_SHORT,
	HMS_INJ_NPOINTS
};

#define HMS_INJ_API __attribute__((visibility("default")))

/*
 * Test hooks: places where a test runs its own code in the middle of a
 * library operation, to make a race happen every time (an mremap between
 * a migration's copy and its commit, say).  The hook runs on the thread
 * doing the operation, with no hms lock held; on the fault handler only
 * after hms__test_hook_in_handler(true) (the handler reads no event and
 * resolves no other fault while a hook runs there).
 *
 *   MIGRATE_PAGES      a migration's pages() starts: the driver copied
 *   MIGRATE_COMMIT     a run of pages is about to lose its system copy
 *                      (to a device) or to be filled (to system memory)
 *   MIGRATE_COMMITTED  that run was discarded / filled
 *   MIGRATE_FINALIZED  finalize has updated the table (the pages that
 *                      stayed are writable again); its invalidation has
 *                      not ended
 *   FAULT_IN           a device-side write fault (range.c) resolved one
 *                      page and is about to make it writable through the
 *                      kernel (MADV_POPULATE_WRITE)
 *   EXCLUSIVE          hms_make_exclusive() has faulted its pages in and
 *                      is about to protect them
 *   KERNEL_COPY        hms_user_read()/hms_user_write() through the kernel
 *                      resolved the page that stopped it and is about to
 *                      copy it again
 *   FAULT_FILL         a fault holds a page that a migration to a device
 *                      has selected and not yet discarded (PTE_BUSY) and
 *                      is about to fill it, write protected (uffd.c)
 *   MIGRATE_LIFT       finalize is about to lift, by address, the write
 *                      protection setup put on pages that stayed in
 *                      system memory (start: where the page is now, which
 *                      is elsewhere if an mremap moved it meanwhile)
 *   WP_LIFT            wp.c is about to lift, by address, the write
 *                      protection of pages it holds (PTE_BUSY): a pass
 *                      dropping a reason (HMS_ADVICE_UNSET_READ_MOSTLY),
 *                      or a write's first fault off the handler thread
 *                      (a device write through hms_range_fault)
 *   WP_PROTECT         wp.c holds pages it is about to write protect
 *                      (PTE_BUSY, devices told) and has not made the
 *                      ioctl yet (start, len: the range it was asked for)
 *   MIGRATE_PROTECT    a migration's setup holds its pages (MIGRATING,
 *                      devices told) and is about to write protect a run
 *                      of populated system pages (start, len: that run)
 *   MIGRATE_SELECTED   a migration's setup has taken its pages
 *                      (PTE_MIGRATING) and started its invalidation, and
 *                      has not yet write protected the populated system
 *                      pages of a migration to a device
 *   DISCARD_MOVED      a gated discard (uffd.c) has moved a run of system
 *                      pages out into its transit range (start, len: where
 *                      they are now, hms' own memory) and has not yet kept
 *                      them for reuse or emptied them
 *   UNMANAGE_EVICTED   hms_unmanage() has brought the range's device pages
 *                      home and has not yet taken the range out of the
 *                      table (start, len: the range)
 *   CLOSE_EVICT        hms_close() is about to bring every device page
 *                      home (its mirrors were released; start, len: 0)
 *   LAUNCH_MIGRATED    hms_softdev_launch() has moved its range to the
 *                      device (a round) and has not yet checked that
 *                      every page is still there (start, len: the range)
 */
enum hms_test_hook {
	HMS_HOOK_MIGRATE_PAGES,
	HMS_HOOK_MIGRATE_COMMIT,
	HMS_HOOK_MIGRATE_COMMITTED,
	HMS_HOOK_MIGRATE_FINALIZED,
	HMS_HOOK_FAULT_IN,
	HMS_HOOK_EXCLUSIVE,
	HMS_HOOK_KERNEL_COPY,
	HMS_HOOK_FAULT_FILL,
	HMS_HOOK_MIGRATE_LIFT,
	HMS_HOOK_WP_LIFT,
	HMS_HOOK_WP_PROTECT,
	HMS_HOOK_MIGRATE_PROTECT,
	HMS_HOOK_MIGRATE_SELECTED,
	HMS_HOOK_DISCARD_MOVED,
	HMS_HOOK_UNMANAGE_EVICTED,
	HMS_HOOK_CLOSE_EVICT,
	HMS_HOOK_LAUNCH_MIGRATED,
};

typedef void (*hms_test_hook_fn)(enum hms_test_hook point, uintptr_t start, size_t len,
				 void *arg);
struct hms;
/* Runs the test hook if one is installed; not on the fault handler
 * thread (unless hms__test_hook_in_handler).  h: the context the
 * operation belongs to.  Inside libhms only (the core, the softdev). */
void hms__test_hook_run(struct hms *h, enum hms_test_hook point, uintptr_t start, size_t len);
/* Installs fn (NULL: none) for every context of the process. */
HMS_INJ_API void hms__test_hook_set(hms_test_hook_fn fn, void *arg);
/* Runs the hook on the fault handler too (its migrations for CPU faults);
 * off by default. */
HMS_INJ_API void hms__test_hook_in_handler(bool on);
/* true: h discards the system copy of pages migrating to a device through
 * the fill gate (UFFDIO_MOVE, Linux 6.8; not with HMS_UFFD_MOVE=0). */
HMS_INJ_API bool hms__test_gated_discard(struct hms *h);
/* h's userfaultfd (uffd.c), for a test that changes a registration
 * behind hms' back. */
HMS_INJ_API int hms__test_uffd(struct hms *h);
/* From now on h takes the machine for one with swap space (uffd.c: a
 * kept range's write protection is lifted only where a page could have
 * been swapped out), for a test that leaves pages as swap would. */
HMS_INJ_API void hms__test_assume_swap(struct hms *h);
/* How many spare discard ranges h keeps ready (uffd.c). */
HMS_INJ_API unsigned hms__test_spare_discards(struct hms *h);
/* Bytes of discarded pages h keeps for reuse on the way back (uffd.c). */
HMS_INJ_API size_t hms__test_pool_bytes(struct hms *h);
/* Bytes of kept pages that got MADV_FREE (aged, or HMS_PAGE_POOL_IDLE_MS=0). */
HMS_INJ_API size_t hms__test_pool_lazy(struct hms *h);
/* Bytes copied into kept pages so far, moved in or not. */
HMS_INJ_API size_t hms__test_pool_copied(struct hms *h);
/* Bytes filled through a fresh huge page (uffd.c, fresh_huge). */
HMS_INJ_API size_t hms__test_huge_filled(struct hms *h);
/* Bytes of huge areas that a discard moved aside as whole huge pages. */
HMS_INJ_API size_t hms__test_huge_left(struct hms *h);
/* Bytes of whole 2 MiB blocks that faults asked drivers to bring back
 * (uffd.c, fault_block_locked; HMS_FAULT_HUGE). */
HMS_INJ_API size_t hms__test_fault_blocks(struct hms *h);
/* Drops the pool's pages as memory pressure would (they read as zeros to
 * the next fill, which writes them again). */
HMS_INJ_API void hms__test_pool_reclaim(struct hms *h);
/* Pages a migration back from a device found already present in system
 * memory (uffd.c): the table said the device had them, so the CPU should
 * not.  The CPU's page was kept, the device's copy dropped.  0 unless hms
 * has a defect; hms stress fails a run that sees one. */
HMS_INJ_API uint64_t hms__test_fill_conflicts(struct hms *h);
/* The advice hms_advise() left at addr (advice.c): 1 READ_MOSTLY, 2
 * ACCESSED_BY (*ntargets devices), 3 both, 0 none; its run [*start, *end). */
HMS_INJ_API unsigned hms__test_advice(struct hms *h, const void *addr, size_t *ntargets,
				      uintptr_t *start, uintptr_t *end);

/* true: the caller must fail this time (counted in hms__inject_hits). */
HMS_INJ_API bool hms__inject(enum hms_inject_point p);
/* Arms from a spec (see above); NULL or "" disarms every point and resets
 * the counts.  Returns 0 or -EINVAL (unknown point, N not digits or out of
 * 1..1000000000, an empty item, a point twice: nothing armed). */
HMS_INJ_API int hms__inject_arm(const char *spec);
/* Arms point p alone to fail its next pass, once (the others disarmed,
 * every count reset): for a test that needs one failure at a place where
 * every failure would be retried for ever, such as an ioctl retried on
 * EAGAIN. */
HMS_INJ_API void hms__inject_arm_once(enum hms_inject_point p);
/* The same for its nth pass from now (n >= 1; 1 is hms__inject_arm_once):
 * for a failure part way through a run of passes the test knows. */
HMS_INJ_API void hms__inject_arm_nth(enum hms_inject_point p, unsigned n);
/* How many failures point p injected since it was armed. */
HMS_INJ_API uint64_t hms__inject_hits(enum hms_inject_point p);
HMS_INJ_API const char *hms__inject_name(enum hms_inject_point p);

#endif
