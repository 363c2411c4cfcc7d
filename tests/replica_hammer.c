/* replica_hammer: the stale-read hammer.  Two CPU writer threads bump
 * per-page versions in a READ_MOSTLY range (each page has one writer, so
 * its version only grows) while a CPU reader and two softdevs read it
 * over and over: no reader ever sees a version older than one whose write
 * had completed before its read began.  Run under ThreadSanitizer too. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "hms_test.h"

#define NPAGES 8
#define WRITES 500 /* 150 in the emulated NUMA VM (HMS_IN_VM): 33 s there */

static struct hms *h;
static uint64_t *p;                  /* version of page i at p[i * 512] */
static _Atomic uint64_t done_v[NPAGES]; /* last version whose write completed */
static atomic_int writers_left = 2;
static atomic_ulong stale, reads, dev_rounds;
static uint64_t writes = WRITES; /* set before the threads start */

static uint64_t *slot(int i)
{
	return &p[(size_t)i * (T_PAGE / sizeof(uint64_t))];
}

static void *writer(void *arg)
{
	int first = (int)(intptr_t)arg;

	for (uint64_t v = 1; v <= writes; v++) {
		unsigned long r0 = atomic_load(&dev_rounds);

		for (int i = first; i < NPAGES; i += 2) {
			__atomic_store_n(slot(i), v, __ATOMIC_RELEASE);
			atomic_store(&done_v[i], v);
		}
		/* Let the devices copy the new versions before the next write:
		 * every round then collapses fresh replicas. */
		while (atomic_load(&dev_rounds) < r0 + 2)
			sched_yield();
	}
	atomic_fetch_sub(&writers_left, 1);
	return NULL;
}

static void check(int i, uint64_t before, uint64_t seen)
{
	atomic_fetch_add(&reads, 1);
	if (seen < before) {
		atomic_fetch_add(&stale, 1);
		fprintf(stderr, "page %d: read %llu after %llu was written\n", i,
			(unsigned long long)seen, (unsigned long long)before);
	}
}

static void *cpu_reader(void *arg)
{
	(void)arg;
	while (atomic_load(&writers_left))
		for (int i = 0; i < NPAGES; i++) {
			uint64_t before = atomic_load(&done_v[i]);

			check(i, before, __atomic_load_n(slot(i), __ATOMIC_ACQUIRE));
			sched_yield();
		}
	return NULL;
}

static void *dev_reader(void *arg)
{
	struct hms_softdev *d = arg;
	uint64_t *buf = malloc(NPAGES * T_PAGE);

	T_ASSERT(buf);
	while (atomic_load(&writers_left)) {
		uint64_t before[NPAGES];
		struct hms_softdev_cmd c;

		for (int i = 0; i < NPAGES; i++)
			before[i] = atomic_load(&done_v[i]);
		T_EQ(t_cmd(d, hms_softdev_read, p, buf, NPAGES, &c), 0);
		for (int i = 0; i < NPAGES; i++)
			check(i, before[i], buf[(size_t)i * (T_PAGE / sizeof(uint64_t))]);
		atomic_fetch_add(&dev_rounds, 1);
	}
	free(buf);
	return NULL;
}

int main(void)
{
	struct hms_softdev *d[2];
	pthread_t t[5];
	struct hms_stats s;

	if (getenv("HMS_IN_VM"))
		writes = 150;
	h = t_open();
	d[0] = t_softdev(h, 0);
	d[1] = t_softdev(h, 0);
	p = hms_alloc(h, NPAGES * T_PAGE, 0);
	T_ASSERT(p);
	memset(p, 0, NPAGES * T_PAGE);
	T_EQ(hms_advise(h, p, NPAGES * T_PAGE, HMS_ADVICE_READ_MOSTLY, 0), 0);

	T_EQ(pthread_create(&t[0], NULL, dev_reader, d[0]), 0);
	T_EQ(pthread_create(&t[1], NULL, dev_reader, d[1]), 0);
	T_EQ(pthread_create(&t[2], NULL, cpu_reader, NULL), 0);
	T_EQ(pthread_create(&t[3], NULL, writer, (void *)0), 0);
	T_EQ(pthread_create(&t[4], NULL, writer, (void *)1), 0);
	for (int i = 0; i < 5; i++)
		pthread_join(t[i], NULL);

	T_EQ(atomic_load(&stale), 0);
	T_ASSERT(atomic_load(&reads) > 0);
	for (int i = 0; i < NPAGES; i++)
		T_EQ(*slot(i), writes);
	T_EQ(hms_stats(h, &s), 0);
	printf("%lu reads, %llu replicas made, %llu collapsed, %llu wp faults\n",
	       atomic_load(&reads), (unsigned long long)s.replicas_made,
	       (unsigned long long)s.replicas_collapsed, (unsigned long long)s.wp_faults);
	T_ASSERT(s.replicas_collapsed <= s.replicas_made);
	T_ASSERT(s.replicas_collapsed > 0);
	hms_softdev_destroy(d[0]);
	hms_softdev_destroy(d[1]);
	hms_close(h);
	return 0;
}
