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
 * The record is an open-addressed hash table of blocks (linear probing),
 * made at the first placement by a touch and grown as blocks come, so
 * that any number of blocks can be contested at once: a fixed table of
 * 256 slots, where a block took over the slot of another, lost the
 * counts of a contest over more than a few hundred blocks (768 blocks
 * contested one after the other: none pinned; tests/
 * place_device_thrash_many).  A record whose
 * last event is older than the window and whose pin has run out is stale:
 * growing drops those first.  Forgetting resets a record and leaves its
 * key, stale from then on.  Out of memory, a block goes unrecorded (no
 * damping there, nothing else lost).  Guarded by hms.lock (struct
 * hms.thrash).
 */
#include <stdlib.h>

#include "internal.h"

#define BLOCK_MASK (~(uintptr_t)(HMS_HUGE_PAGE_SIZE - 1))
#define MIN_SLOTS 256

void hms__thrash_init(struct hms *h)
{
	h->thrash_rounds = hms__env_uint("HMS_THRASH_ROUNDS", 3, 0, 255);
	h->thrash_window_ns = (uint64_t)hms__env_uint("HMS_THRASH_MS", 1000, 1, 3600000) * 1000000;
	h->thrash_pin_ns = (uint64_t)hms__env_uint("HMS_THRASH_PIN_MS", 2000, 1, 3600000) * 1000000;
}

void hms__thrash_fini(struct hms *h)
{
	free(h->thrash);
	h->thrash = NULL;
	h->thrash_cap = h->thrash_used = 0;
}

static size_t home_of(uintptr_t block, size_t cap)
{
	return (size_t)(((uint64_t)(block >> 21) * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

/* The slot of block, or the free slot where it would go (table made). */
static struct hms_thrash *probe(struct hms_thrash *t, size_t cap, uintptr_t block)
{
	size_t i = home_of(block, cap);

	while (t[i].block && t[i].block != block)
		i = (i + 1) & (cap - 1);
	return &t[i];
}

/* The record of addr's block, or NULL. */
static struct hms_thrash *find(struct hms *h, uintptr_t addr)
{
	struct hms_thrash *s;

	if (!h->thrash)
		return NULL;
	s = probe(h->thrash, h->thrash_cap, addr & BLOCK_MASK);
	return s->block ? s : NULL;
}

static bool stale(const struct hms *h, const struct hms_thrash *s, uint64_t now)
{
	return now >= s->pinned_until_ns && now - s->last_ns > h->thrash_window_ns;
}

/* Make room for one more record: a new table without the stale ones,
 * twice the live ones at least.  False: no memory (the old one stays). */
static bool make_room(struct hms *h)
{
	uint64_t now = hms__now_ns();
	size_t live = 0, cap = MIN_SLOTS;
	struct hms_thrash *t;

	if (h->thrash && (h->thrash_used + 1) * 4 <= h->thrash_cap * 3)
		return true;
	for (size_t i = 0; i < h->thrash_cap; i++)
		live += h->thrash[i].block && !stale(h, &h->thrash[i], now);
	while ((live + 1) * 2 > cap)
		cap *= 2;
	t = calloc(cap, sizeof(*t));
	if (!t)
		return false;
	for (size_t i = 0; i < h->thrash_cap; i++)
		if (h->thrash[i].block && !stale(h, &h->thrash[i], now))
			*probe(t, cap, h->thrash[i].block) = h->thrash[i];
	free(h->thrash);
	h->thrash = t;
	h->thrash_cap = cap;
	h->thrash_used = live;
	return true;
}

void hms__thrash_placed_locked(struct hms *h, uintptr_t addr, const void *owner)
{
	uintptr_t block = addr & BLOCK_MASK;
	struct hms_thrash *s;

	if (!h->thrash_rounds)
		return;
	s = find(h, block);
	if (!s) {
		if (!make_room(h))
			return; /* unrecorded: no damping for this block */
		s = probe(h->thrash, h->thrash_cap, block);
		*s = (struct hms_thrash){ .block = block };
		h->thrash_used++;
	}
	s->placer = owner;
	s->placed = true;
	s->last_ns = hms__now_ns();
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
	s->round_ns = s->last_ns = now;
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

/* A forgotten record keeps its key (the probe chains stay whole) and is
 * stale from now on. */
static void forget_one(struct hms_thrash *s)
{
	*s = (struct hms_thrash){ .block = s->block };
}

void hms__thrash_forget_locked(struct hms *h, uintptr_t start, uintptr_t end)
{
	uintptr_t first = start & BLOCK_MASK;

	if (!h->thrash_used || end <= start)
		return;
	/* Look up each block of a short range; scan the table for a long one. */
	if (((end - 1 - first) >> 21) < h->thrash_cap) {
		for (uintptr_t b = first; b < end && b >= first; b += HMS_HUGE_PAGE_SIZE) {
			struct hms_thrash *s = find(h, b);

			if (s)
				forget_one(s);
		}
		return;
	}
	for (size_t i = 0; i < h->thrash_cap; i++) {
		struct hms_thrash *s = &h->thrash[i];

		if (s->block && s->block < end && s->block + HMS_HUGE_PAGE_SIZE > start)
			forget_one(s);
	}
}
