/* place_device_thrash: pages bound to device memory that two parties take
 * from each other (two devices the policy lists, a device the policy does
 * not list, the CPU) stop moving after HMS_THRASH_ROUNDS rounds in quick
 * succession: the block is pinned, no device touch places its pages, they
 * stay in system memory (HMS_PAGE_THRASHING) and every party reads and
 * writes them there without a migration.  One handoff is no contest: the
 * second device of a policy that lists both gets the pages.  A policy set
 * again forgets the pin.  Both parties at once, over and over: every read
 * succeeds with the right bytes.  Rounds further apart than HMS_THRASH_MS
 * pin nothing.  The pins go with the range when it is unmanaged or
 * unmapped.  (Before, two softdevs reading 8 MiB bound to both ten
 * times each made 120,000 migrations, and reads failed with -EFAULT or
 * -EBUSY; a CPU thread reading 4 MiB bound to a device while the device
 * read it five times took 28 s.)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "hms_test.h"
#include "place_util.h"

#define NP 1024 /* 4 MiB: two blocks */
#define ROUNDS 12

enum { BOTH, ONE, CPU, BOTH_HUGE, CPU_HUGE, SLOW };
static const char *const names[] = { "both", "one", "cpu", "both_huge", "cpu_huge", "slow" };

struct party {
	struct hms_softdev *d; /* NULL: the CPU */
	char *p;
	atomic_int *stop;
	int failures;
};

static void read_check(struct hms_softdev *d, char *p, char *buf, unsigned seed)
{
	struct hms_softdev_cmd c;

	if (!d) {
		t_pattern_check(p, NP, seed);
		return;
	}
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, NP, &c), 0);
	t_pattern_check(buf, NP, seed);
}

/* Every page in system memory; pinned (HMS_PAGE_THRASHING) or none is. */
static void all_system(struct hms *h, char *p, bool pinned)
{
	struct hms_page_info *info = calloc(NP, sizeof(*info));

	T_ASSERT(info);
	T_EQ(hms_page_query(h, p, NP, info), NP);
	for (size_t i = 0; i < NP; i++)
		if (info[i].location != HMS_LOC_SYSTEM ||
		    !!(info[i].flags & HMS_PAGE_THRASHING) != pinned)
			T_FAIL("page %zu: location %d, flags %#x (want system memory, %s)", i,
			       info[i].location, info[i].flags, pinned ? "pinned" : "not pinned");
	free(info);
}

static void none_pinned(struct hms *h, char *p)
{
	struct hms_page_info *info = calloc(NP, sizeof(*info));

	T_ASSERT(info);
	T_EQ(hms_page_query(h, p, NP, info), NP);
	for (size_t i = 0; i < NP; i++)
		T_EQ(info[i].flags & HMS_PAGE_THRASHING, 0);
	free(info);
}

/* The device reads (its first thread) or the CPU reads until told. */
static void *party_main(void *arg)
{
	struct party *r = arg;
	char *buf = malloc(NP * T_PAGE);

	T_ASSERT(buf);
	for (int i = 0; r->d ? i < ROUNDS : !atomic_load(r->stop); i++) {
		struct hms_softdev_cmd c;
		int ret;

		if (!r->d) {
			t_pattern_check(r->p, NP, 5);
			continue;
		}
		ret = t_cmd(r->d, hms_softdev_read, r->p, buf, NP, &c);
		if (ret) {
			fprintf(stderr, "read %d: %d\n", i, ret);
			r->failures++;
			continue;
		}
		t_pattern_check(buf, NP, 5);
	}
	free(buf);
	return NULL;
}

