/* SPDX-License-Identifier: MIT */
/*
 * uffd.c - the fault engine: opening userfaultfd in full or user-mode-only
 * mode, the handler thread, fault resolution (zero fill, data back from
 * device memory, write protection), and the non-cooperative events
 * (munmap, MADV_DONTNEED/REMOVE, mremap) that become invalidations.
 *
 * The one rule that keeps this deadlock free: the handler thread is the
 * only reader of the userfaultfd, and threads that wait for it to read
 * (munmap, madvise and mremap callers; uffd ioctls that get EAGAIN while
 * an event is unread) never hold hms.lock meanwhile.  The handler itself
 * never waits for another thread; a fault it cannot resolve now is
 * deferred (PTE_WAITERS: whoever clears the busy state wakes it) or
 * retried after reading more messages (EAGAIN).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <numa.h>

#include "compat/uffd_compat.h"
#include "core/internal.h"
#include "inject.h"

/* Zeros to fill write faults with (never written). */
static char zeros[HMS_MIGRATE_MAX_BYTES] __attribute__((aligned(4096)));

uint64_t hms__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t hms__now_ms(void)
{
	return hms__now_ns() / 1000000;
}

/* ---- opening ------------------------------------------------------------ */

static int uffd_new(bool user_only)
{
	int flags = O_CLOEXEC | O_NONBLOCK | (user_only ? UFFD_USER_MODE_ONLY : 0);
	int fd = (int)syscall(SYS_userfaultfd, flags);

	if (fd >= 0 || user_only || (errno != EPERM && errno != ENOSYS))
		return fd < 0 ? -errno : fd;
	/* Not allowed by the sysctl (or the system call is filtered):
	 * /dev/userfaultfd may still be ours. */
	int err = errno;
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

	if (dev < 0)
		return -err;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	close(dev);
	return fd < 0 ? -EPERM : fd;
}

#define WANTED_FEATURES                                                     \
	(UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE |             \
	 UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_THREAD_ID)

#define WP_ASYNC_FEATURES (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)

/* What the kernel's userfaultfd offers.  UFFDIO_API can be called once
 * per descriptor, so a throwaway one is asked; 0 if it cannot be. */
static uint64_t uffd_probe_features(bool user_only)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	int fd = uffd_new(user_only);
	uint64_t f = 0;

	if (fd < 0)
		return 0;
	if (!ioctl(fd, UFFDIO_API, &api))
		f = api.features;
	close(fd);
	return f;
}

static bool env_off(const char *name)
{
	const char *env = getenv(name);

	return env && !strcmp(env, "0");
}

/*
 * HMS_OPEN_WP_ASYNC: does the kernel have asynchronous write protection?
 * Without it (or with HMS_WP_SYNC=1) the context falls back to the
 * synchronous kind, which every kernel with UFFDIO_WRITEPROTECT has.
 */
static bool uffd_want_wp_async(unsigned open_flags, uint64_t have)
{
	const char *env = getenv("HMS_WP_SYNC");

	if (!(open_flags & HMS_OPEN_WP_ASYNC) || (env && *env && strcmp(env, "0")))
		return false;
	return (have & WP_ASYNC_FEATURES) == WP_ASYNC_FEATURES;
}

/*
 * The spare ranges that discards move pages into (see "gated discards")
 * are registered with a userfaultfd of their own, in asynchronous
 * write-protect mode only: UFFDIO_MOVE wants its destination registered
 * with the descriptor it is called on, and nothing else about them may
 * reach the handler.  This descriptor asks for no events, so emptying a
 * spare range (MADV_DONTNEED, MADV_FREE) raises none and the range stays
 * registered for good; an access to it never waits (no missing mode, and
 * write protection resolves itself).  So a discard costs no registration
 * change, each of which takes the address space's lock for writing.
 * Needs UFFD_FEATURE_WP_ASYNC (Linux 6.7, before UFFDIO_MOVE); -errno if
 * it cannot be had.
 */
static int spare_uffd_new(bool user_only)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_MOVE };
	int fd = uffd_new(user_only);

	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/* Whether an madvise(MADV_HUGEPAGE)'d range can get transparent huge
 * pages here (not "[never]"; HMS_HUGE_FILL=0 says no). */
static bool thp_possible(void)
{
	char buf[128] = "";
	FILE *f;

	if (env_off("HMS_HUGE_FILL"))
		return false;
	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return buf[0] && !strstr(buf, "[never]");
}

int hms__uffd_open(struct hms *h, unsigned open_flags)
{
	bool user_only = open_flags & HMS_OPEN_USER_MODE_ONLY;
	struct uffdio_api api = { .api = UFFD_API, .features = WANTED_FEATURES };
	int fd = user_only ? -EPERM : uffd_new(false);

	if (fd == -EPERM) {
		user_only = true;
		fd = uffd_new(true);
	}
	if (fd < 0) {
		if (fd == -ENOSYS)
			hms__set_error("hms: userfaultfd is not available (the kernel lacks "
				       "CONFIG_USERFAULTFD, or a seccomp filter blocks it); "
				       "hms needs it: run on a kernel with userfaultfd and allow "
				       "the userfaultfd system call");
		else if (fd == -EPERM)
			hms__set_error("hms: userfaultfd is not permitted, not even with "
				       "UFFD_USER_MODE_ONLY (a seccomp filter or an LSM "
				       "refuses it); allow the userfaultfd system call or "
				       "run with access to /dev/userfaultfd");
		else
			hms__set_error("hms: userfaultfd failed: %s", strerror(-fd));
		return fd;
	}
	/* From here on, hms_open closes what failure leaves open. */
	h->uffd = fd;
	uint64_t have = uffd_probe_features(user_only);

	h->wp_async = uffd_want_wp_async(open_flags, have);
	if (h->wp_async)
		api.features |= WP_ASYNC_FEATURES;
	/* UFFDIO_MOVE (Linux 6.8): discards of migrations to a device go
	 * through the fill gate (hms__uffd_discard_move), into spare ranges
	 * of a userfaultfd of their own.  HMS_UFFD_MOVE=0 turns it off. */
	h->uffd_move = (have & UFFD_FEATURE_MOVE) && !env_off("HMS_UFFD_MOVE");
	if (h->uffd_move) {
		h->uffd_spare = spare_uffd_new(user_only);
		h->uffd_move = h->uffd_spare >= 0;
	}
	if (h->uffd_move)
		api.features |= UFFD_FEATURE_MOVE;
	/* UFFDIO_POISON (Linux 6.6): hms_close() marks the pages it could
	 * not bring home (context.c).  HMS_UFFD_POISON=0 turns it off. */
	h->uffd_poison = (have & UFFD_FEATURE_POISON) && !env_off("HMS_UFFD_POISON");
	if (h->uffd_poison)
		api.features |= UFFD_FEATURE_POISON;
	/* Page reuse ("page reuse" below) needs UFFDIO_MOVE, and one NUMA
	 * node: reused pages keep their node, where UFFDIO_COPY allocates by
	 * the range's policy.  HMS_PAGE_POOL_MB: its size (0: off). */
	h->pool_max = h->uffd_move && numa_num_configured_nodes() <= 1
			      ? (size_t)hms__env_uint("HMS_PAGE_POOL_MB", 256, 0, 1u << 20) << 20
			      : 0;
	h->huge_fill = h->pool_max && thp_possible();
	if (ioctl(fd, UFFDIO_API, &api)) {
		int err = errno;

		hms__set_error("hms: UFFDIO_API failed (%s): the kernel's userfaultfd "
			       "lacks the events hms needs (remap, remove, unmap); use "
			       "Linux 4.11 or newer",
			       strerror(err));
		return -err;
	}
	if (!(api.ioctls & (1ULL << _UFFDIO_REGISTER))) {
		hms__set_error("hms: userfaultfd cannot register ranges here");
		return -ENOSYS;
	}
	h->features = api.features;
	h->mode = user_only ? HMS_MODE_USER_ONLY : HMS_MODE_FULL;
	h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->wake_fd < 0) {
		int err = errno;

		hms__set_error("hms: eventfd failed: %s", strerror(err));
		return -err;
	}
	/* HMS_PAGE_POOL_IDLE_MS: how long kept pages stay as they are after
	 * the last was kept (0: MADV_FREE at once; "page reuse" below). */
	h->pool_idle_ms = h->pool_max ? hms__env_uint("HMS_PAGE_POOL_IDLE_MS", 1000, 0, 60000) : 0;
	if (h->pool_idle_ms) {
		h->age_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (h->age_fd < 0)
			h->pool_idle_ms = 0;
	}
	return 0;
}

