/* SPDX-License-Identifier: MIT */
/*
 * `hms bench gpu` runs whole at a small size: the baselines, the chunk
 * call costs, the host's copy into pinned memory by 1-16 threads and the
 * same with the kernel's work on the source pages (the host's floor), every
 * hms configuration (chunks of 32 and 128 MiB among
 * them, 32 MiB with 16 threads too, and the two that discard by
 * MADV_DONTNEED in a context of their own), the four bandwidth ratios and the two fault-back
 * lines (one page per 2 MiB; every page of a huge area, whole blocks
 * against windows on a note line) and the replicas' line (a read-only
 * window against hms_migrate), with every
 * page's data checked by the benchmark itself (it fails on a lost byte);
 * the 2 MiB mapped at an offset of a larger allocation either reads as
 * the whole's mapping does there or is refused (NVIDIA's driver 580
 * refuses it, and so fakecuda).  HMS_BENCH_GPU_ONLY=chunks stops after
 * the chunk lines; HMS_BENCH_GPU_ONLY=replica runs no hms configuration
 * but the replicas; --json keeps stdout to JSON objects (with one hms
 * configuration).  Without a GPU
 * the benchmark says SKIP and exits 0 (checked in the SKIP branch).
 */
#include "gpu_test.h"

static char out[1 << 20];

static int run(const char *env, const char *args)
{
	char cmd[1024];
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof(cmd), "%s %s bench --mib 32 --reps 1 %s gpu", env,
		 getenv("HMS_TOOL"), args);
	f = popen(cmd, "r");
	T_ASSERT(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	return pclose(f);
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

static void expect_exit0(int st, const char *what)
{
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		T_FAIL("%s: status %#x; its output:\n%s", what, st, out);
}

int main(void)
{
	char why[256];
	int st;

	T_ASSERT(getenv("HMS_TOOL"));
	/* The chunk calls make 256 MiB at once; fakecuda's default is 256. */
	T_EQ(setenv("FAKECUDA_MEM_MB", "1024", 0), 0);
	if (hms_cuda_device_count(why, sizeof(why)) <= 0) {
		st = run("", "");
		expect_exit0(st, "hms bench gpu without a GPU");
		T_ASSERT(strstr(out, "gpu        SKIP: ") != NULL);
		T_SKIP("no GPU: %s (and hms bench gpu says SKIP)", why);
	}

	st = run("", "2>&1");
	expect_exit0(st, "hms bench gpu");
	if (strstr(out, "FAILED") || strstr(out, "failed"))
		T_FAIL("a failure in the output:\n%s", out);
	T_EQ(count(out, " MiB: create "), 4);
	T_EQ(count(out, "threads at once: made at"), 1);
	T_EQ(count(out, "host copy into pinned memory (hms_user_read, 2 MiB at a time), GB/s "
			"together: 1 thread "), 1);
	/* the host's floor, both ways of discarding and the way back (a
	 * kernel without UFFDIO_MOVE says why it measured none) */
	if (count(out, "host side of a move to the GPU without hms (write-protect, copy into "
		       "pinned memory, ") != 2 ||
	    count(out, "host side of a move back from the GPU without hms (UFFDIO_COPY from "
		       "pinned memory into missing pages), GB/s together: 1 thread ") != 1)
		T_ASSERT(count(out, "host side of a move to the GPU without hms: not measured (") == 1);
	T_EQ(count(out, "hms_migrate, "), 16);
	T_EQ(count(out, "MiB chunks  "), 3);
	T_EQ(count(out, ", huge pages "), 5);
	T_EQ(count(out, ", discard by zap "), 2);
	T_EQ(count(out, "gpu-h2d    "), 2);
	T_EQ(count(out, "gpu-d2h    "), 2);
	T_EQ(count(out, "gpu-fault  "), 2);
	T_EQ(count(out, "the same with 16-page windows (HMS_FAULT_HUGE=0): "), 1);
	T_EQ(count(out, "gpu-replica "), 1);
	T_EQ(count(out, "ratio "), 7);
	if (g_fake() || !strstr(out, "of a 32 MiB allocation: refused, the driver maps"))
		T_ASSERT(strstr(out, g_fake() ? "of a 32 MiB allocation: refused, the driver maps an "
						"allocation from its start only (operation not "
						"supported)"
					      : "of a 32 MiB allocation: mapped, the same bytes") != NULL);
	T_ASSERT(!strstr(out, "OTHER bytes"));

	st = run("HMS_BENCH_GPU_ONLY=chunks", "2>&1");
	expect_exit0(st, "HMS_BENCH_GPU_ONLY=chunks");
	T_EQ(count(out, " MiB: create "), 4);
	T_EQ(count(out, "host copy into pinned memory"), 1);
	T_EQ(count(out, "hms_migrate, "), 0);
	T_EQ(count(out, "ratio "), 0);

	st = run("HMS_BENCH_GPU_ONLY=replica", "2>&1");
	expect_exit0(st, "HMS_BENCH_GPU_ONLY=replica");
	T_EQ(count(out, "gpu-replica "), 1);
	T_EQ(count(out, "hms_migrate, "), 0);
	T_EQ(count(out, "ratio "), 1);

	/* --json: stdout holds one object a line, the notes go to stderr
	 * (kept in a file, shown if the run fails: a sanitizer's report).
	 * One hms configuration is enough for the format (the same reports,
	 * in a third of the time). */
	st = run("HMS_BENCH_GPU_ONLY='staged, 8 copy threads'", "--json 2>cuda_bench_json.err");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		T_ASSERT(system("cat cuda_bench_json.err >&2") != -1);
	expect_exit0(st, "hms bench --json gpu");
	T_EQ(count(out, "\n"), 7); /* the machine line and six benchmarks */
	for (char *line = out, *nl; (nl = strchr(line, '\n')); line = nl + 1)
		if (line[0] != '{' || nl[-1] != '}')
			T_FAIL("not a JSON object a line:\n%s", out);
	T_EQ(count(out, "\"bench\":\"gpu-"), 6);
	printf("ok\n");
	return 0;
}
