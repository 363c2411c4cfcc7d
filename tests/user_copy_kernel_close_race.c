/* SPDX-License-Identifier: MIT */
/* user_copy_kernel_close_race: a copy through the kernel that stops at a
 * page of a user-mode-only context holds a reference to the context
 * (kcopy_refs) from its lookup until it has resolved the page.
 * hms_close() of that context, started meanwhile (here from a test hook,
 * KERNEL_COPY, that runs with the reference held), takes it off the list
 * and then waits for the reference to go before it frees anything: it
 * returns only after the copy is done with the context, and the copy
 * returns every byte.  (Without the wait, hms_close() returned inside the
 * hook and the copy then locked a freed context.) */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

static struct hms *h;
static char *p;
static atomic_int closer_tid, closed, hooked;
static pthread_t closer_thread;
static char buf[T_PAGE];

static void *closer(void *arg)
{
	(void)arg;
	atomic_store(&closer_tid, (int)syscall(SYS_gettid));
	hms_close(h);
	atomic_store(&closed, 1);
	return NULL;
}

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	if (point != HMS_HOOK_KERNEL_COPY || start != (uintptr_t)p || atomic_exchange(&hooked, 1))
		return;
	T_EQ(pthread_create(&closer_thread, NULL, closer, NULL), 0);
	/* hms_close() goes to sleep (in the wait for this copy's
	 * reference), and stays there while the copy holds it. */
	for (int ms = 0; ms < 10000; ms++) {
		int tid = atomic_load(&closer_tid);

		if (atomic_load(&closed))
			T_FAIL("hms_close returned while a kernel copy held the context");
		if (tid && t_thread_sleeps_in(tid, SYS_futex))
			break;
		usleep(1000);
	}
	usleep(50 * 1000);
	if (atomic_load(&closed))
		T_FAIL("hms_close returned while a kernel copy held the context");
}

int main(void)
{
	struct hms_softdev *d;
	struct hms_softdev_cmd c;

	h = t_open_user_kernel_copy();
	d = t_softdev(h, 0);
	/* Mapped here, not by hms_alloc: the copy reads it after hms_close(). */
	p = mmap(NULL, T_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(p != MAP_FAILED);
	T_EQ(hms_manage(h, p, T_PAGE), 0);
	memset(p, 'k', T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, 1, &c), 0);
	T_EQ(c.cpages, 1);

	t_watchdog(30, "hms_close while a kernel copy holds the context");
	hms__test_hook_set(hook, NULL);
	/* The page is on the device: the copy stops there and resolves it. */
	T_EQ(hms_user_read(buf, p, T_PAGE), (ssize_t)T_PAGE);
	T_EQ(atomic_load(&hooked), 1);
	T_EQ(pthread_join(closer_thread, NULL), 0);
	hms__test_hook_set(NULL, NULL);
	t_watchdog(0, NULL);
	T_EQ(atomic_load(&closed), 1);
	for (size_t i = 0; i < T_PAGE; i++)
		if (buf[i] != 'k')
			T_FAIL("byte %zu: %#x, not 'k'", i, (unsigned)(unsigned char)buf[i]);
	T_EQ(p[0], 'k');
	T_EQ(munmap(p, T_PAGE), 0);
	return 0;
}
