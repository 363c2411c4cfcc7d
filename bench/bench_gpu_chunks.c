/* SPDX-License-Identifier: MIT */
/*
 * bench_gpu_chunks.c - what CUDA's virtual memory calls cost, the calls
 * the CUDA driver makes a 2 MiB chunk of GPU memory with (cuMemCreate,
 * cuMemMap, cuMemSetAccess) and gives it back with (cuMemUnmap,
 * cuMemRelease).  On the H200 chunk creation was 41% of host->GPU's
 * thread time (BENCHMARKS); these lines say what a change would gain:
 *   - per call, for physical allocations of 2, 8, 32 and 128 MiB: whether
 *     the cost is per call (fewer, larger allocations would pay) or per
 *     byte (they would not);
 *   - 2 MiB allocations made by 1 and by 4 threads at once: whether the
 *     driver runs them one at a time (a thread making chunks ahead of the
 *     copy threads would then add nothing);
 *   - 2 MiB mapped at an offset inside a 32 MiB allocation, its bytes
 *     checked through a second mapping of the whole: whether a slot of a
 *     larger allocation can be mapped alone.  NVIDIA's driver 580 says
 *     CUDA_ERROR_NOT_SUPPORTED (on the H200, session 15): so a window
 *     maps whole chunks, each serving an aligned region (gpu.h).
 * Part of `hms bench gpu` (HMS_BENCH_GPU_ONLY=chunks runs only these and
 * the baselines); lines only, no ratio: nothing of hms is measured.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cuda_api.h"

#define MIB (1UL << 20)
#define TOTAL (256 * MIB) /* per size and thread count */
#define THREADS 4

struct chunk_ctx {
	const struct hms_cu *cu;
	CUcontext ctx;
	CUdevice dev;
};

struct chunk_times {
	double create, map, access, unmap, release; /* seconds, summed */
	unsigned n;
	CUresult err; /* the first failure, or CUDA_SUCCESS */
	const char *failed;
};

/* n allocations of size each, made, mapped side by side in one
 * reservation, given access, then unmapped and released; each step
 * timed over all n. */
static void chunk_round(const struct chunk_ctx *c, size_t size, unsigned n,
			struct chunk_times *t)
{
	const struct hms_cu *cu = c->cu;
	struct hms_cu_alloc_prop prop = { .type = HMS_CU_ALLOC_PINNED,
					  .location = { HMS_CU_LOC_DEVICE, c->dev } };
	struct hms_cu_access_desc acc = { { HMS_CU_LOC_DEVICE, c->dev }, HMS_CU_ACCESS_RW };
	CUmemGenericAllocationHandle *hd = calloc(n, sizeof(*hd));
	CUdeviceptr va = 0;
	unsigned made = 0, mapped = 0;
	double s;

	memset(t, 0, sizeof(*t));
	if (!hd) {
		t->failed = "calloc";
		t->err = CUDA_ERROR_OUT_OF_MEMORY;
		return;
	}
	cu->CtxSetCurrent(c->ctx);
	if ((t->err = cu->MemAddressReserve(&va, (size_t)n * size, 2 * MIB, 0, 0))) {
		t->failed = "cuMemAddressReserve";
		free(hd);
		return;
	}
	s = bench_now();
	for (; made < n; made++)
		if ((t->err = cu->MemCreate(&hd[made], size, &prop, 0))) {
			t->failed = "cuMemCreate";
			break;
		}
	t->create = bench_now() - s;
	s = bench_now();
	for (; !t->err && mapped < made; mapped++)
		if ((t->err = cu->MemMap(va + mapped * size, size, 0, hd[mapped], 0))) {
			t->failed = "cuMemMap";
			break;
		}
	t->map = bench_now() - s;
	s = bench_now();
	for (unsigned i = 0; !t->err && i < mapped; i++)
		if ((t->err = cu->MemSetAccess(va + i * size, size, &acc, 1))) {
			t->failed = "cuMemSetAccess";
			break;
		}
	t->access = bench_now() - s;
	s = bench_now();
	for (unsigned i = 0; i < mapped; i++)
		cu->MemUnmap(va + i * size, size);
	t->unmap = bench_now() - s;
	s = bench_now();
	for (unsigned i = 0; i < made; i++)
		cu->MemRelease(hd[i]);
	t->release = bench_now() - s;
	t->n = made;
	cu->MemAddressFree(va, (size_t)n * size);
	free(hd);
}