int hms__uffd_register(struct hms *h, uintptr_t start, size_t len)
{
	struct uffdio_register reg = {
		.range = { start, len },
		.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP,
	};

	if (hms__inject(HMS_INJ_UFFD_REGISTER))
		return -ENOMEM;
	if (ioctl(h->uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	return 0;
}

int hms__uffd_unregister(struct hms *h, uintptr_t start, size_t len)
{
	struct uffdio_range r = { start, len };

	if (ioctl(h->uffd, UFFDIO_UNREGISTER, &r))
		return -errno;
	return 0;
}

/*
 * Is each mapping over [start, start + len) registered with a userfaultfd,
 * and no UNMAP or REMAP of this context unread?  Cheap (a few ioctls),
 * where reading smaps is not: UFFDIO_CONTINUE, which private anonymous
 * memory never takes, fails with EINVAL only after the kernel found one
 * registered mapping over the range it is given; ENOENT where it found
 * none or several, EAGAIN while an address-space change is unread.  A
 * range of several mappings (hms_protect() of part of an area splits
 * it) is asked again in halves, at most REGISTERED_PROBES times in all.
 * false means "cannot tell", never "not registered" (and is all a kernel
 * without UFFDIO_CONTINUE, before the minor-fault features of 5.13, ever
 * gets).
 */
#define REGISTERED_PROBES 64

static bool registered_halves(struct hms *h, uintptr_t s, uintptr_t e, unsigned *probes)
{
	struct uffdio_continue c = { .range = { s, e - s },
				     .mode = UFFDIO_CONTINUE_MODE_DONTWAKE };
	uintptr_t mid = s + ((((e - s) >> PAGE_SHIFT) / 2) << PAGE_SHIFT);

	if (++*probes > REGISTERED_PROBES)
		return false;
	if (!ioctl(h->uffd, UFFDIO_CONTINUE, &c))
		return false; /* cannot happen: taken for "cannot tell" */
	if (errno == EINVAL)
		return true;
	if (errno != ENOENT || e - s == PAGE_SIZE)
		return false;
	return registered_halves(h, s, mid, probes) && registered_halves(h, mid, e, probes);
}

bool hms__uffd_registered_fast(struct hms *h, uintptr_t start, size_t len)
{
	unsigned probes = 0;

	if (!(h->features & UFFD_FEATURE_MINOR_HUGETLBFS))
		return false;
	return registered_halves(h, start, start + len, &probes);
}

/* ---- resolving ioctls ---------------------------------------------------- */

/* The ioctls that resolve faults.  Fault injection (uffd_eagain) answers
 * EAGAIN as the kernel does while an address-space change is unread. */
static int uffd_ioctl(struct hms *h, unsigned long req, void *arg)
{
	if (hms__inject(HMS_INJ_UFFD_EAGAIN)) {
		errno = EAGAIN;
		return -1;
	}
	return ioctl(h->uffd, req, arg);
}

/*
 * UFFDIO_POISON of [start, start + len): a marker in the CPU page table
 * that makes every access to those pages SIGBUS; it outlives the range's
 * registration.  0, or -errno with *done the bytes marked before the page
 * that failed (EEXIST: a page is present there; EAGAIN: an address-space
 * change is unread).
 */
int hms__uffd_poison(struct hms *h, uintptr_t start, size_t len, size_t *done)
{
	struct uffdio_poison p = { .range = { start, len } };

	if (!uffd_ioctl(h, UFFDIO_POISON, &p)) {
		*done = len;
		return 0;
	}
	*done = p.updated > 0 ? (size_t)p.updated : 0;
	return -errno;
}

bool hms__in_handler(struct hms *h)
{
	return h->handler_started && pthread_equal(pthread_self(), h->handler);
}

bool hms__uffd_eagain_wait(struct hms *h, unsigned *tries)
{
	if (hms__in_handler(h) || h->closing)
		return false;
	if (++*tries > 100000)
		return false;
	if (*tries > 10)
		usleep(20);
	else
		sched_yield();
	return true;
}

int hms__uffd_wp(struct hms *h, uintptr_t start, size_t len, bool wp)
{
	return hms__uffd_wp_mode(h, start, len, wp, true);
}

/*
 * UFFDIO_WRITEPROTECT of [start, start + len).  Before Linux 6.5 the range
 * must lie in one mapping, and hms_protect splits them: where the kernel
 * says ENOENT, one page at a time.  EAGAIN (an address-space change not
 * read yet) is tried again for each ioctl on its own: wait, waited out
 * (hms__uffd_eagain_wait); else, inside the fill gate, where the handler
 * reads nothing until we leave, only WP_BRIEF_TRIES times at once and then
 * returned.  Retried over the whole range instead, a run of pages on a
 * kernel that needs one call per page could never finish when every
 * seventh ioctl answered EAGAIN (stress_inject, uffd_eagain:7, on Linux
 * 6.1: hms_advise -EAGAIN).
 */
#define WP_BRIEF_TRIES 4

static int wp_ioctl(struct hms *h, uintptr_t start, size_t len, bool wp, bool wake, bool wait)
{
	struct uffdio_writeprotect w = {
		.range = { start, len },
		.mode = (wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0) |
			(wake ? 0 : UFFDIO_WRITEPROTECT_MODE_DONTWAKE),
	};
	unsigned tries = 0;

	while (uffd_ioctl(h, UFFDIO_WRITEPROTECT, &w)) {
		if (errno == ENOENT && len > PAGE_SIZE) {
			for (uintptr_t p = start; p < start + len; p += PAGE_SIZE) {
				int r = wp_ioctl(h, p, PAGE_SIZE, wp, wake, wait);

				if (r)
					return r;
			}
			return 0;
		}
		if (errno != EAGAIN ||
		    !(wait ? hms__uffd_eagain_wait(h, &tries) : ++tries < WP_BRIEF_TRIES))
			return -errno;
	}
	return 0;
}

int hms__uffd_wp_mode(struct hms *h, uintptr_t start, size_t len, bool wp, bool wake)
{
	return wp_ioctl(h, start, len, wp, wake, true);
}

int hms__uffd_wp_once(struct hms *h, uintptr_t start, size_t len, bool wp)
{
	return wp_ioctl(h, start, len, wp, true, false);
}

int hms__uffd_wp_once_mode(struct hms *h, uintptr_t start, size_t len, bool wp, bool wake)
{
	return wp_ioctl(h, start, len, wp, wake, false);
}

static long uffd_fill(struct hms *h, uintptr_t dst, const void *src, size_t len, bool wake,
		      bool migration, bool wait);

long hms__uffd_fill(struct hms *h, uintptr_t dst, const void *src, size_t len, bool wake)
{
	return uffd_fill(h, dst, src, len, wake, false, true);
}

long hms__uffd_fill_once(struct hms *h, uintptr_t dst, const void *src, size_t len)
{
	return uffd_fill(h, dst, src, len, false, true, false);
}

/*
 * Fill [dst, dst + len) from src through a pooled range: bytes filled, or
 * 0: let UFFDIO_COPY do it (no pooled range; the source unreadable; the
 * kernel will not move here, or not now: COPY then says why).  One page
 * goes first: where the kernel refuses (another protection, mlock, a
 * shared mapping) only that page was copied in vain, not the batch;
 * but a whole aligned 2 MiB of a huge area goes at once.
 * *refused: it stopped short of what the range held (COPY the rest).
 */
static long pool_fill(struct hms *h, uintptr_t dst, const void *src, size_t len,
		      bool *refused);

/* wait: wait out EAGAIN here; else return what was done (or -EAGAIN).
 * A migration's fill (from device data) reuses pooled pages, and takes a
 * page already there for a conflict (below). */
static long uffd_fill(struct hms *h, uintptr_t dst, const void *src, size_t len, bool wake,
		      bool migration, bool wait)
{
	size_t done = 0, chunk = len;
	unsigned tries = 0;
	bool reuse = migration && !wake && src && src != zeros, refused = false;

	while (done < len) {
		long n;

		if (chunk > len - done)
			chunk = len - done;
		if (reuse) {
			n = pool_fill(h, dst + done, (const char *)src + done, len - done,
				      &refused);
			if (n > 0) {
				/* Refused part way (the rest lies in another
				 * mapping, say): a new probe after each page
				 * that moves would copy the rest again each
				 * time. */
				reuse = !refused;
				done += (size_t)n;
				continue;
			}
			/* Not now: COPY would say the same, and make small
			 * pages of a block that can go in whole once the
			 * event is read.  The caller tries again (reuse is
			 * hms__uffd_fill_once's only, which waits for
			 * nothing).  What moved before stays done: the
			 * retry starts after it
			 * (tests/inject_fill_eagain_partial). */
			if (n == -EAGAIN)
				return done ? (long)done : n;
			reuse = false; /* the kernel would not move here: COPY the rest */
		}

		if (!src && len - done <= PAGE_SIZE && !h->closing) {
			/* A single zero page for a read: map the zero page. */
			struct uffdio_zeropage z = { .range = { dst + done, chunk },
						     .mode = wake ? 0 : UFFDIO_ZEROPAGE_MODE_DONTWAKE };

			n = uffd_ioctl(h, UFFDIO_ZEROPAGE, &z) ? -errno : 0;
			if (!n)
				n = z.zeropage;
			else if (z.zeropage > 0)
				n = z.zeropage;
		} else {
			struct uffdio_copy c = {
				.dst = dst + done,
				.src = (uintptr_t)(src ? (const char *)src + done : zeros),
				.len = chunk,
				.mode = wake ? 0 : UFFDIO_COPY_MODE_DONTWAKE,
			};

			if (!src && c.len > sizeof(zeros))
				c.len = sizeof(zeros);
			n = uffd_ioctl(h, UFFDIO_COPY, &c) ? -errno : 0;
			if (!n)
				n = c.copy;
			else if (c.copy > 0)
				n = c.copy;
		}
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == -EAGAIN && wait && hms__uffd_eagain_wait(h, &tries))
			continue;
		if (n == -ENOENT && chunk > PAGE_SIZE) {
			/* The range spans mappings (hms_protect splits them): one
			 * page at a time finds where each ends. */
			chunk = PAGE_SIZE;
			continue;
		}
		if (n == -EEXIST && migration) {
			/*
			 * A migration's fill from device data: the table says the
			 * page is on the device, so the CPU's page should have been
			 * discarded.  It is there (a defect: an MADV_FREE'd page
			 * taken for never populated was one).  The CPU's page is
			 * kept, whether alone or in a run: the application may
			 * have written it without a fault, and failing the fill
			 * would retry it for ever.  Counted, so that the tests
			 * and hms stress see it.
			 */
			HMS_STAT_ADD(h, fill_conflicts, 1);
			done += PAGE_SIZE;
			continue;
		}
		if (n == -EEXIST) {
			/* Already there (raced): skip this page. */
			if (done == 0 && len == PAGE_SIZE)
				return -EEXIST;
			done += PAGE_SIZE;
			continue;
		}
		return done ? (long)done : (n ? n : -EIO);
	}
	return (long)done;
}

static long fill_wp(struct hms *h, uintptr_t addr, bool wake, bool wait)
{
	struct uffdio_copy c = { .dst = addr, .src = (uintptr_t)zeros, .len = PAGE_SIZE,
				 .mode = UFFDIO_COPY_MODE_WP |
					 (wake ? 0 : UFFDIO_COPY_MODE_DONTWAKE) };
	unsigned tries = 0;

	while (uffd_ioctl(h, UFFDIO_COPY, &c)) {
		if (errno != EAGAIN || !wait || !hms__uffd_eagain_wait(h, &tries))
			return -errno;
	}
	return PAGE_SIZE;
}

long hms__uffd_fill_wp(struct hms *h, uintptr_t addr, bool wake)
{
	return fill_wp(h, addr, wake, true);
}

/* A fill of a page meant to be written: zeros are copied, not mapped. */
static long fill_zero(struct hms *h, uintptr_t addr, size_t len, bool write, bool wake)
{
	if (write && len == PAGE_SIZE)
		return hms__uffd_fill(h, addr, zeros, len, wake);
	return hms__uffd_fill(h, addr, NULL, len, wake);
}

void hms__uffd_wake(struct hms *h, uintptr_t start, size_t len)
{
	struct uffdio_range r = { start, len };

	ioctl(h->uffd, UFFDIO_WAKE, &r);
}

/* ---- self-zap -------------------------------------------------------------
 *
 * A migration to a device discards the system copy with MADV_DONTNEED,
 * which raises a REMOVE event like the application's own madvise.  The
 * zap is recorded first, so the handler knows the event is ours; the
 * record is dropped once the handler has processed every message read
 * before madvise returned.
 *
 * The kernel's event does not say who called madvise, and the
 * application may discard a page of the range while the zap is recorded.
 * What tells the two apart: one madvise raises exactly one REMOVE for
 * each page of its range (one event per mapping it crosses).  So each
 * page of a record is ours once (claimed[]); a second REMOVE of it, in
 * whichever order the two come, is the application's, and its discard
 * wins over the migration (PTE_DISCARD), as for a page it discards
 * outside the record.  Before, every REMOVE inside a record was dropped:
 * the page kept the bytes the migration had copied before the
 * application's discard (tests/zap_app_discard_race).
 */
#define ZAP_MAX_PAGES 512

struct hms_zap {
	uintptr_t start, end;
	struct hms_zap *next;
	bool seen; /* an own unmap whose event was passed over */
	/* A self-zap's pages whose REMOVE has come (bit i: start + i pages;
	 * at most ZAP_MAX_PAGES), h->lock. */
	uint64_t claimed[ZAP_MAX_PAGES / 64];
};

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;

/*
 * In the child of a fork(): the parent's handler threads are not there,
 * and one of them may have held ev_lock when fork() copied the address
 * space: the child's first hms_open() then waited for it for ever
 * (tests/fork_child_open_race; anon_write_child hung under load).  What
 * the lock guards is the parent's contexts' state, which the child never
 * uses (hms__check: -ECHILD), so it starts afresh.  Called by the atfork
 * child handler (context.c), with the child's one thread.
 */
void hms__uffd_fork_child(void)
{
	pthread_mutex_init(&ev_lock, NULL);
	pthread_cond_init(&ev_cond, NULL);
}

/*
 * Batches of messages the handler started to read, and finished
 * processing; guarded by ev_lock.  An event a madvise() raised was read by
 * a read() that started before madvise() returned, so once processed
 * reaches what started was then, the event has been handled.
 */
struct ev_counts {
	uint64_t started, processed;
};

static struct ev_counts *ev_of(struct hms *h);

/* The context's /proc/self/pagemap descriptor, opened at first use (and
 * tried again next time where it cannot be); -1 then. */
static int pagemap_fd(struct hms *h)
{
	int fd;

	pthread_mutex_lock(&h->lock);
	if (h->pagemap_fd < 0)
		h->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	fd = h->pagemap_fd;
	pthread_mutex_unlock(&h->lock);
	return fd;
}

static int zap_one(struct hms *h, uintptr_t start, size_t len);
static void zap_left(struct hms *h, uintptr_t start, size_t len, uintptr_t *first,
		     uintptr_t *end);

#define ZAP_TRIES 8

/*
 * A mapping split inside the range while the madvise waited for its
 * REMOVE to be read (an mprotect, mbind or madvise of another thread)
 * ends the madvise early on kernels before 6.16: they go on from where
 * the mapping ended before the split, and the pages after the split
 * keep their system copy, which the CPU then read instead of the
 * device's data (tests/zap_split_repeat_race, in the 6.1 and 6.12 VMs).
 * So what is still there (pagemap) is zapped again, a few times.
 */
int hms__zap(struct hms *h, uintptr_t start, size_t len)
{
	const size_t most = (size_t)ZAP_MAX_PAGES << PAGE_SHIFT;
	int ret = 0;

	for (size_t off = 0; off < len && !ret; off += most) {
		uintptr_t s = start + off, e = s + (len - off < most ? len - off : most);

		for (unsigned tries = 0; !ret && s < e; tries++) {
			ret = zap_one(h, s, e - s);
			if (!ret)
				zap_left(h, s, e - s, &s, &e);
			if (!ret && s < e && tries + 1 >= ZAP_TRIES)
				ret = -EAGAIN;
		}
	}
	return ret;
}

int hms__pages_absent(struct hms *h, uintptr_t start, unsigned n, uint64_t *absent)
{
	uint64_t pm[64];
	int fd = pagemap_fd(h);

	*absent = 0;
	if (n > 64 || fd < 0 ||
	    pread(fd, pm, n * sizeof(*pm), (off_t)((start >> PAGE_SHIFT) * sizeof(*pm))) !=
		    (ssize_t)(n * sizeof(*pm)))
		return -1;
	for (unsigned j = 0; j < n; j++)
		if (!(pm[j] & ((1ULL << 63) | (1ULL << 62)))) /* present, swapped */
			*absent |= 1ULL << j;
	return 0;
}

/* The pages of [start, start + len) the zap left, from *first to *end
 * (both start + len when none).  Where the pagemap cannot be read,
 * none: as before it was asked. */
static void zap_left(struct hms *h, uintptr_t start, size_t len, uintptr_t *first,
		     uintptr_t *end)
{
	size_t n = len >> PAGE_SHIFT;

	*first = *end = start + len;
	for (size_t i = 0; i < n; i += 64) {
		unsigned k = n - i < 64 ? (unsigned)(n - i) : 64;
		uint64_t absent;

		if (hms__pages_absent(h, start + (i << PAGE_SHIFT), k, &absent))
			return;
		for (unsigned j = 0; j < k; j++) {
			uintptr_t p = start + ((i + j) << PAGE_SHIFT);

			if (absent & (1ULL << j))
				continue;
			if (*first == start + len)
				*first = p;
			*end = p + PAGE_SIZE;
		}
	}
}

static int zap_one(struct hms *h, uintptr_t start, size_t len)
{
	struct hms_zap z = { .start = start, .end = start + len }, **pp;
	uint64_t target;
	int ret = 0;

	pthread_mutex_lock(&h->lock);
	z.next = h->zaps;
	h->zaps = &z;
	pthread_mutex_unlock(&h->lock);

	/* (zap_short: the first half only, as a kernel before 6.16 does
	 * when the mapping is split during the madvise, hms__zap) */
	if (len > PAGE_SIZE && hms__inject(HMS_INJ_ZAP_SHORT))
		len = (len >> (PAGE_SHIFT + 1)) << PAGE_SHIFT;
	if (madvise((void *)start, len, MADV_DONTNEED))
		ret = -errno;

	/* Wait until the handler processed the REMOVE events we raised. */
	pthread_mutex_lock(&ev_lock);
	target = ev_of(h)->started;
	while (ev_of(h)->processed < target && h->handler_started && !hms__in_handler(h))
		pthread_cond_wait(&ev_cond, &ev_lock);
	pthread_mutex_unlock(&ev_lock);

	pthread_mutex_lock(&h->lock);
	for (pp = &h->zaps; *pp != &z; pp = &(*pp)->next)
		;
	*pp = z.next;
	pthread_mutex_unlock(&h->lock);
	return ret;
}

/*
 * Own unmaps.  hms_free() forgets its range (the UNMAP invalidation goes
 * out while the memory is still mapped), then unmaps it.  Once munmap()
 * has unmapped, another thread's mmap() may get the same addresses and
 * hms_alloc() make an area there before the handler reads the UNMAP
 * event; applied then, the event removed the new area (which stayed
 * mapped, unmanaged, never freed).  So the range is recorded first, and
 * the one event that munmap() raises (the kernel sends one per call, with
 * its exact range) is passed over.  An area made there is another's:
 *
 *   hms_free (A)                    hms_alloc (B)          handler
 *   forget [x, y); record it
 *   munmap: unmapped ...            mmap -> x; area [x, y)
 *   ... waits for its event                                reads UNMAP x..y:
 *                                                          A's: passed over
 *
 * (Should B munmap [x, y) in turn before A's event is read, one of the
 * two events is passed over and the other removes B's area: right
 * either way.)
 */
int hms__unmap_own(struct hms *h, uintptr_t start, size_t len)
{
	struct hms_zap z = { start, start + len, NULL, false }, **pp;
	int ret = 0;

	pthread_mutex_lock(&h->lock);
	z.next = h->unmaps;
	h->unmaps = &z;
	pthread_mutex_unlock(&h->lock);

	if (munmap((void *)start, len))
		ret = -errno;
	hms__uffd_sync(h); /* its event was read before munmap() returned */

	pthread_mutex_lock(&h->lock);
	for (pp = &h->unmaps; *pp != &z; pp = &(*pp)->next)
		;
	*pp = z.next;
	pthread_mutex_unlock(&h->lock);
	return ret;
}

/* Is [s, e) the event of an own unmap not seen yet?  Marks it seen. */
static bool own_unmap_take_locked(struct hms *h, uintptr_t s, uintptr_t e)
{
	for (struct hms_zap *z = h->unmaps; z; z = z->next)
		if (!z->seen && z->start == s && z->end == e) {
			z->seen = true;
			return true;
		}
	return false;
}

/* ---- gated discards -------------------------------------------------------------- */

/*
 * A spare range of HMS_MIGRATE_MAX_BYTES registered with h->uffd_spare
 * (see spare_uffd_new), between two inaccessible pages so that it never
 * merges with a neighbour, and not inherited by fork children.  Kept on
 * h->discards when empty, on h->pool when it holds pages to reuse.
 *
 * Pages reach it through a transit range of the same size registered with
 * h->uffd: only a move through h->uffd is refused (EAGAIN) while an event
 * of hms' ranges is unread.  A move through h->uffd_spare straight from
 * the migrating range is not: an mremap() or mmap(MAP_FIXED) that replaced
 * the range after the gate was entered (its caller waits for the handler,
 * which reads nothing while the gate is held) had its new pages taken, and
 * lost.  The transit range is registered for write protection only and
 * never protected (moved pages carry no protection), so an access there
 * never reaches the handler; but emptying it (MADV_DONTNEED, MADV_FREE)
 * would raise a REMOVE event.  So pages kept hot for reuse stay in the
 * transit range (fills move them on into place through h->uffd), and go on
 * to the spare range (a move through h->uffd_spare, between two ranges of
 * hms' own) only to be emptied or given MADV_FREE.
 */
struct hms_discard {
	char *base; /* the spare range; inaccessible memory either side */
	char *transit; /* 2 MiB after base's end, a guard page after it */
	bool transit_reg; /* registered with h->uffd (unregister before munmap) */
	/* Where the discarded pages are: transit until they move on to base
	 * (always before they are emptied or given MADV_FREE). */
	char *pages;
	/* In the pool (h->pool): pages [lo, hi) hold discarded data, free to
	 * be reused; lazy once they got MADV_FREE (then pages is base). */
	size_t lo, hi;
	bool lazy;
	bool swap; /* swap space was on as pages moved in (pool_unprotect) */
	/*
	 * Small pages were moved into the transit or the spare range (or a
	 * huge page there moved out in pieces): the kernel made a page table
	 * there, which stays until the range is unmapped, and a huge page
	 * moved in later is split into 512 first (some 600 us per 2 MiB
	 * here).  Whole huge pages go only through ranges without
	 * (discard_get).
	 */
	bool tabled;
	struct hms_discard *next;
};

/*
 * Both ranges are 2 MiB aligned, and a discard puts each page at its
 * offset in its 2 MiB of the source: a huge page then moves in and out
 * whole, one entry, where any other place has the kernel split it into
 * 512 small pages first (some 600 us per 2 MiB here, against 2 us for
 * the move; design 5a).  Between them 2 MiB stay inaccessible, so
 * [base - PAGE_SIZE, base + DISCARD_MAP_BYTES) is what a range maps.
 */
#define DISCARD_MAP_BYTES (3 * HMS_MIGRATE_MAX_BYTES + 2 * PAGE_SIZE)

/* Does d hold pages over its whole 2 MiB? */
static bool range_whole(const struct hms_discard *d)
{
	return !d->lo && d->hi == HMS_MIGRATE_MAX_BYTES >> PAGE_SHIFT;
}

/* Unmapping raises no event: h->uffd_spare asks for none, and the
 * transit range leaves h->uffd first (an UNREGISTER raises none). */
static void discard_destroy(struct hms *h, struct hms_discard *d)
{
	struct uffdio_range r = { (uintptr_t)d->transit, HMS_MIGRATE_MAX_BYTES };

	if (d->transit_reg)
		ioctl(h->uffd, UFFDIO_UNREGISTER, &r);
	munmap(d->base - PAGE_SIZE, DISCARD_MAP_BYTES);
	free(d);
}

static struct hms_discard *discard_new(struct hms *h);

/*
 * An empty range from h->discards, or a new one.  For a whole huge page
 * (whole), one without a page table (!tabled): where the spares have only
 * tabled ones, a new one is made and one of those unmapped (tens of us,
 * against the split; the tabled one serves if none can be made); others
 * take tabled ones first, keeping the rest for huge pages.
 */
static struct hms_discard *discard_get(struct hms *h, bool whole)
{
	struct hms_discard *d, *fresh, **pp = &h->discards;

	pthread_mutex_lock(&h->lock);
	for (struct hms_discard **q = pp; *q; q = &(*q)->next)
		if ((*q)->tabled != whole) {
			pp = q;
			break;
		}
	d = *pp;
	if (d)
		*pp = d->next;
	pthread_mutex_unlock(&h->lock);
	if (d && !(whole && d->tabled))
		return d;
	fresh = discard_new(h);
	if (!fresh)
		return d;
	if (d)
		discard_destroy(h, d);
	return fresh;
}

static struct hms_discard *discard_new(struct hms *h)
{
	const size_t size = HMS_MIGRATE_MAX_BYTES;
	struct uffdio_register reg = { .range = { 0, size },
				       .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_register treg = { .range = { 0, size },
					.mode = UFFDIO_REGISTER_MODE_WP };
	struct hms_discard *d;
	char *map, *end;

	d = hms__inject(HMS_INJ_NOMEM) ? NULL : malloc(sizeof(*d));
	if (!d)
		return NULL;
	/* Reserved with room to align, the excess given back. */
	map = mmap(NULL, DISCARD_MAP_BYTES + size, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED) {
		free(d);
		return NULL;
	}
	end = map + DISCARD_MAP_BYTES + size;
	d->base = (char *)(((uintptr_t)map + PAGE_SIZE + size - 1) & ~(uintptr_t)(size - 1));
	d->transit = d->base + 2 * size;
	if (d->base - PAGE_SIZE > map)
		munmap(map, (size_t)(d->base - PAGE_SIZE - map));
	if (d->base - PAGE_SIZE + DISCARD_MAP_BYTES < end)
		munmap(d->base - PAGE_SIZE + DISCARD_MAP_BYTES,
		       (size_t)(end - (d->base - PAGE_SIZE + DISCARD_MAP_BYTES)));
	d->transit_reg = false;
	d->tabled = false;
	reg.range.start = (uintptr_t)d->base;
	treg.range.start = (uintptr_t)d->transit;
	if (mprotect(d->base, size, PROT_READ | PROT_WRITE) ||
	    mprotect(d->transit, size, PROT_READ | PROT_WRITE) ||
	    madvise(d->base, size, MADV_DONTFORK) || madvise(d->base, size, MADV_NOHUGEPAGE) ||
	    madvise(d->transit, size, MADV_DONTFORK) ||
	    madvise(d->transit, size, h->huge_fill ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) ||
	    hms__inject(HMS_INJ_UFFD_REGISTER) ||
	    ioctl(h->uffd_spare, UFFDIO_REGISTER, &reg)) {
		discard_destroy(h, d);
		return NULL;
	}
	/* Never protected: no access there reaches the handler; emptied by
	 * moves alone (no event). */
	d->transit_reg = !ioctl(h->uffd, UFFDIO_REGISTER, &treg);
	if (!d->transit_reg) {
		discard_destroy(h, d);
		return NULL;
	}
	return d;
}

/* Whether the machine has swap space (or a test says so): without any, no
 * page can be a swap entry, whose protection a move would carry along
 * (pool_unprotect).  0.16 us here, against some 20 us for that ioctl.
 * Where sysinfo() fails (only for a bad pointer, or under a seccomp
 * filter) the answer is yes: a lift made in vain costs the ioctl, one
 * skipped over a protected page hangs the way back
 * (tests/migrate_page_reuse_no_sysinfo). */
static bool swap_on(const struct hms *h)
{
	struct sysinfo si;

	return h->test_swap || sysinfo(&si) || si.totalswap;
}

#define HUGE_LEFT_SLOTS 1024u /* 2 GiB of blocks before two share a slot */

/* The note's slot for block: NULL where the table cannot be had (no note
 * is made, so no fresh huge page either: tests/inject_huge_note_nomem). */
static uintptr_t *huge_left_slot_locked(struct hms *h, uintptr_t block)
{
	if (!h->huge_left)
		h->huge_left = hms__inject(HMS_INJ_NOMEM)
				       ? NULL
				       : calloc(HUGE_LEFT_SLOTS, sizeof(*h->huge_left));
	return h->huge_left ? &h->huge_left[(block >> 21) % HUGE_LEFT_SLOTS] : NULL;
}

/* Is [at, at + 2 MiB) one huge page (PAGEMAP_SCAN, Linux 6.7)?  No where
 * /proc/self/pagemap cannot be opened (tried again next time) or the
 * ioctl fails: the block gets no fresh huge page on the way back
 * (tests/migrate_discard_huge_no_pagemap). */
static bool pmd_mapped(struct hms *h, uintptr_t at)
{
	struct page_region r;
	int fd = pagemap_fd(h);

	return fd >= 0 && hms__pagemap_huge(fd, at, at + HMS_HUGE_PAGE_SIZE, &r, 1, NULL) == 1 &&
	       r.start == at && r.end == at + HMS_HUGE_PAGE_SIZE;
}

/*
 * Is [start, start + len) one whole huge page of a huge area (so that its
 * discard wants a range without a page table)?  *huge: start lies in a
 * huge area.
 */
static bool discard_whole(struct hms *h, uintptr_t start, size_t len, bool *huge)
{
	struct hms_area *a;

	pthread_mutex_lock(&h->lock);
	a = hms__area_find_locked(h, start);
	*huge = a && a->huge;
	pthread_mutex_unlock(&h->lock);
	return *huge && len == HMS_HUGE_PAGE_SIZE && !(start & (HMS_HUGE_PAGE_SIZE - 1)) &&
	       pmd_mapped(h, start);
}

/*
 * After a discard in a huge area moved [start, start + len) aside (whole:
 * as one huge page): where that was a whole 2 MiB block that went as one
 * huge page, the block is noted (h->huge_left) for the way back's fresh
 * huge page (pool_fill); any other discard there drops its blocks' notes
 * (they left in small pages now, and keep a page table).
 */
static void huge_left_note(struct hms *h, uintptr_t start, size_t len, bool whole)
{
	uintptr_t block = start & ~(HMS_HUGE_PAGE_SIZE - 1), *slot;

	if (!len || (!whole && !h->huge_fill))
		return;
	pthread_mutex_lock(&h->lock);
	if (whole) /* counted without page reuse too (tests) */
		h->huge_left_bytes += HMS_HUGE_PAGE_SIZE;
	for (; h->huge_fill && block < start + len; block += HMS_HUGE_PAGE_SIZE) {
		slot = huge_left_slot_locked(h, block);
		if (slot && whole)
			*slot = block;
		else if (slot && *slot == block)
			*slot = 0;
	}
	pthread_mutex_unlock(&h->lock);
}

/* Did block's data leave as one huge page (and is it noted still)?  The
 * note goes either way. */
static bool huge_left_take_locked(struct hms *h, uintptr_t block)
{
	uintptr_t *slot = h->huge_left ? huge_left_slot_locked(h, block) : NULL;
	bool was = slot && *slot == block;

	if (was)
		*slot = 0;
	return was;
}

/* The note huge_left_take_locked took, back (the block did not go in). */
static void huge_left_keep(struct hms *h, uintptr_t block)
{
	uintptr_t *slot;

	pthread_mutex_lock(&h->lock);
	slot = huge_left_slot_locked(h, block);
	if (slot)
		*slot = block;
	pthread_mutex_unlock(&h->lock);
}

long hms__uffd_discard_move(struct hms *h, uintptr_t start, size_t len,
			    struct hms_discard **slot)
{
	struct uffdio_move mv = { 0 };
	struct hms_discard *d;
	size_t off = start & (HMS_MIGRATE_MAX_BYTES - 1), moved;
	bool huge, whole;

	*slot = NULL;
	if (!h->uffd_move)
		return -EOPNOTSUPP;
	if (len > HMS_MIGRATE_MAX_BYTES)
		len = HMS_MIGRATE_MAX_BYTES;
	if (off + len > HMS_MIGRATE_MAX_BYTES)
		off = 0; /* across a 2 MiB boundary: no huge page whole */
	whole = discard_whole(h, start, len, &huge);
	d = discard_get(h, whole);
	if (!d)
		return -ENOMEM;
	d->lo = off >> PAGE_SHIFT; /* the pages' place: [lo, lo + moved) */
	mv.dst = (uintptr_t)d->transit + off;
	mv.src = start;
	mv.len = len;
	mv.mode = UFFDIO_MOVE_MODE_DONTWAKE | UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES;
	*slot = d;
	d->pages = d->transit;
	d->swap = swap_on(h);
	/* Through h->uffd: refused while an event of the range is unread
	 * (see struct hms_discard). */
	moved = !uffd_ioctl(h, UFFDIO_MOVE, &mv) ? len : mv.move > 0 ? (size_t)mv.move : 0;
	if (!moved)
		return -errno;
	/* Went it as one huge page (no table made in transit)? */
	whole = whole && moved == len && pmd_mapped(h, mv.dst);
	if (!whole)
		d->tabled = true;
	if (huge)
		huge_left_note(h, start, moved, whole);
	return (long)moved;
}

/* Moves d's pages [lo, hi) on from the transit range to the spare range
 * (through h->uffd_spare: both are hms' own), to be emptied or given
 * MADV_FREE there without an event.  false if the kernel refused: the
 * caller then destroys d (unregistered first, its unmapping raises no
 * event).  Not a uffd_eagain point: h->uffd_spare asks for no event, so
 * the kernel never refuses its moves for an unread one (spare_move is
 * this move's point), and under that injection a lift the kernel refused
 * (pool_unprotect) reaches its fallback here as it would for real. */
static bool discard_settle(struct hms *h, struct hms_discard *d)
{
	size_t off = d->lo << PAGE_SHIFT, len = (d->hi - d->lo) << PAGE_SHIFT;
	struct uffdio_move mv = { .dst = (uintptr_t)d->base + off,
				  .src = (uintptr_t)d->transit + off,
				  .len = len,
				  .mode = UFFDIO_MOVE_MODE_DONTWAKE |
					  UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES };

	if (d->pages != d->base && len &&
	    (hms__inject(HMS_INJ_SPARE_MOVE) ||
	     (ioctl(h->uffd_spare, UFFDIO_MOVE, &mv) && (size_t)mv.move != len)))
		return false;
	if (d->pages != d->base && len && !range_whole(d))
		d->tabled = true; /* small pages into the spare range */
	d->pages = d->base;
	return true;
}

/* Empties d (its pages [0, hi) may be anywhere) and hands it to the
 * spares: no REMOVE event, no wait for the handler (spare_uffd_new). */
static void discard_empty(struct hms *h, struct hms_discard *d)
{
	/* Emptied even when every page moved out (cheap then), so that no
	 * stale page is ever moved over. */
	if (!discard_settle(h, d) || madvise(d->base, d->hi << PAGE_SHIFT, MADV_DONTNEED)) {
		discard_destroy(h, d); /* keep no range that may still hold pages */
		return;
	}
	pthread_mutex_lock(&h->lock);
	d->next = h->discards;
	h->discards = d;
	pthread_mutex_unlock(&h->lock);
}

static bool pool_put(struct hms *h, struct hms_discard *d, size_t len);

void hms__uffd_discard_done(struct hms *h, struct hms_discard *d, size_t len)
{
	if (!d)
		return;
	if (len)
		hms__test_hook_run(h, HMS_HOOK_DISCARD_MOVED,
				   (uintptr_t)d->pages + (d->lo << PAGE_SHIFT), len);
	d->hi = d->lo + (len >> PAGE_SHIFT);
	if (len && pool_put(h, d, len))
		return;
	discard_empty(h, d);
}

/* ---- page reuse -------------------------------------------------------------------
 *
 * The way back from a device ends in UFFDIO_COPY, which allocates every
 * page: 0.36x memcpy here, where copying into pages that exist and moving
 * them in with UFFDIO_MOVE runs at 2x that (`hms bench fill`).  The pages
 * a discard moved into a spare range are such pages: instead of freeing
 * them, up to pool_max / 2 MiB such ranges are kept, and fills from device
 * memory copy into them (hms_user_read: streaming stores, fenced) and move
 * them in.  A kept range stays as it is while migrations go on (hot: its
 * pages are written already, and a write to them costs nothing more);
 * pool_idle_ms after the last range was kept, the handler thread gives
 * them MADV_FREE (lazy: the kernel takes the pages back only under memory
 * pressure; the next write keeps a page, marking it dirty again, which
 * costs more than the write: slow in a VM without hardware dirty bits).
 * So memory is held beyond what a migration needs only for that while.
 * A reclaimed page is a fresh zero page on the copy's write (the spare
 * ranges' registration never makes an access wait).  A range whose pages
 * are used up goes back to the spares.  Moves the kernel refuses (another
 * protection, mlock, a shared mapping) fall back to UFFDIO_COPY.
 */

/* Reuse for fills of at least this much (a fault's single page: COPY). */
#define POOL_MIN_BYTES (16 * PAGE_SIZE)

/* The timer that wakes the handler to age kept ranges, in ms (0: off). */
static void pool_timer(struct hms *h, unsigned ms)
{
	struct itimerspec it = { .it_value = { ms / 1000, (long)(ms % 1000) * 1000000 } };

	timerfd_settime(h->age_fd, 0, &it, NULL);
}

/* Gives a kept range MADV_FREE (in the spare range): false if it would
 * not take it. */
static bool pool_lazy(struct hms *h, struct hms_discard *d)
{
	return !hms__inject(HMS_INJ_NOMEM) && discard_settle(h, d) &&
	       !madvise(d->base + (d->lo << PAGE_SHIFT), (d->hi - d->lo) << PAGE_SHIFT, MADV_FREE);
}

/*
 * Lifts any userfaultfd write protection from a range kept hot, whose
 * pages stay in the transit range (registered with h->uffd) until a fill
 * writes them.  A page swapped out while protected (setup protected it, or
 * a dirty scan long before) carries its uffd-wp bit through the discard's
 * move (the kernel moves a swap entry as it is) and keeps it when swapped
 * in again: a write there is a write-protect fault for the handler.  Fills
 * write kept pages inside the fill gate, where the handler reads nothing
 * until the filler leaves: that fault waited for the handler, the handler
 * for the filler, for ever (tests/pool_transit_wp_race).  Lifted once,
 * here, where no fill runs yet: nothing protects a transit page again.
 * Briefly (an unread event makes the kernel refuse): failing that, the
 * pages move on to the spare range, where no access waits.  With
 * asynchronous write protection such a fault resolves itself.  Only where
 * a page could have been a swap entry as it moved: swap on at the move or
 * now (a swapoff since brought the pages back in, bits and all); the
 * ioctl cost system -> softdev 6% (hms bench migrate, 3 runs each).
 */
static bool pool_unprotect(struct hms *h, struct hms_discard *d)
{
	size_t off = d->lo << PAGE_SHIFT, len = (d->hi - d->lo) << PAGE_SHIFT;

	return h->wp_async || d->pages == d->base || !(d->swap || swap_on(h)) ||
	       !wp_ioctl(h, (uintptr_t)d->pages + off, len, false, false, false) ||
	       discard_settle(h, d);
}

static bool pool_put(struct hms *h, struct hms_discard *d, size_t len)
{
	bool room, arm = false;

	/* Each kept range takes 2 MiB of address space and three mappings
	 * whatever it holds: small discards are not worth one, and the count
	 * is what the limit bounds. */
	if (len < POOL_MIN_BYTES)
		return false;
	pthread_mutex_lock(&h->lock);
	room = (h->pool_ranges + 1) * HMS_MIGRATE_MAX_BYTES <= h->pool_max;
	if (room)
		h->pool_ranges++;
	pthread_mutex_unlock(&h->lock);
	if (!room)
		return false;
	d->lazy = !h->pool_idle_ms;
	if (d->lazy ? !pool_lazy(h, d) : !pool_unprotect(h, d)) {
		pthread_mutex_lock(&h->lock);
		h->pool_ranges--;
		pthread_mutex_unlock(&h->lock);
		return false; /* emptied as a spare instead (settled first) */
	}
	pthread_mutex_lock(&h->lock);
	if (!d->lazy) {
		arm = h->pool_hot++ == 0;
		h->pool_stamp = hms__now_ms();
	}
	d->next = h->pool;
	h->pool = d;
	pthread_mutex_unlock(&h->lock);
	if (arm)
		pool_timer(h, h->pool_idle_ms);
	return true;
}

/* Back to the pool, or, used up, emptied and back to the spares. */
static void pool_return(struct hms *h, struct hms_discard *d)
{
	pthread_mutex_lock(&h->lock);
	if (d->lo < d->hi) {
		d->next = h->pool;
		h->pool = d;
		pthread_mutex_unlock(&h->lock);
		return;
	}
	h->pool_ranges--;
	if (!d->lazy)
		h->pool_hot--;
	pthread_mutex_unlock(&h->lock);
	discard_empty(h, d);
}

/*
 * On the handler thread, when the timer fires: once pool_idle_ms passed
 * since a range was last kept, the hot ranges in the pool get MADV_FREE
 * (one that refuses is emptied); else, or while some are being used, the
 * timer is set again.
 */
static void pool_age(struct hms *h)
{
	struct hms_discard *hot = NULL, **pp;
	uint64_t now = hms__now_ms(), due;
	unsigned again = 0;

	pthread_mutex_lock(&h->lock);
	due = h->pool_stamp + h->pool_idle_ms;
	if (h->pool_hot && now < due) {
		again = (unsigned)(due - now);
	} else {
		for (pp = &h->pool; *pp;) {
			struct hms_discard *d = *pp;

			if (d->lazy) {
				pp = &d->next;
				continue;
			}
			*pp = d->next;
			d->next = hot;
			hot = d;
		}
	}
	pthread_mutex_unlock(&h->lock);
	while (hot) {
		struct hms_discard *d = hot;
		bool lazy = pool_lazy(h, d);

		hot = d->next;
		pthread_mutex_lock(&h->lock);
		h->pool_hot--;
		if (lazy) {
			d->lazy = true;
			d->next = h->pool;
			h->pool = d;
		} else {
			h->pool_ranges--;
		}
		pthread_mutex_unlock(&h->lock);
		if (!lazy)
			discard_empty(h, d);
	}
	pthread_mutex_lock(&h->lock);
	if (!again && h->pool_hot)
		again = h->pool_idle_ms; /* ranges in use now: next time */
	pthread_mutex_unlock(&h->lock);
	if (again)
		pool_timer(h, again);
}

/* Does d hold one whole huge page (as a discard of one left it)? */
static bool range_huge(const struct hms_discard *d)
{
	return range_whole(d) && !d->tabled;
}

/* A kept range from the pool (h->lock held): for a fill of a whole huge
 * page, one that holds a whole 2 MiB if there is one; for any other fill,
 * one that holds no huge page if there is one: taken first, a huge page
 * was split by the small pages' move out, and a huge area's way back
 * after it found none whole (came back small, where HMS_HUGE_FILL=0, or
 * populated a fresh one: tests/migrate_discard_huge_kept_for_huge). */
static struct hms_discard *pool_take_locked(struct hms *h, bool huge)
{
	struct hms_discard **pp = &h->pool, *d;

	for (struct hms_discard **q = pp; *q; q = &(*q)->next)
		if (huge ? range_whole(*q) : !range_huge(*q)) {
			pp = q;
			break;
		}
	d = *pp;
	if (d)
		*pp = d->next;
	return d;
}

/*
 * For a whole 2 MiB of a huge area when no kept range holds one: an empty
 * range whose transit range (2 MiB aligned, transparent huge pages
 * allowed) is populated, a huge page where the kernel has one; copied
 * into and moved in whole like a kept one, so that the area stays made
 * of huge pages, where UFFDIO_COPY makes 512 small ones (and the next
 * discard of them moves 512 entries).  Not counted in the pool.
 */
static struct hms_discard *fresh_huge(struct hms *h)
{
	struct hms_discard *d = discard_get(h, true);

	if (!d)
		return NULL;
	d->pages = d->transit;
	d->lo = 0;
	d->hi = HMS_MIGRATE_MAX_BYTES >> PAGE_SHIFT;
	/* Failing (no memory), the fill copies as it would without one
	 * (tests/inject_fresh_huge_nomem). */
	if (hms__inject(HMS_INJ_NOMEM) ||
	    madvise(d->transit, HMS_MIGRATE_MAX_BYTES, MADV_POPULATE_WRITE)) {
		d->tabled = true; /* what it did populate may be small pages */
		discard_empty(h, d);
		return NULL;
	}
	if (!pmd_mapped(h, (uintptr_t)d->transit))
		d->tabled = true; /* no huge page granted: 512 small ones */
	return d;
}

/* A whole 2 MiB of a huge area, aligned: maybe one huge page.  Not where
 * the kernel refuses every move in (a protection other than the transit
 * range's: hms_protect): one page goes first there, as for small pages,
 * not 2 MiB copied in vain (or a fresh huge page made). */
bool hms__uffd_fill_whole_locked(struct hms *h, uintptr_t dst)
{
	struct hms_area *a = hms__area_find_locked(h, dst);

	return h->pool_max && a && a->huge && !(dst & (HMS_MIGRATE_MAX_BYTES - 1)) &&
	       a->end - dst >= HMS_MIGRATE_MAX_BYTES &&
	       area_pte_ro(a, dst)->prot == (PROT_READ | PROT_WRITE) &&
	       area_pte_ro(a, dst + HMS_MIGRATE_MAX_BYTES - PAGE_SIZE)->prot ==
		       (PROT_READ | PROT_WRITE);
}

/*
 * Fill [dst, dst + len) from src through a pooled range: bytes filled, or
 * 0: let UFFDIO_COPY do it (no pooled range; the source unreadable; the
 * kernel will not move here: COPY then says why), or -EAGAIN: the first
 * move was refused for now (an address-space change is unread), nothing
 * filled, and the block's huge-page note is kept for the next try, which
 * would otherwise fill a block that left as one huge page in small ones
 * (tests/inject_huge_fill_eagain).  One page goes first: where the kernel
 * refuses (another protection, mlock, a shared mapping) only that page
 * was copied in vain, not the batch; but a whole aligned 2 MiB of a huge
 * area goes at once.  *refused: it stopped short of what the range held
 * (COPY the rest).
 */
static long pool_fill(struct hms *h, uintptr_t dst, const void *src, size_t len,
		      bool *refused)
{
	struct hms_discard *d;
	size_t n, moved, copied;
	bool whole, huge, left, fresh = false, again = false;
	char *from;

	if (!h->pool_max || len < POOL_MIN_BYTES)
		return 0;
	pthread_mutex_lock(&h->lock);
	huge = len >= HMS_MIGRATE_MAX_BYTES && hms__uffd_fill_whole_locked(h, dst);
	d = pool_take_locked(h, huge);
	/* A fresh huge page only where the data left as one: elsewhere the
	 * block kept a page table, and the kernel would split the page to
	 * move it in (slower than UFFDIO_COPY). */
	left = huge && h->huge_fill && huge_left_take_locked(h, dst);
	pthread_mutex_unlock(&h->lock);
	if (left && (!d || !range_whole(d))) {
		if (d)
			pool_return(h, d);
		d = fresh_huge(h);
		fresh = d != NULL;
	}
	if (!d)
		return 0;
	/* No kept page is write protected (pool_unprotect), so a write here
	 * waits for no one, on the fault handler too: it needs no move on to
	 * the spare range first (tests/pool_transit_wp_race,
	 * inject_spare_move). */
	n = (d->hi - d->lo) << PAGE_SHIFT;
	if (n > len)
		n = len;
	from = d->pages + (d->lo << PAGE_SHIFT);
	/* A huge page moves whole only in one move (the first page alone
	 * splits it). */
	whole = huge && n == HMS_MIGRATE_MAX_BYTES && !((uintptr_t)from & (n - 1));
	moved = copied = 0;
	while (moved < n) {
		size_t step = moved || whole ? n - moved : PAGE_SIZE;
		struct uffdio_move mv = { .dst = dst + moved,
					  .src = (uintptr_t)from + moved,
					  .len = step,
					  .mode = UFFDIO_MOVE_MODE_DONTWAKE };

		if (hms_user_read(from + moved, (const char *)src + moved, step) != (ssize_t)step)
			break;
		copied += step;
		if (uffd_ioctl(h, UFFDIO_MOVE, &mv)) {
			if (mv.move > 0)
				moved += (size_t)mv.move;
			else if (!moved && errno == EAGAIN)
				again = true;
			break;
		}
		moved += step;
	}
	*refused = moved < n;
	if (again) {
		/* Nothing moved: the range holds what it held (a fresh one
		 * goes back to the spares all the same), and the block keeps
		 * its note. */
		if (left)
			huge_left_keep(h, dst);
		if (fresh)
			discard_empty(h, d);
		else
			pool_return(h, d);
		return -EAGAIN;
	}
	/* Moved out in pieces, or whole into a block that kept a page table
	 * (the kernel split the huge page here to move it): a table here now. */
	if (!d->tabled && moved && !(whole && moved == n && pmd_mapped(h, dst)))
		d->tabled = true;
	d->lo += moved >> PAGE_SHIFT;
	pthread_mutex_lock(&h->lock);
	if (fresh)
		h->huge_filled += moved;
	else
		h->pool_copied += copied;
	pthread_mutex_unlock(&h->lock);
	if (fresh)
		discard_empty(h, d);
	else
		pool_return(h, d);
	return (long)moved;
}

/* Bytes of data in the ranges of the pool (only the lazy ones): derived
 * from the list, for tests, which ask while no fill runs. */
static size_t pool_sum(struct hms *h, bool lazy_only)
{
	size_t n = 0;

	if (!h)
		return 0;
	pthread_mutex_lock(&h->lock);
	for (struct hms_discard *d = h->pool; d; d = d->next)
		if (d->lazy || !lazy_only)
			n += (d->hi - d->lo) << PAGE_SHIFT;
	pthread_mutex_unlock(&h->lock);
	return n;
}

uint64_t hms__test_fill_conflicts(struct hms *h)
{
	return h ? atomic_load_explicit(&h->stats.fill_conflicts, memory_order_relaxed) : 0;
}

size_t hms__test_pool_bytes(struct hms *h)
{
	return pool_sum(h, false);
}

size_t hms__test_pool_lazy(struct hms *h)
{
	return pool_sum(h, true);
}

/* A byte count of h's, read under h->lock (tests). */
static size_t bytes_locked(struct hms *h, const size_t *count)
{
	size_t n;

	pthread_mutex_lock(&h->lock);
	n = *count;
	pthread_mutex_unlock(&h->lock);
	return n;
}

size_t hms__test_huge_filled(struct hms *h)
{
	return h ? bytes_locked(h, &h->huge_filled) : 0;
}

size_t hms__test_huge_left(struct hms *h)
{
	return h ? bytes_locked(h, &h->huge_left_bytes) : 0;
}

size_t hms__test_fault_blocks(struct hms *h)
{
	return h ? bytes_locked(h, &h->fault_block_bytes) : 0;
}

size_t hms__test_pool_copied(struct hms *h)
{
	return h ? bytes_locked(h, &h->pool_copied) : 0;
}

void hms__test_pool_reclaim(struct hms *h)
{
	/* Only pages in the spare range can go (hot ones in the transit range
	 * would be swapped out, never dropped): moved there first. */
	pthread_mutex_lock(&h->lock);
	for (struct hms_discard *d = h->pool; d; d = d->next)
		if (discard_settle(h, d))
			madvise(d->base, d->hi << PAGE_SHIFT, MADV_DONTNEED);
	pthread_mutex_unlock(&h->lock);
}

int hms__test_uffd(struct hms *h)
{
	return h ? h->uffd : -1;
}

void hms__test_assume_swap(struct hms *h)
{
	if (h)
		h->test_swap = true;
}

unsigned hms__test_spare_discards(struct hms *h)
{
	unsigned n = 0;

	if (!h)
		return 0;
	pthread_mutex_lock(&h->lock);
	for (struct hms_discard *d = h->discards; d; d = d->next)
		n++;
	pthread_mutex_unlock(&h->lock);
	return n;
}

void hms__uffd_discard_fini(struct hms *h)
{
	free(h->huge_left);
	h->huge_left = NULL;
	/* (h->pagemap_fd: hms_close() closes it with the others, under the
	 * context list's lock, for fork.) */
	while (h->pool) {
		struct hms_discard *d = h->pool;

		h->pool = d->next;
		discard_destroy(h, d);
	}
	while (h->discards) {
		struct hms_discard *d = h->discards;

		h->discards = d->next;
		discard_destroy(h, d);
	}
}

void hms__uffd_sync(struct hms *h)
{
	uint64_t target;

	if (!h->handler_started || hms__in_handler(h))
		return;
	pthread_mutex_lock(&ev_lock);
	target = ev_of(h)->started;
	while (ev_of(h)->processed < target && h->handler_started)
		pthread_cond_wait(&ev_cond, &ev_lock);
	pthread_mutex_unlock(&ev_lock);
}

/*
 * Waits until no address-space change of the process is unread, then
 * until the handler has processed what it read.  The kernel answers
 * EAGAIN to UFFDIO_CONTINUE from the moment a munmap, mremap or
 * MADV_DONTNEED prepares its event (under mmap_lock, before it lets the
 * addresses go) until that event is read; otherwise, on memory hms
 * registers (never for minor faults), EINVAL and nothing done, as
 * registered_halves() relies on.  (UFFDIO_WRITEPROTECT says EAGAIN alike,
 * but splits a huge page it is asked about in part.)  start, a page of
 * the caller's range, is only where the ioctl looks.  An area inserted
 * after this cannot be taken by the UNMAP of the mapping that was there
 * before.  Not on the handler (the events are its to read); bounded like
 * hms__uffd_eagain_wait.
 */
void hms__uffd_events_read(struct hms *h, uintptr_t start)
{
	struct uffdio_continue c = { .range = { start, PAGE_SIZE },
				     .mode = UFFDIO_CONTINUE_MODE_DONTWAKE };
	unsigned tries = 0;

	if (!h->handler_started || hms__in_handler(h))
		return;
	while (ioctl(h->uffd, UFFDIO_CONTINUE, &c) && errno == EAGAIN &&
	       hms__uffd_eagain_wait(h, &tries))
		;
	hms__uffd_sync(h);
}

HMS_API int hms_sync(struct hms *h)
{
	int ret = hms__check(h);

	if (!ret)
		hms__uffd_sync(h);
	return ret;
}

/* Does a self-zap record cover a page of [s, e)? */
static bool zaps_touch_locked(struct hms *h, uintptr_t s, uintptr_t e)
{
	for (struct hms_zap *z = h->zaps; z; z = z->next)
		if (s < z->end && e > z->start)
			return true;
	return false;
}

/*
 * Is the REMOVE of the page at p ours: a self-zap covers it and has not
 * had its REMOVE yet?  If claim, it has now.
 */
static bool zap_claim_locked(struct hms *h, uintptr_t p, bool claim)
{
	for (struct hms_zap *z = h->zaps; z; z = z->next) {
		size_t i = (p - z->start) >> PAGE_SHIFT;
		uint64_t bit = 1ull << (i % 64);

		if (p < z->start || p >= z->end)
			continue;
		if (z->claimed[i / 64] & bit)
			return false;
		if (claim)
			z->claimed[i / 64] |= bit;
		return true;
	}
	return false;
}

/* ---- fault resolution -------------------------------------------------------- */

enum { FAULT_DONE = 0, FAULT_DEFERRED = 1 };

/* May a fault at addr move its page's run of pages of dm (no page held
 * or migrating)? */
static bool fault_takes_locked(struct hms *h, struct hms_area *a, uintptr_t addr,
			       const struct hms_devmem *dm)
{
	struct hms_pte *p = area_pte(a, addr);

	return p->loc == HMS_LOC_DEVICE && !(p->flags & (PTE_BUSY | PTE_MIGRATING)) &&
	       hms__devmem_of_pfn_locked(h, p->pfn) == dm;
}

/*
 * Is addr's 2 MiB block of a huge area all in dm, none of it held?  Then
 * a fault (a CPU's, or another device's through hms_range_fault) brings
 * the whole block back (h->fault_huge): the fill can
 * make it one huge page again (pool_fill), where fault_around pages
 * would leave it small for good, and the next 511 pages fault no more:
 * reading a device-resident 64 MiB one page at a time took 350-390 us
 * per 2 MiB here against 5.0-5.7 ms in 16-page windows; one read alone
 * pays the whole copy, 340-380 against 140 us (hms bench fault).
 */
static bool fault_block_locked(struct hms *h, struct hms_area *a, uintptr_t addr,
			       const struct hms_devmem *dm, struct hms_devmem_fault *f)
{
	uintptr_t lo = addr & ~(uintptr_t)(HMS_HUGE_PAGE_SIZE - 1), hi = lo + HMS_HUGE_PAGE_SIZE;

	if (!a->huge || !h->fault_huge || lo < a->start || hi > a->end || hi < lo)
		return false;
	for (uintptr_t at = lo; at < hi; at += PAGE_SIZE)
		if (!fault_takes_locked(h, a, at, dm))
			return false;
	f->start = lo;
	f->end = hi;
	h->fault_block_bytes += HMS_HUGE_PAGE_SIZE;
	return true;
}

/* The run of pages of dm (addr's page's devmem) around addr that a fault
 * moves. */
static void fault_around_locked(struct hms *h, struct hms_area *a, uintptr_t addr,
				const struct hms_devmem *dm, struct hms_devmem_fault *f)
{
	size_t win = (size_t)h->fault_around << PAGE_SHIFT;
	uintptr_t lo = addr & ~(win - 1), hi = lo + win;
	uintptr_t s = addr, e = addr + PAGE_SIZE;

	f->addr = addr;
	if (fault_block_locked(h, a, addr, dm, f))
		return;
	if (lo < a->start)
		lo = a->start;
	if (hi > a->end || hi < lo)
		hi = a->end;
	while (s > lo && fault_takes_locked(h, a, s - PAGE_SIZE, dm))
		s -= PAGE_SIZE;
	while (e < hi && fault_takes_locked(h, a, e, dm))
		e += PAGE_SIZE;
	f->start = s;
	f->end = e;
}

/*
 * The pte of the page a fault holds BUSY is looked up again after hms.lock
 * was dropped (hms__pte_again_locked).  A held page stays at its address
 * (an unmap or mremap leaves it there as a dead page until it is let go),
 * but its pte may have moved in memory: munmap of the front of an area
 * shifts the table, a split or an mremap copies it.  A pointer kept across
 * the unlock could clear BUSY on another page's entry and leave this one
 * held forever (a hang found by hms stress --threads 3 --seed 4).
 */
bool hms__pte_unbusy_locked(struct hms *h, struct hms_pte *pte)
{
	bool waiters = pte && (pte->flags & PTE_WAITERS);

	if (pte)
		pte->flags &= (uint16_t)~(PTE_BUSY | PTE_WAITERS);
	if (pte && (pte->flags & PTE_DEAD))
		hms__area_reap_locked(h);
	pthread_cond_broadcast(&h->cond);
	return waiters;
}

/* Clear PTE_BUSY on the page at addr, held since h->detaches was since;
 * true when CPU faults wait on it (wake them).  Lock held; the pte may be
 * freed (reaped) on return. */
static bool pte_unbusy_locked(struct hms *h, uintptr_t addr, uint64_t since)
{
	return hms__pte_unbusy_locked(h, hms__pte_again_locked(h, addr, since));
}

/*
 * Resolve one page.  cpu: a CPU fault delivered to the handler (deferral
 * allowed, the faulting thread must be woken); otherwise a device or
 * prefault path that may wait.  wp: the fault reported write protection.
 */
/*
 * The batch count a fault's fill off the handler thread goes by: it
 * checks the table after reading it, and fills through the fill gate as a
 * migration does (hms__uffd_gate_sync).  No sync: an event not yet read
 * makes the kernel refuse the fill (EAGAIN), and the fault looks at the
 * table again.  0 on the handler thread, which has no gate.
 */
static uint64_t gate_peek(struct hms *h)
{
	uint64_t s;

	if (!h->handler_started || hms__in_handler(h))
		return 0;
	pthread_mutex_lock(&ev_lock);
	s = ev_of(h)->started;
	pthread_mutex_unlock(&ev_lock);
	return s;
}

/*
 * A fault's fill of the missing page addr (write protected where wp; with
 * zeros copied, not mapped, where write), once, through the fill gate (on
 * the handler thread there is none, and it cannot wait out EAGAIN
 * anyway).  Retried in place after EAGAIN, the fill waited for the
 * handler to read an mremap's events and then landed in what the kernel
 * had moved there, never populated (another range's pages that lived on a
 * device: their data lost; found by review).  -EAGAIN: look at the table
 * again.
 */
static long fault_fill(struct hms *h, uint64_t seen, uintptr_t addr, bool wp, bool write,
		       bool wake)
{
	long r;

	if (!hms__uffd_gate_enter(h, seen))
		return -EAGAIN;
	if (wp)
		r = fill_wp(h, addr, wake, false);
	else
		r = uffd_fill(h, addr, write ? zeros : NULL, PAGE_SIZE, wake, false, false);
	hms__uffd_gate_exit(h);
	return r;
}

static int fault_page(struct hms *h, uintptr_t addr, bool write, bool wp, bool cpu)
{
	bool handler = hms__in_handler(h);
	unsigned gated_tries = 0; /* fills refused by the gate or EAGAIN */

	addr &= PAGE_MASK;
	for (unsigned round = 0;; round++) {
		struct hms_area *a;
		struct hms_pte *pte;
		struct hms_devmem *dm;
		struct hms_devmem_fault f;
		long r;
		bool waiters, track;
		uint64_t since, seen = gate_peek(h);
		int ret;

		pthread_mutex_lock(&h->lock);
		a = hms__area_find_locked(h, addr);
		if (!a) {
			pthread_mutex_unlock(&h->lock);
			if (!cpu)
				return -EFAULT;
			/* Registered but unknown (an mremap grew a managed
			 * mapping in place): it is new anonymous memory. */
			if (wp)
				return hms__uffd_wp(h, addr, PAGE_SIZE, false);
			r = fill_zero(h, addr, PAGE_SIZE, write, true);
			if (r == -EEXIST || r == -ENOENT)
				hms__uffd_wake(h, addr, PAGE_SIZE);
			return r == -EAGAIN ? -EAGAIN : 0;
		}
		pte = area_pte(a, addr);
		if ((pte->flags & PTE_MIGRATING) && !(pte->flags & PTE_ZAPPED) && !wp &&
		    (pte->loc == HMS_LOC_SYSTEM || (pte->flags & PTE_ZERO))) {
			/*
			 * A page being migrated is missing before the migration
			 * discarded it: something else did (MADV_DONTNEED racing
			 * the migration, reclaim of MADV_FREE memory).  It reads
			 * zeros now; fill it write-protected, so the migration
			 * copies zeros and later writes still wait for it.  The
			 * migrating thread itself may be the one faulting here.
			 * The page is held BUSY while we fill it: the migration
			 * waits for that before its own zap (migrate.c), else our
			 * fill could land after the zap and leave a zero page
			 * mapped over a page that lives on the device.  So one
			 * fault at a time: a second one that took the page too
			 * (two device threads faulting it through
			 * hms_range_fault) let it go when its own fill found the
			 * page there (EEXIST) while the first one's fill was still
			 * to come; the migration then discarded the page, by a
			 * move that raises no event and so passes the fill gate,
			 * and that fill mapped a zero page over the device's data
			 * (tests/migrate_fault_fill_busy_race).  The holder wakes
			 * a deferred fault when it lets go.
			 */
			if (pte->flags & PTE_BUSY) {
				if (handler) {
					pte->flags |= PTE_WAITERS;
					pthread_mutex_unlock(&h->lock);
					return FAULT_DEFERRED;
				}
				pthread_cond_wait(&h->cond, &h->lock);
				pthread_mutex_unlock(&h->lock);
				continue;
			}
			pte->flags |= PTE_BUSY;
			since = h->detaches;
			pthread_mutex_unlock(&h->lock);
			hms__test_hook_run(h, HMS_HOOK_FAULT_FILL, addr, PAGE_SIZE);
			r = fault_fill(h, seen, addr, true, false, true);
			pthread_mutex_lock(&h->lock);
			waiters = pte_unbusy_locked(h, addr, since);
			pthread_mutex_unlock(&h->lock);
			if (waiters)
				hms__uffd_wake(h, addr, PAGE_SIZE);
			if (r == -EAGAIN && handler)
				return -EAGAIN;
			if (r == -EAGAIN && hms__uffd_eagain_wait(h, &gated_tries))
				continue; /* an address-space change is being read */
			if (r < 0) /* present after all (a stale message): resume */
				hms__uffd_wake(h, addr, PAGE_SIZE);
			return FAULT_DONE;
		}
		if (pte->flags & (PTE_BUSY | PTE_MIGRATING)) {
			if (handler) {
				pte->flags |= PTE_WAITERS;
				pthread_mutex_unlock(&h->lock);
				return FAULT_DEFERRED;
			}
			hms__pte_wait_locked(h, addr);
			pthread_mutex_unlock(&h->lock);
			continue;
		}
		if (!cpu && !(pte->prot & PROT_READ)) {
			pthread_mutex_unlock(&h->lock);
			return -EFAULT;
		}
		if (!cpu && write && !(pte->prot & PROT_WRITE)) {
			pthread_mutex_unlock(&h->lock);
			return -EPERM;
		}
		if (pte->loc == HMS_LOC_DEVICE) {
			dm = hms__devmem_of_pfn_locked(h, pte->pfn);
			fault_around_locked(h, a, addr, dm, &f);
			/* A CPU taking a page a device's touch placed: a round of a
			 * contest (thrash.c), counted before the move, so one
			 * that then fails counts too (a heuristic; it retries). */
			if (cpu)
				hms__thrash_taken_locked(h, addr, NULL);
			f.write = write;
			f.nowait = handler;
			if (dm)
				hms__devmem_get_locked(dm);
			pthread_mutex_unlock(&h->lock);
			ret = dm ? dm->ops.migrate_to_ram(dm, &f) : -EFAULT;
			if (dm)
				hms__devmem_put(h, dm);
			if (ret == 0) {
				if (cpu) {
					HMS_STAT_ADD(h, cpu_faults_device, 1);
					/* The migration's fill woke the thread; a write to
					 * a page still write protected faults again. */
					return FAULT_DONE;
				}
				continue; /* check what we got */
			}
			if (ret == -EAGAIN && handler)
				return -EAGAIN;
			/* EAGAIN: the page was busy or moved meanwhile; it settles
			 * as other threads finish.  Other errors: a few tries. */
			if (round > (ret == -EAGAIN ? 20000u : 8u))
				return ret;
			if (ret == -EAGAIN && round > 16)
				usleep(50);
			continue;
		}
		if (pte->loc == HMS_LOC_SYSTEM && !wp && !(write && (pte->flags & PTE_WP)) &&
		    !(cpu && !wp)) {
			/* Present and good enough (device path). */
			pthread_mutex_unlock(&h->lock);
			return FAULT_DONE;
		}
		if (pte->loc == HMS_LOC_SYSTEM && (wp || (write && (pte->flags & PTE_WP)))) {
			/* Write protection: hms' own (wp.c) or stale. */
			if (!wp && !write) {
				pthread_mutex_unlock(&h->lock);
				return FAULT_DONE;
			}
			ret = hms__wp_fault_locked(h, pte, addr, handler);
			return ret ? ret : FAULT_DONE;
		}
		/*
		 * Missing: never populated, discarded, or (a CPU fault on a
		 * page we think present) dropped behind our back by reclaim of
		 * MADV_FREE memory.  All read zeros.
		 */
		pte->flags |= PTE_BUSY;
		since = h->detaches;
		track = pte->flags & PTE_TRACKED;
		pthread_mutex_unlock(&h->lock);
		/* The faulting thread resumes only once the table is right.
		 * Dirty tracking (dirty.c) needs a later write to fault: a read
		 * fill of a tracked page is write protected. */
		r = fault_fill(h, seen, addr, track && !write, write, false);
		pthread_mutex_lock(&h->lock);
		pte = hms__pte_again_locked(h, addr, since);
		if (pte && (r > 0 || r == -EEXIST)) {
			pte->loc = HMS_LOC_SYSTEM;
			if (track && !write && r > 0)
				pte->flags |= PTE_WP | PTE_TRACK;
			else if (track)
				pte->flags |= PTE_DIRTY;
			else if (!write && r > 0)
				pte->flags |= PTE_ZERO;
			/* EEXIST: there all along (MADV_FREE kept it), and it
			 * may be write protected though the table says nothing
			 * of it: a scan protected it while the table said
			 * missing (wp.c), or it was protected (dirty tracking,
			 * a replica, exclusive access) before the MADV_FREE,
			 * whose REMOVE event made the table forget that
			 * protection while the kernel kept the page with its
			 * uffd-wp bit (MADV_FREE zaps nothing).  Recorded
			 * either way: a write lifts it first (a stale
			 * PTE_WP costs one ioctl). */
			if (r == -EEXIST)
				pte->flags |= PTE_WP;
		}
		waiters = hms__pte_unbusy_locked(h, pte);
		pthread_mutex_unlock(&h->lock);
		/* A CPU fault that got EAGAIN waits in the retry list: woken,
		 * its thread would fault again and queue one more message
		 * ahead of the event that the EAGAIN waits for. */
		if ((cpu && r != -EAGAIN) || waiters || r == -EEXIST)
			hms__uffd_wake(h, addr, PAGE_SIZE);
		if (r == -EAGAIN && handler)
			return -EAGAIN;
		if (r == -EAGAIN && hms__uffd_eagain_wait(h, &gated_tries))
			continue; /* an address-space change is being read */
		if (r < 0 && r != -EEXIST)
			return (int)r;
		/* A device's write goes on in the kernel (range.c's fault_in),
		 * which in user-mode-only mode cannot lift a protection: lift
		 * the one just recorded now.  Tracked or not: before this an
		 * untracked page protected before an MADV_FREE came back
		 * SYSTEM without PTE_WP, and every MADV_POPULATE_WRITE of
		 * fault_in failed (hms stress --user-only: dev-kernel -EFAULT;
		 * tests/lazyfree_protected_device_write). */
		if (r == -EEXIST && write && !cpu)
			continue;
		if (!cpu)
			HMS_STAT_ADD(h, device_faults, 1);
		return FAULT_DONE;
	}
}

int hms__fault_page(struct hms *h, uintptr_t addr, bool write, bool cpu)
{
	int ret = fault_page(h, addr, write, false, cpu);

	return ret == FAULT_DEFERRED ? 0 : ret;
}

/* ---- events ------------------------------------------------------------------ */

/* A REMAP's old range: its UNMAP event, when it comes, is already told. */
struct remap_rec {
	uintptr_t start, end;
	bool unmapped; /* the range was unmapped when the REMAP was handled */
	bool covered;  /* a later REMAP moved pages onto it */
};

/* REMAPs whose UNMAP has not come yet: one per mremap in flight, so that
 * two threads' mremaps read in one batch each find their own (a single
 * record named the second, and the first one's UNMAP then removed what
 * the second had just moved to that address).  When it is full, one that
 * no UNMAP needs goes first (remap_rec_evict); a record that one needs
 * goes only with 64 mremaps at once, each still to send its UNMAP. */
#define REMAP_RECS 64

struct handler_state {
	struct ev_counts ev;
	/* The records: changed by the handler, and by hms_unmanage()
	 * (hms__uffd_remap_forget); guarded by ev_lock. */
	struct remap_rec remap[REMAP_RECS];
	unsigned nremap;
	struct uffd_msg *retry;
	unsigned nretry, retry_cap; /* entries used, and room (grows) */
	unsigned *retry_rounds;
	uint64_t *retry_since; /* ms (CLOCK_MONOTONIC) of the first EAGAIN */
	bool running;          /* the thread reached its loop (ev_lock) */
	unsigned fillers;      /* gated fills in flight (ev_lock; see
				* hms__uffd_gate_sync) */
	bool want_read;        /* the handler waits for them to leave: no
				* fill enters (ev_lock) */
};

static void remap_drop(struct handler_state *st, unsigned i)
{
	memmove(&st->remap[i], &st->remap[i + 1], (st->nremap - i - 1) * sizeof(st->remap[0]));
	st->nremap--;
}

static struct ev_counts *ev_of(struct hms *h)
{
	static struct ev_counts none;

	return h->handler_started && h->handler_state ? &h->handler_state->ev : &none;
}

/*
 * The fill gate.  The kernel refuses UFFDIO_COPY (EAGAIN) from an mremap
 * until the handler *reads* its REMAP event, but the table moves only
 * when the handler *processes* it: a fill in between, checked against the
 * table before the move, lands in whatever the kernel moved there (another
 * range's missing pages got a migration's old data: hms stress, CI).  So a
 * migration's fill and the handler's reading of a batch exclude each
 * other: the filler syncs, notes the batch count, checks the table, and
 * enters only if no batch started since; the handler reads no batch while
 * a fill is in flight (the ioctl never waits for the handler).
 */
uint64_t hms__uffd_gate_sync(struct hms *h)
{
	uint64_t s;

	if (!h->handler_started || hms__in_handler(h))
		return 0; /* no gate there (hms__uffd_gate_enter) */
	hms__uffd_sync(h);
	pthread_mutex_lock(&ev_lock);
	s = ev_of(h)->started;
	pthread_mutex_unlock(&ev_lock);
	return s;
}

bool hms__uffd_gate_enter(struct hms *h, uint64_t seen)
{
	struct handler_state *st = h->handler_state;
	bool ok = true;

	if (!h->handler_started || !st || hms__in_handler(h))
		return true;
	pthread_mutex_lock(&ev_lock);
	if (st->ev.started != seen || st->ev.processed != seen || st->want_read)
		ok = false;
	else
		st->fillers++;
	pthread_mutex_unlock(&ev_lock);
	return ok;
}

void hms__uffd_gate_exit(struct hms *h)
{
	struct handler_state *st = h->handler_state;

	if (!h->handler_started || !st || hms__in_handler(h))
		return;
	pthread_mutex_lock(&ev_lock);
	if (--st->fillers == 0)
		pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_lock);
}

/* The application discarded [s, e). */
static void remove_run(struct hms *h, uintptr_t s, uintptr_t e)
{
	struct hms_notify_range r = { s, e, HMS_EVENT_CLEAR, HMS_NOTIFY_BLOCKABLE, NULL };
	struct hms_free_list fl = { 0 };
	uint16_t maybe;

	hms__notify_start(h, &r);
	pthread_mutex_lock(&h->lock);
	for (uintptr_t p = s; p < e; p += PAGE_SIZE) {
		struct hms_area *a = hms__area_find_locked(h, p);
		struct hms_pte *pte;

		if (!a)
			continue;
		pte = area_pte(a, p);
		if (pte->flags & PTE_MIGRATING) {
			/* The discard wins: finalize drops what the migration
			 * made of the page. */
			pte->flags |= PTE_DISCARD;
			continue;
		}
		/*
		 * MADV_FREE raises this event too, and leaves the pages with
		 * their data until reclaim; a write after it keeps them for
		 * good.  So a system page becomes "discarded, maybe present"
		 * (NONE with PTE_ZERO), not "never populated": a migration
		 * took that for a page without data, gave the device zeros
		 * and left the CPU's page in place.  (Not SYSTEM: the zap of
		 * MADV_DONTNEED comes after this, with no invalidation, so a
		 * snapshot must not report the page present.)  A device page
		 * is gone either way.
		 */
		maybe = pte->loc == HMS_LOC_SYSTEM || (pte->flags & PTE_ZERO) ? PTE_ZERO : 0;
		if (pte->flags & PTE_BUSY) {
			/* A fault fills it (fresh zeros either way), or wp.c
			 * holds it to protect it or lift a protection: the page
			 * and its write protection are gone (an anonymous zap
			 * keeps no uffd-wp marker), so is what the table said of
			 * them.  Kept, a tracked page went unreported and a
			 * refilled one kept PTE_WP unprotected: a CPU write
			 * left a device's replica stale. */
			pte->flags &= (uint16_t)(PTE_BUSY | PTE_WAITERS | PTE_DEAD | PTE_REVIVE);
		} else {
			if (pte->loc == HMS_LOC_DEVICE)
				hms__free_list_push(h, &fl, pte->pfn);
			pte->flags = 0;
		}
		pte->flags |= maybe;
		pte->loc = HMS_LOC_NONE;
		pte->pfn = 0;
	}
	pthread_mutex_unlock(&h->lock);
	hms__notify_end(h, &r);
	hms__free_list_release(h, &fl);
}

/* Does a mapping begin at a (/proc/self/maps)?  Where the maps cannot be
 * read, yes: the answer that keeps a self-zap's pages (event_remove). */
static bool mapping_starts_at(uintptr_t a)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4096];
	bool found = false, at_line = true;

	if (!f)
		return true;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long vs, ve;
		bool whole = strchr(line, '\n') != NULL;

		/* (A line longer than the buffer goes on in the next piece:
		 * only a line's beginning is parsed.) */
		if (at_line && sscanf(line, "%lx-%lx", &vs, &ve) == 2) {
			if (vs == a)
				found = true;
			else if (vs > a)
				break;
		}
		at_line = whole;
	}
	fclose(f);
	return found;
}

