/* bind_mremap: a policy follows its pages when mremap moves them (the
 * kernel's VMA policy does too); the old addresses are left without it,
 * and a device-resident page of the bound range arrives intact. */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 1 << 20);
	hms_uid t = hms_softdev_target(d);
	size_t n = 16, len = n * T_PAGE;
	char *p = hms_alloc(h, len, 0), *q;
	struct hms_policy pol;
	struct hms_softdev_cmd c;

	T_ASSERT(p);
	memset(p, 0x5a, len);
	T_EQ(hms_bind(h, p + 4 * T_PAGE, 8 * T_PAGE, &t, 1, 0), 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p + 4 * T_PAGE, NULL, 8, &c), 0);
	T_EQ(c.cpages, 8);

	/* A destination that is free: map and unmap a range there first. */
	q = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(q != MAP_FAILED);
	T_ASSERT(mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, q) == q);

	T_EQ(hms_policy_get(h, q + 6 * T_PAGE, &pol), 0);
	T_EQ(pol.mode, HMS_POLICY_BIND);
	T_EQ(pol.ntargets, 1);
	T_EQ(pol.targets[0], t);
	T_EQ(pol.start, (uintptr_t)(q + 4 * T_PAGE));
	T_EQ(pol.end, (uintptr_t)(q + 12 * T_PAGE));
	T_EQ(hms_policy_get(h, q, &pol), 0);
	T_EQ(pol.mode, HMS_POLICY_DEFAULT);
	/* The old addresses are not managed any more. */
	T_EQ(hms_policy_get(h, p + 6 * T_PAGE, &pol), -ENOENT);
	/* The pages moved with their data, device-resident ones included. */
	T_EQ(t_count_loc(h, q + 4 * T_PAGE, 8, HMS_LOC_DEVICE), 8);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)q[i] != 0x5a)
			T_FAIL("byte %zu: %#x", i, (unsigned char)q[i]);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
