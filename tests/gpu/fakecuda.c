/* SPDX-License-Identifier: MIT */
/*
 * fakecuda.c - a stand-in for libcuda.so.1, for testing hms' CUDA driver
 * where no GPU is present.  "Device memory" is host memory: cuMemCreate()
 * chunks are memfds, cuMemMap() maps them into reserved ranges, copies are
 * memcpy, streams are synchronous, and the kernels the GPU tests launch
 * are C functions found by name.  It keeps the driver API's rules that
 * hms relies on (a chunk outlives its release while mapped; memory is
 * limited; host ranges registered once, fakecuda_registered counting
 * them) and can fail on purpose (fakecuda_fail_copies, the memory
 * limit), for fault injection, or hold host-to-device copies
 * (fakecuda_hold_htod) to stop a migration half way, or chunk releases
 * (fakecuda_hold_release) and creations (fakecuda_hold_create).  Like the
 * real driver, it cannot be used in a child forked after the parent's
 * cuInit: cuInit and cuDeviceGetCount fail there with "initialization
 * error".
 *
 * Environment: FAKECUDA_DEVICES (default 1; 0: cuInit fails with
 * CUDA_ERROR_NO_DEVICE), FAKECUDA_MEM_MB (default 256), FAKECUDA_FAIL
 * (name:skip:n, see fakecuda_fail_call), FAKECUDA_NAME (the name
 * cuDeviceGetName gives, any bytes: the tool's JSON must escape it).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/drivers/cuda/cuda_api.h"

#define EXPORT __attribute__((visibility("default")))
#define CUDA_ERROR_UNKNOWN 999

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int ndevices = -1;
static size_t mem_limit, mem_used;
static unsigned copies, fail_from = ~0u, fail_count;
static int ctx_dummy, stream_dummy, mod_dummy;
static pid_t init_pid; /* the process whose cuInit succeeded */

/* x, read under the lock (the test controls' counters). */
#define LOCKED_READ(x)                               \
	({                                           \
		__typeof__(x) v_;                    \
		pthread_mutex_lock(&lock);           \
		v_ = (x);                            \
		pthread_mutex_unlock(&lock);         \
		v_;                                  \
	})

static void init_env(void)
{
	const char *d = getenv("FAKECUDA_DEVICES"), *m = getenv("FAKECUDA_MEM_MB");

	if (ndevices >= 0)
		return;
	ndevices = d ? atoi(d) : 1;
	mem_limit = (size_t)(m ? atol(m) : 256) << 20;
}

/* ---- test controls ---------------------------------------------------------- */

/* Copies number skip+1 .. skip+n from now fail with CUDA_ERROR_UNKNOWN. */
EXPORT void fakecuda_fail_copies(unsigned skip, unsigned n)
{
	pthread_mutex_lock(&lock);
	fail_from = copies + skip;
	fail_count = n;
	pthread_mutex_unlock(&lock);
}

/* Copies asked for so far, both ways (failed ones too). */
EXPORT unsigned fakecuda_copies(void)
{
	return LOCKED_READ(copies);
}

EXPORT void fakecuda_set_mem_limit(size_t bytes)
{
	pthread_mutex_lock(&lock);
	init_env();
	mem_limit = bytes;
	pthread_mutex_unlock(&lock);
}

EXPORT size_t fakecuda_mem_used(void)
{
	return LOCKED_READ(mem_used);
}

/* Calls named name (the driver API's symbol, "cuMemMap") number skip+1 ..
 * skip+n from now fail (CUDA_ERROR_OUT_OF_MEMORY for the allocating ones,
 * else CUDA_ERROR_UNKNOWN); n = 0 ends it.  One name at a time.  Also
 * from the environment: FAKECUDA_FAIL=name:skip:n. */
static char fail_name[64];
static unsigned fail_call_skip, fail_call_n;

EXPORT void fakecuda_fail_call(const char *name, unsigned skip, unsigned n)
{
	pthread_mutex_lock(&lock);
	snprintf(fail_name, sizeof(fail_name), "%s", name ? name : "");
	fail_call_skip = skip;
	fail_call_n = n;
	pthread_mutex_unlock(&lock);
}

static bool fail_env_read;

static bool inject(const char *name)
{
	bool fail = false;

	pthread_mutex_lock(&lock);
	if (!fail_env_read) {
		const char *e = getenv("FAKECUDA_FAIL");
		unsigned skip = 0, n = 0;
		char nm[64];

		fail_env_read = true;
		if (e && sscanf(e, "%63[^:]:%u:%u", nm, &skip, &n) == 3) {
			snprintf(fail_name, sizeof(fail_name), "%s", nm);
			fail_call_skip = skip;
			fail_call_n = n;
		}
	}
	if (fail_call_n && !strcmp(fail_name, name)) {
		if (fail_call_skip) {
			fail_call_skip--;
		} else {
			fail_call_n--;
			fail = true;
		}
	}
	pthread_mutex_unlock(&lock);
	return fail;
}

