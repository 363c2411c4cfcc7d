/* SPDX-License-Identifier: MIT */
/*
 * context.c - the hms context: open and close, options, the thread-local
 * error message, and what happens to contexts across fork().
 * The fault engine is in uffd.c, areas in area.c.
 */
#include <errno.h>
#include <numa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/internal.h"
#include "inject.h"

/* ---- version and error message ---------------------------------------- */

#define STR2(x) #x
#define STR(x) STR2(x)

HMS_API const char *hms_version(void)
{
	return STR(HMS_VERSION_MAJOR) "." STR(HMS_VERSION_MINOR) "." STR(HMS_VERSION_PATCH);
}

static __thread char last_error[512];

void hms__set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

HMS_API const char *hms_last_error(void)
{
	return last_error;
}

/* ---- all contexts, for fork --------------------------------------------
 *
 * userfaultfd's fork event needs CAP_SYS_PTRACE in user-mode-only mode, and
 * a child whose areas stay registered would need this process to serve its
 * faults forever.  hms therefore never asks for the fork event: a child
 * gets its areas as plain memory.  So that it sees every byte, the
 * pthread_atfork() prepare handler brings device-resident pages back to
 * system memory before fork() copies the address space.  The parent's
 * pages stay in system memory afterwards (a device touch or a migration
 * moves them again).  A child's copy of a context is unusable (-ECHILD);
 * it opens its own.
 */
static pthread_mutex_t ctx_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hms *ctx_list;
/*
 * A context's descriptors (its userfaultfds, eventfd, timerfd, pagemap)
 * exist only while it is on the list, as fork() sees it: hms_open() holds
 * ctx_open_lock from before it makes the first until the context is on
 * the list, hms_close() closes them and takes the context off under
 * ctx_list_lock, and the fork handlers hold both (ctx_open_lock first).
 * Otherwise a fork() in between gave the child copies that its handler
 * did not close (the context was not listed): a copy of the userfaultfd
 * keeps what the parent's close leaves registered alive for as long as
 * the child lives (tests/fork_during_open: 199 of 200 children held one).
 */
static pthread_mutex_t ctx_open_lock = PTHREAD_MUTEX_INITIALIZER;
/*
 * Lookups of a page's context by copies through the kernel
 * (hms__kernel_copy_fault) read the list under this lock alone: fork's
 * prepare handler holds ctx_list_lock while migrations to devices end,
 * and such a migration's driver may be the one copying (it waited for
 * ctx_list_lock, fork waited for it: hms stress --user-only with
 * HMS_USER_COPY=kernel hung).  The list changes (hms_open, hms_close)
 * hold both, ctx_list_lock first.  A reader holds this lock only to find
 * the context and take a reference (h->kcopy_refs, under h->lock), and
 * resolves the page after: hms_close() takes the context off the list,
 * then waits for its references to go.  Made anew in a fork child, which
 * has no reader.
 */
static pthread_rwlock_t ctx_lookup_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/*
 * Every device page home, however long its driver refuses.  One eviction
 * pass gives up on a run that keeps failing (area.c, EVICT_ROUNDS_*): the
 * pages stay on the device and nothing is lost for the parent, but fork()
 * would copy the address space with them missing and the child would read
 * zeros there, with no error anywhere (test fork_device_page_refused).
 * There is no other way to give the child those bytes, so fork waits:
 * passes until one finds no device page.  No page can reach a device meanwhile
 * (h->forking), so a pass that returns 0 saw every page.  A driver whose
 * migrate_to_ram never succeeds again hangs fork() (hms_devmem_add(3)).
 */
static void fork_evict_all(struct hms *h)
{
	while (hms__evict_range(h, 0, UINTPTR_MAX, NULL))
		usleep(1000);
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&ctx_open_lock);
	pthread_mutex_lock(&ctx_list_lock);
	for (struct hms *h = ctx_list; h; h = h->next_ctx) {
		if (h->forked_child)
			continue;
		pthread_mutex_lock(&h->lock);
		if (h->close_started) {
			/* hms_close() brings its pages home (its drivers are
			 * released, nothing takes pages out again): the child
			 * has them once it has (hms_close() below). */
			while (!h->closing)
				pthread_cond_wait(&h->cond, &h->lock);
			pthread_mutex_unlock(&h->lock);
			continue;
		}
		/* Stop pages from leaving for a device, let the migrations
		 * already on their way land, then bring everything home. */
		h->forking = true;
		while (h->to_device)
			pthread_cond_wait(&h->cond, &h->lock);
		pthread_mutex_unlock(&h->lock);
		fork_evict_all(h);
	}
}

