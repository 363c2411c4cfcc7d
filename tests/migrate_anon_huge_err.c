/* migrate_anon_huge_err: device allocation failures injected with
 * hms_softdev_fail_alloc() during migration of 2 MiB huge-page areas lose
 * nothing.
 *
 * What hms must do (hms.h: migration is best effort, "when the pool is
 * full the pages that fit move", cpages = pages moved, -ENOMEM only when
 * not one page could be allocated), where the kernel's test device falls
 * back from a THP to 4 KiB pages and still reports npages:
 *   - with k failures injected, migrating npages moves npages - k:
 *     cpages == npages - k, exactly k pages stay in system memory, every
 *     word is intact on the device's side and the CPU's side, and a second
 *     migration moves the k that stayed;
 *   - with every allocation failing, the call fails with -ENOMEM and no
 *     page moves; once injection is off (0), the whole range moves;
 *   - the same for a never-populated, read-only range (the _zero_err
 *     variant): every page reads zeros;
 *   - migrating back to system memory allocates no device page, so an
 *     armed injection does not affect it. */
#include "hms_test.h"

#define K 16

static int *huge_area(struct hms *h, size_t size, int base)
{
	int *p = hms_alloc(h, size, HMS_ALLOC_HUGE);

	T_ASSERT(p);
	t_fill(p, size / sizeof(int), base);
	return p;
}

static void check_zero(const int *p, size_t n, const char *who)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			T_FAIL("%s word %zu: %d", who, i, p[i]);
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = HMS_HUGE_PAGE_SIZE, npages = size / T_PAGE, n = size / sizeof(int);
	int *buf = malloc(size);
	struct hms_softdev_cmd c;
	int *p;

	T_ASSERT(buf);

	/* k failures: the rest moves, nothing is lost. */
	p = huge_area(h, size, 0);
	hms_softdev_fail_alloc(d, K);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages - K);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), npages - K);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), K);
	T_EQ(hms_softdev_pages_used(d), npages - K);
	memset(buf, 0xFF, size);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	t_check(buf, n, 0);
	/* Fault back a single page (the kernel test's ptr[2048]). */
	T_EQ(p[2048], 2048);
	/* The injection is spent: what is in system memory moves now. */
	{
		size_t sys = t_count_loc(h, p, npages, HMS_LOC_SYSTEM);

		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
		T_EQ(c.cpages, sys);
	}
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), npages);
	t_check(p, n, 0);
	T_EQ(hms_free(h, p, size), 0);
	T_EQ(hms_softdev_pages_used(d), 0);

	/* Every allocation fails: -ENOMEM, nothing moves. */
	p = huge_area(h, size, 100);
	hms_softdev_fail_alloc(d, (unsigned)npages * 2);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), -ENOMEM);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	T_EQ(hms_softdev_pages_used(d), 0);
	t_check(p, n, 100);
	hms_softdev_fail_alloc(d, 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);

	/* Back to system memory with an injection armed: unaffected. */
	hms_softdev_fail_alloc(d, 1);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	T_EQ(p[2048], 2148);
	t_check(p, n, 100);
	hms_softdev_fail_alloc(d, 0);
	T_EQ(hms_free(h, p, size), 0);

	/* The zero variant: never populated, read-only. */
	{
		void *raw;
		int *z = t_map_aligned(size, PROT_READ, &raw);

		T_EQ(hms_manage(h, z, size), 0);
		hms_softdev_fail_alloc(d, K);
		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, z, NULL, npages, &c), 0);
		T_EQ(c.cpages, npages - K);
		T_EQ(t_count_loc(h, z, npages, HMS_LOC_DEVICE), npages - K);
		memset(buf, 0xFF, size);
		T_EQ(t_cmd(d, hms_softdev_read, z, buf, npages, &c), 0);
		check_zero(buf, n, "device");
		T_EQ(z[2048], 0);
		check_zero(z, n, "CPU");
		T_EQ(t_count_loc(h, z, npages, HMS_LOC_DEVICE), 0);
		T_EQ(hms_unmanage(h, z, size), 0);
		T_EQ(munmap(raw, 2 * size), 0);
	}
	T_EQ(hms_softdev_pages_used(d), 0);

	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
