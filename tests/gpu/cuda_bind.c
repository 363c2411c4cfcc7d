/* SPDX-License-Identifier: MIT */
/*
 * hms_bind() to the GPU's target: a CPU write of a bound page places it in
 * system memory (the CPU cannot reach GPU memory) and hms_migrate() with
 * HMS_MIGRATE_POLICY takes the range to the GPU; the kernel sees the data
 * through a window.
 */
#include "gpu_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 32UL << 20, 2, 0, NULL };
	struct hms_cuda *g = g_attach(h, &cfg);
	const size_t len = 4UL << 20, npages = len / T_PAGE, n = len / sizeof(unsigned);
	unsigned *p = hms_alloc(h, len, 0);
	hms_uid gpu = hms_cuda_target(g);
	struct hms_policy pol;
	uint64_t d;

	T_ASSERT(p);
	T_EQ(hms_bind(h, p, len, &gpu, 1, 0), 0);
	T_EQ(hms_policy_get(h, p, &pol), 0);
	T_EQ(pol.ntargets, 1);
	T_EQ(pol.targets[0], gpu);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned)i * 3;
	T_EQ(g_count_on(h, p, npages, gpu), 0);
	T_EQ(hms_migrate(h, p, len, NULL, 0, HMS_MIGRATE_POLICY), npages);
	T_EQ(g_count_on(h, p, npages, gpu), npages);

	T_EQ(hms_cuda_map(g, p, len, 0, &d), 0);
	g_add(g, d, n, 2);
	T_EQ(hms_cuda_unmap(g, p, len), 0);
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned)i * 3 + 2)
			T_FAIL("p[%zu] = %u", i, p[i]);
	T_EQ(hms_bind_default(h, p, len), 0);
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
