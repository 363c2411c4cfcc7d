/* SPDX-License-Identifier: MIT */
/*
 * gpu_map.c - windows: one device pointer for a managed range, so CUDA
 * kernels can work on it.
 *
 * hms_cuda_map() holds each block of the range (its slot's window count,
 * so the pages stay and the chunk is not given back), moves the pages to
 * the GPU, checks with a snapshot (hms_range_fault) that every page is in
 * its own block's slot, and maps the blocks' chunks side by side in a
 * fresh device virtual range.  hms_cuda_unmap() undoes it and wakes CPU
 * faults that waited for the pages.
 */
#include <errno.h>
#include <stdlib.h>

#include "gpu.h"

#define MAP_ROUNDS 4

/* Drop the hold on blocks [b0, b0 + n) (lock held). */
static void blocks_release_locked(struct hms_cuda *g, uint64_t b0, uint64_t n)
{
	for (uint64_t b = b0; b < b0 + n; b++) {
		long s = gpu_slot_find_locked(g, b);

		if (s < 0 || !g->slots[s].maps)
			continue;
		g->slots[s].maps--;
		gpu_slot_maybe_release_locked(g, (uint64_t)s);
	}
	pthread_cond_broadcast(&g->cond);
}

static int blocks_hold(struct hms_cuda *g, uint64_t b0, uint64_t n)
{
	pthread_mutex_lock(&g->lock);
	for (uint64_t k = 0; k < n; k++) {
		long s = gpu_slot_get_locked(g, b0 + k);

		if (s < 0) {
			blocks_release_locked(g, b0, k);
			pthread_mutex_unlock(&g->lock);
			return -ENOMEM;
		}
		g->slots[s].maps++;
	}
	pthread_mutex_unlock(&g->lock);
	return 0;
}

/* 0 when every page of [s, e) is in its own slot; else -ENOMEM (a page is
 * elsewhere), -EBUSY (a page of ours sits in another slot), -ENOENT. */
static int check_resident(struct hms_cuda *g, uintptr_t s, uintptr_t e, uint64_t *pfns)
{
	struct hms_range r = { .start = s, .end = e, .pfns = pfns, .dev_private_owner = g };
	unsigned long n = (e - s) >> GPU_SHIFT;
	int ret = hms_range_fault(g->h, &r), res = 0;

	if (ret)
		return ret == -EFAULT ? -ENOENT : ret;
	pthread_mutex_lock(&g->lock);
	for (unsigned long i = 0; i < n && res != -ENOENT; i++) {
		uintptr_t va = s + (i << GPU_SHIFT);
		long slot = gpu_slot_find_locked(g, va >> GPU_BLOCK_SHIFT);
		hms_pfn want = slot < 0 ? 0
			       : gpu_pfn(g, (uint64_t)slot, (unsigned)((va >> GPU_SHIFT) % GPU_BLOCK_PAGES));

		if (pfns[i] & HMS_PFN_SPECIAL)
			res = -ENOENT;
		else if (!(pfns[i] & HMS_PFN_DEVICE_PRIVATE))
			res = res ? res : -ENOMEM;
		else if ((pfns[i] & ((1ULL << 52) - 1)) != want)
			res = -EBUSY;
	}
	pthread_mutex_unlock(&g->lock);
	return res;
}

