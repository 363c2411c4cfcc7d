/* SPDX-License-Identifier: MIT */
/* remap_onto_vacated_race: an mremap(MREMAP_FIXED) onto a mapped, managed
 * range sends the UNMAP of that destination first and waits for it to be
 * read before it queues its REMAP; its pages are already moved, and its
 * old place a hole.  Another thread's mremap onto that hole meanwhile
 * queues its REMAP ahead of the first one's.  Here A moves a (on a
 * device) onto q, B moves b (on a device) onto a's old place, with both
 * events queued while a test hook holds the handler: the handler reads
 * A's UNMAP of q and B's REMAP in one batch, and A's REMAP after them.
 * Each page must end managed where the kernel put it, with its bytes:
 * 'a' at q, 'b' at a. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"
#include "hold_handler.inc"

static struct hms *h;

static struct mover {
	pthread_t t;
	atomic_int tid;
	atomic_bool go;
	char *from, *to;
} mv[2];

static void *move(void *arg)
{
	struct mover *m = arg;

	while (!atomic_load(&m->go))
		usleep(1000);
	atomic_store(&m->tid, (int)syscall(SYS_gettid));
	T_ASSERT(mremap(m->from, T_PAGE, T_PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, m->to) == m->to);
	return NULL;
}

static bool mapped(const void *p)
{
	unsigned char vec;

	return !mincore((void *)p, T_PAGE, &vec);
}

/* Thread m sleeps in mremap, its source unmapped and its destination
 * mapped: it waits for the handler to read one of its events. */
static bool waits_in_mremap(struct mover *m)
{
	int tid = atomic_load(&m->tid);

	return tid && !mapped(m->from) && mapped(m->to) && t_thread_sleeps_in(tid, SYS_mremap);
}

/* Both threads exist before a is a hole: a stack made after could take
 * it. */
static void go_and_wait(struct mover *m)
{
	atomic_store(&m->go, true);
	while (!waits_in_mremap(m))
		usleep(1000);
}

/* Says what is wrong at p; false then. */
static bool expect(char *p, char c, const char *what)
{
	struct hms_page_info pi;
	long r = hms_page_query(h, p, 1, &pi);

	if (r != 1) {
		printf("%s: not managed (hms_page_query says %ld)\n", what, r);
		return false;
	}
	for (size_t i = 0; i < T_PAGE; i++)
		if (p[i] != c) {
			printf("%s: byte %zu is %#x, not '%c'\n", what, i,
			       (unsigned)(unsigned char)p[i], c);
			return false;
		}
	return true;
}

int main(void)
{
	struct hms_softdev *d;
	char *a, *b, *q;
	pthread_t r;
	bool ok;

	h = t_open();
	d = t_softdev(h, 0);
	hold = hms_alloc(h, T_PAGE, 0);
	a = hms_alloc(h, T_PAGE, 0);
	b = hms_alloc(h, T_PAGE, 0);
	q = hms_alloc(h, T_PAGE, 0);
	T_ASSERT(hold && a && b && q);
	memset(hold, 'h', T_PAGE);
	memset(a, 'a', T_PAGE);
	memset(b, 'b', T_PAGE);
	memset(q, 'q', T_PAGE);
	t_to_device(h, d, hold, 1, "hold");
	t_to_device(h, d, a, 1, "a");
	t_to_device(h, d, b, 1, "b");
	mv[0] = (struct mover){ .from = a, .to = q };
	mv[1] = (struct mover){ .from = b, .to = a };
	t_watchdog(60, "the handler held, or the mremaps");

	hms__test_hook_in_handler(true);
	hms__test_hook_set(hold_hook, NULL);
	T_EQ(pthread_create(&r, NULL, hold_reader, NULL), 0);
	hold_wait();
	/* A: a's page moved to q, A waits for its UNMAP of q to be read
	 * (its REMAP comes after that); B then moves b onto a's old place
	 * and queues its REMAP. */
	for (int i = 0; i < 2; i++)
		T_EQ(pthread_create(&mv[i].t, NULL, move, &mv[i]), 0);
	go_and_wait(&mv[0]);
	go_and_wait(&mv[1]);
	hold_release();
	for (int i = 0; i < 2; i++)
		T_EQ(pthread_join(mv[i].t, NULL), 0);
	T_EQ(pthread_join(r, NULL), 0);
	hms__test_hook_set(NULL, NULL);
	hms__test_hook_in_handler(false);
	T_EQ(hms_sync(h), 0);
	t_watchdog(0, NULL);

	ok = expect(q, 'a', "a's page moved to q");
	ok &= expect(a, 'b', "b's page moved to a");
	if (!ok)
		T_FAIL("a page lost, or at the wrong address");
	hms_softdev_destroy(d);
	hms_close(h);
	printf("ok: both pages managed where they moved, with their bytes\n");
	return 0;
}
