/* SPDX-License-Identifier: MIT */
/*
 * stress_threads - `hms stress` with three worker threads and a fixed
 * seed, 60,000 operations (30,000 in the NUMA VM) on 8 MiB: the operations are chosen from the
 * seed, their interleaving is not, so this run finds races between CPU
 * faults, device faults, migrations, mapping changes and fork.  Every
 * byte must match the shadow copy, no unexpected error, no hang (25 of
 * 25 runs of this command clean on a 2-vCPU VM, issue 7); the threads
 * together run exactly the operations asked for.  Runs the CLI ctest
 * names in $HMS_TOOL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hms_test.h"

int main(void)
{
	/* Half in the emulated NUMA VM (HMS_IN_VM): 25-28 s there per kernel. */
	bool vm = getenv("HMS_IN_VM");
	const char *const args[] = { "--seed", "3", "--ops", vm ? "30000" : "60000", "--threads",
				     "3", "--mib", "8", NULL };

	static char out[1 << 16];

	t_stress(args, out, sizeof(out));
	T_ASSERT(strstr(out, vm ? "seed 3: 30000 operations, 0 mismatches"
				: "seed 3: 60000 operations, 0 mismatches"));
	return 0;
}
