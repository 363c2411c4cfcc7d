/* range_fault_pfn_shift_late: device memory of dev_private_owner that is
 * registered while hms_range_fault() runs gets pfns above everything the
 * call checked at its start; a page of it that does not fit the driver's
 * pfn_shift fails the call with ERANGE when it is met, and is not written
 * with its high bits lost.  The entries before it are written.
 *
 * The call starts with no memory of the owner registered, so only the
 * range's page numbers (at most 17 bits: the range is mapped low) are
 * checked.  Page 0 is on another device (minidev): the call brings it
 * home, and minidev's migrate_to_ram waits while this thread registers
 * the owner's memory, 2^18 pages (pfns of 19 bits), and moves page 3 to
 * its last page. */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "minidev.h"

#define NP 4
#define LATE_PAGES (1ULL << 18)
#define SENTINEL 0x5a5a5a5a5a5a5a5aULL

static sem_t entered, go;
static int late_owner;
static struct hms_devmem *late;
static char late_page[4096]; /* backs the late memory's last page, its only one used */
static atomic_bool late_used; /* the handler thread frees it */

static int mini_to_ram(struct hms_devmem *dm, const struct hms_devmem_fault *f)
{
	sem_post(&entered);
	sem_wait(&go);
	return minidev_page_home(hms_devmem_context(dm), f->addr);
}

static hms_pfn late_pfn(void)
{
	return hms_devmem_pfn_first(late) + LATE_PAGES - 1;
}

static int late_to_ram(struct hms_devmem *dm, const struct hms_devmem_fault *f)
{
	uint64_t src[1], dst[1];
	struct hms_migrate_vma mv = { .start = f->addr, .end = f->addr + T_PAGE, .src = src,
				      .dst = dst, .pgmap_owner = &late_owner,
				      .flags = HMS_MIGRATE_SELECT_DEVICE_PRIVATE };
	int r = hms_migrate_vma_setup(hms_devmem_context(dm), &mv);

	if (r)
		return r;
	if (mv.cpages) {
		void *to = hms_migrate_dst_system(&mv, 0);

		if (to)
			memcpy(to, late_page, T_PAGE);
	}
	r = hms_migrate_vma_pages(&mv);
	hms_migrate_vma_finalize(&mv);
	return r;
}

static void late_free(struct hms_devmem *dm, hms_pfn pfn)
{
	(void)dm;
	if (pfn == late_pfn())
		late_used = false;
}

/* Page addr to the late memory's last page. */
static void late_to_device(struct hms *h, char *addr)
{
	uint64_t src[1], dst[1];
	struct hms_migrate_vma mv = { .start = (uintptr_t)addr, .end = (uintptr_t)addr + T_PAGE,
				      .src = src, .dst = dst, .pgmap_owner = &late_owner,
				      .flags = HMS_MIGRATE_SELECT_SYSTEM };

	T_EQ(hms_migrate_vma_setup(h, &mv), 0);
	T_EQ(mv.cpages, 1);
	T_ASSERT(hms_migrate_src_ptr(&mv, 0) != NULL);
	memcpy(late_page, hms_migrate_src_ptr(&mv, 0), T_PAGE);
	late_used = true;
	dst[0] = hms_migrate_pfn(late_pfn());
	T_EQ(hms_migrate_vma_pages(&mv), 0);
	hms_migrate_vma_finalize(&mv);
	T_ASSERT(src[0] & HMS_MIGRATE_PFN_MIGRATE);
}

static const uint64_t fl[HMS_PFN_FLAG_COUNT] = { 1, 2, 4 };
static const uint64_t vals[HMS_PFN_VALUE_COUNT] = { 8, 0, 16 };

struct call {
	struct hms *h;
	char *p;
	unsigned shift;
	uint64_t pfns[NP];
	int ret;
};

static void *range_fault_thread(void *arg)
{
	struct call *c = arg;
	struct hms_range r = { .start = (uintptr_t)c->p, .end = (uintptr_t)c->p + NP * T_PAGE,
			       .pfns = c->pfns, .dev_private_owner = &late_owner,
			       .flags = fl, .values = vals, .pfn_shift = c->shift,
			       .default_flags = 1 /* fl[VALID]: fault every page in */ };

	c->ret = hms_range_fault(c->h, &r);
	return NULL;
}

int main(void)
{
	static const struct hms_devmem_ops late_ops = { .migrate_to_ram = late_to_ram,
							.page_free = late_free };
	struct hms_devmem_desc late_desc = { "late", LATE_PAGES, &late_owner,
					     HMS_DEVMEM_PRIVATE };
	struct hms *h = t_open();
	struct call c = { .h = h };
	uint64_t vpn;
	unsigned vbits;
	pthread_t t;
	char *p = t_map_low(NP * T_PAGE);

	T_EQ(hms_manage(h, p, NP * T_PAGE), 0);
	for (int i = 0; i < NP; i++)
		memset(p + i * T_PAGE, 'a' + i, T_PAGE);
	vpn = (uintptr_t)p >> 12;
	vbits = 64u - (unsigned)__builtin_clzll(vpn + NP - 1);
	T_ASSERT(vbits <= 17);

	T_EQ(sem_init(&entered, 0, 0), 0);
	T_EQ(sem_init(&go, 0, 0), 0);
	minidev_add(h, "mini", mini_to_ram);
	minidev_to_device(h, p);

	c.p = p;
	c.shift = 64 - vbits;
	for (int i = 0; i < NP; i++)
		c.pfns[i] = SENTINEL;
	T_EQ(pthread_create(&t, NULL, range_fault_thread, &c), 0);
	/* The call is bringing page 0 home: register the owner's memory
	 * and put page 3 on its last page. */
	T_EQ(sem_wait(&entered), 0);
	T_EQ(hms_devmem_add(h, &late_desc, &late_ops, NULL, &late), 0);
	T_ASSERT(late_pfn() >> vbits != 0); /* it does not fit */
	late_to_device(h, p + 3 * T_PAGE);
	T_EQ(sem_post(&go), 0);
	T_EQ(pthread_join(t, NULL), 0);

	T_EQ(c.ret, -ERANGE);
	for (int i = 0; i < 3; i++) /* written, the page numbers intact */
		T_EQ(c.pfns[i], ((vpn + (uint64_t)i) << c.shift) | 3);
	if (c.pfns[3] != SENTINEL)
		T_FAIL("pfns[3] written as %#llx (pfn %#llx with its high bits lost)",
		       (unsigned long long)c.pfns[3], (unsigned long long)late_pfn());

	/* A shift that fits it reports it. */
	c.shift = 64 - (64u - (unsigned)__builtin_clzll(late_pfn()));
	range_fault_thread(&c);
	T_EQ(c.ret, 0);
	T_EQ(c.pfns[3], (late_pfn() << c.shift) | 7);

	/* No data lost. */
	for (int i = 0; i < NP; i++)
		for (size_t j = 0; j < T_PAGE; j++)
			T_EQ(p[i * T_PAGE + j], 'a' + i);
	T_ASSERT(!late_used);
	T_EQ(hms_unmanage(h, p, NP * T_PAGE), 0);
	T_EQ(hms_devmem_remove(late), 0);
	hms_close(h);
	munmap(p, NP * T_PAGE);
	return 0;
}
