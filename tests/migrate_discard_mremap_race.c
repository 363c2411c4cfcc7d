/* migrate_discard_mremap_race: an mremap() that puts another mapping's
 * pages where a migration to a device is about to discard the system copy
 * (UFFDIO_MOVE into a spare range, design 5a) must not lose them.  The
 * mremap unmaps the migrating range (an UNMAP event) and moves plain
 * memory holding other data in its place; its caller waits until the
 * handler reads the event, which the fill gate holds back while the
 * discard runs.  The discard must see the change (the kernel refuses a
 * move through hms' userfaultfd while such an event is unread) and leave
 * the new pages alone: the range reads the moved mapping's data.  A move
 * straight through the spare ranges' own userfaultfd, which no event of
 * hms' ranges holds back (as before this test), took the new pages: the
 * range read zeros.
 *
 * The mremap runs while the discard sets up its first spare range: this
 * program's madvise() (which the library calls, MADV_DONTFORK) starts it
 * and waits until the pages were moved. */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"

#define NPAGES 64

static struct {
	char *range, *other;
	size_t size;
	pthread_t mover;
	bool armed, fired;
	void *moved;
} race;

static void *mover(void *arg)
{
	(void)arg;
	race.moved = mremap(race.other, race.size, race.size, MREMAP_MAYMOVE | MREMAP_FIXED,
			    race.range);
	return NULL;
}

/* The library's madvise: the spare range's MADV_DONTFORK is the moment. */
int madvise(void *addr, size_t len, int advice)
{
	if (advice == MADV_DONTFORK && race.armed) {
		unsigned char v;

		race.armed = false;
		T_EQ(pthread_create(&race.mover, NULL, mover, NULL), 0);
		/* Moved once the other mapping is gone; the mover then waits
		 * for the handler to read the range's UNMAP event. */
		for (int i = 0; !mincore(race.other, T_PAGE, &v) || errno != ENOMEM; i++) {
			if (i == 100000)
				T_FAIL("the mremap did not happen in 10 s");
			usleep(100);
		}
		race.fired = true;
	}
	return (int)syscall(SYS_madvise, addr, len, advice);
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d;
	struct hms_softdev_cmd c;
	size_t n;

	if (!hms__test_gated_discard(h))
		T_SKIP("discards do not move pages here (UFFDIO_MOVE, Linux 6.8)");
	d = t_softdev(h, 0);
	race.size = NPAGES * T_PAGE;
	n = race.size / sizeof(int);
	race.range = t_alloc_one_batch(h, race.size);
	t_fill((int *)race.range, n, 1);
	race.other = mmap(NULL, race.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	T_ASSERT(race.other != MAP_FAILED);
	t_fill((int *)race.other, n, 1000000);

	race.armed = true;
	t_watchdog(60, "a migration racing an mremap onto its range");
	(void)t_cmd(d, hms_softdev_migrate_to_device, race.range, NULL, NPAGES, &c);
	T_ASSERT(race.fired);
	T_EQ(pthread_join(race.mover, NULL), 0);
	t_watchdog(0, NULL);
	T_ASSERT(race.moved == race.range);
	T_EQ(hms_sync(h), 0);
	/* The range is the other mapping now, with every byte of it. */
	t_check((int *)race.range, n, 1000000);
	T_EQ(hms_softdev_pages_used(d), 0);
	munmap(race.range, race.size);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
