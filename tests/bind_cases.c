/* bind_cases: each way a new policy meets an old one leaves exact ranges:
 * inside (split in two), left and right overlap, adjacent equal policies
 * merging, adjacent different ones not, hms_bind_default() splitting, and
 * unmapping part of a bound range removing exactly that part.
 */
#include "hms_test.h"
#include "place_util.h"

static char *base;

/* Expects the policy at page i: mode, first target, run [s, e) in pages. */
static void expect(struct hms *h, size_t i, unsigned mode, hms_uid t0, size_t s, size_t e)
{
	struct hms_policy p;

	T_EQ(hms_policy_get(h, base + i * T_PAGE, &p), 0);
	if (p.mode != mode || (mode && p.targets[0] != t0) ||
	    p.start != (uintptr_t)(base + s * T_PAGE) || p.end != (uintptr_t)(base + e * T_PAGE))
		T_FAIL("page %zu: mode %u target %u [%ld, %ld), expected mode %u target %u [%zu, %zu)",
		       i, p.mode, p.targets[0], (long)((char *)p.start - base) / 4096,
		       (long)((char *)p.end - base) / 4096, mode, t0, s, e);
}

static void bind(struct hms *h, size_t s, size_t n, hms_uid t, unsigned flags)
{
	T_EQ(hms_bind(h, base + s * T_PAGE, n * T_PAGE, &t, 1, flags), 0);
}

int main(void)
{
	struct hms *h = t_open();
	hms_uid a = hms_softdev_target(t_softdev(h, 1 << 20));
	hms_uid b = hms_softdev_target(t_softdev(h, 1 << 20));
	const unsigned B = HMS_POLICY_BIND, P = HMS_POLICY_PREFERRED;

	base = hms_alloc(h, 64 * T_PAGE, 0);
	T_ASSERT(base);
	expect(h, 5, HMS_POLICY_DEFAULT, 0, 0, 64);

	/* Inside: [10, 30) A, then [15, 20) B splits A in two. */
	bind(h, 10, 20, a, 0);
	bind(h, 15, 5, b, 0);
	expect(h, 10, B, a, 10, 15);
	expect(h, 17, B, b, 15, 20);
	expect(h, 25, B, a, 20, 30);
	expect(h, 9, HMS_POLICY_DEFAULT, 0, 0, 10);
	expect(h, 30, HMS_POLICY_DEFAULT, 0, 30, 64);

	/* Left overlap: [5, 12) B trims A's left part to [12, 15). */
	bind(h, 5, 7, b, HMS_BIND_PREFERRED);
	expect(h, 5, P, b, 5, 12);
	expect(h, 12, B, a, 12, 15);
	/* Right overlap: [28, 40) A merges with A's [20, 30) into [20, 40). */
	bind(h, 28, 12, a, 0);
	expect(h, 39, B, a, 20, 40);

	/* Adjacent and equal: merge; adjacent and different: stay apart. */
	bind(h, 40, 4, a, 0);
	expect(h, 20, B, a, 20, 44);
	bind(h, 44, 4, a, HMS_BIND_PREFERRED);
	expect(h, 44, P, a, 44, 48);
	expect(h, 43, B, a, 20, 44);

	/* DEFAULT inside splits, at an edge trims. */
	T_EQ(hms_bind_default(h, base + 30 * T_PAGE, 2 * T_PAGE), 0);
	expect(h, 29, B, a, 20, 30);
	expect(h, 31, HMS_POLICY_DEFAULT, 0, 30, 32);
	expect(h, 32, B, a, 32, 44);
	T_EQ(hms_bind_default(h, base + 46 * T_PAGE, 10 * T_PAGE), 0);
	expect(h, 45, P, a, 44, 46);
	expect(h, 50, HMS_POLICY_DEFAULT, 0, 46, 64);

	/* Unmap [34, 36): exactly that part goes, both sides stay. */
	T_EQ(hms_free(h, base + 34 * T_PAGE, 2 * T_PAGE), 0);
	expect(h, 33, B, a, 32, 34);
	expect(h, 36, B, a, 36, 44);
	{
		struct hms_policy p;

		T_EQ(hms_policy_get(h, base + 34 * T_PAGE, &p), -ENOENT);
	}
	/* A new mapping at the same place starts without policy.  Not
	 * MAP_FIXED: another thread (the handler, malloc) may have mapped
	 * something at the freed pages meanwhile, which it would replace. */
	{
		char *at = base + 34 * T_PAGE;
		char *q = mmap(at, 2 * T_PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

		if (q == at) {
			T_EQ(hms_manage(h, at, 2 * T_PAGE), 0);
			expect(h, 34, HMS_POLICY_DEFAULT, 0, 34, 36);

			/* Unmanage drops the policy of the range. */
			T_EQ(hms_unmanage(h, at, 2 * T_PAGE), 0);
		} else {
			T_ASSERT(q != MAP_FAILED || errno == EEXIST);
			printf("another mapping took the freed pages: not checked\n");
		}
		if (q != MAP_FAILED)
			munmap(q, 2 * T_PAGE);
	}
	hms_close(h); /* frees the rest: ASan sees any leak */
	return 0;
}
