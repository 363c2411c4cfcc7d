/* SPDX-License-Identifier: MIT */
/* fork_child_mirror_busy: in a fork child, hms_mirror_unregister() and
 * hms_interval_remove() on the inherited context return at once, even
 * when another thread of the parent was inside the mirror's sync() as the
 * fork copied the address space.  The child's copy of the mirror counts
 * that call for ever (its thread is not in the child): unregistering
 * waited for it to end and hung the child ("child killed by signal 14",
 * the alarm the child sets).  Now they only forget, as hms_close() does,
 * in a child. */
#include <unistd.h>

#include "hms_test.h"

static struct hms *h;
static char *p;

static bool sync_cb(struct hms_mirror *m, const struct hms_notify_range *r)
{
	(void)m;
	if (r->event == HMS_EVENT_RELEASE && r->start == (uintptr_t)p)
		t_held_here();
	return true;
}

static bool inv_cb(struct hms_interval *iv, const struct hms_notify_range *r, unsigned long seq)
{
	(void)r;
	hms_interval_set_seq(iv, seq);
	return true;
}

static const struct hms_mirror_ops mops = { sync_cb, NULL };
static const struct hms_interval_ops iops = { inv_cb };

static void *unmanager(void *arg)
{
	(void)arg;
	T_EQ(hms_unmanage(h, p, T_PAGE), 0); /* its RELEASE waits in sync_cb */
	return NULL;
}

int main(void)
{
	struct hms_mirror *m;
	struct hms_interval *iv;
	pid_t pid;

	h = t_open();
	t_watchdog(60, "fork_child_mirror_busy");
	p = hms_alloc(h, T_PAGE, 0);
	T_ASSERT(p);
	p[0] = 7;
	T_EQ(hms_mirror_register(h, &mops, NULL, &m), 0);
	T_EQ(hms_interval_insert(h, (uintptr_t)p, T_PAGE, &iops, NULL, &iv), 0);
	pid = t_fork_held(unmanager, NULL);
	if (pid == 0) {
		hms_mirror_unregister(m);
		hms_interval_remove(iv);
		hms_close(h);
		_exit(p[0] == 7 ? 0 : 1);
	}
	t_held_release();
	t_wait_ok(pid);
	hms_interval_remove(iv);
	hms_mirror_unregister(m);
	T_EQ(munmap(p, T_PAGE), 0); /* unmanaged: the caller's now */
	hms_close(h);
	printf("PASS\n");
	return 0;
}
