/* SPDX-License-Identifier: MIT */
/*
 * calls_on_many_mappings: a managed area cut into 256 mappings (every
 * other page read-only) is still live managed memory to the calls that
 * check it: the quick registration probe gives up on that many mappings
 * (uffd.c, REGISTERED_PROBES) and the check reads smaps instead, which
 * must see the mappings side by side, each registered, with no hole.
 * hms_page_query(), hms_protect() and hms_free() of the whole range work,
 * and the data is kept.
 */
#include <sys/mman.h>

#include "hms_test.h"

int main(void)
{
	const size_t npages = 256, size = npages * T_PAGE, n = size / sizeof(int);
	struct hms *h = t_open();
	struct hms_page_info *info = calloc(npages, sizeof(*info));
	int *p = hms_alloc(h, size, 0);

	T_ASSERT(p && info);
	t_fill(p, n, 7);
	for (size_t i = 0; i < npages; i += 2)
		T_EQ(hms_protect(h, (char *)p + i * T_PAGE, T_PAGE, PROT_READ), 0);
	T_EQ(hms_page_query(h, p, npages, info), (long)npages);
	T_EQ(hms_protect(h, p, size, PROT_READ | PROT_WRITE), 0);
	t_check(p, n, 7);
	p[0] = 1; /* writable again */
	T_EQ(hms_free(h, p, size), 0);
	free(info);
	hms_close(h);
	printf("ok\n");
	return 0;
}
