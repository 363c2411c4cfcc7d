/* migrate_dst_duplicate: a driver whose dst[] gives one device page to
 * two or more pages of one migration (a bug of its allocator) would have
 * them share that page: the data of all but the last copy lost, and the
 * page handed to page_free() once per sharer.  hms_migrate_vma_pages()
 * refuses those pages with -EINVAL: they stay in system memory with their
 * data, the shared device page is handed back once, the other pages of
 * the migration move as usual.  minidev (tests/lib) counts what
 * page_free() gets. */
#include "minidev.h"

#define NP 6

int main(void)
{
	struct hms *h = t_open();
	char *p = t_alloc_one_batch(h, NP * T_PAGE);
	uint64_t src[NP], dst[NP];
	struct hms_migrate_vma mv = { .start = (uintptr_t)p, .end = (uintptr_t)p + NP * T_PAGE,
				      .src = src, .dst = dst, .pgmap_owner = &md.owner,
				      .flags = HMS_MIGRATE_SELECT_SYSTEM };
	/* The slot each page is given: slot 0 three times, slot 1 twice
	 * (next to each other), slot 2 once: only page 1 moves. */
	static const size_t given[NP] = { 0, 2, 0, 1, 1, 0 };
	static const bool moves[NP] = { false, true, false, false, false, false };
	hms_pfn first;
	int ret;

	T_ASSERT(p);
	minidev_add(h, "dup", minidev_to_ram);
	first = hms_devmem_pfn_first(md.dm);
	for (int i = 0; i < NP; i++)
		memset(p + i * T_PAGE, 'a' + i, T_PAGE);

	T_EQ(hms_migrate_vma_setup(h, &mv), 0);
	T_EQ(mv.cpages, NP);
	for (int i = 0; i < NP; i++) {
		const void *from = hms_migrate_src_ptr(&mv, (unsigned long)i);

		T_ASSERT(from);
		memcpy(md.pool[given[i]], from, T_PAGE); /* the last copy wins */
		dst[i] = hms_migrate_pfn(first + given[i]);
	}
	ret = hms_migrate_vma_pages(&mv);
	if (ret != -EINVAL)
		T_FAIL("hms_migrate_vma_pages: %d, expected -EINVAL", ret);
	hms_migrate_vma_finalize(&mv);

	for (int i = 0; i < NP; i++) {
		struct hms_page_info pi;
		bool moved = src[i] & HMS_MIGRATE_PFN_MIGRATE;

		T_EQ(hms_page_query(h, p + i * T_PAGE, 1, &pi), 1);
		if (moved != moves[i] ||
		    pi.location != (moves[i] ? HMS_LOC_DEVICE : HMS_LOC_SYSTEM))
			T_FAIL("page %d: moved %d, location %d; expected %s", i, moved,
			       pi.location, moves[i] ? "on the device" : "in system memory");
	}
	/* Each shared page handed back once, the page that moved kept. */
	T_EQ(md.freed[0], 1);
	T_EQ(md.freed[1], 1);
	T_EQ(md.freed[2], 0);

	/* No data lost: every page reads as written (page 1 through
	 * to_ram), and page 1's device page is then handed back. */
	for (int i = 0; i < NP; i++)
		for (size_t k = 0; k < T_PAGE; k++)
			if (p[i * T_PAGE + k] != 'a' + i)
				T_FAIL("page %d byte %zu: %d, expected %d", i, k,
				       p[i * T_PAGE + k], 'a' + i);
	T_EQ(t_count_loc(h, p, NP, HMS_LOC_SYSTEM), NP);
	T_EQ(md.freed[0], 1);
	T_EQ(md.freed[1], 1);
	T_EQ(md.freed[2], 1);

	/* A dst[] without duplicates still moves every page. */
	T_EQ(hms_migrate_vma_setup(h, &mv), 0);
	T_EQ(mv.cpages, NP);
	for (int i = 0; i < NP; i++) {
		const void *from = hms_migrate_src_ptr(&mv, (unsigned long)i);

		T_ASSERT(from);
		memcpy(md.pool[NP - 1 - i], from, T_PAGE);
		dst[i] = hms_migrate_pfn(first + (hms_pfn)(NP - 1 - i)); /* descending */
	}
	T_EQ(hms_migrate_vma_pages(&mv), 0);
	hms_migrate_vma_finalize(&mv);
	T_EQ(t_count_loc(h, p, NP, HMS_LOC_DEVICE), NP);
	for (int i = 0; i < NP; i++)
		T_EQ(p[i * T_PAGE + 7], 'a' + i);
	T_EQ(t_count_loc(h, p, NP, HMS_LOC_SYSTEM), NP);
	for (int i = 0; i < MINIDEV_PAGES; i++)
		T_EQ(md.freed[i], i < NP ? 1 + (i <= 2) : 0);

	T_EQ(hms_devmem_remove(md.dm), 0);
	hms_close(h);
	return 0;
}
