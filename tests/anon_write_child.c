/* anon_write_child: after fork() a child sees every word of the parent's
 * private anonymous memory, including pages that were in device memory
 * at the fork, with and without huge pages; the child's own device writes
 * its copy (copy-on-write) and the parent's data does not change.
 *
 * hms differs from the kernel here: the child does not inherit managed
 * areas (hms brings device pages back to system memory at fork, and the
 * child gets plain memory), so its device writes the memory in place as
 * memory outside managed areas.  Unlike the kernel test, the child checks
 * what its device wrote in the migrated variants too. */
#include <sys/wait.h>
#include <unistd.h>

#include "hms_test.h"

#define DEVVAL 0x40000000

static void child(void *p, size_t npages)
{
	size_t n = npages * T_PAGE / sizeof(int);
	int *buf = malloc(npages * T_PAGE);
	struct hms *h;
	struct hms_softdev *d;
	struct hms_softdev_cmd c;

	T_ASSERT(buf);
	t_check(p, n, 0);
	t_fill(buf, n, DEVVAL);
	/* The child needs its own context for its own address space. */
	h = t_open();
	d = t_softdev(h, 0);
	T_EQ(t_cmd(d, hms_softdev_write, p, buf, npages, &c), 0);
	T_EQ(c.cpages, npages);
	T_EQ(c.faults, 1);
	t_check(p, n, DEVVAL);
	hms_softdev_destroy(d);
	hms_close(h);
	free(buf);
	_exit(0);
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);

	for (int migrate = 0; migrate < 2; migrate++) {
		for (int huge = 0; huge < 2; huge++) {
			size_t size = huge ? HMS_HUGE_PAGE_SIZE : 1024 * T_PAGE;
			size_t npages = size / T_PAGE, n = size / sizeof(int);
			int *p = hms_alloc(h, size, huge ? HMS_ALLOC_HUGE : 0);
			struct hms_softdev_cmd c;
			pid_t pid;

			T_ASSERT(p);
			t_fill(p, n, 0);
			if (migrate) {
				T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
				T_EQ(c.cpages, npages);
				T_EQ(t_count_loc(h, p, npages, HMS_LOC_DEVICE), npages);
			}
			fflush(NULL);
			pid = fork();
			T_ASSERT(pid >= 0);
			if (pid == 0)
				child(p, npages);
			t_wait_ok(pid);
			/* Copy-on-write: the child's device wrote its own copy. */
			t_check(p, n, 0);
			T_EQ(hms_free(h, p, size), 0);
		}
	}
	T_EQ(hms_softdev_pages_used(d), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
