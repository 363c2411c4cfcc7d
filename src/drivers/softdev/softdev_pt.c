/* SPDX-License-Identifier: MIT */
/*
 * softdev_pt.c - the softdev's page table: leaves of 512 entries (2 MiB of
 * address space) in an open-addressing hash keyed by vpn >> 9.  The caller
 * holds the device lock.
 */
#include <errno.h>
#include <stdlib.h>

#include "softdev.h"

static size_t hash(uint64_t key, size_t cap)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 20) & (cap - 1);
}

static struct sd_leaf *find(const struct sd_pt *pt, uint64_t key)
{
	if (!pt->cap)
		return NULL;
	for (size_t i = hash(key, pt->cap);; i = (i + 1) & (pt->cap - 1)) {
		struct sd_leaf *l = pt->slot[i];

		if (!l)
			return NULL;
		if (l->key == key)
			return l;
	}
}

static int grow(struct sd_pt *pt)
{
	size_t cap = pt->cap ? pt->cap * 2 : 64;
	struct sd_leaf **slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < pt->cap; i++) {
		struct sd_leaf *l = pt->slot[i];
		size_t j;

		if (!l)
			continue;
		for (j = hash(l->key, cap); slot[j]; j = (j + 1) & (cap - 1))
			;
		slot[j] = l;
	}
	free(pt->slot);
	pt->slot = slot;
	pt->cap = cap;
	return 0;
}

uint64_t sd_pt_get(const struct sd_pt *pt, uint64_t vpn)
{
	struct sd_leaf *l = find(pt, vpn >> 9);

	return l ? l->e[vpn & 511] : 0;
}

int sd_pt_set(struct sd_pt *pt, uint64_t vpn, uint64_t e)
{
	struct sd_leaf *l = find(pt, vpn >> 9);

	if (!l) {
		size_t j;

		if (!e)
			return 0;
		if ((pt->n + 1) * 2 > pt->cap && grow(pt))
			return -ENOMEM;
		l = calloc(1, sizeof(*l));
		if (!l)
			return -ENOMEM;
		l->key = vpn >> 9;
		for (j = hash(l->key, pt->cap); pt->slot[j]; j = (j + 1) & (pt->cap - 1))
			;
		pt->slot[j] = l;
		pt->n++;
	}
	if (pt->drop && (l->e[vpn & 511] & SD_R))
		pt->drop(pt->drop_arg, l->e[vpn & 511]);
	l->e[vpn & 511] = e;
	return 0;
}

static void clear_leaf(struct sd_pt *pt, struct sd_leaf *l, uint64_t vs, uint64_t ve)
{
	uint64_t base = l->key << 9;
	uint64_t s = vs > base ? vs - base : 0;
	uint64_t e = ve < base + 512 ? ve - base : 512;

	for (uint64_t i = s; i < e; i++) {
		if (pt->drop && (l->e[i] & SD_R))
			pt->drop(pt->drop_arg, l->e[i]);
		l->e[i] = 0;
	}
}

void sd_pt_clear(struct sd_pt *pt, uint64_t vs, uint64_t ve)
{
	if (vs >= ve)
		return;
	if (((ve - 1) >> 9) - (vs >> 9) + 1 > pt->n) {
		/* Wider than the table: walk the leaves instead of the keys. */
		for (size_t i = 0; i < pt->cap; i++) {
			struct sd_leaf *l = pt->slot[i];

			if (l && (l->key << 9) + 512 > vs && (l->key << 9) < ve)
				clear_leaf(pt, l, vs, ve);
		}
		return;
	}
	for (uint64_t k = vs >> 9; k <= (ve - 1) >> 9; k++) {
		struct sd_leaf *l = find(pt, k);

		if (l)
			clear_leaf(pt, l, vs, ve);
	}
}

void sd_pt_free(struct sd_pt *pt)
{
	for (size_t i = 0; i < pt->cap; i++)
		free(pt->slot[i]);
	free(pt->slot);
	pt->slot = NULL;
	pt->cap = pt->n = 0;
}