/* Device virtual ranges reserved and not yet freed (a test's leak check). */
static long reserved;

EXPORT long fakecuda_reserved(void)
{
	return LOCKED_READ(reserved);
}

/* A hold: while it is on, the calls it stops wait in hold_wait() (a
 * test's way to keep the driver in the middle of an operation), counted in
 * waiting.  Under the lock. */
struct hold {
	bool on;
	unsigned waiting;
};
static pthread_cond_t hold_cond = PTHREAD_COND_INITIALIZER;

static void hold_set(struct hold *h, bool on)
{
	pthread_mutex_lock(&lock);
	h->on = on;
	pthread_cond_broadcast(&hold_cond);
	pthread_mutex_unlock(&lock);
}

static void hold_wait(struct hold *h)
{
	pthread_mutex_lock(&lock);
	while (h->on) {
		h->waiting++;
		pthread_cond_wait(&hold_cond, &lock);
		h->waiting--;
	}
	pthread_mutex_unlock(&lock);
}

/* Host-to-device copies wait while this hold is on (to keep a migration
 * to the GPU in the middle of its copy). */
static struct hold htod_hold;

EXPORT void fakecuda_hold_htod(bool on)
{
	hold_set(&htod_hold, on);
}

/* How many host-to-device copies wait in the hold now. */
EXPORT unsigned fakecuda_htod_held(void)
{
	return LOCKED_READ(htod_hold.waiting);
}

static CUresult copy_ok(void)
{
	CUresult r = CUDA_SUCCESS;

	pthread_mutex_lock(&lock);
	if (copies >= fail_from && copies - fail_from < fail_count)
		r = CUDA_ERROR_UNKNOWN;
	copies++;
	pthread_mutex_unlock(&lock);
	return r;
}

/* ---- init, devices, contexts ------------------------------------------------- */

EXPORT CUresult cuInit(unsigned flags)
{
	(void)flags;
	CUresult r;

	pthread_mutex_lock(&lock);
	init_env();
	if (init_pid && init_pid != getpid())
		r = CUDA_ERROR_NOT_INITIALIZED; /* forked after the parent's cuInit */
	else if (ndevices > 0) {
		init_pid = getpid();
		r = CUDA_SUCCESS;
	} else
		r = CUDA_ERROR_NO_DEVICE;
	pthread_mutex_unlock(&lock);
	return r;
}

