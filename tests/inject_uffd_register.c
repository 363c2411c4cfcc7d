/* inject_uffd_register: a UFFDIO_REGISTER that fails (fault injection
 * point uffd_register, ENOMEM as when the kernel cannot split a mapping)
 * gives a clean error where hms registers memory for the application
 * (hms_alloc: NULL and ENOMEM; hms_manage: -ENOMEM, the mapping unmanaged
 * and intact), and where it registers a spare range for gated discards
 * (design 5a): one that cannot be set up is not used (the discard falls
 * back to MADV_DONTNEED), the next migration with registration working
 * again sets one up, and a spare range once set up stays registered (a
 * discard changes no registration); every page reaches the device and
 * reads back byte for byte each time. */
#include <sys/mman.h>
#include "hms_test.h"
#include "inject.h"

#define NPAGES 32

/* Fills the pages with base + i, then there and back. */
static void round_trip(struct hms *h, struct hms_softdev *d, int *p, int base, const char *what)
{
	t_fill(p, NPAGES * T_PAGE / sizeof(int), base);
	t_device_round_trip(h, d, p, NPAGES, base, what);
}

int main(void)
{
	struct hms *h;

	/* Spare ranges go straight back to the free list after each discard
	 * only without page reuse (migrate_page_reuse tests a failed
	 * registration there). */
	setenv("HMS_PAGE_POOL_MB", "0", 1);
	h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = NPAGES * T_PAGE, n = size / sizeof(int);
	int *p, *m;

	/* 1. The application's memory. */
	T_EQ(hms__inject_arm("uffd_register:1"), 0);
	errno = 0;
	T_ASSERT(hms_alloc(h, size, 0) == NULL);
	T_EQ(errno, ENOMEM);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(m != MAP_FAILED);
	t_fill(m, n, 7);
	T_EQ(hms_manage(h, m, size), -ENOMEM);
	T_EQ(hms_page_query(h, m, 1, &(struct hms_page_info){ 0 }), -ENOENT);
	t_check(m, n, 7);
	T_EQ(hms__inject_hits(HMS_INJ_UFFD_REGISTER), 2);
	T_EQ(hms__inject_arm(NULL), 0);
	T_EQ(hms_manage(h, m, size), 0); /* and it works once the kernel does */
	t_check(m, n, 7);
	T_EQ(hms_unmanage(h, m, size), 0);
	munmap(m, size);

	/* 2. The spare ranges of gated discards. */
	p = t_alloc_one_batch(h, size);
	if (!hms__test_gated_discard(h)) {
		printf("spare ranges: not run: discards are not gated (no UFFDIO_MOVE, "
		       "Linux 6.8, or HMS_UFFD_MOVE=0)\n");
	} else {
		/* None can be set up: MADV_DONTNEED. */
		T_EQ(hms__inject_arm("uffd_register:1"), 0);
		round_trip(h, d, p, 100, "no spare range");
		T_EQ(hms__test_spare_discards(h), 0);
		T_ASSERT(hms__inject_hits(HMS_INJ_UFFD_REGISTER) >= 1);
		T_EQ(hms__inject_arm(NULL), 0);
		round_trip(h, d, p, 200, "registration back");
		T_EQ(hms__test_spare_discards(h), 1);
		/* Registered once for good: a discard changes no registration,
		 * so failing registrations no longer touch it. */
		T_EQ(hms__inject_arm("uffd_register:1"), 0);
		round_trip(h, d, p, 300, "spare kept registered");
		T_EQ(hms__test_spare_discards(h), 1);
		T_EQ(hms__inject_hits(HMS_INJ_UFFD_REGISTER), 0);
		T_EQ(hms__inject_arm(NULL), 0);
		printf("spare ranges: none used when none can be set up, one set up "
		       "is used with no further registration, every byte intact\n");
	}
	T_EQ(hms_free(h, p, size), 0);
	T_EQ(hms_softdev_pages_used(d), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
