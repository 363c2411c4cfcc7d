/* SPDX-License-Identifier: MIT */
/*
 * READ_MOSTLY on the GPU.  A read-only window (HMS_CUDA_MAP_READ_ONLY) over
 * a READ_MOSTLY range gives the GPU replicas: the pages stay in system
 * memory (the CPU reads them in place, no fault-back), a kernel reads them
 * through the window and writes its result through an ordinary window.  A
 * CPU write to a replicated page waits while the window shows it, then
 * drops the replica; the next read-only window shows the new value (no
 * stale read).  UNSET_READ_MOSTLY drops the replicas.  Without the advice
 * a read-only window moves the pages as usual.  Bad flags fail.  Closing
 * the context with a read-only window mapped does not hang.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "gpu_test.h"

static unsigned *src;
static atomic_int writer_done;

static void *writer(void *arg)
{
	(void)arg;
	src[5] = 777;
	atomic_store(&writer_done, 1);
	return NULL;
}

static size_t count_replicated(struct hms *h, const void *p, size_t npages)
{
	struct hms_page_info *info = calloc(npages, sizeof(*info));
	size_t n = 0;

	T_ASSERT(info);
	T_EQ(hms_page_query(h, p, npages, info), npages);
	for (size_t i = 0; i < npages; i++)
		n += (info[i].flags & HMS_PAGE_REPLICATED) != 0;
	free(info);
	return n;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 64UL << 20, 2, 0, NULL };
	struct hms_cuda *g = g_attach(h, &cfg);
	const size_t len = 4UL << 20, n = len / sizeof(unsigned), npages = len / T_PAGE;
	unsigned *dst = hms_alloc(h, len, 0), *plain = hms_alloc(h, len, 0);
	hms_uid gpu = hms_cuda_target(g);
	struct hms_stats st0, st1;
	uint64_t ds, dd;
	pthread_t th;

	src = hms_alloc(h, len, 0);
	T_ASSERT(src && dst && plain);
	for (size_t i = 0; i < n; i++)
		src[i] = plain[i] = (unsigned)i;
	T_EQ(hms_advise(h, src, len, HMS_ADVICE_READ_MOSTLY, 0), 0);
	T_EQ(hms_stats(h, &st0), 0);

	T_EQ(hms_cuda_map(g, src, len, HMS_CUDA_MAP_READ_ONLY, &ds), 0);
	T_EQ(hms_cuda_map(g, dst, len, 0, &dd), 0);
	g_copy(g, dd, ds, n, 1);
	/* The system copies stayed: the CPU reads them in place. */
	T_EQ(t_count_loc(h, src, npages, HMS_LOC_SYSTEM), npages);
	T_EQ(count_replicated(h, src, npages), npages);
	T_EQ(hms_stats(h, &st1), 0);
	T_ASSERT(st1.replicas_made - st0.replicas_made >= npages);
	for (size_t i = 0; i < n; i += 997)
		T_EQ(src[i], i);

	/* A CPU write waits while the window shows the page. */
	T_EQ(pthread_create(&th, NULL, writer, NULL), 0);
	usleep(200000);
	T_EQ(atomic_load(&writer_done), 0);
	g_copy(g, dd, ds, n, 1); /* reads the old value: the write has not happened */
	T_EQ(hms_cuda_unmap(g, src, len), 0);
	T_EQ(pthread_join(th, NULL), 0);
	T_EQ(hms_cuda_unmap(g, dst, len), 0);
	for (size_t i = 0; i < n; i++)
		if (dst[i] != (unsigned)i + 1)
			T_FAIL("dst[%zu] = %u", i, dst[i]);
	T_EQ(count_replicated(h, src, npages), npages - 1); /* the written page's went */
	T_EQ(hms_stats(h, &st0), 0);
	T_ASSERT(st0.replicas_collapsed > st1.replicas_collapsed);

	/* The next read-only window shows the new value. */
	T_EQ(hms_cuda_map(g, src, len, HMS_CUDA_MAP_READ_ONLY, &ds), 0);
	T_EQ(hms_cuda_map(g, dst, len, 0, &dd), 0);
	g_copy(g, dd, ds, n, 2);
	T_EQ(hms_cuda_unmap(g, src, len), 0);
	T_EQ(hms_cuda_unmap(g, dst, len), 0);
	for (size_t i = 0; i < n; i++)
		if (dst[i] != (i == 5 ? 779u : (unsigned)i + 2))
			T_FAIL("second pass: dst[%zu] = %u", i, dst[i]);

	/* UNSET drops the replicas; the data stays. */
	T_EQ(hms_advise(h, src, len, HMS_ADVICE_UNSET_READ_MOSTLY, 0), 0);
	T_EQ(count_replicated(h, src, npages), 0);
	T_EQ(src[5], 777);

	/* Without the advice a read-only window moves the pages. */
	T_EQ(hms_cuda_map(g, plain, len, HMS_CUDA_MAP_READ_ONLY, &ds), 0);
	T_EQ(g_count_on(h, plain, npages, gpu), npages);
	T_EQ(hms_cuda_unmap(g, plain, len), 0);
	for (size_t i = 0; i < n; i++)
		T_EQ(plain[i], i);

	T_EQ(hms_cuda_map(g, src, len, 0x80, &ds), -EINVAL);

	/* hms_close() with a read-only window over replicas left mapped:
	 * no hang (the close does not wait for windows). */
	T_EQ(hms_advise(h, src, len, HMS_ADVICE_READ_MOSTLY, 0), 0);
	T_EQ(hms_cuda_map(g, src, len, HMS_CUDA_MAP_READ_ONLY, &ds), 0);
	T_EQ(count_replicated(h, src, npages), npages);
	hms_close(h);
	printf("ok\n");
	return 0;
}
