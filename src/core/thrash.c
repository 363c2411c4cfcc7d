/* SPDX-License-Identifier: MIT */
/*
 * thrash.c - damping of pages passed back and forth.
 *
 * A policy that binds a range to device memory places a page there at a
 * device's touch (policy.c).  Two parties touching the same pages at
 * once undo each other: the CPU's fault brings a page home and the
 * device's next touch places it again, or two devices the policy lists
 * take it from each other (neither reaches the other's private memory).
 * Each move ends the other side's hms_range_fault() (an invalidation), so
 * besides the copies both sides retry, and can do so for seconds: two
 * softdevs reading 8 MiB bound to both, ten times each, made 120,000
 * migrations in 6.8 s here; a softdev reading 4 MiB bound to it five
 * times while a CPU thread read it took 28 s.  (Both while a device's
 * touch placed one page per migration; with runs of up to 2 MiB the CPU
 * case went, the two devices' stayed: `hms bench thrash` compares with
 * and without what follows.)
 *
 * So hms counts, per 2 MiB block, the rounds of such a contest: a page
 * placed by one device's touch and taken from it by another party (the
 * CPU, another device) before that party itself placed anything there.
 * A handoff (device A's phase, then B's or the CPU's) is one round.
 * HMS_THRASH_ROUNDS (3) rounds, each within HMS_THRASH_MS (1000) of the
 * one before, pin the block: for HMS_THRASH_PIN_MS (2000) no device touch
 * places a page of it, so the pages stay where the last touch left them
 * (system memory, which every party reaches) and the contest ends.  The
 * window is wide because a round lasts as long as a device takes to go
 * through its range page by page (50 ms let two softdevs reading 8 MiB
 * contest for 9 s: their rounds on a block came 100-200 ms apart).  A
 * pin holds back placements only: pages already in a device's memory stay
 * there, so a block where the CPU reads one value a device writes loses
 * only the pages the CPU's faults bring home.  hms_page_query()
 * reports such pages HMS_PAGE_THRASHING; a policy set over the block,
 * or the block unmapped or unmanaged (area.c's removal), forgets its
 * count and pin.  Explicit moves (hms_migrate, a driver's
 * migration) are neither counted nor held back.
 *
 * The record is a table of HMS_THRASH_SLOTS slots, one block each, found
 * by hashing the block's address; a block takes over the slot of another
 * (losing that one's count and pin) only when a device's touch places a
 * page in it.  Guarded by hms.lock (struct hms.thrash).
 */
#include "internal.h"

#define BLOCK_MASK (~(uintptr_t)(HMS_HUGE_PAGE_SIZE - 1))

void hms__thrash_init(struct hms *h)
{
	h->thrash_rounds = hms__env_uint("HMS_THRASH_ROUNDS", 3, 0, 255);
	h->thrash_window_ns = (uint64_t)hms__env_uint("HMS_THRASH_MS", 1000, 1, 3600000) * 1000000;
	h->thrash_pin_ns = (uint64_t)hms__env_uint("HMS_THRASH_PIN_MS", 2000, 1, 3600000) * 1000000;
}

static struct hms_thrash *slot_of(struct hms *h, uintptr_t block)
{
	uint64_t k = (uint64_t)(block >> 21) * 0x9e3779b97f4a7c15ull;

	return &h->thrash[k >> (64 - HMS_THRASH_SLOT_BITS)];
}

/* The slot that records addr's block, or NULL. */
static struct hms_thrash *find(struct hms *h, uintptr_t addr)
{
	struct hms_thrash *s = slot_of(h, addr & BLOCK_MASK);

	return s->block == (addr & BLOCK_MASK) ? s : NULL;
}

void hms__thrash_placed_locked(struct hms *h, uintptr_t addr, const void *owner)
{
	uintptr_t block = addr & BLOCK_MASK;
	struct hms_thrash *s = slot_of(h, block);

	if (!h->thrash_rounds)
		return;
	if (s->block != block)
		*s = (struct hms_thrash){ .block = block };
	s->placer = owner;
	s->placed = true;
}

void hms__thrash_taken_locked(struct hms *h, uintptr_t addr, const void *taker)
{
	struct hms_thrash *s = find(h, addr);
	uint64_t now;

	/* One round per contest: pages the same party goes on taking, or
	 * takes after placing some of the block itself (a handoff), are not
	 * another. */
	if (!s || !s->placed || s->placer == taker)
		return;
	s->placed = false;
	now = hms__now_ns();
	if (s->rounds && now - s->round_ns <= h->thrash_window_ns)
		s->rounds++;
	else
		s->rounds = 1;
	s->round_ns = now;
	if (s->rounds >= h->thrash_rounds) {
		s->pinned_until_ns = now + h->thrash_pin_ns;
		s->rounds = 0;
	}
}

bool hms__thrash_pinned_locked(struct hms *h, uintptr_t addr)
{
	const struct hms_thrash *s = find(h, addr);

	return s && s->pinned_until_ns && hms__now_ns() < s->pinned_until_ns;
}

void hms__thrash_forget_locked(struct hms *h, uintptr_t start, uintptr_t end)
{
	for (size_t i = 0; i < HMS_THRASH_SLOTS; i++) {
		struct hms_thrash *s = &h->thrash[i];

		if (s->block && s->block < end && s->block + HMS_HUGE_PAGE_SIZE > start)
			*s = (struct hms_thrash){ 0 };
	}
}
