/* SPDX-License-Identifier: MIT */
/*
 * stress_gpu.c - `hms stress --gpu`: one CUDA GPU (hms_cuda_attach, with a
 * pool smaller than the tested memory, so it fills up) next to the
 * softdevs, and the operations that run kernels on windows over the tested
 * memory (hms_cuda_map).  Migrations to and from the GPU are hms_migrate
 * in stress_ops.c.  With HMS_CUDA_LIBRARY naming fakecuda (tests/gpu) any
 * machine has a GPU; the kernels are those of tests/gpu/kernels.cu.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_api.h"
#include "hms_cuda.h"
#include "kernels_ptx.h"
#include "stress.h"

#define ST_GPU_POOL_MAX (64u << 20)

struct st_gpu {
	struct hms_cuda *g;
	const struct hms_cu *cu;
	hms_uid target, sys;
	CUmodule mod;         /* the kernels; dies with the context (hms_close) */
	CUfunction add, copy;
	struct hms_cuda_info info; /* at attach; used/kept again at st_gpu_close */
	_Atomic uint64_t nomem;    /* windows refused: GPU memory full */
	_Atomic uint64_t busy;     /* windows refused: a slot taken (mremap), or -EAGAIN */
	_Atomic uint64_t windows;  /* windows mapped */
	_Atomic uint64_t words;    /* 32-bit words the kernels wrote or copied */
};

/* ---- setup and teardown ------------------------------------------------------ */

/* The first NUMA node's target (hms_migrate back to system memory). */
static hms_uid find_sys_target(struct hms *h)
{
	struct hms_topology *topo;
	const struct hms_object *o = NULL;
	hms_uid uid = 0;

	if (hms_topology_get(h, &topo))
		return 0;
	while (!uid && (o = hms_topology_next(topo, HMS_OBJECT_TARGET, o))) {
		struct hms_target_info ti;

		if (!hms_target_info(o, &ti) && ti.numa_node >= 0 &&
		    ti.kind != HMS_TARGET_DEVICE_PRIVATE && ti.kind != HMS_TARGET_DEVICE_COHERENT)
			uid = hms_object_uid(o);
	}
	hms_topology_put(topo);
	return uid;
}

/*
 * The tested memory rounded up to whole chunks, plus one chunk (the memory
 * spans a block more than it fills; the scratch buffers need one too), or
 * two where a chunk is larger than a block (it serves an aligned region:
 * the memory spans a region more, and the scratch buffers take one of
 * their own); at least 4 MiB and at most 64 MiB or three chunks: windows
 * mostly fit, and now and then the GPU is full (-ENOMEM).  The chunk size
 * is $HMS_CUDA_CHUNK_MIB's (an attach with chunk_mib 0 takes it), else
 * 2 MiB.
 */
static uint64_t pool_bytes(const struct stress *s)
{
	const char *e = getenv("HMS_CUDA_CHUNK_MIB");
	unsigned long long mib = e ? strtoull(e, NULL, 10) : 0;
	uint64_t chunk = (mib && mib <= 128 ? mib : 2) << 20, max = ST_GPU_POOL_MAX;
	uint64_t pool = ((((uint64_t)s->o.mib << 20) + chunk - 1) / chunk + 1) * chunk;

	if (chunk > (2u << 20))
		pool += chunk;
	if (max < 3 * chunk)
		max = 3 * chunk;
	return pool < (4u << 20) ? (4u << 20) : pool > max ? max : pool;
}

static int load_kernels(struct st_gpu *gp)
{
	const struct hms_cu *cu = gp->cu;
	CUresult r = cu->CtxSetCurrent(hms_cuda_context(gp->g));

	if (!r)
		r = cu->ModuleLoadData(&gp->mod, hms_test_ptx);
	if (!r)
		r = cu->ModuleGetFunction(&gp->add, gp->mod, "hms_test_add");
	if (!r)
		r = cu->ModuleGetFunction(&gp->copy, gp->mod, "hms_test_copy");
	if (r)
		fprintf(stderr, "hms stress: --gpu: loading the kernels: %s\n",
			hms_cu_strerror(cu, r));
	return r ? -EIO : 0;
}

