/* SPDX-License-Identifier: MIT */
/*
 * hms_cuda.h - NVIDIA GPUs as hms targets: a driver on the CUDA driver
 * API, written against hms_driver.h alone (as the softdev is).
 *
 * libcuda is loaded at run time: hms builds and runs without it, and
 * hms_cuda_device_count() says plainly why no GPU can be used.  Each
 * attached GPU registers its memory as a target (HMS_TARGET_DEVICE_PRIVATE),
 * itself as an initiator, and links to its memory and to system memory
 * whose bandwidth and latency are measured when it attaches.
 *
 * The GPU access model (man 7 hms_cuda):
 *   - Device memory is taken from the GPU in chunks (2 MiB by default,
 *     chunk_mib) of 2 MiB slots, a slot per 2 MiB block of the CPU's
 *     virtual address space that has pages on the GPU; a page lives in its
 *     block's slot at the same offset.  A chunk goes back to the GPU when
 *     the last page of its last slot leaves (a few empty slots are kept
 *     for reuse: keep_chunks).
 *   - Pages move to the GPU by hms_migrate()/hms_hbind() to
 *     hms_cuda_target(), by a bind policy, or on demand by hms_cuda_map();
 *     a CPU touch of a page on the GPU brings that page back (as with the
 *     softdev), unless a kernel has it mapped: then the CPU waits for
 *     hms_cuda_unmap().
 *   - READ_MOSTLY ranges (hms_advise) mapped HMS_CUDA_MAP_READ_ONLY get
 *     read-only replicas on the GPU instead: the system copy stays.
 *   - hms_cuda_map() makes [addr, addr + len) resident and returns one
 *     device pointer for it (a device virtual window over the blocks'
 *     chunks): a kernel reaches byte addr + i at dptr + i.  After the
 *     kernel has finished, hms_cuda_unmap(); the CPU then reads what the
 *     kernel wrote (its touch brings the pages back).
 */
#ifndef HMS_CUDA_H
#define HMS_CUDA_H

#include "hms.h"

