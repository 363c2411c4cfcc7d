/* SPDX-License-Identifier: MIT */
/*
 * hms.h - heterogeneous memory management for Linux user space:
 * the application API.
 *
 * One address space is shared by the CPUs and by devices.  Memory that hms
 * manages ("managed areas") is registered with userfaultfd; every page of
 * a managed area lives on one memory target at a time (system memory or a
 * device's memory) and moves between targets on demand (a CPU touch of a
 * device-resident page brings it back) or on request (migration).
 *
 * Error convention, for every call in this header unless its block says
 * otherwise: functions return 0 (or a non-negative count) on success and a
 * negative errno value on failure; functions that return a pointer return
 * NULL and set errno.  Out-parameters are written only on success.  The
 * library never aborts and never prints unless asked to.
 *
 * Threading: every call may be made from any thread; a context's calls are
 * serialized internally where needed.  Calls must not be made from the
 * callbacks of hms_driver.h unless the callback's block says so.
 *
 * Signals: a signal handler may touch managed memory, even pages in device
 * memory, unless it interrupts an hms call on its own thread: that call may
 * hold what bringing the page back needs, and the two would wait for each
 * other.  Block such signals around hms calls (tests/signal_handler_touch).
 */
#ifndef HMS_H
#define HMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HMS_VERSION_MAJOR 0
#define HMS_VERSION_MINOR 1
#define HMS_VERSION_PATCH 0

/** The size of the pages hms manages and moves (always 4 KiB). */
#define HMS_PAGE_SIZE 4096UL
#define HMS_PAGE_SHIFT 12
/** Alignment and size of a huge page (HMS_ALLOC_HUGE). */
#define HMS_HUGE_PAGE_SIZE (2UL << 20)

/** Returns the library's version string ("major.minor.patch"). */
const char *hms_version(void);

/**
 * hms_last_error() - why the last failing call of this thread failed.
 *
 * Returns a human-readable sentence (never NULL; "" when nothing failed)
 * describing the last error that a call of this thread reported with an
 * explanation, for example why userfaultfd could not be opened and what to
 * do about it.  The string is thread-local and valid until the thread's
 * next hms call.
 */
const char *hms_last_error(void);

/* ------------------------------------------------------------------------
 * Context
 * ---------------------------------------------------------------------- */

struct hms;

/** How the fault engine reaches userfaultfd (see hms_mode()). */
enum hms_uffd_mode {
	/** Kernel and user faults both reach hms (root, /dev/userfaultfd
	 *  access, or vm.unprivileged_userfaultfd=1). */
	HMS_MODE_FULL = 1,
	/** UFFD_USER_MODE_ONLY: only user-space accesses fault into hms; a
	 *  system call reading or writing a device-resident page fails with
	 *  EFAULT unless the range was hms_prefault()ed first. */
	HMS_MODE_USER_ONLY = 2,
};

/** hms_options.flags */
#define HMS_OPEN_USER_MODE_ONLY (1u << 0) /* do not try full mode */
#define HMS_OPEN_NO_TOPOLOGY (1u << 1)    /* skip sysfs discovery */
/* Asynchronous write protection where the kernel has it (Linux 6.7+:
 * UFFD_FEATURE_WP_ASYNC, WP_UNPOPULATED, PAGEMAP_SCAN): hms_dirty_scan()
 * then reads PAGEMAP_SCAN instead of taking one fault per first write.
 * The kernel resolves CPU write faults on its own in such a context, so
 * nothing that must see a CPU write works there: HMS_ADVICE_READ_MOSTLY
 * and hms_make_exclusive() (hence hms_softdev_exclusive()) fail with
 * -EOPNOTSUPP, and populated system pages are never migrated to a device
 * (a migration could not stop a CPU write racing its copy): hms_migrate()
 * to device memory leaves them (0 moved), hms_softdev_migrate_to_device()
 * fails with -ENOENT when no other page is left to move, and
 * hms_softdev_launch() fails with -ENOMEM.  Never populated pages still
 * move.  Without the kernel
 * features (or with HMS_WP_SYNC=1 in the environment) the context uses
 * synchronous write protection as usual; hms_wp_async() tells which. */
#define HMS_OPEN_WP_ASYNC (1u << 2)

/**
 * struct hms_options - what hms_open() may be told; NULL means defaults.
 * @size:        sizeof(struct hms_options), for forward compatibility.
 * @flags:       HMS_OPEN_* flags.
 * @sysfs_root:  directory that holds sys/ (and proc/) to discover the
 *               topology from, instead of "/" (tests use captured trees).
 *               Also read from the HMS_SYSFS_ROOT environment variable.
 */
struct hms_options {
	size_t size;
	unsigned flags;
	const char *sysfs_root;
};

/**
 * hms_open() - create an hms context for this process.
 * @out:  receives the context.
 * @opts: options, or NULL for the defaults.
 *
 * Opens a userfaultfd (full mode when allowed, else user-mode-only; see
 * enum hms_uffd_mode), starts the fault handler thread and discovers the
 * topology.  Several contexts may exist in one process; each manages its
 * own areas.
 *
 * Return: 0, or -EPERM / -ENOSYS / -EINVAL when userfaultfd cannot be used
 * (hms_last_error() says why and what to do), -EINVAL (NULL @out, unknown
 * flag, a nonzero @opts->size smaller than the structure), -ENOENT (the
 * sysfs root, @opts->sysfs_root or HMS_SYSFS_ROOT, is not a directory),
 * -EMFILE / -ENFILE (no file descriptor for the userfaultfd or the
 * handler's eventfd), -ENOMEM, -EAGAIN (thread creation failed).  Pairs
 * with hms_close().
 */
int hms_open(struct hms **out, const struct hms_options *opts);

/**
 * hms_close() - tear a context down.
 *
 * In this order: mirrors receive their release() callback (drivers stop
 * their work), every page that lives in device memory is brought back to
 * system memory (nothing is lost, unless a driver keeps failing to: see
 * below), RELEASE invalidations are sent, the areas hms_alloc() created
 * are unmapped and areas adopted with hms_manage() are left mapped as
 * plain anonymous memory with their data,
 * the fault handler thread stops, and device memory still registered gets
 * its release() callback (software devices still attached are destroyed
 * so).  Then, when $HMS_STATS_FILE names an existing file, the final
 * counters are appended to it as one line (hms-stat(1), hms_close(3)).
 * NULL is accepted.  Must not be called from an hms callback.
 *
 * A page whose driver's migrate_to_ram keeps failing (more than 100
 * errors, or 20000 -EAGAIN, in a row) stays on its device and is lost
 * with it; the other pages still come home.  Never silently: in
 * an area adopted with hms_manage(), which stays mapped, every access to
 * such a page gets SIGBUS (a poison marker, UFFDIO_POISON, Linux 6.6+;
 * elsewhere an empty memfd mapped over the page, or PROT_NONE where none
 * can be had: SIGSEGV), and hms_last_error() says how many were lost.
 */
void hms_close(struct hms *h);

/** Returns which userfaultfd mode the context runs in (0 for NULL). */
enum hms_uffd_mode hms_mode(const struct hms *h);

/**
 * hms_wp_async() - does the context use asynchronous write protection?
 * True only for a context opened with HMS_OPEN_WP_ASYNC on a kernel that
 * has it (and without HMS_WP_SYNC=1 in the environment).  False for NULL.
 */
bool hms_wp_async(const struct hms *h);

