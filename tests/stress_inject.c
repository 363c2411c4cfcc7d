/* SPDX-License-Identifier: MIT */
/*
 * stress_inject - `hms stress` (one thread, fixed seed, 30,000 (15,000 in the VM)
 * operations) with faults injected all along: every 5th device page
 * allocation and device copy fails, every 7th userfaultfd ioctl answers
 * EAGAIN, every 97th core allocation fails (src/inject.h).  Each failure
 * must end in a documented error or a retry: no byte may differ from the
 * shadow copy, and the tool must report the faults it survived.  Runs the
 * CLI ctest names in $HMS_TOOL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hms_test.h"

int main(void)
{
	static char out[65536];
	/* Half in the emulated NUMA VM (HMS_IN_VM): 13-14 s there per kernel. */
	const char *const args[] = { "--seed", "42", "--ops",
				     getenv("HMS_IN_VM") ? "15000" : "30000", "--threads", "1",
				     "--mib", "8", "--inject",
				     "dev_alloc:5,dev_copy:5,uffd_eagain:7,nomem:97", NULL };

	t_stress(args, out, sizeof(out));
	T_ASSERT(strstr(out, "injected faults survived: "));
	T_ASSERT(strstr(out, "dev_alloc ") && strstr(out, "dev_copy ") &&
		 strstr(out, "uffd_eagain "));
	T_ASSERT(strstr(out, "0 mismatches, every byte checked"));
	return 0;
}