int st_gpu_open(struct stress *s)
{
	struct hms_cuda_config c = { .size = sizeof(c), .mem_bytes = pool_bytes(s),
				     .copy_threads = 2, .keep_chunks = 2 };
	struct st_gpu *gp;
	char why[256] = "";
	int ret = hms_cuda_device_count(why, sizeof(why));

	if (ret <= 0) {
		fprintf(stderr, "hms stress: --gpu: no GPU can be used: %s\n", why);
		return ret ? ret : -ENODEV;
	}
	gp = calloc(1, sizeof(*gp));
	if (!gp)
		return -ENOMEM;
	s->gpu = gp;
	ret = hms_cuda_attach(s->h, &c, &gp->g);
	if (ret) {
		fprintf(stderr, "hms stress: --gpu: hms_cuda_attach: %s\n", strerror(-ret));
		return ret;
	}
	gp->cu = hms_cu_get(why, sizeof(why), &ret);
	if (!gp->cu) {
		fprintf(stderr, "hms stress: --gpu: %s\n", why);
		return ret;
	}
	ret = load_kernels(gp);
	if (ret)
		return ret;
	hms_cuda_info(gp->g, &gp->info);
	gp->target = hms_cuda_target(gp->g);
	gp->sys = find_sys_target(s->h);
	return 0;
}

void st_gpu_close(struct stress *s)
{
	struct st_gpu *gp = s->gpu;
	struct hms_cuda_info now;

	if (!gp || !gp->g)
		return;
	for (unsigned i = 0; s->threads && i < s->nthreads; i++)
		if (s->threads[i].gpu_scratch) {
			hms_free(s->h, s->threads[i].gpu_scratch, ST_MAX_SPAN * ST_REGION_BYTES);
			s->threads[i].gpu_scratch = NULL;
		}
	if (!hms_cuda_info(gp->g, &now)) {
		gp->info.used_bytes = now.used_bytes;
		gp->info.kept_bytes = now.kept_bytes;
	}
	if (gp->mod && !gp->cu->CtxSetCurrent(hms_cuda_context(gp->g)))
		gp->cu->ModuleUnload(gp->mod);
	gp->mod = NULL;
	gp->g = NULL; /* hms_close() detaches it */
}

int st_gpu_thread_init(struct st_thread *t)
{
	struct stress *s = t->s;

	if (!s->gpu)
		return 0;
	t->gpu_scratch = hms_alloc(s->h, ST_MAX_SPAN * ST_REGION_BYTES, 0);
	return t->gpu_scratch ? 0 : -1;
}

hms_uid st_gpu_target(const struct stress *s)
{
	return s->gpu ? s->gpu->target : 0;
}

hms_uid st_sys_target(const struct stress *s)
{
	return s->gpu ? s->gpu->sys : 0;
}

void st_gpu_summary(struct stress *s)
{
	struct st_gpu *gp = s->gpu;

	if (!gp)
		return;
	st_log(s, "gpu: %s, pool %llu MiB: windows mapped %llu, refused -ENOMEM %llu, -EBUSY or -EAGAIN %llu; "
	       "32-bit words written by kernels %llu; at the end %llu MiB used, %llu MiB kept\n",
	       gp->info.name, (unsigned long long)(gp->info.pool_bytes >> 20),
	       (unsigned long long)atomic_load(&gp->windows),
	       (unsigned long long)atomic_load(&gp->nomem),
	       (unsigned long long)atomic_load(&gp->busy),
	       (unsigned long long)atomic_load(&gp->words),
	       (unsigned long long)(gp->info.used_bytes >> 20),
	       (unsigned long long)(gp->info.kept_bytes >> 20));
}

/* Every fourth mapped region from first onwards to the GPU (best effort:
 * the pool is smaller than the memory). */
void st_gpu_park(struct stress *s, size_t first)
{
	for (size_t r = first; s->gpu && r < s->nregions; r += 4)
		if (s->reg[r].state == REG_MAPPED)
			hms_migrate(s->h, st_addr(s, r, 0), ST_REGION_BYTES, &s->gpu->target, 1, 0);
}

/* ---- operations ------------------------------------------------------------------ */

/* Launch fn over n threads (one per 32-bit word) and wait for it. */
static int launch(struct stress *s, CUfunction fn, unsigned long long n, void **params)
{
	struct st_gpu *gp = s->gpu;
	const struct hms_cu *cu = gp->cu;
	CUresult r = cu->CtxSetCurrent(hms_cuda_context(gp->g));

	if (!r)
		r = cu->LaunchKernel(fn, (unsigned)((n + 255) / 256), 1, 1, 256, 1, 1, 0, NULL,
				     params, NULL);
	if (!r)
		r = cu->CtxSynchronize();
	if (r) {
		st_log(s, "hms stress: kernel launch: %s\n", hms_cu_strerror(cu, r));
		return -EIO;
	}
	atomic_fetch_add(&gp->words, n);
	return 0;
}

/* hms_cuda_map's documented refusals: out of GPU memory (nothing is lost),
 * a page moved here by mremap still holds the slot (-EBUSY), or, for a
 * read-only window, writes kept dropping the replicas (-EAGAIN, counted
 * with -EBUSY). */
