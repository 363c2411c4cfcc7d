/* migrate: pages move to device memory (the CPU's copy is gone, the
 * device's holds every byte) and a CPU read brings each back intact. */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 1024, n = npages * T_PAGE / sizeof(int);
	int *p = hms_alloc(h, npages * T_PAGE, 0);
	int *buf = malloc(npages * T_PAGE);
	struct hms_softdev_cmd c;
	struct hms_stats st;

	T_ASSERT(p && buf);
	t_fill(p, n, 7);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), npages);
	T_EQ(hms_softdev_pages_used(d), npages);
	/* The device reads its own memory without faults. */
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.faults, 0);
	t_check(buf, n, 7);
	/* CPU reads fault the pages back. */
	t_check(p, n, 7);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	T_EQ(hms_softdev_pages_used(d), 0);
	T_EQ(hms_stats(h, &st), 0);
	T_EQ(st.migrations_to_device, npages);
	T_EQ(st.migrations_to_system, npages);
	T_ASSERT(st.cpu_faults_device > 0);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
