/* SPDX-License-Identifier: MIT */
/*
 * bench_gpu.c - hms on an NVIDIA GPU against CUDA's own ways, in the same
 * run on the same GPU:
 *   - host -> GPU and GPU -> host of N MiB (default 1 GiB) by hms_migrate(),
 *     by cuMemPrefetchAsync() on cuMemAllocManaged() memory (Unified
 *     Memory), and by cuMemcpy from pinned memory (the copy engines'
 *     limit); hms in each copy configuration;
 *   - a CPU touch of one GPU-resident 4 KiB page: hms' fault-back against
 *     Unified Memory's CPU fault on GPU-resident managed memory;
 *   - CPU reads of every page of 64 MiB on the GPU: an hms huge area
 *     (a whole 2 MiB block per fault; 16-page windows on a note line)
 *     against Unified Memory's CPU faults;
 *   - a read-only window's replicas of N MiB against hms_migrate of as
 *     many bytes (bench_gpu_replica.c; not with HMS_BENCH_GPU_ONLY, unless
 *     it holds "replica").
 * SKIPs (exit 0, says why) where no GPU can be used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cuda_api.h"
#include "hms.h"
#include "hms_cuda.h"

static double gbps(size_t bytes, double secs)
{
	return secs > 0 ? (double)bytes / secs / 1e9 : 0;
}

#define CHECK(x)                                                                   \
	do {                                                                       \
		CUresult r_ = (x);                                                 \
		if (r_ != CUDA_SUCCESS) {                                          \
			fprintf(stderr, "hms bench gpu: %s: %s\n", #x,             \
				hms_cu_strerror(cu, r_));                          \
			return -1;                                                 \
		}                                                                  \
	} while (0)

/* cuMemcpy between pinned host memory and cuMemAlloc memory. */
static int pinned_runs(const struct hms_cu *cu, size_t bytes, unsigned reps, double *h2d,
		       double *d2h)
{
	void *host;
	CUdeviceptr dev;

	CHECK(cu->MemAllocHost(&host, bytes));
	CHECK(cu->MemAlloc(&dev, bytes));
	memset(host, 5, bytes);
	for (unsigned i = 0; i < reps; i++) {
		double t = bench_now();

		CHECK(cu->MemcpyHtoD(dev, host, bytes));
		h2d[i] = gbps(bytes, bench_now() - t);
		t = bench_now();
		CHECK(cu->MemcpyDtoH(host, dev, bytes));
		d2h[i] = gbps(bytes, bench_now() - t);
	}
	cu->MemFree(dev);
	cu->MemFreeHost(host);
	return 0;
}

/* Unified Memory: prefetch to the GPU and back. */
static int prefetch_runs(const struct hms_cu *cu, size_t bytes, unsigned reps, double *h2d,
			 double *d2h)
{
	struct hms_cu_location gpu = { HMS_CU_LOC_DEVICE, 0 }, host = { HMS_CU_LOC_HOST, 0 };
	CUdeviceptr m;

	if (!cu->MemAllocManaged || !cu->MemPrefetchAsync) {
		fprintf(stderr, "hms bench gpu: the driver lacks managed memory prefetch\n");
		return -1;
	}
	CHECK(cu->MemAllocManaged(&m, bytes, HMS_CU_MEM_ATTACH_GLOBAL));
	memset((void *)(uintptr_t)m, 6, bytes);
	for (unsigned i = 0; i < reps; i++) {
		double t = bench_now();

		CHECK(cu->MemPrefetchAsync(m, bytes, gpu, 0, NULL));
		CHECK(cu->CtxSynchronize());
		h2d[i] = gbps(bytes, bench_now() - t);
		t = bench_now();
		CHECK(cu->MemPrefetchAsync(m, bytes, host, 0, NULL));
		CHECK(cu->CtxSynchronize());
		d2h[i] = gbps(bytes, bench_now() - t);
	}
	/* CPU fault on GPU-resident managed memory: one page per 2 MiB. */
	cu->MemFree(m);
	return 0;
}

#define FAULT_PAGES 64

