/* anon_teardown: a device reads managed memory while another thread
 * munmap()s half of it: the read either fails with -EFAULT or succeeds
 * with every word intact, nothing crashes or hangs, and the context and
 * device stay usable.
 *
 * hms differs from the kernel test on one point: a successful read may
 * take more than one fault round (the unmap can invalidate what was
 * faulted), so faults is checked to be at least 1. */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "hms_test.h"

#define NTIMES 30

struct job {
	char *p;
	size_t size;
	unsigned delay_ns;
};

static void *unmap_half(void *arg)
{
	struct job *j = arg;
	struct timespec t = { 0, j->delay_ns };

	nanosleep(&t, NULL);
	T_EQ(munmap(j->p + j->size / 2, j->size / 2), 0);
	return NULL;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t npages = 1024, size = npages * T_PAGE, n = size / sizeof(int);
	int *buf = malloc(size);
	unsigned seed = (unsigned)getpid();
	int ok = 0, failed = 0;

	T_ASSERT(buf);
	for (int c = 0; c < NTIMES; c++) {
		int *p = hms_alloc(h, size, 0);
		struct job j = { (char *)p, size, (unsigned)(rand_r(&seed) % 32000) };
		struct hms_softdev_cmd cmd;
		pthread_t th;
		int rc;

		T_ASSERT(p);
		t_fill(p, n, c);
		memset(buf, 0xAA, size);
		T_EQ(pthread_create(&th, NULL, unmap_half, &j), 0);
		rc = t_cmd(d, hms_softdev_read, p, buf, npages, &cmd);
		if (rc == 0) {
			T_EQ(cmd.cpages, npages);
			T_ASSERT(cmd.faults >= 1);
			t_check(buf, n, c);
			ok++;
		} else {
			T_EQ(rc, -EFAULT);
			failed++;
		}
		T_EQ(pthread_join(th, NULL), 0);
		/* The first half is still managed and intact. */
		t_check(p, n / 2, c);
		T_EQ(hms_free(h, p, size / 2), 0);
	}
	printf("%d reads succeeded, %d failed with -EFAULT\n", ok, failed);

	/* Still usable afterwards. */
	{
		int *p = hms_alloc(h, size, 0);
		struct hms_softdev_cmd cmd;

		T_ASSERT(p);
		t_fill(p, n, 99);
		T_EQ(t_cmd(d, hms_softdev_read, p, buf, npages, &cmd), 0);
		T_EQ(cmd.faults, 1);
		t_check(buf, n, 99);
	}
	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
