/* launch_contended: kernels launched on one softdev while another device
 * keeps taking the same pages (its migrations) and the CPU keeps reading
 * them.  A launch whose pages are taken away between its migration and
 * its check tries again: it succeeds or, taken away round after round
 * for a second, fails with -EBUSY; it never says -ENOMEM (the pool has
 * room for the range many times over).  Every successful kernel's write
 * lands: each page counts exactly the launches that succeeded. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "hms_test.h"

#define NP 64
#define LAUNCHES 500

static atomic_int stop, takes;
static struct hms_softdev *d1;
static char *range;

static void kernel(void *page, uint64_t index, void *arg)
{
	(void)index;
	(void)arg;
	((int *)page)[1]++;
}

static void *taker(void *arg)
{
	unsigned i = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		struct hms_softdev_cmd c;
		int ret = t_cmd(d1, hms_softdev_migrate_to_device, range, NULL, NP, &c);

		if (ret && ret != -ENOENT && ret != -EBUSY)
			T_FAIL("taker's migration: %d", ret);
		atomic_fetch_add(&takes, 1);
		/* and the CPU reads a page now and then (it comes home) */
		if (++i % 4 == 0)
			(void)*(volatile int *)(range + (i % NP) * T_PAGE);
	}
	return NULL;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d0 = t_softdev(h, 8 << 20);
	int ok = 0, busy = 0;
	pthread_t t;

	d1 = t_softdev(h, 8 << 20);
	range = hms_alloc(h, NP * T_PAGE, 0);
	T_ASSERT(range);
	memset(range, 0, NP * T_PAGE);
	T_EQ(pthread_create(&t, NULL, taker, NULL), 0);
	t_watchdog(300, "launches did not finish");
	for (int i = 0; i < LAUNCHES; i++) {
		struct hms_softdev_cmd c = { (uintptr_t)range, NULL, NP };
		int ret, k = atomic_load(&takes);

		while (atomic_load(&takes) == k) /* the taker's turn first */
			usleep(10);
		ret = hms_softdev_launch(d0, &c, kernel, NULL);

		if (ret == 0)
			ok++;
		else if (ret == -EBUSY)
			busy++;
		else
			T_FAIL("launch %d: %d (want 0 or -EBUSY)", i, ret);
	}
	atomic_store(&stop, 1);
	T_EQ(pthread_join(t, NULL), 0);
	t_watchdog(0, NULL);
	fprintf(stderr, "%d launches ran, %d busy, %d takes\n", ok, busy, atomic_load(&takes));
	T_ASSERT(ok > 0);
	for (int i = 0; i < NP; i++)
		if (((volatile int *)(range + i * T_PAGE))[1] != ok)
			T_FAIL("page %d counts %d launches, %d ran", i,
			       ((volatile int *)(range + i * T_PAGE))[1], ok);
	hms_softdev_destroy(d0);
	hms_softdev_destroy(d1);
	hms_close(h);
	return 0;
}
