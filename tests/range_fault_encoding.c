/* range_fault_encoding: hms_range_fault reports every kind of page bit for
 * bit in the default and in a driver-defined encoding, faults exactly the
 * pages requested (default_flags | pfns[i] & pfn_flags_mask), honours
 * dev_private_owner, and fails with -EFAULT, -EPERM and -EBUSY as
 * documented; a minimal driver with its own device memory. */
#include "minidev.h"
#include "notify_rec.h"

/* ---- a minimal driver (tests/lib/minidev.h) -------------------------------- */
static int to_ram_calls;

static int migrate_to_ram(struct hms_devmem *m, const struct hms_devmem_fault *f)
{
	size_t n = (f->end - f->start) / T_PAGE;
	uint64_t src[512], dst[512];
	struct hms_migrate_vma mv = { .start = f->start, .end = f->end, .src = src, .dst = dst,
				      .pgmap_owner = &md.owner,
				      .flags = HMS_MIGRATE_SELECT_DEVICE_PRIVATE };
	int ret = hms_migrate_vma_setup(hms_devmem_context(m), &mv);

	to_ram_calls++;
	if (ret)
		return ret;
	for (size_t i = 0; i < n; i++) {
		void *to;

		if (!(src[i] & HMS_MIGRATE_PFN_MIGRATE))
			continue;
		to = hms_migrate_dst_system(&mv, i);
		T_ASSERT(to);
		memcpy(to, minidev_page(hms_migrate_pfn_to_pfn(src[i])), T_PAGE);
	}
	hms_migrate_vma_pages(&mv);
	hms_migrate_vma_finalize(&mv);
	return 0;
}

/* ---- the test -------------------------------------------------------------- */

static void expect(const uint64_t *got, const uint64_t *want, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (got[i] != want[i])
			T_FAIL("%s: page %zu: %#llx, expected %#llx", what, i,
			       (unsigned long long)got[i], (unsigned long long)want[i]);
}