/* ------------------------------------------------------------------------
 * Managed areas
 *
 * Memory just unmapped: the kernel lets a mapping go (munmap, mremap
 * moving it away) before hms has read the userfaultfd event that says so,
 * and another thread's mmap() may get the addresses back at once.  Every
 * call that wants managed memory (hms_free, hms_unmanage, hms_protect,
 * hms_prefault, hms_page_query, hms_bind and the other placement calls)
 * takes such a range for what it is, not managed: it sees that the range
 * is not registered with userfaultfd, waits for the event (up to about
 * 2 seconds) and fails with -ENOENT, leaving the new memory alone.
 * hms_manage() waits the same way and then adopts it.
 * ---------------------------------------------------------------------- */

/** hms_alloc() flags */
#define HMS_ALLOC_HUGE (1u << 0) /* 2 MiB aligned, transparent huge pages */

/**
 * hms_alloc() - map and manage len bytes of private anonymous memory.
 * @len:   bytes, rounded up to a page (to 2 MiB with HMS_ALLOC_HUGE).
 * @flags: 0 or HMS_ALLOC_HUGE.
 *
 * The memory reads as zeros; no page is populated until first touched (by
 * a CPU or a device).  With HMS_ALLOC_HUGE the area is 2 MiB aligned and
 * backed by transparent huge pages where the kernel grants them (the area
 * is populated at allocation, since userfaultfd fills faults with 4 KiB
 * pages).  A CPU fault on a huge area's page whose whole 2 MiB block is
 * in one device's memory brings the whole block back (HMS_FAULT_HUGE).
 *
 * Return: the address, or NULL with errno EINVAL (NULL context, len 0 or
 * above SIZE_MAX / 2, unknown flag), ENOMEM (no address space or memory
 * left), ECHILD (fork child).  Pairs with hms_free().
 */
void *hms_alloc(struct hms *h, size_t len, unsigned flags);

/**
 * hms_free() - unmap memory from hms_alloc() (or any part of it).
 *
 * Device memory holding its pages is freed; devices get an UNMAP
 * invalidation.  Return: 0, -EINVAL (unaligned, zero length, NULL),
 * -ENOENT (not entirely inside areas created by hms_alloc(), or just
 * unmapped by another thread: see "Memory just unmapped" above).
 */
int hms_free(struct hms *h, void *addr, size_t len);

/**
 * hms_manage() - adopt an existing private anonymous mapping.
 * @addr, @len: page aligned; the range must be mapped, private, anonymous
 *              and not overlap an area hms already manages.
 *
 * Pages already present stay where they are and are recorded as system
 * memory; each page's protection is the mapping's (devices get no more
 * access than the CPU).  A range the kernel maps partly by transparent
 * huge pages is treated as HMS_ALLOC_HUGE memory (its huge pages move
 * whole; Linux 6.7+).  Memory another thread has just unmapped or moved
 * away (munmap, mremap) from a managed range, and that this thread's
 * mmap() got back, is accepted: the kernel lets the old mapping go before
 * hms hears of it, so the old area may still be known; hms_manage() sees
 * that the range is not registered with userfaultfd and waits for the
 * event (up to about 2 seconds) instead of failing.  Return: 0, -EINVAL
 * (unaligned, zero length, NULL, not private anonymous memory), -EEXIST
 * (overlaps a managed area, at once; or an area the range was unmapped
 * from was still known after that wait), -ENOMEM (not mapped), or the
 * errno of UFFDIO_REGISTER.  Pairs with hms_unmanage().
 */
int hms_manage(struct hms *h, void *addr, size_t len);

/**
 * hms_unmanage() - stop managing a range, keeping its data.
 *
 * Device-resident pages come back to system memory, devices get a RELEASE
 * invalidation and the range is unregistered from userfaultfd; the memory
 * stays mapped.  Return: 0, -EINVAL, -ENOENT (not entirely managed, or
 * just unmapped: see above).
 */
int hms_unmanage(struct hms *h, void *addr, size_t len);

/**
 * hms_protect() - the managed mprotect().
 * @prot: PROT_NONE or a combination of PROT_READ and PROT_WRITE.
 *
 * Changes the CPU protection of a managed range and, before returning,
 * takes from every device the access the CPU loses (PROTECTION_VMA
 * invalidation); device accesses that need more than the new protection
 * fail (-EFAULT for reads, -EPERM for writes).  Pages in device memory
 * stay there.  A raw mprotect() behind hms' back is seen by device
 * accesses of pages the device does not mirror (they go through the
 * kernel), but not by existing device mappings: use hms_protect().
 * Return: 0, -EINVAL (bad prot, unaligned, zero length), -ENOENT (not
 * entirely managed, or just unmapped: see above), or mprotect()'s errno.
 */
int hms_protect(struct hms *h, void *addr, size_t len, int prot);

/**
 * hms_prefault() - bring pages into system memory before a system call.
 * @write: also make them writable (resolve write protection).
 *
 * In HMS_MODE_USER_ONLY the kernel's own accesses (read(2) into managed
 * memory, write(2) from it) cannot fault into hms: they fail with EFAULT
 * on a page that is not populated or lives in device memory.  Calling
 * hms_prefault() on the buffer first makes such calls work.  Harmless in
 * full mode.  A page may move again afterwards if a device or a migration
 * takes it.  Return: pages brought in (0 if all were present), -EINVAL,
 * -ENOENT (not entirely managed, or just unmapped: see above), -EFAULT
 * (no read permission).
 */
long hms_prefault(struct hms *h, void *addr, size_t len, bool write);

/** Where a page lives (struct hms_page_info.location). */
enum hms_location {
	HMS_LOC_NONE = 0,   /* never populated, or discarded: reads zeros */
	HMS_LOC_SYSTEM = 1, /* system memory (a NUMA node) */
	HMS_LOC_DEVICE = 2, /* device memory */
};

/** struct hms_page_info.flags */
#define HMS_PAGE_MIGRATING (1u << 0) /* a migration holds the page now */
#define HMS_PAGE_WRITE_PROTECTED (1u << 1)
#define HMS_PAGE_EXCLUSIVE (1u << 2) /* a device holds exclusive access */
#define HMS_PAGE_REPLICATED (1u << 3) /* devices may hold read-only copies
				       * (HMS_ADVICE_READ_MOSTLY) */
#define HMS_PAGE_THRASHING (1u << 4) /* passed back and forth of late: no
				      * device touch places it for now
				      * (hms_bind(), HMS_THRASH_*) */

/**
 * struct hms_page_info - one page of the state table (hms_page_query()).
 * @location: enum hms_location.
 * @prot:     PROT_* the CPU has on the page (the area's protection).
 * @flags:    HMS_PAGE_* flags.
 * @target:   uid of the target the page lives on (0 when HMS_LOC_NONE,
 *            or when a system page's node is unknown).
 */
struct hms_page_info {
	uint8_t location;
	uint8_t prot;
	uint16_t flags;
	uint32_t target;
};

/**
 * hms_page_query() - read the per-page state table.
 * @addr:   page aligned start, inside a managed area.
 * @npages: pages to describe; all must be managed.
 * @out:    npages entries.
 * Return: npages, -EINVAL, -ENOENT (a page is not managed, or was just
 * unmapped: see "Memory just unmapped" above).
 */
long hms_page_query(struct hms *h, const void *addr, size_t npages,
		    struct hms_page_info *out);

/* ------------------------------------------------------------------------
 * Topology: targets, initiators, links and bridges
 * ---------------------------------------------------------------------- */

