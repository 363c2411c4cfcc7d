/* interval_seq: the interval notifier sequence protocol: read_retry turns
 * true after an overlapping invalidation and read_begin waits while one
 * runs; hms_range_invalidating is true only during one; an insert during an
 * invalidation takes effect at its end; remove waits for a running callback. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "notify_rec.h"

static struct hms *h;
static uintptr_t s, e;
static atomic_int in_cb, cb_done, slow, release, main_tid, calls1, calls2, inval_seen,
	inval_other;
static pthread_t releaser_thread;

static bool inv1(struct hms_interval *iv, const struct hms_notify_range *r, unsigned long seq)
{
	(void)r;
	hms_interval_set_seq(iv, seq);
	T_ASSERT(seq & 1); /* odd while an invalidation runs */
	atomic_fetch_add(&calls1, 1);
	atomic_store(&inval_seen, hms_range_invalidating(h, s, e));
	atomic_store(&inval_other, hms_range_invalidating(h, e + T_PAGE, e + 2 * T_PAGE));
	if (atomic_load(&slow)) {
		atomic_store(&in_cb, 1);
		/* Until the test lets it end: not a pause, which a loaded
		 * machine may outlast before the test has looked. */
		while (!atomic_load(&release))
			t_msleep(1);
		atomic_store(&cb_done, 1);
	}
	return true;
}

static bool inv2(struct hms_interval *iv, const struct hms_notify_range *r, unsigned long seq)
{
	(void)r;
	hms_interval_set_seq(iv, seq);
	atomic_fetch_add(&calls2, 1);
	return true;
}

static const struct hms_interval_ops ops1 = { inv1 }, ops2 = { inv2 };

static void *protect_thread(void *arg)
{
	T_EQ(hms_protect(h, (void *)s, e - s, (int)(intptr_t)arg), 0);
	return NULL;
}

static void start_slow(pthread_t *t, int prot)
{
	atomic_store(&in_cb, 0);
	atomic_store(&cb_done, 0);
	atomic_store(&release, 0);
	atomic_store(&slow, 1);
	T_EQ(pthread_create(t, NULL, protect_thread, (void *)(intptr_t)prot), 0);
	while (!atomic_load(&in_cb))
		t_msleep(1);
}

/* Ends the slow callback once the main thread sleeps (in the call that
 * must wait for it: read_begin, remove). */
static void *releaser(void *arg)
{
	(void)arg;
	while (!t_thread_sleeps_in(atomic_load(&main_tid), SYS_futex))
		t_msleep(1);
	atomic_store(&release, 1);
	return NULL;
}

static void release_when_waiting(void)
{
	T_EQ(pthread_create(&releaser_thread, NULL, releaser, NULL), 0);
}

static void end_slow(pthread_t t)
{
	T_EQ(pthread_join(releaser_thread, NULL), 0);
	T_EQ(pthread_join(t, NULL), 0);
}

int main(void)
{
	struct hms_interval *iv1, *iv2;
	unsigned long seq, seq2;
	pthread_t t;
	char *p;

	h = t_open();
	t_watchdog(60, "interval_seq"); /* a call that waits for the callback it holds */
	atomic_store(&main_tid, (int)syscall(SYS_gettid));
	p = hms_alloc(h, 16 * T_PAGE, 0);
	T_ASSERT(p);
	s = (uintptr_t)p;
	e = s + 8 * T_PAGE; /* watch the first half */
	T_EQ(hms_interval_insert(h, s, e - s, &ops1, NULL, &iv1), 0);

	/* No invalidation: no wait, no retry, nothing invalidating. */
	seq = hms_interval_read_begin(iv1);
	T_ASSERT(!hms_interval_read_retry(iv1, seq));
	T_ASSERT(!hms_range_invalidating(h, s, e));

	/* An invalidation outside the interval does not call it. */
	T_EQ(hms_protect(h, p + 8 * T_PAGE, 8 * T_PAGE, PROT_READ), 0);
	T_EQ(atomic_load(&calls1), 0);
	T_ASSERT(!hms_interval_read_retry(iv1, seq));

	/* One overlapping it: called once, invalidating during the callback
	 * (for its range, not for another), retry afterwards. */
	T_EQ(hms_protect(h, p + 2 * T_PAGE, T_PAGE, PROT_READ), 0);
	T_EQ(atomic_load(&calls1), 1);
	T_EQ(atomic_load(&inval_seen), 1);
	T_EQ(atomic_load(&inval_other), 0);
	T_ASSERT(!hms_range_invalidating(h, s, e));
	T_ASSERT(hms_interval_read_retry(iv1, seq));
	seq = hms_interval_read_begin(iv1);
	T_ASSERT(!hms_interval_read_retry(iv1, seq));

	/* read_begin waits while an overlapping invalidation runs. */
	start_slow(&t, PROT_READ | PROT_WRITE);
	T_ASSERT(hms_range_invalidating(h, s, e));
	release_when_waiting();
	seq2 = hms_interval_read_begin(iv1);
	T_EQ(atomic_load(&cb_done), 1);
	end_slow(t);
	T_ASSERT(hms_interval_read_retry(iv1, seq));
	T_ASSERT(!hms_interval_read_retry(iv1, seq2));
	T_ASSERT(!hms_range_invalidating(h, s, e));

	/* Insert during an invalidation: deferred to its end; its sequence
	 * reads as invalidating (read_begin waits), it is not called for the
	 * running one, and is called for the next. */
	atomic_store(&calls2, 0);
	start_slow(&t, PROT_READ);
	T_EQ(hms_interval_insert(h, s, e - s, &ops2, NULL, &iv2), 0);
	T_EQ(atomic_load(&cb_done), 0); /* insert did not wait (else: the watchdog) */
	release_when_waiting();
	seq2 = hms_interval_read_begin(iv2);
	T_EQ(atomic_load(&cb_done), 1);
	end_slow(t);
	T_EQ(atomic_load(&calls2), 0);
	atomic_store(&slow, 0);
	T_ASSERT(!hms_interval_read_retry(iv2, seq2));
	T_EQ(hms_protect(h, p, T_PAGE, PROT_READ | PROT_WRITE), 0);
	T_EQ(atomic_load(&calls2), 1);
	T_ASSERT(hms_interval_read_retry(iv2, seq2));

	/* Remove waits for a running callback, and it is never called again. */
	start_slow(&t, PROT_READ);
	release_when_waiting();
	hms_interval_remove(iv1);
	T_EQ(atomic_load(&cb_done), 1);
	end_slow(t);
	atomic_store(&slow, 0);
	atomic_store(&calls1, 0);
	T_EQ(hms_protect(h, p, 8 * T_PAGE, PROT_READ | PROT_WRITE), 0);
	T_EQ(atomic_load(&calls1), 0);

	hms_interval_remove(iv2);
	t_watchdog(0, NULL);
	hms_close(h);
	return 0;
}
