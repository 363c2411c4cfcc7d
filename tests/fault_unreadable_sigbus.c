/* fault_unreadable_sigbus: a CPU access to a device page whose data the
 * driver cannot give back (its copy source is unreadable: UFFDIO_COPY
 * fails with EFAULT, hms_migrate_vma_pages() says -EFAULT and
 * migrate_to_ram returns it) gets SIGBUS, the kernel's VM_FAULT_SIGBUS,
 * within the fault's few dozen retries, instead of a minute of retrying
 * EAGAIN; the page stays on the device with its data, and once the driver
 * can read it again the same access gets it.  A minimal driver. */
#include <stdatomic.h>
#include <sys/mman.h>

#include "minidev.h"

static void *unreadable;   /* a PROT_NONE page */
static atomic_bool broken;
static atomic_int to_ram_calls, to_ram_efault;

static int migrate_to_ram(struct hms_devmem *m, const struct hms_devmem_fault *f)
{
	uint64_t src[512], dst[512];
	struct hms_migrate_vma mv = { .start = f->start, .end = f->end, .src = src, .dst = dst,
				      .pgmap_owner = &md.owner,
				      .flags = HMS_MIGRATE_SELECT_DEVICE_PRIVATE };
	int ret = hms_migrate_vma_setup(hms_devmem_context(m), &mv), moved = 0;

	to_ram_calls++;
	if (ret)
		return ret;
	for (size_t i = 0; i < mv.npages; i++)
		if (src[i] & HMS_MIGRATE_PFN_MIGRATE)
			T_EQ(hms_migrate_dst_system_from(
				     &mv, i,
				     broken ? unreadable
					    : minidev_page(hms_migrate_pfn_to_pfn(src[i]))),
			     0);
	ret = hms_migrate_vma_pages(&mv);
	hms_migrate_vma_finalize(&mv);
	for (size_t i = 0; i < mv.npages; i++)
		moved += (src[i] & HMS_MIGRATE_PFN_MIGRATE) != 0;
	if (ret == -EFAULT)
		to_ram_efault++;
	return moved ? 0 : ret ? ret : -EAGAIN;
}

int main(void)
{
	struct hms *h = t_open();
	size_t n = T_PAGE / sizeof(int);
	int *p = hms_alloc(h, T_PAGE, 0);
	int seen = -1;

	unreadable = mmap(NULL, T_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(p && unreadable != MAP_FAILED);
	minidev_add(h, "fault_unreadable_sigbus", migrate_to_ram);
	t_fill(p, n, 41);
	minidev_to_device(h, p);
	T_EQ(t_count_loc(h, p, 1, HMS_LOC_DEVICE), 1);

	/* (EAGAIN would be retried for a minute before the SIGBUS.) */
	t_watchdog(30, "a read of a page the driver cannot give back");
	broken = true;
	T_ASSERT(!t_read_or_sigbus(p + 3, &seen));
	T_EQ(seen, -1); /* the read never completed */
	T_ASSERT(to_ram_efault >= 1);
	T_EQ(atomic_load(&to_ram_efault), atomic_load(&to_ram_calls));
	T_EQ(t_count_loc(h, p, 1, HMS_LOC_DEVICE), 1);
	T_ASSERT(md.used[0]);

	/* The driver reads its memory again: the same read gets the data. */
	broken = false;
	T_ASSERT(t_read_or_sigbus(p + 3, &seen));
	T_EQ(seen, 41 + 3);
	t_check(p, n, 41);
	t_watchdog(0, NULL);
	T_EQ(t_count_loc(h, p, 1, HMS_LOC_SYSTEM), 1);
	T_ASSERT(!md.used[0]);
	T_EQ(hms_free(h, p, T_PAGE), 0);
	T_EQ(hms_devmem_remove(md.dm), 0);
	hms_close(h);
	munmap(unreadable, T_PAGE);
	return 0;
}