EXPORT CUresult cuDriverGetVersion(int *v)
{
	*v = 13000;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuGetErrorString(CUresult e, const char **s)
{
	switch (e) {
	case CUDA_SUCCESS: *s = "no error"; break;
	case CUDA_ERROR_INVALID_VALUE: *s = "invalid argument"; break;
	case CUDA_ERROR_OUT_OF_MEMORY: *s = "out of memory"; break;
	case CUDA_ERROR_NOT_INITIALIZED: *s = "initialization error"; break;
	case CUDA_ERROR_NO_DEVICE: *s = "no CUDA-capable device is detected (fake)"; break;
	case CUDA_ERROR_INVALID_DEVICE: *s = "invalid device ordinal"; break;
	case CUDA_ERROR_NOT_FOUND: *s = "named symbol not found"; break;
	case CUDA_ERROR_NOT_SUPPORTED: *s = "operation not supported"; break;
	default: *s = "unknown error (injected by fakecuda)"; break;
	}
	return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetCount(int *n)
{
	pid_t ip = LOCKED_READ(init_pid);

	if (ip && ip != getpid())
		return CUDA_ERROR_NOT_INITIALIZED;
	*n = ndevices > 0 ? ndevices : 0;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGet(CUdevice *d, int ordinal)
{
	if (ordinal < 0 || ordinal >= ndevices)
		return CUDA_ERROR_INVALID_DEVICE;
	*d = ordinal;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice d)
{
	const char *n = getenv("FAKECUDA_NAME");

	if (n)
		snprintf(name, (size_t)len, "%s", n);
	else
		snprintf(name, (size_t)len, "hms fake GPU %d", d);
	return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice d)
{
	(void)d;
	*bytes = mem_limit;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetAttribute(int *v, int attr, CUdevice d)
{
	(void)d;
	*v = attr == HMS_CU_ATTR_VMM_SUPPORTED;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d)
{
	(void)d;
	*c = (CUcontext)&ctx_dummy;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d)
{
	(void)d;
	return CUDA_SUCCESS;
}

/* The current context, per thread as in CUDA: calls that need one fail
 * without it (CUDA_ERROR_INVALID_CONTEXT), as the real driver's do. */
static __thread CUcontext cur_ctx;
#define CUDA_ERROR_INVALID_CONTEXT 201
#define NEED_CTX()                                         \
	do {                                               \
		if (!cur_ctx)                              \
			return CUDA_ERROR_INVALID_CONTEXT; \
	} while (0)

EXPORT CUresult cuCtxSetCurrent(CUcontext c)
{
	cur_ctx = c;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetCurrent(CUcontext *c)
{
	*c = cur_ctx;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSynchronize(void)
{
	NEED_CTX();
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemGetInfo_v2(size_t *free_b, size_t *total)
{
	NEED_CTX();
	pthread_mutex_lock(&lock);
	*free_b = mem_limit > mem_used ? mem_limit - mem_used : 0;
	*total = mem_limit;
	pthread_mutex_unlock(&lock);
	return CUDA_SUCCESS;
}

/* ---- plain allocations -------------------------------------------------------- */

static CUresult take(size_t bytes)
{
	CUresult r = CUDA_SUCCESS;

	pthread_mutex_lock(&lock);
	if (mem_used + bytes > mem_limit)
		r = CUDA_ERROR_OUT_OF_MEMORY;
	else
		mem_used += bytes;
	pthread_mutex_unlock(&lock);
	return r;
}

static void give(size_t bytes)
{
	pthread_mutex_lock(&lock);
	mem_used -= bytes;
	pthread_mutex_unlock(&lock);
}

/* Allocations carry their size in front (64 bytes, so data stays aligned). */
static void *sized_alloc(size_t bytes)
{
	char *p = aligned_alloc(4096, 4096 + ((bytes + 4095) & ~(size_t)4095));

	if (!p)
		return NULL;
	*(size_t *)p = bytes;
	return p + 4096;
}

static size_t sized_free(void *q)
{
	char *p = (char *)q - 4096;
	size_t bytes = *(size_t *)p;

	free(p);
	return bytes;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes)
{
	void *q;

	NEED_CTX();
	if (!bytes || take(bytes))
		return bytes ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_VALUE;
	q = sized_alloc(bytes);
	if (!q) {
		give(bytes);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*p = (CUdeviceptr)(uintptr_t)q;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr p)
{
	NEED_CTX();
	give(sized_free((void *)(uintptr_t)p));
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAllocManaged(CUdeviceptr *p, size_t bytes, unsigned flags)
{
	(void)flags;
	return cuMemAlloc_v2(p, bytes);
}

EXPORT CUresult cuMemPrefetchAsync_v2(CUdeviceptr p, size_t n, struct hms_cu_location loc,
				      unsigned flags, CUstream st)
{
	NEED_CTX();
	(void)p, (void)n, (void)loc, (void)flags, (void)st;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAllocHost_v2(void **p, size_t bytes)
{
	NEED_CTX();
	if (inject("cuMemAllocHost"))
		return CUDA_ERROR_OUT_OF_MEMORY;
	*p = sized_alloc(bytes);
	return *p ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

EXPORT CUresult cuMemFreeHost(void *p)
{
	sized_free(p);
	return CUDA_SUCCESS;
}

/* Host ranges registered and not yet unregistered, as the real driver
 * keeps them: a range that overlaps one is refused, an address that
 * starts none cannot be unregistered (a test's leak check:
 * fakecuda_registered). */
#define CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED 712
#define CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED 713
#define MAX_REGISTERED 4096
static struct {
	uintptr_t start, end;
} registered[MAX_REGISTERED];
static unsigned nregistered;

EXPORT unsigned fakecuda_registered(void)
{
	return LOCKED_READ(nregistered);
}

EXPORT CUresult cuMemHostRegister_v2(void *p, size_t bytes, unsigned flags)
{
	uintptr_t s = (uintptr_t)p & ~4095UL, e = ((uintptr_t)p + bytes + 4095) & ~4095UL;
	CUresult r = CUDA_SUCCESS;

	NEED_CTX();
	(void)flags;
	if (inject("cuMemHostRegister"))
		return CUDA_ERROR_UNKNOWN;
	/* Like the real one: the pages must be mapped (pinning touches them). */
	for (size_t o = 0; o < bytes; o += 4096)
		if (madvise((char *)s + o, 4096, MADV_NORMAL))
			return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nregistered && !r; i++)
		if (s < registered[i].end && registered[i].start < e)
			r = CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
	if (!r && nregistered == MAX_REGISTERED)
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (!r) {
		registered[nregistered].start = s;
		registered[nregistered++].end = e;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

EXPORT CUresult cuMemHostUnregister(void *p)
{
	CUresult r = CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;

	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nregistered; i++)
		if (registered[i].start == ((uintptr_t)p & ~4095UL)) {
			registered[i] = registered[--nregistered];
			r = CUDA_SUCCESS;
			break;
		}
	pthread_mutex_unlock(&lock);
	return r;
}

/* ---- copies ------------------------------------------------------------------ */

EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *s, size_t n)
{
	CUresult r;

	NEED_CTX();
	hold_wait(&htod_hold);
	r = copy_ok();

	if (!r)
		memcpy((void *)(uintptr_t)d, s, n);
	return r;
}

EXPORT CUresult cuMemcpyDtoH_v2(void *d, CUdeviceptr s, size_t n)
{
	CUresult r;

	NEED_CTX();
	r = copy_ok();
	if (!r)
		memcpy(d, (const void *)(uintptr_t)s, n);
	return r;
}

EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void *s, size_t n, CUstream st)
{
	(void)st;
	return cuMemcpyHtoD_v2(d, s, n);
}

EXPORT CUresult cuMemcpyDtoHAsync_v2(void *d, CUdeviceptr s, size_t n, CUstream st)
{
	(void)st;
	return cuMemcpyDtoH_v2(d, s, n);
}

EXPORT CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream st)
{
	NEED_CTX();
	(void)st;
	memset((void *)(uintptr_t)d, v, n);
	return CUDA_SUCCESS;
}

/* ---- streams ------------------------------------------------------------ */

EXPORT CUresult cuStreamCreate(CUstream *s, unsigned flags)
{
	NEED_CTX();
	(void)flags;
	if (inject("cuStreamCreate"))
		return CUDA_ERROR_UNKNOWN;
	*s = (CUstream)&stream_dummy;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamDestroy_v2(CUstream s)
{
	(void)s;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamSynchronize(CUstream s)
{
	NEED_CTX();
	(void)s;
	return inject("cuStreamSynchronize") ? CUDA_ERROR_UNKNOWN : CUDA_SUCCESS;
}

/* ---- virtual memory management --------------------------------------------------- */

struct chunk {
	int fd;
	size_t size;
};

EXPORT CUresult cuMemAddressReserve(CUdeviceptr *p, size_t size, size_t align, CUdeviceptr addr,
				    unsigned long long flags)
{
	char *base;
	uintptr_t a;

	(void)addr, (void)flags;
	if (inject("cuMemAddressReserve"))
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (!size || size % 4096 || (align & (align - 1)))
		return CUDA_ERROR_INVALID_VALUE;
	if (align < 4096)
		align = 4096;
	base = mmap(NULL, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return CUDA_ERROR_OUT_OF_MEMORY;
	a = ((uintptr_t)base + align - 1) & ~(align - 1);
	/* Trim the slack so MemAddressFree can unmap exactly [p, p + size). */
	if (a > (uintptr_t)base)
		munmap(base, a - (uintptr_t)base);
	if ((uintptr_t)base + align > a)
		munmap((char *)a + size, (uintptr_t)base + align - a);
	*p = a;
	pthread_mutex_lock(&lock);
	reserved++;
	pthread_mutex_unlock(&lock);
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAddressFree(CUdeviceptr p, size_t size)
{
	if (munmap((void *)(uintptr_t)p, size))
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	reserved--;
	pthread_mutex_unlock(&lock);
	return CUDA_SUCCESS;
}

/* cuMemCreate() waits while this hold is on (to keep a chunk on its way
 * from the GPU, the driver's lock dropped). */
static struct hold create_hold;

EXPORT void fakecuda_hold_create(bool on)
{
	hold_set(&create_hold, on);
}

/* How many cuMemCreate() calls wait in the hold now. */
EXPORT unsigned fakecuda_create_held(void)
{
	return LOCKED_READ(create_hold.waiting);
}

EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *h, size_t size,
			    const struct hms_cu_alloc_prop *prop, unsigned long long flags)
{
	struct chunk *c;

	(void)prop, (void)flags;
	hold_wait(&create_hold);
	if (inject("cuMemCreate"))
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (!size || size % (2UL << 20))
		return CUDA_ERROR_INVALID_VALUE;
	if (take(size))
		return CUDA_ERROR_OUT_OF_MEMORY;
	c = malloc(sizeof(*c));
	if (c)
		c->fd = memfd_create("fakecuda", MFD_CLOEXEC);
	if (!c || c->fd < 0 || ftruncate(c->fd, (off_t)size)) {
		if (c && c->fd >= 0)
			close(c->fd);
		free(c);
		give(size);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	c->size = size;
	*h = (CUmemGenericAllocationHandle)(uintptr_t)c;
	return CUDA_SUCCESS;
}

/* cuMemRelease() waits while this hold is on (to keep a chunk on its way
 * back to the GPU). */
static struct hold release_hold;

EXPORT void fakecuda_hold_release(bool on)
{
	hold_set(&release_hold, on);
}

/* How many cuMemRelease() calls wait in the hold now. */
EXPORT unsigned fakecuda_release_held(void)
{
	return LOCKED_READ(release_hold.waiting);
}

/* The memory lives on while mapped (the memfd's mappings keep it). */
EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle h)
{
	struct chunk *c = (struct chunk *)(uintptr_t)h;

	hold_wait(&release_hold);
	close(c->fd);
	give(c->size);
	free(c);
	return CUDA_SUCCESS;
}

EXPORT CUresult cuMemMap(CUdeviceptr p, size_t size, size_t off, CUmemGenericAllocationHandle h,
			 unsigned long long flags)
{
	struct chunk *c = (struct chunk *)(uintptr_t)h;

	(void)flags;
	if (inject("cuMemMap"))
		return CUDA_ERROR_UNKNOWN;
	/* As NVIDIA's driver (580): an allocation maps from its start only
	 * (CUDA documents that the offset must be 0). */
	if (off)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (off + size > c->size)
		return CUDA_ERROR_INVALID_VALUE;
	return mmap((void *)(uintptr_t)p, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		    c->fd, (off_t)off) == MAP_FAILED
		       ? CUDA_ERROR_OUT_OF_MEMORY
		       : CUDA_SUCCESS;
}

EXPORT CUresult cuMemUnmap(CUdeviceptr p, size_t size)
{
	return mmap((void *)(uintptr_t)p, size, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED
		       ? CUDA_ERROR_INVALID_VALUE
		       : CUDA_SUCCESS;
}

EXPORT CUresult cuMemSetAccess(CUdeviceptr p, size_t size, const struct hms_cu_access_desc *d,
			       size_t n)
{
	(void)p, (void)size, (void)d, (void)n;
	return inject("cuMemSetAccess") ? CUDA_ERROR_UNKNOWN : CUDA_SUCCESS;
}

/* ---- modules and kernels: the GPU tests' kernels, in C ------------------------------ */

typedef void (*fake_kernel)(unsigned long i, void **params);

/* hms_test_add(unsigned *p, unsigned long long n, unsigned v): p[i] += v */
static void k_add(unsigned long i, void **params)
{
	unsigned *p = (unsigned *)(uintptr_t)*(CUdeviceptr *)params[0];
	unsigned long long n = *(unsigned long long *)params[1];

	if (i < n)
		p[i] += *(unsigned *)params[2];
}

/* hms_test_copy(unsigned *dst, const unsigned *src, unsigned long long n, unsigned v) */
static void k_copy(unsigned long i, void **params)
{
	unsigned *dst = (unsigned *)(uintptr_t)*(CUdeviceptr *)params[0];
	const unsigned *src = (const unsigned *)(uintptr_t)*(CUdeviceptr *)params[1];

	if (i < *(unsigned long long *)params[2])
		dst[i] = src[i] + *(unsigned *)params[3];
}

static const struct {
	const char *name;
	fake_kernel fn;
} kernels[] = {
	{ "hms_test_add", k_add },
	{ "hms_test_copy", k_copy },
};

EXPORT CUresult cuModuleLoadData(CUmodule *m, const void *image)
{
	NEED_CTX();
	(void)image;
	*m = (CUmodule)&mod_dummy;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleUnload(CUmodule m)
{
	(void)m;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name)
{
	(void)m;
	for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++)
		if (!strcmp(kernels[i].name, name)) {
			*f = (CUfunction)(uintptr_t)(i + 1);
			return CUDA_SUCCESS;
		}
	return CUDA_ERROR_NOT_FOUND;
}

EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
			       unsigned by, unsigned bz, unsigned shmem, CUstream st, void **params,
			       void **extra)
{
	fake_kernel fn = kernels[(uintptr_t)f - 1].fn;
	unsigned long n = (unsigned long)gx * gy * gz * bx * by * bz;

	NEED_CTX();
	(void)shmem, (void)st, (void)extra;
	for (unsigned long i = 0; i < n; i++)
		fn(i, params);
	return CUDA_SUCCESS;
}
