/* SPDX-License-Identifier: MIT */
/* minidev.c - the minimal test driver (minidev.h). */
#include <string.h>

#include "minidev.h"

struct minidev md;

static void page_free(struct hms_devmem *m, hms_pfn pfn)
{
	(void)minidev_page(pfn); /* one of ours */
	md.freed[pfn - hms_devmem_pfn_first(m)]++;
	md.used[pfn - hms_devmem_pfn_first(m)] = false;
}

static struct hms_devmem_ops ops = { .page_free = page_free };

void minidev_add(struct hms *h, const char *name,
		 int (*migrate_to_ram)(struct hms_devmem *, const struct hms_devmem_fault *))
{
	struct hms_devmem_desc desc = { name, MINIDEV_PAGES, &md.owner, HMS_DEVMEM_PRIVATE };

	ops.migrate_to_ram = migrate_to_ram;
	T_EQ(hms_devmem_add(h, &desc, &ops, NULL, &md.dm), 0);
}

char *minidev_page(hms_pfn pfn)
{
	hms_pfn first = hms_devmem_pfn_first(md.dm);

	if (pfn < first || pfn >= first + MINIDEV_PAGES)
		T_FAIL("minidev: pfn %llu is not one of ours", (unsigned long long)pfn);
	return md.pool[pfn - first];
}

hms_pfn minidev_pfn(unsigned i)
{
	T_ASSERT(i < MINIDEV_PAGES);
	return hms_devmem_pfn_first(md.dm) + i;
}

hms_pfn minidev_to_device(struct hms *h, void *addr)
{
	uint64_t src[1], dst[1];
	struct hms_migrate_vma mv = { .start = (uintptr_t)addr, .end = (uintptr_t)addr + T_PAGE,
				      .src = src, .dst = dst, .pgmap_owner = &md.owner,
				      .flags = HMS_MIGRATE_SELECT_SYSTEM };
	const void *from;
	int idx = 0;

	T_EQ(hms_migrate_vma_setup(h, &mv), 0);
	T_EQ(mv.cpages, 1);
	while (idx < MINIDEV_PAGES && md.used[idx])
		idx++;
	T_ASSERT(idx < MINIDEV_PAGES);
	md.used[idx] = true;
	from = hms_migrate_src_ptr(&mv, 0);
	if (from)
		memcpy(md.pool[idx], from, T_PAGE);
	else
		memset(md.pool[idx], 0, T_PAGE);
	dst[0] = hms_migrate_pfn(hms_devmem_pfn_first(md.dm) + (hms_pfn)idx);
	T_EQ(hms_migrate_vma_pages(&mv), 0);
	hms_migrate_vma_finalize(&mv);
	T_ASSERT(src[0] & HMS_MIGRATE_PFN_MIGRATE);
	return hms_devmem_pfn_first(md.dm) + (hms_pfn)idx;
}

int minidev_page_home(struct hms *h, uintptr_t addr)
{
	uint64_t src[1], dst[1];
	struct hms_migrate_vma mv = { .start = addr, .end = addr + T_PAGE, .src = src,
				      .dst = dst, .pgmap_owner = &md.owner,
				      .flags = HMS_MIGRATE_SELECT_DEVICE_PRIVATE };
	int r = hms_migrate_vma_setup(h, &mv);

	if (r)
		return r;
	if (mv.cpages) {
		void *to = hms_migrate_dst_system(&mv, 0);

		if (to)
			memcpy(to, minidev_page(hms_migrate_pfn_to_pfn(src[0])), T_PAGE);
	}
	r = hms_migrate_vma_pages(&mv);
	hms_migrate_vma_finalize(&mv);
	return r;
}

int minidev_to_ram(struct hms_devmem *dm, const struct hms_devmem_fault *f)
{
	md.to_ram_calls++;
	return minidev_page_home(hms_devmem_context(dm), f->addr);
}
