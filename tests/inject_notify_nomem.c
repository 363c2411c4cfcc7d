/* inject_notify_nomem: an invalidation that cannot be refused reaches
 * every mirror and every overlapping interval even when the lists it
 * collects them into cannot be allocated (injection point notify_nomem):
 * it waits for memory and collects again, where it used to go on without
 * them (a driver could keep a stale translation).  The change here is
 * hms_protect's PROTECTION_VMA; memory comes back after a few failures
 * (another thread disarms the point). */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

static atomic_int syncs, invalidates;

static bool on_sync(struct hms_mirror *m, const struct hms_notify_range *r)
{
	(void)m;
	if (r->event == HMS_EVENT_PROTECTION_VMA)
		syncs++;
	return true;
}

static bool on_invalidate(struct hms_interval *iv, const struct hms_notify_range *r,
			  unsigned long seq)
{
	hms_interval_set_seq(iv, seq);
	if (r->event == HMS_EVENT_PROTECTION_VMA)
		invalidates++;
	return true;
}

/* Memory comes back once three collections have failed (10 s at most:
 * a watchdog, not a timing). */
static atomic_ullong hits; /* before disarming (which resets the count) */

static void *disarm_later(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10000 && hms__inject_hits(HMS_INJ_NOTIFY_NOMEM) < 3; i++)
		usleep(1000);
	hits = hms__inject_hits(HMS_INJ_NOTIFY_NOMEM);
	T_EQ(hms__inject_arm(NULL), 0);
	return NULL;
}

int main(void)
{
	static const struct hms_mirror_ops mops = { .sync = on_sync };
	static const struct hms_interval_ops iops = { .invalidate = on_invalidate };
	struct hms *h = t_open();
	size_t size = 16 * T_PAGE;
	char *p = hms_alloc(h, size, 0);
	struct hms_mirror *m;
	struct hms_interval *iv;
	pthread_t t;

	T_ASSERT(p);
	T_EQ(hms_mirror_register(h, &mops, NULL, &m), 0);
	T_EQ(hms_interval_insert(h, (uintptr_t)p, size, &iops, NULL, &iv), 0);
	memset(p, 5, size);

	T_EQ(hms__inject_arm("notify_nomem:1"), 0);
	T_EQ(pthread_create(&t, NULL, disarm_later, NULL), 0);
	T_EQ(hms_protect(h, p, size, PROT_READ), 0);
	/* Both were told, once (it waited for memory to do so). */
	T_EQ(syncs, 1);
	T_EQ(invalidates, 1);
	T_EQ(pthread_join(t, NULL), 0);
	T_ASSERT(hits >= 3);
	for (size_t i = 0; i < size; i++)
		T_EQ(p[i], 5);

	/* And again with memory: once more each. */
	T_EQ(hms_protect(h, p, size, PROT_READ | PROT_WRITE), 0);
	T_EQ(syncs, 2);
	T_EQ(invalidates, 2);
	hms_interval_remove(iv);
	hms_mirror_unregister(m);
	T_EQ(hms_free(h, p, size), 0);
	hms_close(h);
	return 0;
}
