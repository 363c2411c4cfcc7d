/* policy_tree: hms_bind / hms_bind_default / unmapping, in random seeded
 * sequences, leave exactly the policy a per-page reference model predicts.
 *
 * The model keeps one policy per page of a 96-page area (or "unmanaged"
 * once hms_free() punched it out).  After every step, hms_policy_get() of
 * every page must give the model's mode, targets and run: the maximal run
 * of pages with the same policy (for DEFAULT, within the managed run),
 * which also proves that equal neighbours merge and that splits, left and
 * right overlaps and unmaps cut exactly.  Binds over a hole must fail with
 * -ENOENT and change nothing.  HMS_SEED picks one sequence; by default 40.
 */
#include "hms_test.h"
#include "place_util.h"

#define NP 96
#define STEPS 150

struct mpol {
	bool managed;
	unsigned mode, n;
	hms_uid t[3];
};

static struct mpol model[NP];
static unsigned rng;
static unsigned long bound_seen, holes_seen; /* the sequences do exercise both */

static unsigned rnd(unsigned n)
{
	rng = rng * 1103515245u + 12345u;
	return (rng >> 8) % n;
}

static bool same(const struct mpol *a, const struct mpol *b)
{
	return a->managed == b->managed && a->mode == b->mode && a->n == b->n &&
	       !memcmp(a->t, b->t, a->n * sizeof(a->t[0]));
}

static void check_all(struct hms *h, char *base, unsigned seed, int step)
{
	for (size_t i = 0; i < NP; i++) {
		struct hms_policy p;
		size_t s = i, e = i + 1;
		int ret = hms_policy_get(h, base + i * T_PAGE, &p);

		holes_seen += !model[i].managed;
		bound_seen += model[i].mode != HMS_POLICY_DEFAULT;
		if (!model[i].managed) {
			if (ret != -ENOENT)
				T_FAIL("seed %u step %d page %zu: unmanaged, got %d", seed, step, i, ret);
			continue;
		}
		while (s > 0 && same(&model[s - 1], &model[i]))
			s--;
		while (e < NP && same(&model[e], &model[i]))
			e++;
		if (ret || p.mode != model[i].mode || p.ntargets != model[i].n ||
		    memcmp(p.targets, model[i].t, p.ntargets * sizeof(hms_uid)) ||
		    p.start != (uintptr_t)(base + s * T_PAGE) || p.end != (uintptr_t)(base + e * T_PAGE))
			T_FAIL("seed %u step %d page %zu: got ret %d mode %u n %u [%ld, %ld), "
			       "model mode %u n %u [%zu, %zu)", seed, step, i, ret, p.mode, p.ntargets,
			       (long)((char *)p.start - base) / 4096, (long)((char *)p.end - base) / 4096,
			       model[i].mode, model[i].n, s, e);
	}
}

static void run(unsigned seed)
{
	struct hms *h = t_open();
	char *base = hms_alloc(h, NP * T_PAGE, 0);
	hms_uid pool[T_MAX_NODES + 2];
	int nodes[T_MAX_NODES];
	unsigned npool = t_node_targets(h, pool, nodes);

	/* Device memory targets too, so that there are several to list. */
	pool[npool++] = hms_softdev_target(t_softdev(h, 1 << 20));
	pool[npool++] = hms_softdev_target(t_softdev(h, 1 << 20));

	T_ASSERT(base);
	rng = seed;
	for (size_t i = 0; i < NP; i++)
		model[i] = (struct mpol){ .managed = true };
	for (int step = 0; step < STEPS; step++) {
		unsigned op = rnd(10), s = rnd(NP), len = 1 + rnd(NP - s < 24 ? NP - s : 24);
		bool whole = true;
		struct mpol np = { .managed = true };
		int ret, want;

		for (unsigned i = s; i < s + len; i++)
			whole &= model[i].managed;
		if (op < 6) {
			np.mode = rnd(2) ? HMS_POLICY_BIND : HMS_POLICY_PREFERRED;
			np.n = 1 + rnd(npool < 3 ? npool : 3);
			for (unsigned k = 0; k < np.n; k++)
				np.t[k] = pool[(k + seed) % npool];
			if (rnd(2))
				np.t[0] = pool[rnd(npool)], np.n = 1; /* fewer distinct policies merge more */
			ret = hms_bind(h, base + s * T_PAGE, len * T_PAGE, np.t, np.n,
				       np.mode == HMS_POLICY_PREFERRED ? HMS_BIND_PREFERRED : 0);
		} else if (op < 9) {
			ret = hms_bind_default(h, base + s * T_PAGE, len * T_PAGE);
		} else {
			if (!whole || rnd(3))
				continue; /* a few holes only */
			ret = hms_free(h, base + s * T_PAGE, len * T_PAGE);
			np.managed = false;
		}
		want = whole ? 0 : -ENOENT;
		if (ret != want)
			T_FAIL("seed %u step %d op %u [%u, +%u): %d, expected %d", seed, step, op, s, len,
			       ret, want);
		if (whole)
			for (unsigned i = s; i < s + len; i++)
				model[i] = np;
		check_all(h, base, seed, step);
	}
	hms_close(h); /* frees what is left of the tree (ASan checks) */
}

int main(void)
{
	unsigned first = 0, count = 40;
	const char *env = getenv("HMS_SEED");

	if (env) {
		first = (unsigned)atoi(env);
		count = 1;
	}
	for (unsigned seed = first; seed < first + count; seed++)
		run(seed);
	T_ASSERT(bound_seen > 0 && holes_seen > 0);
	printf("policy_tree: %u sequences of %d steps\n", count, STEPS);
	return 0;
}