static int fault(struct hms *h, void *addr, size_t npages, uint64_t *pfns, uint64_t dflags,
		 uint64_t mask, void *owner)
{
	struct hms_range r = { .start = (uintptr_t)addr, .end = (uintptr_t)addr + npages * T_PAGE,
			       .pfns = pfns, .default_flags = dflags, .pfn_flags_mask = mask,
			       .dev_private_owner = owner };

	return hms_range_fault(h, &r);
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *sd = t_softdev(h, 0);
	char *p = hms_alloc(h, 8 * T_PAGE, 0);
	char *u = mmap(NULL, 3 * T_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t pfns[8], want[8], vpn, upn, dpfn;
	struct hms_softdev_cmd c;
	struct hms_interval *iv;
	struct t_rec *rec = malloc(sizeof(*rec));
	static const uint64_t dflags[HMS_PFN_FLAG_COUNT] = { 1 << 0, 1 << 1, 1 << 2 };
	static const uint64_t dvalues[HMS_PFN_VALUE_COUNT] = { 0x8, 0x10, 0x18 };
	const unsigned shift = 8;

	T_ASSERT(p && u != MAP_FAILED && rec);
	minidev_add(h, "range_fault_encoding", migrate_to_ram);
	vpn = (uintptr_t)p >> 12;
	upn = (uintptr_t)u >> 12;
	/* Page 0: never populated.  1, 7: written.  2: written, read-only.
	 * 3: PROT_NONE.  4: the zero page.  5: in our device memory.  6: in
	 * the softdev's.  (hms_prefault makes each present before the CPU
	 * touches it.) */
	for (int i = 1; i < 8; i++) {
		if (i == 3 || i == 4)
			continue;
		T_EQ(hms_prefault(h, p + i * T_PAGE, T_PAGE, true), 1);
		p[i * T_PAGE] = (char)i;
	}
	T_EQ(hms_prefault(h, p + 4 * T_PAGE, T_PAGE, false), 1);
	T_EQ(hms_protect(h, p + 2 * T_PAGE, T_PAGE, PROT_READ), 0);
	T_EQ(hms_protect(h, p + 3 * T_PAGE, T_PAGE, PROT_NONE), 0);
	dpfn = minidev_to_device(h, p + 5 * T_PAGE);
	T_EQ(t_cmd(sd, hms_softdev_migrate_to_device, p + 6 * T_PAGE, NULL, 1, &c), 0);
	T_EQ(c.cpages, 1);
	/* Outside managed areas: 0 written, 1 untouched, 2 unmapped. */
	u[0] = 1;
	T_EQ(munmap(u + 2 * T_PAGE, T_PAGE), 0);

	/* Default encoding, snapshot (input bits outside the mask ignored). */
	for (int i = 0; i < 8; i++)
		pfns[i] = HMS_PFN_REQ_FAULT | HMS_PFN_REQ_WRITE;
	T_EQ(fault(h, p, 8, pfns, 0, 0, &md.owner), 0);
	want[0] = 0;
	want[1] = HMS_PFN_VALID | HMS_PFN_WRITE | (vpn + 1);
	want[2] = HMS_PFN_VALID | (vpn + 2);
	want[3] = HMS_PFN_ERROR;
	want[4] = HMS_PFN_VALID | HMS_PFN_ZERO | (vpn + 4);
	want[5] = HMS_PFN_VALID | HMS_PFN_WRITE | HMS_PFN_DEVICE_PRIVATE | dpfn;
	want[6] = 0; /* another owner's page: not present */
	want[7] = HMS_PFN_VALID | HMS_PFN_WRITE | (vpn + 7);
	expect(pfns, want, 8, "default snapshot");
	T_EQ(t_count_loc(h, p, 1, HMS_LOC_NONE), 1);
	T_EQ(t_count_loc(h, p + 5 * T_PAGE, 2, HMS_LOC_DEVICE), 2);
	memset(pfns, 0, sizeof(pfns));
	T_EQ(fault(h, u, 3, pfns, 0, 0, NULL), 0);
	want[0] = HMS_PFN_VALID | HMS_PFN_WRITE | HMS_PFN_SPECIAL | upn;
	want[1] = 0;
	want[2] = HMS_PFN_ERROR;
	expect(pfns, want, 3, "default snapshot, not managed");

	/* Driver encoding, snapshot. */
	{
		struct hms_range r = { .start = (uintptr_t)p, .end = (uintptr_t)p + 8 * T_PAGE,
				       .pfns = pfns, .dev_private_owner = &md.owner,
				       .flags = dflags, .values = dvalues, .pfn_shift = shift };

		memset(pfns, 0, sizeof(pfns));
		T_EQ(hms_range_fault(h, &r), 0);
		want[0] = dvalues[HMS_PFN_VALUE_NONE];
		want[1] = ((vpn + 1) << shift) | 3;
		want[2] = ((vpn + 2) << shift) | 1;
		want[3] = dvalues[HMS_PFN_VALUE_ERROR];
		want[4] = dvalues[HMS_PFN_VALUE_SPECIAL];
		want[5] = (dpfn << shift) | 7;
		want[6] = dvalues[HMS_PFN_VALUE_NONE];
		want[7] = ((vpn + 7) << shift) | 3;
		expect(pfns, want, 8, "driver snapshot");
		r.start = (uintptr_t)u;
		r.end = (uintptr_t)u + 3 * T_PAGE;
		T_EQ(hms_range_fault(h, &r), 0);
		want[0] = dvalues[HMS_PFN_VALUE_SPECIAL];
		want[1] = dvalues[HMS_PFN_VALUE_NONE];
		want[2] = dvalues[HMS_PFN_VALUE_ERROR];
		expect(pfns, want, 3, "driver snapshot, not managed");

		/* Driver-encoded requests: fault pages 0-1 for write. */
		r.start = (uintptr_t)p;
		r.end = (uintptr_t)p + 2 * T_PAGE;
		r.default_flags = dflags[HMS_PFN_FLAG_VALID] | dflags[HMS_PFN_FLAG_WRITE];
		T_EQ(hms_range_fault(h, &r), 0);
		want[0] = (vpn << shift) | 3;
		want[1] = ((vpn + 1) << shift) | 3;
		expect(pfns, want, 2, "driver write fault");
		/* A write request on the read-only page. */
		r.end = (uintptr_t)p + 3 * T_PAGE;
		T_EQ(hms_range_fault(h, &r), -EPERM);
		/* Per-page requests through the mask: only page 2, read. */
		r.default_flags = 0;
		r.pfn_flags_mask = dflags[HMS_PFN_FLAG_VALID];
		pfns[0] = 0;
		pfns[1] = dflags[HMS_PFN_FLAG_WRITE]; /* masked out */
		pfns[2] = dflags[HMS_PFN_FLAG_VALID];
		T_EQ(hms_range_fault(h, &r), 0);
		want[2] = ((vpn + 2) << shift) | 1;
		expect(pfns, want, 3, "driver masked request");
	}

	/* Default-encoded per-page requests: fault page 6 (the softdev's)
	 * only; page 5 (ours) stays in our memory; the rest are reported. */
	memset(pfns, 0, sizeof(pfns));
	pfns[6] = HMS_PFN_REQ_FAULT;
	pfns[5] = HMS_PFN_REQ_FAULT;
	T_EQ(fault(h, p + 4 * T_PAGE, 4, pfns + 4, 0, HMS_PFN_REQ_FAULT | HMS_PFN_REQ_WRITE,
		   &md.owner), 0);
	want[4] = HMS_PFN_VALID | HMS_PFN_ZERO | (vpn + 4);
	want[5] = HMS_PFN_VALID | HMS_PFN_WRITE | HMS_PFN_DEVICE_PRIVATE | dpfn;
	want[6] = HMS_PFN_VALID | HMS_PFN_WRITE | (vpn + 6);
	want[7] = HMS_PFN_VALID | HMS_PFN_WRITE | (vpn + 7);
	expect(pfns + 4, want + 4, 4, "default masked request");
	T_EQ(hms_softdev_pages_used(sd), 0);
	T_EQ(t_count_loc(h, p + 5 * T_PAGE, 1, HMS_LOC_DEVICE), 1);
	T_EQ(to_ram_calls, 0);

	/* Without our owner, a request brings our page back through
	 * migrate_to_ram, data intact. */
	pfns[0] = 0;
	T_EQ(fault(h, p + 5 * T_PAGE, 1, pfns, HMS_PFN_REQ_FAULT, 0, NULL), 0);
	T_EQ(pfns[0], HMS_PFN_VALID | HMS_PFN_WRITE | (vpn + 5));
	T_ASSERT(to_ram_calls >= 1);
	T_EQ(t_count_loc(h, p + 5 * T_PAGE, 1, HMS_LOC_SYSTEM), 1);
	T_EQ(p[5 * T_PAGE], 5);

	/* Errors. */
	T_EQ(fault(h, p + 3 * T_PAGE, 1, pfns, HMS_PFN_REQ_FAULT, 0, NULL), -EFAULT);
	T_EQ(fault(h, u + 2 * T_PAGE, 1, pfns, HMS_PFN_REQ_FAULT, 0, NULL), -EFAULT);
	T_EQ(fault(h, p + 2 * T_PAGE, 1, pfns, HMS_PFN_REQ_WRITE, 0, NULL), -EPERM);
	T_EQ(fault(h, u, 1, pfns, HMS_PFN_REQ_WRITE, 0, NULL), 0);
	T_EQ(hms_protect(h, p + 7 * T_PAGE, T_PAGE, PROT_READ), 0);
	(void)iv;
	t_rec_init(rec, h, (uintptr_t)p, 8 * T_PAGE);
	{
		struct hms_range r = { .interval = rec->iv, .start = (uintptr_t)p,
				       .end = (uintptr_t)p + 2 * T_PAGE, .pfns = pfns };

		r.notifier_seq = hms_interval_read_begin(rec->iv);
		T_EQ(hms_range_fault(h, &r), 0);
		T_EQ(hms_protect(h, p + 7 * T_PAGE, T_PAGE, PROT_READ | PROT_WRITE), 0);
		T_EQ(hms_range_fault(h, &r), -EBUSY);
		r.notifier_seq = hms_interval_read_begin(rec->iv);
		T_EQ(hms_range_fault(h, &r), 0);
	}
	t_rec_fini(rec);
	free(rec);

	hms_softdev_destroy(sd);
	T_EQ(hms_devmem_remove(md.dm), 0);
	hms_close(h);
	munmap(u, 2 * T_PAGE);
	return 0;
}
