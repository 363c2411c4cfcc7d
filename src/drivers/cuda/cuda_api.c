/* SPDX-License-Identifier: MIT */
/*
 * cuda_api.c - load the CUDA driver library at run time (see cuda_api.h).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda_api.h"

static struct hms_cu cu;
static int cu_err;
static char cu_why[256];
static pthread_once_t cu_once = PTHREAD_ONCE_INIT;
/* The process that initialised CUDA: a child forked after that cannot use
 * it (CUDA's rule; its calls fail with "initialization error"). */
static pid_t cu_pid;

/* The first of the NUL-separated names the library has. */
static void *cu_sym(void *lib, const char *names)
{
	for (const char *n = names; *n; n += strlen(n) + 1) {
		void *p = dlsym(lib, n);

		if (p)
			return p;
	}
	return NULL;
}

static void cu_load(void)
{
	const char *path = getenv("HMS_CUDA_LIBRARY");
	CUresult r;

	if (!path || !*path)
		path = "libcuda.so.1";
	cu.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!cu.lib) {
		cu_err = -ENOENT;
		snprintf(cu_why, sizeof(cu_why), "no CUDA driver: cannot load %s (%s)", path,
			 dlerror());
		return;
	}
#define HMS_CU_REQ(name, args, sym)                                                   \
	*(void **)&cu.name = cu_sym(cu.lib, sym "\0");                                \
	if (!cu.name) {                                                               \
		cu_err = -ENOSYS;                                                     \
		snprintf(cu_why, sizeof(cu_why), "the CUDA driver %s lacks %s", path, sym); \
		return;                                                               \
	}
#define HMS_CU_OPT(name, args, sym) *(void **)&cu.name = cu_sym(cu.lib, sym "\0");
	HMS_CU_FUNCS(HMS_CU_REQ, HMS_CU_OPT)
#undef HMS_CU_REQ
#undef HMS_CU_OPT
	r = cu.Init(0);
	if (r != CUDA_SUCCESS) {
		cu_err = -ENODEV;
		snprintf(cu_why, sizeof(cu_why), "no usable GPU: cuInit failed (%s)",
			 hms_cu_strerror(&cu, r));
		return;
	}
	cu.DriverGetVersion(&cu.version);
	cu_pid = getpid();
}

const struct hms_cu *hms_cu_get(char *why, size_t whylen, int *err)
{
	pthread_once(&cu_once, cu_load);
	if (cu_err) {
		if (why && whylen)
			snprintf(why, whylen, "%s", cu_why);
		if (err)
			*err = cu_err;
		return NULL;
	}
	if (cu_pid != getpid()) {
		if (why && whylen)
			snprintf(why, whylen,
				 "no usable GPU: CUDA was initialised in process %d before it forked "
				 "this one, and CUDA cannot be used in such a child",
				 (int)cu_pid);
		if (err)
			*err = -ENODEV;
		return NULL;
	}
	if (err)
		*err = 0;
	return &cu;
}

const char *hms_cu_strerror(const struct hms_cu *c, CUresult e)
{
	const char *s = NULL;

	if (!c || !c->GetErrorString || c->GetErrorString(e, &s) != CUDA_SUCCESS || !s)
		return "unknown CUDA error";
	return s;
}
