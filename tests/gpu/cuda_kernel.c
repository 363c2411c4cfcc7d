/* SPDX-License-Identifier: MIT */
/*
 * A CUDA kernel works on a managed range through hms_cuda_map(): pages on
 * the GPU already, pages in system memory and never-touched pages all
 * become resident; the window starts mid-block; the kernel's writes are
 * what the CPU reads after hms_cuda_unmap(); bytes outside the range are
 * untouched.  A CPU thread touching a mapped page waits for the unmap and
 * then sees the kernel's write.  Overlapping windows, bad arguments,
 * detach while mapped (-EBUSY).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "gpu_test.h"

static unsigned *shared_p;
static atomic_int reader_done;
static unsigned reader_saw;

static void *reader(void *arg)
{
	(void)arg;
	reader_saw = *(volatile unsigned *)&shared_p[3 * 1024];
	atomic_store(&reader_done, 1);
	return NULL;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 64UL << 20, 2, 0, NULL };
	struct hms_cuda *g = g_attach(h, &cfg);
	const size_t len = 8UL << 20, n = len / sizeof(unsigned);
	unsigned *p = hms_alloc(h, len, 0);
	hms_uid gpu = hms_cuda_target(g);
	/* window: from 1 page in to 6 MiB + 1 page */
	const size_t off = 1024, cnt = (6UL << 20) / sizeof(unsigned);
	uint64_t d = 0, d2 = 0;
	pthread_t th;
	int x;

	T_ASSERT(p);
	shared_p = p;
	for (size_t i = 0; i < n / 2; i++)
		p[i] = (unsigned)i;
	/* first 2 MiB on the GPU already, next 2 MiB in system memory, the
	 * rest never touched */
	T_EQ(hms_migrate(h, p, 2UL << 20, &gpu, 1, 0), 512);

	T_EQ(hms_cuda_map(g, p + off, cnt * sizeof(unsigned), 0, &d), 0);
	T_ASSERT(d != 0);
	T_EQ(g_count_on(h, p + off, cnt * sizeof(unsigned) / T_PAGE, gpu),
	     cnt * sizeof(unsigned) / T_PAGE);
	g_add(g, d, cnt, 5);

	/* A CPU touch of a mapped page waits for the unmap. */
	T_EQ(pthread_create(&th, NULL, reader, NULL), 0);
	usleep(200000);
	T_EQ(atomic_load(&reader_done), 0);
	g_add(g, d, cnt, 1); /* the reader must see this one too */
	T_EQ(hms_cuda_detach(g), -EBUSY);
	T_EQ(hms_cuda_unmap(g, p + off, cnt * sizeof(unsigned)), 0);
	T_EQ(pthread_join(th, NULL), 0);
	T_EQ(reader_saw, 3 * 1024 + 6);

	for (size_t i = 0; i < n; i++) {
		unsigned base = i < n / 2 ? (unsigned)i : 0;
		unsigned want = i >= off && i < off + cnt ? base + 6 : base;

		if (p[i] != want)
			T_FAIL("p[%zu] = %u, want %u", i, p[i], want);
	}

	/* Overlapping windows: both reach the same pages. */
	T_EQ(hms_cuda_map(g, p, 4UL << 20, 0, &d), 0);
	T_EQ(hms_cuda_map(g, p + n / 4, 4UL << 20, 0, &d2), 0);
	g_add(g, d, n / 2, 1);
	g_add(g, d2, n / 2, 10);
	T_EQ(hms_cuda_unmap(g, p, 4UL << 20), 0);
	T_EQ(hms_cuda_unmap(g, p + n / 4, 4UL << 20), 0);
	for (size_t i = 0; i < n; i++) {
		unsigned base = i < n / 2 ? (unsigned)i : 0;
		unsigned want = (i >= off && i < off + cnt ? base + 6 : base) + (i < n / 2 ? 1 : 0) +
				(i >= n / 4 && i < n / 4 * 3 ? 10 : 0);

		if (p[i] != want)
			T_FAIL("p[%zu] = %u, want %u", i, p[i], want);
	}

	/* bad input */
	T_EQ(hms_cuda_map(NULL, p, T_PAGE, 0, &d), -EINVAL);
	T_EQ(hms_cuda_map(g, p, 0, 0, &d), -EINVAL);
	T_EQ(hms_cuda_map(g, p, T_PAGE, 0, NULL), -EINVAL);
	T_EQ(hms_cuda_map(g, p, T_PAGE, 0x80, &d), -EINVAL);
	T_EQ(hms_cuda_map(g, &x, sizeof(x), 0, &d), -ENOENT);
	T_EQ(hms_cuda_unmap(g, p, T_PAGE), -ENOENT);
	T_EQ(hms_cuda_unmap(g, NULL, T_PAGE), -EINVAL);

	T_EQ(hms_cuda_detach(g), 0);
	T_EQ(hms_free(h, p, len), 0);
	hms_close(h);

	/* hms_close() with a window left mapped: no hang, and every page of
	 * memory the application owns (hms_manage) comes home with the
	 * kernel's writes. */
	{
		unsigned *q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		T_ASSERT(q != MAP_FAILED);
		h = t_open();
		g = g_attach(h, &cfg);
		T_EQ(hms_manage(h, q, len), 0);
		for (size_t i = 0; i < n; i++)
			q[i] = (unsigned)i;
		T_EQ(hms_cuda_map(g, q, len, 0, &d), 0);
		g_add(g, d, n, 100);
		hms_close(h);
		for (size_t i = 0; i < n; i++)
			if (q[i] != (unsigned)i + 100)
				T_FAIL("after close: q[%zu] = %u", i, q[i]);
		munmap(q, len);
	}
	printf("ok\n");
	return 0;
}
