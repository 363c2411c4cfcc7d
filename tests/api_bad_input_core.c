/* api_bad_input_core: the careless inputs bad_args does not try (NULL
 * contexts and out-parameters, SIZE_MAX and wrapping lengths, freed
 * ranges, ranges across two areas, unknown flags) given to the context,
 * area, statistics and softdev calls of hms.h each return the documented
 * error, write no out-parameter, and leave the data and the state as they
 * were. */
#include <fcntl.h>
#include <unistd.h>
#include "hms_test.h"

#define NP 4

static void kfn(void *page, uint64_t i, void *arg)
{
	(void)page;
	(void)i;
	(void)arg;
}

/* hms_open(): out untouched on each failure. */
static void open_cases(void)
{
	struct hms *sent = (struct hms *)(uintptr_t)0x5a5a, *h = sent;
	struct hms_options o = { .size = sizeof(o) };
	char file[] = "/tmp/hms_api_bad_input_XXXXXX";
	int fd = mkstemp(file);

	T_ASSERT(fd >= 0);
	close(fd);
	T_EQ(hms_open(NULL, NULL), -EINVAL);
	o.size = 1;
	T_EQ(hms_open(&h, &o), -EINVAL);
	o.size = sizeof(o);
	o.flags = 1u << 31;
	T_EQ(hms_open(&h, &o), -EINVAL);
	o.flags = HMS_OPEN_NO_TOPOLOGY << 8;
	T_EQ(hms_open(&h, &o), -EINVAL);
	o.flags = 0;
	o.sysfs_root = "/nonexistent/hms";
	T_EQ(hms_open(&h, &o), -ENOENT);
	o.sysfs_root = file; /* a regular file is not a directory */
	T_EQ(hms_open(&h, &o), -ENOENT);
	T_ASSERT(h == sent);
	unlink(file);
	T_EQ(hms_mode(NULL), 0);
}

/* A stream whose writes fail when flushed. */
static void stats_print_cases(struct hms *h)
{
	struct hms_stats st;
	FILE *f;

	T_EQ(hms_stats(h, &st), 0);
	T_EQ(hms_stats_print(NULL, stdout), -EINVAL);
	T_EQ(hms_stats_print(&st, NULL), -EINVAL);
	f = fopen("/dev/full", "w");
	if (f) {
		T_EQ(hms_stats_print(&st, f), -EIO); /* lost at the flush */
		fclose(f);
	} else {
		printf("no /dev/full here: the -EIO case is not checked\n");
	}
	f = fopen("/dev/null", "r"); /* not open for writing */
	T_ASSERT(f);
	T_EQ(hms_stats_print(&st, f), -EIO);
	fclose(f);
}

static void alloc_cases(struct hms *h)
{
	char *p;

	errno = 0;
	T_ASSERT(hms_alloc(NULL, T_PAGE, 0) == NULL && errno == EINVAL);
	/* Above SIZE_MAX / 2: refused as such (rounding up must not wrap);
	 * below, sizes no mapping can have are ENOMEM. */
	errno = 0;
	T_ASSERT(hms_alloc(h, SIZE_MAX, 0) == NULL && errno == EINVAL);
	errno = 0;
	T_ASSERT(hms_alloc(h, SIZE_MAX, HMS_ALLOC_HUGE) == NULL && errno == EINVAL);
	errno = 0;
	T_ASSERT(hms_alloc(h, SIZE_MAX / 2 + 1, 0) == NULL && errno == EINVAL);
	errno = 0;
	T_ASSERT(hms_alloc(h, SIZE_MAX / 2, 0) == NULL && errno == ENOMEM);
	errno = 0;
	T_ASSERT(hms_alloc(h, (size_t)1 << 62, 0) == NULL && errno == ENOMEM);
	errno = 0;
	T_ASSERT(hms_alloc(h, T_PAGE, ~0u) == NULL && errno == EINVAL);
	/* Nothing above left an area behind: a fresh allocation works. */
	p = hms_alloc(h, 1, 0);
	T_ASSERT(p);
	p[T_PAGE - 1] = 1; /* rounded up to a page */
	T_EQ(hms_free(h, p, T_PAGE), 0);
}

