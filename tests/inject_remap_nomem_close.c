/* inject_remap_nomem_close: hms_close() ends while the fault handler
 * waits for memory to move an mremap's table (every allocation failing:
 * injection point nomem), instead of waiting with it for ever: the handler
 * sees the close and drops the move.  No page was on a device, so nothing
 * is lost: the kernel moved the data, which reads back at the new address
 * once the context is gone. */
#include <sys/mman.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

int main(void)
{
	struct hms *h = t_open();
	size_t npages = 16, len = npages * T_PAGE, n = len / sizeof(int);
	int *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int *to = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *q;
	uint64_t hits;

	T_ASSERT(p != MAP_FAILED && to != MAP_FAILED);
	T_EQ(hms_manage(h, p, len), 0);
	t_fill(p, n, 61);
	t_watchdog(60, "hms_close waited for the handler's mremap");
	T_EQ(hms__inject_arm("nomem:1"), 0);
	/* (MREMAP_DONTUNMAP: no UNMAP event follows, which mremap would wait
	 * for the handler to read.) */
	q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, to);
	T_ASSERT(q == to);
	/* The handler tries, fails, waits and tries again. */
	for (int ms = 0; ms < 30000 && hms__inject_hits(HMS_INJ_NOMEM) < 3; ms++)
		usleep(1000);
	hits = hms__inject_hits(HMS_INJ_NOMEM);
	T_ASSERT(hits >= 3);
	hms_close(h);
	T_EQ(hms__inject_arm(NULL), 0);
	t_watchdog(0, NULL);
	t_check(q, n, 61);
	T_EQ(munmap(q, len), 0);
	T_EQ(munmap(p, len), 0);
	return 0;
}