/** Object id; never reused within a process. 0 is "no object". */
typedef uint32_t hms_uid;

/*
 * The topology describes the machine as four kinds of objects, each with
 * a uid that is never reused within the process:
 *   target     memory: a NUMA node, HBM, persistent memory, a CXL
 *              expander, device memory;
 *   initiator  something that accesses memory: a set of CPUs, a device;
 *   link       a set of initiators and targets that reach each other
 *              alike, with one performance for any initiator -> target
 *              pair of the set;
 *   bridge     a one-way connection from one link to another that carries
 *              only the initiators it lists, with its own performance.
 *
 * A snapshot (struct hms_topology) is immutable: drivers that add or
 * remove objects at run time make a new snapshot for the next
 * hms_topology_get(); one already held never changes.  Every pointer a
 * snapshot hands out (objects, names, strings) stays valid until the
 * snapshot is put.  Snapshots may be read from any number of threads.
 *
 * Performance is read/write bandwidth in MiB/s and latency in ns, each
 * HMS_PERF_UNKNOWN where neither firmware nor a driver gave a figure: hms
 * never invents numbers.  docs/topology.md describes the model, the
 * discovery and the JSON schema.
 */

/** The four object types (0 is "any" where a type filter is taken). */
enum hms_object_type {
	HMS_OBJECT_ANY = 0,
	HMS_OBJECT_TARGET = 1,
	HMS_OBJECT_INITIATOR = 2,
	HMS_OBJECT_LINK = 3,
	HMS_OBJECT_BRIDGE = 4,
};

/** What memory a target is. */
enum hms_target_kind {
	HMS_TARGET_DRAM = 1,
	HMS_TARGET_HBM = 2,             /* high-bandwidth memory (MCDRAM, HBM) */
	HMS_TARGET_PMEM = 3,            /* persistent memory (NVDIMM via DAX kmem) */
	HMS_TARGET_CXL = 4,             /* CXL memory expander */
	HMS_TARGET_DEVICE_PRIVATE = 5,  /* device memory the CPU cannot address */
	HMS_TARGET_DEVICE_COHERENT = 6, /* device memory the CPU can address */
};

/** What an initiator is. */
enum hms_initiator_kind {
	HMS_INITIATOR_CPU = 1,    /* a set of CPUs (cpulist) */
	HMS_INITIATOR_DEVICE = 2, /* a device: GPU, accelerator, generic initiator */
};

/** A figure (bandwidth, latency) that nobody gave. */
#define HMS_PERF_UNKNOWN UINT32_MAX
/** A size (free bytes, cache size) that is not known. */
#define HMS_SIZE_UNKNOWN UINT64_MAX
/** struct hms_target_info.memory_tier / numa_node when there is none. */
#define HMS_NONE (-1)

/**
 * struct hms_perf - performance of a link, a bridge or a path.
 * @read_bandwidth, @write_bandwidth: MiB/s, or HMS_PERF_UNKNOWN.
 * @read_latency, @write_latency:     ns, or HMS_PERF_UNKNOWN.
 */
struct hms_perf {
	uint32_t read_bandwidth;
	uint32_t write_bandwidth;
	uint32_t read_latency;
	uint32_t write_latency;
};

/** struct hms_memcache.indexing (kernel memory_side_cache values). */
enum hms_cache_indexing {
	HMS_CACHE_DIRECT_MAPPED = 0,
	HMS_CACHE_INDEXED = 1, /* complex / associative */
	HMS_CACHE_INDEXING_UNKNOWN = 2,
};

/** struct hms_memcache.write_policy (kernel memory_side_cache values). */
enum hms_cache_policy {
	HMS_CACHE_WRITE_BACK = 0,
	HMS_CACHE_WRITE_THROUGH = 1,
	HMS_CACHE_POLICY_UNKNOWN = 2,
};

/**
 * struct hms_memcache - a memory-side cache in front of a target (for
 * example DRAM caching persistent memory, or MCDRAM caching DDR).
 * @level:        1 is nearest to the memory.
 * @size:         bytes.
 * @line_size:    bytes, 0 if unknown.
 * @indexing:     enum hms_cache_indexing.
 * @write_policy: enum hms_cache_policy.
 */
struct hms_memcache {
	unsigned level;
	uint64_t size;
	unsigned line_size;
	unsigned indexing;
	unsigned write_policy;
};

/**
 * struct hms_target_info - what a target is.
 * @kind:        enum hms_target_kind.
 * @numa_node:   its NUMA node, or HMS_NONE (device memory).
 * @size:        bytes, or HMS_SIZE_UNKNOWN (unreadable meminfo).
 * @free:        bytes free when the snapshot's facts were read, or
 *               HMS_SIZE_UNKNOWN (device memory, missing meminfo).
 * @memory_tier: the kernel's memory tier id (memory_tierN), or HMS_NONE.
 * @ncaches:     memory-side caches (hms_target_cache()).
 */
struct hms_target_info {
	unsigned kind;
	int numa_node;
	uint64_t size;
	uint64_t free;
	int memory_tier;
	unsigned ncaches;
};

/**
 * struct hms_initiator_info - what an initiator is.
 * @kind:      enum hms_initiator_kind.
 * @numa_node: the NUMA node it belongs to, or HMS_NONE.
 * @ncpus:     CPUs in the set (0 for a device).
 * @cpulist:   the CPUs in kernel list form ("0-3,8"), "" for a device;
 *             valid while the snapshot is held.
 */
struct hms_initiator_info {
	unsigned kind;
	int numa_node;
	unsigned ncpus;
	const char *cpulist;
};

struct hms_topology; /* an immutable, reference-counted snapshot */
struct hms_object;   /* one object of a snapshot */

/**
 * hms_topology_get() - take a reference to the context's current snapshot.
 * @h:   the context.
 * @out: receives the snapshot.
 *
 * The snapshot holds what sysfs discovery found at hms_open() plus what
 * drivers registered up to this call.  Cheap (a reference count), may be
 * called from any thread.
 * Return: 0, -EINVAL (NULL argument), -ECHILD (context inherited by
 * fork).  Pairs with hms_topology_put().
 */
int hms_topology_get(struct hms *h, struct hms_topology **out);

/**
 * hms_topology_load() - discover a topology without a context.
 * @sysfs_root: directory that holds sys/ (and proc/), or NULL for "/".
 * @flags:      0 (reserved).
 * @out:        receives a new snapshot.
 *
 * Reads the same facts as hms_open() does but needs no userfaultfd: for
 * tools that only show the machine, and for captured sysfs trees.  Bad
 * input (a missing, empty, truncated or nonsensical file) is not an
 * error: the fact is left out and a warning naming the file is recorded
 * (hms_topology_warning()).
 * Return: 0, -EINVAL (flags), -ENOENT (@sysfs_root is not a directory),
 * -ENOMEM.  Pairs with hms_topology_put().
 */
int hms_topology_load(const char *sysfs_root, unsigned flags,
		      struct hms_topology **out);

/** hms_topology_put() - drop a reference; the last one frees the
 *  snapshot.  NULL is accepted. */
void hms_topology_put(struct hms_topology *t);

/**
 * hms_topology_warning() - the i-th warning recorded while discovering
 * the snapshot's facts ("sys/devices/system/node/node1/meminfo: no
 * MemTotal line, size unknown"), file names relative to the sysfs root.
 * Return: the warning, valid while the snapshot is held; NULL when @i is
 * past the last one.
 */
