/* SPDX-License-Identifier: MIT */
/*
 * fuzz_policy.c - libFuzzer target over the policy tree (policy_tree.c)
 * against a per-page reference model of a 256-page window.
 *
 * Input: records of 4 bytes: op (set one of 4 policies, or DEFAULT),
 * first page, page count, and flags: bit 0 clear, reserve first; bit 1
 * set, the record is instead an mremap's move of the pages to a place
 * after them (hms__ptree_move; hms__ptree_move_reserve first with bit 0
 * clear), the source keeping its policies.  After every
 * record the tree must pass hms__ptree_check() and agree with the model
 * on every page: policy, and the run [start, end) it covers (entries are
 * maximal runs of one policy; gaps are bounded by the window's edges only
 * where no entry lies beyond).  Without a reserve the tree allocates as
 * it goes (the spare-entry and malloc paths both run).
 * Build and run: tests/fuzz/run-policy.sh SECONDS.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "inject.h"

#define NP 256
#define BASE ((uintptr_t)1 << 32)

static struct hms_pol pols[5];

/* policy_tree.c's allocations may be made to fail (src/inject.h); not
 * here: the model assumes every allocation succeeds. */
bool hms__inject(enum hms_inject_point p)
{
	(void)p;
	return false;
}

static void make_pols(void)
{
	for (int i = 1; i < 5; i++) {
		pols[i].mode = i < 3 ? HMS_POLICY_BIND : HMS_POLICY_PREFERRED;
		pols[i].ntargets = (uint8_t)(1 + i % 2);
		pols[i].targets[0] = (hms_uid)i;
		pols[i].targets[1] = 7;
	}
}

static void check(struct hms_ptree *t, const uint8_t *model)
{
	if (!hms__ptree_check(t))
		abort();
	for (int i = 0; i < NP; i++) {
		struct hms_pol p;
		uintptr_t s, e, ws, we;
		int a = i, b = i + 1;

		hms__ptree_get(t, BASE + (uintptr_t)i * 4096, &p, &s, &e);
		if (!hms__pol_equal(&p, &pols[model[i]]))
			abort();
		while (a > 0 && model[a - 1] == model[i])
			a--;
		while (b < NP && model[b] == model[i])
			b++;
		ws = a == 0 && !model[i] ? 0 : BASE + (uintptr_t)a * 4096;
		we = b == NP && !model[i] ? UINTPTR_MAX : BASE + (uintptr_t)b * 4096;
		if (s != ws || e != we)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hms_ptree t;
	uint8_t model[NP] = { 0 };

	make_pols();
	hms__ptree_init(&t);
	for (size_t k = 0; k + 4 <= size && k < 4 * 400; k += 4) {
		unsigned op = data[k] % 5, first = data[k + 1], n = 1 + data[k + 2] % 64;
		bool reserve = !(data[k + 3] & 1);

		if (first + n > NP)
			n = NP - first;
		if (data[k + 3] & 2) {
			unsigned to = first + n + data[k] % 32;

			if (to + n > NP)
				continue;
			if (reserve && hms__ptree_move_reserve(&t, BASE + (uintptr_t)first * 4096,
							      (size_t)n * 4096))
				abort();
			hms__ptree_move(&t, BASE + (uintptr_t)first * 4096,
					BASE + (uintptr_t)to * 4096, (size_t)n * 4096);
			memmove(model + to, model + first, n);
			check(&t, model);
			continue;
		}
		if (reserve && hms__ptree_reserve(&t))
			abort();
		hms__ptree_set(&t, BASE + (uintptr_t)first * 4096,
			       BASE + (uintptr_t)(first + n) * 4096, &pols[op]);
		for (unsigned i = first; i < first + n; i++)
			model[i] = (uint8_t)op;
		check(&t, model);
	}
	hms__ptree_fini(&t);
	return 0;
}
