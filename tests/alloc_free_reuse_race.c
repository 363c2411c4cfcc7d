/* alloc_free_reuse_race: two threads hms_alloc() and hms_free() areas of
 * one size at once, so that the kernel hands one thread the addresses the
 * other has just freed.  Every area hms_alloc() returns is managed
 * (hms_page_query() answers for it) until its hms_free(), which succeeds.
 * The munmap() inside hms_free() raises an UNMAP event that the handler
 * may read after the other thread's hms_alloc() made a new area at those
 * addresses; it removed the new area (hms_page_query and hms_free then
 * said -ENOENT, and the memory was never unmapped). */
#include <pthread.h>
#include "hms_test.h"

#define ROUNDS 3000

static struct hms *h;

static void *worker(void *arg)
{
	long id = (long)arg;

	for (int i = 0; i < ROUNDS; i++) {
		struct hms_page_info pi[4];
		char *p = hms_alloc(h, 4 * T_PAGE, 0);
		long q;
		int f;

		if (!p)
			T_FAIL("thread %ld round %d: hms_alloc: %s", id, i, strerror(errno));
		p[T_PAGE] = 1;
		q = hms_page_query(h, p, 4, pi);
		f = hms_free(h, p, 4 * T_PAGE);
		if (q != 4 || f != 0)
			T_FAIL("thread %ld round %d: hms_page_query %ld, hms_free %d", id, i, q, f);
	}
	return NULL;
}

int main(void)
{
	pthread_t t;

	h = t_open();
	T_EQ(pthread_create(&t, NULL, worker, (void *)1), 0);
	worker((void *)0);
	T_EQ(pthread_join(t, NULL), 0);
	hms_close(h);
	return 0;
}