const char *hms_topology_warning(const struct hms_topology *t, size_t i);

/**
 * hms_topology_count() - number of objects of a type in the snapshot.
 * @type: enum hms_object_type, HMS_OBJECT_ANY for all.
 * Return: the count (0 for an unknown type or a NULL snapshot).
 */
size_t hms_topology_count(const struct hms_topology *t,
			  enum hms_object_type type);

/**
 * hms_topology_next() - iterate over the objects of one type, by
 * increasing uid.
 * @type: enum hms_object_type, HMS_OBJECT_ANY for all.
 * @prev: the previous object, or NULL to start.
 * Return: the next object, or NULL at the end (errno is not set).
 */
const struct hms_object *hms_topology_next(const struct hms_topology *t,
					   enum hms_object_type type,
					   const struct hms_object *prev);

/** for (o = first object of type; o; o = next) */
#define hms_topology_for_each(t, type, o)                 \
	for ((o) = hms_topology_next((t), (type), NULL); (o); \
	     (o) = hms_topology_next((t), (type), (o)))

/**
 * hms_object_find() - the object with this uid in the snapshot.
 * Return: the object, or NULL with errno ENOENT (no such object in this
 * snapshot: never existed, or removed before it was taken) or EINVAL.
 */
const struct hms_object *hms_object_find(const struct hms_topology *t,
					 hms_uid uid);

/** The object's type (enum hms_object_type), HMS_OBJECT_ANY for NULL. */
enum hms_object_type hms_object_type(const struct hms_object *o);
/** The object's uid, 0 for NULL. */
hms_uid hms_object_uid(const struct hms_object *o);
/** The object's name ("node0", "node0-cpus", "softdev0"), never NULL. */
const char *hms_object_name(const struct hms_object *o);
/**
 * hms_object_note() - a sentence on where the object's figures come from
 * or why they are missing ("no figures: sysfs shows HMAT performance only
 * for each target's best initiators"), "" when there is nothing to say.
 */
const char *hms_object_note(const struct hms_object *o);

/**
 * hms_target_info() - describe a target.
 * Return: 0, -EINVAL (NULL, or @o is not a target).
 */
int hms_target_info(const struct hms_object *o, struct hms_target_info *out);

/**
 * hms_target_cache() - the i-th memory-side cache of a target.
 * Return: 0, -EINVAL (not a target), -ENOENT (@i >= ncaches).
 */
int hms_target_cache(const struct hms_object *o, unsigned i,
		     struct hms_memcache *out);

/**
 * hms_initiator_info() - describe an initiator.
 * Return: 0, -EINVAL (NULL, or @o is not an initiator).
 */
int hms_initiator_info(const struct hms_object *o,
		       struct hms_initiator_info *out);

/**
 * hms_initiator_cpus() - the CPU numbers of a CPU initiator.
 * @cpus: receives up to @n CPU numbers in increasing order (may be NULL
 *        when @n is 0).
 * Return: the number of CPUs of the set (may exceed @n), -EINVAL (not an
 * initiator).
 */
long hms_initiator_cpus(const struct hms_object *o, unsigned *cpus, size_t n);

/**
 * hms_object_perf() - the performance of a link or a bridge.
 * Return: 0, -EINVAL (NULL, or not a link or bridge).
 */
int hms_object_perf(const struct hms_object *o, struct hms_perf *out);

/**
 * hms_object_members() - the initiators or targets of a link, or the
 * initiators a bridge carries.
 * @type: HMS_OBJECT_INITIATOR or HMS_OBJECT_TARGET (links only).
 * @uids: receives up to @n uids, in increasing order.
 * Return: the number of members (may exceed @n), -EINVAL (not a link or a
 * bridge, or a type it has no members of).
 */
long hms_object_members(const struct hms_object *o, enum hms_object_type type,
			hms_uid *uids, size_t n);

/**
 * hms_bridge_ends() - the link a bridge leaves (@from) and the link it
 * reaches (@to).  Either pointer may be NULL.
 * Return: 0, -EINVAL (not a bridge).
 */
int hms_bridge_ends(const struct hms_object *o, hms_uid *from, hms_uid *to);

/**
 * hms_topology_path() - the performance from an initiator to a target.
 * @initiator, @target: uids in the snapshot.
 * @perf: receives the path's performance.
 *
 * A path starts in a link that holds @initiator, crosses bridges that
 * carry @initiator and ends in a link that holds @target.  Its bandwidth
 * is the minimum and its latency the sum over every link and bridge it
 * uses; a figure is HMS_PERF_UNKNOWN when one of them lacks it.  Of
 * several paths, the one with the fewest bridges wins, then the highest
 * read bandwidth, then the lowest read latency.
 * Return: the number of bridges the path crosses (0 within one link),
 * -ENOENT (no path, or a uid not in the snapshot), -EINVAL (NULL, or the
 * uids are not an initiator and a target).
 */
int hms_topology_path(const struct hms_topology *t, hms_uid initiator,
		      hms_uid target, struct hms_perf *perf);

/** What hms_topology_best_target() optimizes. */
enum hms_attribute {
	HMS_ATTR_BANDWIDTH = 1, /* highest read bandwidth of the path */
	HMS_ATTR_LATENCY = 2,   /* lowest read latency of the path */
	HMS_ATTR_CAPACITY = 3,  /* largest target */
};

/**
 * hms_topology_best_target() - the target an initiator reaches best.
 * @attribute: enum hms_attribute.
 *
 * Only targets with a path from @initiator count, and only those whose
 * figure for @attribute is known; ties go to the better other figure
 * (latency for bandwidth, bandwidth for latency and capacity), then the
 * lower uid.
 * Return: the target's uid (> 0), -EINVAL (bad attribute, NULL, not an
 * initiator), -ENOENT (no such initiator, or it reaches no target),
 * -ENODATA (it reaches targets, but none has a known figure).
 */
long hms_topology_best_target(const struct hms_topology *t, hms_uid initiator,
			      enum hms_attribute attribute);

/**
 * struct hms_matrix_cell - one initiator x target pair.
 * @initiator, @target: uids.
 * @status:  hms_topology_path()'s result: bridges crossed, or -ENOENT.
 * @perf:    the path's performance (all HMS_PERF_UNKNOWN if no path).
 */
struct hms_matrix_cell {
	hms_uid initiator;
	hms_uid target;
	int status;
	struct hms_perf perf;
};

/**
 * hms_topology_matrix() - every initiator x target path at once.
 * @cells: receives the cells, initiator-major, both in increasing uid
 *         order; NULL to ask for the count.
 * @n:     room in @cells.
 * Return: the number of cells (initiators x targets), -ERANGE (@n is too
 * small; nothing written), -EINVAL (NULL snapshot).
 */
long hms_topology_matrix(const struct hms_topology *t,
			 struct hms_matrix_cell *cells, size_t n);

/** Version of the JSON schema hms_topology_write_json() writes. */
#define HMS_TOPOLOGY_JSON_VERSION 1
/** Version of the sysfs-style tree hms_topology_write_sysfs() writes. */
#define HMS_TOPOLOGY_SYSFS_VERSION 1

/**
 * hms_topology_write_json() - write the snapshot as JSON (schema in
 * docs/topology.md, version HMS_TOPOLOGY_JSON_VERSION).
 * Return: 0, -EINVAL (NULL), -EIO (a write to @f failed).
 */
