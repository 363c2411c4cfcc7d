/* SPDX-License-Identifier: MIT */
/* fork_close_race: a fork() on another thread while hms_close() runs
 * gives the child every byte of the context's memory, pages on a device
 * included.  A test hook (CLOSE_EVICT) runs on the closing thread after
 * its mirrors were released and before its pages come home; there another
 * thread forks, and the child compares the pages with what they hold.
 * Before the fix hms_close() took the context off the list fork's prepare
 * handler walks before it brought the pages home: the fork copied the
 * address space with the device pages missing, and the child read zeros
 * ("child: the pages it inherited are wrong", exit 1; Linux 6.18).  Now
 * the context stays listed until its memory is unregistered, and fork
 * waits until hms_close() has brought the pages home.  (The hook waits
 * half a second for the fork to end: with the fix it cannot end before
 * the hook returns.) */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

#define NPAGES 8
#define N_INT (NPAGES * T_PAGE / sizeof(int))
#define BASE 0x7100

static struct {
	int *p;
	pthread_t forker;
	atomic_bool armed;        /* the close hook has run */
	atomic_bool fork_started; /* the prepare handlers run */
	atomic_bool forked;       /* fork() returned in the parent */
	int status;               /* the child's */
} race;

static void prepare(void)
{
	if (race.armed)
		race.fork_started = true; /* runs before hms' own handler */
}

static void *forker(void *arg)
{
	pid_t pid;

	(void)arg;
	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		for (size_t i = 0; i < N_INT; i++)
			if (race.p[i] != BASE + (int)i)
				_exit(1);
		_exit(0);
	}
	race.forked = true;
	T_EQ(waitpid(pid, &race.status, 0), pid);
	return NULL;
}

static void hook(enum hms_test_hook point, uintptr_t start, size_t len, void *arg)
{
	(void)start;
	(void)len;
	(void)arg;
	if (point != HMS_HOOK_CLOSE_EVICT || race.armed)
		return;
	race.armed = true;
	T_EQ(pthread_create(&race.forker, NULL, forker, NULL), 0);
	while (!race.fork_started)
		usleep(1000);
	for (int ms = 0; ms < 500 && !race.forked; ms++)
		usleep(1000);
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	char *raw;

	t_watchdog(60, "fork_close_race");
	T_EQ(pthread_atfork(prepare, NULL, NULL), 0);
	/* Memory hms_manage() adopted stays mapped after hms_close() (the
	 * close unmaps hms_alloc()'s, and a fork may copy after that). */
	raw = mmap(NULL, 2 * HMS_MIGRATE_MAX_BYTES, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(raw != MAP_FAILED);
	race.p = (int *)(((uintptr_t)raw + HMS_MIGRATE_MAX_BYTES - 1) &
			 ~(uintptr_t)(HMS_MIGRATE_MAX_BYTES - 1));
	T_EQ(hms_manage(h, race.p, NPAGES * T_PAGE), 0);
	t_fill(race.p, N_INT, BASE);
	t_to_device(h, d, race.p, NPAGES, "before close");
	hms__test_hook_set(hook, NULL);
	hms_close(h); /* the softdev's handle goes with it */
	hms__test_hook_set(NULL, NULL);
	if (!race.armed)
		T_FAIL("the hook did not run");
	T_EQ(pthread_join(race.forker, NULL), 0);
	if (!WIFEXITED(race.status) || WEXITSTATUS(race.status) != 0)
		T_FAIL("child: the pages it inherited are wrong (status 0x%x)", race.status);
	t_check(race.p, N_INT, BASE); /* and the parent's, unmanaged now */
	printf("PASS\n");
	return 0;
}
