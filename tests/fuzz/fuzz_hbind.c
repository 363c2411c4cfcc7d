/* SPDX-License-Identifier: MIT */
/*
 * fuzz_hbind.c - libFuzzer target over the hbind atom stream decoder
 * (hms__hbind_decode), compared with a plain reference decoder.
 *
 * Input: 4 bytes ntargets, 4 bytes of range bits (start/end shape), then
 * the atoms (up to HMS_HBIND_MAX_DWORDS + 4 dwords, natoms = how many the
 * input holds).  Checked: the decoder and the reference agree on the
 * result and on every op; a MIGRATE's result points at the dword right
 * after its atom, inside the array; the atoms are never written.
 * Build and run: tests/fuzz/run-hbind.sh SECONDS.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/* hms_hbind() is linked but not run here: the core it calls is not. */
int hms__check(struct hms *h) { return h ? 0 : -EINVAL; }
int hms__targets_resolve(struct hms *h, const hms_uid *u, size_t n, struct hms_tgt *o)
{ (void)h; (void)u; (void)n; (void)o; abort(); }
int hms__placement_range(struct hms *h, const void *a, size_t l)
{ (void)h; (void)a; (void)l; abort(); }
int hms__policy_apply(struct hms *h, uintptr_t s, uintptr_t e, unsigned m, const struct hms_tgt *t, size_t n)
{ (void)h; (void)s; (void)e; (void)m; (void)t; (void)n; abort(); }
long hms__migrate_range(struct hms *h, uintptr_t s, uintptr_t e, const struct hms_tgt *t, size_t n)
{ (void)h; (void)s; (void)e; (void)t; (void)n; abort(); }

static long reference(const struct hms_hbind_params *p, const uint32_t *atoms,
		      struct hms_hbind_op *ops)
{
	long n = 0;
	bool targets = false;

	if (p->start >= p->end || (p->start & 4095) || (p->end & 4095))
		return -EINVAL;
	if (p->ntargets > HMS_BIND_MAX_TARGETS)
		return -E2BIG;
	if (p->natoms == 0 || p->natoms > HMS_HBIND_MAX_DWORDS)
		return -EINVAL;
	for (uint64_t i = 0; i < p->natoms; i++) {
		uint32_t cmd = atoms[i] & 0xfffff, ndw = atoms[i] >> 20;

		if (cmd > 2 || ndw != (cmd == 2 ? 1u : 0u) || i + ndw >= p->natoms)
			return -EINVAL;
		ops[n].cmd = cmd;
		ops[n].result = NULL;
		n++;
		targets |= cmd != 0;
		i += ndw;
	}
	return targets && !p->ntargets ? -EINVAL : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hms_hbind_op ops[HMS_HBIND_MAX_DWORDS], ref[HMS_HBIND_MAX_DWORDS];
	uint32_t atoms[HMS_HBIND_MAX_DWORDS + 4], copy[HMS_HBIND_MAX_DWORDS + 4], bits, nt;
	uint32_t targets[1] = { 1 };
	struct hms_hbind_params p = { 0 };
	size_t na;
	long r, q;

	if (size < 8)
		return 0;
	memcpy(&nt, data, 4);
	memcpy(&bits, data + 4, 4);
	na = (size - 8) / 4;
	if (na > HMS_HBIND_MAX_DWORDS + 4)
		na = HMS_HBIND_MAX_DWORDS + 4;
	memcpy(atoms, data + 8, na * 4);
	memcpy(copy, atoms, na * 4);
	p.ntargets = nt % 24;
	p.natoms = (uint32_t)na;
	p.start = (uint64_t)(bits & 0xff) << 12 | ((bits >> 8) & 1);
	p.end = p.start + ((uint64_t)((bits >> 9) & 0xff) << 12) - ((bits >> 17) & 1);
	p.targets = (uintptr_t)targets; /* never read by the decoder */
	p.atoms = na ? (uintptr_t)atoms : 0;

	r = hms__hbind_decode(&p, ops);
	q = reference(&p, atoms, ref);
	if (r != q)
		abort();
	if (memcmp(copy, atoms, na * 4))
		abort();
	for (long i = 0, at = 0; i < r; i++) {
		if (ops[i].cmd != ref[i].cmd)
			abort();
		if (ops[i].cmd == HMS_HBIND_CMD_MIGRATE) {
			if (ops[i].result != &atoms[at + 1] || at + 1 >= (long)na)
				abort();
			at += 2;
		} else {
			if (ops[i].result)
				abort();
			at++;
		}
	}
	return 0;
}
