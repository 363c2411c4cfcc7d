/* inject_remap_nomem: the handler's part of an mremap (the table of the
 * moved pages follows them to their new address) cannot drop device pages
 * for want of memory.  With every allocation of the core failing (fault
 * injection point nomem, every pass), the handler waits for memory; once
 * it is back, the pages that were on the softdev are on it at the new
 * address and read back byte for byte there, for a whole area, the middle
 * of one (its table splits), MREMAP_DONTUNMAP and a move into the middle
 * of another managed area (that one splits).  Before, the move was skipped
 * and the pages read zeros.  The range's policy (three runs) and advice
 * (three runs) arrive with it, entry for entry: their trees' entries are
 * taken beforehand too (before, the third run of each found no entry and
 * was dropped, and the advice did not follow mremap at all). */
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include "hms_test.h"
#include "inject.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define NPAGES 16

enum how { WHOLE, MIDDLE, DONTUNMAP, ONTO_MANAGED, NHOW };
static const char *const names[NHOW] = { "a whole area", "the middle of an area",
					 "MREMAP_DONTUNMAP", "into a managed area" };

/* The handler read the REMAP event and waits for memory, its tries being
 * the injected failures; mremap itself may wait for the handler to read
 * the UNMAP event that follows, so memory comes back from here: after
 * three tries (or 2 s, if it does not try again: the checks then fail). */
static void *memory_back_later(void *arg)
{
	(void)arg;
	for (int ms = 0; ms < 2000 && hms__inject_hits(HMS_INJ_NOMEM) < 3; ms++)
		usleep(1000);
	hms__inject_arm(NULL);
	return NULL;
}

/* Policies and advice over the moved range, page numbers relative to it:
 * BIND [0, 4), PREFERRED [4, 8), BIND [8, 12), none [12, 16); READ_MOSTLY
 * [2, 10), ACCESSED_BY [6, 14). */
static void set_placement(struct hms *h, struct hms_softdev *d, char *p)
{
	hms_uid t = hms_softdev_target(d);

	T_EQ(hms_bind(h, p, 4 * T_PAGE, &t, 1, 0), 0);
	T_EQ(hms_bind(h, p + 4 * T_PAGE, 4 * T_PAGE, &t, 1, HMS_BIND_PREFERRED), 0);
	T_EQ(hms_bind(h, p + 8 * T_PAGE, 4 * T_PAGE, &t, 1, 0), 0);
	T_EQ(hms_advise(h, p + 2 * T_PAGE, 8 * T_PAGE, HMS_ADVICE_READ_MOSTLY, 0), 0);
	T_EQ(hms_advise(h, p + 6 * T_PAGE, 8 * T_PAGE, HMS_ADVICE_ACCESSED_BY, t), 0);
}

static void check_policy(struct hms *h, const char *p, size_t first, size_t end, unsigned mode)
{
	struct hms_policy pol;

	T_EQ(hms_policy_get(h, p + first * T_PAGE, &pol), 0);
	if (pol.mode != mode || (mode && (pol.start != (uintptr_t)(p + first * T_PAGE) ||
					  pol.end != (uintptr_t)(p + end * T_PAGE))))
		T_FAIL("policy at page %zu: mode %u [%#lx, %#lx), want mode %u [%p, %p)", first,
		       (unsigned)pol.mode, (unsigned long)pol.start, (unsigned long)pol.end, mode,
		       (void *)(p + first * T_PAGE), (void *)(p + end * T_PAGE));
}

static void check_advice(struct hms *h, const char *p, size_t first, size_t end, unsigned bits)
{
	uintptr_t s, e;
	size_t nt;
	unsigned got = hms__test_advice(h, p + first * T_PAGE, &nt, &s, &e);

	if (got != bits || (bits && (s != (uintptr_t)(p + first * T_PAGE) ||
				     e != (uintptr_t)(p + end * T_PAGE))) ||
	    nt != ((bits & 2) ? 1u : 0u))
		T_FAIL("advice at page %zu: %u [%#lx, %#lx) %zu devices, want %u [%p, %p)", first,
		       got, (unsigned long)s, (unsigned long)e, nt, bits,
		       (void *)(p + first * T_PAGE), (void *)(p + end * T_PAGE));
}

