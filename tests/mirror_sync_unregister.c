/* mirror_sync_unregister: a mirror's sync() may unregister another mirror
 * and remove an interval, both held by the invalidation that calls it
 * (their calls still to come): neither waits for itself, and neither is
 * called afterwards.  Before, both waited forever for the very
 * invalidation that was calling sync(). */
#include <stdatomic.h>
#include <unistd.h>
#include "notify_rec.h"

static struct hms_interval *iv;
static struct hms_mirror *other;
static atomic_int iv_calls, other_calls, syncs;

static bool inv(struct hms_interval *i, const struct hms_notify_range *r, unsigned long seq)
{
	(void)r;
	hms_interval_set_seq(i, seq);
	atomic_fetch_add(&iv_calls, 1);
	return true;
}

static bool sync_other(struct hms_mirror *m, const struct hms_notify_range *r)
{
	(void)m;
	(void)r;
	atomic_fetch_add(&other_calls, 1);
	return true;
}

static bool sync_first(struct hms_mirror *m, const struct hms_notify_range *r)
{
	(void)m;
	(void)r;
	atomic_fetch_add(&syncs, 1);
	hms_interval_remove(iv);
	iv = NULL;
	hms_mirror_unregister(other);
	other = NULL;
	return true;
}

static const struct hms_interval_ops iops = { inv };
static const struct hms_mirror_ops first_ops = { sync_first, NULL },
				   other_ops = { sync_other, NULL };

int main(void)
{
	struct hms *h = t_open();
	struct hms_mirror *m;
	char *p = hms_alloc(h, 4 * T_PAGE, 0);

	T_ASSERT(p);
	alarm(20); /* a deadlock fails (the test library prints the stacks) */
	/* Mirrors are called newest first: the other one after sync_first. */
	T_EQ(hms_mirror_register(h, &other_ops, NULL, &other), 0);
	T_EQ(hms_mirror_register(h, &first_ops, NULL, &m), 0);
	T_EQ(hms_interval_insert(h, (uintptr_t)p, 4 * T_PAGE, &iops, NULL, &iv), 0);
	T_EQ(hms_protect(h, p, 4 * T_PAGE, PROT_READ), 0);
	T_EQ(atomic_load(&syncs), 1);
	T_ASSERT(!iv && !other);
	T_EQ(atomic_load(&iv_calls), 0);
	T_EQ(atomic_load(&other_calls), 0);
	/* The rest of the context still works. */
	T_EQ(hms_protect(h, p, 4 * T_PAGE, PROT_READ | PROT_WRITE), 0);
	T_EQ(atomic_load(&syncs), 2);
	hms_mirror_unregister(m);
	hms_close(h);
	return 0;
}