static void fork_parent(void)
{
	for (struct hms *h = ctx_list; h; h = h->next_ctx) {
		pthread_mutex_lock(&h->lock);
		h->forking = false;
		pthread_cond_broadcast(&h->cond);
		pthread_mutex_unlock(&h->lock);
	}
	pthread_mutex_unlock(&ctx_list_lock);
	pthread_mutex_unlock(&ctx_open_lock);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Every descriptor of h (fork's child, hms_close, a failed hms_open). */
static void close_fds(struct hms *h)
{
	close_fd(&h->uffd);
	close_fd(&h->uffd_spare);
	close_fd(&h->age_fd);
	close_fd(&h->pagemap_fd);
	close_fd(&h->wake_fd);
}

/*
 * The child's copies of a context's descriptors go: it cannot use them
 * (-ECHILD), and its copy of the userfaultfd kept the parent's open after
 * the parent's hms_close(): memory still registered though not managed
 * (an area grown in place by mremap(), design 6), which the kernel lets
 * go when the last descriptor closes, stayed registered with no reader,
 * and the parent's next touch there waited for as long as the child
 * lived (tests/close_fork_child_alive).
 */
static void fork_child(void)
{
	for (struct hms *h = ctx_list; h; h = h->next_ctx) {
		if (!h->forked_child)
			close_fds(h);
		h->forked_child = true;
	}
	hms__uffd_fork_child();
	pthread_rwlock_init(&ctx_lookup_lock, NULL);
	pthread_mutex_unlock(&ctx_list_lock);
	pthread_mutex_unlock(&ctx_open_lock);
}

enum hms_kcopy hms__kernel_copy_fault(uintptr_t addr, bool write)
{
	uintptr_t page = addr & ~(uintptr_t)(PAGE_SIZE - 1);
	enum hms_kcopy what = HMS_KCOPY_UNMANAGED;
	struct hms *found = NULL;

	/* The lookup only: resolving may wait (for a migration, a driver),
	 * and hms_open()/hms_close() of any context, and fork() behind them,
	 * must not wait with it.  The reference keeps the context open. */
	pthread_rwlock_rdlock(&ctx_lookup_lock);
	for (struct hms *h = ctx_list; h && !found; h = h->next_ctx) {
		struct hms_area *a;

		if (h->forked_child || h->close_started || h->mode != HMS_MODE_USER_ONLY)
			continue;
		pthread_mutex_lock(&h->lock);
		a = hms__area_find_locked(h, page);
		/* A page in a migration is waited for (the fault does), unless
		 * this thread holds a migration of this context: the copy may
		 * be that migration's own (a driver reading the pages it
		 * moves), which would then wait for itself; or unless this is
		 * the fault handler, which waits for nothing (its fault would
		 * be put off, not resolved).  The copy ends at such a page, as
		 * it did before hms resolved any.  (A page that hms_protect()
		 * denies the access, the fault refuses.) */
		if (a && (area_pte_ro(a, page)->flags & (PTE_BUSY | PTE_MIGRATING)) &&
		    (hms__migrating_here(h) || hms__in_handler(h))) {
			what = HMS_KCOPY_STOP;
		} else if (a) {
			h->kcopy_refs++;
			found = h;
		}
		pthread_mutex_unlock(&h->lock);
		if (what == HMS_KCOPY_STOP)
			break;
	}
	pthread_rwlock_unlock(&ctx_lookup_lock);
	if (!found)
		return what;
	what = hms__fault_page(found, page, write, false) ? HMS_KCOPY_STOP : HMS_KCOPY_RESOLVED;
	if (what == HMS_KCOPY_RESOLVED)
		hms__test_hook_run(found, HMS_HOOK_KERNEL_COPY, page, PAGE_SIZE);
	pthread_mutex_lock(&found->lock);
	if (--found->kcopy_refs == 0)
		pthread_cond_broadcast(&found->cond);
	pthread_mutex_unlock(&found->lock);
	return what;
}

static void atfork_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

int hms__check(struct hms *h)
{
	if (!h)
		return -EINVAL;
	if (h->forked_child)
		return -ECHILD;
	return 0;
}

/* ---- open and close ------------------------------------------------------ */

/* $name as a number in [min, max]; def when unset or not one. */
unsigned hms__env_uint(const char *name, unsigned def, unsigned min, unsigned max)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return def;
	return (unsigned)v;
}

HMS_API int hms_open(struct hms **out, const struct hms_options *opts)
{
	struct hms *h;
	unsigned flags = 0;
	const char *root = NULL;
	int ret;

	last_error[0] = 0;
	if (!out)
		return -EINVAL;
	if (opts) {
		if (opts->size && opts->size < offsetof(struct hms_options, sysfs_root) + sizeof(char *))
			return -EINVAL;
		flags = opts->flags;
		root = opts->sysfs_root;
	}
	if (flags & ~(HMS_OPEN_USER_MODE_ONLY | HMS_OPEN_NO_TOPOLOGY | HMS_OPEN_WP_ASYNC))
		return -EINVAL;
	if (!root)
		root = getenv("HMS_SYSFS_ROOT");

	pthread_once(&atfork_once, atfork_init);
	hms__inject_env();
	h = hms__inject(HMS_INJ_NOMEM) ? NULL : calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->uffd = -1;
	h->uffd_spare = -1;
	h->age_fd = -1;
	h->pagemap_fd = -1;
	h->wake_fd = -1;
	h->next_pfn = 1; /* pfn 0 means "no page" */
	/* HMS_ONE_NODE=0: as on a machine of several nodes (comparisons).
	 * The one node is the one with memory: numa_max_node() counts nodes
	 * of CPUs only too, and may be one of those. */
	h->only_node = -1;
	if (numa_num_configured_nodes() == 1 && hms__env_uint("HMS_ONE_NODE", 1, 0, 1))
		for (int n = 0; n <= numa_max_node() && h->only_node < 0; n++)
			if (numa_node_size64(n, NULL) > 0)
				h->only_node = n;
	h->fault_around = hms__env_uint("HMS_FAULT_AROUND", 16, 1, 512);
	h->fault_huge = hms__env_uint("HMS_FAULT_HUGE", 1, 0, 1);
	h->stale_wait_ms = hms__env_uint("HMS_STALE_WAIT_MS", HMS_STALE_WAIT_MS_DEFAULT, 0, 60000);
	h->spin_ns = (uint64_t)hms__env_uint("HMS_HANDLER_SPIN_US", 0, 0, 100000) * 1000;
	hms__thrash_init(h);
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->manage_lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	ret = hms__notifier_init(&h->notifier);
	if (ret)
		goto err_free;
	pthread_mutex_lock(&ctx_open_lock); /* descriptors from here on */
	ret = hms__uffd_open(h, flags);
	if (ret)
		goto err_uffd; /* closes what it opened before failing */
	ret = hms__topology_open(h, root, flags);
	if (ret)
		goto err_uffd;
	ret = hms__uffd_start(h);
	if (ret)
		goto err_topo;

	pthread_mutex_lock(&ctx_list_lock);
	pthread_rwlock_wrlock(&ctx_lookup_lock);
	h->next_ctx = ctx_list;
	ctx_list = h;
	pthread_rwlock_unlock(&ctx_lookup_lock);
	pthread_mutex_unlock(&ctx_list_lock);
	pthread_mutex_unlock(&ctx_open_lock);
	*out = h;
	return 0;

err_topo:
	hms__topology_close(h);
err_uffd:
	close_fds(h);
	pthread_mutex_unlock(&ctx_open_lock);
	hms__notifier_fini(h);
err_free:
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->manage_lock);
	pthread_mutex_destroy(&h->lock);
	free(h);
	return ret;
}

