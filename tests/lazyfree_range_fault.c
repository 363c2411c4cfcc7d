/* lazyfree_range_fault: a page MADV_FREE left mapped (the REMOVE event it
 * sends is MADV_DONTNEED's, so the table says discarded, maybe present)
 * and the CPU wrote again is found present by a range fault: reported as
 * a system page and taken as one by the table, the CPU's data intact.  A
 * page MADV_DONTNEED dropped is faulted in (zeros). */
#include <sys/mman.h>

#include "hms_test.h"

#ifndef MADV_FREE
#define MADV_FREE 8
#endif

int main(void)
{
	struct hms *h = t_open();
	char *p = hms_alloc(h, 2 * T_PAGE, 0);
	uint64_t pfns[2];
	struct hms_range r = { .start = (uintptr_t)p, .end = (uintptr_t)p + 2 * T_PAGE,
			       .pfns = pfns, .default_flags = HMS_PFN_REQ_FAULT };
	struct hms_page_info pi;

	T_ASSERT(p);
	memset(p, 'y', 2 * T_PAGE);
	if (madvise(p, T_PAGE, MADV_FREE))
		T_SKIP("MADV_FREE: %s", strerror(errno));
	T_EQ(madvise(p + T_PAGE, T_PAGE, MADV_DONTNEED), 0);
	hms_sync(h);
	p[0] = 'z';

	T_EQ(hms_range_fault(h, &r), 0);
	T_ASSERT(pfns[0] & HMS_PFN_VALID);
	T_ASSERT(!(pfns[0] & (HMS_PFN_DEVICE_PRIVATE | HMS_PFN_ERROR)));
	T_EQ(pfns[0] & HMS_PFN_PFN_MASK, (uintptr_t)p >> 12);
	T_EQ(hms_page_query(h, p, 1, &pi), 1);
	T_EQ(pi.location, HMS_LOC_SYSTEM);
	T_ASSERT(pfns[1] & HMS_PFN_VALID);
	T_EQ(hms_page_query(h, p + T_PAGE, 1, &pi), 1);
	T_EQ(pi.location, HMS_LOC_SYSTEM); /* faulted in: zeros */
	T_EQ(p[0], 'z');
	T_EQ(p[1], 'y');
	T_EQ(p[T_PAGE], 0);
	hms_free(h, p, 2 * T_PAGE);
	hms_close(h);
	return 0;
}
