/* SPDX-License-Identifier: MIT */
/*
 * stress_gpu - `hms stress --gpu` with three worker threads and a fixed
 * seed, 20,000 operations on 8 MiB, against fakecuda (ctest sets
 * HMS_CUDA_LIBRARY): migrations to the GPU and home, kernels on windows
 * over owned spans and read-only windows over shared ones (replicas), in
 * the random mix with the softdevs, CPU, mapping changes and fork.  Every
 * byte must match the shadow copy, no unexpected error, no hang.  Then
 * 10,000 more with 8 MiB chunks (HMS_CUDA_CHUNK_MIB).  Runs the CLI ctest
 * names in $HMS_TOOL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hms_test.h"

int main(void)
{
	const char *cuda = getenv("HMS_CUDA_LIBRARY");
	const char *const args[] = { "--gpu", "--seed", "3", "--ops", "20000", "--threads", "3",
				     "--mib", "8", NULL };
	const char *const args_chunks[] = { "--gpu", "--seed", "4", "--ops", "10000", "--threads",
					    "3", "--mib", "8", NULL };

	if (!cuda || access(cuda, R_OK))
		T_SKIP("HMS_CUDA_LIBRARY does not name fakecuda (run through ctest)");
	t_stress(args, NULL, 0);
	/* Again with chunks of four slots: a region's blocks share a chunk,
	 * which goes only when its last slot does (the pool grows to match:
	 * more regions than blocks fill it). */
	T_EQ(setenv("HMS_CUDA_CHUNK_MIB", "8", 1), 0);
	t_stress(args_chunks, NULL, 0);
	return 0;
}
