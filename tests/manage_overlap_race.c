/* manage_overlap_race: two threads hms_manage() the same range at once.
 * One wins, the other gets -EEXIST, and the winner's area stays
 * registered with userfaultfd ("um" in its VmFlags in /proc/self/smaps).
 * The loser registered the range before it found the overlap, and undid
 * that by unregistering the whole range: the winner's area stayed in the
 * table, unknown to the kernel (no CPU fault there reached hms, and a
 * migration to a device moved no page). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include "hms_test.h"

#define ROUNDS 300

static struct hms *h;
static pthread_barrier_t go;
static char *range;
static int ret[2];

static void *manage(void *arg)
{
	int i = (int)(intptr_t)arg;

	pthread_barrier_wait(&go);
	ret[i] = hms_manage(h, range, 2 * T_PAGE);
	pthread_barrier_wait(&go);
	return NULL;
}

int main(void)
{
	struct hms_softdev *d;
	pthread_t t;

	h = t_open();
	d = t_softdev(h, 0);
	T_EQ(pthread_barrier_init(&go, NULL, 2), 0);
	for (int r = 0; r < ROUNDS; r++) {
		struct hms_softdev_cmd c;

		range = mmap(NULL, 2 * T_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
		T_ASSERT(range != MAP_FAILED);
		t_fill((int *)range, 2 * T_PAGE / sizeof(int), r);
		T_EQ(pthread_create(&t, NULL, manage, (void *)1), 0);
		manage((void *)0);
		T_EQ(pthread_join(t, NULL), 0);
		if (!((ret[0] == 0 && ret[1] == -EEXIST) || (ret[0] == -EEXIST && ret[1] == 0)))
			T_FAIL("round %d: hms_manage returned %d and %d", r, ret[0], ret[1]);
		if (!t_vm_flag(range, "um"))
			T_FAIL("round %d: the managed range is no longer registered (hms_manage returned %d and %d)", r, ret[0], ret[1]);
		/* What the registration is for: data on a device comes back. */
		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, range, NULL, 2, &c), 0);
		T_EQ(c.cpages, 2);
		t_check((int *)range, 2 * T_PAGE / sizeof(int), r);
		T_EQ(hms_unmanage(h, range, 2 * T_PAGE), 0);
		T_EQ(munmap(range, 2 * T_PAGE), 0);
	}
	T_EQ(hms_softdev_pages_used(d), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
