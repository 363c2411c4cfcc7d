/* manage_keeps_protection: hms_manage() of memory that is not writable
 * records the protection the mappings have (per /proc/self/maps, one
 * mapping read-only, one inaccessible, one read-write in one range):
 * hms_page_query() reports it, and a device may not write what the CPU
 * may only read, before or after the pages move to its memory.  The table
 * used to say read-write for every page: a device wrote into read-only
 * memory, and the CPU read the device's bytes there. */
#include <sys/mman.h>
#include "hms_test.h"

#define N 12 /* 4 read-only, 4 inaccessible, 4 read-write */

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t q = 4 * T_PAGE, nw = q / sizeof(int);
	int *p = mmap(NULL, N * T_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *c = (char *)p;
	int *buf = malloc(q);
	struct hms_page_info pi[N];
	struct hms_softdev_cmd cmd;

	T_ASSERT(p != MAP_FAILED && buf);
	t_fill(p, N * T_PAGE / sizeof(int), 0);
	T_EQ(mprotect(c, q, PROT_READ), 0);
	T_EQ(mprotect(c + q, q, PROT_NONE), 0);
	T_EQ(hms_manage(h, p, N * T_PAGE), 0);

	T_EQ(hms_page_query(h, p, N, pi), N);
	for (int i = 0; i < N; i++)
		if (pi[i].prot != (i < 4 ? PROT_READ : i < 8 ? PROT_NONE : PROT_READ | PROT_WRITE))
			T_FAIL("page %d: prot %d, the mapping's is %d", i, pi[i].prot,
			       i < 4 ? PROT_READ : i < 8 ? PROT_NONE : PROT_READ | PROT_WRITE);

	/* The device may read the read-only pages, not write them. */
	t_fill(buf, nw, 7000);
	T_EQ(t_cmd(d, hms_softdev_write, c, buf, 4, &cmd), -EPERM);
	T_EQ(t_cmd(d, hms_softdev_read, c, buf, 4, &cmd), 0);
	t_check(buf, nw, 0);
	/* Nor touch the inaccessible ones. */
	T_EQ(t_cmd(d, hms_softdev_read, c + q, buf, 4, &cmd), -EFAULT);

	/* In device memory the rule stays the CPU's. */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, c, NULL, 4, &cmd), 0);
	T_EQ(cmd.cpages, 4);
	T_EQ(t_count_loc(h, c, 4, HMS_LOC_DEVICE), 4);
	t_fill(buf, nw, 7000);
	T_EQ(t_cmd(d, hms_softdev_write, c, buf, 4, &cmd), -EPERM);
	t_check(p, nw, 0); /* the CPU reads them back, unchanged */

	/* The read-write part is the device's to write. */
	T_EQ(t_cmd(d, hms_softdev_write, c + 2 * q, buf, 4, &cmd), 0);
	t_check((int *)(c + 2 * q), nw, 7000);

	T_EQ(mprotect(c + q, q, PROT_READ), 0);
	T_EQ(hms_protect(h, c + q, q, PROT_READ), 0);
	t_check((int *)(c + q), nw, (int)nw);
	T_EQ(hms_unmanage(h, p, N * T_PAGE), 0);
	T_EQ(hms_softdev_pages_used(d), 0);
	T_EQ(munmap(p, N * T_PAGE), 0);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
