/* SPDX-License-Identifier: MIT */
/*
 * bench_gpu_replica.c - part of `hms bench gpu`: read-only copies on the
 * GPU.  The first read-only window (HMS_CUDA_MAP_READ_ONLY) over N MiB
 * advised READ_MOSTLY, which copies every page to the GPU and leaves it
 * in system memory (gpu_replica.c), against hms_migrate() of as many
 * bytes to the GPU: both copy the bytes to the GPU once.  The window's
 * bytes are read back (cuMemcpyDtoH) and compared with the CPU's.
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

/* The window at d shows p's bytes (len, checked 2 MiB at a time). */
static int window_matches(const struct hms_cu *cu, uint64_t d, const char *p, size_t len,
			  char *buf)
{
	for (size_t off = 0; off < len; off += 2UL << 20) {
		size_t n = len - off < (2UL << 20) ? len - off : 2UL << 20;

		if (cu->MemcpyDtoH(buf, d + off, n) != CUDA_SUCCESS) {
			fprintf(stderr, "hms bench gpu: reading the read-only window failed\n");
			return -1;
		}
		if (memcmp(buf, p + off, n)) {
			fprintf(stderr, "hms bench gpu: the read-only window's bytes differ "
					"in the 2 MiB at %zu\n", off);
			return -1;
		}
	}
	return 0;
}

static int replica_rounds(struct hms *h, const struct hms_cu *cu, size_t bytes, unsigned reps,
			  double *rep, double *mig, char *name, size_t name_len)
{
	struct hms_cuda_config c = { sizeof(c), 0, 2 * bytes + (320UL << 20), 8, 0, NULL, 0, 0 };
	char *p = NULL, *q = NULL, *buf = malloc(2UL << 20);
	size_t npages = bytes / HMS_PAGE_SIZE;
	struct hms_cuda_info info;
	struct hms_cuda *g = NULL;
	hms_uid gpu, sys;
	int ret = -1;

	if (!buf || hms_cuda_attach(h, &c, &g)) {
		fprintf(stderr, "hms bench gpu: replicas: no memory or no attach\n");
		goto out;
	}
	/* Its context current for the read-back: the one made current for
	 * the baselines may be gone with the attach that held it (a primary
	 * context ends with its last holder). */
	cu->CtxSetCurrent(hms_cuda_context(g));
	hms_cuda_info(g, &info);
	snprintf(name, name_len, "%s", info.name);
	gpu = hms_cuda_target(g);
	p = hms_alloc(h, bytes, 0);
	q = hms_alloc(h, bytes, 0);
	if (!p || !q)
		goto out;
	for (size_t i = 0; i < bytes / 8; i++)
		((uint64_t *)p)[i] = ((uint64_t *)q)[i] = i * 0x9e3779b97f4a7c15ULL;
	if (hms_where(h, q, 1, &sys) != 1)
		goto out;
	for (unsigned r = 0; r < reps; r++) {
		uint64_t d;
		double t;
		long n;

		if (hms_advise(h, p, bytes, HMS_ADVICE_READ_MOSTLY, 0))
			goto out;
		t = bench_now();
		if (hms_cuda_map(g, p, bytes, HMS_CUDA_MAP_READ_ONLY, &d)) {
			fprintf(stderr, "hms bench gpu: the read-only window failed\n");
			goto out;
		}
		rep[r] = gbps(bytes, bench_now() - t);
		if (window_matches(cu, d, p, bytes, buf) || hms_cuda_unmap(g, p, bytes) ||
		    hms_advise(h, p, bytes, HMS_ADVICE_UNSET_READ_MOSTLY, 0)) /* drops them */
			goto out;
		t = bench_now();
		n = hms_migrate(h, q, bytes, &gpu, 1, 0);
		mig[r] = gbps(bytes, bench_now() - t);
		if (n != (long)npages || hms_migrate(h, q, bytes, &sys, 1, 0) != (long)npages) {
			fprintf(stderr, "hms bench gpu: replicas' baseline: pages did not move\n");
			goto out;
		}
	}
	ret = memcmp(p, q, bytes) ? -1 : 0;
	if (ret)
		fprintf(stderr, "hms bench gpu: replicas: the CPU's bytes changed\n");
out:
	if (p)
		hms_free(h, p, bytes);
	if (q)
		hms_free(h, q, bytes);
	if (g)
		hms_cuda_detach(g);
	free(buf);
	return ret;
}

int bench_gpu_replica(const struct bench_opts *o, struct hms *h, const struct hms_cu *cu,
		      size_t bytes, unsigned reps)
{
	double *rep = calloc(reps, sizeof(double)), *mig = calloc(reps, sizeof(double));
	char name[256] = "", params[320];
	int ret = -1;

	if (rep && mig && !replica_rounds(h, cu, bytes, reps, rep, mig, name, sizeof(name))) {
		snprintf(params, sizeof(params), "%zu MiB advised READ_MOSTLY, %s", bytes >> 20,
			 name);
		bench_report(o, "gpu-replica", "host->GPU, a read-only window's replicas vs "
			     "hms_migrate", bench_stats(rep, reps), "hms_migrate",
			     bench_stats(mig, reps), "GB/s", true, 0, params);
		ret = 0;
	}
	free(rep);
	free(mig);
	return ret;
}
