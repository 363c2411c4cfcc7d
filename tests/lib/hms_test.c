/* SPDX-License-Identifier: MIT */
/* hms_test.c - shared setup and checks of the core tests (hms_test.h). */
#include "hms_test.h"

static void t_stacks_arm(void);

struct hms *t_open_flags(unsigned flags)
{
	struct hms_options o = { .size = sizeof(o), .flags = flags };
	struct hms *h;
	int ret = hms_open(&h, &o);

	if (ret == -EPERM || ret == -ENOSYS)
		T_SKIP("userfaultfd unavailable: %s", hms_last_error());
	if (ret)
		T_FAIL("hms_open: %s", strerror(-ret));
	t_stacks_arm();
	return h;
}

struct hms *t_open(void)
{
	return t_open_flags(0);
}

struct hms *t_open_user_kernel_copy(void)
{
	struct hms *h;

	T_EQ(setenv("HMS_USER_COPY", "kernel", 1), 0);
	h = t_open_flags(HMS_OPEN_USER_MODE_ONLY);
	T_EQ(hms_mode(h), HMS_MODE_USER_ONLY);
	return h;
}

struct hms_softdev *t_softdev(struct hms *h, size_t pool_bytes)
{
	struct hms_softdev_config c = { .size = sizeof(c), .pool_bytes = pool_bytes };
	struct hms_softdev *d;
	int ret = hms_softdev_create(h, &c, &d);

	if (ret)
		T_FAIL("hms_softdev_create: %s", strerror(-ret));
	return d;
}

int t_cmd(struct hms_softdev *d, t_op op, void *addr, void *buf, size_t npages,
	  struct hms_softdev_cmd *out)
{
	struct hms_softdev_cmd c = { (uint64_t)(uintptr_t)addr, buf, npages, 0, 0 };
	int ret = op(d, &c);

	if (out)
		*out = c;
	return ret;
}

void t_fill(int *p, size_t n, int base)
{
	for (size_t i = 0; i < n; i++)
		p[i] = base + (int)i;
}

void t_check(const int *p, size_t n, int base)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != base + (int)i)
			T_FAIL("word %zu: %d, expected %d", i, p[i], base + (int)i);
}

void *t_alloc_one_batch(struct hms *h, size_t size)
{
	const size_t block = HMS_MIGRATE_MAX_BYTES, total = size + block;
	char *p, *q;

	T_ASSERT(size <= block && size % T_PAGE == 0);
	p = hms_alloc(h, total, 0);
	T_ASSERT(p);
	q = (uintptr_t)p % block + size <= block
		    ? p
		    : (char *)(((uintptr_t)p + block - 1) & ~(uintptr_t)(block - 1));
	/* Keep [q, q + size), give back the rest. */
	if (q > p)
		T_EQ(hms_free(h, p, (size_t)(q - p)), 0);
	T_EQ(hms_free(h, q + size, (size_t)(p + total - (q + size))), 0);
	return q;
}

void t_to_device(struct hms *h, struct hms_softdev *d, void *p, size_t npages, const char *what)
{
	struct hms_softdev_cmd c;

	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p, NULL, npages, &c), 0);
	if (c.cpages != npages || t_count_loc(h, p, npages, HMS_LOC_DEVICE) != npages)
		T_FAIL("%s: %zu of %zu pages on the device", what,
		       t_count_loc(h, p, npages, HMS_LOC_DEVICE), npages);
}

void t_device_round_trip(struct hms *h, struct hms_softdev *d, int *p, size_t npages, int base,
			 const char *what)
{
	t_to_device(h, d, p, npages, what);
	t_check(p, npages * T_PAGE / sizeof(int), base); /* the CPU brings them back */
	T_EQ(t_count_loc(h, p, npages, HMS_LOC_SYSTEM), npages);
}

void t_snapshot_all(struct hms_softdev *d, void *p, size_t npages, unsigned want)
{
	unsigned char *m = malloc(npages);
	struct hms_softdev_cmd c;

	T_ASSERT(m);
	memset(m, 0xAA, npages);
	T_EQ(t_cmd(d, hms_softdev_snapshot, p, m, npages, &c), 0);
	T_EQ(c.cpages, npages);
	for (size_t i = 0; i < npages; i++)
		if (m[i] != want)
			T_FAIL("page %zu: snapshot byte %#x, expected %#x", i, m[i], want);
	free(m);
}

