/* SPDX-License-Identifier: MIT */
/*
 * hms_cuda_map() of memory hms does not manage returns -ENOENT, as
 * documented, whatever that memory is: mapped and touched, mapped and
 * never touched, or not mapped at all (not -ENOMEM after its rounds of
 * placing); and it takes no GPU memory for it.
 */
#include <sys/mman.h>

#include "gpu_test.h"

int main(void)
{
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 32UL << 20, 2, 0, NULL, HMS_CUDA_KEEP_NONE };
	const size_t len = 1 << 16;
	struct hms *h = t_open();
	struct hms_cuda *g = g_attach(h, &cfg);
	struct hms_cuda_info info;
	char *q;
	uint64_t d;

	q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(q != MAP_FAILED);
	T_EQ(hms_cuda_map(g, q, len, 0, &d), -ENOENT);  /* never touched */
	q[0] = 1;
	T_EQ(hms_cuda_map(g, q, len, 0, &d), -ENOENT);  /* touched */
	T_EQ(hms_cuda_map(g, q, len, HMS_CUDA_MAP_READ_ONLY, &d), -ENOENT);
	T_EQ(munmap(q, len), 0);
	T_EQ(hms_cuda_map(g, q, len, 0, &d), -ENOENT);  /* not mapped */
	T_EQ(hms_cuda_info(g, &info), 0);
	T_EQ(info.used_bytes, 0);
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
