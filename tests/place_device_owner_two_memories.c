/* place_device_owner_two_memories: a driver that registers two device
 * memories under one pgmap owner, with one page bound to each: its first
 * touch (hms_range_fault with that owner) places each page in the memory
 * its policy lists, not in system memory (hms looked only at one of the
 * owner's memories, and left the page bound to the other in system
 * memory).
 */
#include "hms_test.h"

#define NP 4

struct mem {
	char pool[NP][4096];
	bool used[NP];
	struct hms_devmem *dm;
};

static struct mem mems[2];
static int owner_tok;
static struct hms *ctx;

static struct mem *mem_of(struct hms_devmem *dm)
{
	return hms_devmem_priv(dm);
}

static long migrate_to_device(struct hms_devmem *dm, uintptr_t start, uintptr_t end)
{
	struct mem *m = mem_of(dm);
	uint64_t src[16], dst[16];
	struct hms_migrate_vma mv = { .start = start, .end = end, .src = src, .dst = dst,
				      .pgmap_owner = &owner_tok,
				      .flags = HMS_MIGRATE_SELECT_SYSTEM };
	long moved = 0;

	if (end - start > 16 * T_PAGE || hms_migrate_vma_setup(ctx, &mv))
		return 0;
	for (size_t i = 0; i < mv.npages; i++) {
		const void *from;
		int idx = 0;

		if (!(src[i] & HMS_MIGRATE_PFN_MIGRATE))
			continue;
		while (idx < NP && m->used[idx])
			idx++;
		if (idx == NP)
			continue; /* full: the page stays */
		m->used[idx] = true;
		from = hms_migrate_src_ptr(&mv, i);
		if (from)
			memcpy(m->pool[idx], from, T_PAGE);
		else
			memset(m->pool[idx], 0, T_PAGE);
		dst[i] = hms_migrate_pfn(hms_devmem_pfn_first(dm) + (hms_pfn)idx);
	}
	hms_migrate_vma_pages(&mv);
	hms_migrate_vma_finalize(&mv);
	for (size_t i = 0; i < mv.npages; i++)
		moved += (src[i] & HMS_MIGRATE_PFN_MIGRATE) != 0;
	return moved;
}

static int migrate_to_ram(struct hms_devmem *dm, const struct hms_devmem_fault *f)
{
	struct mem *m = mem_of(dm);
	uint64_t src[512], dst[512];
	struct hms_migrate_vma mv = { .start = f->start, .end = f->end, .src = src, .dst = dst,
				      .pgmap_owner = &owner_tok,
				      .flags = HMS_MIGRATE_SELECT_DEVICE_PRIVATE };
	int ret = hms_migrate_vma_setup(hms_devmem_context(dm), &mv);

	if (ret)
		return ret;
	for (size_t i = 0; i < mv.npages; i++) {
		hms_pfn pfn = hms_migrate_pfn_to_pfn(src[i]);

		if ((src[i] & HMS_MIGRATE_PFN_MIGRATE) && pfn >= hms_devmem_pfn_first(dm) &&
		    pfn < hms_devmem_pfn_first(dm) + NP)
			T_EQ(hms_migrate_dst_system_from(&mv, i,
							 m->pool[pfn - hms_devmem_pfn_first(dm)]),
			     0);
	}
	hms_migrate_vma_pages(&mv);
	hms_migrate_vma_finalize(&mv);
	return 0;
}

static void page_free(struct hms_devmem *dm, hms_pfn pfn)
{
	mem_of(dm)->used[pfn - hms_devmem_pfn_first(dm)] = false;
}

static const struct hms_devmem_ops ops = {
	.migrate_to_ram = migrate_to_ram,
	.page_free = page_free,
	.migrate_to_device = migrate_to_device,
};

int main(void)
{
	struct hms_devmem_desc a = { "owner-mem-a", NP, &owner_tok, HMS_DEVMEM_PRIVATE };
	struct hms_devmem_desc b = { "owner-mem-b", NP, &owner_tok, HMS_DEVMEM_PRIVATE };
	uint64_t pfns[2];
	struct hms_range r = { 0 };
	hms_uid t[2], w[2];
	char *p;

	ctx = t_open();
	T_EQ(hms_devmem_add(ctx, &a, &ops, &mems[0], &mems[0].dm), 0);
	T_EQ(hms_devmem_add(ctx, &b, &ops, &mems[1], &mems[1].dm), 0);
	p = hms_alloc(ctx, 2 * T_PAGE, 0);
	T_ASSERT(p);
	for (int i = 0; i < 2; i++) {
		t[i] = hms_devmem_target(mems[i].dm);
		T_EQ(hms_bind(ctx, p + i * T_PAGE, T_PAGE, &t[i], 1, 0), 0);
	}
	/* A never-populated page, and one the CPU wrote (system memory). */
	p[T_PAGE] = 42;
	r.start = (uintptr_t)p;
	r.end = (uintptr_t)p + 2 * T_PAGE;
	r.pfns = pfns;
	r.default_flags = HMS_PFN_REQ_FAULT;
	r.dev_private_owner = &owner_tok;
	T_EQ(hms_range_fault(ctx, &r), 0);
	T_EQ(hms_where(ctx, p, 2, w), 2);
	for (int i = 0; i < 2; i++)
		if (w[i] != t[i])
			T_FAIL("page %d: on target %u after the owner's touch, expected its "
			       "bound memory (%u)", i, w[i], t[i]);
	T_EQ(p[T_PAGE], 42); /* back for the CPU, data intact */
	hms_close(ctx);
	return 0;
}
