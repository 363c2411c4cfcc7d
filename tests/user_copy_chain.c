/* user_copy_chain: the fault guard of hms_user_read() takes only faults of
 * its own copies.  A SIGSEGV handler the program installed before hms'
 * guard still gets the program's own faults (with their address); one it
 * installs after the guard replaces it, and hms then copies through the
 * kernel: a read of unreadable memory still gives -EFAULT, and the
 * program's handler sees nothing of it. */
#include <setjmp.h>
#include <signal.h>
#include "hms_test.h"

static sigjmp_buf back;
static volatile void *seen;
static volatile int calls;

static void handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	seen = si->si_addr;
	calls++;
	siglongjmp(back, 1);
}

static void install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	T_EQ(sigaction(SIGSEGV, &sa, NULL), 0);
}

/* A fault of the program's own: its handler runs. */
static void own_fault(volatile char *bad)
{
	int before = calls;

	if (!sigsetjmp(back, 1))
		(void)*bad;
	T_EQ(calls, before + 1);
	T_ASSERT(seen == (void *)bad);
}

int main(void)
{
	size_t len = 2 * T_PAGE;
	char *none = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char buf[64];

	T_ASSERT(none != MAP_FAILED);
	install(); /* before hms' guard */
	T_EQ(hms_user_read(buf, none, sizeof(buf)), -EFAULT); /* installs it */
	T_EQ(calls, 0);
	own_fault(none + 5);
	T_EQ(hms_user_read(buf, none + T_PAGE, sizeof(buf)), -EFAULT);
	T_EQ(calls, 1);

	install(); /* after: the guard is gone, copies go through the kernel */
	T_EQ(hms_user_read(buf, none, sizeof(buf)), -EFAULT);
	T_EQ(hms_user_write(none, buf, sizeof(buf)), -EFAULT);
	T_EQ(calls, 1);
	own_fault(none + T_PAGE + 9);
	munmap(none, len);
	return 0;
}
