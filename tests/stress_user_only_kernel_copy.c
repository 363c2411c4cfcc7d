/* SPDX-License-Identifier: MIT */
/*
 * stress_user_only_kernel_copy - `hms stress --user-only` with the
 * drivers' copies going through the kernel (HMS_USER_COPY=kernel, as in
 * ThreadSanitizer builds or where a program set its own SIGSEGV handler
 * after hms): there hms resolves a managed page that stops such a copy
 * (hms_user_read(3)).  Three worker threads, seeds 79-81, 30,000
 * operations each (6,000 in the NUMA VM) on 8 MiB, forks among them:
 * every byte must match the shadow copy, and nothing may hang (a copy
 * waiting for fork's lock while fork waited for that copy's migration
 * hung 3 seeds of 4 of 50,000 operations, and this test 1 run in 3 with
 * one seed).  Runs the CLI ctest names in $HMS_TOOL.
 */
#include <stdlib.h>
#include <string.h>

#include "hms_test.h"

int main(void)
{
	static const char *const seeds[] = { "79", "80", "81" };
	static char out[1 << 16];

	T_EQ(setenv("HMS_USER_COPY", "kernel", 1), 0);
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		const char *const args[] = { "--user-only", "--seed", seeds[i], "--ops",
					     getenv("HMS_IN_VM") ? "6000" : "30000",
					     "--threads", "3", "--mib", "8", NULL };

		t_stress(args, out, sizeof(out));
		T_ASSERT(strstr(out, "userfaultfd user-only mode"));
		T_ASSERT(strstr(out, "0 mismatches"));
	}
	return 0;
}
