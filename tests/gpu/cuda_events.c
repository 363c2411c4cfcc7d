/* SPDX-License-Identifier: MIT */
/*
 * Address-space changes on pages that live on the GPU: MADV_DONTNEED
 * discards them (they read zeros, their GPU pages go back), munmap frees
 * them, mremap moves them (the data follows; a window over the new
 * address brings them into their new block's place first), and fork
 * brings them home first (the child reads every byte, the parent keeps
 * using the GPU).
 */
#include <sys/wait.h>
#include <unistd.h>

#include "gpu_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 64UL << 20, 2, 0, NULL, HMS_CUDA_KEEP_NONE };
	struct hms_cuda *g = g_attach(h, &cfg);
	const size_t len = 8UL << 20, npages = len / T_PAGE, n = len / sizeof(unsigned);
	hms_uid gpu = hms_cuda_target(g);
	struct hms_cuda_info info;
	unsigned *p = hms_alloc(h, len, 0), *q;
	uint64_t d;
	pid_t pid;

	T_ASSERT(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned)i;

	/* MADV_DONTNEED of GPU pages: zeros, GPU memory back. */
	T_EQ(hms_migrate(h, p, len, &gpu, 1, 0), npages);
	T_EQ(madvise(p, 2UL << 20, MADV_DONTNEED), 0);
	T_EQ(hms_sync(h), 0);
	for (size_t i = 0; i < (2UL << 20) / sizeof(unsigned); i += 1024)
		T_EQ(p[i], 0);
	for (size_t i = (2UL << 20) / sizeof(unsigned); i < n; i += 1024)
		T_EQ(p[i], i);
	for (size_t i = 0; i < (2UL << 20) / sizeof(unsigned); i++)
		p[i] = (unsigned)i; /* as before, for the rest of the test */

	/* fork: device pages come home first; the child reads them all. */
	T_EQ(hms_migrate(h, p, len, &gpu, 1, 0), npages);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		for (size_t i = 0; i < n; i++)
			if (p[i] != (unsigned)i)
				_exit(1);
		_exit(0);
	}
	t_wait_ok(pid);
	T_EQ(hms_migrate(h, p, len, &gpu, 1, 0), npages); /* the parent goes on */
	T_EQ(hms_cuda_map(g, p, len, 0, &d), 0);
	g_add(g, d, n, 1);
	T_EQ(hms_cuda_unmap(g, p, len), 0);

	/* mremap of GPU pages: the data follows; a window at the new place
	 * (a different 2 MiB alignment) works. */
	q = mmap(NULL, len + (4UL << 20), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(q != MAP_FAILED);
	q = (unsigned *)(((uintptr_t)q + (2UL << 20) - 1) / (2UL << 20) * (2UL << 20) + (1UL << 20));
	T_ASSERT(mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, q) == q);
	T_EQ(hms_sync(h), 0);
	T_EQ(g_count_on(h, q, npages, gpu), npages);
	T_EQ(hms_cuda_map(g, q, len, 0, &d), 0);
	g_add(g, d, n, 1);
	T_EQ(hms_cuda_unmap(g, q, len), 0);
	for (size_t i = 0; i < n; i++)
		if (q[i] != (unsigned)i + 2)
			T_FAIL("q[%zu] = %u", i, q[i]);

	/* munmap of GPU pages: GPU memory goes back. */
	T_EQ(hms_migrate(h, q, len, &gpu, 1, 0), npages);
	T_EQ(munmap(q, len), 0);
	T_EQ(hms_sync(h), 0);
	T_EQ(hms_cuda_info(g, &info), 0);
	T_EQ(info.used_bytes, 0);

	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
