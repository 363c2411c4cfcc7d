/* SPDX-License-Identifier: MIT */
/*
 * Fault injection (fakecuda only): single CUDA calls fail -- at attach,
 * while a chunk is made, while a window is mapped, while a stream is
 * waited for.  Each failure is reported, nothing is lost, no chunk or
 * device virtual range is left behind, and the next try works; the
 * same for chunks of four slots (chunk8_fails).
 */
#include "gpu_test.h"

static void (*fail_call)(const char *, unsigned, unsigned);
static long (*reserved)(void);
static size_t (*mem_used)(void);

static void attach_fails(struct hms *h, const char *call, unsigned skip, int want)
{
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 32UL << 20, 2, 0, NULL, 0, 2 };
	struct hms_cuda *g = NULL;

	fail_call(call, skip, 1);
	T_EQ(hms_cuda_attach(h, &cfg, &g), want);
	fail_call("", 0, 0);
	T_EQ(reserved(), 0);
	T_EQ(mem_used(), 0);
}

/*
 * Chunks of four slots (chunk_mib 8): one CUDA call that makes a chunk
 * fails while 8 blocks move.  The block whose chunk it was stays home;
 * the blocks waiting for that chunk make the next one; nothing of the
 * failed chunk is left (GPU memory: two chunks; device ranges: the pool's
 * and the staging buffers'); the next migration moves the last block into
 * a free slot.  Then a window's blocks: its second chunk fails, the first
 * goes back (or, where its blocks' pages are on the GPU, stays with
 * them), and the map works when tried again.
 */
static void chunk8_fails(struct hms *h, int *p, const char *call)
{
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 32UL << 20, 4, 0, NULL,
				       HMS_CUDA_KEEP_NONE, 8 };
	const size_t len = 16UL << 20, npages = len / T_PAGE, n = len / sizeof(int);
	struct hms_cuda *g = g_attach(h, &cfg);
	struct hms_cuda_info info;
	hms_uid gpu = hms_cuda_target(g);
	long base = reserved();
	uint64_t d;

	t_fill(p, n, 20);
	fail_call(call, 0, 1);
	T_EQ(hms_migrate(h, p, len, &gpu, 1, 0), (long)npages - 512);
	fail_call("", 0, 0);
	T_EQ(g_count_on(h, p, npages, gpu), npages - 512);
	T_EQ(reserved(), base);
	T_EQ(mem_used(), 16UL << 20);
	T_EQ(hms_cuda_info(g, &info), 0);
	T_EQ(info.used_bytes, 14UL << 20);
	T_EQ(info.kept_bytes, 2UL << 20);
	T_EQ(hms_migrate(h, p, len, &gpu, 1, 0), 512);
	T_EQ(mem_used(), 16UL << 20);
	t_check(p, n, 20);
	T_EQ(mem_used(), 0);

	fail_call(call, 1, 1); /* the window's own calls come after its blocks' */
	T_EQ(hms_cuda_map(g, p, len, 0, &d), -ENOMEM);
	fail_call("", 0, 0);
	T_EQ(reserved(), base);
	T_EQ(mem_used(), 0);
	t_check(p, n, 20);
	T_EQ(hms_migrate(h, p, len / 2, &gpu, 1, 0), (long)npages / 2);
	fail_call(call, 0, 1);
	T_EQ(hms_cuda_map(g, p, len, 0, &d), -ENOMEM);
	fail_call("", 0, 0);
	T_EQ(reserved(), base);
	T_EQ(mem_used(), 8UL << 20);
	T_EQ(g_count_on(h, p, npages, gpu), npages / 2);
	T_EQ(hms_cuda_map(g, p, len, 0, &d), 0);
	g_add(g, d, n, 1);
	T_EQ(hms_cuda_unmap(g, p, len), 0);
	t_check(p, n, 21);
	T_EQ(hms_cuda_detach(g), 0);
	T_EQ(reserved(), 0);
	T_EQ(mem_used(), 0);
}