/* ctx_list_lock held. */
static void ctx_unlist_locked(struct hms *h)
{
	pthread_rwlock_wrlock(&ctx_lookup_lock);
	for (struct hms **pp = &ctx_list; *pp; pp = &(*pp)->next_ctx)
		if (*pp == h) {
			*pp = h->next_ctx;
			break;
		}
	pthread_rwlock_unlock(&ctx_lookup_lock);
}

static void ctx_unlist(struct hms *h)
{
	pthread_mutex_lock(&ctx_list_lock);
	ctx_unlist_locked(h);
	pthread_mutex_unlock(&ctx_list_lock);
}

/* ---- pages hms_close() cannot bring home --------------------------------
 *
 * The close's eviction gives up on a run whose driver keeps refusing to
 * bring it home (area.c, EVICT_ROUNDS_*).  In an area hms_alloc() made
 * that loses nothing the program can reach: the area is unmapped.  An
 * area adopted with hms_manage() stays mapped, and once unregistered its
 * device pages read as fresh zeros: data lost without a word.  The
 * kernel's HMM makes such a loss loud (a CPU access to a device-private
 * page that cannot come back gets SIGBUS), and so does hms_close():
 *
 *  - Where the kernel has UFFDIO_POISON (Linux 6.6), each lost page gets
 *    a poison marker while its area is still registered.  The marker
 *    outlives the registration and the descriptor, an mprotect() keeps
 *    it, a fork() copies it, and every access gets SIGBUS until the
 *    program discards the page (MADV_DONTNEED: zeros then, knowingly) or
 *    unmaps it.
 *  - Elsewhere (Linux 6.1, HMS_UFFD_POISON=0, a page the ioctl refuses),
 *    the pages become PROT_NONE while still registered, so that no access
 *    between the unregistration and what follows reads zeros; then an
 *    empty memfd ("hms-lost" in /proc/PID/maps) is mapped over them: an
 *    access past the end of a file gets SIGBUS, like a poisoned page, and
 *    unlike PROT_NONE alone no mprotect() of the program's turns it into
 *    zeros.  Where no memfd can be had, PROT_NONE stays (SIGSEGV).
 *
 * hms_last_error() says how many pages were lost.
 */

