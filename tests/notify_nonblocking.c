/* notify_nonblocking: invalidations the fault handler raises carry no
 * HMS_NOTIFY_BLOCKABLE (the MIGRATE of a CPU fault on device memory, the
 * EXCLUSIVE that a CPU write revokes); while an interval refuses them
 * (returns false: its lock is taken), nothing changes (the pages stay on
 * the device / exclusive, the faulting thread waits, the interval's
 * sequence does not move), and once it accepts, the retried fault completes with every
 * byte read and written intact. */
#include <pthread.h>
#include <stdatomic.h>
#include "hms_test.h"

#define NPAGES 4
#define NINTS (NPAGES * T_PAGE / sizeof(int))

static struct hms *h;
static int *p;
static pthread_mutex_t drv_lock = PTHREAD_MUTEX_INITIALIZER; /* the driver lock */
static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rec_cond = PTHREAD_COND_INITIALIZER;
/* rec_lock: what the interval saw, per event */
static unsigned refused[HMS_EVENT_COUNT], nb_done[HMS_EVENT_COUNT], b_done[HMS_EVENT_COUNT];
static atomic_int done;

static bool inv(struct hms_interval *iv, const struct hms_notify_range *r, unsigned long seq)
{
	bool blockable = r->flags & HMS_NOTIFY_BLOCKABLE;

	if (blockable) {
		pthread_mutex_lock(&drv_lock);
	} else if (pthread_mutex_trylock(&drv_lock)) {
		pthread_mutex_lock(&rec_lock);
		refused[r->event]++;
		pthread_cond_broadcast(&rec_cond);
		pthread_mutex_unlock(&rec_lock);
		return false;
	}
	hms_interval_set_seq(iv, seq);
	pthread_mutex_unlock(&drv_lock);
	pthread_mutex_lock(&rec_lock);
	(blockable ? b_done : nb_done)[r->event]++;
	pthread_mutex_unlock(&rec_lock);
	return true;
}

static const struct hms_interval_ops iops = { inv };

static void wait_refused(enum hms_event ev, unsigned n)
{
	pthread_mutex_lock(&rec_lock);
	while (refused[ev] < n)
		pthread_cond_wait(&rec_cond, &rec_lock);
	pthread_mutex_unlock(&rec_lock);
}

static unsigned count(unsigned *v, enum hms_event ev)
{
	unsigned n;

	pthread_mutex_lock(&rec_lock);
	n = v[ev];
	pthread_mutex_unlock(&rec_lock);
	return n;
}

/* The CPU reads every page (they are on the device), then adds 1. */
static void *cpu_read_write(void *arg)
{
	(void)arg;
	t_check(p, NINTS, 100);
	for (size_t i = 0; i < NINTS; i++)
		p[i] += 1;
	atomic_store(&done, 1);
	return NULL;
}

static void *cpu_write(void *arg)
{
	(void)arg;
	p[0] = -7;
	atomic_store(&done, 1);
	return NULL;
}

/* While refused, the fault waits and the interval's sequence (set only by
 * an accepted invalidation) does not move. */
static void check_waiting(struct hms_interval *iv)
{
	unsigned long seq = hms_interval_read_begin(iv);

	T_ASSERT(!hms_interval_read_retry(iv, seq));
	T_EQ(atomic_load(&done), 0);
}

/* After the fault completed no invalidation is left open. */
static void check_closed(void)
{
	T_ASSERT(!hms_range_invalidating(h, (uintptr_t)p, (uintptr_t)p + NPAGES * T_PAGE));
}

