/* bind_mbind_partial: an hms_bind() that mbind(2) fails part way through
 * (the process is at its limit of mappings, and the second of the range's
 * two VMAs would have to be split) returns the error and leaves the
 * kernel's NUMA policy of the range as it was, in step with the policy
 * tree: mbind had already given the first VMA the new policy, which the
 * pages filled there then followed while hms_policy_get() said DEFAULT.
 */
#include <numaif.h>

#include "hms_test.h"
#include "place_util.h"

static int kernel_mode(const void *addr)
{
	unsigned long mask[1024 / (8 * sizeof(unsigned long))];
	int mode = -1;

	if (get_mempolicy(&mode, mask, 1025, (void *)addr, MPOL_F_ADDR))
		return -errno;
	return mode;
}

/* Splits a mapping of its own until the kernel refuses a new VMA. */
static char *use_up_mappings(size_t *len)
{
	long max = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	char *big;
	size_t k;

	if (f) {
		if (fscanf(f, "%ld", &max) != 1)
			max = 65530;
		fclose(f);
	}
	*len = (size_t)max * 2 * T_PAGE;
	big = mmap(NULL, *len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	T_ASSERT(big != MAP_FAILED);
	/* Every other page: two more VMAs each ... */
	for (k = 1; k < (size_t)max; k++)
		if (mprotect(big + 2 * k * T_PAGE, T_PAGE, PROT_READ))
			break;
	T_EQ(errno, ENOMEM);
	/* ... then one more each, cut off the front of the rest, in turn
	 * read-write and read-only so that no two merge. */
	for (k = 2 * k - 1; k < 2 * (size_t)max; k++)
		if (mprotect(big + k * T_PAGE, T_PAGE, k % 2 ? PROT_READ | PROT_WRITE : PROT_READ))
			break;
	T_EQ(errno, ENOMEM);
	return big;
}

int main(void)
{
	struct hms *h = t_open();
	hms_uid uid[T_MAX_NODES];
	int node[T_MAX_NODES];
	struct hms_policy pol;
	size_t len;
	char *p, *big;
	int ret;

#if defined(__SANITIZE_THREAD__)
	/* Its runtime maps memory of its own as it goes: at the limit of
	 * mappings it cannot, and aborts ("unable to unmap"). */
	T_SKIP("the mapping limit this test reaches leaves ThreadSanitizer none; "
	       "the plain and ASan builds run it");
#endif
	T_ASSERT(t_node_targets(h, uid, node) >= 1);
	p = hms_alloc(h, 8 * T_PAGE, 0);
	T_ASSERT(p);
	/* Two VMAs: [0, 2) read-only, [2, 8) read-write. */
	T_EQ(hms_protect(h, p, 2 * T_PAGE, PROT_READ), 0);
	big = use_up_mappings(&len);
	/* [0, 4): the first VMA whole, the second split at 4: refused. */
	ret = hms_bind(h, p, 4 * T_PAGE, &uid[0], 1, 0);
	munmap(big, len);
	T_EQ(ret, -ENOMEM);
	T_EQ(hms_policy_get(h, p, &pol), 0);
	T_EQ(pol.mode, HMS_POLICY_DEFAULT);
	for (int i = 0; i < 8; i++)
		if (kernel_mode(p + i * T_PAGE) != MPOL_DEFAULT)
			T_FAIL("page %d: kernel policy %d after the failed hms_bind, expected "
			       "MPOL_DEFAULT (%d) as the tree says", i, kernel_mode(p + i * T_PAGE),
			       MPOL_DEFAULT);
	/* Room again: the same call works, and both agree. */
	T_EQ(hms_bind(h, p, 4 * T_PAGE, &uid[0], 1, 0), 0);
	T_EQ(kernel_mode(p), MPOL_BIND);
	T_EQ(kernel_mode(p + 3 * T_PAGE), MPOL_BIND);
	T_EQ(kernel_mode(p + 4 * T_PAGE), MPOL_DEFAULT);
	hms_close(h);
	return 0;
}
