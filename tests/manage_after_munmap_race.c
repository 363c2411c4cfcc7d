/* SPDX-License-Identifier: MIT */
/* manage_after_munmap_race: two threads each mmap() fresh memory at one
 * address (MAP_FIXED_NOREPLACE), hms_manage() it, touch it and munmap()
 * it, so that one thread manages the addresses the other has just
 * unmapped.  hms_manage() must succeed every time: the kernel lets the
 * mapping go before the UNMAP event of the munmap() is queued and read,
 * so the old area could still be in the table, and hms_manage() failed
 * with EEXIST although the caller's memory was not managed.
 * (MOVE_AWAY 1: manage_after_mremap_race, the range moved away instead;
 * SHRINK 1 as well: manage_after_mremap_shrink_race, moved and cut to half.) */
#include <pthread.h>
#include <time.h>
#include "hms_test.h"

#ifndef MOVE_AWAY
#define MOVE_AWAY 0
#endif
#ifndef SHRINK
#define SHRINK 0
#endif
#define LEN (4 * T_PAGE)
#define MOVED_LEN (SHRINK ? LEN / 2 : LEN) /* what the mremap keeps */
#define MANAGES 3000 /* per thread */
#define SECONDS 3    /* at most, whatever was done (the old code failed within 0.1 s;
		      * the shrinking move on Linux 6.1 in the VM, at manage 158) */

static struct hms *h;
static char *at, *away[2];

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
	long id = (long)arg;
	double end;
	char *to = away[id];
	int done = 0;

	/* Past the time until it had the address once: on a loaded machine
	 * the other thread may have held it all the while. */
	for (end = now_s() + SECONDS; done < MANAGES && (now_s() < end || !done);) {
		struct hms_page_info pi[4];
		char *p = mmap(at, LEN, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		long q;
		int ret;

		if (p == MAP_FAILED && errno == EEXIST)
			continue; /* the other thread has it now */
		T_ASSERT(p != MAP_FAILED);
		if (p != at)
			T_SKIP("MAP_FIXED_NOREPLACE is taken as a hint here");
		ret = hms_manage(h, p, LEN);
		if (ret)
			T_FAIL("thread %ld, manage %d: hms_manage: %s", id, done, strerror(-ret));
		p[T_PAGE] = 1;
		q = hms_page_query(h, p, 4, pi);
		if (q != 4)
			T_FAIL("thread %ld, manage %d: hms_page_query of the new area: %ld", id, done, q);
		T_EQ(pi[1].location, HMS_LOC_SYSTEM);
		if (!MOVE_AWAY) {
			T_EQ(munmap(p, LEN), 0);
		} else {
			T_ASSERT(mremap(p, LEN, MOVED_LEN, MREMAP_MAYMOVE | MREMAP_FIXED, to) == to);
			T_EQ(to[T_PAGE], 1);
			/* Unmanaged there too (an UNMAP event), the place kept. */
			T_ASSERT(mmap(to, MOVED_LEN, PROT_NONE,
				      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == to);
		}
		done++;
	}
	return NULL;
}

int main(void)
{
	pthread_t t;

	h = t_open();
	/* Where each thread moves its area: kept mapped (inaccessible) in
	 * between, so that MREMAP_FIXED replaces nobody else's memory. */
	for (int i = 0; MOVE_AWAY && i < 2; i++) {
		away[i] = mmap(NULL, LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		T_ASSERT(away[i] != MAP_FAILED);
	}
	/* A free address, taken in turns: low in the address space, where
	 * nothing else maps (mmap(NULL) looks from the top down), so that
	 * no other mapping takes it while neither thread holds it. */
	at = t_map_low(LEN);
	T_EQ(munmap(at, LEN), 0);
	T_EQ(pthread_create(&t, NULL, worker, (void *)1), 0);
	worker((void *)0);
	T_EQ(pthread_join(t, NULL), 0);
	hms_close(h);
	return 0;
}