/* Does one self-zap record cover [s, e), every page of it claimed? */
static bool zap_claimed_whole_locked(struct hms *h, uintptr_t s, uintptr_t e)
{
	for (struct hms_zap *z = h->zaps; z; z = z->next) {
		if (s < z->start || e > z->end)
			continue;
		for (uintptr_t p = s; p < e; p += PAGE_SIZE) {
			size_t i = (p - z->start) >> PAGE_SHIFT;

			if (!(z->claimed[i / 64] & (1ull << (i % 64))))
				return false;
		}
		return true;
	}
	return false;
}

/*
 * A REMOVE event: the runs of it that are not a self-zap's are the
 * application's discards (see "self-zap").  One exception: the kernel
 * itself repeats a REMOVE when the mapping was split while the madvise
 * waited for its event to be read (Linux 6.16 and later go on from the
 * split and raise the rest again; before, they skip the rest).  A
 * repeat lies whole in pages our madvise already claimed and begins
 * where a mapping begins now: taken as ours, as every event inside a
 * record was before.  So an application's discard of exactly such a
 * range, during the zap, is missed (the page keeps the migration's copy);
 * the other way, a repeat taken for the application's discard, would
 * have thrown away the device's copy of data no one discarded.
 */
static void event_remove(struct hms *h, uintptr_t s, uintptr_t e)
{
	bool zaps, again;

	pthread_mutex_lock(&h->lock);
	zaps = zaps_touch_locked(h, s, e);
	again = zaps && zap_claimed_whole_locked(h, s, e);
	pthread_mutex_unlock(&h->lock);
	if (!zaps) {
		remove_run(h, s, e);
		return;
	}
	if (again && mapping_starts_at(s))
		return; /* the kernel's repeat of ours, it seems */
	for (uintptr_t p = s, q; p < e; p = q) {
		bool ours;

		pthread_mutex_lock(&h->lock);
		ours = zap_claim_locked(h, p, true);
		/* (a page that is ours is claimed as the run takes it) */
		for (q = p + PAGE_SIZE; q < e && zap_claim_locked(h, q, ours) == ours;
		     q += PAGE_SIZE)
			;
		pthread_mutex_unlock(&h->lock);
		if (!ours)
			remove_run(h, p, q);
	}
}

