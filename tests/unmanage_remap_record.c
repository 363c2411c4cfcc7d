/* unmanage_remap_record: hms_unmanage() of a range an mremap left a record
 * of takes the record along.  The fault handler keeps the old range of
 * each REMAP until that range's own UNMAP comes (docs/design.md 2); one
 * that MREMAP_DONTUNMAP kept never gets one.  hms_unmanage() lets a range
 * go without an event, so the record stayed: a later mremap of other
 * pages onto the range marked it covered, and the munmap() of those pages
 * was then taken for the first mremap's own UNMAP and left them in the
 * table, on the device too, with nothing mapped there (hms_manage() of a
 * new mapping at the same address: EEXIST after about 2 s; a fork()
 * waited for ever to bring the device pages home).  Found by hms stress
 * (operation unmanage).  Again where hms_unmanage() let only the first half
 * of the range go and the munmap takes all of it (the record's range).
 * Each step's bytes are checked too. */
#include <sys/mman.h>
#include <unistd.h>

#include "hms_test.h"

#define NP 8

static void *reserve(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	T_ASSERT(p != MAP_FAILED);
	return p;
}

/* whole: hms_unmanage() of all of x; else of its first half only, and
 * the munmap takes all of x (the record's whole range). */
static void one(struct hms *h, struct hms_softdev *d, bool whole)
{
	const size_t len = NP * T_PAGE, n = len / sizeof(int), xlen = whole ? len : 2 * len;
	struct hms_softdev_cmd c;
	int *x, *y, *z, *q;

	x = hms_alloc(h, xlen, 0);
	z = hms_alloc(h, len, 0);
	T_ASSERT(x && z);
	y = reserve(xlen);
	t_fill(x, xlen / sizeof(int), 10);
	t_fill(z, n, 20);

	/* x's pages move to y, x stays mapped, registered and managed
	 * (empty): the handler keeps a record of x that no UNMAP takes */
	T_ASSERT(mremap(x, xlen, xlen, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, y) == y);
	t_check(y, xlen / sizeof(int), 10);
	T_EQ(hms_unmanage(h, y, xlen), 0);
	T_EQ(hms_unmanage(h, x, len), 0);
	/* x (or its first half) becomes a reservation hms does not know (no
	 * event: not registered any more) */
	T_ASSERT(mmap(x, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == x);

	/* z's pages move onto it, then to the device */
	T_ASSERT(mremap(z, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, x) == x);
	T_EQ(hms_sync(h), 0);
	t_check(x, n, 20);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, x, NULL, NP, &c), 0);
	T_EQ(t_count_loc(h, x, NP, HMS_LOC_DEVICE), NP);

	/* their munmap is theirs: the table lets them go */
	T_EQ(munmap(x, xlen), 0);
	T_EQ(hms_sync(h), 0);
	q = mmap(x, xlen, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	T_ASSERT(q == x);
	t_fill(q, xlen / sizeof(int), 30);
	T_EQ(hms_manage(h, q, xlen), 0);
	t_check(q, xlen / sizeof(int), 30);
	t_device_round_trip(h, d, q, xlen / T_PAGE, 30, whole ? "whole" : "half");
	/* the device kept none of the old pages */
	T_EQ(hms_softdev_release(d), 0);

	T_EQ(hms_unmanage(h, q, xlen), 0);
	T_EQ(munmap(q, xlen), 0);
	T_EQ(munmap(y, xlen), 0);
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);

	one(h, d, true);
	one(h, d, false);
	hms_softdev_destroy(d);
	hms_close(h);
	printf("ok: the munmap after hms_unmanage and an mremap onto the range let the pages "
	       "go, whole or half the range unmanaged\n");
	return 0;
}
