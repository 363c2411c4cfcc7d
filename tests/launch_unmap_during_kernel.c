/* launch_unmap_during_kernel: the application frees a range while a
 * softdev kernel still runs on it (a race of its own making).  What the
 * kernel writes after that must not reach memory that now holds other
 * data: the device pages it works on go back to the pool only once the
 * kernel is done.  A range migrated to the device meanwhile keeps every
 * byte, and no device page is lost. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include "hms_test.h"

#define NPAGES 8

static atomic_int started, go;
static struct hms_softdev *dev;
static struct hms_softdev_cmd launch_cmd;

static void kernel(void *page, uint64_t index, void *arg)
{
	(void)arg;
	if (index == 0) {
		atomic_store(&started, 1);
		while (!atomic_load(&go))
			usleep(100);
	}
	memset(page, 0xEE, T_PAGE); /* for page 0: after the range is freed */
}

static void *launcher(void *arg)
{
	(void)arg;
	T_EQ(hms_softdev_launch(dev, &launch_cmd, kernel, NULL), 0);
	return NULL;
}

int main(void)
{
	struct hms *h = t_open();
	size_t size = NPAGES * T_PAGE, n = size / sizeof(int);
	struct hms_softdev_cmd c;
	pthread_t t;
	char *range, *q;

	dev = t_softdev(h, 0);
	range = hms_alloc(h, size, 0);
	T_ASSERT(range);
	memset(range, 1, size);
	launch_cmd = (struct hms_softdev_cmd){ .addr = (uintptr_t)range, .npages = NPAGES };
	T_EQ(pthread_create(&t, NULL, launcher, NULL), 0);
	t_watchdog(60, "the kernel did not start");
	while (!atomic_load(&started))
		usleep(100);
	t_watchdog(0, NULL);
	/* The kernel is inside page 0.  Free the range under it, then move
	 * other data to the device: its pages come from the pool. */
	T_EQ(hms_free(h, range, size), 0);
	T_EQ(hms_sync(h), 0);
	q = hms_alloc(h, size, 0);
	T_ASSERT(q);
	t_fill((int *)q, n, 77);
	T_EQ(t_cmd(dev, hms_softdev_migrate_to_device, q, NULL, NPAGES, &c), 0);
	T_EQ(c.cpages, NPAGES);
	atomic_store(&go, 1);
	T_EQ(pthread_join(t, NULL), 0);
	/* The kernel's late write went nowhere that matters... */
	t_check((int *)q, n, 77);
	/* ...and its pages are back in the pool. */
	T_EQ(hms_free(h, q, size), 0);
	T_EQ(hms_sync(h), 0);
	T_EQ(hms_softdev_pages_used(dev), 0);
	hms_softdev_destroy(dev);
	hms_close(h);
	return 0;
}