static bool range_touches_managed(struct hms *h, uintptr_t s, uintptr_t e)
{
	bool any = false;

	pthread_mutex_lock(&h->lock);
	for (struct hms_area *a = h->areas; a && a->start < e; a = a->next)
		if (a->end > s)
			any = true;
	pthread_mutex_unlock(&h->lock);
	return any;
}

static void event_unmap(struct hms *h, struct handler_state *st, uintptr_t s, uintptr_t e)
{
	/*
	 * The old range of a REMAP before, ending where it ends: the one the
	 * kernel sends, not a later unmap of part of a new area there, which
	 * is taken for it only if it ends there too.  An mremap that shrinks
	 * as it moves sends REMAP, UNMAP of the tail it cut off, then UNMAP of
	 * the range that moved.  Since the 2025 mremap rework
	 * (vma_remap_struct; seen on 6.18) the REMAP gives the new length: the
	 * tail starts where the record ends, is not taken for it and removes
	 * the stale tail; the head matches.  Before, it gave the old length:
	 * the tail ends where the record does, and the record shrinks to the
	 * head so that the head's event is taken for it as well (not: a new
	 * area over the head removed).  tests/manage_after_mremap_shrink_race
	 * covers both: the first order here (6.18), the second in the NUMA VM
	 * (Debian's 6.1; it fails there without the shrink).
	 */
	bool told = false, own;

	pthread_mutex_lock(&h->lock);
	own = own_unmap_take_locked(h, s, e);
	pthread_mutex_unlock(&h->lock);
	pthread_mutex_lock(&ev_lock);
	for (unsigned i = 0; i < st->nremap; i++) {
		struct remap_rec *rec = &st->remap[i];

		if (s < rec->start || e != rec->end) {
			/* Part of it unmapped otherwise: the REMAP's own UNMAP
			 * is not to come (MREMAP_DONTUNMAP kept the range). */
			if (s < rec->end && rec->start < e)
				remap_drop(st, i--);
			continue;
		}
		/* A REMAP handled while its old range was mapped: kept by
		 * MREMAP_DONTUNMAP (no UNMAP follows, this one is a later
		 * munmap), or mapped again before the handler got there: by
		 * a new mapping (its area is not hms' yet: the stale one kept
		 * goes; tests/manage_after_mremap_race), or by another
		 * thread's mremap onto it, whose REMAP moved its pages there
		 * (this UNMAP is the first REMAP's own and must not take them:
		 * tests/remap_two_threads_race). */
		told = rec->unmapped || rec->covered;
		/* hms_free's own unmap of pages moved onto the range leaves
		 * the record to the REMAP's UNMAP, still to come: taken by
		 * both, it was missing when that came late, which then
		 * removed what another mremap had moved there since
		 * (tests/remap_late_unmap_race, case 1). */
		if (told && own)
			break;
		if (told && s > rec->start)
			rec->end = s; /* a tail: the head's event follows */
		else
			remap_drop(st, i);
		break;
	}
	pthread_mutex_unlock(&ev_lock);
	/*
	 * hms_free already did everything, or the REMAP removed the old range
	 * already.  An area there now is a new one: the kernel let the range
	 * go before it queued either event, so another thread may have mapped
	 * it again and hms_manage()d or hms_alloc()ed it since (removing it
	 * here left that memory registered but unmanaged:
	 * tests/manage_after_mremap_race).
	 */
	if (own || told || !range_touches_managed(h, s, e))
		return;
	hms__area_forget(h, s, e, HMS_EVENT_UNMAP);
}

