/* inject_notify_release_nomem: hms_close() calls every mirror's release()
 * (stop all device work on this address space) even when the list it
 * collects the mirrors into cannot be allocated at first (injection point
 * notify_nomem): it waits for memory and collects again, where it used to
 * call no release() at all.  Memory comes back once three collections
 * have failed (another thread disarms the point). */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

static atomic_int releases, syncs;

static bool on_sync(struct hms_mirror *m, const struct hms_notify_range *r)
{
	(void)m;
	(void)r;
	syncs++;
	return true;
}

static void on_release(struct hms_mirror *m)
{
	(void)m;
	releases++;
}

static atomic_ullong hits; /* before disarming (which resets the count) */

/* 10 s at most: a watchdog, not a timing. */
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
	static const struct hms_mirror_ops mops = { .sync = on_sync, .release = on_release };
	struct hms *h = t_open();
	struct hms_mirror *m[2];
	char *p = hms_alloc(h, 4 * T_PAGE, 0);
	pthread_t t;

	T_ASSERT(p);
	memset(p, 1, 4 * T_PAGE);
	T_EQ(hms_mirror_register(h, &mops, NULL, &m[0]), 0);
	T_EQ(hms_mirror_register(h, &mops, NULL, &m[1]), 0);

	T_EQ(hms__inject_arm("notify_nomem:1"), 0);
	T_EQ(pthread_create(&t, NULL, disarm_later, NULL), 0);
	hms_close(h); /* the mirrors go with the context */
	T_EQ(pthread_join(t, NULL), 0);
	T_ASSERT(hits >= 3);
	T_EQ(releases, 2);
	return 0;
}
