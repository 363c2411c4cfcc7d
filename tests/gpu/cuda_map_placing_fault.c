/* SPDX-License-Identifier: MIT */
/*
 * (fakecuda only) A CPU read of a GPU page is served while an
 * hms_cuda_map() over the same 2 MiB block is still placing pages (its
 * copies to the GPU held in fakecuda), instead of waiting for the map to
 * finish.  A map's hold used to make such a read wait, and a map whose own
 * progress needed that read deadlocked: its copy of a replica faulting a
 * page that had just moved to the GPU, or two maps of one block each
 * placing pages (the rare four-thread hms stress --gpu hang).  The map
 * then places the page again; its window shows the data.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "gpu_test.h"

static struct hms_cuda *g;
static int *p;
static size_t len;
static uint64_t dptr;
static atomic_int map_ret = 1, read_done;
static int read_val = -1;

static void *mapper(void *arg)
{
	(void)arg;
	atomic_store(&map_ret, hms_cuda_map(g, p, len, 0, &dptr));
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	read_val = ((volatile int *)p)[0];
	atomic_store(&read_done, 1);
	return NULL;
}

int main(void)
{
	struct hms *h;
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 32UL << 20, 2, 0, NULL };
	size_t npages, n;
	pthread_t a, b;
	hms_uid gpu;
	int waited;

	if (!g_fake())
		T_SKIP("holding copies half way needs fakecuda");
	h = t_open();
	g = g_attach(h, &cfg);
	gpu = hms_cuda_target(g);
	len = 1UL << 20;
	npages = len / T_PAGE;
	n = len / sizeof(int);
	p = hms_alloc(h, len, 0);
	T_ASSERT(p);
	t_fill(p, n, 51);
	/* The first 16 pages on the GPU, the rest in system memory. */
	T_EQ(hms_migrate(h, p, 16 * T_PAGE, &gpu, 1, 0), 16);
	T_EQ(g_count_on(h, p, npages, gpu), 16);

	t_watchdog(60, "the map or the read never ended");
	g_hold_htod(true);
	T_EQ(pthread_create(&a, NULL, mapper, NULL), 0);
	for (waited = 0; !g_htod_held() && waited < 5000; waited++)
		usleep(1000);
	T_ASSERT(g_htod_held()); /* the map is placing pages: its copy waits */
	T_EQ(atomic_load(&map_ret), 1);

	T_EQ(pthread_create(&b, NULL, reader, NULL), 0);
	for (waited = 0; !atomic_load(&read_done) && waited < 5000; waited++)
		usleep(1000);
	if (!atomic_load(&read_done)) {
		g_hold_htod(false);
		T_FAIL("a CPU read of a GPU page waited for a map still placing its block");
	}
	T_EQ(pthread_join(b, NULL), 0);
	T_EQ(read_val, 51);
	T_EQ(atomic_load(&map_ret), 1); /* the map still waits in its copy */

	g_hold_htod(false);
	T_EQ(pthread_join(a, NULL), 0);
	T_EQ(atomic_load(&map_ret), 0);
	T_EQ(g_count_on(h, p, npages, gpu), npages); /* page 0 went back too */
	g_add(g, dptr, n, 1000);
	T_EQ(hms_cuda_unmap(g, p, len), 0);
	t_check(p, n, 1051);
	t_watchdog(0, NULL);
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
