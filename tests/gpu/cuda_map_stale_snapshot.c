/* SPDX-License-Identifier: MIT */
/*
 * hms_cuda_map() checks that every page of the range is in its slot from
 * a snapshot (hms_range_fault) taken before it takes the driver's lock,
 * then makes the window under that lock.  A page that another thread
 * brings home in between (a CPU read here) passed the migration's own
 * check for windows before the window existed, and leaves: the map
 * returned 0 with 11 of 256 pages in system memory, and the kernel's
 * writes through the window to them were lost.  The map now sees that
 * pages left the slot since its snapshot began and places the range
 * again.  The CPU read lands right after the snapshot: hms_range_fault is
 * interposed here (libhms calls it through its PLT).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>

#include "gpu_test.h"

static int *p;
static atomic_int armed, fired;
static volatile int read_val;

static void *reader(void *arg)
{
	(void)arg;
	read_val = ((volatile int *)p)[0];
	return NULL;
}

/* The map's snapshot asks for no fault (default_flags 0); after it,
 * another thread's CPU read. */
int hms_range_fault(struct hms *h, struct hms_range *r)
{
	static int (*real)(struct hms *, struct hms_range *);
	int ret;

	if (!real)
		real = (int (*)(struct hms *, struct hms_range *))dlsym(RTLD_NEXT, "hms_range_fault");
	T_ASSERT(real);
	ret = real(h, r);
	if (atomic_load(&armed) && r->start == (uintptr_t)p && !r->default_flags) {
		pthread_t t;

		atomic_store(&armed, 0);
		T_EQ(pthread_create(&t, NULL, reader, NULL), 0);
		T_EQ(pthread_join(t, NULL), 0);
		atomic_store(&fired, 1);
	}
	return ret;
}

int main(void)
{
	struct hms_cuda_config cfg = { .size = sizeof(cfg), .mem_bytes = 32UL << 20,
				       .copy_threads = 2 };
	const size_t len = 1UL << 20, npages = len / T_PAGE, n = len / sizeof(int);
	struct hms *h = t_open();
	struct hms_cuda *g = g_attach(h, &cfg);
	hms_uid gpu = hms_cuda_target(g);
	uint64_t dptr;

	p = hms_alloc(h, len, 0);
	T_ASSERT(p);
	t_fill(p, n, 51);
	T_EQ(hms_migrate(h, p, len, &gpu, 1, 0), (long)npages);
	atomic_store(&armed, 1);
	T_EQ(hms_cuda_map(g, p, len, 0, &dptr), 0);
	T_EQ(atomic_load(&fired), 1); /* the interposer ran (else this test tests nothing) */
	T_EQ(read_val, 51);
	T_EQ(g_count_on(h, p, npages, gpu), npages);
	g_add(g, dptr, n, 1000);
	T_EQ(hms_cuda_unmap(g, p, len), 0);
	for (size_t i = 0; i < n; i++)
		if (p[i] != (int)(1051 + i))
			T_FAIL("int %zu: %d, expected %d (the kernel's write lost)", i, p[i],
			       (int)(1051 + i));
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