#ifdef __cplusplus
extern "C" {
#endif

struct hms_cuda;

/** How pages reach the GPU (struct hms_cuda_config.copy_mode). */
enum hms_cuda_copy_mode {
	HMS_CUDA_COPY_STAGED = 0,   /* CPU copy into pinned buffers, then DMA */
	HMS_CUDA_COPY_REGISTER = 1, /* pin the pages in place (read-only), DMA */
};

/**
 * struct hms_cuda_config - how to attach a GPU (NULL: defaults).
 * @size:         sizeof(struct hms_cuda_config).
 * @device:       CUDA device ordinal (default 0).
 * @mem_bytes:    GPU memory hms may use; 0: three quarters of what is free
 *                when it attaches.  Rounded down to a whole number of
 *                chunks (chunk_mib; a chunk larger than this shrinks to
 *                it).
 * @copy_threads: threads that move batches to the GPU in parallel
 *                (default 4, at most 64).
 * @copy_mode:    enum hms_cuda_copy_mode.
 * @name:         the target's and initiator's name (default "cudaN").
 * @keep_chunks:  empty 2 MiB slots kept for reuse instead of going back
 *                to the GPU at once, like a CUDA memory pool's release
 *                threshold (default 256, 512 MiB; HMS_CUDA_KEEP_NONE: none).
 *                Whenever more slots than this are free, empty chunks go
 *                back until at most this many are free or none is empty
 *                (free slots of chunks that still hold a block stay).
 * @chunk_mib:    GPU memory taken by one cuMemCreate(), in MiB: 2 to 128,
 *                even (0: $HMS_CUDA_CHUNK_MIB when set and not 0, else 2).
 *                A chunk serves one aligned chunk_mib region of the
 *                address space: block b (2 MiB) sits in slot b % (chunk_mib
 *                / 2) of its region's chunk, so one page on the GPU holds
 *                a whole chunk, and a range that is not aligned takes a
 *                chunk more at each end (CUDA maps an allocation only
 *                from its start: hms_cuda_map() maps whole chunks).
 *                Larger chunks make fewer CUDA calls when many blocks
 *                move: 32 MiB moved 1 GiB host->GPU 13-24% faster than 2
 *                MiB on an H200 (BENCHMARKS.md).  A config whose size ends
 *                before this field ends gets the default.
 *                (64 bits wide so that it starts past the end of the
 *                struct before it: that struct's sizeof covered the
 *                padding where an unsigned would sit.)
 */
struct hms_cuda_config {
	size_t size;
	int device;
	uint64_t mem_bytes;
	unsigned copy_threads;
	unsigned copy_mode;
	const char *name;
	unsigned keep_chunks;
	uint64_t chunk_mib;
};

#define HMS_CUDA_KEEP_NONE (~0u)

/**
 * struct hms_cuda_info - what hms_cuda_info() reports.
 * @name:        the GPU's name ("NVIDIA H100 80GB HBM3").
 * @driver_version: cuDriverGetVersion(): 1000 * major + 10 * minor.
 * @total_bytes: the GPU's memory.
 * @pool_bytes:  what hms may use of it.
 * @used_bytes:  in slots taken by a block now (2 MiB each): slots that
 *               hold pages (replicas too), and slots a window holds
 *               (hms_cuda_map(), from the time it starts placing pages
 *               until hms_cuda_unmap()) even where its pages have gone,
 *               discarded or freed: no other block can use them.
 * @kept_bytes:  in free slots of chunks the GPU gave (see keep_chunks,
 *               chunk_mib).  used_bytes + kept_bytes is the GPU memory
 *               hms holds.
 * @h2d_mib_s, @d2h_mib_s, @latency_ns: measured when it attached
 *               (pinned copies of 16 MiB; a 4-byte copy's round trip).
 */
struct hms_cuda_info {
	char name[128];
	int driver_version;
	uint64_t total_bytes;
	uint64_t pool_bytes;
	uint64_t used_bytes;
	uint64_t kept_bytes;
	uint32_t h2d_mib_s;
	uint32_t d2h_mib_s;
	uint32_t latency_ns;
};

/**
 * hms_cuda_device_count() - how many CUDA GPUs this process can use.
 * @why, @whylen: receives the reason when there are none (may be NULL).
 * Return: the count (> 0), or -ENOENT (no CUDA driver library),
 * -ENOSYS (the driver lacks a needed entry point), -ENODEV (no GPU, or
 * the driver cannot reach one).
 */
int hms_cuda_device_count(char *why, size_t whylen);

/**
 * hms_cuda_attach() - make a GPU an hms target and initiator.
 * Return: 0; -EINVAL (bad arguments or config); -ENOENT, -ENOSYS,
 * -ENODEV as hms_cuda_device_count(), also for an ordinal with no GPU;
 * -EOPNOTSUPP (the GPU lacks virtual memory management); -ENOMEM; -EIO
 * (a CUDA call failed).  Pairs with hms_cuda_detach().
 */
int hms_cuda_attach(struct hms *h, const struct hms_cuda_config *cfg,
		    struct hms_cuda **out);

/**
 * hms_cuda_detach() - bring every page back to system memory, give the
 * GPU's memory back and unregister.  If a page cannot be brought back
 * (a window is still mapped), the GPU stays attached and hms_close()
 * finishes the job; nothing is lost.  Return: 0 or -EBUSY.
 */
int hms_cuda_detach(struct hms_cuda *g);

/** The topology uid of the GPU's memory (a target), or 0. */
hms_uid hms_cuda_target(const struct hms_cuda *g);
/** The topology uid of the GPU as an initiator, or 0. */
hms_uid hms_cuda_initiator(const struct hms_cuda *g);
/** The CUDA context hms uses (the device's primary context, a CUcontext):
 *  make it current to launch kernels on windows.  hms makes it current
 *  for its own calls on a program's thread and puts back the thread's. */
void *hms_cuda_context(const struct hms_cuda *g);

/** hms_cuda_info() - fill *info.  Return: 0, -EINVAL. */
int hms_cuda_info(const struct hms_cuda *g, struct hms_cuda_info *info);

/** hms_cuda_map() flags. */
#define HMS_CUDA_MAP_READ_ONLY (1u << 0) /* kernels only read: READ_MOSTLY pages get replicas */

/**
 * hms_cuda_map() - make [addr, addr + len) resident on the GPU and give a
 * device pointer to it for kernels.
 * @flags: 0, or HMS_CUDA_MAP_READ_ONLY: the kernels will only read the
 *         window.  Pages of READ_MOSTLY ranges (hms_advise()) then get a
 *         read-only copy on the GPU and stay in system memory too (the CPU
 *         keeps reading them in place); a write to such a page (CPU or
 *         another device) drops the copy first, and waits while a window
 *         maps it.  Other pages move to the GPU as without the flag.
 * @dptr: receives the device address of addr (a CUdeviceptr).
 *
 * Pages not on the GPU are migrated (never-touched pages become zeroed
 * GPU pages).  Until hms_cuda_unmap() the pages stay on the GPU: a CPU
 * touch waits for the unmap.  The window covers whole 2 MiB blocks; bytes
 * outside [addr, addr + len) that it shows are undefined (and their pages
 * are not held: a CPU touch brings one home at once).  Windows may
 * overlap.  Return: 0; -EINVAL (bad arguments, len 0, unknown flags); -ENOENT (a page
 * is not managed); -ENOMEM (GPU memory exhausted, or CPU touches kept
 * taking pages back while they were placed: nothing moved back, the
 * pages that fit stay on the GPU, nothing is lost); -EBUSY (a page could
 * not be placed, e.g. one moved here by mremap occupies its slot);
 * -EAGAIN (HMS_CUDA_MAP_READ_ONLY: writes to the range kept dropping the
 * replicas as they were made; nothing is held, try again); -EDEADLK
 * (another thread's fork() waits for a window this thread holds, and
 * pages would have to move meanwhile: unmap this thread's windows, then
 * try again; nothing is held); -EIO.
 */
int hms_cuda_map(struct hms_cuda *g, void *addr, size_t len, unsigned flags,
		 uint64_t *dptr);

/**
 * hms_cuda_unmap() - end a window made by hms_cuda_map() with the same
 * addr and len (the calling thread's own first, where several have them);
 * the CPU may take the pages back.  Call it after the
 * kernels that use the window have finished.  Return: 0, -EINVAL,
 * -ENOENT (no such window).
 */
int hms_cuda_unmap(struct hms_cuda *g, void *addr, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* HMS_CUDA_H */
