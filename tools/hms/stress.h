/* SPDX-License-Identifier: MIT */
/*
 * stress.h - `hms stress`, the differential stress engine: the layout of
 * the tested memory (regions and their locks), the shadow copy of every
 * byte, the per-page history, and the operations.  stress.c parses the
 * command line; stress_layout.c owns regions, shadow and history;
 * stress_ops.c the operations; stress_gpu.c the GPU (--gpu) and its
 * operations; stress_run.c the threads and the checks.
 */
#ifndef HMS_TOOL_STRESS_H
#define HMS_TOOL_STRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hms.h"

/* A region is the unit of locking and of mapping changes. */
#define ST_REGION_PAGES 8u
#define ST_REGION_BYTES (ST_REGION_PAGES * HMS_PAGE_SIZE)
/* Operations span at most this many regions (but see ST_BLOCK_REGIONS). */
#define ST_MAX_SPAN 3u
/* With --huge, most operations (not those that copy through a pipe,
 * query, scan or mremap) may span the whole 2 MiB block around their
 * region instead (stress_ops.c, span_lock). */
#define ST_BLOCK_REGIONS (HMS_HUGE_PAGE_SIZE / ST_REGION_BYTES)
#define ST_HIST 8u     /* history entries kept per page */
#define ST_GHIST 16u   /* global history entries (release, fork) */
#define ST_NDEV 2
#define ST_DEV_GPU ST_NDEV /* the GPU's number in histories and reports */

/* ---- options (stress.c) ------------------------------------------------ */

struct stress_opts {
	uint64_t seed;
	uint64_t ops;      /* 0: run for seconds */
	double seconds;
	unsigned threads;
	unsigned mib;
	bool verbose;
	double hang_seconds; /* no progress for this long is a hang */
	bool serial_launch;  /* one launch per device at a time (core bug workaround) */
	uint32_t skip_ops;   /* bit per enum st_op never run (--skip) */
	const char *inject;  /* --inject: fault injection spec (src/inject.h) */
	bool gpu;            /* --gpu: attach a CUDA GPU next to the softdevs */
	bool wp_async;       /* --wp-async: HMS_OPEN_WP_ASYNC, refused without it */
	bool user_only;      /* --user-only: HMS_OPEN_USER_MODE_ONLY */
	bool huge;           /* --huge: the memory is hms_alloc(HMS_ALLOC_HUGE)'d */
};

/* ---- operations (stress_ops.c) ------------------------------------------ */

enum st_op {
	OP_CPU_READ,
	OP_CPU_WRITE,
	OP_DEV_READ,
	OP_DEV_WRITE,
	OP_LAUNCH,
	OP_MIGRATE_DEV,
	OP_MIGRATE_SYS,
	OP_RELEASE,
	OP_EXCLUSIVE,
	OP_PREFAULT,
	OP_PROTECT,
	OP_DONTNEED,
	OP_UNMAP,
	OP_MAP,
	OP_MREMAP,
	OP_SYS_WRITE,
	OP_SYS_READ,
	OP_QUERY,
	OP_BIND,
	OP_BIND_DEFAULT,
	OP_HMS_MIGRATE,
	OP_ADVISE, /* READ_MOSTLY set or unset */
	OP_FORK,
	OP_DIRTY_SCAN, /* hms_dirty_scan: every page written since must be reported */
	OP_UNMANAGE,   /* hms_unmanage, bytes checked and written, hms_manage again */
	/* with --gpu only (weight 0 otherwise: runs without it draw the same) */
	OP_GPU_MIGRATE,     /* hms_migrate to the GPU */
	OP_GPU_MIGRATE_SYS, /* hms_migrate to a system node */
	OP_GPU_WRITE,       /* hms_test_add on a window over an owned span */
	OP_GPU_READ,        /* hms_test_copy from a read-only window */
	/* with --huge only (weight 0 otherwise) */
	OP_HUGE_RENEW,      /* a fresh HMS_ALLOC_HUGE block mremap'd over a block */
	OP_COUNT
};

static inline bool st_op_gpu(int op)
{
	return op >= OP_GPU_MIGRATE && op <= OP_GPU_READ;
}

struct stress_opts;
/* Whether a run with these options draws op at all (--gpu, --huge). */
bool st_op_drawn(const struct stress_opts *o, int op);

const char *st_op_name(int op);

/* ---- regions, shadow, history (stress_layout.c) -------------------------- */

enum st_state { REG_MAPPED = 1, REG_UNMAPPED = 2, REG_LOST = 3 };

