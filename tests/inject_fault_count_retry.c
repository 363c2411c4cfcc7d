/* SPDX-License-Identifier: MIT */
/*
 * inject_fault_count_retry: hms_stats' cpu_faults counts faults resolved,
 * as documented, not tries: with every second fault-resolving ioctl
 * answering EAGAIN (injection point uffd_eagain), 64 first touches (one
 * page each, HMS_FAULT_AROUND=1) count 64 faults.  Before, each retry
 * counted again (about 96).
 */
#include "hms_test.h"
#include "inject.h"

#define NPAGES 64

int main(void)
{
	struct hms_stats s0, s1;
	struct hms *h;
	volatile int *p;

	T_EQ(setenv("HMS_FAULT_AROUND", "1", 1), 0);
	h = t_open();
	p = hms_alloc(h, NPAGES * T_PAGE, 0);
	T_ASSERT(p);
	T_EQ(hms_stats(h, &s0), 0);
	T_EQ(hms__inject_arm("uffd_eagain:2"), 0);
	for (size_t i = 0; i < NPAGES; i++)
		T_EQ(p[i * T_PAGE / sizeof(int)], 0);
	T_ASSERT(hms__inject_hits(HMS_INJ_UFFD_EAGAIN) > 0);
	T_EQ(hms__inject_arm(""), 0);
	T_EQ(hms_stats(h, &s1), 0);
	T_EQ(s1.cpu_faults - s0.cpu_faults, NPAGES);
	hms_free(h, (void *)p, NPAGES * T_PAGE);
	hms_close(h);
	printf("ok\n");
	return 0;
}
