/* inject_notify_collect_refused: an invalidation that cannot wait (a CPU
 * write to a page a device holds a read-only replica of, resolved on the
 * fault handler thread) whose list of intervals could not be allocated
 * (fault injection point notify_nomem) must be refused, the write held
 * back until every interval can be told: else the device keeps its
 * replica and reads what the page held before the write.  The list's
 * failure was forgotten before the check (found by hms stress --inject
 * notify_nomem:17 under load: "MISMATCH (device read)"). */
#include <pthread.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

static void *writer(void *arg)
{
	*(volatile char *)arg = 'B'; /* a write fault, on the handler */
	return NULL;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	struct hms_softdev_cmd c;
	struct hms_page_info info;
	char *p = hms_alloc(h, T_PAGE, 0), buf[T_PAGE];
	pthread_t t;

	T_ASSERT(p);
	if (hms_wp_async(h))
		T_SKIP("READ_MOSTLY needs synchronous write protection");
	memset(p, 'A', T_PAGE);
	T_EQ(hms_advise(h, p, T_PAGE, HMS_ADVICE_READ_MOSTLY, 0), 0);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, 1, &c), 0);
	T_EQ(buf[0], 'A');
	T_EQ(hms_page_query(h, p, 1, &info), 1);
	T_ASSERT(info.flags & HMS_PAGE_REPLICATED); /* the device holds a copy */

	/* The write's invalidation collects the mirrors (one allocation, the
	 * softdev's) and then the intervals (the second: it fails). */
	T_EQ(hms__inject_arm("notify_nomem:2"), 0);
	T_EQ(pthread_create(&t, NULL, writer, p), 0);
	for (int i = 0; i < 10000 && !hms__inject_hits(HMS_INJ_NOTIFY_NOMEM); i++)
		usleep(100);
	T_ASSERT(hms__inject_hits(HMS_INJ_NOTIFY_NOMEM) >= 1);
	T_EQ(hms__inject_arm(NULL), 0); /* memory again: the write goes on */
	T_EQ(pthread_join(t, NULL), 0);
	T_EQ(p[0], 'B');
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, 1, &c), 0);
	if (buf[0] != 'B')
		T_FAIL("the device read '%c' after the CPU wrote 'B' (its replica was kept)",
		       buf[0]);
	hms_free(h, p, T_PAGE);
	hms_close(h);
	return 0;
}