/*
 * The records are full: one goes.  First the oldest whose UNMAP would
 * find it changes nothing (its old range was still mapped when its REMAP
 * was handled, and nothing moved onto it since: told is false either
 * way), which is what every MREMAP_DONTUNMAP leaves, and no UNMAP of its
 * own ever takes it; only then the oldest of all.  Before, the oldest
 * went whatever it was, and 64 DONTUNMAP mremaps read between another
 * mremap's REMAP and its UNMAP pushed out the record that UNMAP needed:
 * it removed the pages a third mremap had moved onto the old range
 * (tests/remap_records_full_race).
 */
static void remap_rec_evict(struct handler_state *st)
{
	unsigned v = 0;

	for (unsigned i = 0; i < st->nremap; i++)
		if (!st->remap[i].unmapped && !st->remap[i].covered) {
			v = i;
			break;
		}
	remap_drop(st, v);
}

/*
 * How much of a REMAP's destination [to, to + len) is mapped, from to on.
 * All of it, but on kernels before the 2025 mremap rework (6.1, 6.12) an
 * mremap that shrinks as it moves gives the old length in its REMAP: the
 * pages past the new length at the destination are not the mremap's.
 * Taken as moved, the table kept there an area of the source's tail, which
 * the kernel had unmapped, over a hole (hms_manage() of a mapping made
 * there: EEXIST; tests/remap_shrink_next_to_area).  Where what follows is
 * mapped (another area), departures_first() finds the new length.  msync
 * (MS_ASYNC) changes nothing on anonymous memory and says ENOMEM over a
 * hole; no part mapped: len (the REMAP is taken whole, as before).
 */