int hms_topology_write_json(const struct hms_topology *t, FILE *f);

/**
 * hms_topology_write_dot() - write the snapshot as a graphviz digraph:
 * initiators and targets as nodes, links as small nodes joined to their
 * members, bridges as arrows between links.
 * Return: 0, -EINVAL, -EIO.
 */
int hms_topology_write_dot(const struct hms_topology *t, FILE *f);

/**
 * hms_topology_write_sysfs() - write the snapshot as the HMS proposal's
 * sysfs-style tree: under @dir a file "version" (HMS_TOPOLOGY_SYSFS_VERSION)
 * and one directory per object named v<version>-<uid>-<type> (type:
 * target, initiator, link, bridge), with one attribute file per fact and
 * symlinks between related objects.  Files are made 0444, never
 * overwritten.  @dir is created if needed and must hold neither a
 * "version" file nor a v<version>-* entry; that is checked before
 * anything is written.
 * Return: 0, -EINVAL, -EEXIST (@dir already holds such a tree, whoever
 * the caller; nothing written), or the errno of the mkdir/open/readdir/
 * symlink that failed (the tree is then partial).
 */
int hms_topology_write_sysfs(const struct hms_topology *t, const char *dir);

/* ------------------------------------------------------------------------
 * Placement: per-range policy (hms_bind), migration (hms_migrate), where
 * pages are (hms_where), and the HMS proposal's hbind ABI (hms_hbind)
 *
 * A policy says on which memory targets (uids from the topology: NUMA
 * nodes or device memory) the pages of a range should live.  Policies are
 * kept per range in a tree of non-overlapping ranges, apart from the
 * kernel's VMAs; a range without one has the DEFAULT policy (the kernel's
 * placement for system memory, nothing for devices).
 *
 * When a policy acts:
 *   - CPU first touch: the page lands on the policy's system nodes (hms
 *     sets the kernel's NUMA policy of the range with mbind(), which the
 *     fault engine's page fills follow).  The fill is made by hms' fault
 *     handler thread, so where the kernel chooses by distance (several
 *     nodes listed, or no policy) it chooses near the CPU that thread
 *     runs on, not near the thread that touched the page.  A CPU *read*
 *     of a never written page may map the shared zero page, which lives
 *     on no node; the first write places it.
 *   - device first touch: a device faulting (hms_range_fault()) a page of
 *     a range whose policy lists that device's memory gets the page moved
 *     into its memory, and so does a device touching such a page that is
 *     in system memory (it came back for a CPU access).
 *   - CPU touch of a page in device memory: the page comes back to system
 *     memory for the access, whatever the policy says (device-private
 *     memory cannot be reached by a CPU, as in the kernel); it returns to
 *     the device on that device's next access, or on
 *     hms_migrate(..., HMS_MIGRATE_POLICY).
 *   - pages already populated when a policy is set stay where they are
 *     until hms_migrate() moves them.
 *
 * The "home" target of an initiator in a policy is the first listed
 * target it can place pages on: for CPUs the listed system nodes (the
 * kernel picks among several, for BIND and PREFERRED alike, see
 * hms_bind()), for a device the first of its own memories listed.
 *
 * Errors shared by the calls below: -EINVAL (NULL context or argument,
 * zero or unaligned length or address, unknown flags, an empty target
 * list, a uid listed twice, a uid that is not a target), -E2BIG (more than
 * HMS_BIND_MAX_TARGETS targets), -ENOENT (a target uid not in the
 * topology, or a range not entirely inside managed areas, memory just
 * unmapped included: see "Managed areas"), -EXDEV (a
 * target hms cannot place pages on: neither a NUMA node with memory nor
 * device memory whose driver can migrate pages in), -ECHILD (context
 * inherited by fork).  Arguments are checked before anything changes: a
 * call that fails for one of these reasons changed nothing.
 * ---------------------------------------------------------------------- */

/** The most targets a policy, a migration or an hbind call may list. */
#define HMS_BIND_MAX_TARGETS 16

/** hms_bind() flags. */
#define HMS_BIND_PREFERRED (1u << 0) /* the soft form: other targets when full */

/** struct hms_policy.mode */
enum hms_policy_mode {
	HMS_POLICY_DEFAULT = 0,   /* no policy: the kernel's placement */
	HMS_POLICY_BIND = 1,      /* only the listed targets */
	HMS_POLICY_PREFERRED = 2, /* the listed targets first, then any */
};

/**
 * struct hms_policy - the policy of an address (hms_policy_get()).
 * @start, @end: the range [start, end) that has this very policy: the
 *               range given to hms_bind() (or the union of adjacent ranges
 *               given the same policy), less what was unbound or unmapped
 *               since; for DEFAULT, the run without policy around the
 *               address within its managed area.
 * @mode:        enum hms_policy_mode.
 * @ntargets:    entries of @targets used (0 for DEFAULT).
 * @targets:     target uids, in the order given.
 */
struct hms_policy {
	uintptr_t start;
	uintptr_t end;
	unsigned mode;
	unsigned ntargets;
	hms_uid targets[HMS_BIND_MAX_TARGETS];
};

/**
 * hms_bind() - set the placement policy of a managed range.
 * @addr, @len: page aligned, non-empty, entirely inside managed areas
 *              (several adjacent areas are fine).
 * @targets:    @n target uids, in order of preference.
 * @n:          1 .. HMS_BIND_MAX_TARGETS.
 * @flags:      0 (strict BIND) or HMS_BIND_PREFERRED.
 *
 * Replaces whatever policy overlapped the range (the parts of other
 * policies outside it stay).  Strict BIND: new pages go to the listed
 * targets only, in order until they are full; for system nodes the kernel
 * enforces this with MPOL_BIND, which picks the listed node nearest to the
 * allocating CPU first rather than the first listed (with one system node
 * listed the two agree).  PREFERRED: the listed targets first, then any
 * other one (MPOL_PREFERRED_MANY, or MPOL_PREFERRED on the first listed
 * node for kernels before 5.15); with several system nodes the kernel
 * again picks the listed node nearest to the allocating CPU first.  The
 * allocating CPU of a CPU's first touch is the one running hms' fault
 * handler thread.  Pages already populated do not move:
 * call hms_migrate() for them.  After hms_unmanage() (and hms_close(), for
 * memory adopted with hms_manage()) the kernel keeps the NUMA policy set
 * here on the memory; call hms_bind_default() first to drop it.
 *
 * Return: 0, the shared errors of this section, -ENOMEM, or mbind()'s
 * errno.  Undone by hms_bind_default(); unmapping or unmanaging a range
 * drops exactly its part of the policy, hms_close() all of it.
 */
int hms_bind(struct hms *h, void *addr, size_t len, const hms_uid *targets,
	     size_t n, unsigned flags);

/**
 * hms_bind_default() - drop the policy of a managed range.
 *
 * Policies that overlap [addr, addr + len) are trimmed, split in two or
 * removed, so that exactly that range is left with the DEFAULT policy.
 * Pages stay where they are.  Return: 0, -EINVAL, -ENOENT (not entirely
 * managed), -ENOMEM (a policy must be split and no memory is left;
 * nothing changed), -ECHILD, or mbind()'s errno.
 */
int hms_bind_default(struct hms *h, void *addr, size_t len);

/**
 * hms_policy_get() - the policy of the page that holds @addr.
 * @out: receives the policy and the range it covers (see struct
 *       hms_policy).
 * Return: 0, -EINVAL (NULL), -ENOENT (@addr is not managed), -ECHILD.
 */
