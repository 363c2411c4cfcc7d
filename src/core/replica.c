/* SPDX-License-Identifier: MIT */
/*
 * replica.c - read-mostly replication.  A device that reads a page of a
 * READ_MOSTLY range (advice.c) gets it write protected (wp.c) and marked
 * HMS_PFN_REPLICA: the device may copy it into its own memory and keep
 * the copy while the system copy stays.  Which devices were handed a page
 * is a bitmask in the pte, one bit per device slot, for the counters; the
 * copies themselves belong to the drivers, and the first write reaches
 * them all through one PROTECTION_PAGE invalidation (wp.c).
 */
#include <errno.h>

#include "core/internal.h"

/* A device's slot: its devmem's place in the context's list (the last bit
 * is shared by the 32nd device on). */
static uint32_t replica_bit_locked(struct hms *h, void *owner)
{
	unsigned slot = 0;

	for (struct hms_devmem *dm = h->devmems; dm; dm = dm->next) {
		if (dm->desc.owner == owner)
			break;
		slot++;
	}
	return 1u << (slot < 31 ? slot : 31);
}

bool hms__replica_wanted_locked(struct hms *h, const struct hms_pte *pte, uintptr_t addr,
				void *owner)
{
	/* Not in the handler: protecting may wait for it (EAGAIN). */
	return owner && pte->loc == HMS_LOC_SYSTEM && !hms__wp_async(h) && !hms__in_handler(h) &&
	       !(pte->flags & (PTE_REPLICA | PTE_EXCLUSIVE)) && hms__advice_read_mostly(h, addr);
}

void hms__replica_grant_locked(struct hms *h, struct hms_pte *pte, void *owner)
{
	uint32_t bit = replica_bit_locked(h, owner);

	if (!(pte->replicas & bit)) {
		pte->replicas |= bit;
		HMS_STAT_ADD(h, replicas_made, 1);
	}
}

static bool replica_select(struct hms *h, struct hms_pte *pte, uintptr_t addr, void *arg)
{
	(void)arg;
	return pte->loc == HMS_LOC_SYSTEM && !(pte->flags & (PTE_REPLICA | PTE_EXCLUSIVE)) &&
	       hms__advice_read_mostly(h, addr);
}

static void replica_mark(struct hms *h, struct hms_pte *pte, uintptr_t addr, bool prot, void *arg)
{
	(void)h;
	(void)addr;
	(void)arg;
	if (prot)
		pte->replicas = 0;
}

long hms__replica_arm(struct hms *h, uintptr_t start, uintptr_t end)
{
	/* PROTECTION_PAGE: devices that map these pages writable lose that. */
	struct hms__wp_op op = { .why = PTE_REPLICA, .event = HMS_EVENT_PROTECTION_PAGE,
				 .select = replica_select, .mark = replica_mark };

	return hms__wp_protect_op(h, start, end, &op);
}

int hms__replica_drop(struct hms *h, uintptr_t start, uintptr_t end)
{
	long n = hms__wp_unprotect(h, start, end, PTE_REPLICA, HMS_EVENT_PROTECTION_PAGE);

	return n < 0 ? (int)n : 0;
}