/* Is there a hole in [addr, addr + len)?  (Asked of a REMAP's old range
 * too: madvise(MADV_NORMAL), which asked it before, also reset the
 * application's MADV_RANDOM/MADV_SEQUENTIAL there when it was mapped.) */
static bool has_hole(uintptr_t addr, size_t len)
{
	return msync((void *)addr, len, MS_ASYNC) && errno == ENOMEM;
}

static size_t dest_mapped(uintptr_t to, size_t len)
{
	size_t lo = 0, hi = len >> PAGE_SHIFT; /* lo pages mapped, hi not all */

	if (!has_hole(to, len))
		return len;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (!has_hole(to, mid << PAGE_SHIFT))
			lo = mid;
		else
			hi = mid;
	}
	return lo ? lo << PAGE_SHIFT : len;
}

static void event_remap(struct hms *h, struct handler_state *st, uintptr_t from,
			uintptr_t to, size_t len)
{
	struct hms_notify_range r = { from, from + len, HMS_EVENT_UNMAP, HMS_NOTIFY_BLOCKABLE,
				      NULL };
	struct hms_free_list fl = { 0 };
	struct hms_move_prep prep = { 0 };
	bool unmapped;

	if (!range_touches_managed(h, from, from + len) && !range_touches_managed(h, to, to + len))
		return;
	len = dest_mapped(to, len);
	r.end = from + len;
	/* Without MREMAP_DONTUNMAP the old range is gone already and an UNMAP
	 * event follows: tell subscribers once, now. */
	unmapped = has_hole(from, len);
	hms__notify_start(h, &r);
	/* The kernel moved the pages already: the table must follow, or the
	 * device pages of the range are lost.  Without memory for it, wait
	 * for some (the fill gate holds the range's faults meanwhile), unless
	 * the context is closing. */
	for (int ms = 1;; ms = ms < 64 ? 2 * ms : ms) {
		struct pollfd stop = { h->wake_fd, POLLIN, 0 };

		pthread_mutex_lock(&h->lock);
		if (!hms__area_move_prepare_locked(h, from, to, len, unmapped, &prep))
			break;
		pthread_mutex_unlock(&h->lock);
		if (poll(&stop, 1, ms) > 0) {
			pthread_mutex_lock(&h->lock);
			break; /* closing: what finds no memory is dropped */
		}
	}
	hms__area_move_locked(h, from, to, len, unmapped, &prep, &fl);
	pthread_mutex_unlock(&h->lock);
	hms__area_move_prep_free(&prep);
	hms__notify_end(h, &r);
	hms__free_list_release(h, &fl);
	pthread_mutex_lock(&ev_lock);
	for (unsigned i = 0; i < st->nremap; i++) {
		struct remap_rec *rec = &st->remap[i];

		/* Moved away itself: kept by MREMAP_DONTUNMAP, so no UNMAP
		 * of its own is to come -- unless the range was unmapped when
		 * its REMAP was handled, or pages moved onto it since: what
		 * moves away now is those pages, and the record's UNMAP is
		 * still to come, late (its thread had yet to queue it).
		 * Dropped, that UNMAP took the record this REMAP leaves and
		 * removed the range an MREMAP_DONTUNMAP keeps mapped here
		 * (tests/remap_late_unmap_race). */
		if (rec->start < from + len && from < rec->end) {
			if (!rec->unmapped && !rec->covered)
				remap_drop(st, i--);
		} else if (rec->start < to + len && to < rec->end) {
			rec->covered = true;
		}
	}
	if (st->nremap == REMAP_RECS)
		remap_rec_evict(st);
	st->remap[st->nremap++] = (struct remap_rec){ from, from + len, unmapped, false };
	pthread_mutex_unlock(&ev_lock);
}

