/* SPDX-License-Identifier: MIT */
/* fork_child_calls: in a fork child, calls on the contexts and devices it
 * inherited answer -ECHILD (allocators: NULL with errno ECHILD) at once,
 * without touching the parent's state, and the teardown calls
 * (hms_softdev_destroy, hms_close) only forget what the child cannot use;
 * the child keeps every byte, including those of pages that were on the
 * device.  The child runs each call under an alarm: one that hangs kills
 * it (SIGALRM), and the step it was at is printed.  Before the fix
 * hms_softdev_destroy() in the child joined worker threads that exist
 * only in the parent and hung ("step softdev_destroy", child killed by
 * signal 14), and hms_softdev_migrate_to_device() said -ENOENT. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hms_test.h"

#define NPAGES 4
#define N_INT (NPAGES * T_PAGE / sizeof(int))
#define BASE 0x3300

static const char *step;

#define STEP(name, expr, want)                                              \
	do {                                                                \
		step = name;                                                \
		fprintf(stderr, "child: step %s\n", step);                  \
		alarm(10);                                                  \
		long got_ = (long)(expr);                                   \
		alarm(0);                                                   \
		if (got_ != (long)(want)) {                                 \
			fprintf(stderr, "child: %s returned %ld, not %ld\n", \
				step, got_, (long)(want));                  \
			_exit(1);                                           \
		}                                                           \
	} while (0)

static void child(struct hms *h, struct hms_softdev *d, int *p)
{
	size_t size = NPAGES * T_PAGE;
	struct hms_page_info info[NPAGES];
	hms_uid where[NPAGES];
	struct hms_softdev_cmd c = { (uint64_t)(uintptr_t)p, NULL, NPAGES, 0, 0 };
	char *q = mmap(NULL, T_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (q == MAP_FAILED)
		_exit(2);
	signal(SIGALRM, SIG_DFL); /* not the parent's watchdog: a hang kills */
	errno = 0;
	STEP("alloc", hms_alloc(h, T_PAGE, 0) == NULL && errno == ECHILD, 1);
	STEP("manage", hms_manage(h, q, T_PAGE), -ECHILD);
	STEP("unmanage", hms_unmanage(h, p, size), -ECHILD);
	STEP("protect", hms_protect(h, p, size, PROT_READ), -ECHILD);
	STEP("prefault", hms_prefault(h, p, size, true), -ECHILD);
	STEP("page_query", hms_page_query(h, p, NPAGES, info), -ECHILD);
	STEP("where", hms_where(h, p, NPAGES, where), -ECHILD);
	STEP("migrate", hms_migrate(h, p, size, NULL, 0, 0), -ECHILD);
	STEP("sync", hms_sync(h), -ECHILD);
	STEP("softdev_migrate", hms_softdev_migrate_to_device(d, &c), -ECHILD);
	STEP("softdev_release", hms_softdev_release(d), -ECHILD);
	STEP("free", hms_free(h, p, size), -ECHILD);
	step = "softdev_destroy";
	fprintf(stderr, "child: step %s\n", step);
	alarm(10);
	hms_softdev_destroy(d);
	step = "close";
	fprintf(stderr, "child: step %s\n", step);
	hms_close(h);
	alarm(0);
	/* The memory is the child's own, plain and whole. */
	for (size_t i = 0; i < N_INT; i++)
		if (p[i] != BASE + (int)i) {
			fprintf(stderr, "child: word %zu: %d, not %d\n", i, p[i], BASE + (int)i);
			_exit(1);
		}
	_exit(0);
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	int *p = t_alloc_one_batch(h, NPAGES * T_PAGE);
	pid_t pid;

	t_watchdog(60, "fork_child_calls");
	T_ASSERT(p);
	t_fill(p, N_INT, BASE);
	t_to_device(h, d, p, NPAGES, "before fork");
	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0)
		child(h, d, p);
	t_wait_ok(pid);
	/* The parent's context goes on working. */
	t_device_round_trip(h, d, p, NPAGES, BASE, "after fork");
	hms_softdev_destroy(d);
	hms_close(h);
	printf("PASS\n");
	return 0;
}
