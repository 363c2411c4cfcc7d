/* SPDX-License-Identifier: MIT */
/*
 * stress_inject - `hms stress` (one thread, fixed seed, 30,000
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
	const char *tool = getenv("HMS_TOOL");
	char out[65536];
	size_t got = 0;
	int fds[2], st;
	ssize_t n;
	pid_t pid;

	if (!tool || access(tool, X_OK))
		T_SKIP("HMS_TOOL is not set to the hms command (run through ctest)");
	hms_close(t_open()); /* skips where userfaultfd cannot be used */
	T_EQ(pipe(fds), 0);
	fflush(stdout);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		execl(tool, tool, "stress", "--seed", "42", "--ops", "30000", "--threads", "1",
		      "--mib", "8", "--inject", "dev_alloc:5,dev_copy:5,uffd_eagain:7,nomem:97",
		      (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while (got < sizeof(out) - 1 && (n = read(fds[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = 0;
	close(fds[0]);
	T_EQ(waitpid(pid, &st, 0), pid);
	fputs(out, stdout);
	if (WIFSIGNALED(st))
		T_FAIL("hms stress was killed by signal %d", WTERMSIG(st));
	T_EQ(WEXITSTATUS(st), 0);
	T_ASSERT(strstr(out, "injected faults survived: "));
	T_ASSERT(strstr(out, "dev_alloc ") && strstr(out, "dev_copy ") &&
		 strstr(out, "uffd_eagain "));
	T_ASSERT(strstr(out, "0 mismatches, every byte checked"));
	return 0;
}
