/* SPDX-License-Identifier: MIT */
/*
 * cuda_api.h - the part of NVIDIA's CUDA driver API that hms uses, loaded
 * at run time with dlopen(), so hms builds and runs where no CUDA driver
 * is installed.  The types are declared here from the driver API's
 * documented ABI (64-bit: CUdeviceptr is an unsigned 64-bit integer,
 * handles are pointers); no CUDA header is needed to build.
 *
 * Shared by the driver (src/drivers/cuda), the GPU tests and the GPU
 * benchmark: each links its own copy (hidden inside libhms).
 */
#ifndef HMS_CUDA_API_H
#define HMS_CUDA_API_H

#include <stddef.h>
#include <stdint.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef unsigned long long CUmemGenericAllocationHandle;
typedef struct CUctx_st *CUcontext;
typedef struct CUstream_st *CUstream;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;

#define CUDA_SUCCESS 0
#define CUDA_ERROR_INVALID_VALUE 1
#define CUDA_ERROR_OUT_OF_MEMORY 2
#define CUDA_ERROR_NOT_INITIALIZED 3
#define CUDA_ERROR_NO_DEVICE 100
#define CUDA_ERROR_INVALID_DEVICE 101
#define CUDA_ERROR_NOT_FOUND 500
#define CUDA_ERROR_NOT_SUPPORTED 801

/* CUmemLocationType, CUmemAllocationType, CUmemAccess_flags values. */
#define HMS_CU_LOC_DEVICE 1
#define HMS_CU_LOC_HOST 2
#define HMS_CU_ALLOC_PINNED 1
#define HMS_CU_ACCESS_RW 3
/* cuMemHostRegister flags, cuMemAllocManaged flags, cuStreamCreate flags */
#define HMS_CU_HOSTREG_READ_ONLY 0x08
#define HMS_CU_MEM_ATTACH_GLOBAL 0x1
#define HMS_CU_STREAM_NON_BLOCKING 0x1
/* cuDeviceGetAttribute */
#define HMS_CU_ATTR_VMM_SUPPORTED 102

struct hms_cu_location {
	int type;
	int id;
};

struct hms_cu_alloc_prop {
	int type;
	int requested_handle_types;
	struct hms_cu_location location;
	void *win32_meta;
	unsigned char compression;
	unsigned char rdma_capable;
	unsigned short usage;
	unsigned char reserved[4];
};

struct hms_cu_access_desc {
	struct hms_cu_location location;
	int flags;
};

/* Every entry point hms may call.  X(field, return-less signature, names):
 * names are tried in order ("a\0b\0"); optional entries may stay NULL. */
