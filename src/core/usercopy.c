/* SPDX-License-Identifier: MIT */
/*
 * usercopy.c - hms_user_read()/hms_user_write(): a driver reaching the
 * process's memory the way a device's DMA does, where a page that is not
 * mapped with the access needed (unmapped or protected behind the
 * driver's back) ends the copy instead of killing the driver's thread.
 *
 * Two ways, the same outcome:
 *   guarded   four pages at a time where it can, else one (streaming
 *             stores, else memcpy), with a fault guard: a SIGSEGV or
 *             SIGBUS handler (installed on first use, once per process,
 *             chaining to the one it replaced) that jumps out of a copy
 *             whose own range faulted, and hands every other fault to the
 *             handler before it (or the default action) as if hms were
 *             not there.  Missing pages fault in as on any CPU access.
 *   kernel    process_vm_readv/writev on our own process: used where the
 *             guard is not ours any more (the program set its own handler
 *             after us: looked up on every call, about 0.1 us) or could
 *             not be installed, with HMS_USER_COPY=kernel, and in
 *             ThreadSanitizer builds.  In user-mode-only mode a managed
 *             page the kernel cannot fault in is resolved by hms and the
 *             copy goes on (kernel_copy()).
 * The guarded copy runs at memcpy speed; the kernel one pins every page
 * and runs at about 0.6x here (BENCHMARKS.md).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/internal.h"

/*
 * Streaming (non-temporal) stores, as a DMA engine writes memory: the copy
 * does not fill the cache with data the CPU is not about to use, and runs
 * near a whole-buffer memcpy's speed a page at a time (9 vs 6.9 GB/s with
 * memcpy per page here).  For chunks of whole 64-byte lines to a 16-byte
 * aligned destination; others go to memcpy.
 */
#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>

/* One 64-byte line, to a 16-byte aligned destination. */
static inline void stream_line(char *d, const char *s)
{
	__m128i a = _mm_loadu_si128((const __m128i *)s);
	__m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
	__m128i c = _mm_loadu_si128((const __m128i *)(s + 32));
	__m128i e = _mm_loadu_si128((const __m128i *)(s + 48));

	_mm_stream_si128((__m128i *)d, a);
	_mm_stream_si128((__m128i *)(d + 16), b);
	_mm_stream_si128((__m128i *)(d + 32), c);
	_mm_stream_si128((__m128i *)(d + 48), e);
}

static bool copy_stream(char *dst, const char *src, size_t n)
{
	if (((uintptr_t)dst & 15) || (n & 63))
		return false;
	for (size_t i = 0; i < n; i += 64)
		stream_line(dst + i, src + i);
	return true;
}

/*
 * GROUP_PAGES whole pages, a line of each in turn: reading several pages
 * at once keeps more of the memory system busy than one page after the
 * other (0.98-0.99x of a 256 MiB memcpy here, against 0.80x a page at a
 * time).  dst must be 16-byte aligned.
 */
#define GROUP_PAGES 4
static bool copy_stream_group(char *dst, const char *src)
{
	if ((uintptr_t)dst & 15)
		return false;
	for (size_t i = 0; i < PAGE_SIZE; i += 64)
		for (size_t k = 0; k < GROUP_PAGES; k++)
			stream_line(dst + k * PAGE_SIZE + i, src + k * PAGE_SIZE + i);
	return true;
}

/* Streamed stores are weakly ordered: fenced before the copy is done. */
#define STREAM_FENCE() _mm_sfence()
#else
#define GROUP_PAGES 1
static bool copy_stream_group(char *dst, const char *src)
{
	(void)dst;
	(void)src;
	return false;
}

static bool copy_stream(char *dst, const char *src, size_t n)
{
	(void)dst;
	(void)src;
	(void)n;
	return false;
}

#define STREAM_FENCE() ((void)0)
#endif

/* The copy running on this thread: a fault inside [lo, hi) ends it. */
struct guard {
	sigjmp_buf jb;
	uintptr_t lo, hi;
};

