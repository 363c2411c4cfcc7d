/* alloc_after_munmap_race: one thread hms_alloc()s while another
 * munmap()s managed memory of the same size, so that the kernel hands the
 * first the addresses just unmapped, before the fault handler has removed
 * the old area on the munmap's UNMAP event.  hms_alloc() must not fail:
 * it failed with EEXIST, the old area still being in the table. */
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

		if (!p)
			T_FAIL("thread %ld round %d: hms_alloc: %s", id, i, strerror(errno));
		p[T_PAGE] = 1;
		T_EQ(hms_page_query(h, p, 4, pi), 4);
		T_EQ(munmap(p, 4 * T_PAGE), 0);
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