#define HMS_CU_FUNCS(X, O)                                                            \
	X(Init, (unsigned flags), "cuInit")                                           \
	X(DriverGetVersion, (int *v), "cuDriverGetVersion")                           \
	X(GetErrorString, (CUresult e, const char **s), "cuGetErrorString")           \
	X(DeviceGetCount, (int *n), "cuDeviceGetCount")                               \
	X(DeviceGet, (CUdevice *d, int ordinal), "cuDeviceGet")                       \
	X(DeviceGetName, (char *name, int len, CUdevice d), "cuDeviceGetName")        \
	X(DeviceTotalMem, (size_t *bytes, CUdevice d), "cuDeviceTotalMem_v2")         \
	X(DeviceGetAttribute, (int *v, int attr, CUdevice d), "cuDeviceGetAttribute") \
	X(DevicePrimaryCtxRetain, (CUcontext *c, CUdevice d), "cuDevicePrimaryCtxRetain") \
	X(DevicePrimaryCtxRelease, (CUdevice d), "cuDevicePrimaryCtxRelease_v2\0cuDevicePrimaryCtxRelease") \
	X(CtxSetCurrent, (CUcontext c), "cuCtxSetCurrent")                            \
	X(CtxGetCurrent, (CUcontext *c), "cuCtxGetCurrent")                           \
	X(CtxSynchronize, (void), "cuCtxSynchronize")                                 \
	X(MemGetInfo, (size_t *free, size_t *total), "cuMemGetInfo_v2")               \
	X(MemAlloc, (CUdeviceptr *p, size_t bytes), "cuMemAlloc_v2")                  \
	X(MemFree, (CUdeviceptr p), "cuMemFree_v2")                                   \
	X(MemAllocHost, (void **p, size_t bytes), "cuMemAllocHost_v2")                \
	X(MemFreeHost, (void *p), "cuMemFreeHost")                                    \
	X(MemHostRegister, (void *p, size_t bytes, unsigned flags), "cuMemHostRegister_v2") \
	X(MemHostUnregister, (void *p), "cuMemHostUnregister")                        \
	X(MemcpyHtoD, (CUdeviceptr d, const void *s, size_t n), "cuMemcpyHtoD_v2")    \
	X(MemcpyDtoH, (void *d, CUdeviceptr s, size_t n), "cuMemcpyDtoH_v2")          \
	X(MemcpyHtoDAsync, (CUdeviceptr d, const void *s, size_t n, CUstream st), "cuMemcpyHtoDAsync_v2") \
	X(MemcpyDtoHAsync, (void *d, CUdeviceptr s, size_t n, CUstream st), "cuMemcpyDtoHAsync_v2") \
	X(MemsetD8Async, (CUdeviceptr d, unsigned char v, size_t n, CUstream st), "cuMemsetD8Async") \
	X(StreamCreate, (CUstream *s, unsigned flags), "cuStreamCreate")              \
	X(StreamDestroy, (CUstream s), "cuStreamDestroy_v2\0cuStreamDestroy")         \
	X(StreamSynchronize, (CUstream s), "cuStreamSynchronize")                     \
	X(MemAddressReserve, (CUdeviceptr *p, size_t size, size_t align, CUdeviceptr addr, unsigned long long flags), "cuMemAddressReserve") \
	X(MemAddressFree, (CUdeviceptr p, size_t size), "cuMemAddressFree")           \
	X(MemCreate, (CUmemGenericAllocationHandle *h, size_t size, const struct hms_cu_alloc_prop *prop, unsigned long long flags), "cuMemCreate") \
	X(MemRelease, (CUmemGenericAllocationHandle h), "cuMemRelease")               \
	X(MemMap, (CUdeviceptr p, size_t size, size_t off, CUmemGenericAllocationHandle h, unsigned long long flags), "cuMemMap") \
	X(MemUnmap, (CUdeviceptr p, size_t size), "cuMemUnmap")                       \
	X(MemSetAccess, (CUdeviceptr p, size_t size, const struct hms_cu_access_desc *d, size_t n), "cuMemSetAccess") \
	X(ModuleLoadData, (CUmodule *m, const void *image), "cuModuleLoadData")       \
	X(ModuleUnload, (CUmodule m), "cuModuleUnload")                               \
	X(ModuleGetFunction, (CUfunction *f, CUmodule m, const char *name), "cuModuleGetFunction") \
	X(LaunchKernel, (CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shmem, CUstream st, void **params, void **extra), "cuLaunchKernel") \
	O(MemAllocManaged, (CUdeviceptr *p, size_t bytes, unsigned flags), "cuMemAllocManaged") \
	O(MemPrefetchAsync, (CUdeviceptr p, size_t n, struct hms_cu_location loc, unsigned flags, CUstream st), "cuMemPrefetchAsync_v2")

#define HMS_CU_FIELD(name, args, sym) CUresult (*name) args;

struct hms_cu {
	void *lib;
	int version; /* cuDriverGetVersion: 1000 * major + 10 * minor */
	HMS_CU_FUNCS(HMS_CU_FIELD, HMS_CU_FIELD)
};

/*
 * hms_cu_get() - load the CUDA driver once per process (the library named
 * by $HMS_CUDA_LIBRARY, else libcuda.so.1) and initialise it.
 * Return: the entry points, or NULL with a plain reason in why[] and
 * *err = -ENOENT (no CUDA driver library), -ENOSYS (it lacks an entry
 * point hms needs), -ENODEV (cuInit failed: no GPU, or the driver cannot
 * reach it; or this process is a child forked after its parent had
 * initialised CUDA, where CUDA cannot be used).
 */
const struct hms_cu *hms_cu_get(char *why, size_t whylen, int *err);

/* A CUDA error's name and text ("CUDA_ERROR_OUT_OF_MEMORY: out of memory"). */
const char *hms_cu_strerror(const struct hms_cu *cu, CUresult e);

#endif
