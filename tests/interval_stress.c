/* interval_stress: readers looping on read_begin / hms_range_fault /
 * read_retry while other threads toggle protection and migrate the pages
 * to a softdev and back always see valid entries that match the current
 * protection and data, and everything finishes (bounded to ~2 s).  After,
 * every page holds its data and no migration back found a CPU page in its
 * way (its one CI failure, page 0 reading 0, was two faults holding one
 * page: tests/migrate_fault_fill_busy_race). */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include "hms_test.h"
#include "inject.h"

#define NPAGES 64
#define RUN_MS 2000

static struct hms *h;
static struct hms_softdev *dev;
static char *p;
static pthread_mutex_t drv_lock = PTHREAD_MUTEX_INITIALIZER; /* the driver lock */
static int cur_prot = PROT_READ | PROT_WRITE, pending_prot; /* drv_lock */
static atomic_int stop;
static atomic_long ok_reads, busy, retries;

static bool inv(struct hms_interval *iv, const struct hms_notify_range *r, unsigned long seq)
{
	pthread_mutex_lock(&drv_lock);
	hms_interval_set_seq(iv, seq);
	if (r->event == HMS_EVENT_PROTECTION_VMA)
		cur_prot = pending_prot;
	pthread_mutex_unlock(&drv_lock);
	return true;
}

static const struct hms_interval_ops iops = { inv };
static struct hms_interval *iv;

static void *reader(void *arg)
{
	uint64_t pfns[NPAGES];
	bool write = (intptr_t)arg & 1;

	while (!atomic_load(&stop)) {
		struct hms_range r = { .interval = iv, .start = (uintptr_t)p,
				       .end = (uintptr_t)p + NPAGES * T_PAGE, .pfns = pfns,
				       .default_flags = HMS_PFN_REQ_FAULT |
							(write ? HMS_PFN_REQ_WRITE : 0) };
		int ret;

		r.notifier_seq = hms_interval_read_begin(iv);
		ret = hms_range_fault(h, &r);
		if (ret == -EBUSY || (write && ret == -EPERM)) {
			atomic_fetch_add(&busy, 1);
			continue;
		}
		if (ret)
			T_FAIL("hms_range_fault: %d", ret);
		pthread_mutex_lock(&drv_lock);
		if (hms_interval_read_retry(iv, r.notifier_seq)) {
			pthread_mutex_unlock(&drv_lock);
			atomic_fetch_add(&retries, 1);
			continue;
		}
		/* The entries hold for the CPU's view now. */
		for (size_t i = 0; i < NPAGES; i++) {
			uint64_t e = pfns[i];
			uint64_t want = (((uintptr_t)p >> 12) + i);

			if (!(e & HMS_PFN_VALID) || (e & (HMS_PFN_ERROR | HMS_PFN_DEVICE_PRIVATE)) ||
			    (e & HMS_PFN_PFN_MASK) != want)
				T_FAIL("page %zu: entry %#llx", i, (unsigned long long)e);
			if ((e & HMS_PFN_WRITE) && !(cur_prot & PROT_WRITE))
				T_FAIL("page %zu: writable entry while read-only", i);
			if (write && !(e & HMS_PFN_WRITE))
				T_FAIL("page %zu: write request gave a read-only entry", i);
		}
		pthread_mutex_unlock(&drv_lock);
		atomic_fetch_add(&ok_reads, 1);
	}
	return NULL;
}

static void *toggler(void *arg)
{
	(void)arg;
	for (int i = 0; !atomic_load(&stop); i++) {
		int prot = (i & 1) ? PROT_READ | PROT_WRITE : PROT_READ;

		pthread_mutex_lock(&drv_lock);
		pending_prot = prot;
		pthread_mutex_unlock(&drv_lock);
		T_EQ(hms_protect(h, p, NPAGES * T_PAGE, prot), 0);
	}
	return NULL;
}

static void *migrator(void *arg)
{
	struct hms_softdev_cmd c;

	(void)arg;
	while (!atomic_load(&stop)) {
		int ret = t_cmd(dev, hms_softdev_migrate_to_device, p, NULL, NPAGES, &c);

		T_ASSERT(ret == 0 || ret == -ENOMEM);
		T_EQ(t_cmd(dev, hms_softdev_migrate_to_system, p, NULL, NPAGES, &c), 0);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[5];
	void *(*fn[5])(void *) = { reader, reader, reader, toggler, migrator };

	h = t_open();
	dev = t_softdev(h, 0);
	p = hms_alloc(h, NPAGES * T_PAGE, 0);
	T_ASSERT(p);
	for (size_t i = 0; i < NPAGES; i++)
		T_EQ(hms_prefault(h, p + i * T_PAGE, T_PAGE, true), 1);
	for (size_t i = 0; i < NPAGES; i++)
		p[i * T_PAGE] = (char)(i + 1);
	T_EQ(hms_interval_insert(h, (uintptr_t)p, NPAGES * T_PAGE, &iops, NULL, &iv), 0);
	for (int i = 0; i < 5; i++)
		T_EQ(pthread_create(&t[i], NULL, fn[i], (void *)(intptr_t)i), 0);
	{
		struct timespec ts = { RUN_MS / 1000, (RUN_MS % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 5; i++)
		pthread_join(t[i], NULL);
	printf("reads %ld, busy %ld, retries %ld\n", atomic_load(&ok_reads), atomic_load(&busy),
	       atomic_load(&retries));
	T_ASSERT(atomic_load(&ok_reads) > 0);
	T_EQ(hms_protect(h, p, NPAGES * T_PAGE, PROT_READ), 0);
	/* Every page holds its byte.  A migration back that found a CPU page
	 * in the way (a fill conflict) kept that page and dropped the
	 * device's: nothing here makes such a page, so there is none. */
	for (size_t i = 0; i < NPAGES; i++) {
		struct hms_page_info pi;

		T_EQ(hms_page_query(h, p + i * T_PAGE, 1, &pi), 1);
		if (p[i * T_PAGE] != (char)(i + 1))
			T_FAIL("page %zu: %d, not %d (location %u, flags %#x; fill conflicts %llu)",
			       i, p[i * T_PAGE], (char)(i + 1), pi.location, pi.flags,
			       (unsigned long long)hms__test_fill_conflicts(h));
	}
	T_EQ(hms__test_fill_conflicts(h), 0);
	hms_interval_remove(iv);
	hms_softdev_destroy(dev);
	hms_close(h);
	return 0;
}
