/* SPDX-License-Identifier: MIT */
/* fork_child_read_begin: in a fork child, hms_interval_read_begin() and
 * hms_range_invalidating() on an inherited context answer at once, even
 * when an invalidation of the interval was running in another thread of
 * the parent as the fork copied the address space.  The child's copy of
 * that invalidation never ends (its thread is not in the child): the
 * sequence stays odd and read_begin() waited for it for ever ("child
 * killed by signal 14", the alarm the child sets).  Now read_begin()
 * returns the interval's sequence, hms_range_fault() then says -ECHILD
 * as every call on an inherited context does, and hms_range_invalidating()
 * says true (an invalidation the child cannot see end may run). */
#include <sys/mman.h>
#include <unistd.h>

#include "hms_test.h"

static struct hms *h;
static char *p;

static bool inv_cb(struct hms_interval *iv, const struct hms_notify_range *r, unsigned long seq)
{
	hms_interval_set_seq(iv, seq);
	if (r->event == HMS_EVENT_PROTECTION_VMA && r->start == (uintptr_t)p)
		t_held_here();
	return true;
}

static const struct hms_interval_ops iops = { inv_cb };

static void *protector(void *arg)
{
	(void)arg;
	T_EQ(hms_protect(h, p, T_PAGE, PROT_READ), 0); /* waits in inv_cb */
	return NULL;
}

int main(void)
{
	struct hms_interval *iv;
	pid_t pid;

	h = t_open();
	t_watchdog(60, "fork_child_read_begin");
	p = hms_alloc(h, T_PAGE, 0);
	T_ASSERT(p);
	p[0] = 7;
	T_EQ(hms_interval_insert(h, (uintptr_t)p, T_PAGE, &iops, NULL, &iv), 0);
	pid = t_fork_held(protector, NULL);
	if (pid == 0) {
		uint64_t pfn = 0;
		struct hms_range r = { .interval = iv, .start = (uintptr_t)p,
				       .end = (uintptr_t)p + T_PAGE, .pfns = &pfn };

		r.notifier_seq = hms_interval_read_begin(iv);
		if (hms_range_fault(h, &r) != -ECHILD)
			_exit(2);
		if (!hms_range_invalidating(h, (uintptr_t)p, (uintptr_t)p + T_PAGE))
			_exit(3);
		hms_interval_remove(iv);
		hms_close(h);
		_exit(p[0] == 7 ? 0 : 1);
	}
	t_held_release();
	t_wait_ok(pid);
	hms_interval_remove(iv);
	T_EQ(hms_free(h, p, T_PAGE), 0);
	hms_close(h);
	printf("PASS\n");
	return 0;
}