/*
 * Per-page history entry: what touched the page, in global op order.
 * ret is the operation's return value (or the pages it moved).
 */
struct st_hist {
	uint64_t seq;
	uint8_t op;
	uint8_t thread;
	int8_t dev;
	uint8_t prot;  /* the page's shadow prot after the op */
	int32_t ret;
};

/*
 * The tested memory is one reserved range cut into regions.  A thread that
 * changes a region's bytes, protection or mapping holds its lock for
 * writing; one that only reads the bytes or moves pages (which must not
 * change them) holds it for reading.  Writers also hold the gate (struct
 * stress) for reading, which fork takes for writing.  Several regions are always locked in
 * increasing index order.  The library below is free to move any page at
 * any time: that is what is tested.
 */
struct st_region {
	pthread_rwlock_t lock;
	/* guarded by lock: */
	uint8_t state;                 /* enum st_state */
	uint32_t seg;                  /* mapping id: a run of equal seg is one area */
	bool owned;                    /* its area came from hms_alloc (--huge), so
					* hms_close() unmaps it */
	uint8_t prot[ST_REGION_PAGES]; /* PROT_* of each page */
	/*
	 * written[p]: the stress changed page p (a write by anyone, a discard,
	 * a new mapping) since a dirty scan last re-armed it, so the next scan
	 * must report it.  Set by operations that hold lock for writing; read
	 * and cleared by the dirty scan, which holds lock for reading and
	 * scan_lock (scans of one page must not interleave: the library
	 * reports a write to one of two racing scans, not to both).
	 */
	uint8_t written[ST_REGION_PAGES];
	pthread_mutex_t scan_lock;
	/* guarded by hist_lock: */
	pthread_mutex_t hist_lock;
	struct st_hist hist[ST_REGION_PAGES][ST_HIST];
	unsigned hist_next[ST_REGION_PAGES];
};

struct stress {
	struct stress_opts o;
	struct hms *h;
	struct hms_softdev *dev[ST_NDEV];
	char *base;             /* the reserved range */
	size_t nregions;
	struct st_region *reg;
	uint8_t *shadow;        /* nregions * ST_REGION_BYTES; guarded by reg[i].lock */
	_Atomic uint32_t next_seg;
	_Atomic uint64_t seq;   /* operations started */
	_Atomic uint64_t done;  /* operations run (for --ops) */
	_Atomic uint64_t begun; /* operations claimed by a thread (for --ops) */
	_Atomic uint64_t tries; /* operations tried, run or skipped (hang detection) */
	_Atomic uint64_t count[OP_COUNT];
	_Atomic uint64_t skipped[OP_COUNT];
	_Atomic uint64_t tolerated; /* documented non-errors: -EBUSY, -ENOMEM, ... */
	_Atomic uint64_t dirty_required; /* pages a dirty scan had to report */
	_Atomic uint64_t dirty_reported; /* pages the scans reported in all */
	_Atomic uint64_t block_ops; /* --huge: operations run on a whole 2 MiB block */
	size_t huge_mapped;     /* --huge: bytes in huge pages as the workers ended */
	size_t huge_filled;     /* --huge: bytes filled through fresh huge pages */
	size_t huge_left;       /* --huge: bytes moved to devices as whole huge pages */
	size_t fault_blocks;    /* --huge: bytes of whole blocks faults brought back */
	atomic_bool stop;
	atomic_bool failed;
	pthread_mutex_t report_lock;
	pthread_mutex_t ghist_lock;
	struct st_hist ghist[ST_GHIST];
	unsigned ghist_next;
	int mode;               /* enum hms_uffd_mode */
	pthread_mutex_t launch_lock[ST_NDEV]; /* with o.serial_launch */
	/* Held for reading by every operation that changes bytes, protection or
	 * mappings (taken before region locks), for writing by fork: the child
	 * copies a consistent shadow while migrations and reads go on. */
	pthread_rwlock_t gate;
	struct st_thread *threads; /* for reports: what runs now */
	unsigned nthreads;
	struct st_gpu *gpu;     /* with --gpu (stress_gpu.c), else NULL */
};

static inline char *st_addr(struct stress *s, size_t r, unsigned page)
{
	return s->base + r * ST_REGION_BYTES + (size_t)page * HMS_PAGE_SIZE;
}

static inline uint8_t *st_shadow(struct stress *s, size_t r, unsigned page)
{
	return s->shadow + r * ST_REGION_BYTES + (size_t)page * HMS_PAGE_SIZE;
}