int main(void)
{
	struct hms *h;
	struct hms_softdev *d;
	size_t L = NP * T_PAGE;
	char *p, *q, *two;
	struct hms_page_info info[2 * NP];
	struct hms_softdev_cmd c;
	char buf[2 * NP * T_PAGE];

	open_cases();
	h = t_open();
	d = t_softdev(h, 1 << 20);
	alloc_cases(h);
	stats_print_cases(h);

	p = hms_alloc(h, L, 0);
	q = hms_alloc(h, L, 0);
	/* Two adjacent areas: one mapping adopted in two halves. */
	two = mmap(NULL, 2 * L, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(p && q && two != MAP_FAILED);
	memset(p, 3, L);
	memset(two, 5, 2 * L);
	T_EQ(hms_manage(h, two, L), 0);
	T_EQ(hms_manage(h, two + L, L), 0);

	/* ---- lengths that wrap or cannot be, on every range call ---- */
	T_EQ(hms_free(h, p, SIZE_MAX & ~(T_PAGE - 1)), -EINVAL);
	T_EQ(hms_free(NULL, p, L), -EINVAL);
	T_EQ(hms_manage(h, p, SIZE_MAX & ~(T_PAGE - 1)), -EINVAL);
	T_EQ(hms_manage(NULL, two, L), -EINVAL);
	T_EQ(hms_unmanage(h, p, SIZE_MAX & ~(T_PAGE - 1)), -EINVAL);
	T_EQ(hms_unmanage(NULL, p, L), -EINVAL);
	T_EQ(hms_protect(h, p, SIZE_MAX & ~(T_PAGE - 1), PROT_READ), -EINVAL);
	T_EQ(hms_protect(NULL, p, L, PROT_READ), -EINVAL);
	T_EQ(hms_protect(h, p, L, -1), -EINVAL);
	T_EQ(hms_protect(h, p, L, PROT_READ | PROT_EXEC), -EINVAL);
	T_EQ(hms_protect(h, p, L, 0x100), -EINVAL);
	T_EQ(hms_prefault(h, p, SIZE_MAX & ~(T_PAGE - 1), false), -EINVAL);
	T_EQ(hms_prefault(NULL, p, L, true), -EINVAL);
	T_EQ(hms_page_query(NULL, p, 1, info), -EINVAL);
	T_EQ(hms_page_query(h, p, SIZE_MAX, info), -EINVAL);
	T_EQ(hms_page_query(h, p, SIZE_MAX >> 12, info), -EINVAL); /* wraps */
	T_EQ(hms_page_query(h, NULL, 1, info), -EINVAL);

	/* ---- ranges across two areas: one call covers both ---- */
	T_EQ(hms_page_query(h, two, 2 * NP, info), 2 * NP);
	T_EQ(hms_protect(h, two, 2 * L, PROT_READ), 0);
	T_EQ(hms_protect(h, two, 2 * L, PROT_READ | PROT_WRITE), 0);
	T_EQ(hms_prefault(h, two, 2 * L, true), 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, two + L - 2 * T_PAGE, NULL, 4, &c), 0);
	T_EQ(c.cpages, 4);
	T_EQ(hms_free(h, two, 2 * L), -ENOENT); /* adopted, not hms_alloc'd */
	T_EQ(hms_free(h, p, L + T_PAGE), -ENOENT);
	/* hms_alloc'd then adopted: refused as a whole, nothing freed. */
	T_EQ(hms_page_query(h, two + L - T_PAGE, 2, info), 2);
	T_EQ(info[0].location, HMS_LOC_DEVICE);
	T_EQ(info[1].location, HMS_LOC_DEVICE);
	T_EQ(hms_unmanage(h, two, 2 * L), 0); /* both areas, data brought back */
	for (size_t i = 0; i < 2 * L; i++)
		T_EQ(two[i], 5);
	T_EQ(hms_page_query(h, two, 1, info), -ENOENT);
	T_EQ(hms_softdev_pages_used(d), 0);
	/* ... and the range may be adopted again. */
	T_EQ(hms_manage(h, two, 2 * L), 0);
	T_EQ(hms_unmanage(h, two, 2 * L), 0);

	/* ---- a range already freed ---- */
	/* Keep the freed range inaccessible: no later mapping may land there
	 * (if another thread maps there first, free another range). */
	for (int tries = 0;; tries++) {
		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, q, NULL, NP, &c), 0);
		T_EQ(hms_free(h, q, L), 0);
		if (t_fence(q, L))
			break;
		T_ASSERT(tries < 16);
		T_ASSERT((q = hms_alloc(h, L, 0)));
	}
	T_EQ(hms_softdev_pages_used(d), 0); /* its device pages went */
	T_EQ(hms_free(h, q, L), -ENOENT);
	T_EQ(hms_unmanage(h, q, L), -ENOENT);
	T_EQ(hms_protect(h, q, L, PROT_READ), -ENOENT);
	T_EQ(hms_prefault(h, q, L, false), -ENOENT);
	T_EQ(hms_page_query(h, q, NP, info), -ENOENT);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, q, NULL, NP, &c), -ENOENT);
	T_EQ(t_cmd(d, hms_softdev_read, q, buf, NP, &c), -EFAULT); /* unmapped */
	T_EQ(t_cmd(d, hms_softdev_write, q, buf, NP, &c), -EFAULT);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, q, NULL, NP, &c), 0);
	T_EQ(c.cpages, 0);
	T_EQ(t_cmd(d, hms_softdev_check_exclusive, q, NULL, NP, &c), 0);
	T_EQ(t_cmd(d, hms_softdev_exclusive, q, NULL, NP, &c), -EFAULT); /* faulted first */

	/* ---- softdev: NULL device, command or config, huge counts ---- */
	{
		struct hms_softdev_config cfg = { .size = sizeof(cfg) };
		struct hms_softdev *sent = (struct hms_softdev *)(uintptr_t)0x5a5a, *d2 = sent;
		struct hms_softdev_cmd big = { (uintptr_t)p, buf, UINT64_MAX, 7, 7 };
		struct hms_softdev_cmd wrap = { (uintptr_t)p, buf, (UINTPTR_MAX >> 12) - 1, 7, 7 };
		int (*ops[])(struct hms_softdev *, struct hms_softdev_cmd *) = {
			hms_softdev_read, hms_softdev_write, hms_softdev_migrate_to_device,
			hms_softdev_migrate_to_system, hms_softdev_snapshot, hms_softdev_exclusive,
			hms_softdev_check_exclusive,
		};

		T_EQ(hms_softdev_create(NULL, NULL, &d2), -EINVAL);
		T_EQ(hms_softdev_create(h, NULL, NULL), -EINVAL);
		cfg.nthreads = 257;
		T_EQ(hms_softdev_create(h, &cfg, &d2), -EINVAL);
		cfg.nthreads = 0;
		cfg.pool_bytes = SIZE_MAX; /* rounding up must not wrap to 0 */
		T_EQ(hms_softdev_create(h, &cfg, &d2), -EINVAL);
		cfg.pool_bytes = SIZE_MAX - T_PAGE + 2;
		T_EQ(hms_softdev_create(h, &cfg, &d2), -EINVAL);
		cfg.pool_bytes = (size_t)(UINT32_MAX + 1ULL) << 12;
		T_EQ(hms_softdev_create(h, &cfg, &d2), -EINVAL);
		T_ASSERT(d2 == sent);
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			struct hms_softdev_cmd x = big;

			T_EQ(ops[i](NULL, &c), -EINVAL);
			T_EQ(ops[i](d, NULL), -EINVAL);
			T_EQ(ops[i](d, &x), -EINVAL);
			x = wrap;
			T_EQ(ops[i](d, &x), -EINVAL);
			T_EQ(x.cpages, 7); /* not written on failure */
			T_EQ(x.faults, 7);
		}
		T_EQ(hms_softdev_launch(NULL, &c, kfn, NULL), -EINVAL);
		T_EQ(hms_softdev_launch(d, NULL, kfn, NULL), -EINVAL);
		T_EQ(hms_softdev_launch(d, &big, kfn, NULL), -EINVAL);
		T_EQ(hms_softdev_launch(d, &wrap, kfn, NULL), -EINVAL);
		T_EQ(hms_softdev_release(NULL), -EINVAL);
		T_EQ(hms_softdev_target(NULL), 0);
		T_EQ(hms_softdev_initiator(NULL), 0);
		T_EQ(hms_softdev_pages_used(NULL), 0);
		hms_softdev_fail_alloc(NULL, 3);
		/* A range only partly managed: refused before anything moves. */
		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p + L - T_PAGE, NULL, 2, &c), -EINVAL);
		{
			struct hms_softdev_cmd lc = { (uintptr_t)(p + L - T_PAGE), NULL, 2, 0, 0 };

			T_EQ(hms_softdev_launch(d, &lc, kfn, NULL), -EINVAL);
		}
		T_EQ(hms_softdev_pages_used(d), 0);
	}

	for (size_t i = 0; i < L; i++)
		T_EQ(p[i], 3);
	T_EQ(hms_free(h, p, L), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	munmap(two, 2 * L);
	return 0;
}
