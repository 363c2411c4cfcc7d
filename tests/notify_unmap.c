/* notify_unmap: munmap, hms_free and the moving side of mremap (with and
 * without MREMAP_DONTUNMAP) each tell a mirror and an interval exactly one
 * UNMAP with the exact range and no owner. */
#include <sys/mman.h>
#include "notify_rec.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

int main(void)
{
	struct hms *h = t_open();
	size_t npages = 64;
	char *p = hms_alloc(h, npages * T_PAGE, 0);
	char *spare = mmap(NULL, 16 * T_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct t_rec *r = malloc(sizeof(*r));
	uintptr_t s = (uintptr_t)p;
	char *to;

	T_ASSERT(p && spare != MAP_FAILED && r);
	memset(p, 1, npages * T_PAGE);
	t_rec_init(r, h, s, npages * T_PAGE);

	/* munmap of a part. */
	T_EQ(munmap(p + 4 * T_PAGE, 4 * T_PAGE), 0);
	t_rec_expect_one(r, HMS_EVENT_UNMAP, s + 4 * T_PAGE, s + 8 * T_PAGE, NULL);

	/* hms_free of another part: told by hms_free, not again by the
	 * munmap event it raises. */
	t_rec_reset(r);
	T_EQ(hms_free(h, p + 8 * T_PAGE, 4 * T_PAGE), 0);
	t_rec_expect_one(r, HMS_EVENT_UNMAP, s + 8 * T_PAGE, s + 12 * T_PAGE, NULL);

	/* mremap moves pages 16-19 into the spare mapping: one UNMAP of the
	 * source, even though REMAP and UNMAP events both arrive. */
	t_rec_reset(r);
	to = mremap(p + 16 * T_PAGE, 4 * T_PAGE, 4 * T_PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, spare);
	T_ASSERT(to == spare);
	t_rec_expect_one(r, HMS_EVENT_UNMAP, s + 16 * T_PAGE, s + 20 * T_PAGE, NULL);
	T_EQ(to[0], 1);

	/* The same with MREMAP_DONTUNMAP: the source stays mapped, once told. */
	t_rec_reset(r);
	to = mremap(p + 24 * T_PAGE, 4 * T_PAGE, 4 * T_PAGE,
		    MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, spare + 8 * T_PAGE);
	T_ASSERT(to == spare + 8 * T_PAGE);
	t_rec_expect_one(r, HMS_EVENT_UNMAP, s + 24 * T_PAGE, s + 28 * T_PAGE, NULL);
	T_EQ(to[0], 1);

	t_rec_fini(r);
	free(r);
	hms_close(h);
	munmap(spare, 16 * T_PAGE);
	return 0;
}