/*
 * hms_unmanage() let [s, e) go, with no event: records of old ranges
 * inside it go too.  Kept, one that MREMAP_DONTUNMAP left (no UNMAP of its
 * own ever takes it) was marked covered by a later mremap of other pages
 * onto the range, and their munmap was then taken for the first mremap's
 * own UNMAP: they stayed in the table, device pages and all, over a range
 * no longer theirs (hms_manage() there EEXIST; fork() waited for ever for
 * the device pages: tests/unmanage_remap_record, found by hms stress).  A
 * record whose UNMAP is still to come may go as well: that UNMAP finds
 * nothing of hms' there, and an area made there before it comes waits
 * for it (manage_locked_register).  A record the range only cuts into
 * goes if no UNMAP of its own is to come (MREMAP_DONTUNMAP's: it tells
 * nothing until something moves onto it); one whose UNMAP is still to
 * come stays, as that UNMAP is of its whole range.
 */
void hms__uffd_remap_forget(struct hms *h, uintptr_t s, uintptr_t e)
{
	struct handler_state *st = h->handler_state;

	if (!h->handler_started || !st)
		return;
	pthread_mutex_lock(&ev_lock);
	for (unsigned i = 0; i < st->nremap; i++) {
		const struct remap_rec *rec = &st->remap[i];

		if ((rec->start >= s && rec->end <= e) ||
		    (rec->start < e && s < rec->end && !rec->unmapped && !rec->covered))
			remap_drop(st, i--);
	}
	pthread_mutex_unlock(&ev_lock);
}

/* ---- the handler thread ----------------------------------------------------- */

#define MSG_BATCH 64
#define MSG_MAX (4 * MSG_BATCH)

/* Resolve a CPU fault message: 0 done, or -errno (retry it later). */
static int handle_fault(struct hms *h, const struct uffd_msg *m)
{
	uint64_t fl = m->arg.pagefault.flags;
	bool wp = fl & UFFD_PAGEFAULT_FLAG_WP;
	bool write = (fl & UFFD_PAGEFAULT_FLAG_WRITE) || wp;
	int ret;

	ret = fault_page(h, m->arg.pagefault.address, write, wp, true);
	return ret == FAULT_DEFERRED ? 0 : ret;
}

static void give_up_fault(struct hms *h, const struct uffd_msg *m)
{
	/* The data cannot be brought back: the kernel's VM_FAULT_SIGBUS. */
	if (h->features & UFFD_FEATURE_THREAD_ID)
		syscall(SYS_tgkill, getpid(), m->arg.pagefault.feat.ptid, SIGBUS);
	hms__uffd_wake(h, m->arg.pagefault.address & PAGE_MASK, PAGE_SIZE);
}

/*
 * How long a fault may keep failing: EAGAIN (an unread event, a busy
 * address space, a page a device holds for a running kernel) clears by
 * itself, so it is retried for a minute of wall-clock time (counting
 * rounds was not enough: under load the handler loops thousands of times
 * a second, and healthy faults got SIGBUS after 5,000 rounds in
 * hms stress); a driver error gets a few dozen tries before the thread
 * gets SIGBUS.
 */
#define RETRY_EAGAIN_MS 60000
#define RETRY_ROUNDS_ERROR 50

/*
 * Room in the retry list for a batch of messages that may all need a
 * retry.  The list grows rather than the reading pausing: a fault that gets
 * EAGAIN waits for an event that is still unread, and the kernel hands out
 * every queued fault before any event, so with more faults queued than the
 * list held, a pause left the event unread and each fault got SIGBUS after
 * RETRY_EAGAIN_MS.  Each blocked thread has one message here (its thread is
 * not woken until the fault is resolved), so the list stays as long as the
 * number of threads faulting at once.  false without memory for more.
 */
