/* SPDX-License-Identifier: MIT */
/*
 * `hms topo --gpu` attaches every GPU and shows it: its memory as a
 * DevicePrivate target, the GPU as an initiator, and the link to system
 * memory with the figures measured at attach.  Without a GPU it says why
 * and exits 1 (checked in the SKIP branch).
 */
#include "gpu_test.h"

static int run(const char *args, char *out, size_t len)
{
	char cmd[1024];
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof(cmd), "%s topo %s 2>&1", getenv("HMS_TOOL"), args);
	f = popen(cmd, "r");
	T_ASSERT(f);
	n = fread(out, 1, len - 1, f);
	out[n] = 0;
	return pclose(f);
}

int main(void)
{
	static char out[1 << 20];
	char why[256];
	int st;

	T_ASSERT(getenv("HMS_TOOL"));
	if (hms_cuda_device_count(why, sizeof(why)) <= 0) {
		st = run("--gpu", out, sizeof(out));
		T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 1);
		T_ASSERT(strstr(out, "--gpu: ") != NULL);
		T_SKIP("no GPU: %s (and hms topo --gpu says so)", why);
	}
	st = run("--gpu", out, sizeof(out));
	T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	T_ASSERT(strstr(out, "cuda0 (DevicePrivate"));
	T_ASSERT(strstr(out, "measured at attach"));
	T_ASSERT(strstr(out, "read=?") != NULL); /* the GPU's own memory: no figure */
	st = run("--gpu --json", out, sizeof(out));
	T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	T_ASSERT(strstr(out, "\"cuda0\""));
	printf("ok\n");
	return 0;
}