int st_layout_init(struct stress *s);
void st_layout_fini(struct stress *s);
/* Records op on pages [first, first + n) counted from region r's start. */
void st_hist_add(struct stress *s, size_t r, unsigned first, unsigned n,
		 const struct st_hist *e);
void st_ghist_add(struct stress *s, const struct st_hist *e);
/* Pages [first, first + n) counted from region r's start were changed:
 * the next dirty scan must report them (region locks held for writing). */
void st_written(struct stress *s, size_t r, unsigned first, unsigned n);
/* Bytes of the test memory mapped by huge pages now (/proc/self/smaps). */
size_t st_huge_bytes(const struct stress *s);
/* Turns [addr, addr + len) into an unmapped placeholder (PROT_NONE). */
int st_placeholder(void *addr, size_t len, bool replace);

/* ---- threads and checks (stress_run.c) ------------------------------------- */

/* A run of regions locked by one operation. */
struct st_span {
	size_t r;        /* first region */
	unsigned n;      /* regions */
	unsigned first;  /* first page, counted from region r */
	unsigned npages; /* pages operated on */
};

/* Reports a byte mismatch at page (r, page), offset off; returns -1. */
int st_mismatch(struct stress *s, const char *how, size_t r, unsigned page,
		const uint8_t *actual, size_t off, uint64_t seq);
/* Compares a buffer holding span's pages with the shadow; 0 or -1. */
int st_compare(struct stress *s, const char *how, const struct st_span *sp,
	       const uint8_t *actual, uint64_t seq);
/* Reports a page written since its last dirty scan and not reported by
 * this one; returns -1. */
int st_dirty_missed(struct stress *s, size_t r, unsigned page, uint64_t bits, uint64_t seq);
/* Reports an unexpected return value; returns -1. */
int st_error(struct stress *s, const char *what, const struct st_span *sp, long ret,
	     uint64_t seq);
void st_log(struct stress *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* -1 when every st_log() line was written, else the errno of the first
 * that was not (0: a short write). */
int st_log_error(void);

struct st_thread {
	struct stress *s;
	unsigned id;
	uint64_t rng;
	int pipe[2];
	uint8_t *buf;             /* ST_MAX_SPAN * ST_REGION_BYTES, 2 MiB with --huge */
	_Atomic int cur_op;       /* for hang reports; -1 when idle */
	_Atomic uint64_t cur_seq;
	_Atomic size_t cur_region;
	_Atomic unsigned cur_span;  /* regions of the current op */
	_Atomic int cur_dev;
	uint8_t *gpu_scratch;     /* with --gpu: hms_alloc'd, the GPU read op's output */
};

uint64_t st_rand(struct st_thread *t);
static inline unsigned st_below(struct st_thread *t, unsigned n)
{
	return n ? (unsigned)(st_rand(t) % n) : 0;
}

/* Runs one random operation; 0 done or skipped, -1 failure (reported). */
int st_op_run(struct st_thread *t);
/* ret is -ENOMEM while nomem injection is armed: a documented refusal of
 * the call, counted as tolerated by its caller. */
bool st_injected_nomem(long ret);
/* The fork operation (stress_run.c). */
int st_op_fork(struct st_thread *t, uint64_t seq);
/* Verifies every mapped byte; 0 or -1. */
int st_verify_all(struct stress *s, const char *how, bool use_hms);
/* Set in a fork child: reports take no locks and ask hms nothing. */
extern bool st_in_child;

/* ---- the GPU (stress_gpu.c) -------------------------------------------------------- */

/* Attaches the GPU (or says why there is none); 0 or -errno. */
int st_gpu_open(struct stress *s);
/* Before hms_close(): frees the scratch buffers, drops the kernels' module
 * (hms_close() detaches the GPU).  Safe to call twice. */
void st_gpu_close(struct stress *s);
/* Per worker, before it starts: the scratch buffer (freed by st_gpu_close). */
int st_gpu_thread_init(struct st_thread *t);
/* The GPU's target, and a system node's target (0 when none is known). */
hms_uid st_gpu_target(const struct stress *s);
hms_uid st_sys_target(const struct stress *s);
/* Operations on a locked span, as stress_ops.c runs them: 0 done, 1
 * skipped, -1 failure (reported); *res is recorded in the history. */
int st_gpu_write(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res);
int st_gpu_read(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res);
/* Puts every other mapped region on the GPU (final checks). */
void st_gpu_park(struct stress *s, size_t first);
/* A line of GPU figures for the summary. */
void st_gpu_summary(struct stress *s);

/* Runs the whole engine: 0 clean, 1 mismatch or error. */
int stress_run(const struct stress_opts *o);

#endif