/* Initial-exec: read in the signal handler, which must not allocate. */
static __thread struct guard *volatile cur_guard __attribute__((tls_model("initial-exec")));

/* Written once by install() (pthread_once), read after it. */
static struct sigaction old_segv, old_bus;
static bool guard_installed;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

/* A fault that is not ours: what would have happened without hms. */
static void chain(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *o = sig == SIGBUS ? &old_bus : &old_segv;

	if (o->sa_flags & SA_SIGINFO) {
		o->sa_sigaction(sig, si, uc);
		return;
	}
	if (o->sa_handler != SIG_DFL && o->sa_handler != SIG_IGN) {
		o->sa_handler(sig);
		return;
	}
	/* The default action (a fault cannot be ignored).  A fault comes
	 * back when the instruction runs again; a sent signal is sent again. */
	signal(sig, SIG_DFL);
	if (si->si_code <= 0)
		raise(sig);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	struct guard *g = cur_guard;
	uintptr_t a = (uintptr_t)si->si_addr;

	if (g && si->si_code > 0 && a >= g->lo && a < g->hi) {
		cur_guard = NULL;
		siglongjmp(g->jb, 1);
	}
	chain(sig, si, uc);
}

static void install(void)
{
	struct sigaction sa;
	const char *env = getenv("HMS_USER_COPY");

	if (env && !strcmp(env, "kernel"))
		return;
#if defined(__SANITIZE_THREAD__)
	/* A device's copy races the CPU's accesses as DMA does, outside the
	 * language's memory model: ThreadSanitizer would report each one.
	 * Through the kernel it sees none (and its signal handling does not
	 * survive jumping out of a handler with its ignores in place). */
	return;
#endif
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &old_segv))
		return;
	if (sigaction(SIGBUS, &sa, &old_bus)) {
		sigaction(SIGSEGV, &old_segv, NULL);
		return;
	}
	guard_installed = true;
}

/* Is the process's handler for sig our guard? */
static bool ours(int sig)
{
	struct sigaction cur;

	return !sigaction(sig, NULL, &cur) && (cur.sa_flags & SA_SIGINFO) &&
	       cur.sa_sigaction == on_fault;
}

/* Unloaded (dlclose) or at exit: a handler left behind would point into
 * code that is gone.  Put back what was there, where ours still is. */
__attribute__((destructor)) static void uninstall(void)
{
	if (!guard_installed)
		return;
	if (ours(SIGSEGV))
		sigaction(SIGSEGV, &old_segv, NULL);
	if (ours(SIGBUS))
		sigaction(SIGBUS, &old_bus, NULL);
	guard_installed = false;
}

/* Is the guard installed and still the process's handler? */
static bool guard_ready(void)
{
	pthread_once(&guard_once, install);
	return guard_installed && ours(SIGSEGV) && ours(SIGBUS);
}

/*
 * Groups of whole pages while it can, else a page at a time: the bytes
 * copied before the page that faulted.  A fault inside a group leaves its
 * pages partly copied: the group is copied again a page at a time, which
 * stops exactly at the page that faults.
 */
static size_t guarded_copy(char *dst, const char *src, uintptr_t user, size_t len)
{
	const size_t group = GROUP_PAGES * PAGE_SIZE;
	struct guard g = { .lo = user, .hi = user + len };
	volatile size_t done = 0;
	volatile bool grouped = GROUP_PAGES > 1;

	for (;;) {
		if (!sigsetjmp(g.jb, 0)) {
			cur_guard = &g;
			while (done < len) {
				size_t n = PAGE_SIZE - ((user + done) & (PAGE_SIZE - 1));

				if (grouped && n == PAGE_SIZE && len - done >= group &&
				    copy_stream_group(dst + done, src + done)) {
					done += group;
					continue;
				}
				if (n > len - done)
					n = len - done;
				if (!copy_stream(dst + done, src + done, n))
					memcpy(dst + done, src + done, n);
				done += n;
			}
			break;
		}
		/* Out of the handler: the signal may be blocked still (a
		 * sanitizer's handler that runs ours need not honour
		 * SA_NODEFER).  It was not blocked before the fault: a
		 * blocked fault kills. */
		sigset_t s;

		sigemptyset(&s);
		sigaddset(&s, SIGSEGV);
		sigaddset(&s, SIGBUS);
		pthread_sigmask(SIG_UNBLOCK, &s, NULL);
		if (!grouped)
			break; /* done is exact */
		grouped = false;
	}
	cur_guard = NULL;
	STREAM_FENCE();
	return done;
}

