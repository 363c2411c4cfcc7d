/* SPDX-License-Identifier: MIT */
/*
 * gpu.c - attaching an NVIDIA GPU: the CUDA context, the pool, device
 * memory registration, the link figures measured at attach, topology
 * objects, detach and release.  Memory is in gpu_mem.c, migration in
 * gpu_migrate.c, windows for kernels in gpu_map.c.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu.h"

static atomic_uint gpu_count;

GPU_API int hms_cuda_device_count(char *why, size_t whylen)
{
	int err, n = 0;
	const struct hms_cu *cu = hms_cu_get(why, whylen, &err);
	CUresult r;

	if (!cu)
		return err;
	r = cu->DeviceGetCount(&n);
	if (r != CUDA_SUCCESS || n <= 0) {
		if (why && whylen)
			snprintf(why, whylen, "no GPU: cuDeviceGetCount %s",
				 r == CUDA_SUCCESS ? "found none" : hms_cu_strerror(cu, r));
		return -ENODEV;
	}
	return n;
}

/* ---- link figures, measured once at attach ------------------------------------ */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Best of a few pinned copies of 16 MiB each way, and the median round
 * trip of a 4-byte copy (what one small access across the link costs). */
static void gpu_measure(struct hms_cuda *g)
{
	const struct hms_cu *cu = g->cu;
	const size_t len = 16UL << 20;
	CUdeviceptr d = 0;
	void *hbuf = NULL;
	double best_h2d = 1e9, best_d2h = 1e9, lat[15];

	if (cu->MemAlloc(&d, len) != CUDA_SUCCESS)
		return;
	if (cu->MemAllocHost(&hbuf, len) != CUDA_SUCCESS) {
		cu->MemFree(d);
		return;
	}
	memset(hbuf, 1, len);
	for (int i = 0; i < 4; i++) {
		double t = now_s();

		if (cu->MemcpyHtoD(d, hbuf, len) != CUDA_SUCCESS)
			break;
		t = now_s() - t;
		if (i && t < best_h2d)
			best_h2d = t;
		t = now_s();
		if (cu->MemcpyDtoH(hbuf, d, len) != CUDA_SUCCESS)
			break;
		t = now_s() - t;
		if (i && t < best_d2h)
			best_d2h = t;
	}
	for (int i = 0; i < 15; i++) {
		double t = now_s();

		cu->MemcpyDtoH(hbuf, d, 4);
		lat[i] = now_s() - t;
	}
	for (int i = 1; i < 15; i++) /* insertion sort for the median */
		for (int j = i; j > 0 && lat[j] < lat[j - 1]; j--) {
			double x = lat[j];

			lat[j] = lat[j - 1];
			lat[j - 1] = x;
		}
	if (best_h2d < 1e9)
		g->h2d_mib_s = (uint32_t)((double)len / best_h2d / 1048576.0);
	if (best_d2h < 1e9)
		g->d2h_mib_s = (uint32_t)((double)len / best_d2h / 1048576.0);
	g->latency_ns = (uint32_t)(lat[7] * 1e9);
	cu->MemFreeHost(hbuf);
	cu->MemFree(d);
}

/* ---- topology: the GPU as an initiator, linked to its memory and to system
 * memory ------------------------------------------------------------------- */

static void gpu_topology_add(struct hms_cuda *g)
{
	struct hms_topology *t;
	const struct hms_object *o;
	hms_uid sys[64], own = hms_devmem_target(g->dm);
	size_t n = 0;
	char note[256];
	struct hms_initiator_desc ini = { .name = g->name, .kind = HMS_INITIATOR_DEVICE,
					  .numa_node = HMS_NONE, .note = note };
	struct hms_link_desc link = {
		.name = g->name,
		.initiators = &g->initiator,
		.ninitiators = 1,
		.perf = { HMS_PERF_UNKNOWN, HMS_PERF_UNKNOWN, HMS_PERF_UNKNOWN, HMS_PERF_UNKNOWN },
	};

	snprintf(note, sizeof(note), "NVIDIA GPU %s (CUDA driver %d.%d), by hms' CUDA driver",
		 g->gpu_name, g->cu->version / 1000, g->cu->version % 1000 / 10);
	if (hms_initiator_add(g->h, &ini, &g->initiator))
		return;
	/* The GPU's own memory: reached at memory speed; no figure measured. */
	link.targets = &own;
	link.ntargets = 1;
	link.note = "the GPU and its own memory";
	if (own)
		hms_link_add(g->h, &link, &g->link_own);

	if (hms_topology_get(g->h, &t) == 0) {
		hms_topology_for_each(t, HMS_OBJECT_TARGET, o) {
			struct hms_target_info ti;

			if (n < 64 && hms_target_info(o, &ti) == 0 && ti.numa_node != HMS_NONE)
				sys[n++] = hms_object_uid(o);
		}
		hms_topology_put(t);
	}
	if (!n)
		return;
	snprintf(note, sizeof(note), "measured at attach: pinned copies of 16 MiB "
		 "(read = GPU to system, write = system to GPU), latency = a 4-byte copy's round trip");
	link.name = g->name;
	link.targets = sys;
	link.ntargets = n;
	link.note = note;
	link.perf.read_bandwidth = g->d2h_mib_s ? g->d2h_mib_s : HMS_PERF_UNKNOWN;
	link.perf.write_bandwidth = g->h2d_mib_s ? g->h2d_mib_s : HMS_PERF_UNKNOWN;
	link.perf.read_latency = g->latency_ns ? g->latency_ns : HMS_PERF_UNKNOWN;
	link.perf.write_latency = link.perf.read_latency;
	hms_link_add(g->h, &link, &g->link_sys);
}