static int um_fault_runs(const struct hms_cu *cu, double *us)
{
	const size_t bytes = FAULT_PAGES * (2UL << 20);
	struct hms_cu_location gpu = { HMS_CU_LOC_DEVICE, 0 };
	CUdeviceptr m;
	volatile char *p;

	CHECK(cu->MemAllocManaged(&m, bytes, HMS_CU_MEM_ATTACH_GLOBAL));
	p = (volatile char *)(uintptr_t)m;
	for (size_t i = 0; i < FAULT_PAGES; i++)
		p[i << 21] = 1;
	CHECK(cu->MemPrefetchAsync(m, bytes, gpu, 0, NULL));
	CHECK(cu->CtxSynchronize());
	for (size_t i = 0; i < FAULT_PAGES; i++) {
		double t = bench_now();

		(void)p[i << 21];
		us[i] = (bench_now() - t) * 1e6;
	}
	cu->MemFree(m);
	return 0;
}

/* hms: one page per 2 MiB on the GPU, each brought back by a CPU read. */
static int hms_fault_runs(struct hms *h, struct hms_cuda *g, double *us)
{
	const size_t bytes = FAULT_PAGES * (2UL << 20);
	volatile char *p = hms_alloc(h, bytes, 0);
	hms_uid t = hms_cuda_target(g);

	if (!p)
		return -1;
	for (size_t i = 0; i < FAULT_PAGES; i++)
		p[i << 21] = 1;
	if (hms_migrate(h, (void *)p, bytes, &t, 1, 0) != FAULT_PAGES) {
		fprintf(stderr, "hms bench gpu: pages did not move to the GPU\n");
		return -1;
	}
	for (size_t i = 0; i < FAULT_PAGES; i++) {
		double t0 = bench_now();

		(void)p[i << 21];
		us[i] = (bench_now() - t0) * 1e6;
	}
	hms_free(h, (void *)p, bytes);
	return 0;
}

struct variant {
	const char *name;
	unsigned mode, threads;
	bool keep_all; /* keep every empty chunk: no chunk made twice */
	unsigned chunk_mib; /* 0: the default (2, or HMS_CUDA_CHUNK_MIB) */
	bool zap; /* a context of its own with HMS_UFFD_MOVE=0 */
	bool huge; /* the data in huge pages (HMS_ALLOC_HUGE) */
};

static const struct variant variants[] = {
	{ "staged, 4 copy threads", HMS_CUDA_COPY_STAGED, 4, false, 0 },
	{ "staged, 8 copy threads", HMS_CUDA_COPY_STAGED, 8, false, 0 },
	{ "staged, 16 copy threads", HMS_CUDA_COPY_STAGED, 16, false, 0 },
	{ "registered, 8 copy threads", HMS_CUDA_COPY_REGISTER, 8, false, 0 },
	{ "staged, 4 threads, keep all", HMS_CUDA_COPY_STAGED, 4, true, 0 },
	{ "staged, 8 threads, keep all", HMS_CUDA_COPY_STAGED, 8, true, 0 },
	{ "staged, 8 threads, 32 MiB chunks", HMS_CUDA_COPY_STAGED, 8, false, 32 },
	{ "staged, 8 threads, 128 MiB chunks", HMS_CUDA_COPY_STAGED, 8, false, 128 },
	{ "staged, 16 threads, 32 MiB chunks", HMS_CUDA_COPY_STAGED, 16, false, 32 },
	/* The system copies of pages leaving for the GPU dropped by
	 * MADV_DONTNEED (after write protection) instead of moved aside by
	 * UFFDIO_MOVE (hms_open(3)): moves are per page and take the rmap's
	 * lock, a zap flushes the TLB once per run; the way back then fills
	 * by UFFDIO_COPY, with no kept pages. */
	{ "staged, 8 threads, discard by zap", HMS_CUDA_COPY_STAGED, 8, false, 0, true },
	{ "staged, 16 threads, discard by zap", HMS_CUDA_COPY_STAGED, 16, false, 0, true },
	/* The data in 2 MiB pages (hms_alloc(HMS_ALLOC_HUGE)): the kernel
	 * protects, moves and frees a huge page as one entry, where 4 KiB
	 * pages take 512 (the host's floor, bench_gpu_host.c). */
	{ "staged, 8 threads, huge pages", HMS_CUDA_COPY_STAGED, 8, false, 0, false, true },
	{ "staged, 16 threads, huge pages", HMS_CUDA_COPY_STAGED, 16, false, 0, false, true },
	{ "staged, 16 threads, 32 MiB chunks, huge pages", HMS_CUDA_COPY_STAGED, 16, false, 32,
	  false, true },
	/* Pinned in place (cuMemHostRegister of the source, no CPU copy):
	 * 2.4 GB/s on 4 KiB pages (BENCHMARKS.md, run 4); a huge page is
	 * one folio to pin, and one registration per 2 MiB. */
	{ "registered, 8 threads, huge pages", HMS_CUDA_COPY_REGISTER, 8, false, 0, false, true },
	{ "registered, 16 threads, huge pages", HMS_CUDA_COPY_REGISTER, 16, false, 0, false, true },
};

