/* interval_remove_in_callback: hms_interval_remove() on one thread while
 * the interval's invalidate() runs on another and stores its sequence
 * (hms_interval_set_seq) only after remove() has started: remove waits
 * for the callback, and its look at the interval's sequence is no data
 * race with the callback's store (ThreadSanitizer). */
#include <pthread.h>
#include <stdatomic.h>
#include "notify_rec.h"

static struct hms *h;
static char *p;
static atomic_int in_cb, cb_done;

static bool inv(struct hms_interval *iv, const struct hms_notify_range *r, unsigned long seq)
{
	(void)r;
	atomic_store(&in_cb, 1);
	t_msleep(200); /* remove() is waiting by now */
	hms_interval_set_seq(iv, seq);
	atomic_store(&cb_done, 1);
	return true;
}

static const struct hms_interval_ops ops = { inv };

static void *protect_thread(void *arg)
{
	(void)arg;
	T_EQ(hms_protect(h, p, 4 * T_PAGE, PROT_READ), 0);
	return NULL;
}

int main(void)
{
	struct hms_interval *iv;
	pthread_t t;

	h = t_open();
	p = hms_alloc(h, 4 * T_PAGE, 0);
	T_ASSERT(p);
	T_EQ(hms_interval_insert(h, (uintptr_t)p, 4 * T_PAGE, &ops, NULL, &iv), 0);
	T_EQ(pthread_create(&t, NULL, protect_thread, NULL), 0);
	while (!atomic_load(&in_cb))
		t_msleep(1);
	hms_interval_remove(iv);
	T_ASSERT(atomic_load(&cb_done)); /* returned only after the callback */
	T_EQ(pthread_join(t, NULL), 0);
	hms_close(h);
	return 0;
}