static void one(struct hms *h, int n)
{
	bool huge = n == BOTH_HUGE || n == CPU_HUGE, cpu = n == CPU || n == CPU_HUGE;
	bool both = n == BOTH || n == BOTH_HUGE;
	struct hms_softdev *a = t_softdev(h, 8 << 20), *b = cpu ? NULL : t_softdev(h, 8 << 20);
	hms_uid t[2] = { hms_softdev_target(a), b ? hms_softdev_target(b) : 0 };
	char *p = hms_alloc(h, NP * T_PAGE, huge ? HMS_ALLOC_HUGE : 0);
	char *buf = malloc(NP * T_PAGE);
	atomic_int stop = 0;
	struct party r[2] = { { a, p, &stop, 0 }, { b, p, &stop, 0 } };
	struct hms_stats s0, s1;
	struct hms_softdev_cmd c;
	pthread_t th[2];

	T_ASSERT(p && buf);
	t_pattern(p, NP, 1);
	T_EQ(hms_bind(h, p, NP * T_PAGE, t, both ? 2 : 1, 0), 0);

	/* Rounds: a device places the pages, another party takes them.  The
	 * third round pins the blocks (HMS_THRASH_ROUNDS=3). */
	if (both) {
		/* Each device's read is a handoff of the whole range. */
		read_check(a, p, buf, 1);
		t_where_all(h, p, NP, t[0]);
		read_check(b, p, buf, 1); /* round 1 */
		t_where_all(h, p, NP, t[1]);
		read_check(a, p, buf, 1); /* round 2 */
		t_where_all(h, p, NP, t[0]);
		none_pinned(h, p);
		read_check(b, p, buf, 1); /* round 3: pinned, home */
	} else {
		/* A device not listed, or the CPU: they take pages home. */
		for (int round = 1; round <= 3; round++) {
			read_check(a, p, buf, 1);
			t_where_all(h, p, NP, t[0]);
			read_check(b, p, buf, 1);
			all_system(h, p, round == 3);
		}
	}
	all_system(h, p, true);
	T_EQ(hms_softdev_pages_used(a), 0);
	T_EQ(b ? hms_softdev_pages_used(b) : 0, 0);

	/* Pinned: no touch moves them, and every party sees the others'
	 * writes. */
	T_EQ(hms_stats(h, &s0), 0);
	read_check(a, p, buf, 1);
	read_check(b, p, buf, 1);
	t_pattern(buf, NP, 2);
	T_EQ(t_cmd(a, hms_softdev_write, p, buf, NP, &c), 0);
	read_check(b, p, buf, 2);
	t_pattern_check(p, NP, 2);
	T_EQ(hms_stats(h, &s1), 0);
	T_EQ(s1.migrations_to_device, s0.migrations_to_device);
	T_EQ(s1.migrations_to_system, s0.migrations_to_system);
	all_system(h, p, true);

	/* A policy set again forgets the pin: the first touch places them
	 * (the devices forget their mappings of the system pages first, or
	 * they would not touch them again). */
	T_EQ(hms_bind(h, p, NP * T_PAGE, t, both ? 2 : 1, 0), 0);
	none_pinned(h, p);
	T_EQ(hms_softdev_release(a), 0);
	read_check(a, p, buf, 2);
	t_where_all(h, p, NP, t[0]);

	/* Both parties at once, from system memory and no pin. */
	t_pattern(p, NP, 5);
	T_EQ(hms_bind(h, p, NP * T_PAGE, t, both ? 2 : 1, 0), 0);
	T_EQ(hms_softdev_release(a), 0);
	if (b)
		T_EQ(hms_softdev_release(b), 0);
	for (int i = 0; i < 2; i++)
		T_EQ(pthread_create(&th[i], NULL, party_main, &r[i]), 0);
	T_EQ(pthread_join(th[0], NULL), 0);
	atomic_store(&stop, 1);
	T_EQ(pthread_join(th[1], NULL), 0);
	T_EQ(r[0].failures, 0);
	T_EQ(r[1].failures, 0);
	/* Three more rounds, one after the other, leave every block pinned
	 * (if the contest had not already) and every page home. */
	for (int round = 0; round < 3; round++) {
		read_check(a, p, buf, 5);
		read_check(b, p, buf, 5);
	}
	all_system(h, p, true);
	t_pattern_check(p, NP, 5);

	/* The pins go with the range: managed again, or unmapped and mapped
	 * anew at the same addresses, no page of it is pinned. */
	T_EQ(hms_unmanage(h, p, NP * T_PAGE), 0);
	T_EQ(hms_manage(h, p, NP * T_PAGE), 0);
	none_pinned(h, p);
	/* ... and three rounds pin it again (the policy went with it). */
	T_EQ(hms_bind(h, p, NP * T_PAGE, t, both ? 2 : 1, 0), 0);
	T_EQ(hms_softdev_release(a), 0);
	if (b)
		T_EQ(hms_softdev_release(b), 0);
	for (int round = 0; round < 3; round++) {
		read_check(a, p, buf, 5);
		read_check(b, p, buf, 5);
	}
	all_system(h, p, true);
	T_EQ(munmap(p, NP * T_PAGE), 0); /* hms_manage'd: not hms_free's */
	T_ASSERT(mmap(p, NP * T_PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == p);
	T_EQ(hms_manage(h, p, NP * T_PAGE), 0);
	none_pinned(h, p);
	T_EQ(hms_unmanage(h, p, NP * T_PAGE), 0);
	T_EQ(munmap(p, NP * T_PAGE), 0);

	free(buf);
	hms_softdev_destroy(a);
	if (b)
		hms_softdev_destroy(b);
}

/* Rounds 20 ms apart with HMS_THRASH_MS=1: each a handoff, none pins. */
static void slow(void)
{
	struct hms *h;
	struct hms_softdev *a;
	hms_uid t;
	char *p, *buf = malloc(NP * T_PAGE);

	T_EQ(setenv("HMS_THRASH_MS", "1", 1), 0);
	h = t_open();
	a = t_softdev(h, 8 << 20);
	t = hms_softdev_target(a);
	p = hms_alloc(h, NP * T_PAGE, 0);
	T_ASSERT(p && buf);
	t_pattern(p, NP, 1);
	T_EQ(hms_bind(h, p, NP * T_PAGE, &t, 1, 0), 0);
	for (int round = 0; round < 6; round++) {
		read_check(a, p, buf, 1);
		t_where_all(h, p, NP, t);
		usleep(20000);
		t_pattern_check(p, NP, 1); /* the CPU takes them home */
		all_system(h, p, false);
	}
	hms_close(h);
	free(buf);
	T_EQ(setenv("HMS_THRASH_MS", "60000", 1), 0);
}

static void run(struct hms *h, int n)
{
	fprintf(stderr, "case %s\n", names[n]);
	if (n == SLOW)
		slow();
	else
		one(h, n);
}

int main(int argc, char **argv)
{
	/* Deterministic: every round within the window, pins that outlast
	 * the test. */
	T_EQ(setenv("HMS_THRASH_ROUNDS", "3", 1), 0);
	T_EQ(setenv("HMS_THRASH_MS", "60000", 1), 0);
	T_EQ(setenv("HMS_THRASH_PIN_MS", "60000", 1), 0);
	t_run_cases(t_open(), argc, argv, names, 6, run);
	return 0;
}