/* A context opened with name=value in the environment (hms_open() reads
 * it), the old value put back. */
static int open_env_context(const char *name, const char *value, struct hms **out)
{
	const char *old = getenv(name);
	char *keep = old ? strdup(old) : NULL;
	int ret;

	if (old && !keep)
		return -1;
	setenv(name, value, 1);
	ret = hms_open(out, NULL);
	if (keep)
		setenv(name, keep, 1);
	else
		unsetenv(name);
	free(keep);
	return ret;
}

/* ---- CPU reads of every page of GPU-resident memory -------------------------- */

#define SEQ_MIB 64 /* at most (--mib, rounded down to 2 MiB, if less) */
#define SEQ_ROUNDS 3 /* at most (--reps, if less) */

/* Unified Memory: managed memory prefetched to the GPU, then a CPU read of
 * every 4 KiB page; microseconds per 2 MiB. */
static int um_seq_runs(const struct hms_cu *cu, size_t bytes, unsigned rounds, double *us)
{
	struct hms_cu_location gpu = { HMS_CU_LOC_DEVICE, 0 };
	CUdeviceptr m;
	char *p;

	CHECK(cu->MemAllocManaged(&m, bytes, HMS_CU_MEM_ATTACH_GLOBAL));
	p = (char *)(uintptr_t)m;
	for (unsigned r = 0; r < rounds; r++) {
		memset(p, 3, bytes);
		CHECK(cu->MemPrefetchAsync(m, bytes, gpu, 0, NULL));
		CHECK(cu->CtxSynchronize());
		us[r] = bench_read_every(p, bytes, HMS_PAGE_SIZE, NULL);
	}
	cu->MemFree(m);
	return 0;
}

/* hms: the same on an HMS_ALLOC_HUGE area moved to the GPU, each round
 * in a context of its own opened with HMS_FAULT_HUGE=whole (whole 2 MiB
 * blocks per fault, or 16-page windows); *kb: KiB in huge pages after
 * the last round's reads. */
static int hms_seq_runs(bool whole, size_t bytes, unsigned rounds, double *us, long *kb)
{
	for (unsigned r = 0; r < rounds; r++) {
		struct hms *h;
		struct hms_cuda *g = NULL;
		char *p = NULL;
		hms_uid t;
		int ret = -1;

		if (open_env_context("HMS_FAULT_HUGE", whole ? "1" : "0", &h))
			return -1;
		if (hms_cuda_attach(h, NULL, &g))
			goto out;
		t = hms_cuda_target(g);
		p = hms_alloc(h, bytes, HMS_ALLOC_HUGE);
		if (!p)
			goto out;
		memset(p, 3, bytes);
		if (hms_migrate(h, p, bytes, &t, 1, 0) != (long)(bytes / HMS_PAGE_SIZE)) {
			fprintf(stderr, "hms bench gpu: pages did not move to the GPU\n");
			goto out;
		}
		us[r] = bench_read_every(p, bytes, HMS_PAGE_SIZE, kb);
		ret = 0;
out:
		if (p)
			hms_free(h, p, bytes);
		if (g)
			hms_cuda_detach(g);
		hms_close(h);
		if (ret)
			return ret;
	}
	return 0;
}

/* hms_migrate to the GPU and back to the page's node, reps times.  The pool has
 * room for two more chunks than the data needs: the data starts anywhere,
 * and a chunk serves an aligned region (gpu.h). */
