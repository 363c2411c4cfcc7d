/* SPDX-License-Identifier: MIT */
/*
 * `hms bench gpu`'s host floor starts its threads through a gate of its
 * own: a thread that cannot be created cancels the run, the threads
 * already started and waiting at the gate leave without working, and the
 * floor reports "N threads failed (Resource temporarily unavailable)" and
 * the benchmark goes on (it used a barrier for all N and abort()ed).
 * HMS_INJECT=thread:43 fails the 16th thread of the 16-thread run: the
 * 43rd pass of the point after the benchmark's hms_open(), whose fault
 * handler is the first, then 2 x (1 + 4 + 8) threads and 15 of 16.  The
 * point fails every 43rd pass: the floor of huge pages that follows
 * loses its 16th thread of 16 the same way.  A hang at the gate fails by
 * ctest's timeout.
 */
#include "gpu_test.h"

static char out[1 << 20];

static size_t count(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

int main(void)
{
	char cmd[1024], why[256];
	size_t n;
	FILE *f;
	int st;

	T_ASSERT(getenv("HMS_TOOL"));
	T_EQ(setenv("FAKECUDA_MEM_MB", "1024", 0), 0); /* the chunk calls' 256 MiB */
	if (hms_cuda_device_count(why, sizeof(why)) <= 0)
		T_SKIP("no GPU: %s", why);
	snprintf(cmd, sizeof(cmd),
		 "HMS_BENCH_GPU_ONLY=chunks HMS_INJECT=thread:43 %s bench --mib 32 --reps 1 gpu "
		 "2>&1", getenv("HMS_TOOL"));
	f = popen(cmd, "r");
	T_ASSERT(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	st = pclose(f);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		T_FAIL("hms bench gpu: status %#x; its output:\n%s", st, out);
	if (strstr(out, "host side of a move to the GPU without hms: not measured ("))
		T_SKIP("the floor is not measured here:\n%s", out);
	/* the copies before it ran whole; the floor's 16-thread run was
	 * cancelled, after its 1, 4 and 8-thread runs; the chunks followed */
	T_EQ(count(out, "host copy into pinned memory (hms_user_read, 2 MiB at a time), GB/s "
			"together: 1 thread "), 1);
	if (count(out, "host side of a move to the GPU without hms: 16 threads failed "
		       "(Resource temporarily unavailable)\n") != 1 ||
	    count(out, "host side of a move of huge pages to the GPU without hms: 16 threads "
		       "failed (Resource temporarily unavailable)\n") != 1)
		T_FAIL("no cancelled 16-thread run of each floor in:\n%s", out);
	T_EQ(count(out, "without hms ("), 0);
	T_EQ(count(out, " MiB: create "), 4);
	printf("ok\n");
	return 0;
}
