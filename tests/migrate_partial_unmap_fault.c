/* migrate_partial_unmap_fault: after pages migrate to a softdev, unmapping
 * half of the area (at each offset, huge pages or not) frees the device
 * memory of the unmapped half and the CPU faults the rest back intact. */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = HMS_HUGE_PAGE_SIZE, npages = size / T_PAGE, n = size / sizeof(int);
	size_t unmap_size = size / 2, offsets[3] = { 0, size / 4, size / 2 };
	int *buf = malloc(size);

	T_ASSERT(buf);
	for (int thp = 0; thp < 2; thp++)
	for (int j = 0; j < 3; j++) {
		char *old = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *map;
		int *ptr;
		struct hms_softdev_cmd c;
		struct hms_page_info info;

		T_ASSERT(old != MAP_FAILED);
		map = (char *)(((uintptr_t)old + size - 1) & ~(size - 1));
		ptr = (int *)map;
		T_EQ(madvise(map, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE), 0);
		if (thp)
			t_fill(ptr, n, 0);
		T_EQ(hms_manage(h, map, size), 0);
		if (!thp)
			t_fill(ptr, n, 0);
		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, map, NULL, npages, &c), 0);
		T_EQ(c.cpages, npages);
		memset(buf, 0xFF, size);
		T_EQ(t_cmd(d, hms_softdev_read, map, buf, npages, &c), 0);
		t_check(buf, n, 0);

		T_EQ(munmap(map + offsets[j], unmap_size), 0);
		/* The unmapped half's device memory is freed once the fault
		 * handler has processed the UNMAP event (munmap returned after it
		 * was read); hms_page_query() waits for that. */
		T_EQ(hms_page_query(h, offsets[j] ? map : map + unmap_size, 1, &info), 1);
		if (hms_softdev_pages_used(d) != npages / 2)
			T_FAIL("thp %d offset %zu: %zu device pages used after munmap, expected %zu",
			       thp, offsets[j], hms_softdev_pages_used(d), npages / 2);
		for (size_t i = 0; i < n; i++)
			if (i * sizeof(int) < offsets[j] || i * sizeof(int) >= offsets[j] + unmap_size)
				if (ptr[i] != (int)i)
					T_FAIL("thp %d offset %zu: word %zu: %d", thp, offsets[j], i,
					       ptr[i]);
		T_EQ(hms_softdev_pages_used(d), 0);
		T_EQ(munmap(old, 2 * size), 0);
	}
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