static bool retry_room(struct handler_state *st, unsigned need)
{
	unsigned cap = st->retry_cap;
	void *p;

	if (st->nretry + need <= cap)
		return true;
	if (cap > UINT_MAX / 2 || hms__inject(HMS_INJ_NOMEM))
		return false;
	while (st->nretry + need > cap)
		cap *= 2;
	p = realloc(st->retry, cap * sizeof(*st->retry));
	if (!p)
		return false;
	st->retry = p;
	p = realloc(st->retry_rounds, cap * sizeof(*st->retry_rounds));
	if (!p)
		return false;
	st->retry_rounds = p;
	p = realloc(st->retry_since, cap * sizeof(*st->retry_since));
	if (!p)
		return false;
	st->retry_since = p;
	st->retry_cap = cap;
	return true;
}

static void queue_retry(struct handler_state *st, const struct uffd_msg *m, unsigned rounds,
			uint64_t since)
{
	st->retry[st->nretry] = *m;
	st->retry_since[st->nretry] = since;
	st->retry_rounds[st->nretry++] = rounds;
}

static void handle_msg(struct hms *h, struct handler_state *st, const struct uffd_msg *m)
{
	switch (m->event) {
	case UFFD_EVENT_PAGEFAULT:
		/* Counted before it is resolved (the woken thread may read the
		 * counters at once), and once: not again when retried. */
		HMS_STAT_ADD(h, cpu_faults, 1);
		if (handle_fault(h, m))
			queue_retry(st, m, 0, hms__now_ms());
		break;
	case UFFD_EVENT_REMOVE:
		event_remove(h, m->arg.remove.start, m->arg.remove.end);
		break;
	case UFFD_EVENT_UNMAP:
		event_unmap(h, st, m->arg.remove.start, m->arg.remove.end);
		break;
	case UFFD_EVENT_REMAP:
		event_remap(h, st, m->arg.remap.from, m->arg.remap.to, m->arg.remap.len);
		break;
	default:
		break;
	}
}

/*
 * Departures first.  An mremap(MREMAP_FIXED) onto a mapped range queues
 * the UNMAP of that range and waits for it to be read before it queues
 * its REMAP, its pages moved and their old place a hole already; a munmap
 * lets its range go before it queues its UNMAP.  Another thread's mremap
 * onto that hole meanwhile can queue its REMAP first.  Handled first, it
 * dropped what the table had there (a device's pages freed, though the
 * kernel had moved them on), the first REMAP then took the arrivals'
 * state to its own destination, and its UNMAP removed them from the
 * table (tests/remap_onto_vacated_race).  So a REMAP whose destination
 * still holds live pages in the table (not dead, not an old range kept
 * empty: kept_by_record) first handles the event that says they left (an
 * UNMAP of them, or a REMAP away from there), reading on until it comes.
 * The first such event is taken for it: one about the arrivals comes
 * only after their REMAP was read, and would have to pass a thread that
 * was woken by an earlier read and had only a lock to take (a thread
 * starved that long gets the arrivals' event taken for its own, as
 * records are).  Bounded by h->stale_wait_ms and by the room in msgs
 * (MSG_MAX), after which the REMAP is handled as it comes; the events
 * read meanwhile keep their order, and faults stay after them.
 */

/* Is addr in the old range of a REMAP handled while it was mapped, with
 * nothing moved onto it since?  The table keeps that range (empty) as
 * MREMAP_DONTUNMAP's, or as a mapping's made there before the handler got
 * to it: the kernel had let it go before the arrivals came, whether an
 * UNMAP follows or not (event_unmap). */
static bool kept_by_record(const struct remap_rec *rec, unsigned n, uintptr_t addr)
{
	for (unsigned i = 0; i < n; i++)
		if (addr >= rec[i].start && addr < rec[i].end && !rec[i].unmapped &&
		    !rec[i].covered)
			return true;
	return false;
}

/* Does [s, e) hold a table page that is neither dead nor so kept? */
static bool departure_due(struct hms *h, const struct handler_state *st, uintptr_t s,
			  uintptr_t e)
{
	struct remap_rec rec[REMAP_RECS]; /* the records, taken under ev_lock */
	unsigned n;
	bool due = false;

	pthread_mutex_lock(&ev_lock);
	n = st->nremap;
	memcpy(rec, st->remap, n * sizeof(rec[0]));
	pthread_mutex_unlock(&ev_lock);
	pthread_mutex_lock(&h->lock);
	for (struct hms_area *a = h->areas; a && a->start < e && !due; a = a->next)
		for (uintptr_t p = a->start > s ? a->start : s; p < a->end && p < e; p += PAGE_SIZE)
			if (!(area_pte(a, p)->flags & PTE_DEAD) && !kept_by_record(rec, n, p)) {
				due = true;
				break;
			}
	pthread_mutex_unlock(&h->lock);
	return due;
}

/* The new length of the REMAP msgs[i] where it gave the old one: an
 * mremap that shrinks as it moves sends, on kernels before the 2025
 * rework (6.1, 6.12), REMAP with the old length and then the UNMAP of the
 * tail it cut off, [from + new length, from + old length).  0 if no such
 * UNMAP follows in msgs. */
static size_t shrunk_len(const struct uffd_msg *msgs, ssize_t i, ssize_t n)
{
	uintptr_t from = msgs[i].arg.remap.from, end = from + msgs[i].arg.remap.len;

	for (ssize_t j = i + 1; j < n; j++)
		if (msgs[j].event == UFFD_EVENT_UNMAP && msgs[j].arg.remove.end == end &&
		    msgs[j].arg.remove.start > from && msgs[j].arg.remove.start < end)
			return msgs[j].arg.remove.start - from;
	return 0;
}

/* The index after i of the first event that takes [s, e) away, or 0. */
static ssize_t departure_find(const struct uffd_msg *msgs, ssize_t i, ssize_t n, uintptr_t s,
			      uintptr_t e)
{
	for (ssize_t j = i + 1; j < n; j++) {
		const struct uffd_msg *m = &msgs[j];

		if (m->event == UFFD_EVENT_UNMAP && m->arg.remove.start < e &&
		    s < m->arg.remove.end)
			return j;
		if (m->event == UFFD_EVENT_REMAP && m->arg.remap.from < e &&
		    s < m->arg.remap.from + m->arg.remap.len)
			return j;
	}
	return 0;
}

static void handle_msg(struct hms *h, struct handler_state *st, const struct uffd_msg *m);

/* msgs[i] is a REMAP: handles first the events that take away what the
 * table has at its destination, reading more (up to MSG_MAX in msgs, *n
 * of them) where they are still to come. */
static void departures_first(struct hms *h, struct handler_state *st, struct uffd_msg *msgs,
			     ssize_t i, ssize_t *n)
{
	uintptr_t s = msgs[i].arg.remap.to, e = s + msgs[i].arg.remap.len;
	uint64_t t0 = 0;

	while (departure_due(h, st, s, e)) {
		ssize_t j = departure_find(msgs, i, *n, s, e), got;
		struct pollfd p[2] = { { h->uffd, POLLIN, 0 }, { h->wake_fd, POLLIN, 0 } };
		uint64_t now = hms__now_ms();
		size_t shrunk = shrunk_len(msgs, i, *n);

		if (shrunk) {
			/* What lies past the new length at the destination is
			 * not the REMAP's: the table there stays (it was
			 * dropped as moved over, the source's tail taken there:
			 * tests/remap_shrink_next_to_area). */
			msgs[i].arg.remap.len = shrunk;
			e = s + shrunk;
			continue;
		}
		if (j) {
			struct uffd_msg d = msgs[j];

			memmove(&msgs[j], &msgs[j + 1], (size_t)(*n - j - 1) * sizeof(msgs[0]));
			(*n)--;
			handle_msg(h, st, &d);
			continue;
		}
		if (!t0)
			t0 = now;
		if (*n + MSG_BATCH > MSG_MAX || now - t0 >= h->stale_wait_ms ||
		    !retry_room(st, (unsigned)(*n + MSG_BATCH)))
			return;
		if (poll(p, 2, (int)(h->stale_wait_ms - (now - t0))) < 0 && errno != EINTR)
			return;
		if (p[1].revents)
			return; /* closing */
		if (!p[0].revents)
			continue; /* the time is looked at again above */
		pthread_mutex_lock(&ev_lock);
		st->ev.started++; /* no filler: none enters before processed */
		pthread_mutex_unlock(&ev_lock);
		got = read(h->uffd, &msgs[*n], MSG_BATCH * sizeof(msgs[0]));
		if (got > 0)
			*n += got / (ssize_t)sizeof(msgs[0]);
	}
}

static void retry_faults(struct hms *h, struct handler_state *st)
{
	unsigned n = st->nretry;

	st->nretry = 0;
	for (unsigned i = 0; i < n; i++) {
		struct uffd_msg m = st->retry[i];
		unsigned rounds = st->retry_rounds[i] + 1;
		int ret = handle_fault(h, &m);

		if (!ret)
			continue;
		if (ret == -ENOENT) {
			/* The range stopped being ours meanwhile (unmapped, or
			 * its layout changed under the fill): not a lost page.
			 * Wake the thread; if it still needs the page, its
			 * access faults again with a fresh message. */
			hms__uffd_wake(h, m.arg.pagefault.address & PAGE_MASK, PAGE_SIZE);
			continue;
		}
		if (ret == -EAGAIN ? hms__now_ms() - st->retry_since[i] > RETRY_EAGAIN_MS
				   : rounds > RETRY_ROUNDS_ERROR) {
			give_up_fault(h, &m);
			continue;
		}
		queue_retry(st, &m, rounds, st->retry_since[i]);
	}
}

static void *handler_main(void *arg)
{
	struct hms *h = arg;
	struct handler_state *st = h->handler_state;
	struct uffd_msg msgs[MSG_MAX]; /* a batch, and more where departures_first reads on */

	h->handler_tid = (pid_t)syscall(SYS_gettid);
	pthread_mutex_lock(&ev_lock);
	st->running = true;
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_lock);
	uint64_t spin_until = 0; /* ns, CLOCK_MONOTONIC */

	for (;;) {
		struct pollfd p[3] = { { h->uffd, POLLIN, 0 },
				       { h->wake_fd, POLLIN, 0 },
				       { h->age_fd, POLLIN, 0 } }; /* -1: not polled */
		ssize_t n;
		/* Right after work, look again without sleeping for a while:
		 * faults come in bursts (a thread touching a range, a migration
		 * followed by its first use), and waking a thread that sleeps on
		 * another CPU costs ~50 us in a VM, ten times the round trip. */
		int timeout = spin_until && hms__now_ns() < spin_until ? 0 : st->nretry ? 1 : -1;

		if (poll(p, 3, timeout) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (p[2].revents) {
			uint64_t expired;

			if (read(h->age_fd, &expired, sizeof(expired)) > 0)
				pool_age(h);
		}
		if (!timeout && !p[0].revents)
			continue;
		/* Room for every message of a batch to need a retry (reading
		 * pauses only without memory for it). */
		n = 0;
		if (p[0].revents && retry_room(st, MSG_BATCH)) {
			pthread_mutex_lock(&ev_lock);
			st->want_read = true;
			while (st->fillers)
				pthread_cond_wait(&ev_cond, &ev_lock);
			st->want_read = false;
			st->ev.started++;
			pthread_mutex_unlock(&ev_lock);
			n = read(h->uffd, msgs, MSG_BATCH * sizeof(msgs[0]));
			n = n > 0 ? n / (ssize_t)sizeof(msgs[0]) : 0;
			/* Events first: reading one already let its thread go
			 * on (a MADV_DONTNEED zaps its pages now), and the
			 * kernel hands out faults before events, so a fault
			 * resolved first could fill a page the event's range
			 * just lost with its old data (fault-around brings
			 * neighbours home).  Among themselves events keep their
			 * order, and so do faults. */
			for (int faults = 0; faults < 2; faults++)
				for (ssize_t i = 0; i < n; i++) {
					if ((msgs[i].event == UFFD_EVENT_PAGEFAULT) != faults)
						continue;
					if (msgs[i].event == UFFD_EVENT_REMAP)
						departures_first(h, st, msgs, i, &n);
					handle_msg(h, st, &msgs[i]);
				}
			pthread_mutex_lock(&ev_lock);
			st->ev.processed = st->ev.started;
			pthread_cond_broadcast(&ev_cond);
			pthread_mutex_unlock(&ev_lock);
			if (n > 0 && h->spin_ns)
				spin_until = hms__now_ns() + h->spin_ns;
		}
		if (st->nretry)
			retry_faults(h, st);
	}
	return NULL;
}

int hms__uffd_start(struct hms *h)
{
	struct handler_state *st = calloc(1, sizeof(*st));
	sigset_t all, old;
	int ret;

	if (!st)
		return -ENOMEM;
	st->retry_cap = 4 * MSG_BATCH;
	st->retry = calloc(st->retry_cap, sizeof(*st->retry));
	st->retry_rounds = calloc(st->retry_cap, sizeof(*st->retry_rounds));
	st->retry_since = calloc(st->retry_cap, sizeof(*st->retry_since));
	if (!st->retry || !st->retry_rounds || !st->retry_since) {
		free(st->retry);
		free(st->retry_rounds);
		free(st->retry_since);
		free(st);
		return -ENOMEM;
	}
	h->handler_state = st;
	/* The handler takes no signals: they belong to the application. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = hms__inject(HMS_INJ_THREAD) ? EAGAIN : pthread_create(&h->handler, NULL, handler_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		free(st->retry);
		free(st->retry_rounds);
		free(st->retry_since);
		free(st);
		h->handler_state = NULL;
		hms__set_error("hms: cannot start the fault handler thread: %s", strerror(ret));
		return -ret;
	}
	/*
	 * Return once the thread runs: a fork() right after hms_open() must
	 * not catch it inside its start-up, where a sanitizer's allocator
	 * (GCC 12's ASan has no fork handlers) holds a lock the child then
	 * waits on forever (anon_write_child_shared hung 1 run in 40 under
	 * ASan).
	 */
	pthread_mutex_lock(&ev_lock);
	while (!st->running)
		pthread_cond_wait(&ev_cond, &ev_lock);
	pthread_mutex_unlock(&ev_lock);
	h->handler_started = true;
	return 0;
}

void hms__uffd_stop(struct hms *h)
{
	uint64_t one = 1;
	struct handler_state *st = h->handler_state;

	if (!h->handler_started)
		return;
	if (write(h->wake_fd, &one, sizeof(one)) != sizeof(one))
		return;
	pthread_join(h->handler, NULL);
	h->handler_started = false;
	pthread_mutex_lock(&ev_lock);
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_lock);
	h->handler_state = NULL;
	free(st->retry);
	free(st->retry_rounds);
	free(st->retry_since);
	free(st);
}
