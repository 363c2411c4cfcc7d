/* open_no_uffd: where userfaultfd cannot be had at all (a seccomp filter
 * refuses the system call and /dev/userfaultfd cannot be opened), hms_open
 * fails with -ENOSYS and a message that says why and what to do. */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hms_test.h"

/* userfaultfd -> ENOSYS, openat -> EPERM, everything else allowed. */
static int install_filter(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_userfaultfd, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

int main(void)
{
	pid_t pid = fork();

	T_ASSERT(pid >= 0);
	if (pid == 0) {
		struct hms_options o = { .size = sizeof(o), .flags = HMS_OPEN_NO_TOPOLOGY };
		struct hms *h = NULL;
		const char *msg;
		int ret;

		if (install_filter())
			_exit(77);
		ret = hms_open(&h, &o);
		msg = hms_last_error();
		if (ret != -ENOSYS || h) {
			fprintf(stderr, "hms_open: %d, expected -ENOSYS\n", ret);
			_exit(1);
		}
		if (!strstr(msg, "userfaultfd") || !strstr(msg, "seccomp")) {
			fprintf(stderr, "message does not say why: '%s'\n", msg);
			_exit(1);
		}
		printf("hms_open: %s\n", msg);
		_exit(0);
	}
	int st;

	T_EQ(waitpid(pid, &st, 0), pid);
	T_ASSERT(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		T_SKIP("seccomp filters are not available here");
	T_EQ(WEXITSTATUS(st), 0);
	return 0;
}