int hms_policy_get(struct hms *h, const void *addr, struct hms_policy *out);

/** hms_migrate() flags. */
#define HMS_MIGRATE_POLICY (1u << 0) /* to each range's policy targets */

/**
 * hms_migrate() - move the populated pages of a range to targets.
 * @addr, @len: page aligned, non-empty, entirely managed.
 * @targets:    @n target uids in order: pages go to the first one until it
 *              is full, then to the next.  With HMS_MIGRATE_POLICY,
 *              @targets must be NULL and @n 0: each page goes to the
 *              targets of its range's policy (ranges with the DEFAULT
 *              policy are left alone).
 * @flags:      0 or HMS_MIGRATE_POLICY.
 *
 * Best effort, like move_pages() and migrate_vma: pages that are busy (a
 * migration or a fault holds them), held exclusively by a device, never
 * populated (or discarded), backed by the shared zero page, or that fit on
 * no listed target are left where they are.  Pages already on one of the
 * listed targets are not moved and not counted.  System node to system
 * node uses batched move_pages(); system memory to device memory uses the
 * device driver's migrate_to_device (the migrate_vma engine); a page in
 * device memory goes to a system node by the driver's migrate_to_ram, then
 * move_pages(), and to another device through system memory (driver A's
 * migrate_to_ram, then driver B's migrate_to_device): if the second step
 * fails the page stays in system memory, its data intact.
 *
 * Return: the number of pages that moved onto a listed target (0 is not an
 * error), the shared errors of this section (nothing moved), -ENOMEM.
 */
long hms_migrate(struct hms *h, void *addr, size_t len, const hms_uid *targets,
		 size_t n, unsigned flags);

/**
 * hms_where() - the target each page lives on (move_pages() with no
 * nodes, for every kind of memory).
 * @addr:     page aligned start.
 * @npages:   pages to describe, all managed.
 * @uids_out: receives @npages uids: the NUMA node's target for system
 *            pages, the device memory's target for device pages, 0 for
 *            pages never populated (or discarded), backed by the shared
 *            zero page, or on a node the topology does not know.
 * Return: @npages, -EINVAL (NULL, unaligned, zero), -ENOENT (a page is
 * not managed), -ECHILD.  A page may move right after the call.
 */
long hms_where(struct hms *h, const void *addr, size_t npages, hms_uid *uids_out);

/*
 * hms_hbind(): the HMS proposal's hbind() ioctl as a call.  A command
 * stream of 32-bit atoms applies to one range and one target list:
 *
 *   atom = command (bits 0..19) | extra dwords that follow (bits 20..31)
 *   HMS_HBIND_CMD_DEFAULT   no extra dword: drop the policy of the range
 *   HMS_HBIND_CMD_BIND      no extra dword: strict BIND to the targets
 *   HMS_HBIND_CMD_MIGRATE   one extra dword: migrate the range's pages to
 *                           the targets; hms writes the number of pages
 *                           moved into that dword (saturated at
 *                           UINT32_MAX)
 *
 * Atoms run in order.  Unlike the proposal: start/end and both pointers
 * are fixed-width u64 (one layout for 32- and 64-bit callers), target uids
 * and atoms are arrays of u32 read as such, both counts are bounded, and
 * the whole stream is decoded and checked before the first atom runs.
 */

/**
 * struct hms_hbind_params - the hbind() argument (40 bytes, no padding).
 * @start, @end: the range [start, end), page aligned.
 * @ntargets:    entries of @targets (0 .. HMS_BIND_MAX_TARGETS; at least
 *               1 when an atom is BIND or MIGRATE).
 * @natoms:      dwords in @atoms, atoms and their extra dwords together
 *               (1 .. HMS_HBIND_MAX_DWORDS).
 * @targets:     address of an array of u32 target uids (hms_uid).
 * @atoms:       address of an array of u32 atoms; MIGRATE results are
 *               written back into it.
 */
struct hms_hbind_params {
	uint64_t start;
	uint64_t end;
	uint32_t ntargets;
	uint32_t natoms;
	uint64_t targets;
	uint64_t atoms;
};
#ifdef __cplusplus
static_assert(sizeof(struct hms_hbind_params) == 40, "hbind ABI is 40 bytes");
#else
_Static_assert(sizeof(struct hms_hbind_params) == 40, "hbind ABI is 40 bytes");
#endif

#define HMS_HBIND_CMD_DEFAULT 0u
#define HMS_HBIND_CMD_BIND 1u
#define HMS_HBIND_CMD_MIGRATE 2u
#define HMS_HBIND_CMD_BITS 20
#define HMS_HBIND_CMD_MASK ((1u << HMS_HBIND_CMD_BITS) - 1)
/** The most dwords (atoms and their extra dwords) one call may carry. */
#define HMS_HBIND_MAX_DWORDS 256u
/** Builds an atom: command @cmd followed by @ndw extra dwords. */
#define HMS_HBIND_ATOM(cmd, ndw) \
	((uint32_t)(cmd) | ((uint32_t)(ndw) << HMS_HBIND_CMD_BITS))
#define HMS_HBIND_ATOM_CMD(a) ((uint32_t)(a) & HMS_HBIND_CMD_MASK)
#define HMS_HBIND_ATOM_NDW(a) ((uint32_t)(a) >> HMS_HBIND_CMD_BITS)

/**
 * hms_hbind() - run an hbind command stream (see above).
 * @p: the parameters; only the MIGRATE atoms' extra dwords are written.
 *
 * Return: 0 when every atom ran; -EINVAL (NULL, unaligned or empty range,
 * natoms 0 or above HMS_HBIND_MAX_DWORDS, an unknown command, a command
 * with the wrong number of extra dwords or whose dwords run past @natoms,
 * BIND or MIGRATE with no target, a NULL array that is needed, a uid
 * listed twice or that is not a target), -E2BIG (ntargets above
 * HMS_BIND_MAX_TARGETS), -ENOENT (a target uid not in the topology, or the
 * range not entirely managed), -EXDEV, -ECHILD: all found before any atom
 * runs, so nothing changed.  When an atom fails while running (-ENOMEM, an
 * mbind() errno), the atoms before it have taken effect, the MIGRATE
 * results of those written, and the later ones have not run.
 */
int hms_hbind(struct hms *h, struct hms_hbind_params *p);

/* ------------------------------------------------------------------------
 * Advice and dirty tracking
 * ---------------------------------------------------------------------- */

/** hms_advise() advice. */
enum hms_advice {
	/** Devices that read a page keep a read-only copy (a replica) in
	 *  their own memory while the system copy stays; several devices may
	 *  hold one.  The page is write protected meanwhile: the first write,
	 *  by a CPU thread or a device, first drops every replica
	 *  (PROTECTION_PAGE invalidation) and then proceeds. */
	HMS_ADVICE_READ_MOSTLY = 1,
	HMS_ADVICE_UNSET_READ_MOSTLY = 2,  /* drops the replicas too */
	/** target: where pages go back to after an access moved them (the
	 *  HMS_BIND_PREFERRED policy on that target; hms_bind() and this
	 *  advice set the same per-range policy, the last call wins). */
	HMS_ADVICE_PREFERRED_LOCATION = 3,
	HMS_ADVICE_UNSET_PREFERRED_LOCATION = 4, /* back to the default policy */
	/** target (a device's target uid): that device maps system pages of
	 *  the range in place instead of moving them to its memory when a
	 *  placement policy would. */
	HMS_ADVICE_ACCESSED_BY = 5,
	HMS_ADVICE_UNSET_ACCESSED_BY = 6,
};

