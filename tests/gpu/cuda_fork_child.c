/* SPDX-License-Identifier: MIT */
/*
 * CUDA cannot be used in a child forked after its parent initialised it.
 * In such a child hms_cuda_device_count() and hms_cuda_attach() return
 * -ENODEV, the reason naming the fork, and touch no CUDA call; the
 * parent's GPU goes on working after the child (a round trip of 4 MiB).
 */
#include <sys/wait.h>
#include <unistd.h>

#include "gpu_test.h"

#define MIB (1UL << 20)

int main(void)
{
	struct hms_cuda_config cfg = { .size = sizeof(cfg), .mem_bytes = 32 * MIB,
				       .copy_threads = 2 };
	struct hms *h = t_open();
	struct hms_cuda *g = g_attach(h, &cfg);
	hms_uid gpu = hms_cuda_target(g), sys;
	char *p = hms_alloc(h, 4 * MIB, 0);
	pid_t pid;

	T_ASSERT(p);
	memset(p, 0x3c, 4 * MIB);
	T_EQ(hms_where(h, p, 1, &sys), 1);
	T_EQ(hms_migrate(h, p, 4 * MIB, &gpu, 1, 0), (long)(4 * MIB / T_PAGE));
	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		char why[256] = "";
		struct hms_cuda *g2 = NULL;
		int n = hms_cuda_device_count(why, sizeof(why));

		if (n != -ENODEV || !strstr(why, "forked")) {
			fprintf(stderr, "child: hms_cuda_device_count %d (%s)\n", n, why);
			_exit(1);
		}
		n = hms_cuda_attach(h, &cfg, &g2);
		if (n != -ENODEV || g2) {
			fprintf(stderr, "child: hms_cuda_attach %d\n", n);
			_exit(2);
		}
		/* the pages came home at the fork: the child reads them */
		for (size_t i = 0; i < 4 * MIB; i += T_PAGE)
			if (p[i] != 0x3c)
				_exit(3);
		_exit(0);
	}
	t_wait_ok(pid);
	T_EQ(hms_migrate(h, p, 4 * MIB, &gpu, 1, 0), (long)(4 * MIB / T_PAGE));
	T_EQ(g_count_on(h, p, 4 * MIB / T_PAGE, gpu), 4 * MIB / T_PAGE);
	T_EQ(hms_migrate(h, p, 4 * MIB, &sys, 1, 0), (long)(4 * MIB / T_PAGE));
	for (size_t i = 0; i < 4 * MIB; i++)
		if (p[i] != 0x3c)
			T_FAIL("byte %zu: %#x after the round trip", i, p[i]);
	T_EQ(hms_free(h, p, 4 * MIB), 0);
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
