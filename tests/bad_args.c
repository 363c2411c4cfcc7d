/* bad_args: every public call of hms.h and hms_driver.h (outside the
 * topology queries, see topo_bad_input) given NULL, zero length, unaligned,
 * overlapping or not-managed input returns its documented error. */
#include <fcntl.h>
#include <unistd.h>
#include "hms_test.h"

static int dummy_to_ram(struct hms_devmem *dm, const struct hms_devmem_fault *f)
{
	(void)dm;
	(void)f;
	return -EIO;
}

static void dummy_free(struct hms_devmem *dm, hms_pfn pfn)
{
	(void)dm;
	(void)pfn;
}

static bool dummy_sync(struct hms_mirror *m, const struct hms_notify_range *r)
{
	(void)m;
	(void)r;
	return true;
}

static bool dummy_inv(struct hms_interval *iv, const struct hms_notify_range *r, unsigned long s)
{
	(void)r;
	hms_interval_set_seq(iv, s);
	return true;
}

static void kfn(void *page, uint64_t i, void *arg)
{
	(void)page;
	(void)i;
	(void)arg;
}

#define NULLP(call, err)                                                    \
	do {                                                                \
		errno = 0;                                                  \
		if ((call) != NULL || errno != (err))                       \
			T_FAIL("%s: expected NULL with errno %d, got errno %d", \
			       #call, err, errno);                          \
	} while (0)

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t L = 8 * T_PAGE;
	char *p = hms_alloc(h, L, 0);
	char *q = hms_alloc(h, L, 0);
	char *anon = mmap(NULL, 3 * L, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *shared = mmap(NULL, L, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	/* Below vm.mmap_min_addr: never mapped (a munmap'd hole could be
	 * reused by another thread's mmap). */
	char *hole = (char *)(uintptr_t)0x2000;
	char buf[T_PAGE];
	struct hms_page_info info[8];
	struct hms_stats st;
	struct hms_softdev_cmd c;
	struct hms_softdev_config cfg = { .size = 3 };
	struct hms_softdev *d2;
	int fd;
	char *file;

	T_ASSERT(p && q && anon != MAP_FAILED && shared != MAP_FAILED);
	fd = open("/proc/self/exe", O_RDONLY);
	T_ASSERT(fd >= 0);
	file = mmap(NULL, T_PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	T_ASSERT(file != MAP_FAILED);

	/* ---- context ---- */
	hms_close(NULL);
	T_ASSERT(hms_version() && hms_last_error());
	T_EQ(hms_stats(NULL, &st), -EINVAL);
	T_EQ(hms_stats(h, NULL), -EINVAL);

	/* ---- hms_alloc / hms_free ---- */
	NULLP(hms_alloc(h, 0, 0), EINVAL);
	NULLP(hms_alloc(h, T_PAGE, 1u << 7), EINVAL);
	T_EQ(hms_free(h, NULL, L), -EINVAL);
	T_EQ(hms_free(h, p, 0), -EINVAL);
	T_EQ(hms_free(h, p + 1, T_PAGE), -EINVAL);
	T_EQ(hms_free(h, p, T_PAGE + 1), -EINVAL);
	T_EQ(hms_free(h, anon, T_PAGE), -ENOENT);        /* not managed */
	T_EQ(hms_free(h, p + L - T_PAGE, 2 * T_PAGE), -ENOENT); /* runs past the area */

	/* ---- hms_manage / hms_unmanage ---- */
	T_EQ(hms_manage(h, NULL, L), -EINVAL);
	T_EQ(hms_manage(h, anon, 0), -EINVAL);
	T_EQ(hms_manage(h, anon + 1, T_PAGE), -EINVAL);
	T_EQ(hms_manage(h, shared, L), -EINVAL);         /* not private */
	T_EQ(hms_manage(h, file, T_PAGE), -EINVAL);      /* a file */
	T_EQ(hms_manage(h, p, T_PAGE), -EEXIST);         /* managed already */
	T_EQ(hms_manage(h, hole, L), -ENOMEM);           /* not mapped */
	T_EQ(hms_manage(h, anon, L), 0);
	T_EQ(hms_manage(h, anon + L - T_PAGE, 2 * T_PAGE), -EEXIST); /* overlaps */
	T_EQ(hms_free(h, anon, L), -ENOENT);             /* adopted, not hms_alloc'd */
	T_EQ(hms_unmanage(h, NULL, L), -EINVAL);
	T_EQ(hms_unmanage(h, anon, 0), -EINVAL);
	T_EQ(hms_unmanage(h, anon + 1, T_PAGE), -EINVAL);
	T_EQ(hms_unmanage(h, anon + L, L), -ENOENT);
	T_EQ(hms_unmanage(h, anon, 2 * L), -ENOENT);     /* partly managed */

	/* ---- hms_protect / hms_prefault / hms_page_query ---- */
	T_EQ(hms_protect(h, p, L, PROT_EXEC), -EINVAL);
	T_EQ(hms_protect(h, p, L, PROT_WRITE), -EINVAL);
	T_EQ(hms_protect(h, p, 0, PROT_READ), -EINVAL);
	T_EQ(hms_protect(h, p + 1, T_PAGE, PROT_READ), -EINVAL);
	T_EQ(hms_protect(h, NULL, T_PAGE, PROT_READ), -EINVAL);
	T_EQ(hms_protect(h, anon + L, T_PAGE, PROT_READ), -ENOENT);
	T_EQ(hms_protect(h, p + L - T_PAGE, 2 * T_PAGE, PROT_READ), -ENOENT);
	T_EQ(hms_prefault(h, p, 0, false), -EINVAL);
	T_EQ(hms_prefault(h, p + 1, T_PAGE, false), -EINVAL);
	T_EQ(hms_prefault(h, NULL, T_PAGE, false), -EINVAL);
	T_EQ(hms_prefault(h, anon + L, T_PAGE, false), -ENOENT);
	T_EQ(hms_protect(h, q, T_PAGE, PROT_NONE), 0);
	T_EQ(hms_prefault(h, q, T_PAGE, false), -EFAULT);
	T_EQ(hms_page_query(h, p, 0, info), -EINVAL);
	T_EQ(hms_page_query(h, p + 1, 1, info), -EINVAL);
	T_EQ(hms_page_query(h, p, 1, NULL), -EINVAL);
	T_EQ(hms_page_query(h, anon + L, 1, info), -ENOENT);
	T_EQ(hms_page_query(h, p + L - T_PAGE, 2, info), -ENOENT);

	/* ---- softdev ---- */
	T_EQ(hms_softdev_create(h, &cfg, &d2), -EINVAL);
	hms_softdev_destroy(NULL);
	T_ASSERT(hms_softdev_release(NULL) < 0);
	T_EQ(t_cmd(d, hms_softdev_read, p, NULL, 1, &c), -EINVAL);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, 0, &c), -EINVAL);
	T_EQ(t_cmd(d, hms_softdev_read, p + 1, buf, 1, &c), -EINVAL);
	T_EQ(t_cmd(d, hms_softdev_read, hole, buf, 1, &c), -EFAULT);
	T_EQ(t_cmd(d, hms_softdev_read, q, buf, 1, &c), -EFAULT); /* PROT_NONE */
	T_EQ(t_cmd(d, hms_softdev_write, p, NULL, 1, &c), -EINVAL);
	T_EQ(t_cmd(d, hms_softdev_write, p + 1, buf, 1, &c), -EINVAL);
	T_EQ(t_cmd(d, hms_softdev_write, file, buf, 1, &c), -EPERM); /* read-only */
	T_EQ(t_cmd(d, hms_softdev_snapshot, p, NULL, 1, &c), -EINVAL);
	T_EQ(t_cmd(d, hms_softdev_snapshot, p, buf, 0, &c), -EINVAL);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, 0, &c), -EINVAL);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p + 1, NULL, 1, &c), -EINVAL);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, anon + L, NULL, 1, &c), -ENOENT);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p, NULL, 0, &c), -EINVAL);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_system, p + 1, NULL, 1, &c), -EINVAL);
	T_EQ(t_cmd(d, hms_softdev_exclusive, p, NULL, 0, &c), -EINVAL);
	T_EQ(t_cmd(d, hms_softdev_exclusive, anon + L, NULL, 1, &c), -ENOENT);
	T_EQ(hms_protect(h, q + T_PAGE, T_PAGE, PROT_READ), 0);
	T_EQ(t_cmd(d, hms_softdev_exclusive, q + T_PAGE, NULL, 1, &c), -EPERM);
	T_EQ(t_cmd(d, hms_softdev_check_exclusive, p, NULL, 0, &c), -EINVAL);
	{
		struct hms_softdev_cmd lc = { (uintptr_t)p, NULL, 1, 0, 0 };

		T_EQ(hms_softdev_launch(d, &lc, NULL, NULL), -EINVAL);
		lc.addr = (uintptr_t)p + 1;
		T_EQ(hms_softdev_launch(d, &lc, kfn, NULL), -EINVAL);
		lc.addr = (uintptr_t)(anon + L);
		T_EQ(hms_softdev_launch(d, &lc, kfn, NULL), -ENOENT);
	}

	/* ---- driver API ---- */
	{
		static const struct hms_mirror_ops mops_nosync = { NULL, NULL };
		static const struct hms_mirror_ops mops = { dummy_sync, NULL };
		static const struct hms_interval_ops iops_null = { NULL };
		static const struct hms_interval_ops iops = { dummy_inv };
		static const struct hms_devmem_ops dops = { dummy_to_ram, dummy_free, NULL };
		static const struct hms_devmem_ops dops_noram = { NULL, dummy_free, NULL };
		static const struct hms_devmem_ops dops_nofree = { dummy_to_ram, NULL, NULL };
		struct hms_devmem_desc desc = { "bad_args", 4, &desc, HMS_DEVMEM_PRIVATE };
		struct hms_mirror *m;
		struct hms_interval *iv;
		struct hms_devmem *dm;
		uint64_t src[513], dst[513], pfns[8];
		struct hms_migrate_vma mv = { .src = src, .dst = dst,
					      .flags = HMS_MIGRATE_SELECT_SYSTEM };
		struct hms_range r = { .pfns = pfns };
		static const uint64_t fl[3] = { 1, 2, 4 };

		T_EQ(hms_mirror_register(h, NULL, NULL, &m), -EINVAL);
		T_EQ(hms_mirror_register(h, &mops_nosync, NULL, &m), -EINVAL);
		T_EQ(hms_mirror_register(h, &mops, NULL, NULL), -EINVAL);
		hms_mirror_unregister(NULL);
		T_ASSERT(hms_mirror_priv(NULL) == NULL);
		T_EQ(hms_interval_insert(h, (uintptr_t)p, 0, &iops, NULL, &iv), -EINVAL);
		T_EQ(hms_interval_insert(h, UINTPTR_MAX - T_PAGE, 2 * T_PAGE, &iops, NULL, &iv),
		     -EINVAL);
		T_EQ(hms_interval_insert(h, (uintptr_t)p, L, NULL, NULL, &iv), -EINVAL);
		T_EQ(hms_interval_insert(h, (uintptr_t)p, L, &iops_null, NULL, &iv), -EINVAL);
		hms_interval_remove(NULL);
		T_ASSERT(!hms_range_invalidating(h, (uintptr_t)p, (uintptr_t)p));

		desc.npages = 0;
		T_EQ(hms_devmem_add(h, &desc, &dops, NULL, &dm), -EINVAL);
		desc.npages = 4;
		desc.owner = NULL;
		T_EQ(hms_devmem_add(h, &desc, &dops, NULL, &dm), -EINVAL);
		desc.owner = &desc;
		T_EQ(hms_devmem_add(h, &desc, NULL, NULL, &dm), -EINVAL);
		T_EQ(hms_devmem_add(h, &desc, &dops_noram, NULL, &dm), -EINVAL);
		T_EQ(hms_devmem_add(h, &desc, &dops_nofree, NULL, &dm), -EINVAL);

		/* migrate_vma: bad ranges and flags, not managed, two areas. */
		mv.start = (uintptr_t)p + 1;
		mv.end = (uintptr_t)p + T_PAGE;
		T_EQ(hms_migrate_vma_setup(h, &mv), -EINVAL);
		mv.start = mv.end = (uintptr_t)p;
		T_EQ(hms_migrate_vma_setup(h, &mv), -EINVAL);
		mv.start = (uintptr_t)anon;
		mv.end = mv.start + HMS_MIGRATE_MAX_BYTES + T_PAGE;
		T_EQ(hms_migrate_vma_setup(h, &mv), -EINVAL);
		mv.start = (uintptr_t)p;
		mv.end = (uintptr_t)p + T_PAGE;
		mv.flags = 0;
		T_EQ(hms_migrate_vma_setup(h, &mv), -EINVAL);
		mv.flags = 1u << 9;
		T_EQ(hms_migrate_vma_setup(h, &mv), -EINVAL);
		mv.flags = HMS_MIGRATE_SELECT_SYSTEM;
		mv.start = (uintptr_t)(anon + L);
		mv.end = mv.start + T_PAGE;
		T_EQ(hms_migrate_vma_setup(h, &mv), -ENOENT);
		mv.start = (uintptr_t)(anon + L - T_PAGE); /* managed, then not */
		mv.end = mv.start + 2 * T_PAGE;
		/* Pages that are not managed are just not selected. */
		T_EQ(hms_migrate_vma_setup(h, &mv), 0);
		T_EQ(mv.npages, 2);
		T_EQ(mv.cpages, 1);
		T_EQ(mv.src[1], 0);
		hms_migrate_vma_finalize(&mv);

		/* range fault */
		T_EQ(hms_range_fault(h, NULL), -EINVAL);
		r.start = (uintptr_t)p + 1;
		r.end = (uintptr_t)p + T_PAGE;
		T_EQ(hms_range_fault(h, &r), -EINVAL);
		r.start = r.end = (uintptr_t)p;
		T_EQ(hms_range_fault(h, &r), -EINVAL);
		r.end = (uintptr_t)p + T_PAGE;
		r.pfns = NULL;
		T_EQ(hms_range_fault(h, &r), -EINVAL);
		r.pfns = pfns;
		r.flags = fl; /* no values[] */
		T_EQ(hms_range_fault(h, &r), -EINVAL);

		/* make_exclusive */
		T_EQ(hms_make_exclusive(h, (uintptr_t)p + 1, (uintptr_t)p + T_PAGE, NULL), -EINVAL);
		T_EQ(hms_make_exclusive(h, (uintptr_t)p, (uintptr_t)p, NULL), -EINVAL);
		T_EQ(hms_make_exclusive(h, (uintptr_t)(anon + L), (uintptr_t)(anon + L) + T_PAGE,
					NULL), -ENOENT);
		T_EQ(hms_make_exclusive(h, (uintptr_t)q + T_PAGE, (uintptr_t)q + 2 * T_PAGE, NULL),
		     -EPERM);
		T_EQ(hms_make_exclusive(h, (uintptr_t)q, (uintptr_t)q + T_PAGE, NULL), -EFAULT);

		/* topology registration */
		T_EQ(hms_target_add(h, NULL, NULL), -EINVAL);
		{
			struct hms_target_desc td = { NULL, HMS_TARGET_DRAM, HMS_NONE, 1, 1, HMS_NONE,
						      NULL };
			struct hms_initiator_desc id = { NULL, HMS_INITIATOR_DEVICE, HMS_NONE, NULL,
							 NULL };
			struct hms_link_desc ld = { 0 };
			struct hms_bridge_desc bd = { 0 };
			hms_uid u;

			T_EQ(hms_target_add(h, &td, &u), -EINVAL);
			td.name = "t";
			td.kind = 99;
			T_EQ(hms_target_add(h, &td, &u), -EINVAL);
			T_EQ(hms_initiator_add(h, NULL, &u), -EINVAL);
			T_EQ(hms_initiator_add(h, &id, &u), -EINVAL);
			id.name = "i";
			id.kind = HMS_INITIATOR_CPU;
			id.cpulist = "banana";
			T_EQ(hms_initiator_add(h, &id, &u), -EINVAL);
			T_EQ(hms_link_add(h, NULL, &u), -EINVAL);
			ld.name = "l";
			T_EQ(hms_link_add(h, &ld, &u), -EINVAL); /* no members */
			T_EQ(hms_bridge_add(h, NULL, &u), -EINVAL);
			bd.name = "b";
			T_EQ(hms_bridge_add(h, &bd, &u), -EINVAL);
			T_EQ(hms_object_remove(h, 0), -EINVAL);
			T_EQ(hms_object_remove(h, 0x7fffffff), -ENOENT);
		}
		T_ASSERT(hms_event_name((enum hms_event)99) != NULL);
	}

	munmap(file, T_PAGE);
	close(fd);
	hms_softdev_destroy(d);
	hms_close(h);
	munmap(anon, 3 * L);
	munmap(shared, L);
	return 0;
}