static void check_placement(struct hms *h, const char *p)
{
	check_policy(h, p, 0, 4, HMS_POLICY_BIND);
	check_policy(h, p, 4, 8, HMS_POLICY_PREFERRED);
	check_policy(h, p, 8, 12, HMS_POLICY_BIND);
	check_policy(h, p, 12, 16, HMS_POLICY_DEFAULT);
	check_advice(h, p, 0, 2, 0);
	check_advice(h, p, 2, 6, 1);
	check_advice(h, p, 6, 10, 3);
	check_advice(h, p, 10, 14, 2);
	check_advice(h, p, 14, 16, 0);
}

static void one(struct hms *h, struct hms_softdev *d, enum how how)
{
	pthread_t t;
	size_t size = NPAGES * T_PAGE, n = size / sizeof(int);
	/* source area: 3 parts (the middle one moves for MIDDLE); target
	 * area: 3 parts, managed only for ONTO_MANAGED. */
	char *src = mmap(NULL, 3 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *dst = mmap(NULL, 3 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *from = how == MIDDLE ? src + size : src, *to = dst + size, *got;
	size_t managed = how == MIDDLE ? 3 * size : size;
	int flags = MREMAP_MAYMOVE | MREMAP_FIXED | (how == DONTUNMAP ? MREMAP_DONTUNMAP : 0);
	struct hms_softdev_cmd c;
	int *buf = malloc(size);

	T_ASSERT(src != MAP_FAILED && dst != MAP_FAILED && buf);
	T_EQ(hms_manage(h, src, managed), 0);
	if (how == ONTO_MANAGED)
		T_EQ(hms_manage(h, dst, 3 * size), 0);
	t_fill((int *)from, n, 1000 * (int)how);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, from, NULL, NPAGES, &c), 0);
	T_EQ(c.cpages, NPAGES);
	set_placement(h, d, from);

	T_EQ(hms__inject_arm("nomem:1"), 0);
	T_EQ(pthread_create(&t, NULL, memory_back_later, NULL), 0);
	t_watchdog(60, "the handler does not try the move again");
	got = mremap(from, size, size, flags, to);
	T_ASSERT(got == to);
	T_EQ(pthread_join(t, NULL), 0);
	t_watchdog(0, NULL);
	T_EQ(hms_sync(h), 0);

	if (t_count_loc(h, to, NPAGES, HMS_LOC_DEVICE) != NPAGES)
		T_FAIL("%s: %zu of %d pages on the device at the new address", names[how],
		       t_count_loc(h, to, NPAGES, HMS_LOC_DEVICE), NPAGES);
	check_placement(h, to);
	memset(buf, 0xFF, size);
	T_EQ(t_cmd(d, hms_softdev_read, to, buf, NPAGES, &c), 0);
	t_check(buf, n, 1000 * (int)how);
	t_check((int *)to, n, 1000 * (int)how); /* the CPU faults them back */
	T_EQ(t_count_loc(h, to, NPAGES, HMS_LOC_SYSTEM), NPAGES);
	printf("%s: %d pages moved with the handler out of memory\n", names[how], NPAGES);

	if (how == ONTO_MANAGED)
		T_EQ(hms_unmanage(h, dst, 3 * size), 0);
	else
		T_EQ(hms_unmanage(h, to, size), 0);
	if (how == MIDDLE) {
		T_EQ(hms_unmanage(h, src, size), 0);
		T_EQ(hms_unmanage(h, src + 2 * size, size), 0);
	} else if (how == DONTUNMAP) {
		T_EQ(hms_unmanage(h, from, size), 0);
	}
	T_EQ(hms_sync(h), 0);
	T_EQ(hms_softdev_pages_used(d), 0);
	munmap(src, 3 * size);
	munmap(dst, 3 * size);
	free(buf);
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);

	for (int how = 0; how < NHOW; how++)
		one(h, d, how);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