static bool refused(struct stress *s, int ret)
{
	if (ret != -ENOMEM && ret != -EBUSY && ret != -EAGAIN)
		return false;
	atomic_fetch_add(ret == -ENOMEM ? &s->gpu->nomem : &s->gpu->busy, 1);
	atomic_fetch_add(&s->tolerated, 1);
	return true;
}

/* The shadow of what hms_test_add did: every 32-bit word += v. */
static void shadow_add(uint8_t *p, size_t len, uint32_t v)
{
	for (size_t i = 0; i + 4 <= len; i += 4) {
		uint32_t w;

		memcpy(&w, p + i, 4);
		w += v;
		memcpy(p + i, &w, 4);
	}
}

/* The span is ours (locked for writing, every page read-write). */
int st_gpu_write(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	void *a = st_addr(s, sp->r, sp->first);
	size_t len = (size_t)sp->npages * HMS_PAGE_SIZE;
	unsigned long long n = len / 4;
	unsigned v = (unsigned)st_rand(t);
	uint64_t d = 0;
	void *params[] = { &d, &n, &v };
	int ret = hms_cuda_map(s->gpu->g, a, len, 0, &d), uret;

	*res = ret;
	if (refused(s, ret))
		return 0;
	if (ret)
		return st_error(s, "hms_cuda_map", sp, ret, seq);
	atomic_fetch_add(&s->gpu->windows, 1);
	ret = launch(s, s->gpu->add, n, params);
	uret = hms_cuda_unmap(s->gpu->g, a, len);
	if (ret)
		return st_error(s, "kernel hms_test_add on a window", sp, ret, seq);
	if (uret)
		return st_error(s, "hms_cuda_unmap", sp, uret, seq);
	shadow_add(st_shadow(s, sp->r, sp->first), len, v);
	st_written(s, sp->r, sp->first, sp->npages);
	return 0;
}

/*
 * The span is shared with other readers (every page readable): a
 * read-only window over it (READ_MOSTLY pages get replicas, set here one
 * time in three), a read-write one over this thread's scratch, a copy
 * kernel, then the scratch must equal the shadow.
 */
int st_gpu_read(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	struct hms_cuda *g = s->gpu->g;
	void *a = st_addr(s, sp->r, sp->first);
	uint8_t *out = t->gpu_scratch;
	size_t len = (size_t)sp->npages * HMS_PAGE_SIZE;
	unsigned long long n = len / 4;
	unsigned zero = 0;
	uint64_t src = 0, dst = 0;
	void *params[] = { &dst, &src, &n, &zero };
	int ret = 0, uret;

	if (!st_below(t, 3)) {
		ret = hms_advise(s->h, a, len, HMS_ADVICE_READ_MOSTLY, 0);
		/* documented: no replicas with asynchronous write protection */
		if (s->o.wp_async && ret == -EOPNOTSUPP)
			ret = 0;
		else if (s->o.wp_async && !st_injected_nomem(ret))
			return st_error(s, "hms_advise(READ_MOSTLY) with asynchronous write "
					"protection, expected -EOPNOTSUPP", sp, ret ? ret : 1, seq);
	}
	if (st_injected_nomem(ret))
		atomic_fetch_add(&s->tolerated, 1); /* refused: no advice, no replicas */
	else if (ret)
		return st_error(s, "hms_advise(READ_MOSTLY)", sp, ret, seq);
	memset(out, 0xa5, len); /* a kernel that did not run is a mismatch */
	ret = hms_cuda_map(g, a, len, HMS_CUDA_MAP_READ_ONLY, &src);
	*res = ret;
	if (refused(s, ret))
		return 0;
	if (ret)
		return st_error(s, "hms_cuda_map(HMS_CUDA_MAP_READ_ONLY)", sp, ret, seq);
	ret = hms_cuda_map(g, out, len, 0, &dst);
	if (ret) {
		uret = hms_cuda_unmap(g, a, len);
		if (uret)
			return st_error(s, "hms_cuda_unmap(read-only window)", sp, uret, seq);
		*res = ret;
		return refused(s, ret) ? 0 : st_error(s, "hms_cuda_map of the scratch", sp, ret, seq);
	}
	atomic_fetch_add(&s->gpu->windows, 2);
	ret = launch(s, s->gpu->copy, n, params);
	uret = hms_cuda_unmap(g, a, len);
	if (!uret)
		uret = hms_cuda_unmap(g, out, len);
	if (ret)
		return st_error(s, "kernel hms_test_copy between windows", sp, ret, seq);
	if (uret)
		return st_error(s, "hms_cuda_unmap", sp, uret, seq);
	return st_compare(s, "gpu kernel read", sp, out, seq);
}