/**
 * hms_advise() - tell hms how a managed range will be used.
 * @h:      the context.
 * @addr, @len: a page-aligned, non-empty range, entirely managed.
 * @advice: enum hms_advice.
 * @target: PREFERRED_LOCATION: the target uid pages belong on;
 *          ACCESSED_BY: the target uid of a device memory
 *          (hms_softdev_target(), hms_devmem_target()); UNSET_ACCESSED_BY:
 *          the uid to remove (any nonzero uid; one not in the list changes
 *          nothing); the other advice takes 0.
 *
 * Advice belongs to the range, not to the pages: it survives migrations
 * and MADV_DONTNEED, and goes when the range stops being managed.  The
 * advice of one range may combine READ_MOSTLY, one PREFERRED_LOCATION
 * and up to HMS_BIND_MAX_TARGETS ACCESSED_BY devices.
 *
 * Return: 0; -EINVAL (NULL context, bad range, unknown advice, a target
 * given where none is taken, or none where one is needed, an ACCESSED_BY
 * uid that is not a target: an initiator, say); -ENOENT (range not
 * entirely managed, or, for PREFERRED_LOCATION and ACCESSED_BY only, a
 * target uid that is not in the topology); -EXDEV (ACCESSED_BY names a
 * target that is not device memory, or device memory whose driver has no
 * migrate_to_device); -E2BIG
 * (more than HMS_BIND_MAX_TARGETS ACCESSED_BY devices on a page);
 * -EOPNOTSUPP (READ_MOSTLY where hms_wp_async() is true); -ENOMEM (part
 * of the range may have taken the advice); -ECHILD (fork child).
 * PREFERRED_LOCATION and its UNSET return what hms_bind() and
 * hms_bind_default() return.  Other errors change nothing, except that an
 * UNSET_READ_MOSTLY failing while it drops replicas (a userfaultfd error)
 * leaves the advice unset.  Advice changes no mapping a device already
 * holds: it acts on the next device fault.  Must not be called from an hms
 * callback.
 */
int hms_advise(struct hms *h, void *addr, size_t len, int advice, hms_uid target);

/** hms_dirty_scan() flags */
#define HMS_DIRTY_NO_REARM (1u << 0) /* report only: do not clear or re-arm */

/**
 * hms_dirty_scan() - which pages were written since the last scan.
 * @h:      the context.
 * @addr, @len: a page-aligned, non-empty, entirely managed range.
 * @bitmap: (len / HMS_PAGE_SIZE) bits, bit i (bitmap[i / 64] >> (i % 64))
 *          for page i; written whole (set bits: written).
 * @flags:  HMS_DIRTY_* flags.
 *
 * Reports the pages of the range written (by a CPU thread, a device, or
 * the kernel) since the previous scan of that page re-armed it; a page
 * never scanned before, or whose history hms lost (discarded by
 * MADV_DONTNEED, moved by a migration, living in device memory now,
 * the emptied old range of an MREMAP_DONTUNMAP), reads as written; pages
 * mremap() moves keep their state.  Then, unless HMS_DIRTY_NO_REARM, it re-arms every
 * page: a SOFT_DIRTY invalidation takes write access from every device,
 * and pages are write protected, so the next write is seen.  A write that
 * races the scan is reported by this scan or by the next, never lost.
 *
 * Two mechanisms, same answers: where hms_wp_async() is true the kernel
 * records writes itself and one PAGEMAP_SCAN ioctl reads and re-arms them;
 * elsewhere the first write to each page after a re-arm takes a
 * write-protect fault that hms records (HMS_WP_SYNC=1 in the environment
 * forces this path).
 *
 * Return: the number of written pages reported; -EINVAL (NULL context or
 * bitmap, bad range, unknown flags); -ENOENT (not entirely managed);
 * -ENOMEM; -ECHILD; the errno of a failing userfaultfd or PAGEMAP_SCAN
 * ioctl, -EOPNOTSUPP (PAGEMAP_SCAN refused in an asynchronous context):
 * the bitmap is then not written, and the pages it would have reported
 * or may not have re-armed read as written next time.  Pages in device memory cannot be
 * protected: they read as written at every scan while there.  Must not be
 * called from an hms callback.
 */
long hms_dirty_scan(struct hms *h, void *addr, size_t len, uint64_t *bitmap,
		    unsigned flags);

/* ------------------------------------------------------------------------
 * Statistics
 * ---------------------------------------------------------------------- */

/**
 * struct hms_stats - counters since hms_open(); each only grows.
 */
struct hms_stats {
	uint64_t cpu_faults;        /* userfaultfd faults resolved (a retry is not another) */
	uint64_t cpu_faults_device; /* ... of which brought pages back from a device */
	uint64_t device_faults;     /* pages hms_range_fault() had to fault */
	uint64_t wp_faults;         /* write-protect faults resolved (CPU and device) */
	uint64_t migrations_to_device; /* pages moved system -> device */
	uint64_t migrations_to_system; /* pages moved device -> system */
	uint64_t bytes_to_device;      /* data copied, zero pages excluded */
	uint64_t bytes_to_system;
	uint64_t invalidations[9];     /* by enum hms_event (hms_driver.h); [8] unused */
	uint64_t replicas_made;        /* read-only copies handed to devices */
	uint64_t replicas_collapsed;   /* ... dropped by a write or UNSET_READ_MOSTLY */
	uint64_t prefaulted;           /* pages hms_prefault() brought in */
};

/** hms_stats() - copy the context's counters.  Return: 0, -EINVAL. */
int hms_stats(struct hms *h, struct hms_stats *out);

/**
 * hms_stats_print() - write the counters as "name value" lines, then
 * flush @f.  Return: 0, -EINVAL (NULL argument), -EIO (a write to @f or
 * its flush failed).
 */
int hms_stats_print(const struct hms_stats *s, FILE *f);

/* ------------------------------------------------------------------------
 * Software device (softdev): the reference driver and test vehicle
 *
 * A softdev has a private memory pool that the application cannot reach
 * by pointer, its own page table (which mirrors the CPU's through an
 * hms mirror and hms_range_fault()) and worker threads.  Its operations
 * follow the kernel's HMM test device: each takes a struct
 * hms_softdev_cmd and reports pages done (cpages) and fault rounds
 * (faults).  Every operation (read, write, migrate_to_device/_system,
 * snapshot, exclusive, check_exclusive, release, launch) fails with
 * -ESHUTDOWN once the device is stopping: its context is being closed,
 * or hms_softdev_destroy() ran and could not bring every page back.
 * ---------------------------------------------------------------------- */

struct hms_softdev;

/**
 * struct hms_softdev_config - how to build a softdev (NULL: defaults).
 * @size:        sizeof(struct hms_softdev_config).
 * @pool_bytes:  device memory, rounded to pages (default 64 MiB).
 * @nthreads:    worker threads for launch() (default 2).
 * @name:        shown in the topology (default "softdevN").
 */
struct hms_softdev_config {
	size_t size;
	size_t pool_bytes;
	unsigned nthreads;
	const char *name;
};

/**
 * struct hms_softdev_cmd - one device operation.
 * @addr:   page aligned start of the range in the address space.
 * @buf:    data buffer (read, write) or npages snapshot bytes.
 * @npages: pages to operate on.
 * @cpages: out: pages done.
 * @faults: out: fault rounds (hms_range_fault() calls that faulted).
 */
