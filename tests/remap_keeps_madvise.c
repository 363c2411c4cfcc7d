/* remap_keeps_madvise: the fault handler's handling of an mremap leaves
 * the application's own madvise() hints alone.  To learn whether a
 * REMAP's old range is still mapped (MREMAP_DONTUNMAP) it asked
 * madvise(MADV_NORMAL), which also cleared MADV_RANDOM (VmFlags "rr") on
 * a range that was mapped; it asks msync(MS_ASYNC) now, which changes
 * nothing.  The bytes move as they should. */
#include <sys/mman.h>

#include "hms_test.h"

#define NP 4

int main(void)
{
	const size_t len = NP * T_PAGE;
	struct hms *h = t_open();
	char *x = hms_alloc(h, len, 0), *y;

	T_ASSERT(x);
	y = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(y != MAP_FAILED);
	memset(x, 'x', len);
	T_EQ(madvise(x, len, MADV_RANDOM), 0);
	T_ASSERT(t_vm_flag(x, "rr"));

	/* x stays mapped, registered and managed (empty) */
	T_ASSERT(mremap(x, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, y) == y);
	T_EQ(hms_sync(h), 0);
	T_ASSERT(t_vm_flag(x, "rr"));
	T_ASSERT(t_vm_flag(x, "um"));
	for (size_t i = 0; i < len; i++) {
		T_EQ(y[i], 'x');
		T_EQ(x[i], 0);
	}
	T_EQ(hms_unmanage(h, y, len), 0);
	T_EQ(munmap(y, len), 0);
	T_EQ(hms_free(h, x, len), 0);
	hms_close(h);
	printf("ok: MADV_RANDOM kept on the range an mremap left mapped\n");
	return 0;
}
