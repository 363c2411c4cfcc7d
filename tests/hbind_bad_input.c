/* hbind_bad_input: every malformed hbind call is refused with its
 * documented error before any atom runs: the policy stays, no page moves
 * and no MIGRATE dword is written, even when valid atoms precede the bad
 * one.
 */
#include "hms_test.h"
#include "place_util.h"

#define NP 8
#define SENT 0x5a5a5a5au

static struct hms *h;
static char *p;
static uint32_t tgt[HMS_BIND_MAX_TARGETS + 1];
static struct hms_softdev *d;

/* A call that must fail with err and change nothing. */
static void refused(struct hms_hbind_params x, int err, const char *what)
{
	uint32_t *atoms = (uint32_t *)(uintptr_t)x.atoms;
	uint32_t copy[HMS_HBIND_MAX_DWORDS + 8];
	size_t na = atoms ? (x.natoms < HMS_HBIND_MAX_DWORDS + 8 ? x.natoms : HMS_HBIND_MAX_DWORDS + 8) : 0;
	struct hms_policy pol;
	int ret;

	if (atoms)
		memcpy(copy, atoms, na * 4);
	ret = hms_hbind(h, &x);
	if (ret != err)
		T_FAIL("%s: %d, expected %d", what, ret, err);
	if (atoms && memcmp(copy, atoms, na * 4))
		T_FAIL("%s: the atoms were written", what);
	T_EQ(hms_policy_get(h, p, &pol), 0);
	T_EQ(pol.mode, HMS_POLICY_BIND);
	T_EQ(pol.targets[0], tgt[0]);
	T_EQ(t_count_loc(h, p, NP, HMS_LOC_SYSTEM), NP);
	T_EQ(hms_softdev_pages_used(d), 0);
}

static struct hms_hbind_params good(uint32_t *atoms, uint32_t na)
{
	struct hms_hbind_params x = {
		(uint64_t)(uintptr_t)p, (uint64_t)(uintptr_t)(p + NP * T_PAGE), 1, na,
		(uint64_t)(uintptr_t)tgt, (uint64_t)(uintptr_t)atoms,
	};
	return x;
}

int main(void)
{
	uint32_t mig[3] = { HMS_HBIND_ATOM(HMS_HBIND_CMD_BIND, 0),
			    HMS_HBIND_ATOM(HMS_HBIND_CMD_MIGRATE, 1), SENT };
	uint32_t big[HMS_HBIND_MAX_DWORDS + 1];
	struct hms_hbind_params x;
	char *plain;

	h = t_open();
	d = t_softdev(h, 1 << 20);
	p = hms_alloc(h, NP * T_PAGE, 0);
	plain = mmap(NULL, T_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(p && plain != MAP_FAILED);
	memset(p, 1, NP * T_PAGE);
	tgt[0] = hms_softdev_target(d);
	for (unsigned i = 1; i <= HMS_BIND_MAX_TARGETS; i++)
		tgt[i] = tgt[0] + 5000 + i;
	T_EQ(hms_bind(h, p, NP * T_PAGE, tgt, 1, 0), 0);

	T_EQ(hms_hbind(h, NULL), -EINVAL);
	T_EQ(hms_hbind(NULL, &(struct hms_hbind_params){ 0 }), -EINVAL);
	/* The range. */
	x = good(mig, 3); x.start += 1; refused(x, -EINVAL, "unaligned start");
	x = good(mig, 3); x.end -= 8; refused(x, -EINVAL, "unaligned end");
	x = good(mig, 3); x.end = x.start; refused(x, -EINVAL, "empty range");
	x = good(mig, 3); x.end = x.start - T_PAGE; refused(x, -EINVAL, "end before start");
	x = good(mig, 3); x.end += T_PAGE; refused(x, -ENOENT, "partly managed");
	x = good(mig, 3); x.start = (uintptr_t)plain; x.end = x.start + T_PAGE;
	refused(x, -ENOENT, "not managed");
	/* The counts and arrays. */
	x = good(mig, 0); refused(x, -EINVAL, "natoms 0");
	x = good(big, HMS_HBIND_MAX_DWORDS + 1); refused(x, -EINVAL, "natoms above the bound");
	x = good(mig, 3); x.atoms = 0; refused(x, -EINVAL, "NULL atoms");
	x = good(mig, 3); x.targets = 0; refused(x, -EINVAL, "NULL targets");
	x = good(mig, 3); x.ntargets = 0; refused(x, -EINVAL, "BIND/MIGRATE without targets");
	x = good(mig, 3); x.ntargets = HMS_BIND_MAX_TARGETS + 1; refused(x, -E2BIG, "too many targets");
	/* The atoms. */
	{
		uint32_t unknown[2] = { HMS_HBIND_ATOM(HMS_HBIND_CMD_BIND, 0), HMS_HBIND_ATOM(3, 0) };
		uint32_t huge_cmd[1] = { HMS_HBIND_CMD_MASK };
		uint32_t bind_dw[2] = { HMS_HBIND_ATOM(HMS_HBIND_CMD_BIND, 1), 0 };
		uint32_t def_dw[2] = { HMS_HBIND_ATOM(HMS_HBIND_CMD_DEFAULT, 1), 0 };
		uint32_t mig0[2] = { HMS_HBIND_ATOM(HMS_HBIND_CMD_BIND, 0),
				     HMS_HBIND_ATOM(HMS_HBIND_CMD_MIGRATE, 0) };
		uint32_t mig2[3] = { HMS_HBIND_ATOM(HMS_HBIND_CMD_MIGRATE, 2), 0, 0 };
		uint32_t trunc[2] = { HMS_HBIND_ATOM(HMS_HBIND_CMD_BIND, 0),
				      HMS_HBIND_ATOM(HMS_HBIND_CMD_MIGRATE, 1) };
		uint32_t maxdw[2] = { 0xfff00002u, 0 };

		x = good(unknown, 2); refused(x, -EINVAL, "unknown command after a valid one");
		x = good(huge_cmd, 1); refused(x, -EINVAL, "command 0xfffff");
		x = good(bind_dw, 2); refused(x, -EINVAL, "BIND with a dword");
		x = good(def_dw, 2); refused(x, -EINVAL, "DEFAULT with a dword");
		x = good(mig0, 2); refused(x, -EINVAL, "MIGRATE without its dword");
		x = good(mig2, 3); refused(x, -EINVAL, "MIGRATE with two dwords");
		x = good(trunc, 2); refused(x, -EINVAL, "MIGRATE's dword past natoms");
		x = good(maxdw, 2); refused(x, -EINVAL, "4095 dwords");
	}
	/* The targets. */
	{
		uint32_t bad[2] = { tgt[0], tgt[0] };
		uint32_t ini = hms_softdev_initiator(d);

		x = good(mig, 3); x.targets = (uintptr_t)&tgt[1]; refused(x, -ENOENT, "unknown target");
		x = good(mig, 3); x.targets = (uintptr_t)bad; x.ntargets = 2;
		refused(x, -EINVAL, "target listed twice");
		x = good(mig, 3); x.targets = (uintptr_t)&ini; refused(x, -EINVAL, "an initiator");
		x = good(mig, 3); x.targets = (uintptr_t)&tgt[1]; x.start += 1;
		refused(x, -EINVAL, "shape checked first");
	}
	T_EQ(mig[2], SENT);
	/* And the same call, well formed, works. */
	x = good(mig, 3);
	T_EQ(hms_hbind(h, &x), 0);
	T_EQ(mig[2], NP);
	hms_close(h);
	return 0;
}
