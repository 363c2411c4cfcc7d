/* SPDX-License-Identifier: MIT */
/*
 * Fault injection (fakecuda only): hms_cuda_map() whose copies to the GPU
 * fail reports -EIO (a CUDA failure), not -ENOMEM (GPU memory exhausted);
 * nothing is lost, and the map works once copies do.
 */
#include "gpu_test.h"

int main(void)
{
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 32UL << 20, 2, 0, NULL, 0 };
	const size_t len = 4UL << 20, n = len / sizeof(int);
	void (*fail)(unsigned, unsigned);
	struct hms_cuda *g;
	struct hms *h;
	uint64_t d;
	int *p;

	if (!g_fake())
		T_SKIP("copy failures are injected through fakecuda only");
	h = t_open();
	g = g_attach(h, &cfg);
	fail = (void (*)(unsigned, unsigned))g_fake_sym("fakecuda_fail_copies");
	p = hms_alloc(h, len, 0);
	T_ASSERT(p);
	t_fill(p, n, 21);

	fail(0, 1000000);
	T_EQ(hms_cuda_map(g, p, len, 0, &d), -EIO);
	fail(0, 0);
	t_check(p, n, 21);
	T_EQ(hms_cuda_map(g, p, len, 0, &d), 0);
	g_add(g, d, n, 1);
	T_EQ(hms_cuda_unmap(g, p, len), 0);
	t_check(p, n, 22);
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
