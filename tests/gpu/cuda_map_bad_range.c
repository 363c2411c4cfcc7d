/* SPDX-License-Identifier: MIT */
/*
 * hms_cuda_map() of ranges it cannot map fails at once and holds nothing:
 * memory hms does not manage (-ENOENT), a range at the very top of the
 * address space, where rounding to pages or blocks wraps past zero
 * (-EINVAL, or an error, not a walk over the whole address space), an
 * absurd length.
 */
#include <stdint.h>

#include "gpu_test.h"

int main(void)
{
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 32UL << 20, 2, 0, NULL, HMS_CUDA_KEEP_NONE };
	static char unmanaged[1 << 16];
	struct hms_cuda_info info;
	struct hms_cuda *g;
	struct hms *h;
	uint64_t d = 0;
	int r;

	h = t_open();
	g = g_attach(h, &cfg);
	t_watchdog(30, "hms_cuda_map of a range it cannot map");
	T_EQ(hms_cuda_map(g, unmanaged, sizeof(unmanaged), 0, &d), -ENOENT);
	/* The last page: rounding the end up wraps. */
	T_EQ(hms_cuda_map(g, (void *)(UINTPTR_MAX - 100), 50, 0, &d), -EINVAL);
	/* A page of the last block: the block's end wraps. */
	r = hms_cuda_map(g, (void *)(UINTPTR_MAX - 8191), 4096, 0, &d);
	T_ASSERT(r < 0);
	r = hms_cuda_map(g, (void *)(UINTPTR_MAX - 8191), 4096, HMS_CUDA_MAP_READ_ONLY, &d);
	T_ASSERT(r < 0);
	r = hms_cuda_map(g, unmanaged, SIZE_MAX / 2, 0, &d);
	T_ASSERT(r == -ENOMEM || r == -ENOENT || r == -EINVAL);
	t_watchdog(0, NULL);
	T_EQ(hms_cuda_unmap(g, unmanaged, sizeof(unmanaged)), -ENOENT);
	T_EQ(hms_cuda_info(g, &info), 0);
	T_EQ(info.used_bytes, 0);
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
