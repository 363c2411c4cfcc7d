/* SPDX-License-Identifier: MIT */
/*
 * What used_bytes counts: slots taken by a block, whether by pages or by
 * a window (hms_cuda_map) that holds the block after its pages are gone
 * (MADV_DONTNEED of a mapped range); kept_bytes the free slots of live
 * chunks; together, what the GPU gave out (fakecuda's count).  The slots
 * come free at hms_cuda_unmap().
 */
#include <sys/mman.h>

#include "gpu_test.h"

#define MIB (1UL << 20)
#define BLK (2 * MIB)

static size_t (*fake_used)(void);

/* used_bytes is used_mib MiB, and used + kept is what the GPU gave. */
#define expect(g, used) expect_at(__LINE__, g, used)
static void expect_at(int line, struct hms_cuda *g, size_t used_mib)
{
	struct hms_cuda_info info;

	T_EQ(hms_cuda_info(g, &info), 0);
	if (info.used_bytes != used_mib * MIB ||
	    info.used_bytes + info.kept_bytes != fake_used())
		T_FAIL("line %d: used %zu MiB, kept %zu MiB, the GPU gave %zu MiB; expected "
		       "used %zu and used + kept the GPU's", line, (size_t)(info.used_bytes / MIB),
		       (size_t)(info.kept_bytes / MIB), fake_used() / MIB, used_mib);
}

int main(void)
{
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 32 * MIB, 2, 0, NULL, HMS_CUDA_KEEP_NONE };
	const size_t n = 2 * BLK / sizeof(int);
	struct hms *h;
	struct hms_cuda *g;
	hms_uid gpu;
	char *raw;
	int *p;
	uint64_t d;

	if (!g_fake())
		T_SKIP("what the GPU gave out is counted by fakecuda only");
	h = t_open();
	g = g_attach(h, &cfg);
	fake_used = (size_t (*)(void))g_fake_sym("fakecuda_mem_used");
	gpu = hms_cuda_target(g);
	raw = hms_alloc(h, 3 * BLK, 0);
	T_ASSERT(raw);
	p = (int *)(((uintptr_t)raw + BLK - 1) & ~(BLK - 1)); /* 2 whole blocks */
	t_fill(p, n, 7);
	expect(g, 0);

	/* A window over both blocks: their pages and slots. */
	T_EQ(hms_cuda_map(g, p, 2 * BLK, 0, &d), 0);
	T_EQ(g_count_on(h, p, 2 * BLK / T_PAGE, gpu), 2 * BLK / T_PAGE);
	expect(g, 4);
	/* Their pages are discarded: the window still holds both slots. */
	T_EQ(madvise(p, 2 * BLK, MADV_DONTNEED), 0);
	T_EQ(hms_sync(h), 0);
	T_EQ(g_count_on(h, p, 2 * BLK / T_PAGE, gpu), 0);
	expect(g, 4);
	/* ...until it ends. */
	T_EQ(hms_cuda_unmap(g, p, 2 * BLK), 0);
	expect(g, 0);
	T_EQ(fake_used(), 0);
	for (size_t i = 0; i < n; i += 1024)
		T_EQ(p[i], 0);

	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
