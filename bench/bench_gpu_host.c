/* SPDX-License-Identifier: MIT */
/*
 * bench_gpu_host.c - how fast this host's CPUs copy into pinned memory:
 * the ceiling of hms' staged copy to the GPU.  hms moves a page to the
 * GPU by reading it into a pinned buffer (hms_user_read(): streaming
 * stores) and letting the copy engine read that buffer, so each byte
 * moved crosses host memory three times (read, write, DMA read), where
 * Unified Memory's prefetch and pinned cuMemcpy cross it once.  Here 1,
 * 4, 8 and 16 threads each copy their share of the data, 2 MiB at a
 * time, into a 2 MiB pinned buffer of their own, as the copy threads do:
 * bytes copied per second, all threads together.  Where 8 or 16 threads
 * copy at no more than the copy engines' speed, no staged configuration
 * can reach the pinned-cuMemcpy target, whatever the rest costs.
 * Part of `hms bench gpu`; lines only, no ratio.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"
#include "cuda_api.h"
#include "hms.h"
#include "hms_driver.h"

#define PIECE (2UL << 20)
#define MAX_THREADS 16

struct hcopy {
	const char *src;
	void *dst; /* PIECE bytes, pinned */
	size_t bytes;
	int err;
};

static void *hcopy_thread(void *arg)
{
	struct hcopy *c = arg;

	for (size_t off = 0; off < c->bytes; off += PIECE)
		if (hms_user_read(c->dst, c->src + off, PIECE) != (ssize_t)PIECE)
			c->err = -1;
	return NULL;
}

/*
 * Bytes per second copied by n threads, or a negative value.  Timed from
 * the first thread's start to the last one's end: starting 16 threads
 * costs well under 1% of copying a 1 GiB share among them.
 */
static double hcopy_run(const struct hms_cu *cu, const char *src, size_t bytes, unsigned n)
{
	struct hcopy c[MAX_THREADS] = { 0 };
	pthread_t t[MAX_THREADS];
	size_t share = bytes / n / PIECE * PIECE;
	unsigned started = 0, made = 0;
	double t0, secs;
	int err = 0;

	for (; made < n; made++)
		if (cu->MemAllocHost(&c[made].dst, PIECE) != CUDA_SUCCESS)
			break;
	t0 = bench_now();
	for (unsigned i = 0; i < n && made == n; i++, started++) {
		c[i] = (struct hcopy){ src + i * share, c[i].dst, share, 0 };
		if (pthread_create(&t[i], NULL, hcopy_thread, &c[i]))
			break;
	}
	for (unsigned i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		err |= c[i].err;
	}
	secs = bench_now() - t0;
	for (unsigned i = 0; i < made; i++)
		cu->MemFreeHost(c[i].dst);
	if (err || started < n || secs <= 0)
		return -1;
	return (double)(share * n) / secs;
}

int bench_gpu_host(const struct bench_opts *o, const struct hms_cu *cu, size_t bytes)
{
	static const unsigned threads[] = { 1, 4, 8, 16 };
	char line[256];
	size_t len = 0;
	char *src;

	bytes = bytes / (MAX_THREADS * PIECE) * (MAX_THREADS * PIECE);
	if (!bytes)
		bytes = MAX_THREADS * PIECE;
	src = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED) {
		bench_note(o, "gpu        host copy into pinned memory: no memory\n");
		return -1;
	}
	memset(src, 3, bytes);
	len += (size_t)snprintf(line + len, sizeof(line) - len,
				"gpu        host copy into pinned memory (hms_user_read, 2 MiB at a "
				"time), GB/s together:");
	for (size_t k = 0; k < sizeof(threads) / sizeof(threads[0]); k++) {
		double best = 0;

		for (int rep = 0; rep < 2; rep++) { /* the first touches the buffers */
			double r = hcopy_run(cu, src, bytes, threads[k]);

			if (r < 0) {
				munmap(src, bytes);
				bench_note(o, "gpu        host copy into pinned memory: %u threads "
					   "failed\n", threads[k]);
				return -1;
			}
			if (r > best)
				best = r;
		}
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s %u thread%s %.2f",
					k ? "," : "", threads[k], threads[k] > 1 ? "s" : "",
					best / 1e9);
	}
	munmap(src, bytes);
	bench_note(o, "%s\n", line);
	return 0;
}
