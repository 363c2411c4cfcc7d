/* alloc_remap_reuse_race: threads each hms_alloc() a fresh range (or,
 * every other thread, mmap() it and hms_manage() it) and mremap() it
 * over a block of their own (as `hms stress --huge` renews a block), so
 * that the kernel hands one thread the addresses another's
 * mremap has just left, while that mremap's UNMAP event for them is still
 * to be read.  Every block must be managed after every round: where a
 * third thread took the addresses again before a late UNMAP was read,
 * that UNMAP removed the third thread's new area, and its mremap then
 * moved no area at all (the block registered with the userfaultfd, in no
 * table: hms_page_query said ENOENT; seen once in some 20 runs of
 * HMS_UFFD_MOVE=0 hms stress --huge --seed 103; here 5 runs of 8).
 * hms_alloc and hms_manage now wait until no address-space change is
 * unread before they insert the area. */
#include <pthread.h>
#include <sys/mman.h>

#include "hms_test.h"

#define THREADS 6
#define ROUNDS 2000
#define ROUNDS_VM 400 /* the NUMA VM: 2,000 rounds took 81 s on 6.1 under TCG */
#define LEN (16 * T_PAGE)

static struct hms *h;
static char *blocks[THREADS];
static int rounds = ROUNDS;

static void *worker(void *arg)
{
	long id = (long)arg;
	char *b = blocks[id];

	for (int i = 0; i < rounds; i++) {
		struct hms_page_info pi;
		char *p;
		long r;

		if (id & 1) { /* the odd threads: mmap and hms_manage */
			p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
				 0);
			if (p == MAP_FAILED)
				T_FAIL("thread %ld round %d: mmap: %s", id, i, strerror(errno));
			r = hms_manage(h, p, LEN);
			if (r)
				T_FAIL("thread %ld round %d: hms_manage: %ld", id, i, r);
		} else {
			p = hms_alloc(h, LEN, 0);
			if (!p)
				T_FAIL("thread %ld round %d: hms_alloc: %s", id, i,
				       strerror(errno));
		}
		if (mremap(p, LEN, LEN, MREMAP_MAYMOVE | MREMAP_FIXED, b) != b)
			T_FAIL("thread %ld round %d: mremap: %s", id, i, strerror(errno));
		b[T_PAGE] = (char)i;
		r = hms_page_query(h, b, 1, &pi);
		if (r != 1)
			T_FAIL("thread %ld round %d: the block moved in is not managed: "
			       "hms_page_query says %ld", id, i, r);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];

	if (getenv("HMS_IN_VM"))
		rounds = ROUNDS_VM;
	h = t_open();
	for (long i = 0; i < THREADS; i++) {
		blocks[i] = hms_alloc(h, LEN, 0);
		T_ASSERT(blocks[i]);
	}
	for (long i = 1; i < THREADS; i++)
		T_EQ(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	worker((void *)0);
	for (long i = 1; i < THREADS; i++)
		T_EQ(pthread_join(t[i], NULL), 0);
	for (long i = 0; i < THREADS; i++) {
		T_EQ(blocks[i][T_PAGE], (char)(rounds - 1));
		if (i & 1) { /* last moved in by hms_manage: not hms_free's */
			T_EQ(hms_unmanage(h, blocks[i], LEN), 0);
			T_EQ(munmap(blocks[i], LEN), 0);
		} else {
			T_EQ(hms_free(h, blocks[i], LEN), 0);
		}
	}
	hms_close(h);
	printf("ok: %d threads, %d rounds each: every block managed after each mremap\n", THREADS,
	       rounds);
	return 0;
}
