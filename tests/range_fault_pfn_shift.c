/* range_fault_pfn_shift: with a driver encoding, hms_range_fault() writes
 * (pfn << pfn_shift) | flags; a pfn_shift that leaves too few bits above
 * it for a pfn the call may report (a system page's page number, a device
 * pfn of dev_private_owner's memory) fails with ERANGE and writes
 * nothing, where it used to drop the pfn's high bits and report another
 * page.  The widest shift that keeps them works, and decodes back.
 *
 * The range is mapped at a low address so that its page numbers are
 * short, and a large device memory registered first pushes minidev's
 * pfns beyond them. */
#include <sys/mman.h>
#include <unistd.h>

#include "minidev.h"

#define NP 4

static int filler_to_ram(struct hms_devmem *dm, const struct hms_devmem_fault *f)
{
	(void)dm;
	(void)f;
	return -EFAULT; /* never holds a page */
}

static void filler_free(struct hms_devmem *dm, hms_pfn pfn)
{
	(void)dm;
	(void)pfn;
}

/* Bits needed for v. */
static unsigned width(uint64_t v)
{
	return v ? 64u - (unsigned)__builtin_clzll(v) : 0;
}

static const uint64_t fl[HMS_PFN_FLAG_COUNT] = { 1, 2, 4 };
static const uint64_t vals[HMS_PFN_VALUE_COUNT] = { 8, 0, 16 };
#define SENTINEL 0x5a5a5a5a5a5a5a5aULL

static int fault(struct hms *h, char *p, uint64_t *pfns, unsigned shift, void *owner)
{
	struct hms_range r = { .start = (uintptr_t)p, .end = (uintptr_t)p + NP * T_PAGE,
			       .pfns = pfns, .dev_private_owner = owner,
			       .flags = fl, .values = vals, .pfn_shift = shift };

	for (int i = 0; i < NP; i++)
		pfns[i] = SENTINEL;
	return hms_range_fault(h, &r);
}

static void untouched(const uint64_t *pfns, const char *what)
{
	for (int i = 0; i < NP; i++)
		if (pfns[i] != SENTINEL)
			T_FAIL("%s: pfns[%d] written (%#llx)", what, i, (unsigned long long)pfns[i]);
}

int main(void)
{
	static int filler_owner;
	static const struct hms_devmem_ops filler_ops = { .migrate_to_ram = filler_to_ram,
							  .page_free = filler_free };
	struct hms_devmem_desc big = { "filler", 1ULL << 18, &filler_owner, HMS_DEVMEM_PRIVATE };
	struct hms *h = t_open();
	struct hms_devmem *filler;
	uint64_t pfns[NP], vpn;
	unsigned vbits, dbits;
	hms_pfn dpfn;
	char *p = t_map_low(NP * T_PAGE); /* page numbers of at most 17 bits */

	T_EQ(hms_manage(h, p, NP * T_PAGE), 0);
	memset(p, 3, NP * T_PAGE);
	vpn = (uintptr_t)p >> 12;
	vbits = width(vpn + NP - 1);
	T_ASSERT(vbits <= 17);

	T_EQ(hms_devmem_add(h, &big, &filler_ops, NULL, &filler), 0);
	minidev_add(h, "mini", minidev_to_ram);
	dpfn = minidev_to_device(h, p + T_PAGE);
	dbits = width(hms_devmem_pfn_first(md.dm) + MINIDEV_PAGES - 1);
	T_ASSERT(width(dpfn) > vbits);

	/* System pages only (no owner): the widest shift that keeps the
	 * page numbers works ... */
	T_EQ(fault(h, p, pfns, 64 - vbits, NULL), 0);
	T_EQ(pfns[0], (vpn << (64 - vbits)) | 3);
	T_EQ(pfns[0] >> (64 - vbits), vpn);
	T_EQ(pfns[1], vals[HMS_PFN_VALUE_NONE]); /* not our device: not present */
	T_EQ(pfns[3] >> (64 - vbits), vpn + 3);
	/* ... one more does not, whatever state the pages are in. */
	T_EQ(fault(h, p, pfns, 64 - vbits + 1, NULL), -ERANGE);
	untouched(pfns, "system pages, shift one too wide");

	/* With minidev's owner its pfns may be reported: they need more. */
	T_EQ(fault(h, p, pfns, 64 - vbits, &md.owner), -ERANGE);
	untouched(pfns, "device pfn, shift too wide");
	T_EQ(fault(h, p, pfns, 64 - dbits, &md.owner), 0);
	T_EQ(pfns[1], (dpfn << (64 - dbits)) | 7);
	T_EQ(pfns[1] >> (64 - dbits), dpfn);
	T_EQ(pfns[0] >> (64 - dbits), vpn);

	/* Still refused above 63 (EINVAL), and the default encoding is
	 * not concerned. */
	T_EQ(fault(h, p, pfns, 64, NULL), -EINVAL);
	{
		struct hms_range r = { .start = (uintptr_t)p, .end = (uintptr_t)p + NP * T_PAGE,
				       .pfns = pfns, .dev_private_owner = &md.owner };

		T_EQ(hms_range_fault(h, &r), 0);
		T_EQ(pfns[1] & HMS_PFN_PFN_MASK, dpfn);
	}

	/* No data lost: the device page comes back. */
	for (size_t i = 0; i < NP * T_PAGE; i++)
		T_EQ(p[i], 3);
	T_EQ(hms_unmanage(h, p, NP * T_PAGE), 0);
	T_EQ(hms_devmem_remove(filler), 0);
	hms_close(h);
	munmap(p, NP * T_PAGE);
	return 0;
}