GPU_API int hms_cuda_map(struct hms_cuda *g, void *addr, size_t len, uint64_t *dptr)
{
	const struct hms_cu *cu;
	uintptr_t s, e;
	uint64_t b0, nblk, *pfns;
	struct gpu_window *w;
	struct hms_cu_access_desc acc;
	int ret = 0;

	if (!g || !addr || !len || !dptr || (uintptr_t)addr + len < (uintptr_t)addr)
		return -EINVAL;
	cu = g->cu;
	cu->CtxSetCurrent(g->ctx);
	s = (uintptr_t)addr & ~(uintptr_t)(GPU_PAGE - 1);
	e = ((uintptr_t)addr + len + GPU_PAGE - 1) & ~(uintptr_t)(GPU_PAGE - 1);
	b0 = s >> GPU_BLOCK_SHIFT;
	nblk = ((e - 1) >> GPU_BLOCK_SHIFT) - b0 + 1;
	w = calloc(1, sizeof(*w));
	pfns = malloc(((e - s) >> GPU_SHIFT) * sizeof(*pfns));
	if (!w || !pfns) {
		free(w);
		free(pfns);
		return -ENOMEM;
	}
	ret = blocks_hold(g, b0, nblk);
	if (ret) {
		free(pfns);
		free(w);
		return ret;
	}
	for (int round = 0;; round++) {
		long n;

		/* Pages of ours outside their block's slot (mremap moved them)
		 * come home first; then everything moves in. */
		gpu_migrate_range_to_ram(g, s, e, true);
		n = gpu_migrate_to_device(g->dm, s, e);
		ret = check_resident(g, s, e, pfns);
		if (!ret || ret == -ENOENT || round + 1 == MAP_ROUNDS)
			break;
		if (n == -ENOMEM && ret == -ENOMEM)
			break; /* out of GPU memory: more rounds will not help */
		ret = 0;
	}
	if (ret)
		goto fail_hold;

	w->addr = (uintptr_t)addr;
	w->len = len;
	w->first_block = b0;
	w->va_len = nblk * GPU_BLOCK;
	if (cu->MemAddressReserve(&w->va, w->va_len, GPU_BLOCK, 0, 0) != CUDA_SUCCESS) {
		ret = -ENOMEM;
		goto fail_hold;
	}
	acc.location.type = HMS_CU_LOC_DEVICE;
	acc.location.id = g->dev;
	acc.flags = HMS_CU_ACCESS_RW;
	pthread_mutex_lock(&g->lock);
	for (uint64_t k = 0; k < nblk && !ret; k++) {
		long slot = gpu_slot_find_locked(g, b0 + k);

		CUdeviceptr va = w->va + k * GPU_BLOCK;

		if (slot < 0 || cu->MemMap(va, GPU_BLOCK, 0, g->slots[slot].handle, 0) != CUDA_SUCCESS) {
			ret = -EIO;
		} else if (cu->MemSetAccess(va, GPU_BLOCK, &acc, 1) != CUDA_SUCCESS) {
			cu->MemUnmap(va, GPU_BLOCK);
			ret = -EIO;
		}
		if (ret && k)
			cu->MemUnmap(w->va, k * GPU_BLOCK);
	}
	if (!ret) {
		w->next = g->windows;
		g->windows = w;
	}
	pthread_mutex_unlock(&g->lock);
	if (ret) {
		cu->MemAddressFree(w->va, w->va_len);
		goto fail_hold;
	}
	free(pfns);
	*dptr = w->va + ((uintptr_t)addr - (b0 << GPU_BLOCK_SHIFT));
	return 0;

fail_hold:
	pthread_mutex_lock(&g->lock);
	blocks_release_locked(g, b0, nblk);
	pthread_mutex_unlock(&g->lock);
	free(pfns);
	free(w);
	return ret;
}

GPU_API int hms_cuda_unmap(struct hms_cuda *g, void *addr, size_t len)
{
	struct gpu_window **pw, *w = NULL;

	if (!g || !addr || !len)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	for (pw = &g->windows; *pw; pw = &(*pw)->next) {
		if ((*pw)->addr == (uintptr_t)addr && (*pw)->len == len) {
			w = *pw;
			*pw = w->next;
			break;
		}
	}
	if (!w) {
		pthread_mutex_unlock(&g->lock);
		return -ENOENT;
	}
	g->cu->CtxSetCurrent(g->ctx);
	g->cu->MemUnmap(w->va, w->va_len);
	g->cu->MemAddressFree(w->va, w->va_len);
	blocks_release_locked(g, w->first_block, w->va_len / GPU_BLOCK);
	pthread_mutex_unlock(&g->lock);
	free(w);
	return 0;
}