/* ---- attach / detach --------------------------------------------------------- */

static void gpu_prof_print(const struct hms_cuda *g)
{
	static const char *const names[GPU_PROF_COUNT] = {
		"to GPU: setup", "to GPU: alloc", "to GPU: copy", "to GPU: pages",
		"to GPU: finalize", "to system: setup", "to system: copy",
		"to system: pages", "to system: finalize", "to GPU: wall", "to system: wall",
	};

	if (!g->prof)
		return;
	fprintf(stderr, "hms cuda %s: time per phase, all threads together (HMS_CUDA_PROF)\n",
		g->name);
	for (int i = 0; i < GPU_PROF_COUNT; i++)
		fprintf(stderr, "  %-20s %10.3f ms\n", names[i],
			(double)atomic_load(&g->prof_ns[i]) / 1e6);
}

static void gpu_free(struct hms_cuda *g)
{
	gpu_prof_print(g);
	if (g->threads)
		gpu_threads_stop(g);
	gpu_mem_fini(g);
	if (g->ctx)
		g->cu->DevicePrimaryCtxRelease(g->dev);
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->jlock);
	pthread_cond_destroy(&g->jcond);
	pthread_cond_destroy(&g->jdone);
	free(g);
}

/* hms_close() with the GPU still attached: every page is home. */
static void gpu_release(struct hms_devmem *dm)
{
	struct hms_cuda *g = hms_devmem_priv(dm);

	if (g->iv)
		hms_interval_remove(g->iv);
	if (g->mirror)
		hms_mirror_unregister(g->mirror);
	gpu_free(g);
}

static const struct hms_devmem_ops gpu_devmem_ops = {
	.migrate_to_ram = gpu_migrate_to_ram,
	.page_free = gpu_page_free,
	.release = gpu_release,
	.migrate_to_device = gpu_migrate_to_device,
	.evict_range = gpu_evict_range,
};

static bool gpu_mirror_sync(struct hms_mirror *m, const struct hms_notify_range *r)
{
	(void)m;
	(void)r;
	/* The GPU maps nothing of system memory: it only holds its own pages,
	 * which hms moves through migrate_to_ram and page_free. */
	return true;
}

