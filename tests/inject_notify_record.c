/* inject_notify_record: hms_range_invalidating() answers true while an
 * invalidation runs whose range could not be recorded (no memory for the
 * record: injection point notify_nomem, the first allocation an
 * invalidation makes).  It used to answer false then, so a mirror driver
 * that checks it before installing a translation could install a stale
 * one.  And the end of such an unrecorded invalidation must not take the
 * record of another one of the same range that still runs.
 *
 * B (hms_protect, record refused) and then A (hms_protect of the same
 * range, recorded) stop in their mirror sync(); the main thread asks
 * while each runs, lets B end first, asks again while A still runs. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

struct worker {
	struct hms *h;
	char *p;
	size_t size;
	pthread_t t;
	atomic_bool in_sync, release;
};

static _Thread_local struct worker *me;

/* Waits for cond (10 s at most: a watchdog, not a timing). */
#define WAIT_FOR(cond)                                                  \
	do {                                                            \
		for (int w_ = 0; w_ < 10000 && !(cond); w_++)           \
			usleep(1000);                                   \
		T_ASSERT(cond);                                         \
	} while (0)

static bool on_sync(struct hms_mirror *m, const struct hms_notify_range *r)
{
	(void)m;
	if (r->event != HMS_EVENT_PROTECTION_VMA || !me)
		return true;
	me->in_sync = true;
	for (int i = 0; i < 10000 && !me->release; i++)
		usleep(1000);
	return true;
}

static void *protect(void *arg)
{
	me = arg;
	T_EQ(hms_protect(me->h, me->p, me->size, PROT_READ), 0);
	return NULL;
}

int main(void)
{
	static const struct hms_mirror_ops mops = { .sync = on_sync };
	struct hms *h = t_open();
	size_t size = 16 * T_PAGE;
	char *p = hms_alloc(h, size, 0);
	uintptr_t s = (uintptr_t)p, e = s + size;
	struct hms_mirror *m;
	struct worker a = { .h = h, .p = p, .size = size };
	struct worker b = { .h = h, .p = p, .size = size };

	T_ASSERT(p);
	memset(p, 7, size);
	T_EQ(hms_mirror_register(h, &mops, NULL, &m), 0);
	T_ASSERT(!hms_range_invalidating(h, s, e));

	/* B: the first invalidation of the context, so its record needs an
	 * allocation, which fails; so does its list of mirrors, until the
	 * point is disarmed (it waits for memory there). */
	T_EQ(hms__inject_arm("notify_nomem:1"), 0);
	T_EQ(pthread_create(&b.t, NULL, protect, &b), 0);
	WAIT_FOR(hms__inject_hits(HMS_INJ_NOTIFY_NOMEM) >= 1);
	T_EQ(hms__inject_arm(NULL), 0);
	WAIT_FOR(b.in_sync);
	if (!hms_range_invalidating(h, s, e))
		T_FAIL("B runs without a record: hms_range_invalidating() says false");

	/* A: same range and event, recorded this time. */
	T_EQ(pthread_create(&a.t, NULL, protect, &a), 0);
	WAIT_FOR(a.in_sync);
	T_ASSERT(hms_range_invalidating(h, s, e));

	/* B ends first: A still runs. */
	b.release = true;
	T_EQ(pthread_join(b.t, NULL), 0);
	if (!hms_range_invalidating(h, s, e))
		T_FAIL("A still runs after B ended: hms_range_invalidating() says false");

	a.release = true;
	T_EQ(pthread_join(a.t, NULL), 0);
	/* Nothing runs: nothing reads as invalidating, recorded or not. */
	T_ASSERT(!hms_range_invalidating(h, s, e));
	T_ASSERT(!hms_range_invalidating(h, 0, UINTPTR_MAX));

	/* And recorded as usual afterwards. */
	T_EQ(hms_protect(h, p, size, PROT_READ | PROT_WRITE), 0);
	T_ASSERT(!hms_range_invalidating(h, s, e));
	for (size_t i = 0; i < size; i++)
		T_EQ(p[i], 7);
	hms_mirror_unregister(m);
	T_EQ(hms_free(h, p, size), 0);
	hms_close(h);
	return 0;
}
