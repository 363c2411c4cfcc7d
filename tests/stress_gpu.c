/* SPDX-License-Identifier: MIT */
/*
 * stress_gpu - `hms stress --gpu` with three worker threads and a fixed
 * seed, 20,000 operations on 8 MiB, against fakecuda (ctest sets
 * HMS_CUDA_LIBRARY): migrations to the GPU and home, kernels on windows
 * over owned spans and read-only windows over shared ones (replicas), in
 * the random mix with the softdevs, CPU, mapping changes and fork.  Every
 * byte must match the shadow copy, no unexpected error, no hang.  Runs the
 * CLI ctest names in $HMS_TOOL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hms_test.h"

int main(void)
{
	const char *tool = getenv("HMS_TOOL"), *cuda = getenv("HMS_CUDA_LIBRARY");
	pid_t pid;
	int st;

	if (!tool || access(tool, X_OK))
		T_SKIP("HMS_TOOL is not set to the hms command (run through ctest)");
	if (!cuda || access(cuda, R_OK))
		T_SKIP("HMS_CUDA_LIBRARY does not name fakecuda (run through ctest)");
	hms_close(t_open()); /* skips where userfaultfd cannot be used */
	fflush(stdout);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		execl(tool, tool, "stress", "--gpu", "--seed", "3", "--ops", "20000", "--threads",
		      "3", "--mib", "8", (char *)NULL);
		_exit(127);
	}
	T_EQ(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		T_FAIL("hms stress --gpu was killed by signal %d", WTERMSIG(st));
	T_EQ(WEXITSTATUS(st), 0);
	return 0;
}
