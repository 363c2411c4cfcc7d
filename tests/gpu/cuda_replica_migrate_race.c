/* SPDX-License-Identifier: MIT */
/*
 * A read-only hms_cuda_map() of a READ_MOSTLY page makes a replica: it
 * claims the page's place in its block's slot (bits, rbits), reads the
 * page (hms_user_read), then copies it host->GPU into that place, and
 * only then checks the interval sequence.  Between the read and the copy
 * a CPU write drops the replica (a PROTECTION_PAGE invalidation frees the
 * place) and a migration moves the page, with the write, to the GPU: the
 * very same place.  The replica's copy then landed over the page itself,
 * the old value over the new, and the check, failing, undid nothing (the
 * place was no replica any more): the map returned 0 and the CPU's write
 * was lost.  Now the place stays the replica's until its check (pending):
 * the migration leaves the page home, the check fails and gives the place
 * back, and the next try copies the page as written.  The write and the
 * migration run right after the replica's read: hms_user_read is
 * interposed here (libhms calls it through its PLT).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "gpu_test.h"

static struct hms *h;
static hms_uid gpu;
static int *p;
static atomic_int armed, fired;
static long migrated;

static void *writer(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < T_PAGE / sizeof(int); i++)
		((volatile int *)p)[i] = 2000 + (int)i; /* drops the replica */
	migrated = hms_migrate(h, p, T_PAGE, &gpu, 1, 0); /* into its place */
	return NULL;
}

ssize_t hms_user_read(void *buf, const void *addr, size_t len)
{
	static ssize_t (*real)(void *, const void *, size_t);
	ssize_t ret;
	int one = 1;

	if (!real)
		real = (ssize_t (*)(void *, const void *, size_t))dlsym(RTLD_NEXT, "hms_user_read");
	T_ASSERT(real);
	ret = real(buf, addr, len);
	if (addr == (const void *)p && atomic_compare_exchange_strong(&armed, &one, 0)) {
		pthread_t t;

		T_EQ(pthread_create(&t, NULL, writer, NULL), 0);
		T_EQ(pthread_join(t, NULL), 0);
		atomic_store(&fired, 1);
	}
	return ret;
}

int main(void)
{
	struct hms_cuda_config cfg = { .size = sizeof(cfg), .mem_bytes = 32UL << 20 };
	const size_t n = T_PAGE / sizeof(int);
	struct hms_cuda *g;
	uint64_t dptr, ddst;
	int *dst;

	h = t_open();
	g = g_attach(h, &cfg);
	gpu = hms_cuda_target(g);
	p = hms_alloc(h, 2UL << 20, 0);
	dst = hms_alloc(h, T_PAGE, 0);
	T_ASSERT(p && dst);
	t_fill(p, n, 1000);
	T_EQ(hms_advise(h, p, T_PAGE, HMS_ADVICE_READ_MOSTLY, 0), 0);
	atomic_store(&armed, 1);
	t_watchdog(30, "the read-only map");
	T_EQ(hms_cuda_map(g, p, T_PAGE, HMS_CUDA_MAP_READ_ONLY, &dptr), 0);
	t_watchdog(0, NULL);
	T_EQ(atomic_load(&fired), 1); /* the interposer ran (else this test tests nothing) */
	/* (1 before the fix; now 0: the replica's copy held the place) */
	T_ASSERT(migrated == 0 || migrated == 1);
	/* What the window shows, through a kernel, and then the page itself. */
	T_EQ(hms_cuda_map(g, dst, T_PAGE, 0, &ddst), 0);
	g_copy(g, ddst, dptr, n, 0);
	T_EQ(hms_cuda_unmap(g, dst, T_PAGE), 0);
	T_EQ(hms_cuda_unmap(g, p, T_PAGE), 0);
	for (size_t i = 0; i < n; i++) {
		if (((volatile int *)p)[i] != 2000 + (int)i)
			T_FAIL("int %zu: %d, expected %d (the CPU's write lost under an old replica; "
			       "migrated %ld)", i, p[i], 2000 + (int)i, migrated);
		if (dst[i] != 2000 + (int)i)
			T_FAIL("the window's int %zu: %d, expected %d", i, dst[i], 2000 + (int)i);
	}
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
