/* fault_huge_block: a CPU read of a page of a huge area (HMS_ALLOC_HUGE)
 * whose whole 2 MiB block lives on one device brings the whole block back
 * in one fault, not the 16-page fault-around window: one fault per block
 * (cpu_faults_device), every page of the block in system memory after it,
 * and, where page reuse and transparent huge pages let the fill make one
 * (a gated discard), the block is a huge page again.  A block only partly
 * on the device, HMS_FAULT_HUGE=0 and an area that is not huge keep the
 * window.  Memory in transparent huge pages that hms_manage() adopted
 * counts as huge where PAGEMAP_SCAN (Linux 6.7) says so, and another
 * device's access through hms_range_fault() is served alike.  Every byte
 * reads back. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"
#include "compat/uffd_compat.h"

#define BLOCKS 4
#define SIZE (BLOCKS * HMS_HUGE_PAGE_SIZE)
#define NPAGES (SIZE / T_PAGE)
#define BLOCK_PAGES (HMS_HUGE_PAGE_SIZE / T_PAGE)
#define WINDOW 16 /* HMS_FAULT_AROUND's default */

static uint64_t device_faults(struct hms *h)
{
	struct hms_stats st;

	T_EQ(hms_stats(h, &st), 0);
	return st.cpu_faults_device;
}

/* CPU faults on device pages since f0, once there are want of them: the
 * handler counts a fault after its fill woke the faulting thread, so the
 * count may lag the read by a little (up to 10 s here). */
static uint64_t faults_since(struct hms *h, uint64_t f0, uint64_t want)
{
	for (int i = 0; i < 10000 && device_faults(h) - f0 < want; i++)
		usleep(1000);
	return device_faults(h) - f0;
}

/* Block b alone came back from the device: all its pages in system
 * memory, every other page still on the device. */
static void block_back(struct hms *h, int *p, size_t b)
{
	T_EQ(t_count_loc(h, (char *)p + b * HMS_HUGE_PAGE_SIZE, BLOCK_PAGES, HMS_LOC_SYSTEM),
	     BLOCK_PAGES);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_DEVICE), NPAGES - BLOCK_PAGES);
}

/* One read at page off of block b (the int there holds base + its index). */
static void read_at(int *p, size_t b, size_t off, int base)
{
	size_t i = (b * HMS_HUGE_PAGE_SIZE + off * T_PAGE) / sizeof(int) + 7;

	T_EQ(((volatile int *)p)[i], base + (int)i);
}

/* Whole blocks: one fault each, and the area huge again where it can be. */
static void whole_blocks(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 2 * SIZE);
	int *p = hms_alloc(h, SIZE, HMS_ALLOC_HUGE);
	bool fresh_possible = hms__test_gated_discard(h);
	long fallbacks = t_thp_fallbacks();
	size_t copied, filled;
	uint64_t f0;

	T_ASSERT(p);
	t_fill(p, SIZE / sizeof(int), 3);
	if (t_anon_huge_kb(p) != (long)(SIZE >> 10))
		fresh_possible = false; /* no transparent huge pages here */
	t_to_device(h, d, p, NPAGES, "to the device");
	f0 = device_faults(h);
	copied = hms__test_pool_copied(h);
	filled = hms__test_huge_filled(h);
	for (size_t b = 0; b < BLOCKS; b++) {
		read_at(p, b, (b * 131 + 5) % BLOCK_PAGES, 3); /* anywhere in the block */
		T_EQ(faults_since(h, f0, b + 1), b + 1);
		T_EQ(t_count_loc(h, (char *)p + b * HMS_HUGE_PAGE_SIZE, BLOCK_PAGES,
				 HMS_LOC_SYSTEM),
		     BLOCK_PAGES);
	}
	T_EQ(hms_softdev_pages_used(d), 0);
	t_check(p, SIZE / sizeof(int), 3);
	T_EQ(faults_since(h, f0, BLOCKS), BLOCKS);
	/* All moved in whole (from kept huge pages, or fresh ones where the
	 * kernel had them to give: it says so in vmstat): huge again. */
	if (fresh_possible &&
	    hms__test_pool_copied(h) - copied + hms__test_huge_filled(h) - filled == SIZE &&
	    (hms__test_huge_filled(h) == filled || t_thp_fallbacks() == fallbacks)) {
		T_EQ(t_anon_huge_kb(p), (long)(SIZE >> 10));
		printf("ok: %d blocks came back in %d faults, as huge pages\n", BLOCKS, BLOCKS);
	} else {
		printf("ok: %d blocks came back in %d faults (no huge pages to fill here)\n",
		       BLOCKS, BLOCKS);
	}
	T_EQ(hms_free(h, p, SIZE), 0);
	hms_softdev_destroy(d);
	hms_close(h);
}

/* Where the block is not all on the device (or whole blocks are off, or
 * the area is not huge), a fault moves its aligned 16-page window (half
 * a block: the read is in that half). */
