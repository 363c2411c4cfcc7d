/* SPDX-License-Identifier: MIT */
/* remap_records_full_race: the handler keeps a record of each REMAP's old
 * range until that range's UNMAP comes (design 2, REMAP), 64 at most; the
 * oldest went when a 65th came.  An mremap(MREMAP_DONTUNMAP) leaves a
 * record that no UNMAP of its own ever takes, so 64 of them read between
 * an mremap's REMAP and its UNMAP pushed out the record that UNMAP
 * needed.  Here mremap A moves page a away, mremap B moves a page that is
 * on a device onto a's old place, and 64 DONTUNMAP mremaps of other pages
 * follow, all queued while the handler is held (a test hook holds it in
 * the migration of a CPU fault).  A's UNMAP, read after the 66 REMAPs,
 * found no record and removed B's page from the table: the device's copy
 * was dropped and the CPU read zeros at a.  The records that change
 * nothing when their UNMAP comes (the old range was still mapped, nothing
 * moved onto it since: what DONTUNMAP leaves) now go first. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"
#include "hold_handler.inc"

#define NFILL 64 /* DONTUNMAP mremaps after A and B */
#define NT (2 + NFILL)

static struct hms *h;

static struct mover {
	pthread_t t;
	atomic_int tid;
	char *from, *to;
	int flags;
	bool onto_hole; /* to: a hole (moved: mapped), or a reserve() (moved: resident) */
} mv[NT];

static void *move(void *arg)
{
	struct mover *m = arg;

	atomic_store(&m->tid, (int)syscall(SYS_gettid));
	T_ASSERT(mremap(m->from, T_PAGE, T_PAGE, MREMAP_MAYMOVE | MREMAP_FIXED | m->flags, m->to) ==
		 m->to);
	return NULL;
}

/* Thread m sleeps in mremap (S, or D: the wait is killable), its pages
 * moved: it waits for the handler to read its REMAP event. */
static bool waits_in_mremap(struct mover *m)
{
	unsigned char vec;
	int tid = atomic_load(&m->tid);

	return tid && !mincore(m->to, T_PAGE, &vec) && (m->onto_hole || (vec & 1)) &&
	       t_thread_sleeps_in(tid, SYS_mremap);
}

static void start_and_wait(int first, int n)
{
	for (int i = first; i < first + n; i++)
		T_EQ(pthread_create(&mv[i].t, NULL, move, &mv[i]), 0);
	for (int i = first; i < first + n; i++)
		while (!waits_in_mremap(&mv[i]))
			usleep(1000);
}

/* A reserved place, PROT_NONE and untouched (no page resident). */
static char *reserve(void)
{
	char *p = mmap(NULL, T_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	T_ASSERT(p != MAP_FAILED);
	return p;
}

int main(void)
{
	struct hms_softdev *d;
	struct hms_page_info pi;
	char *a, *b;
	pthread_t r;

	h = t_open();
	d = t_softdev(h, 0);
	hold = hms_alloc(h, T_PAGE, 0);
	a = hms_alloc(h, T_PAGE, 0);
	b = hms_alloc(h, T_PAGE, 0);
	T_ASSERT(hold && a && b);
	memset(hold, 'h', T_PAGE);
	memset(a, 'a', T_PAGE);
	memset(b, 'b', T_PAGE);
	t_to_device(h, d, hold, 1, "hold");
	t_to_device(h, d, b, 1, "b");
	mv[0] = (struct mover){ .from = a, .to = reserve() };
	mv[1] = (struct mover){ .from = b, .to = a, .onto_hole = true };
	for (int i = 2; i < NT; i++) {
		mv[i] = (struct mover){ .from = hms_alloc(h, T_PAGE, 0), .to = reserve(),
					.flags = MREMAP_DONTUNMAP };
		T_ASSERT(mv[i].from);
		mv[i].from[0] = 'f';
	}
	t_watchdog(60, "the handler held, or the mremaps");

	hms__test_hook_in_handler(true);
	hms__test_hook_set(hold_hook, NULL);
	T_EQ(pthread_create(&r, NULL, hold_reader, NULL), 0);
	hold_wait();
	/* In this order in the event queue: A's REMAP, B's (onto a's old
	 * place, a hole now), then the 64 others; A's UNMAP comes only
	 * once its REMAP was read. */
	start_and_wait(0, 1);
	start_and_wait(1, 1);
	start_and_wait(2, NFILL);
	hold_release();
	for (int i = 0; i < NT; i++)
		T_EQ(pthread_join(mv[i].t, NULL), 0);
	T_EQ(pthread_join(r, NULL), 0);
	hms__test_hook_set(NULL, NULL);
	hms__test_hook_in_handler(false);
	T_EQ(hms_sync(h), 0);
	t_watchdog(0, NULL);

	/* B's page is managed at a, still on the device, with its bytes. */
	if (hms_page_query(h, a, 1, &pi) != 1)
		T_FAIL("the page moved onto a's old place is not managed any more");
	T_EQ(pi.location, HMS_LOC_DEVICE);
	for (size_t i = 0; i < T_PAGE; i++)
		if (a[i] != 'b')
			T_FAIL("byte %zu at a: %#x, not 'b'", i, (unsigned)(unsigned char)a[i]);
	T_EQ(mv[0].to[0], 'a');
	for (int i = 2; i < NT; i++)
		T_EQ(mv[i].to[0], 'f');
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
