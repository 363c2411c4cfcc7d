/* SPDX-License-Identifier: MIT */
/*
 * hbind.c - hms_hbind(): the HMS proposal's hbind() command stream.  The
 * stream is decoded and checked whole (hms__hbind_decode, which the
 * fuzzer drives alone), the range and targets are checked, and only then
 * do the atoms run, through the same paths as hms_bind_default(),
 * hms_bind() and hms_migrate().
 */
#include <errno.h>

#include "core/internal.h"

/* Extra dwords each command takes. */
static int cmd_dwords(uint32_t cmd)
{
	switch (cmd) {
	case HMS_HBIND_CMD_DEFAULT:
	case HMS_HBIND_CMD_BIND:
		return 0;
	case HMS_HBIND_CMD_MIGRATE:
		return 1;
	default:
		return -1;
	}
}

long hms__hbind_decode(const struct hms_hbind_params *p, struct hms_hbind_op *ops)
{
	uint32_t *atoms;
	bool need_targets = false;
	long nops = 0;

	if (!p || !ops)
		return -EINVAL;
	if (p->start >= p->end || !hms__aligned((uintptr_t)p->start) ||
	    !hms__aligned((uintptr_t)p->end))
		return -EINVAL;
#if UINTPTR_MAX < UINT64_MAX
	if (p->end - 1 > UINTPTR_MAX || p->atoms > UINTPTR_MAX || p->targets > UINTPTR_MAX)
		return -EINVAL;
#endif
	if (p->ntargets > HMS_BIND_MAX_TARGETS)
		return -E2BIG;
	if (!p->natoms || p->natoms > HMS_HBIND_MAX_DWORDS || !p->atoms)
		return -EINVAL;
	if (p->ntargets && !p->targets)
		return -EINVAL;
	atoms = (uint32_t *)(uintptr_t)p->atoms;
	for (uint32_t i = 0; i < p->natoms;) {
		uint32_t cmd = HMS_HBIND_ATOM_CMD(atoms[i]);
		uint32_t ndw = HMS_HBIND_ATOM_NDW(atoms[i]);
		int want = cmd_dwords(cmd);

		/* ndw < natoms - i: the extra dwords lie inside the array
		 * (written so that it cannot overflow). */
		if (want < 0 || ndw != (uint32_t)want || ndw >= p->natoms - i)
			return -EINVAL;
		ops[nops].cmd = cmd;
		ops[nops].result = ndw ? &atoms[i + 1] : NULL;
		need_targets |= cmd != HMS_HBIND_CMD_DEFAULT;
		nops++;
		i += 1 + ndw;
	}
	if (need_targets && !p->ntargets)
		return -EINVAL;
	return nops;
}

HMS_API int hms_hbind(struct hms *h, struct hms_hbind_params *p)
{
	struct hms_hbind_op ops[HMS_HBIND_MAX_DWORDS];
	struct hms_tgt tgt[HMS_BIND_MAX_TARGETS];
	uintptr_t s, e;
	long nops;
	int ret = hms__check(h);

	if (ret)
		return ret;
	nops = hms__hbind_decode(p, ops);
	if (nops < 0)
		return (int)nops;
	s = (uintptr_t)p->start;
	e = (uintptr_t)p->end;
	if (p->ntargets) {
		ret = hms__targets_resolve(h, (const hms_uid *)(uintptr_t)p->targets,
					   p->ntargets, tgt);
		if (ret)
			return ret;
	}
	ret = hms__placement_range(h, (void *)s, e - s);
	if (ret)
		return ret;
	for (long i = 0; i < nops; i++) {
		long moved;

		switch (ops[i].cmd) {
		case HMS_HBIND_CMD_DEFAULT:
			ret = hms__policy_apply(h, s, e, HMS_POLICY_DEFAULT, NULL, 0);
			break;
		case HMS_HBIND_CMD_BIND:
			ret = hms__policy_apply(h, s, e, HMS_POLICY_BIND, tgt, p->ntargets);
			break;
		case HMS_HBIND_CMD_MIGRATE:
			moved = hms__migrate_range(h, s, e, tgt, p->ntargets);
			ret = moved < 0 ? (int)moved : 0;
			if (moved >= 0)
				*ops[i].result = moved > UINT32_MAX ? UINT32_MAX : (uint32_t)moved;
			break;
		}
		if (ret)
			return ret;
	}
	return 0;
}
