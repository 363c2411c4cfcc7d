/* SPDX-License-Identifier: MIT */
/*
 * With a GPU: hms_cuda_device_count() counts it, attach registers a target
 * (device memory of the pool's size), an initiator and links with measured
 * figures, and detach removes them.  Bad arguments fail cleanly.  Without
 * a CUDA library: -ENOENT with a reason (checked in a child that points
 * HMS_CUDA_LIBRARY at nothing, since the library loads once per process).
 */
#include <sys/wait.h>
#include <unistd.h>

#include "gpu_test.h"

static void no_library(void)
{
	pid_t pid = fork();

	T_ASSERT(pid >= 0);
	if (pid == 0) {
		char why[256] = "";
		struct hms_cuda *g = NULL;

		setenv("HMS_CUDA_LIBRARY", "/nonexistent/libcuda.so.1", 1);
		if (hms_cuda_device_count(why, sizeof(why)) != -ENOENT || !strstr(why, "no CUDA driver"))
			_exit(1);
		/* attach needs a context; the library check comes first */
		_exit(hms_cuda_attach((struct hms *)1, NULL, &g) == -ENOENT && !g ? 0 : 2);
	}
	t_wait_ok(pid);
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 64UL << 20, 2, 0, "gpu-test" };
	struct hms_cuda_config bad = cfg;
	struct hms_cuda *g, *g2 = NULL;
	struct hms_cuda_info info;
	struct hms_topology *t;
	const struct hms_object *o;
	struct hms_target_info ti;
	int links = 0;
	hms_uid target;

	no_library();
	g = g_attach(h, &cfg);
	T_EQ(hms_cuda_info(g, &info), 0);
	printf("GPU: %s, driver %d, %llu MiB, link h2d %u MiB/s d2h %u MiB/s, %u ns\n",
	       info.name, info.driver_version, (unsigned long long)(info.total_bytes >> 20),
	       info.h2d_mib_s, info.d2h_mib_s, info.latency_ns);
	T_EQ(info.pool_bytes, 64UL << 20);
	T_EQ(info.used_bytes, 0);
	T_ASSERT(info.h2d_mib_s > 0 && info.d2h_mib_s > 0 && info.latency_ns > 0);
	T_ASSERT(hms_cuda_context(g) != NULL);

	T_EQ(hms_topology_get(h, &t), 0);
	o = hms_object_find(t, hms_cuda_target(g));
	T_ASSERT(o && hms_target_info(o, &ti) == 0);
	T_EQ(ti.kind, HMS_TARGET_DEVICE_PRIVATE);
	T_EQ(ti.size, 64UL << 20);
	T_ASSERT(!strcmp(hms_object_name(o), "gpu-test"));
	T_ASSERT(hms_object_find(t, hms_cuda_initiator(g)) != NULL);
	hms_topology_for_each(t, HMS_OBJECT_LINK, o)
		links += !strcmp(hms_object_name(o), "gpu-test");
	T_EQ(links, 2); /* to its own memory, to system memory */
	{
		struct hms_perf perf;

		/* GPU -> system memory: the measured figures */
		hms_topology_for_each(t, HMS_OBJECT_TARGET, o) {
			if (hms_target_info(o, &ti) == 0 && ti.numa_node != HMS_NONE) {
				T_EQ(hms_topology_path(t, hms_cuda_initiator(g), hms_object_uid(o), &perf), 0);
				T_EQ(perf.write_bandwidth, info.h2d_mib_s);
				T_EQ(perf.read_bandwidth, info.d2h_mib_s);
				T_EQ(perf.read_latency, info.latency_ns);
				break;
			}
		}
	}
	hms_topology_put(t);

	/* bad input */
	T_EQ(hms_cuda_attach(NULL, &cfg, &g2), -EINVAL);
	T_EQ(hms_cuda_attach(h, &cfg, NULL), -EINVAL);
	bad.size = 3;
	T_EQ(hms_cuda_attach(h, &bad, &g2), -EINVAL);
	bad = cfg;
	bad.device = 4096;
	T_EQ(hms_cuda_attach(h, &bad, &g2), -ENODEV);
	bad = cfg;
	bad.copy_mode = 7;
	T_EQ(hms_cuda_attach(h, &bad, &g2), -EINVAL);
	bad = cfg;
	bad.mem_bytes = 4096; /* less than one 2 MiB chunk */
	T_EQ(hms_cuda_attach(h, &bad, &g2), -EINVAL);
	T_ASSERT(g2 == NULL);
	T_EQ(hms_cuda_info(NULL, &info), -EINVAL);
	T_EQ(hms_cuda_detach(NULL), -EINVAL);
	T_EQ(hms_cuda_target(NULL), 0);

	target = hms_cuda_target(g);
	T_EQ(hms_cuda_detach(g), 0);
	T_EQ(hms_topology_get(h, &t), 0);
	T_ASSERT(hms_object_find(t, target) == NULL);
	hms_topology_put(t);
	hms_close(h);
	printf("ok\n");
	return 0;
}
