/* migrate_discard_fallback: a migration to a device takes the system copy
 * of its pages out with UFFDIO_MOVE where the kernel has it (design 5a);
 * pages the kernel will not move (of a read-only mapping: EINVAL) are
 * discarded as before, with MADV_DONTNEED.  Every page reaches the device
 * and reads back byte for byte, also with the pages shared with a live
 * fork child, which still sees its own copy.  Pages of an mlock()ed range
 * stay in system memory, intact (the kernel neither moves nor discards
 * locked pages). */
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hms_test.h"
#include "inject.h"

#define NPAGES 32

/* VmLck of /proc/self/status: what this process has locked. */
static size_t locked_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t kib = 0;

	T_ASSERT(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %zu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	size_t size = NPAGES * T_PAGE, n = size / sizeof(int);
	int *p = hms_alloc(h, size, 0), fds[2];
	char go;
	pid_t pid;

	T_ASSERT(p);
	printf("gated discards: %s\n", hms__test_gated_discard(h) ? "yes" : "no (no UFFDIO_MOVE)");

	/* 1. Pages shared with a child that is still alive. */
	t_fill(p, n, 100);
	T_EQ(pipe(fds), 0);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		close(fds[1]);
		if (read(fds[0], &go, 1) != 1)
			_exit(2);
		for (size_t i = 0; i < n; i++)
			if (p[i] != 100 + (int)i)
				_exit(3);
		_exit(0);
	}
	close(fds[0]);
	t_device_round_trip(h, d, p, NPAGES, 100, "shared with a child");
	t_fill(p, n, 300); /* the parent's writes stay the parent's */
	T_EQ(write(fds[1], "x", 1), 1);
	close(fds[1]);
	t_wait_ok(pid);
	t_check(p, n, 300);

	/* 2. A read-only mapping: not moved, discarded. */
	t_fill(p, n, 400);
	T_EQ(mprotect(p, size, PROT_READ), 0);
	t_device_round_trip(h, d, p, NPAGES, 400, "read-only");
	T_EQ(mprotect(p, size, PROT_READ | PROT_WRITE), 0);

	/* 3. A locked range stays. */
	if (mlock(p, size)) {
		printf("not run: mlock: %s\n", strerror(errno));
	} else if (locked_kib() < size / 1024) {
		printf("not run: mlock locked nothing (sanitizers make it do nothing)\n");
	} else {
		struct hms_softdev_cmd c;

		t_fill(p, n, 500);
		t_cmd(d, hms_softdev_migrate_to_device, p, NULL, NPAGES, &c);
		T_EQ(t_count_loc(h, p, NPAGES, HMS_LOC_SYSTEM), NPAGES);
		T_EQ(hms_softdev_pages_used(d), 0);
		t_check(p, n, 500);
		T_EQ(munlock(p, size), 0);
	}

	/* 4. And the plain case, moved where the kernel can. */
	t_fill(p, n, 700);
	t_device_round_trip(h, d, p, NPAGES, 700, "plain");
	T_EQ(hms_free(h, p, size), 0);
	T_EQ(hms_sync(h), 0);
	T_EQ(hms_softdev_pages_used(d), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