static void window_only(const char *what, unsigned flags, bool half)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 2 * SIZE);
	int *p = hms_alloc(h, SIZE, flags);
	size_t on = half ? BLOCK_PAGES / 2 : NPAGES;
	uintptr_t win;
	uint64_t f0;

	T_ASSERT(p);
	t_fill(p, SIZE / sizeof(int), 5);
	t_to_device(h, d, p, on, what);
	f0 = device_faults(h);
	/* The window is aligned in the address space (an area that is not
	 * huge need not be 64 KiB aligned). */
	win = ((uintptr_t)p + 100 * T_PAGE) & ~(uintptr_t)(WINDOW * T_PAGE - 1);
	read_at(p, 0, 100, 5);
	T_EQ(faults_since(h, f0, 1), 1);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_DEVICE), on - WINDOW);
	T_EQ(t_count_loc(h, (void *)win, WINDOW, HMS_LOC_SYSTEM), WINDOW);
	t_check(p, SIZE / sizeof(int), 5);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_SYSTEM), NPAGES);
	printf("ok: %s: one fault moved its %d-page window\n", what, WINDOW);
	T_EQ(hms_free(h, p, SIZE), 0);
	hms_softdev_destroy(d);
	hms_close(h);
}

/* Another device's read (hms_range_fault) of one page brings the whole
 * block back from the first device too. */
static void other_device(void)
{
	struct hms *h = t_open();
	struct hms_softdev *a = t_softdev(h, 2 * SIZE), *b = t_softdev(h, 2 * SIZE);
	int *p = hms_alloc(h, SIZE, HMS_ALLOC_HUGE);
	int buf[T_PAGE / sizeof(int)];
	struct hms_softdev_cmd c;

	T_ASSERT(p);
	t_fill(p, SIZE / sizeof(int), 13);
	t_to_device(h, a, p, NPAGES, "to the first device");
	T_EQ(t_cmd(b, hms_softdev_read, (char *)p + 2 * HMS_HUGE_PAGE_SIZE + 77 * T_PAGE, buf, 1,
		   &c),
	     0);
	T_EQ(c.cpages, 1);
	for (size_t i = 0; i < T_PAGE / sizeof(int); i++)
		T_EQ(buf[i], 13 + (int)((2 * HMS_HUGE_PAGE_SIZE + 77 * T_PAGE) / sizeof(int) + i));
	block_back(h, p, 2);
	t_check(p, SIZE / sizeof(int), 13);
	printf("ok: another device's read of one page brought its block back\n");
	T_EQ(hms_free(h, p, SIZE), 0);
	hms_softdev_destroy(b);
	hms_softdev_destroy(a);
	hms_close(h);
}

/* Does the kernel answer PAGEMAP_SCAN (Linux 6.7), which hms_manage()
 * asks whether memory is in huge pages? */
static bool pagemap_scan(void *p)
{
	struct page_region r;
	struct pm_scan_arg a = { .size = sizeof(a), .start = (uintptr_t)p,
				 .end = (uintptr_t)p + T_PAGE, .vec = (uintptr_t)&r, .vec_len = 1,
				 .category_mask = PAGE_IS_HUGE, .return_mask = PAGE_IS_HUGE };
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0 && ioctl(fd, PAGEMAP_SCAN, &a) >= 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* Memory in transparent huge pages adopted by hms_manage() is a huge
 * area too (where PAGEMAP_SCAN says so): a read brings its block back
 * whole. */
static void managed(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 2 * SIZE);
	char *map = mmap(NULL, SIZE + HMS_HUGE_PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int *p;

	T_ASSERT(map != MAP_FAILED);
	p = (int *)(((uintptr_t)map + HMS_HUGE_PAGE_SIZE - 1) & ~(HMS_HUGE_PAGE_SIZE - 1));
	T_EQ(madvise(p, SIZE, MADV_HUGEPAGE), 0);
	t_fill(p, SIZE / sizeof(int), 9);
	if (t_anon_huge_kb(p) != (long)(SIZE >> 10) || !pagemap_scan(p)) {
		printf("ok: managed memory: not run (%s)\n",
		       pagemap_scan(p) ? "no transparent huge pages here" : "no PAGEMAP_SCAN here");
		hms_softdev_destroy(d);
		hms_close(h);
		munmap(map, SIZE + HMS_HUGE_PAGE_SIZE);
		return;
	}
	T_EQ(hms_manage(h, p, SIZE), 0);
	t_to_device(h, d, p, NPAGES, "managed memory to the device");
	read_at(p, 1, 300, 9);
	block_back(h, p, 1);
	t_check(p, SIZE / sizeof(int), 9);
	printf("ok: managed memory in huge pages: one read brought its block back\n");
	T_EQ(hms_unmanage(h, p, SIZE), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	munmap(map, SIZE + HMS_HUGE_PAGE_SIZE);
}

int main(void)
{
	unsetenv("HMS_FAULT_AROUND");
	unsetenv("HMS_FAULT_HUGE");
	whole_blocks();
	window_only("half a block on the device", HMS_ALLOC_HUGE, true);
	window_only("an area that is not huge", 0, false);
	managed();
	other_device();
	T_EQ(setenv("HMS_FAULT_HUGE", "0", 1), 0);
	window_only("HMS_FAULT_HUGE=0", HMS_ALLOC_HUGE, false);
	return 0;
}
