// SPDX-License-Identifier: MIT
// The GPU tests' kernels.  kernels_ptx.h is generated from this file:
//   nvcc -ptx -arch=compute_75 -o kernels.ptx kernels.cu && tests/gpu/ptx2h.sh
// fakecuda.c has the same kernels in C.
extern "C" __global__ void hms_test_add(unsigned *p, unsigned long long n, unsigned v)
{
	unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;

	if (i < n)
		p[i] += v;
}

// dst[i] = src[i] + v: reads one window, writes another.
extern "C" __global__ void hms_test_copy(unsigned *dst, const unsigned *src, unsigned long long n,
					 unsigned v)
{
	unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;

	if (i < n)
		dst[i] = src[i] + v;
}
