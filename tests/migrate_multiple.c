/* migrate_multiple: ten times, fresh memory migrates to the device whole
 * and a CPU read faults every page back intact; device memory and the
 * counters balance at the end. */
#include "hms_test.h"

#define NTIMES 10

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 1024, size = npages * T_PAGE, n = size / sizeof(int);
	int *buf = malloc(size);
	struct hms_stats st;

	T_ASSERT(buf);
	for (int c = 0; c < NTIMES; c++) {
		int *p = hms_alloc(h, size, 0);
		struct hms_softdev_cmd cmd;

		T_ASSERT(p);
		t_fill(p, n, c);
		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &cmd), 0);
		T_EQ(cmd.cpages, npages);
		T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), npages);
		T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &cmd), 0);
		T_EQ(cmd.faults, 0);
		t_check(buf, n, c);
		t_check(p, n, c);
		T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
		T_EQ(hms_softdev_pages_used(d), 0);
		T_EQ(hms_free(h, p, size), 0);
	}
	T_EQ(hms_stats(h, &st), 0);
	T_EQ(st.migrations_to_device, NTIMES * npages);
	T_EQ(st.migrations_to_system, NTIMES * npages);
	T_EQ(st.bytes_to_device, NTIMES * size);
	T_EQ(st.bytes_to_system, NTIMES * size);

	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