static int hms_runs(struct hms *h, const struct variant *v, size_t bytes, unsigned reps,
		    double *h2d, double *d2h, struct hms_cuda_info *info)
{
	struct hms_cuda_config c = { sizeof(c), 0, bytes + (320UL << 20), v->threads, v->mode, NULL,
				     v->keep_all ? (unsigned)((bytes >> 21) + 32) : 0,
				     v->chunk_mib };
	struct hms_cuda *g;
	char *p;
	hms_uid gpu, sys;
	size_t npages = bytes / HMS_PAGE_SIZE;
	int ret = hms_cuda_attach(h, &c, &g);

	if (ret) {
		fprintf(stderr, "hms bench gpu: attach: %s\n", strerror(-ret));
		return -1;
	}
	hms_cuda_info(g, info);
	gpu = hms_cuda_target(g);
	p = hms_alloc(h, bytes, v->huge ? HMS_ALLOC_HUGE : 0);
	if (!p) {
		hms_cuda_detach(g);
		return -1;
	}
	memset(p, 7, bytes);
	ret = hms_where(h, p, 1, &sys) == 1 ? 0 : -1;
	for (unsigned i = 0; i < reps && !ret; i++) {
		double t = bench_now();
		long n = hms_migrate(h, p, bytes, &gpu, 1, 0);

		h2d[i] = gbps(bytes, bench_now() - t);
		if (n != (long)npages) {
			fprintf(stderr, "hms bench gpu: %ld of %zu pages moved to the GPU\n", n, npages);
			ret = -1;
			break;
		}
		t = bench_now();
		n = hms_migrate(h, p, bytes, &sys, 1, 0);
		d2h[i] = gbps(bytes, bench_now() - t);
		if (n != (long)npages) {
			fprintf(stderr, "hms bench gpu: %ld of %zu pages came back\n", n, npages);
			ret = -1;
		}
	}
	for (size_t i = 0; i < bytes && !ret; i += 4096)
		if (p[i] != 7) {
			fprintf(stderr, "hms bench gpu: data lost at byte %zu\n", i);
			ret = -1;
		}
	hms_free(h, p, bytes);
	hms_cuda_detach(g);
	return ret;
}

