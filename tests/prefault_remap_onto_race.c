/* SPDX-License-Identifier: MIT */
/* prefault_remap_onto_race: hms_prefault() of a never-populated page A
 * runs while another thread mremap(MREMAP_FIXED)s a managed range Z, whose
 * pages are on a device, onto A.  The prefault's zero fill went through no
 * fill gate and retried EAGAIN without looking at the table again, so it
 * landed at A after the kernel had moved Z there: the table said A was on
 * the device (Z's data), the CPU had a zero page there and read zeros, and
 * the data came back as a fill conflict (found by review).  A fault's fill
 * off the handler thread now goes through the gate once and, refused,
 * looks at the table again.  The uffd_eagain injection holds the fill in
 * its EAGAIN loop while the mremap happens, as the kernel's own EAGAIN
 * does during an mremap.  For a read prefault, then a write prefault. */
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

#define NPAGES 4

static struct hms *h;
static char *A;
static bool write_pf;
static long pre_ret;

static void *prefaulter(void *arg)
{
	(void)arg;
	pre_ret = hms_prefault(h, A, T_PAGE, write_pf);
	return NULL;
}

static void run(struct hms_softdev *d)
{
	size_t size = NPAGES * T_PAGE;
	char *Z = hms_alloc(h, size, 0);
	struct hms_softdev_cmd c;
	uint64_t hits, conflicts = hms__test_fill_conflicts(h);
	pthread_t t;

	A = hms_alloc(h, size, 0);
	T_ASSERT(Z && A);
	t_fill((int *)Z, size / sizeof(int), 5000);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, Z, NULL, NPAGES, &c), 0);
	T_EQ(t_count_loc(h, Z, NPAGES, HMS_LOC_DEVICE), NPAGES);

	hits = hms__inject_hits(HMS_INJ_UFFD_EAGAIN);
	T_EQ(hms__inject_arm("uffd_eagain:1"), 0);
	T_EQ(pthread_create(&t, NULL, prefaulter, NULL), 0);
	while (hms__inject_hits(HMS_INJ_UFFD_EAGAIN) < hits + 5)
		usleep(100);
	/* The prefault's fill is refused (EAGAIN), page A not yet filled. */
	T_ASSERT(mremap(Z, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, A) == A);
	T_EQ(hms_sync(h), 0);
	T_EQ(hms__inject_arm(""), 0); /* the fill may go in now */
	T_EQ(pthread_join(t, NULL), 0);
	/* page A brought home, or the prefault saw A unmapped (the mremap
	 * unmaps A before it moves Z in): either way, Z's data at A */
	if (pre_ret != 1 && pre_ret != -ENOENT)
		T_FAIL("hms_prefault: %ld", pre_ret);
	t_check((int *)A, size / sizeof(int), 5000);
	T_EQ(hms__test_fill_conflicts(h), conflicts);
	T_EQ(hms_free(h, A, size), 0);
}

int main(void)
{
	struct hms_softdev *d;

	h = t_open();
	d = t_softdev(h, 0);
	write_pf = false;
	run(d);
	write_pf = true;
	run(d);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