static void gpu_mirror_release(struct hms_mirror *m)
{
	struct hms_cuda *g = hms_mirror_priv(m);

	/* The address space goes away: the copy threads finish, and windows
	 * left mapped no longer keep pages from coming home (their kernels
	 * must be done: hms_close() does not wait for the GPU). */
	gpu_threads_stop(g);
	pthread_mutex_lock(&g->lock);
	g->closing = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static const struct hms_mirror_ops gpu_mirror_ops = {
	.sync = gpu_mirror_sync,
	.release = gpu_mirror_release,
};

static int cu_errno(CUresult r)
{
	switch (r) {
	case CUDA_ERROR_OUT_OF_MEMORY:
		return -ENOMEM;
	case CUDA_ERROR_INVALID_DEVICE:
	case CUDA_ERROR_NO_DEVICE:
		return -ENODEV;
	default:
		return -EIO;
	}
}

/* $HMS_CUDA_CHUNK_MIB, or 2: what chunk_mib 0 means (so the variable's
 * 0, like the field's, is the default).  -EINVAL when the variable is set
 * to something other than a number. */
static int default_chunk_mib(uint64_t *mib)
{
	const char *e = getenv("HMS_CUDA_CHUNK_MIB");
	char *end;
	unsigned long v;

	*mib = 2;
	if (!e || !*e)
		return 0;
	errno = 0;
	v = strtoul(e, &end, 10);
	if (errno || *end || e[0] < '0' || e[0] > '9' || v > 4096)
		return -EINVAL;
	if (v)
		*mib = v;
	return 0;
}

static int attach(struct hms *h, const struct hms_cuda_config *cfg, struct hms_cuda **out)
{
	struct hms_cuda_config c = { sizeof(c), 0, 0, 4, HMS_CUDA_COPY_STAGED, NULL, 256, 0 };
	struct hms_devmem_desc desc = { 0 };
	const struct hms_cu *cu;
	const char *prof;
	struct hms_cuda *g;
	size_t free_b = 0, total_b = 0;
	int vmm = 0, err, ret;
	CUresult r;

	if (!h || !out)
		return -EINVAL;
	if (cfg) {
		/* A size that ends before chunk_mib ends: a caller built
		 * before it.  Its struct's padding may lie under chunk_mib's
		 * start, so nothing of the field is read. */
		if (cfg->size && cfg->size < offsetof(struct hms_cuda_config, chunk_mib))
			return -EINVAL;
		memcpy(&c, cfg, cfg->size && cfg->size < sizeof(c)
					? offsetof(struct hms_cuda_config, chunk_mib)
					: sizeof(c));
		c.size = sizeof(c);
		if (!c.copy_threads)
			c.copy_threads = 4;
		if (!c.keep_chunks)
			c.keep_chunks = 256;
	}
	if (!c.chunk_mib) {
		ret = default_chunk_mib(&c.chunk_mib);
		if (ret)
			return ret;
	}
	if (c.device < 0 || c.copy_threads > 64 || c.copy_mode > HMS_CUDA_COPY_REGISTER ||
	    c.chunk_mib < 2 || c.chunk_mib > 2 * GPU_CHUNK_MAX_SLOTS || c.chunk_mib % 2)
		return -EINVAL;
	cu = hms_cu_get(NULL, 0, &err);
	if (!cu)
		return err;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->h = h;
	g->cu = cu;
	g->copy_mode = c.copy_mode;
	g->keep = c.keep_chunks == HMS_CUDA_KEEP_NONE ? 0 : c.keep_chunks;
	g->chunk_slots = c.chunk_mib / 2;
	prof = getenv("HMS_CUDA_PROF");
	g->prof = prof && *prof && strcmp(prof, "0");
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	pthread_mutex_init(&g->jlock, NULL);
	pthread_cond_init(&g->jcond, NULL);
	pthread_cond_init(&g->jdone, NULL);
	r = cu->DeviceGet(&g->dev, c.device);
	if (r != CUDA_SUCCESS) {
		gpu_free(g);
		return -ENODEV;
	}
	cu->DeviceGetAttribute(&vmm, HMS_CU_ATTR_VMM_SUPPORTED, g->dev);
	if (!vmm) {
		gpu_free(g);
		return -EOPNOTSUPP;
	}
	r = cu->DevicePrimaryCtxRetain(&g->ctx, g->dev);
	if (r != CUDA_SUCCESS) {
		g->ctx = NULL;
		gpu_free(g);
		return cu_errno(r);
	}
	cu->CtxSetCurrent(g->ctx);
	if (cu->DeviceGetName(g->gpu_name, sizeof(g->gpu_name), g->dev) != CUDA_SUCCESS)
		snprintf(g->gpu_name, sizeof(g->gpu_name), "CUDA device %d", c.device);
	cu->DeviceTotalMem(&total_b, g->dev);
	cu->MemGetInfo(&free_b, &total_b);
	g->total_bytes = total_b;
	if (!c.mem_bytes)
		c.mem_bytes = free_b / 4 * 3;
	g->nslots = c.mem_bytes / GPU_BLOCK;
	if (!g->nslots || g->nslots > UINT32_MAX / GPU_BLOCK_PAGES) {
		gpu_free(g);
		return c.mem_bytes ? -EINVAL : -ENOMEM;
	}
	/* A whole number of chunks, as each serves a whole region (gpu.h):
	 * the pool rounds down to one, or the chunk to the pool where the
	 * pool is smaller.  (A short last chunk could hold only the first
	 * blocks of a region.) */
	if (g->chunk_slots > g->nslots)
		g->chunk_slots = g->nslots;
	g->nslots -= g->nslots % g->chunk_slots;
	if (c.name)
		snprintf(g->name, sizeof(g->name), "%s", c.name);
	else
		snprintf(g->name, sizeof(g->name), "cuda%u", atomic_fetch_add(&gpu_count, 1));
	ret = gpu_mem_init(g, c.copy_threads + 2);
	if (ret) {
		gpu_free(g);
		return ret;
	}
	gpu_measure(g);

	desc.name = g->name;
	desc.npages = g->nslots * GPU_BLOCK_PAGES;
	desc.owner = g;
	desc.kind = HMS_DEVMEM_PRIVATE;
	ret = hms_devmem_add(h, &desc, &gpu_devmem_ops, g, &g->dm);
	if (ret) {
		gpu_free(g);
		return ret;
	}
	g->first = hms_devmem_pfn_first(g->dm);
	ret = hms_mirror_register(h, &gpu_mirror_ops, g, &g->mirror);
	if (!ret)
		ret = hms_interval_insert(h, 0, UINTPTR_MAX, &gpu_interval_ops, g, &g->iv);
	if (!ret)
		ret = gpu_threads_start(g, c.copy_threads);
	if (ret) {
		hms_cuda_detach(g);
		return ret;
	}
	gpu_topology_add(g);
	*out = g;
	return 0;
}

/* The thread's CUDA context is put back (gpu_ctx_enter()): attach makes
 * the primary context current on the way. */
GPU_API int hms_cuda_attach(struct hms *h, const struct hms_cuda_config *cfg,
			    struct hms_cuda **out)
{
	const struct hms_cu *cu = h && out ? hms_cu_get(NULL, 0, NULL) : NULL;
	CUcontext prev = NULL;
	bool restore = cu && cu->CtxGetCurrent(&prev) == CUDA_SUCCESS;
	int ret = attach(h, cfg, out);

	if (restore)
		cu->CtxSetCurrent(prev);
	return ret;
}

static int detach(struct hms_cuda *g)
{
	/* Every page comes back before the memory goes; a page held by a
	 * window cannot, so the GPU stays (hms_close() finishes the job). */
	pthread_mutex_lock(&g->lock);
	if (g->windows) {
		pthread_mutex_unlock(&g->lock);
		return -EBUSY;
	}
	pthread_mutex_unlock(&g->lock);
	if (g->dm && hms_devmem_remove(g->dm))
		return -EBUSY;
	if (g->link_sys)
		hms_object_remove(g->h, g->link_sys);
	if (g->link_own)
		hms_object_remove(g->h, g->link_own);
	if (g->initiator)
		hms_object_remove(g->h, g->initiator);
	if (g->iv)
		hms_interval_remove(g->iv);
	if (g->mirror)
		hms_mirror_unregister(g->mirror);
	gpu_free(g);
	return 0;
}

GPU_API int hms_cuda_detach(struct hms_cuda *g)
{
	const struct hms_cu *cu;
	CUcontext ctx, prev;
	int ret;

	if (!g)
		return -EINVAL;
	cu = g->cu;
	ctx = g->ctx;
	prev = gpu_ctx_enter(g);
	ret = detach(g); /* g is gone where it returns 0 */
	if (prev != ctx)
		cu->CtxSetCurrent(prev);
	return ret;
}

GPU_API hms_uid hms_cuda_target(const struct hms_cuda *g)
{
	return g ? hms_devmem_target(g->dm) : 0;
}

GPU_API hms_uid hms_cuda_initiator(const struct hms_cuda *g)
{
	return g ? g->initiator : 0;
}

GPU_API void *hms_cuda_context(const struct hms_cuda *g)
{
	return g ? g->ctx : NULL;
}

GPU_API int hms_cuda_info(const struct hms_cuda *g, struct hms_cuda_info *info)
{
	if (!g || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", g->gpu_name);
	info->driver_version = g->cu->version;
	info->total_bytes = g->total_bytes;
	info->pool_bytes = g->nslots * GPU_BLOCK;
	pthread_mutex_lock((pthread_mutex_t *)&g->lock);
	info->used_bytes = (g->live_slots - g->nkept_slots) * GPU_BLOCK;
	info->kept_bytes = g->nkept_slots * GPU_BLOCK;
	pthread_mutex_unlock((pthread_mutex_t *)&g->lock);
	info->h2d_mib_s = g->h2d_mib_s;
	info->d2h_mib_s = g->d2h_mib_s;
	info->latency_ns = g->latency_ns;
	return 0;
}
