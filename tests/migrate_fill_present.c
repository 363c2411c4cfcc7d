/* migrate_fill_present: a migration back from a device that finds the
 * CPU's page already present (the table said the device had it: only a
 * defect in hms gets there, as an MADV_FREE'd page taken for never
 * populated once did) keeps the CPU's page, alone or inside a run, and
 * counts it (hms__test_fill_conflicts, which hms stress checks).  Before,
 * a page alone failed its fill with EEXIST for ever (migrate_to_ram said
 * EAGAIN, a CPU fault on it was retried without end), while the same page
 * inside a run was taken silently.  A test hook puts the page in place
 * with UFFDIO_COPY just before the migration's fill. */
#include <linux/userfaultfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include "hms_test.h"
#include "inject.h"

#define NPAGES 8

static struct {
	struct hms *h;
	char *p;   /* the page to put in place, NULL: none */
	bool done; /* the hook put it there */
} race;

static char cpu_page[4096] __attribute__((aligned(4096)));

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	struct uffdio_copy c;

	(void)arg;
	if (!race.p || race.done || point != HMS_HOOK_MIGRATE_COMMIT ||
	    (uintptr_t)race.p < start || (uintptr_t)race.p >= start + len)
		return;
	race.done = true;
	c = (struct uffdio_copy){ .dst = (uintptr_t)race.p, .src = (uintptr_t)cpu_page,
				  .len = sizeof(cpu_page), .mode = UFFDIO_COPY_MODE_DONTWAKE };
	T_EQ(ioctl(hms__test_uffd(race.h), UFFDIO_COPY, &c), 0);
	T_EQ(c.copy, (long)sizeof(cpu_page));
}

/* Pages [0, npages) of p go to the device with data base; page k is put in
 * place by the hook on the way back, which must bring every page home. */
static void round_trip(struct hms *h, struct hms_softdev *d, char *p, size_t npages, size_t k,
		       int base, uint64_t conflicts)
{
	size_t n = T_PAGE / sizeof(int);
	struct hms_softdev_cmd c;

	t_fill((int *)p, npages * n, base);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	T_EQ(c.cpages, npages);
	t_fill((int *)cpu_page, n, base + 7777);
	race = (typeof(race)){ h, p + k * T_PAGE, false };
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, npages, &c), 0);
	race.p = NULL;
	if (!race.done)
		T_FAIL("the hook did not run");
	T_EQ(c.cpages, npages);
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
	T_EQ(hms_softdev_pages_used(d), 0);
	T_EQ(hms__test_fill_conflicts(h), conflicts);
	for (size_t i = 0; i < npages; i++)
		if (i == k)
			t_check((const int *)(p + i * T_PAGE), n, base + 7777);
		else
			t_check((const int *)(p + i * T_PAGE), n, base + (int)(i * n));
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = NPAGES * T_PAGE;
	char *p = t_alloc_one_batch(h, size);

	t_watchdog(60, "migrate_fill_present");
	T_ASSERT(p);
	T_ASSERT(T_PAGE == sizeof(cpu_page));
	hms__test_hook_set(hook, NULL);
	T_EQ(hms__test_fill_conflicts(h), 0);
	round_trip(h, d, p, 1, 0, 100, 1);           /* a page alone */
	round_trip(h, d, p, NPAGES, 3, 200000, 2);   /* inside a run */
	round_trip(h, d, p, NPAGES, NPAGES - 1, 300000, 3); /* a run's last */
	hms__test_hook_set(NULL, NULL);
	/* The pages are the CPU's again: a plain round trip counts nothing. */
	t_fill((int *)p, NPAGES * T_PAGE / sizeof(int), 5);
	t_to_device(h, d, (int *)p, NPAGES, "plain");
	T_ASSERT(hms_prefault(h, p, size, false) >= 1);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_SYSTEM), NPAGES);
	t_check((const int *)p, NPAGES * T_PAGE / sizeof(int), 5);
	T_EQ(hms__test_fill_conflicts(h), 3);
	T_EQ(hms_free(h, p, size), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