struct hms_softdev_cmd {
	uint64_t addr;
	void *buf;
	uint64_t npages;
	uint64_t cpages;
	uint64_t faults;
};

/**
 * hms_softdev_create() - attach a software device to a context.
 *
 * Registers its memory (hms_devmem_add()), a mirror, and its target,
 * initiator and link in the topology.  Return: 0, -EINVAL (NULL @h or
 * @out, a nonzero cfg->size smaller than the structure, a pool of 2^32
 * pages or more, more than 256 threads), -ENOMEM, -EAGAIN (thread
 * creation), -ECHILD.  Pairs with hms_softdev_destroy().
 */
int hms_softdev_create(struct hms *h, const struct hms_softdev_config *cfg,
		       struct hms_softdev **out);

/**
 * hms_softdev_destroy() - bring all its pages back to system memory and
 * detach it.  NULL is accepted.
 */
void hms_softdev_destroy(struct hms_softdev *dev);

/** The topology uid of the softdev's memory (a target). */
hms_uid hms_softdev_target(const struct hms_softdev *dev);
/** The topology uid of the softdev as an initiator. */
hms_uid hms_softdev_initiator(const struct hms_softdev *dev);
/** Pages of the softdev's pool in use now: pages migrated there and
 *  read-only replicas (HMS_ADVICE_READ_MOSTLY). */
size_t hms_softdev_pages_used(const struct hms_softdev *dev);

/**
 * hms_softdev_read() - the device reads npages from addr into buf.
 *
 * Pages it does not mirror are faulted with hms_range_fault() (read
 * request): pages of other devices come back to system memory, its own
 * are read in place.  Memory outside managed areas is read in place
 * (hms_user_read) and never cached in the device's page table.
 * Return: 0, -EINVAL, -EFAULT (a page cannot be read: unmapped, no read
 * permission), -EBUSY (invalidated on every retry).  cmd->cpages and
 * cmd->faults are set on success.
 */
int hms_softdev_read(struct hms_softdev *dev, struct hms_softdev_cmd *cmd);

/** hms_softdev_write() - the device writes buf to npages at addr.
 *  As read(); -EPERM when a page is not writable. */
int hms_softdev_write(struct hms_softdev *dev, struct hms_softdev_cmd *cmd);

/**
 * hms_softdev_migrate_to_device() - move pages into the device's pool.
 *
 * Best effort, like migrate_vma: pages that are not movable (not managed,
 * busy, already on this device) are skipped; when the pool is full the
 * pages that fit move.  cmd->cpages is the number of pages moved.
 * As the kernel's test device, it checks the range first: every page must
 * be managed and readable.  Return: 0, -EINVAL (bad cmd; a page without
 * read permission; a range only partly managed), -ENOENT (no page of the
 * range is managed, or none could be selected: all already on a device or
 * busy), -ENOMEM (not one page could be allocated).
 */
int hms_softdev_migrate_to_device(struct hms_softdev *dev,
				  struct hms_softdev_cmd *cmd);

/** hms_softdev_migrate_to_system() - move the device's pages in the range
 *  back to system memory; cmd->cpages = pages moved.  Return: 0, -EINVAL. */
int hms_softdev_migrate_to_system(struct hms_softdev *dev,
				  struct hms_softdev_cmd *cmd);

/* Snapshot bytes (one per page), the kernel HMM test device's values. */
#define HMS_SNAP_NONE 0x00
#define HMS_SNAP_READ 0x01
#define HMS_SNAP_WRITE 0x02
#define HMS_SNAP_PMD 0x04
#define HMS_SNAP_PUD 0x08
#define HMS_SNAP_ZERO 0x10
#define HMS_SNAP_DEV_PRIVATE_LOCAL 0x20
#define HMS_SNAP_DEV_PRIVATE_REMOTE 0x30
#define HMS_SNAP_ERROR 0xFF

/**
 * hms_softdev_snapshot() - report the device's view of each page without
 * faulting anything: one HMS_SNAP_* byte per page into cmd->buf.
 * Return: 0, -EINVAL, -EBUSY.
 */
int hms_softdev_snapshot(struct hms_softdev *dev, struct hms_softdev_cmd *cmd);

/**
 * hms_softdev_exclusive() - take exclusive access to pages for atomics:
 * the pages are brought to system memory and write-protected from the
 * CPU; the next CPU write gives them back (EXCLUSIVE invalidation).
 * cmd->cpages = pages made exclusive.  Return: 0, -EINVAL, -EFAULT,
 * -EPERM (read-only), -ENOENT (not managed), -EOPNOTSUPP (a context with
 * asynchronous write protection, hms_wp_async()), -ESHUTDOWN.
 */
int hms_softdev_exclusive(struct hms_softdev *dev, struct hms_softdev_cmd *cmd);

/** hms_softdev_check_exclusive() - 0 if no page of the range is exclusive
 *  to this device any more (a CPU access revoked it), -EPERM if one still
 *  is (the kernel test device's check); -EINVAL. */
int hms_softdev_check_exclusive(struct hms_softdev *dev,
				struct hms_softdev_cmd *cmd);

/** hms_softdev_release() - evict all of the device's memory back to system
 *  memory (the kernel test's "device private memory release"), then drop
 *  its read-only replicas and mappings: the pool is empty afterwards.
 *  Return: pages moved, or a negative errno. */
long hms_softdev_release(struct hms_softdev *dev);

/**
 * hms_softdev_fail_alloc() - fault injection: the next @n device page
 * allocations fail (0 turns it off).
 */
void hms_softdev_fail_alloc(struct hms_softdev *dev, unsigned n);

/**
 * Device kernel: called once per page on the device's worker threads with
 * @page pointing at the page's data in device memory (4 KiB), @index the
 * page's index in the launched range.
 */
typedef void (*hms_softdev_kernel_fn)(void *page, uint64_t index, void *arg);

/**
 * hms_softdev_launch() - run a kernel on the device over a range.
 *
 * The range is checked (every page managed and readable), faulted in for
 * writing (pages of other devices come back; a page the CPU may not write
 * fails the call with -EPERM), and made resident in device memory
 * (migrated; pages that do not fit stay in system memory and the call
 * fails with -ENOMEM before running anything; where hms_wp_async() is
 * true populated pages never move, so it always fails so), then @fn runs
 * on every page on the worker threads,
 * with translated (device) addresses.  Pages stay in device memory
 * afterwards; a CPU touch brings them back.  cmd->buf is unused.  Device
 * pages given back while the kernel runs (the application freed the range
 * under it) return to the pool when it is done: its late writes are lost,
 * never seen in other memory.
 * Return: 0, -EINVAL (bad cmd, NULL @fn, a page without read permission,
 * a range only partly managed), -ENOMEM, -ENOENT (no page managed),
 * -EPERM (a page not writable), -EFAULT (a page could not be faulted in:
 * unmapped meanwhile, or another device's migrate_to_ram failed), -EBUSY
 * (pages stayed busy through the fault-in, or other parties took pages
 * away after their migration, round after round for a second; a launch
 * tries again while that happens), -ESHUTDOWN (the device is
 * stopping), or another error of hms_range_fault().
 */
int hms_softdev_launch(struct hms_softdev *dev, struct hms_softdev_cmd *cmd,
		       hms_softdev_kernel_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* HMS_H */
