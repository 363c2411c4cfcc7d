/* SPDX-License-Identifier: MIT */
/*
 * HMS_CUDA_PROF turns the per-phase timing on where it is set, not empty
 * and not "0": hms_cuda_detach() then prints "time per phase" and one line
 * per phase on stderr, and a round trip of 4 MiB to the GPU and back shows
 * time in the copy and wall phases of both ways.  Unset, empty or "0":
 * nothing on stderr.  The value is read at attach.  Each round trip runs in
 * a child, and the parent never touches CUDA: a child forked after its
 * parent initialised CUDA cannot use it.
 */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpu_test.h"

#define MIB (1UL << 20)

static char text[16384];

/* ms printed on the line "  NAME  N ms" of text, or -1 where there is none. */
static double phase_ms(const char *name)
{
	const char *l = strstr(text, name);
	double ms;

	if (!l || sscanf(l + strlen(name), " %lf ms", &ms) != 1)
		return -1;
	return ms;
}

/* In a child whose stderr goes to a file: attach with HMS_CUDA_PROF as
 * value (NULL: unset), move 4 MiB to the GPU and back, check the data,
 * detach.  What the child wrote on stderr goes into text; a child that
 * failed fails the test with it, one that found no GPU skips it. */
static void round_trip(const char *value)
{
	FILE *f = tmpfile();
	size_t n;
	pid_t pid;
	int st;

	T_ASSERT(f);
	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		struct hms_cuda_config cfg = { .size = sizeof(cfg), .mem_bytes = 32 * MIB,
					       .copy_threads = 2 };
		struct hms *h;
		struct hms_cuda *g;
		hms_uid gpu, sys;
		char why[256] = "";
		char *p;

		if (dup2(fileno(f), 2) != 2)
			_exit(3);
		if (hms_cuda_device_count(why, sizeof(why)) <= 0) {
			fprintf(stderr, "no GPU: %s", why);
			_exit(77);
		}
		if (value)
			T_EQ(setenv("HMS_CUDA_PROF", value, 1), 0);
		else
			T_EQ(unsetenv("HMS_CUDA_PROF"), 0);
		h = t_open();
		g = g_attach(h, &cfg);
		/* the value counts at attach, not later */
		T_EQ(setenv("HMS_CUDA_PROF", value && *value && strcmp(value, "0") ? "0" : "1",
			    1),
		     0);
		p = hms_alloc(h, 4 * MIB, 0);
		T_ASSERT(p);
		memset(p, 0x5a, 4 * MIB);
		T_EQ(hms_where(h, p, 1, &sys), 1);
		gpu = hms_cuda_target(g);
		T_EQ(hms_migrate(h, p, 4 * MIB, &gpu, 1, 0), (long)(4 * MIB / T_PAGE));
		T_EQ(g_count_on(h, p, 4 * MIB / T_PAGE, gpu), 4 * MIB / T_PAGE);
		T_EQ(hms_migrate(h, p, 4 * MIB, &sys, 1, 0), (long)(4 * MIB / T_PAGE));
		T_EQ(hms_cuda_detach(g), 0);
		for (size_t i = 0; i < 4 * MIB; i++)
			if (p[i] != 0x5a)
				T_FAIL("byte %zu: %#x after the round trip", i, p[i]);
		T_EQ(hms_free(h, p, 4 * MIB), 0);
		hms_close(h);
		fflush(NULL);
		_exit(0);
	}
	T_EQ(waitpid(pid, &st, 0), pid);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = 0;
	fclose(f);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		T_SKIP("%s", text);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		T_FAIL("HMS_CUDA_PROF %s: the round trip's child ended with status %#x; its "
		       "stderr:\n%s", value ? value : "unset", st, text);
}

int main(void)
{
	static const char *const off[] = { NULL, "", "0" };
	static const char *const on[] = { "1", "yes" };
	static const char *const phases[] = { "to GPU: copy", "to GPU: wall",
					      "to system: copy", "to system: wall" };

	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		round_trip(off[i]);
		if (strstr(text, "HMS_CUDA_PROF"))
			T_FAIL("HMS_CUDA_PROF %s%s%s: timing printed:\n%s", off[i] ? "\"" : "",
			       off[i] ? off[i] : "unset", off[i] ? "\"" : "", text);
	}
	for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		round_trip(on[i]);
		if (!strstr(text, "time per phase, all threads together (HMS_CUDA_PROF)"))
			T_FAIL("HMS_CUDA_PROF=\"%s\": no timing on stderr:\n%s", on[i], text);
		for (size_t k = 0; k < sizeof(phases) / sizeof(phases[0]); k++)
			if (!(phase_ms(phases[k]) > 0))
				T_FAIL("HMS_CUDA_PROF=\"%s\": phase \"%s\" not above 0 ms:\n%s",
				       on[i], phases[k], text);
		if (phase_ms("to GPU: alloc") < 0)
			T_FAIL("HMS_CUDA_PROF=\"%s\": no \"to GPU: alloc\" line:\n%s", on[i], text);
	}
	printf("ok\n");
	return 0;
}