/* The next run of device pages of a kept area in [*pos, ...) (with
 * fenced: of those made PROT_NONE), within one area: *pos..*end. */
static bool lost_run_next_locked(struct hms *h, uintptr_t *pos, uintptr_t limit, bool fenced,
				 uintptr_t *end)
{
	for (struct hms_area *a = h->areas; a && a->start < limit; a = a->next) {
		uintptr_t p = a->start > *pos ? a->start : *pos, e;

		if (a->owned || a->end <= p)
			continue;
#define LOST(q) (area_pte_ro(a, q)->loc == HMS_LOC_DEVICE && \
		 (!fenced || area_pte_ro(a, q)->prot == PROT_NONE))
		while (p < a->end && p < limit && !LOST(p))
			p += PAGE_SIZE;
		if (p == a->end || p >= limit)
			continue;
		for (e = p; e < a->end && e < limit && LOST(e); e += PAGE_SIZE)
			;
#undef LOST
		*pos = p;
		*end = e;
		return true;
	}
	return false;
}

/* [s, e) PROT_NONE, in the kernel and in the table (lost_seal finds it). */
static void lost_fence(struct hms *h, uintptr_t s, uintptr_t e)
{
	pthread_mutex_lock(&h->lock);
	if (!mprotect((void *)s, e - s, PROT_NONE)) {
		for (uintptr_t p = s; p < e; p += PAGE_SIZE) {
			struct hms_area *a = hms__area_find_locked(h, p);

			if (a)
				area_pte(a, p)->prot = PROT_NONE;
		}
	}
	pthread_mutex_unlock(&h->lock);
}

/* Marks every page of a kept area still on a device (areas registered);
 * returns how many there are, *first the first one's address. */
static size_t lost_mark(struct hms *h, uintptr_t *first)
{
	uintptr_t pos = 0, end;
	size_t n = 0;

	for (;;) {
		unsigned tries = 0;
		bool found;

		pthread_mutex_lock(&h->lock);
		found = lost_run_next_locked(h, &pos, UINTPTR_MAX, false, &end);
		pthread_mutex_unlock(&h->lock);
		if (!found)
			return n;
		if (!n)
			*first = pos;
		n += (end - pos) >> PAGE_SHIFT;
		while (h->uffd_poison && pos < end) {
			size_t done;
			int ret = hms__uffd_poison(h, pos, end - pos, &done);

			pos += done;
			if (!ret || (ret == -EAGAIN && hms__uffd_eagain_wait(h, &tries)))
				continue;
			lost_fence(h, pos, pos + PAGE_SIZE); /* EEXIST: not ours to fill */
			pos += PAGE_SIZE;
		}
		if (pos < end)
			lost_fence(h, pos, end);
		pos = end;
	}
}

/* The fenced lost pages of [s, e), an unregistered kept area, get a
 * mapping of *memfd (made on first use; -1 where none can be had). */
static void lost_seal(struct hms *h, uintptr_t s, uintptr_t e, int *memfd)
{
	uintptr_t end;

	for (;;) {
		bool found;

		pthread_mutex_lock(&h->lock);
		found = lost_run_next_locked(h, &s, e, true, &end);
		pthread_mutex_unlock(&h->lock);
		if (!found)
			return;
		if (*memfd == -2)
			*memfd = memfd_create("hms-lost", MFD_CLOEXEC);
		if (*memfd < 0)
			return;
		/* Failing, it leaves them PROT_NONE. */
		mmap((void *)s, end - s, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, *memfd,
		     0);
		s = end;
	}
}