int bench_gpu(const struct bench_opts *o)
{
	size_t bytes = o->bytes ? o->bytes : 1UL << 30;
	unsigned reps = o->reps ? o->reps : 3;
	char why[256] = "", params[320];
	const struct hms_cu *cu;
	struct hms *h;
	struct hms_cuda *g;
	struct hms_cuda_info info = { 0 };
	double *a = calloc(reps, sizeof(double)), *b = calloc(reps, sizeof(double));
	double *pf_h2d = calloc(reps, sizeof(double)), *pf_d2h = calloc(reps, sizeof(double));
	double *pin_h2d = calloc(reps, sizeof(double)), *pin_d2h = calloc(reps, sizeof(double));
	double fh[FAULT_PAGES], fu[FAULT_PAGES];
	double seq_um[SEQ_ROUNDS], seq_whole[SEQ_ROUNDS], seq_win[SEQ_ROUNDS];
	long kb_whole = 0, kb_win = 0;
	size_t seq_bytes = bytes < ((size_t)SEQ_MIB << 20) ? bytes & ~((2UL << 20) - 1)
							   : (size_t)SEQ_MIB << 20;
	unsigned seq_rounds = reps < SEQ_ROUNDS ? reps : SEQ_ROUNDS;

	if (!seq_bytes) /* --mib 1 */
		seq_bytes = 2UL << 20;
	struct bench_stat best_h2d = { 0 }, best_d2h = { 0 };
	const char *best = NULL, *only = getenv("HMS_BENCH_GPU_ONLY");
	int ret = 1;

	if (hms_cuda_device_count(why, sizeof(why)) <= 0) {
		bench_skip(o, "gpu", why);
		ret = 0;
		goto out;
	}
	cu = hms_cu_get(NULL, 0, NULL);
	if (!a || !b || !pf_h2d || !pf_d2h || !pin_h2d || !pin_d2h || hms_open(&h, NULL))
		goto out;
	/* A first attach; its context (the primary one) current for the
	 * baselines (hms puts back the thread's own). */
	if (hms_cuda_attach(h, NULL, &g))
		goto out_close;
	cu->CtxSetCurrent(hms_cuda_context(g));
	hms_cuda_info(g, &info);
	bench_note(o, "gpu        %s, CUDA driver %d.%d, %llu MiB; %zu MiB per copy, "
		   "%u repetitions\n", info.name, info.driver_version / 1000,
		   info.driver_version % 1000 / 10, (unsigned long long)(info.total_bytes >> 20),
		   bytes >> 20, reps);
	if (pinned_runs(cu, bytes, reps, pin_h2d, pin_d2h) ||
	    prefetch_runs(cu, bytes, reps, pf_h2d, pf_d2h) || um_fault_runs(cu, fu) ||
	    hms_fault_runs(h, g, fh) || um_seq_runs(cu, seq_bytes, seq_rounds, seq_um) || bench_gpu_host(o, cu, bytes))
		goto out_close;
	hms_cuda_detach(g);
	if (hms_seq_runs(true, seq_bytes, seq_rounds, seq_whole, &kb_whole) ||
	    hms_seq_runs(false, seq_bytes, seq_rounds, seq_win, &kb_win))
		goto out_close;
	/* HMS_BENCH_GPU_ONLY=chunks: the baselines and the chunk calls only. */
	if (!only || !*only || !strcmp(only, "chunks")) {
		if (bench_gpu_chunks(o, cu))
			goto out_close;
		if (only && !strcmp(only, "chunks")) {
			ret = 0;
			goto out_close;
		}
	}

	for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		struct bench_stat sh, sd;
		struct hms *hz = NULL;
		int failed;

		/* HMS_BENCH_GPU_ONLY=text: only the variants whose name holds it. */
		if (only && *only && !strstr(variants[v].name, only))
			continue;
		if (variants[v].zap && open_env_context("HMS_UFFD_MOVE", "0", &hz)) {
			bench_note(o, "gpu        hms_migrate, %-34s FAILED (no context)\n",
				   variants[v].name);
			continue;
		}
		failed = hms_runs(hz ? hz : h, &variants[v], bytes, reps, a, b, &info);
		if (hz)
			hms_close(hz);
		if (failed) {
			bench_note(o, "gpu        hms_migrate, %-34s FAILED (above)\n",
				   variants[v].name);
			continue;
		}
		sh = bench_stats(a, reps);
		sd = bench_stats(b, reps);
		bench_note(o, "gpu        hms_migrate, %-34s host->GPU %6.2f GB/s, "
			   "GPU->host %6.2f GB/s\n", variants[v].name, sh.median, sd.median);
		if (!variants[v].keep_all && sh.median + sd.median > best_h2d.median + best_d2h.median) {
			best_h2d = sh;
			best_d2h = sd;
			best = variants[v].name;
		}
	}
	if ((!only || !*only || strstr(only, "replica")) &&
	    bench_gpu_replica(o, h, cu, bytes, reps))
		goto out_close;
	if (!best) {
		ret = only && strstr(only, "replica") ? 0 : 1; /* no variant asked for */
		goto out_close;
	}
	snprintf(params, sizeof(params), "%zu MiB, %s, best hms configuration: %s", bytes >> 20,
		 info.name, best);
	bench_report(o, "gpu-h2d", "host->GPU, hms_migrate vs cuMemPrefetchAsync (managed)",
		     best_h2d, "prefetch", bench_stats(pf_h2d, reps), "GB/s", true, 0.9, params);
	bench_report(o, "gpu-h2d", "host->GPU, hms_migrate vs cuMemcpy from pinned memory",
		     best_h2d, "pinned", bench_stats(pin_h2d, reps), "GB/s", true, 0.8, params);
	bench_report(o, "gpu-d2h", "GPU->host, hms_migrate vs cuMemPrefetchAsync (managed)",
		     best_d2h, "prefetch", bench_stats(pf_d2h, reps), "GB/s", true, 0.9, params);
	bench_report(o, "gpu-d2h", "GPU->host, hms_migrate vs cuMemcpy to pinned memory",
		     best_d2h, "pinned", bench_stats(pin_d2h, reps), "GB/s", true, 0.8, params);
	snprintf(params, sizeof(params), "%d pages, one per 2 MiB, %s", FAULT_PAGES, info.name);
	bench_report(o, "gpu-fault", "CPU read of a GPU-resident 4 KiB page: hms fault-back vs "
		     "Unified Memory CPU fault", bench_stats(fh, FAULT_PAGES), "UM",
		     bench_stats(fu, FAULT_PAGES), "us", false, 0, params);
	snprintf(params, sizeof(params),
		 "%zu MiB, hms in 2 MiB pages (HMS_ALLOC_HUGE): a whole block per fault, %s",
		 seq_bytes >> 20, info.name);
	bench_report(o, "gpu-fault", "CPU reads of every 4 KiB page of GPU-resident memory: hms "
		     "fault-back vs Unified Memory CPU faults", bench_stats(seq_whole, seq_rounds),
		     "UM", bench_stats(seq_um, seq_rounds), "us/2MiB", false, 0, params);
	bench_note(o, "           the same with 16-page windows (HMS_FAULT_HUGE=0): %.1f us/2MiB; "
		      "huge pages after the reads: %ld KiB whole blocks, %ld KiB windows, of %zu "
		      "MiB\n",
		   bench_stats(seq_win, seq_rounds).median, kb_whole, kb_win, seq_bytes >> 20);
	ret = 0;
out_close:
	hms_close(h);
out:
	free(a);
	free(b);
	free(pf_h2d);
	free(pf_d2h);
	free(pin_h2d);
	free(pin_d2h);
	return ret;
}