long t_thp_fallbacks(void)
{
	FILE *f = fopen("/proc/vmstat", "re");
	char name[64];
	long v, n = 0;

	T_ASSERT(f);
	while (fscanf(f, "%63s %ld", name, &v) == 2)
		if (!strcmp(name, "thp_fault_fallback"))
			n = v;
	fclose(f);
	return n;
}

/* The line of the mapping holding addr in /proc/self/smaps that starts
 * with key, into line (false: none). */
static bool smaps_line(const void *addr, const char *key, char *line, size_t size)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	bool in = false, found = false;

	T_ASSERT(f);
	while (!found && fgets(line, (int)size, f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)addr >= s && (uintptr_t)addr < e;
		else
			found = in && !strncmp(line, key, strlen(key));
	}
	fclose(f);
	return found;
}

long t_anon_huge_kb(const void *addr)
{
	char line[512];
	long kb = -1;

	if (smaps_line(addr, "AnonHugePages:", line, sizeof(line)))
		sscanf(line, "AnonHugePages: %ld kB", &kb);
	return kb;
}

bool t_vm_flag(const void *addr, const char *flag)
{
	char line[512], *p;
	size_t n = strlen(flag);

	if (!smaps_line(addr, "VmFlags:", line, sizeof(line)))
		return false;
	for (p = line + 8; (p = strstr(p, flag)); p += n)
		if (p[-1] == ' ' && (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return true;
	return false;
}

size_t t_count_loc(struct hms *h, void *addr, size_t npages, int loc)
{
	struct hms_page_info *info = calloc(npages, sizeof(*info));
	size_t n = 0;

	T_ASSERT(info);
	T_EQ(hms_page_query(h, addr, npages, info), npages);
	for (size_t i = 0; i < npages; i++)
		n += info[i].location == loc;
	free(info);
	return n;
}

void t_run_cases(struct hms *h, int argc, char **argv, const char *const name[], int ncases,
		 void (*one)(struct hms *h, int n))
{
	int only = argc > 1 ? atoi(argv[1]) : -1;

	if (argc > 1 && (only < 0 || only >= ncases))
		T_FAIL("no case %s (0 to %d)", argv[1], ncases - 1);
	for (int n = 0; n < ncases; n++)
		if (only < 0 || only == n) {
			t_watchdog(100, name[n]);
			one(h, n);
			t_watchdog(0, NULL);
		}
	hms_close(h);
}

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

void t_wait_ok(pid_t pid)
{
	int st;

	T_EQ(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		T_FAIL("child %d killed by signal %d", (int)pid, WTERMSIG(st));
	T_ASSERT(WIFEXITED(st));
	T_EQ(WEXITSTATUS(st), 0);
}

void *t_map_aligned(size_t size, int prot, void **raw)
{
	char *p = mmap(NULL, 2 * size, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;

	T_ASSERT(p != MAP_FAILED);
	a = ((uintptr_t)p + size - 1) & ~(uintptr_t)(size - 1);
	T_EQ(madvise((void *)a, size, MADV_HUGEPAGE), 0);
	*raw = p;
	return (void *)a;
}

int t_tmpfile(size_t size)
{
	int fd = open("/tmp", O_TMPFILE | O_EXCL | O_RDWR, 0600);

	if (fd < 0)
		T_SKIP("O_TMPFILE in /tmp: %s", strerror(errno));
	T_EQ(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* Runs `$HMS_TOOL stress ARGS...` (SKIP without the tool or userfaultfd);
 * fails unless it exits 0.  With out, its standard output is kept there
 * (NUL-terminated, echoed). */
void t_stress(const char *const args[], char *out, size_t outlen)
{
	const char *tool = getenv("HMS_TOOL");
	const char *argv[32] = { tool, "stress" };
	size_t argc = 2, got = 0;
	int fds[2] = { -1, -1 }, st;
	pid_t pid;

	if (!tool || access(tool, X_OK))
		T_SKIP("HMS_TOOL is not set to the hms command (run through ctest)");
	hms_close(t_open()); /* skips where userfaultfd cannot be used */
	while (*args && argc < 31)
		argv[argc++] = *args++;
	argv[argc] = NULL;
	if (out)
		T_EQ(pipe(fds), 0);
	fflush(stdout);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		if (out)
			dup2(fds[1], 1);
		/* The stack-dump alarm fork armed here (stacks_child) would
		 * outlive the exec and kill the tool, which does not catch it. */
		alarm(0);
		execv(tool, (char *const *)argv);
		_exit(127);
	}
	if (out) {
		ssize_t n;

		close(fds[1]);
		/* EINTR: the stack-dump alarm t_open() armed may fire during a
		 * long run (under ThreadSanitizer the call is not restarted);
		 * it is a diagnostic, not a failure. */
		while (got < outlen - 1 &&
		       ((n = read(fds[0], out + got, outlen - 1 - got)) > 0 ||
			(n < 0 && errno == EINTR)))
			got += n > 0 ? (size_t)n : 0;
		out[got] = 0;
		close(fds[0]);
	}
	while (waitpid(pid, &st, 0) < 0)
		T_EQ(errno, EINTR);
	if (out)
		fputs(out, stdout);
	if (WIFSIGNALED(st))
		T_FAIL("hms stress was killed by signal %d", WTERMSIG(st));
	T_EQ(WEXITSTATUS(st), 0);
}

#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

/*
 * Hangs: every test that opens a context prints its threads' stacks (gdb,
 * where installed) if it still runs after HMS_TEST_STACKS_S seconds
 * (default 90, under ctest's 120; 0: never), and goes on: a slow run is
 * not failed by this.  t_watchdog() fails the test, with the stacks.
 * What the handler runs is prepared beforehand, and it calls the kernel
 * directly (no libc or sanitizer fork handlers inside a signal handler).
 */
extern char **environ;

static char watchdog_msg[160];
static char stacks_pid[24];
static char *stacks_argv[] = { "gdb", "-batch", "-nx", "-p", stacks_pid,
			       "-ex", "thread apply all bt", NULL };
static const char stacks_gdb[] = "/usr/bin/gdb";
static unsigned stacks_after = 90;
static bool stacks_armed, watchdog_on;

static void say(const char *m)
{
	if (write(STDERR_FILENO, m, strlen(m)) < 0)
		return;
}

static void dump_stacks(void)
{
	long pid;

	if (access(stacks_gdb, X_OK))
		return;
	pid = syscall(SYS_fork);
	if (pid == 0) {
		syscall(SYS_dup2, STDERR_FILENO, STDOUT_FILENO);
		syscall(SYS_execve, stacks_gdb, stacks_argv, environ);
		syscall(SYS_exit, 127);
	}
	if (pid > 0)
		syscall(SYS_wait4, pid, NULL, 0, NULL);
}

static void stacks_fire(int sig)
{
	(void)sig;
	say("hms test: still running; the threads' stacks:\n");
	dump_stacks();
}

static void watchdog_fire(int sig)
{
	(void)sig;
	if (write(STDOUT_FILENO, watchdog_msg, strlen(watchdog_msg)) < 0)
		_exit(1);
	dump_stacks();
	_exit(1);
}

/* A fork child dumps its own stacks too (alarms are not inherited). */
static void stacks_child(void)
{
	watchdog_on = false;
	snprintf(stacks_pid, sizeof(stacks_pid), "%d", (int)getpid());
	if (stacks_after) {
		signal(SIGALRM, stacks_fire);
		alarm(stacks_after);
	}
}

/* Arms the stack dump, unless the test keeps its own alarm. */
static void t_stacks_arm(void)
{
	const char *env = getenv("HMS_TEST_STACKS_S");

	if (!stacks_armed) {
		stacks_armed = true;
		if (env)
			stacks_after = (unsigned)strtoul(env, NULL, 10);
		prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0); /* Yama */
		pthread_atfork(NULL, NULL, stacks_child);
	}
	snprintf(stacks_pid, sizeof(stacks_pid), "%d", (int)getpid()); /* (a child's own) */
	if (!stacks_after || watchdog_on)
		return; /* (t_open() after t_watchdog() keeps the watchdog) */
	signal(SIGALRM, stacks_fire);
	alarm(stacks_after);
}

void t_watchdog(unsigned seconds, const char *what)
{
	if (!seconds) {
		alarm(0);
		watchdog_on = false;
		t_stacks_arm(); /* back to the stack dump */
		return;
	}
	watchdog_on = true;
	t_stacks_arm(); /* (for the pid) */
	snprintf(watchdog_msg, sizeof(watchdog_msg), "FAIL: hang: %s\n", what);
	signal(SIGALRM, watchdog_fire);
	alarm(seconds);
}

pid_t t_fork_alarmed(void)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL); /* not the parent's watchdog */
		alarm(10);
	}
	return pid;
}

/* The thread t_fork_held() starts, and its callback's two sides. */
static pthread_t held_tid;
static atomic_bool held_in, held_go;

void t_held_here(void)
{
	held_in = true;
	while (!held_go)
		usleep(1000);
}

pid_t t_fork_held(void *(*fn)(void *), void *arg)
{
	T_EQ(pthread_create(&held_tid, NULL, fn, arg), 0);
	while (!held_in)
		usleep(1000);
	return t_fork_alarmed();
}

void t_held_release(void)
{
	held_go = true;
	T_EQ(pthread_join(held_tid, NULL), 0);
}

static sigjmp_buf sigbus_env;

static void on_sigbus(int sig)
{
	siglongjmp(sigbus_env, sig);
}

int t_read_or_signal(const volatile int *addr, int *out)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old_bus, old_segv;
	volatile int sig;

	sigemptyset(&sa.sa_mask);
	T_EQ(sigaction(SIGBUS, &sa, &old_bus), 0);
	T_EQ(sigaction(SIGSEGV, &sa, &old_segv), 0);
	sig = sigsetjmp(sigbus_env, 1);
	if (sig == 0)
		*out = *addr;
	T_EQ(sigaction(SIGSEGV, &old_segv, NULL), 0);
	T_EQ(sigaction(SIGBUS, &old_bus, NULL), 0);
	return sig;
}