int main(void)
{
	struct hms_softdev *d;
	struct hms_interval *iv;
	struct hms_softdev_cmd c;
	struct hms_page_info info[NPAGES];
	struct hms_stats st;
	uint64_t migrate_inv;
	unsigned blockable_migrates;
	static int buf[T_PAGE / sizeof(int)];
	pthread_t t;

	h = t_open();
	d = t_softdev(h, 0);
	p = hms_alloc(h, NPAGES * T_PAGE, 0);
	T_ASSERT(p);
	t_fill(p, NINTS, 100);
	T_EQ(hms_interval_insert(h, (uintptr_t)p, NPAGES * T_PAGE, &iops, NULL, &iv), 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, NPAGES, &c), 0);
	T_EQ(c.cpages, NPAGES);
	/* A migration started by a driver thread is blockable (one per
	 * 2 MiB the range touches). */
	blockable_migrates = count(b_done, HMS_EVENT_MIGRATE);
	T_ASSERT(blockable_migrates >= 1);
	T_EQ(count(nb_done, HMS_EVENT_MIGRATE), 0);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_DEVICE), NPAGES);

	/* 1. A CPU read of device memory: the handler's MIGRATE is refused. */
	T_EQ(hms_stats(h, &st), 0);
	migrate_inv = st.invalidations[HMS_EVENT_MIGRATE];
	pthread_mutex_lock(&drv_lock);
	T_EQ(pthread_create(&t, NULL, cpu_read_write, NULL), 0);
	wait_refused(HMS_EVENT_MIGRATE, 3); /* the fault was retried */
	check_waiting(iv);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_DEVICE), NPAGES); /* nothing moved */
	T_EQ(hms_stats(h, &st), 0);
	T_EQ(st.invalidations[HMS_EVENT_MIGRATE], migrate_inv); /* none counted as done */
	T_EQ(count(nb_done, HMS_EVENT_MIGRATE), 0);
	pthread_mutex_unlock(&drv_lock);
	T_EQ(pthread_join(t, NULL), 0);
	check_closed();
	T_ASSERT(count(nb_done, HMS_EVENT_MIGRATE) >= 1);
	T_EQ(count(b_done, HMS_EVENT_MIGRATE), blockable_migrates);
	T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_SYSTEM), NPAGES);
	t_check(p, NINTS, 101);

	/* 2. A CPU write to a page a device holds exclusively: the handler's
	 *    revocation is refused; the page stays exclusive, unwritten. */
	T_EQ(hms_make_exclusive(h, (uintptr_t)p, (uintptr_t)p + T_PAGE, d), 1);
	T_EQ(count(b_done, HMS_EVENT_EXCLUSIVE), 1); /* the grant: blockable */
	atomic_store(&done, 0);
	pthread_mutex_lock(&drv_lock);
	T_EQ(pthread_create(&t, NULL, cpu_write, NULL), 0);
	wait_refused(HMS_EVENT_EXCLUSIVE, 3);
	check_waiting(iv);
	T_EQ(hms_page_query(h, p, 1, info), 1);
	T_ASSERT(info[0].flags & HMS_PAGE_EXCLUSIVE);
	/* Unwritten: read it through the device (the blocked CPU store has
	 * not happened; a CPU load here would race it as far as a thread
	 * checker can tell). */
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, 1, &c), 0);
	T_EQ(buf[0], 101);
	T_EQ(count(nb_done, HMS_EVENT_EXCLUSIVE), 0);
	pthread_mutex_unlock(&drv_lock);
	T_EQ(pthread_join(t, NULL), 0);
	check_closed();
	T_EQ(count(nb_done, HMS_EVENT_EXCLUSIVE), 1);
	/* The writer resumes when the protection is lifted, just before hms
	 * clears the page's exclusive state: wait for that (faults nothing). */
	T_ASSERT(hms_prefault(h, p, T_PAGE, false) >= 0);
	T_EQ(hms_page_query(h, p, 1, info), 1);
	T_ASSERT(!(info[0].flags & HMS_PAGE_EXCLUSIVE));
	T_EQ(p[0], -7);
	t_check(p + 1, NINTS - 1, 102);

	hms_interval_remove(iv);
	hms_softdev_destroy(d);
	T_EQ(hms_free(h, p, NPAGES * T_PAGE), 0);
	hms_close(h);
	return 0;
}
