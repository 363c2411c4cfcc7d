/* SPDX-License-Identifier: MIT */
/*
 * A thread holding a read-only window over READ_MOSTLY pages (replicas)
 * maps a second, read-write window while a device write (a softdev's,
 * which may block in the invalidation, unlike a CPU fault on the handler
 * thread) to a replicated page waits for the first window to end: the
 * second map must not wait for that write (it waited for the invalidation
 * the write had started, which waited for the window: a deadlock; hms
 * stress --gpu found it).  The kernel reads the old value, the write
 * lands after the unmap.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "gpu_test.h"

static unsigned *src;
static struct hms_softdev *dev;
static atomic_int writer_done;
static int writer_ret = -1;

/* The device writes 777 over the first word of src's second page. */
static void *writer(void *arg)
{
	static unsigned page[T_PAGE / sizeof(unsigned)];
	struct hms_softdev_cmd c = { (uint64_t)(uintptr_t)(src + T_PAGE / sizeof(unsigned)), page,
				     1, 0, 0 };

	(void)arg;
	for (size_t i = 0; i < T_PAGE / sizeof(unsigned); i++)
		page[i] = (unsigned)(i + T_PAGE / sizeof(unsigned));
	page[0] = 777;
	writer_ret = hms_softdev_write(dev, &c);
	atomic_store(&writer_done, 1);
	return NULL;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 64UL << 20, 2, 0, NULL };
	struct hms_cuda *g = g_attach(h, &cfg);
	const size_t len = 2UL << 20, n = len / sizeof(unsigned);
	unsigned *dst = hms_alloc(h, len, 0);
	uint64_t ds, dd;
	pthread_t th;

	dev = t_softdev(h, 4UL << 20);
	src = hms_alloc(h, len, 0);
	T_ASSERT(src && dst);
	for (size_t i = 0; i < n; i++)
		src[i] = (unsigned)i;
	T_EQ(hms_advise(h, src, len, HMS_ADVICE_READ_MOSTLY, 0), 0);
	T_EQ(hms_cuda_map(g, src, len, HMS_CUDA_MAP_READ_ONLY, &ds), 0);

	T_EQ(pthread_create(&th, NULL, writer, NULL), 0);
	usleep(200000);
	T_EQ(atomic_load(&writer_done), 0); /* waiting for the window */
	t_watchdog(20, "hms_cuda_map hung behind a waiting write");
	T_EQ(hms_cuda_map(g, dst, len, 0, &dd), 0);
	t_watchdog(0, NULL);
	g_copy(g, dd, ds, n, 1);
	T_EQ(hms_cuda_unmap(g, src, len), 0);
	T_EQ(pthread_join(th, NULL), 0);
	T_EQ(writer_ret, 0);
	T_EQ(hms_cuda_unmap(g, dst, len), 0);
	for (size_t i = 0; i < n; i++)
		if (dst[i] != (unsigned)i + 1)
			T_FAIL("dst[%zu] = %u", i, dst[i]);
	T_EQ(src[T_PAGE / sizeof(unsigned)], 777);
	hms_close(h);
	printf("ok\n");
	return 0;
}
