/* SPDX-License-Identifier: MIT */
/*
 * gpu_test.h - what the GPU tests share: attach a GPU or SKIP with the
 * reason, count pages on it, launch the test kernel on a window, and the
 * fakecuda controls (only when HMS_CUDA_FAKE is set).
 */
#ifndef HMS_GPU_TEST_H
#define HMS_GPU_TEST_H

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include <hms_cuda.h>

#include "cuda_api.h"
#include "hms_test.h"
#include "kernels_ptx.h"

static inline bool g_fake(void)
{
	return getenv("HMS_CUDA_FAKE") != NULL;
}

/* A GPU attached to h with cfg, or SKIP with why there is none. */
static inline struct hms_cuda *g_attach(struct hms *h, const struct hms_cuda_config *cfg)
{
	char why[256] = "";
	struct hms_cuda *g = NULL;
	int n = hms_cuda_device_count(why, sizeof(why)), ret;

	if (n <= 0)
		T_SKIP("no GPU: %s", why);
	ret = hms_cuda_attach(h, cfg, &g);
	if (ret)
		T_FAIL("hms_cuda_attach: %s", strerror(-ret));
	return g;
}

/* Pages of [addr, addr + npages) that live on target t. */
static inline size_t g_count_on(struct hms *h, const void *addr, size_t npages, hms_uid t)
{
	hms_uid *u = calloc(npages, sizeof(*u));
	size_t n = 0;

	T_ASSERT(u);
	T_EQ(hms_where(h, addr, npages, u), npages);
	for (size_t i = 0; i < npages; i++)
		n += u[i] == t;
	free(u);
	return n;
}

/* Launch one of the test kernels (kernels.cu) over n threads and wait.
 * The module is loaded each time: a context may be gone and made again
 * between calls, and modules die with their context. */
static inline void g_launch(struct hms_cuda *g, const char *kernel, unsigned long long n,
			    void **params)
{
	const struct hms_cu *cu = hms_cu_get(NULL, 0, NULL);
	CUfunction fn;
	CUmodule m;

	T_ASSERT(cu);
	T_EQ(cu->CtxSetCurrent(hms_cuda_context(g)), CUDA_SUCCESS);
	T_EQ(cu->ModuleLoadData(&m, hms_test_ptx), CUDA_SUCCESS);
	T_EQ(cu->ModuleGetFunction(&fn, m, kernel), CUDA_SUCCESS);
	T_EQ(cu->LaunchKernel(fn, (unsigned)((n + 255) / 256), 1, 1, 256, 1, 1, 0, NULL, params,
			      NULL),
	     CUDA_SUCCESS);
	T_EQ(cu->CtxSynchronize(), CUDA_SUCCESS);
	T_EQ(cu->ModuleUnload(m), CUDA_SUCCESS);
}

/* hms_test_add: p[i] += v for i < n, on a window. */
static inline void g_add(struct hms_cuda *g, uint64_t dptr, unsigned long long n, unsigned v)
{
	void *params[] = { &dptr, &n, &v };

	g_launch(g, "hms_test_add", n, params);
}

/* hms_test_copy: dst[i] = src[i] + v. */
static inline void g_copy(struct hms_cuda *g, uint64_t dst, uint64_t src, unsigned long long n,
			  unsigned v)
{
	void *params[] = { &dst, &src, &n, &v };

	g_launch(g, "hms_test_copy", n, params);
}

/* fakecuda's controls (fakecuda.c), looked up in the loaded library. */
static inline void *g_fake_sym(const char *name)
{
	void *lib = dlopen(getenv("HMS_CUDA_LIBRARY"), RTLD_NOW | RTLD_NOLOAD);
	void *p = lib ? dlsym(lib, name) : NULL;

	T_ASSERT(p);
	return p;
}

/* fakecuda's copy hold: host-to-device copies wait while it is on. */
static inline void g_hold_htod(bool on)
{
	((void (*)(bool))g_fake_sym("fakecuda_hold_htod"))(on);
}

/* How many host-to-device copies wait in the hold now. */
static inline unsigned g_htod_held(void)
{
	return ((unsigned (*)(void))g_fake_sym("fakecuda_htod_held"))();
}

/* Wait until n copies wait in the hold (the test's watchdog bounds it). */
static inline void g_wait_htod_held(unsigned n)
{
	while (g_htod_held() < n)
		usleep(1000);
}

/* What the GPU holds, in MiB: used_bytes and kept_bytes as
 * hms_cuda_info() says, and (fakecuda only) the memory fakecuda gave out,
 * live chunks whole.  Fails the test with the caller's line. */
#define g_expect_mem(g, used, kept, gpu) g_expect_mem_at(__LINE__, g, used, kept, gpu)
static inline void g_expect_mem_at(int line, struct hms_cuda *g, size_t used, size_t kept,
				   size_t gpu)
{
	const size_t mib = 1UL << 20;
	size_t (*fake_used)(void) =
		g_fake() ? (size_t (*)(void))g_fake_sym("fakecuda_mem_used") : NULL;
	struct hms_cuda_info info;

	T_EQ(hms_cuda_info(g, &info), 0);
	if (info.used_bytes != used * mib || info.kept_bytes != kept * mib ||
	    (fake_used && fake_used() != gpu * mib))
		T_FAIL("line %d: used %zu MiB, kept %zu MiB, the GPU gave %zd MiB; expected "
		       "%zu, %zu, %zu", line, (size_t)(info.used_bytes / mib),
		       (size_t)(info.kept_bytes / mib),
		       fake_used ? (ssize_t)(fake_used() / mib) : (ssize_t)-1, used, kept, gpu);
}

#endif
