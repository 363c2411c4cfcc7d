/* SPDX-License-Identifier: MIT */
/*
 * stress_user_only - `hms stress --user-only`: the random mix on a context
 * opened with HMS_OPEN_USER_MODE_ONLY (what an unprivileged user gets),
 * where the kernel's own accesses cannot fault into hms: three worker
 * threads, a fixed seed, 50,000 operations (10,000 in the NUMA VM) on
 * 8 MiB; every byte must match
 * the shadow copy, and no device write may fail because another thread
 * protected a page between hms' fault and the kernel's write
 * (tests/fault_in_exclusive_race proves that case alone).  Runs the CLI
 * ctest names in $HMS_TOOL.
 */
#include <stdlib.h>
#include <string.h>

#include "hms_test.h"

int main(void)
{
	const char *const args[] = { "--user-only", "--seed", "79", "--ops",
				     getenv("HMS_IN_VM") ? "10000" : "50000", "--threads", "3",
				     "--mib", "8", NULL };
	static char out[1 << 16];

	t_stress(args, out, sizeof(out));
	T_ASSERT(strstr(out, "userfaultfd user-only mode"));
	T_ASSERT(strstr(out, "0 mismatches"));
	return 0;
}
