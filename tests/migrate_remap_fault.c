/* migrate_remap_fault: a managed area moved with mremap (MREMAP_FIXED, with
 * and without MREMAP_DONTUNMAP, before or after its pages migrate to a
 * softdev, huge pages or not, to each offset) keeps every byte: the CPU
 * faults each page back from the device at its new address. */
#include <sys/mman.h>
#include "hms_test.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = HMS_HUGE_PAGE_SIZE, npages = size / T_PAGE, n = size / sizeof(int);
	size_t offsets[3] = { 0, size / 4, size / 2 };
	int *buf = malloc(size);

	T_ASSERT(buf);
	for (int before = 0; before < 2; before++)
	for (int dont_unmap = 0; dont_unmap < 2; dont_unmap++)
	for (int thp = 0; thp < 2; thp++)
	for (int j = 0; j < 3; j++) {
		int flags = MREMAP_MAYMOVE | MREMAP_FIXED | (dont_unmap ? MREMAP_DONTUNMAP : 0);
		char *old = mmap(NULL, 8 * size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *map, *to, *ptr;
		struct hms_softdev_cmd c;

		T_ASSERT(old != MAP_FAILED);
		map = (char *)(((uintptr_t)old + size - 1) & ~(size - 1));
		T_EQ(madvise(map, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE), 0);
		/* The target stays reserved (our own mapping, replaced by the
		 * move), so that no other thread's mmap can land there. */
		if (thp)
			t_fill((int *)map, n, 0); /* huge pages first, then manage */
		T_EQ(hms_manage(h, map, size), 0);
		if (!thp)
			t_fill((int *)map, n, 0);
		ptr = map;
		to = map + size + offsets[j];
		if (before) {
			ptr = mremap(map, size, size, flags, to);
			T_ASSERT(ptr == to);
		}
		if (t_cmd(d, hms_softdev_migrate_to_device, ptr, NULL, npages, &c) != 0 ||
		    c.cpages != npages)
			T_FAIL("before %d dontunmap %d thp %d offset %zu: migrate: cpages %llu",
			       before, dont_unmap, thp, offsets[j], (unsigned long long)c.cpages);
		memset(buf, 0xFF, size);
		T_EQ(t_cmd(d, hms_softdev_read, ptr, buf, npages, &c), 0);
		t_check(buf, n, 0);
		if (!before) {
			ptr = mremap(map, size, size, flags, to);
			T_ASSERT(ptr == to);
		}
		/* Fault every page back at its new address. */
		for (size_t i = 0; i < n; i++)
			if (((int *)ptr)[i] != (int)i)
				T_FAIL("before %d dontunmap %d thp %d offset %zu: word %zu: %d",
				       before, dont_unmap, thp, offsets[j], i, ((int *)ptr)[i]);
		T_EQ(t_count_loc(h, ptr, npages, HMS_LOC_SYSTEM), npages);
		T_EQ(hms_softdev_pages_used(d), 0);
		T_EQ(hms_unmanage(h, ptr, size), 0);
		T_EQ(munmap(ptr, size), 0);
		T_EQ(munmap(old, 8 * size), 0);
	}
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