bool t_read_or_sigbus(const volatile int *addr, int *out)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	volatile bool ok = false;

	sigemptyset(&sa.sa_mask);
	T_EQ(sigaction(SIGBUS, &sa, &old), 0);
	if (sigsetjmp(sigbus_env, 1) == 0) {
		*out = *addr;
		ok = true;
	}
	T_EQ(sigaction(SIGBUS, &old, NULL), 0);
	return ok;
}

char *t_map_low(size_t size)
{
	char *p = MAP_FAILED;

	for (uintptr_t at = 0x10000000; at < 0x20000000 && p == MAP_FAILED; at += 0x1000000)
		p = mmap((void *)at, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		T_SKIP("no room for a mapping below 512 MiB");
	return p;
}

bool t_fence(void *addr, size_t len)
{
	void *r = mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		       -1, 0);

	if (r == addr)
		return true;
	if (r != MAP_FAILED)
		munmap(r, len); /* a kernel that takes NOREPLACE as a hint */
	else
		T_EQ(errno, EEXIST);
	return false;
}

bool t_thread_sleeps_in(int tid, long nr)
{
	char path[64], buf[512], *paren;
	long got = -1;
	char state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	if (!(f = fopen(path, "re")))
		return false;
	if (fscanf(f, "%ld", &got) != 1)
		got = -1; /* "running" */
	fclose(f);
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	if (!(f = fopen(path, "re")))
		return false;
	if (fgets(buf, sizeof(buf), f) && (paren = strrchr(buf, ')')) && paren[1] == ' ')
		state = paren[2];
	fclose(f);
	return got == nr && (state == 'S' || state == 'D');
}

