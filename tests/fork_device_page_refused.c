/* fork_device_page_refused: a device page whose driver refuses to give it
 * back for a while (migrate_to_ram fails with -EIO, then with -EAGAIN,
 * more often in a row than one eviction pass tries) is still in the fork
 * child, every byte: fork() waits for it instead of copying the address
 * space with the page missing (the child read zeros there, with no error
 * anywhere).  Afterwards the parent has the page in system memory. */
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "minidev.h"

/* More than one eviction pass takes of either kind (area.c,
 * EVICT_ROUNDS_ERROR 100 and EVICT_ROUNDS_EAGAIN 20000). */
#define REFUSE_EIO 300
#define REFUSE_EAGAIN 25000

static atomic_int refuse, refuse_err;

static int to_ram(struct hms_devmem *dm, const struct hms_devmem_fault *f)
{
	md.to_ram_calls++;
	if (atomic_fetch_sub(&refuse, 1) > 0)
		return refuse_err;
	return minidev_page_home(hms_devmem_context(dm), f->addr);
}

static void one_case(struct hms *h, int err, int times)
{
	int *p = hms_alloc(h, T_PAGE, 0);
	size_t n = T_PAGE / sizeof(int);
	pid_t pid;
	int calls;

	T_ASSERT(p);
	t_fill(p, n, 0x5000 + err);
	minidev_to_device(h, p);
	T_EQ(t_count_loc(h, p, 1, HMS_LOC_DEVICE), 1);
	refuse_err = err;
	refuse = times;
	calls = md.to_ram_calls;
	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		const int *q = p;

		for (size_t i = 0; i < n; i++)
			if (q[i] != 0x5000 + err + (int)i)
				_exit(1);
		_exit(0);
	}
	t_wait_ok(pid);
	/* The refusals ran out before fork copied anything. */
	T_ASSERT(md.to_ram_calls - calls > times);
	T_EQ(t_count_loc(h, p, 1, HMS_LOC_SYSTEM), 1);
	t_check(p, n, 0x5000 + err);
	T_EQ(hms_free(h, p, T_PAGE), 0);
}

int main(void)
{
	struct hms *h = t_open();

	minidev_add(h, "refuses", to_ram);
	one_case(h, -EIO, REFUSE_EIO);
	one_case(h, -EAGAIN, REFUSE_EAGAIN);
	hms_close(h);
	return 0;
}
