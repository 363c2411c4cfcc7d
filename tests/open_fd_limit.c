/* open_fd_limit: hms_open that runs out of file descriptors at each step
 * of its set-up in turn (RLIMIT_NOFILE) fails with -EMFILE and leaves no
 * descriptor of its own open: the userfaultfd, the spare ranges' one, the
 * eventfd and the timerfd are closed on every error path. */
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include "hms_test.h"

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	T_ASSERT(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The lowest descriptor number free now. */
static int lowest_free(void)
{
	int fd = dup(0);

	T_ASSERT(fd >= 0);
	close(fd);
	return fd;
}

int main(void)
{
	struct rlimit old, lim;
	int base, low;
	bool opened = false;

	/* Whatever the libraries keep open for good opens now. */
	hms_close(t_open());
	base = open_fds();
	low = lowest_free();
	T_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
	for (int k = 0; k < 64 && !opened; k++) {
		struct hms *h = NULL;
		int ret;

		lim = old;
		lim.rlim_cur = (rlim_t)(low + k);
		T_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
		ret = hms_open(&h, NULL);
		T_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
		if (!ret) {
			opened = true;
			hms_close(h);
		} else if (ret != -EMFILE) {
			T_FAIL("%d descriptors free: hms_open: %s", k, strerror(-ret));
		}
		if (open_fds() != base)
			T_FAIL("%d descriptors free: hms_open %s and left %d open", k,
			       ret ? "failed" : "succeeded", open_fds() - base);
	}
	T_ASSERT(opened);
	return 0;
}
