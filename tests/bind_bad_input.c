/* bind_bad_input: every bad argument of hms_bind, hms_bind_default,
 * hms_migrate, hms_where and hms_policy_get gives its documented error
 * and changes nothing (the policy and the pages' places stay).
 */
#include "hms_test.h"
#include "place_util.h"

#define NP 8

static void unchanged(struct hms *h, char *p, hms_uid t)
{
	struct hms_policy pol;

	T_EQ(hms_policy_get(h, p, &pol), 0);
	T_EQ(pol.mode, HMS_POLICY_BIND);
	T_EQ(pol.ntargets, 1);
	T_EQ(pol.targets[0], t);
	T_EQ(pol.start, (uintptr_t)p);
	T_EQ(pol.end, (uintptr_t)(p + NP * T_PAGE));
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 1 << 20);
	hms_uid t = hms_softdev_target(d), node[T_MAX_NODES], many[HMS_BIND_MAX_TARGETS + 1];
	hms_uid ini = hms_softdev_initiator(d), where[NP];
	int nodes[T_MAX_NODES];
	unsigned nn = t_node_targets(h, node, nodes);
	char *p = hms_alloc(h, NP * T_PAGE, 0);
	char *plain = mmap(NULL, T_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	hms_uid dup[2] = { t, t };
	struct hms_policy pol;
	hms_uid raw;

	T_ASSERT(p && plain != MAP_FAILED && nn >= 1);
	memset(p, 7, NP * T_PAGE);
	T_EQ(hms_bind(h, p, NP * T_PAGE, &t, 1, 0), 0);
	for (unsigned i = 0; i <= HMS_BIND_MAX_TARGETS; i++)
		many[i] = t + 1000 + i;
	{
		/* A target registered without device memory behind it. */
		struct hms_target_desc td = { .name = "nowhere", .kind = HMS_TARGET_HBM,
					      .numa_node = HMS_NONE, .size = 1 << 20,
					      .free = HMS_SIZE_UNKNOWN, .memory_tier = HMS_NONE };

		T_EQ(hms_target_add(h, &td, &raw), 0);
	}

	/* hms_bind */
	T_EQ(hms_bind(NULL, p, T_PAGE, &t, 1, 0), -EINVAL);
	T_EQ(hms_bind(h, p, 0, &t, 1, 0), -EINVAL);
	T_EQ(hms_bind(h, p + 1, T_PAGE, &t, 1, 0), -EINVAL);
	T_EQ(hms_bind(h, p, T_PAGE + 1, &t, 1, 0), -EINVAL);
	T_EQ(hms_bind(h, NULL, T_PAGE, &t, 1, 0), -EINVAL);
	T_EQ(hms_bind(h, p, T_PAGE, &t, 1, 0x80), -EINVAL);
	T_EQ(hms_bind(h, p, T_PAGE, NULL, 1, 0), -EINVAL);
	T_EQ(hms_bind(h, p, T_PAGE, &t, 0, 0), -EINVAL);
	T_EQ(hms_bind(h, p, T_PAGE, dup, 2, 0), -EINVAL);
	T_EQ(hms_bind(h, p, T_PAGE, &ini, 1, 0), -EINVAL);    /* an initiator */
	T_EQ(hms_bind(h, p, T_PAGE, many, HMS_BIND_MAX_TARGETS + 1, 0), -E2BIG);
	T_EQ(hms_bind(h, p, T_PAGE, &many[0], 1, 0), -ENOENT); /* no such uid */
	T_EQ(hms_bind(h, p, T_PAGE, &raw, 1, 0), -EXDEV);     /* nothing to place on */
	T_EQ(hms_bind(h, plain, T_PAGE, node, 1, 0), -ENOENT);  /* not managed */
	T_EQ(hms_bind(h, p, (NP + 1) * T_PAGE, node, 1, 0), -ENOENT); /* partly managed */
	T_EQ(hms_bind(h, (void *)-T_PAGE, 2 * T_PAGE, node, 1, 0), -EINVAL); /* wraps */
	unchanged(h, p, t);

	/* hms_bind_default */
	T_EQ(hms_bind_default(h, p, 0), -EINVAL);
	T_EQ(hms_bind_default(h, p + 8, T_PAGE), -EINVAL);
	T_EQ(hms_bind_default(h, plain, T_PAGE), -ENOENT);
	T_EQ(hms_bind_default(h, p, (NP + 1) * T_PAGE), -ENOENT);
	unchanged(h, p, t);

	/* hms_migrate: nothing moves */
	T_EQ(hms_migrate(h, p, NP * T_PAGE, &t, 0, 0), -EINVAL);
	T_EQ(hms_migrate(h, p, NP * T_PAGE, NULL, 1, 0), -EINVAL);
	T_EQ(hms_migrate(h, p, NP * T_PAGE, &t, 1, 0x80), -EINVAL);
	T_EQ(hms_migrate(h, p, NP * T_PAGE, &t, 1, HMS_MIGRATE_POLICY), -EINVAL);
	T_EQ(hms_migrate(h, p, 0, &t, 1, 0), -EINVAL);
	T_EQ(hms_migrate(h, p, NP * T_PAGE, dup, 2, 0), -EINVAL);
	T_EQ(hms_migrate(h, p, NP * T_PAGE, many, HMS_BIND_MAX_TARGETS + 1, 0), -E2BIG);
	T_EQ(hms_migrate(h, p, NP * T_PAGE, &many[0], 1, 0), -ENOENT);
	T_EQ(hms_migrate(h, p, NP * T_PAGE, &raw, 1, 0), -EXDEV);
	T_EQ(hms_migrate(h, p, (NP + 1) * T_PAGE, &t, 1, 0), -ENOENT);
	T_EQ(hms_migrate(h, plain, T_PAGE, &t, 1, 0), -ENOENT);
	T_EQ(t_count_loc(h, p, NP, HMS_LOC_SYSTEM), NP);
	T_EQ(hms_softdev_pages_used(d), 0);

	/* hms_where / hms_policy_get */
	T_EQ(hms_where(h, p, 0, where), -EINVAL);
	T_EQ(hms_where(h, p, NP, NULL), -EINVAL);
	T_EQ(hms_where(h, p + 1, 1, where), -EINVAL);
	T_EQ(hms_where(h, p, NP + 1, where), -ENOENT);
	T_EQ(hms_where(h, plain, 1, where), -ENOENT);
	T_EQ(hms_where(NULL, p, 1, where), -EINVAL);
	T_EQ(hms_policy_get(h, p, NULL), -EINVAL);
	T_EQ(hms_policy_get(h, plain, &pol), -ENOENT);
	T_EQ(hms_policy_get(NULL, p, &pol), -EINVAL);
	unchanged(h, p, t);
	for (size_t i = 0; i < NP * T_PAGE; i++)
		T_EQ(p[i], 7);
	hms_close(h);
	return 0;
}
