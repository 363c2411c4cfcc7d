/* hbind_abi: struct hms_hbind_params is the 40-byte layout with its fields
 * at fixed offsets, atoms encode command | dwords << 20, and every atom
 * form works through hms_hbind(): BIND sets a strict policy, MIGRATE
 * moves the pages and writes the count into its dword, DEFAULT drops the
 * policy, and a stream of several atoms runs in order.
 */
#include <stddef.h>

#include "hms_test.h"
#include "place_util.h"

#define NP 16

static struct hms_hbind_params params(char *p, size_t np, const uint32_t *t, uint32_t nt,
				      uint32_t *atoms, uint32_t na)
{
	struct hms_hbind_params x = {
		.start = (uint64_t)(uintptr_t)p, .end = (uint64_t)(uintptr_t)(p + np * T_PAGE),
		.ntargets = nt, .natoms = na,
		.targets = (uint64_t)(uintptr_t)t, .atoms = (uint64_t)(uintptr_t)atoms,
	};
	return x;
}

static unsigned mode_at(struct hms *h, char *p)
{
	struct hms_policy pol;

	T_EQ(hms_policy_get(h, p, &pol), 0);
	return pol.mode;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *da = t_softdev(h, 1 << 20), *db = t_softdev(h, 1 << 20);
	uint32_t a = hms_softdev_target(da), b = hms_softdev_target(db);
	char *p = hms_alloc(h, NP * T_PAGE, 0);
	struct hms_hbind_params x;
	struct hms_policy pol;

	T_ASSERT(p);
	/* The ABI. */
	T_EQ(sizeof(struct hms_hbind_params), 40);
	T_EQ(offsetof(struct hms_hbind_params, start), 0);
	T_EQ(offsetof(struct hms_hbind_params, end), 8);
	T_EQ(offsetof(struct hms_hbind_params, ntargets), 16);
	T_EQ(offsetof(struct hms_hbind_params, natoms), 20);
	T_EQ(offsetof(struct hms_hbind_params, targets), 24);
	T_EQ(offsetof(struct hms_hbind_params, atoms), 32);
	T_EQ(HMS_HBIND_ATOM(HMS_HBIND_CMD_MIGRATE, 1), 0x100002);
	T_EQ(HMS_HBIND_ATOM_CMD(0x00300001u), 1);
	T_EQ(HMS_HBIND_ATOM_NDW(0x00300001u), 3);
	T_EQ(HMS_HBIND_ATOM_CMD(0xfff12345u), 0x12345);

	t_pattern(p, NP, 2);
	/* BIND alone. */
	{
		uint32_t atoms[1] = { HMS_HBIND_ATOM(HMS_HBIND_CMD_BIND, 0) };

		x = params(p, NP, &a, 1, atoms, 1);
		T_EQ(hms_hbind(h, &x), 0);
		T_EQ(hms_policy_get(h, p, &pol), 0);
		T_EQ(pol.mode, HMS_POLICY_BIND);
		T_EQ(pol.ntargets, 1);
		T_EQ(pol.targets[0], a);
		T_EQ(pol.end - pol.start, NP * T_PAGE);
		T_EQ(t_count_loc(h, p, NP, HMS_LOC_SYSTEM), NP); /* BIND moves nothing */
	}
	/* MIGRATE alone: the count lands in its dword. */
	{
		uint32_t atoms[2] = { HMS_HBIND_ATOM(HMS_HBIND_CMD_MIGRATE, 1), 0xdeadbeef };

		x = params(p, NP, &a, 1, atoms, 2);
		T_EQ(hms_hbind(h, &x), 0);
		T_EQ(atoms[1], NP);
		t_where_all(h, p, NP, a);
		T_EQ(hms_hbind(h, &x), 0);
		T_EQ(atoms[1], 0); /* already there */
	}
	/* DEFAULT alone (no target needed). */
	{
		uint32_t atoms[1] = { HMS_HBIND_ATOM(HMS_HBIND_CMD_DEFAULT, 0) };

		x = params(p, NP, NULL, 0, atoms, 1);
		T_EQ(hms_hbind(h, &x), 0);
		T_EQ(mode_at(h, p), HMS_POLICY_DEFAULT);
	}
	/* A stream, in order: BIND b, MIGRATE (all to b), DEFAULT, MIGRATE
	 * again (nothing left to move), on half the range. */
	{
		uint32_t atoms[6] = {
			HMS_HBIND_ATOM(HMS_HBIND_CMD_BIND, 0),
			HMS_HBIND_ATOM(HMS_HBIND_CMD_MIGRATE, 1), 77,
			HMS_HBIND_ATOM(HMS_HBIND_CMD_DEFAULT, 0),
			HMS_HBIND_ATOM(HMS_HBIND_CMD_MIGRATE, 1), 77,
		};

		x = params(p, NP / 2, &b, 1, atoms, 6);
		T_EQ(hms_hbind(h, &x), 0);
		T_EQ(atoms[2], NP / 2);
		T_EQ(atoms[5], 0);
		T_EQ(mode_at(h, p), HMS_POLICY_DEFAULT);
		t_where_all(h, p, NP / 2, b);
		t_where_all(h, p + NP / 2 * T_PAGE, NP / 2, a);
	}
	/* Two targets: BIND keeps the order. */
	{
		uint32_t t2[2] = { b, a };
		uint32_t atoms[1] = { HMS_HBIND_ATOM(HMS_HBIND_CMD_BIND, 0) };

		x = params(p, NP, t2, 2, atoms, 1);
		T_EQ(hms_hbind(h, &x), 0);
		T_EQ(hms_policy_get(h, p + T_PAGE, &pol), 0);
		T_EQ(pol.ntargets, 2);
		T_EQ(pol.targets[0], b);
		T_EQ(pol.targets[1], a);
	}
	t_pattern_check(p, NP, 2);
	hms_close(h);
	return 0;
}