/*
 * The context stays on the list, for fork(), until its memory is
 * unregistered: a fork() meanwhile waits (fork_prepare) until this has
 * brought every page home, then copies the address space.  Taken off the
 * list first, as it was before, it left a fork() between that and the
 * eviction a child with zeros where the pages were on a device
 * (tests/fork_close_race).
 */
HMS_API void hms_close(struct hms *h)
{
	uintptr_t lost_first = 0;
	size_t lost;
	int evict_err, memfd = -2;

	if (!h)
		return;
	if (h->forked_child) {
		ctx_unlist(h); /* the parent owns it; the child's copy just goes */
		return;
	}
	/* Marked, it gets no new kernel copy: let those there end. */
	pthread_mutex_lock(&ctx_list_lock);
	pthread_rwlock_wrlock(&ctx_lookup_lock);
	pthread_mutex_lock(&h->lock);
	h->close_started = true;
	pthread_mutex_unlock(&h->lock);
	pthread_rwlock_unlock(&ctx_lookup_lock);
	pthread_mutex_unlock(&ctx_list_lock);
	pthread_mutex_lock(&h->lock);
	while (h->kcopy_refs)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);

	/* Drivers stop their work first, then every page comes home. */
	hms__notifier_release(h);
	hms__test_hook_run(h, HMS_HOOK_CLOSE_EVICT, 0, 0);
	evict_err = hms__evict_range(h, 0, UINTPTR_MAX, NULL);
	/* 0: no page is left on a device, no need to look (every page of
	 * every kept area). */
	lost = evict_err ? lost_mark(h, &lost_first) : 0;
	pthread_mutex_lock(&h->lock);
	h->closing = true;
	pthread_cond_broadcast(&h->cond); /* a fork() waiting for it */
	pthread_mutex_unlock(&h->lock);

	/* Areas: RELEASE to whoever still listens, then unregister. */
	for (;;) {
		struct hms_area *a;
		uintptr_t s, e;
		bool owned;
		struct hms_free_list fl = { 0 };

		pthread_mutex_lock(&h->lock);
		a = h->areas;
		if (!a) {
			pthread_mutex_unlock(&h->lock);
			break;
		}
		s = a->start;
		e = a->end;
		owned = a->owned;
		pthread_mutex_unlock(&h->lock);
		hms__notify(h, s, e, HMS_EVENT_RELEASE, HMS_NOTIFY_BLOCKABLE, NULL);
		hms__uffd_unregister(h, s, e - s);
		if (lost && !owned)
			lost_seal(h, s, e, &memfd);
		pthread_mutex_lock(&h->lock);
		hms__area_remove_locked(h, s, e, &fl);
		pthread_mutex_unlock(&h->lock);
		hms__free_list_release(h, &fl);
		if (owned)
			munmap((void *)s, e - s);
	}
	if (memfd >= 0)
		close(memfd);
	hms__uffd_stop(h);
	hms__stats_report(h); /* every page is home (or lost): the counters are final */
	/* Devices that were not removed: their memory is empty now. */
	while (h->devmems) {
		struct hms_devmem *dm = h->devmems;

		h->devmems = dm->next;
		if (dm->ops.release)
			dm->ops.release(dm);
		hms__topology_remove(h, dm->target);
		free(dm->orphans);
		free(dm->held);
		free(dm->name);
		free(dm);
	}
	while (h->held_dead) { /* holders that outlived hms_close */
		struct hms_held_dead *d = h->held_dead;

		h->held_dead = d->next;
		free(d);
	}
	hms__staging_fini(h);
	hms__uffd_discard_fini(h);
	hms__policy_fini(h);
	hms__advice_fini(h);
	hms__thrash_fini(h);
	hms__topology_close(h);
	hms__notifier_fini(h);
	/* Its descriptors go while it is still listed, under ctx_list_lock:
	 * a fork() finds them open (its child closes its copies) or closed
	 * and -1. */
	pthread_mutex_lock(&ctx_list_lock);
	close_fds(h);
	ctx_unlist_locked(h);
	pthread_mutex_unlock(&ctx_list_lock);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->manage_lock);
	pthread_mutex_destroy(&h->lock);
	free(h);
	if (lost)
		hms__set_error("hms_close: %zu pages of memory adopted with hms_manage() stayed "
			       "in device memory whose driver kept failing to bring them back "
			       "(%s): their data is lost, and an access to them gets SIGBUS "
			       "(the first at %#lx)",
			       lost, evict_err ? strerror(-evict_err) : "no error kept",
			       (unsigned long)lost_first);
}

HMS_API enum hms_uffd_mode hms_mode(const struct hms *h)
{
	return h ? h->mode : 0;
}
