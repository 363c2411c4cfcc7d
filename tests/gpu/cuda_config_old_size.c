/* SPDX-License-Identifier: MIT */
/*
 * A config built against the hms_cuda.h before chunk_mib (its size is that
 * struct's sizeof, whatever its padding holds) attaches with the default
 * chunk size: chunk_mib is not read from it.  The old struct is spelled
 * out here as such a caller saw it; garbage in its padding stands for a
 * config filled field by field.
 */
#include <stddef.h>

#include "gpu_test.h"

#define MIB (1UL << 20)

/* struct hms_cuda_config before chunk_mib. */
struct old_config {
	size_t size;
	int device;
	uint64_t mem_bytes;
	unsigned copy_threads;
	unsigned copy_mode;
	const char *name;
	unsigned keep_chunks;
};

int main(void)
{
	struct hms *h = t_open();
	struct old_config old;
	struct hms_cuda_info info;
	struct hms_cuda *g;
	const char *env = getenv("HMS_CUDA_CHUNK_MIB");
	size_t chunk_mib = env && *env ? strtoul(env, NULL, 10) : 2;
	char *raw = hms_alloc(h, 4 * MIB, 0), *p;
	hms_uid gpu;

	T_ASSERT(raw);
	p = (char *)(((uintptr_t)raw + 2 * MIB - 1) & ~(2 * MIB - 1));
	memset(p, 7, 2 * MIB);
	memset(&old, 0xa5, sizeof(old)); /* what the padding may hold */
	old.size = sizeof(old);
	old.device = 0;
	old.mem_bytes = 32 * MIB;
	old.copy_threads = 2;
	old.copy_mode = HMS_CUDA_COPY_STAGED;
	old.name = NULL;
	old.keep_chunks = HMS_CUDA_KEEP_NONE;
	g = g_attach(h, (const struct hms_cuda_config *)&old);

	/* One block on the GPU: one chunk of the default size. */
	gpu = hms_cuda_target(g);
	T_EQ(hms_migrate(h, p, 2 * MIB, &gpu, 1, 0), 512);
	T_EQ(hms_cuda_info(g, &info), 0);
	T_EQ(info.used_bytes, 2 * MIB);
	/* (A chunk larger than the 32 MiB pool shrinks to it.) */
	T_EQ(info.kept_bytes, ((chunk_mib < 32 ? chunk_mib : 32) - 2) * MIB);
	T_EQ(hms_cuda_detach(g), 0);
	for (size_t i = 0; i < 2 * MIB; i += 4096)
		T_EQ(p[i], 7);
	hms_close(h);
	printf("ok\n");
	return 0;
}
