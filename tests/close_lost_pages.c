/* close_lost_pages: hms_close() of a context whose driver keeps refusing
 * to bring some device pages of an hms_manage()d range home (its
 * migrate_to_ram fails with -EIO for them, more often than an eviction
 * tries) loses them loudly: a later read of such a page gets SIGBUS, not
 * zeros, while every other page, those that came home from the device
 * after a refused one included, keeps its data byte for byte, and
 * hms_last_error() says how many pages were lost.  Case "poison": the
 * poison marker (UFFDIO_POISON, Linux 6.6+; the fallback where the kernel
 * lacks it); case "fallback": HMS_UFFD_POISON=0, what Linux 6.1 gets;
 * case "no memfd": the fallback where memfd_create fails (EMFILE, from a
 * seccomp filter): the lost pages stay inaccessible (PROT_NONE), and a
 * read gets SIGSEGV instead, still never zeros.
 * First, hms_unmanage() and hms_devmem_remove() of the same pages fail
 * and keep them.  A minimal driver. */
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "minidev.h"

#define NPAGES 8

/* The pages that live on the device (1) and those of them its driver
 * never gives back (2). */
static const int on_device[NPAGES] = { 0, 1, 0, 2, 0, 1, 1, 2 };
static char *base;
static atomic_int refused;
static atomic_bool mended;

static int to_ram(struct hms_devmem *dm, const struct hms_devmem_fault *f)
{
	if (on_device[(f->addr - (uintptr_t)base) / T_PAGE] == 2 && !mended) {
		refused++;
		return -EIO;
	}
	return minidev_to_ram(dm, f);
}

/* Does /proc/self/maps name the mapping that holds addr "what"? */
static bool mapped_as(const void *addr, const char *what)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	bool found = false;

	T_ASSERT(f);
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && (uintptr_t)addr >= s &&
		    (uintptr_t)addr < e)
			found = strstr(line, what) != NULL;
	}
	fclose(f);
	return found;
}

/* The range managed by a new context, its pages filled and those of
 * on_device[] on the device; returns how many of them it refuses. */
static int setup(struct hms **hp, const char *name)
{
	struct hms *h = t_open();
	int refusing = 0;

	base = mmap(NULL, NPAGES * T_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	T_ASSERT(base != MAP_FAILED);
	for (int i = 0; i < NPAGES; i++)
		t_fill((int *)(base + i * T_PAGE), T_PAGE / sizeof(int), 0x1000 * (i + 1));
	T_EQ(hms_manage(h, base, NPAGES * T_PAGE), 0);
	minidev_add(h, name, to_ram);
	for (int i = 0; i < NPAGES; i++) {
		if (!on_device[i])
			continue;
		minidev_to_device(h, base + i * T_PAGE);
		T_EQ(t_count_loc(h, base + i * T_PAGE, 1, HMS_LOC_DEVICE), 1);
		refusing += on_device[i] == 2;
	}
	mended = false;
	refused = 0;
	*hp = h;
	return refusing;
}

/* hms_unmanage() and hms_devmem_remove() do not lose the pages: they
 * fail, and the pages stay on the device, managed, with their data. */
static void other_calls_keep(void)
{
	struct hms *h;
	int refusing = setup(&h, "keep");

	T_EQ(hms_unmanage(h, base, NPAGES * T_PAGE), -EIO);
	T_EQ(t_count_loc(h, base, NPAGES, HMS_LOC_DEVICE), refusing);
	T_EQ(hms_devmem_remove(md.dm), -EBUSY);
	T_EQ(t_count_loc(h, base, NPAGES, HMS_LOC_DEVICE), refusing);
	mended = true;
	for (int i = 0; i < NPAGES; i++)
		t_check((int *)(base + i * T_PAGE), T_PAGE / sizeof(int), 0x1000 * (i + 1));
	T_EQ(t_count_loc(h, base, NPAGES, HMS_LOC_DEVICE), 0);
	hms_close(h);
	T_EQ(munmap(base, NPAGES * T_PAGE), 0);
}

enum how { POISON, FALLBACK, NO_MEMFD };

static void one_case(const char *name, enum how how)
{
	struct hms *h;
	size_t n = T_PAGE / sizeof(int);
	int lost = setup(&h, name);

	if (how == NO_MEMFD && !t_seccomp_refuse(SYS_memfd_create, -1, EMFILE)) {
		printf("%s: not run: seccomp filters are not available here\n", name);
		mended = true;
		hms_close(h);
		T_EQ(munmap(base, NPAGES * T_PAGE), 0);
		return;
	}

	hms_close(h);

	/* Each refused page was tried more than once (EVICT_ROUNDS_ERROR). */
	T_ASSERT(refused > 2 * 100);
	for (int i = 0; i < NPAGES; i++) {
		int *p = (int *)(base + i * T_PAGE), seen = -1;

		if (on_device[i] == 2) {
			int sig = t_read_or_signal(p + 5, &seen);

			if (!sig)
				T_FAIL("%s: lost page %d read %#x instead of a signal", name, i,
				       seen);
			T_EQ(seen, -1);
			T_EQ(sig, how == NO_MEMFD ? SIGSEGV : SIGBUS);
			/* The fallback's memfd, which says what happened. */
			if (how != POISON) /* (which falls back where the kernel lacks it) */
				T_EQ(mapped_as(p, "hms-lost"), how == FALLBACK);
		} else {
			t_check(p, n, 0x1000 * (i + 1));
		}
	}
	if (!strstr(hms_last_error(), "2 pages"))
		T_FAIL("%s: hms_last_error() after the close: \"%s\"", name, hms_last_error());
	printf("%s: %d pages lost with %s (%s), the rest intact\n", name, lost,
	       how == NO_MEMFD ? "SIGSEGV" : "SIGBUS",
	       how == NO_MEMFD ? "left inaccessible"
	       : mapped_as(base + 3 * T_PAGE, "hms-lost") ? "memfd"
							  : "poison marker");
	T_EQ(munmap(base, NPAGES * T_PAGE), 0);
}

int main(void)
{
	other_calls_keep();
	one_case("poison", POISON);
	T_EQ(setenv("HMS_UFFD_POISON", "0", 1), 0);
	one_case("fallback", FALLBACK);
	one_case("no memfd", NO_MEMFD); /* last: the filter stays */
	return 0;
}