#define KERNEL_COPY_TRIES 100 /* resolutions at one place before giving up */

/*
 * Through the kernel.  In a context in user-mode-only mode the kernel's
 * access cannot fault into hms: a managed page on a device, never
 * touched, or write protected by hms stops the copy where a CPU access
 * would have been served (hms_user_read() of a device's page failed with
 * -EFAULT there).  The page may be on either side: the address copied
 * from or to, or the caller's buffer, which the kernel accesses too.  The
 * copy then goes on a page at a time (a piece within one page of each
 * side), so that the place that stopped it is known, and resolves the
 * page on each side as a CPU access would (hms__kernel_copy_fault()),
 * KERNEL_COPY_TRIES times at most (another thread may take it again at
 * once).  An error other than EFAULT, a place where no side is managed,
 * or a page hms cannot resolve ends the copy as before.
 */
static size_t kernel_copy(char *buf, uintptr_t user, size_t len, bool write)
{
	size_t done = 0;
	unsigned tries = 0;
	bool paged = false;

	while (done < len) {
		size_t n = len - done;
		struct iovec l, r;
		enum hms_kcopy ru, rb;
		ssize_t got;

		if (paged) {
			size_t in_user = PAGE_SIZE - ((user + done) & (PAGE_SIZE - 1));
			size_t in_buf = PAGE_SIZE - (((uintptr_t)buf + done) & (PAGE_SIZE - 1));

			n = n < in_user ? n : in_user;
			n = n < in_buf ? n : in_buf;
		}
		l = (struct iovec){ buf + done, n };
		r = (struct iovec){ (void *)(user + done), n };
		got = write ? process_vm_writev(getpid(), &l, 1, &r, 1, 0)
			    : process_vm_readv(getpid(), &l, 1, &r, 1, 0);
		if (got > 0) {
			done += (size_t)got;
			if (tries)
				paged = false; /* resolved: the rest whole again */
			tries = 0;
			continue;
		}
		if (got < 0 && errno != EFAULT)
			break; /* ENOMEM, EPERM, ENOSYS: no page to resolve */
		if (!paged) {
			paged = true; /* to learn which page stops it */
			continue;
		}
		if (tries++ == KERNEL_COPY_TRIES)
			break;
		/* The address copied from is read, the buffer written, or the
		 * other way round. */
		ru = hms__kernel_copy_fault(user + done, write);
		if (ru == HMS_KCOPY_STOP)
			break;
		rb = hms__kernel_copy_fault((uintptr_t)buf + done, !write);
		if (rb == HMS_KCOPY_STOP || (ru != HMS_KCOPY_RESOLVED && rb != HMS_KCOPY_RESOLVED))
			break;
	}
	return done;
}

static ssize_t user_copy(void *buf, uintptr_t user, size_t len, bool write)
{
	size_t done;

	if (!len)
		return 0;
	if (!buf || user + len < user || len > SSIZE_MAX)
		return -EFAULT;
	if (guard_ready())
		done = write ? guarded_copy((char *)user, buf, user, len)
			     : guarded_copy(buf, (const char *)user, user, len);
	else
		done = kernel_copy(buf, user, len, write);
	return done ? (ssize_t)done : -EFAULT;
}

HMS_API ssize_t hms_user_read(void *buf, const void *addr, size_t len)
{
	return user_copy(buf, (uintptr_t)addr, len, false);
}

HMS_API ssize_t hms_user_write(void *addr, const void *buf, size_t len)
{
	return user_copy((void *)buf, (uintptr_t)addr, len, true);
}