bool t_thread_settles_in(int tid, long nr, unsigned secs)
{
	unsigned seen = 0;

	for (unsigned i = 0; i < secs * 500u && seen < 5; i++) {
		seen = t_thread_sleeps_in(tid, nr) ? seen + 1 : 0;
		usleep(2000);
	}
	return seen >= 5;
}

void t_pagemap(const void *p, size_t n, uint64_t *out)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);

	T_ASSERT(fd >= 0);
	T_EQ(pread(fd, out, n * sizeof(*out), (off_t)((uintptr_t)p / T_PAGE * sizeof(*out))),
	     (ssize_t)(n * sizeof(*out)));
	close(fd);
}

bool t_kernel_wp(const void *addr)
{
	uint64_t e;

	t_pagemap(addr, 1, &e);
	return e & T_PM_UFFD_WP;
}

void t_map_foreign(struct hms *h, void *addr)
{
	T_ASSERT(mmap(addr, T_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		      -1, 0) == addr);
	T_EQ(hms_sync(h), 0);
}

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>

bool t_seccomp_refuse(long nr, long arg1, int err)
{
	/* The low 32 bits of argument 1 (an ioctl's request). */
	const unsigned arg1_lo = offsetof(struct seccomp_data, args[1]) +
				 (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 4 : 0);
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg1_lo),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)arg1, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (arg1 < 0) /* any call: the argument's test jumps nowhere */
		f[2] = f[3] = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 0);
	/* Every thread: hms' and the softdev's make calls too. */
	return !prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) &&
	       !syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
}

int t_wait_child(pid_t pid, unsigned secs)
{
	int st = 0;

	for (unsigned ms = 0; waitpid(pid, &st, WNOHANG) == 0; ms++) {
		if (ms >= secs * 1000) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(1000);
	}
	return st;
}