struct chunk_thread {
	const struct chunk_ctx *c;
	struct chunk_times t;
	pthread_t tid;
};

static void *chunk_thread_main(void *arg)
{
	struct chunk_thread *ct = arg;

	chunk_round(ct->c, 2 * MIB, TOTAL / (2 * MIB) / THREADS, &ct->t);
	return NULL;
}

static double per_call_us(double secs, unsigned n)
{
	return n ? secs * 1e6 / n : 0;
}

static int report_failure(const struct bench_opts *o, const struct chunk_ctx *c,
			  const char *what, const struct chunk_times *t)
{
	if (!t->err)
		return 0;
	bench_note(o, "gpu        chunk calls, %s: %s failed: %s\n", what, t->failed,
		   hms_cu_strerror(c->cu, t->err));
	return -1;
}

/* 2 MiB at offset 2 MiB of a 32 MiB allocation: written through that
 * mapping, read back through one of the whole allocation. */
static void offset_probe(const struct bench_opts *o, const struct chunk_ctx *c)
{
	const struct hms_cu *cu = c->cu;
	struct hms_cu_alloc_prop prop = { .type = HMS_CU_ALLOC_PINNED,
					  .location = { HMS_CU_LOC_DEVICE, c->dev } };
	struct hms_cu_access_desc acc = { { HMS_CU_LOC_DEVICE, c->dev }, HMS_CU_ACCESS_RW };
	const size_t big = 32 * MIB, part = 2 * MIB, off = 2 * MIB;
	CUmemGenericAllocationHandle hd;
	CUdeviceptr whole = 0, slot = 0;
	unsigned char *buf = malloc(part);
	const char *step = NULL;
	CUresult r;
	bool same = false;

	if (!buf)
		return;
	cu->CtxSetCurrent(c->ctx);
	if ((r = cu->MemCreate(&hd, big, &prop, 0))) {
		step = "cuMemCreate";
		goto out_free;
	}
	if ((r = cu->MemAddressReserve(&whole, big, 2 * MIB, 0, 0))) {
		step = "cuMemAddressReserve";
		goto out_release;
	}
	if ((r = cu->MemAddressReserve(&slot, part, 2 * MIB, 0, 0))) {
		step = "cuMemAddressReserve";
		goto out_whole_va;
	}
	if ((r = cu->MemMap(slot, part, off, hd, 0))) {
		step = "cuMemMap at an offset";
		goto out_slot_va;
	}
	if ((r = cu->MemSetAccess(slot, part, &acc, 1))) {
		step = "cuMemSetAccess";
		goto out_slot;
	}
	if ((r = cu->MemMap(whole, big, 0, hd, 0))) {
		step = "cuMemMap of the whole";
		goto out_slot;
	}
	if ((r = cu->MemSetAccess(whole, big, &acc, 1))) {
		step = "cuMemSetAccess";
		goto out_whole;
	}
	for (size_t i = 0; i < part; i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	if ((r = cu->MemcpyHtoD(slot, buf, part))) {
		step = "cuMemcpyHtoD";
		goto out_whole;
	}
	memset(buf, 0, part);
	if ((r = cu->MemcpyDtoH(buf, whole + off, part))) {
		step = "cuMemcpyDtoH";
		goto out_whole;
	}
	same = true;
	for (size_t i = 0; i < part && same; i++)
		same = buf[i] == (unsigned char)(i * 7 + 3);
out_whole:
	cu->MemUnmap(whole, big);
out_slot:
	cu->MemUnmap(slot, part);
out_slot_va:
	cu->MemAddressFree(slot, part);
out_whole_va:
	cu->MemAddressFree(whole, big);
out_release:
	cu->MemRelease(hd);
out_free:
	free(buf);
	if (step && r == CUDA_ERROR_NOT_SUPPORTED && !strcmp(step, "cuMemMap at an offset"))
		bench_note(o, "gpu        chunk calls, 2 MiB at offset 2 MiB of a 32 MiB allocation: "
			   "refused, the driver maps an allocation from its start only (%s)\n",
			   hms_cu_strerror(cu, r));
	else if (step)
		bench_note(o, "gpu        chunk calls, 2 MiB at offset 2 MiB of a 32 MiB allocation: "
			   "%s failed: %s\n", step, hms_cu_strerror(cu, r));
	else
		bench_note(o, "gpu        chunk calls, 2 MiB at offset 2 MiB of a 32 MiB allocation: "
			   "mapped, %s\n", same ? "the same bytes as the whole's mapping there"
					       : "OTHER bytes than the whole's mapping there");
}

int bench_gpu_chunks(const struct bench_opts *o, const struct hms_cu *cu)
{
	static const size_t sizes[] = { 2 * MIB, 8 * MIB, 32 * MIB, 128 * MIB };
	struct chunk_ctx c = { .cu = cu };
	struct chunk_thread th[THREADS];
	struct chunk_times t;
	double one_rate = 0, s, wall;
	unsigned n = 0;
	int ret = 0;

	if (cu->DeviceGet(&c.dev, 0) || cu->DevicePrimaryCtxRetain(&c.ctx, c.dev))
		return -1;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		char what[64];

		snprintf(what, sizeof(what), "%zu MiB allocations", sizes[k] / MIB);
		chunk_round(&c, sizes[k], (unsigned)(TOTAL / sizes[k]), &t);
		if (report_failure(o, &c, what, &t)) {
			ret = -1;
			continue;
		}
		s = t.create + t.map + t.access;
		if (sizes[k] == 2 * MIB)
			one_rate = s > 0 ? (double)TOTAL / s / 1e9 : 0;
		bench_note(o, "gpu        chunk calls, %u x %3zu MiB: create %8.1f, map %6.1f, "
			   "access %6.1f, unmap %6.1f, release %6.1f us per call; made at "
			   "%6.2f GB/s\n", t.n, sizes[k] / MIB, per_call_us(t.create, t.n),
			   per_call_us(t.map, t.n), per_call_us(t.access, t.n),
			   per_call_us(t.unmap, t.n), per_call_us(t.release, t.n),
			   s > 0 ? (double)TOTAL / s / 1e9 : 0);
	}
	s = bench_now();
	for (unsigned i = 0; i < THREADS; i++) {
		th[i].c = &c;
		if (pthread_create(&th[i].tid, NULL, chunk_thread_main, &th[i]))
			break;
		n++;
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i].tid, NULL);
	wall = bench_now() - s;
	for (unsigned i = 0; i < n; i++)
		if (report_failure(o, &c, "2 MiB allocations, threads at once", &th[i].t))
			ret = -1;
	if (n == THREADS && !ret) {
		double busy = 0;

		for (unsigned i = 0; i < n; i++)
			busy += th[i].t.create + th[i].t.map + th[i].t.access;
		/* Made by all at once: the bytes over the time the slowest
		 * thread took to make its share. */
		s = 0;
		for (unsigned i = 0; i < n; i++)
			if (th[i].t.create + th[i].t.map + th[i].t.access > s)
				s = th[i].t.create + th[i].t.map + th[i].t.access;
		bench_note(o, "gpu        chunk calls, 2 MiB allocations by %u threads at once: made "
			   "at %6.2f GB/s together (1 thread: %6.2f); %.0f of %.0f ms busy making\n",
			   THREADS, s > 0 ? (double)TOTAL / s / 1e9 : 0, one_rate, busy * 1e3,
			   wall * 1e3 * THREADS);
	}
	offset_probe(o, &c);
	cu->DevicePrimaryCtxRelease(c.dev);
	return ret;
}