int main(void)
{
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 32UL << 20, 2, 0, NULL, 0, 2 };
	const size_t len = 6UL << 20, npages = len / T_PAGE, n = len / sizeof(int);
	struct hms_cuda *g;
	struct hms *h;
	hms_uid gpu;
	long base;
	uint64_t d;
	int *p;

	if (!g_fake())
		T_SKIP("CUDA call failures are injected through fakecuda only");
	h = t_open();
	g = g_attach(h, &cfg); /* (loads fakecuda) */
	T_EQ(hms_cuda_detach(g), 0);
	fail_call = (void (*)(const char *, unsigned, unsigned))g_fake_sym("fakecuda_fail_call");
	reserved = (long (*)(void))g_fake_sym("fakecuda_reserved");
	mem_used = (size_t (*)(void))g_fake_sym("fakecuda_mem_used");
	T_EQ(reserved(), 0);
	T_EQ(mem_used(), 0);

	/* Attach: the pool's range, a staging buffer, a stream. */
	attach_fails(h, "cuMemAddressReserve", 0, -ENOMEM);
	attach_fails(h, "cuMemAllocHost", 2, -ENOMEM);
	attach_fails(h, "cuStreamCreate", 1, -EIO);

	g = g_attach(h, &cfg);
	gpu = hms_cuda_target(g);
	base = reserved();
	p = hms_alloc(h, len, 0);
	T_ASSERT(p);
	t_fill(p, n, 9);

	/* A chunk cannot be made or mapped: those pages stay home. */
	fail_call("cuMemCreate", 0, 1);
	T_EQ(hms_migrate(h, p, len, &gpu, 1, 0), (long)npages - 512);
	fail_call("cuMemMap", 0, 1);
	T_ASSERT(hms_migrate(h, p, len, &gpu, 1, 0) <= 0);
	fail_call("cuMemSetAccess", 0, 1);
	T_ASSERT(hms_migrate(h, p, len, &gpu, 1, 0) <= 0);
	T_EQ(g_count_on(h, p, npages, gpu), npages - 512);
	T_EQ(mem_used(), (npages / 512 - 1) * (2UL << 20));
	T_EQ(hms_migrate(h, p, len, &gpu, 1, 0), 512);
	T_EQ(g_count_on(h, p, npages, gpu), npages);
	t_check(p, n, 9);
	T_EQ(g_count_on(h, p, npages, gpu), 0);

	/* A window: its range, its second block's mapping, its access. */
	T_EQ(hms_migrate(h, p, len, &gpu, 1, 0), npages);
	fail_call("cuMemAddressReserve", 0, 1);
	T_EQ(hms_cuda_map(g, p, len, 0, &d), -ENOMEM);
	T_EQ(reserved(), base);
	fail_call("cuMemMap", 1, 1);
	T_EQ(hms_cuda_map(g, p, len, 0, &d), -EIO);
	T_EQ(reserved(), base);
	fail_call("cuMemSetAccess", 2, 1);
	T_EQ(hms_cuda_map(g, p, len, 0, &d), -EIO);
	T_EQ(reserved(), base);
	T_EQ(hms_cuda_unmap(g, p, len), -ENOENT);
	fail_call("", 0, 0);
	t_check(p, n, 9); /* no window holds them: they come home */
	T_EQ(hms_cuda_map(g, p, len, 0, &d), 0);
	g_add(g, d, n, 1);
	T_EQ(hms_cuda_unmap(g, p, len), 0);
	t_check(p, n, 10);

	/* A stream's wait fails: the batch's pages stay where they were. */
	fail_call("cuStreamSynchronize", 0, 1);
	T_EQ(hms_migrate(h, p, len, &gpu, 1, 0), (long)npages - 512);
	fail_call("", 0, 0);
	T_EQ(hms_migrate(h, p, len, &gpu, 1, 0), 512);
	fail_call("cuStreamSynchronize", 0, 1);
	t_check(p, n, 10); /* the first fault's copy fails; it is retried */
	fail_call("", 0, 0);
	T_EQ(g_count_on(h, p, npages, gpu), 0);

	T_EQ(hms_cuda_detach(g), 0);
	T_EQ(reserved(), 0);
	T_EQ(mem_used(), 0);
	t_check(p, n, 10);

	p = hms_alloc(h, 24UL << 20, 0);
	T_ASSERT(p);
	/* 8 blocks, two whole regions of 8 MiB chunks (gpu.h). */
	p = (int *)(((uintptr_t)p + (8UL << 20) - 1) & ~((8UL << 20) - 1));
	chunk8_fails(h, p, "cuMemCreate");
	chunk8_fails(h, p, "cuMemMap");
	chunk8_fails(h, p, "cuMemSetAccess");
	hms_close(h);
	printf("ok\n");
	return 0;
}
