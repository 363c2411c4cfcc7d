/* write_during_migration: CPU threads keep writing counters into pages
 * while another thread migrates them to a softdev and back in a loop; at
 * the end every page holds each writer's last value: no write is lost. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include "hms_test.h"

#define NPAGES 64
#define NWRITERS 2
#define RUN_MS 2000

static volatile int *p;
static atomic_int stop;
static int last[NWRITERS];

static void *writer(void *arg)
{
	int w = (int)(intptr_t)arg, v = 0;

	while (!atomic_load(&stop)) {
		v++;
		for (size_t i = 0; i < NPAGES; i++)
			p[i * (T_PAGE / sizeof(int)) + (size_t)w * 16] = v;
	}
	last[w] = v;
	return NULL;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	pthread_t t[NWRITERS];
	struct timespec t0, t1;
	struct hms_softdev_cmd c;
	long rounds = 0, moved = 0;
	int *buf = malloc(NPAGES * T_PAGE);

	p = hms_alloc(h, NPAGES * T_PAGE, 0);
	T_ASSERT(p && buf);
	for (int w = 0; w < NWRITERS; w++)
		T_EQ(pthread_create(&t[w], NULL, writer, (void *)(intptr_t)w), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, (void *)p, NULL, NPAGES, &c), 0);
		moved += (long)c.cpages;
		T_EQ(t_cmd(d, hms_softdev_migrate_to_system, (void *)p, NULL, NPAGES, &c), 0);
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < RUN_MS);
	atomic_store(&stop, 1);
	for (int w = 0; w < NWRITERS; w++)
		pthread_join(t[w], NULL);
	printf("%ld rounds, %ld pages moved to the device, last values %d %d\n", rounds, moved,
	       last[0], last[1]);
	T_ASSERT(moved > 0);
	for (size_t i = 0; i < NPAGES; i++)
		for (int w = 0; w < NWRITERS; w++)
			if (p[i * (T_PAGE / sizeof(int)) + (size_t)w * 16] != last[w])
				T_FAIL("page %zu writer %d: %d, last written %d", i, w,
				       p[i * (T_PAGE / sizeof(int)) + (size_t)w * 16], last[w]);
	/* The device sees the same after one more migration. */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, (void *)p, NULL, NPAGES, &c), 0);
	T_EQ(c.cpages, NPAGES);
	T_EQ(t_cmd(d, hms_softdev_read, (void *)p, buf, NPAGES, &c), 0);
	for (size_t i = 0; i < NPAGES; i++)
		for (int w = 0; w < NWRITERS; w++)
			T_EQ(buf[i * (T_PAGE / sizeof(int)) + (size_t)w * 16], last[w]);
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
