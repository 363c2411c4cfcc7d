/* SPDX-License-Identifier: MIT */
/*
 * softdev.h - the software device's private declarations.  The softdev is
 * an hms driver like any outside one: it sees hms_driver.h only.
 */
#ifndef HMS_SOFTDEV_H
#define HMS_SOFTDEV_H

#include <pthread.h>
#include <stdatomic.h>

#include "hms_driver.h"
#include "inject.h" /* test-only fault injection (src/inject.h) */

#define SD_API __attribute__((visibility("default")))

/*
 * ThreadSanitizer sees no order between a kernel's last write to a pool
 * page and the page's reuse when the page was freed by the fault handler
 * reading a discard, unmap or mremap event: the application thread made
 * that system call after the kernel finished (it must not discard memory
 * a running kernel uses), but the order runs through the kernel's event
 * queue, which TSan cannot see.  Kernel completion releases, page frees
 * acquire (hms stress --threads 3 under TSan reported the reuse about
 * once in 20 runs).  Nothing outside TSan builds.
 */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define SD_TSAN_RELEASE(p) __tsan_release(p)
#define SD_TSAN_ACQUIRE(p) __tsan_acquire(p)
#else
#define SD_TSAN_RELEASE(p) ((void)(p))
#define SD_TSAN_ACQUIRE(p) ((void)(p))
#endif
#define SD_PAGE HMS_PAGE_SIZE
#define SD_SHIFT HMS_PAGE_SHIFT

/* ---- softdev_pt.c: the device page table ------------------------------------
 * One 64-bit entry per virtual page: 0 when the device maps nothing there.
 */
#define SD_V (1ULL << 0) /* valid */
#define SD_W (1ULL << 1) /* writable */
#define SD_D (1ULL << 2) /* in device memory: pool index in bits 12.. */
#define SD_A (1ULL << 3) /* exclusive (atomic) access */
#define SD_R (1ULL << 4) /* with SD_D: a read-only replica of a system page,
			  * in a pool page the device owns (freed on clear) */
#define SD_IDX(e) ((e) >> 12)

struct sd_leaf {
	uint64_t key; /* vpn >> 9 */
	uint64_t e[512];
};

struct sd_pt {
	struct sd_leaf **slot; /* open addressing by key */
	size_t cap, n;
	/* Called for every SD_R entry that is overwritten or cleared. */
	void (*drop)(void *arg, uint64_t e);
	void *drop_arg;
};

uint64_t sd_pt_get(const struct sd_pt *pt, uint64_t vpn);
int sd_pt_set(struct sd_pt *pt, uint64_t vpn, uint64_t e);
void sd_pt_clear(struct sd_pt *pt, uint64_t vs, uint64_t ve);
void sd_pt_free(struct sd_pt *pt);

/* ---- softdev.c: the device ------------------------------------------------------ */

struct sd_work; /* launch work, softdev_ops.c */

/*
 * Lifetime: created by hms_softdev_create(), freed by destroy or by
 * hms_close() (devmem release callback).
 */
struct hms_softdev {
	struct hms *h;
	char name[64];
	struct hms_devmem *dm;
	struct hms_interval *iv; /* the whole address space */
	struct hms_mirror *mirror; /* for release() only */
	hms_pfn first;
	uint64_t npages;
	char *pool;
	hms_uid initiator, link;

	/*
	 * lock guards pt, free[], nfree, ndeferred, kernels, fail_alloc.  Held
	 * for short sections only, never across an hms call that migrates or
	 * faults (the driver API's locking rule): invalidate() and page_free()
	 * take it.
	 */
	pthread_mutex_t lock;
	struct sd_pt pt;
	/* free[0, nfree): free pool pages.  free[npages - ndeferred, npages):
	 * pages hms gave back while a kernel ran (kernels > 0), which may still
	 * be writing them; they become free when the kernel is done
	 * (sd_kernel_end).  Both fit: free + deferred + in use = npages. */
	uint32_t *free;
	uint64_t nfree, ndeferred;
	unsigned kernels; /* launches whose kernel is running */
	uint64_t populated; /* pool pages [0, populated) are backed */
	/* Bumped when one of our own migrations takes pages off the device.
	 * Our own MIGRATE invalidations skip us, so whoever records entries
	 * checks this as well as the interval sequence. */
	uint64_t own_seq;
	unsigned fail_alloc;

	/* exec: launch holds it shared while kernels run on device pages;
	 * migrations off the device take it exclusive around their copy, so a
	 * CPU fault on a page in use waits for the kernel to finish.  No hms
	 * call is made while holding it. */
	pthread_rwlock_t exec;

	/* launch_lock serializes launches (one job slot); held across hms
	 * calls, never taken by a callback. */
	pthread_mutex_t launch_lock;

	/* Worker threads for launch(). */
	pthread_mutex_t wlock;
	pthread_cond_t wcond, wdone;
	struct sd_work *work;
	pthread_t *threads;
	unsigned nthreads;
	unsigned running; /* workers that reached their loop (wlock) */
	char tsan_kernels; /* SD_TSAN_*: kernels done -> page frees */
	bool stop;
	unsigned users; /* operations in progress (wlock); destroy waits */
	pthread_cond_t idle;
};

static inline char *sd_page(struct hms_softdev *d, hms_pfn pfn)
{
	return d->pool + ((pfn - d->first) << SD_SHIFT);
}

/* Allocate a device page (lock held); 0 when the pool is empty. */
hms_pfn sd_alloc_locked(struct hms_softdev *d);
/* A launch's kernel begins / is done (d->lock held / not held). */
void sd_kernel_begin_locked(struct hms_softdev *d);
void sd_kernel_end(struct hms_softdev *d);

/* A snapshot of both sequences; sd_seq_valid() under d->lock. */
struct sd_seq {
	unsigned long iv;
	uint64_t own;
};
struct sd_seq sd_seq_begin(struct hms_softdev *d);
bool sd_seq_valid_locked(struct hms_softdev *d, struct sd_seq s);

/* ---- softdev_migrate.c -------------------------------------------------------- */

/* Move [start, end) (at most 2 MiB) system -> device; returns pages moved,
 * adds the pages hms selected to *selected. */
long sd_migrate_batch_to_device(struct hms_softdev *d, uintptr_t start, uintptr_t end,
				bool *nomem, unsigned long *selected);
/* Move this device's pages of [start, end) back; returns pages moved. */
long sd_migrate_batch_to_system(struct hms_softdev *d, uintptr_t start, uintptr_t end,
				bool nowait);
int sd_migrate_to_ram(struct hms_devmem *dm, const struct hms_devmem_fault *f);
long sd_migrate_to_device(struct hms_devmem *dm, uintptr_t start, uintptr_t end);

/* ---- softdev_ops.c ------------------------------------------------------------ */

/* Every operation runs between enter (-ESHUTDOWN once the device is being
 * destroyed) and leave, so destroy can wait for the last one. */
int sd_enter(struct hms_softdev *d);
void sd_leave(struct hms_softdev *d);

void *sd_worker(void *arg);

#endif
