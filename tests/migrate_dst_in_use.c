/* migrate_dst_in_use: a driver whose allocator gives out a device page
 * that already holds another address's data (or that a migration running
 * beside is moving a page to) would have two addresses share it: one
 * address's data lost, and the page handed to page_free() twice.
 * hms_migrate_vma_pages() refuses such a page with -EINVAL: it stays in
 * system memory with its data, the device page stays with its first
 * owner and is not handed back.  Once page_free() has it, the driver may
 * give it again.  minidev (tests/lib) counts page_free() per page and
 * its migrate_to_ram() calls. */
#include "minidev.h"

#define NP 3

struct one {
	uint64_t src[1], dst[1];
	struct hms_migrate_vma mv;
};

/* Sets up the migration of page addr; its data is copied to *copy_to. */
static void one_setup(struct hms *h, struct one *o, char *addr, char *copy_to)
{
	o->mv = (struct hms_migrate_vma){ .start = (uintptr_t)addr,
					  .end = (uintptr_t)addr + T_PAGE, .src = o->src,
					  .dst = o->dst, .pgmap_owner = &md.owner,
					  .flags = HMS_MIGRATE_SELECT_SYSTEM };
	T_EQ(hms_migrate_vma_setup(h, &o->mv), 0);
	T_EQ(o->mv.cpages, 1);
	T_ASSERT(hms_migrate_src_ptr(&o->mv, 0));
	memcpy(copy_to, hms_migrate_src_ptr(&o->mv, 0), T_PAGE);
}

/* Gives it device page s; hms_migrate_vma_pages()'s result. */
static int one_pages(struct one *o, unsigned s)
{
	o->dst[0] = hms_migrate_pfn(minidev_pfn(s));
	return hms_migrate_vma_pages(&o->mv);
}

static void expect(struct hms *h, char *p, int i, int loc, const char *what)
{
	struct hms_page_info pi;

	T_EQ(hms_page_query(h, p + i * T_PAGE, 1, &pi), 1);
	if (pi.location != loc)
		T_FAIL("%s: page %d location %d, expected %s", what, i, pi.location,
		       loc == HMS_LOC_DEVICE ? "the device" : "system memory");
}

int main(void)
{
	struct hms *h = t_open();
	char *p = t_alloc_one_batch(h, NP * T_PAGE);
	static char scratch[4096];
	struct one a, b;

	T_ASSERT(p);
	minidev_add(h, "in-use", minidev_to_ram);
	for (int i = 0; i < NP; i++)
		memset(p + i * T_PAGE, 'a' + i, T_PAGE);

	/* Page 0 to device page 0. */
	one_setup(h, &a, p, md.pool[0]);
	T_EQ(one_pages(&a, 0), 0);
	hms_migrate_vma_finalize(&a.mv);
	expect(h, p, 0, HMS_LOC_DEVICE, "page 0 moved");

	/* Page 1 given device page 0 too: refused. */
	one_setup(h, &b, p + T_PAGE, scratch);
	T_EQ(one_pages(&b, 0), -EINVAL);
	T_EQ(b.dst[0], 0); /* cleared: finalize frees nothing of page 0's */
	hms_migrate_vma_finalize(&b.mv);
	T_ASSERT(!(b.src[0] & HMS_MIGRATE_PFN_MIGRATE));
	expect(h, p, 1, HMS_LOC_SYSTEM, "page 1 given page 0's device page");
	expect(h, p, 0, HMS_LOC_DEVICE, "page 0 after page 1 was refused");
	T_EQ(md.freed[0], 0);

	/* Two migrations at once given the same page: the second refused. */
	one_setup(h, &a, p + T_PAGE, md.pool[1]);
	one_setup(h, &b, p + 2 * T_PAGE, scratch);
	T_EQ(one_pages(&a, 1), 0);
	T_EQ(one_pages(&b, 1), -EINVAL);
	hms_migrate_vma_finalize(&b.mv);
	hms_migrate_vma_finalize(&a.mv);
	expect(h, p, 1, HMS_LOC_DEVICE, "page 1, the first given device page 1");
	expect(h, p, 2, HMS_LOC_SYSTEM, "page 2, the second given device page 1");
	T_EQ(md.freed[1], 0);
	T_EQ(md.to_ram_calls, 0);

	/* No data lost; page 2 never left, pages 0 and 1 come home once. */
	for (int i = 0; i < NP; i++)
		for (size_t k = 0; k < T_PAGE; k++)
			if (p[i * T_PAGE + k] != 'a' + i)
				T_FAIL("page %d byte %zu: %d, expected %d", i, k,
				       p[i * T_PAGE + k], 'a' + i);
	T_EQ(md.to_ram_calls, 2);
	T_EQ(md.freed[0], 1);
	T_EQ(md.freed[1], 1);

	/* Handed back, device page 0 may be given again. */
	memset(p + 2 * T_PAGE, 'z', T_PAGE);
	one_setup(h, &a, p + 2 * T_PAGE, md.pool[0]);
	T_EQ(one_pages(&a, 0), 0);
	hms_migrate_vma_finalize(&a.mv);
	expect(h, p, 2, HMS_LOC_DEVICE, "page 2 given device page 0 after its page_free");
	T_EQ(p[2 * T_PAGE + 100], 'z');
	T_EQ(md.freed[0], 2);

	T_EQ(hms_unmanage(h, p, NP * T_PAGE), 0);
	T_EQ(hms_devmem_remove(md.dm), 0);
	hms_close(h);
	return 0;
}
