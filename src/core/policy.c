/* SPDX-License-Identifier: MIT */
/*
 * policy.c - per-range placement policy.  (Being written: issue 5.  Until
 * then no range has a policy, which is the DEFAULT policy everywhere.)
 */
#include "core/internal.h"

void hms__policy_fini(struct hms *h)
{
	(void)h;
}

void hms__policy_remove_locked(struct hms *h, uintptr_t start, uintptr_t end)
{
	(void)h;
	(void)start;
	(void)end;
}

int hms__policy_place_device(struct hms *h, uintptr_t addr, void *owner)
{
	(void)h;
	(void)addr;
	(void)owner;
	return 0;
}
