/* SPDX-License-Identifier: MIT */
/*
 * softdev.c - the software device: its memory pool, its registration with
 * hms (device memory, an interval notifier over the whole address space,
 * a mirror for release, topology objects) and the callbacks hms makes.
 * Operations are in softdev_ops.c, migration in softdev_migrate.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "softdev.h"

static atomic_uint softdev_count;

/* ---- the pool ---------------------------------------------------------------- */

hms_pfn sd_alloc_locked(struct hms_softdev *d)
{
	if (d->fail_alloc) {
		d->fail_alloc--;
		return 0;
	}
	if (hms__inject(HMS_INJ_DEV_ALLOC))
		return 0;
	if (!d->nfree)
		return 0;
	uint32_t idx = d->free[--d->nfree];

	/* Back the pool 2 MiB at a time, so copies never page-fault on it and
	 * an unused pool costs nothing. */
	while (idx >= d->populated) {
		uint64_t n = d->npages - d->populated < 512 ? d->npages - d->populated : 512;

		madvise(d->pool + (d->populated << SD_SHIFT), n << SD_SHIFT, MADV_POPULATE_WRITE);
		d->populated += n;
	}
	return d->first + idx;
}

/* A replica's page goes back to the pool when its entry goes (d->lock). */
static void sd_replica_drop(void *arg, uint64_t e)
{
	struct hms_softdev *d = arg;

	d->free[d->nfree++] = (uint32_t)SD_IDX(e);
}

/*
 * hms gives a page back (it was unmapped, discarded or migrated away).  A
 * running kernel may still write it: the application freed memory under
 * its own kernel, or the page left some other way between the kernel's
 * translation and its end.  Handing the page out again at once let those
 * writes land in another range's data (tests/launch_unmap_during_kernel),
 * so while a kernel runs the page waits, as a real device's driver waits
 * for the device to stop before it frees.
 */
static void sd_page_free(struct hms_devmem *dm, hms_pfn pfn)
{
	struct hms_softdev *d = hms_devmem_priv(dm);
	uint32_t idx = (uint32_t)(pfn - d->first);

	SD_TSAN_ACQUIRE(&d->tsan_kernels);
	pthread_mutex_lock(&d->lock);
	if (d->kernels)
		d->free[d->npages - ++d->ndeferred] = idx;
	else
		d->free[d->nfree++] = idx;
	pthread_mutex_unlock(&d->lock);
}

void sd_kernel_begin_locked(struct hms_softdev *d)
{
	d->kernels++;
}

void sd_kernel_end(struct hms_softdev *d)
{
	pthread_mutex_lock(&d->lock);
	if (!--d->kernels)
		while (d->ndeferred) /* (the read slot is never below the write one) */
			d->free[d->nfree++] = d->free[d->npages - d->ndeferred--];
	pthread_mutex_unlock(&d->lock);
}

/* ---- invalidations: the device learns of every change here ------------------- */

struct sd_seq sd_seq_begin(struct hms_softdev *d)
{
	struct sd_seq s;

	s.iv = hms_interval_read_begin(d->iv);
	pthread_mutex_lock(&d->lock);
	s.own = d->own_seq;
	pthread_mutex_unlock(&d->lock);
	return s;
}

bool sd_seq_valid_locked(struct hms_softdev *d, struct sd_seq s)
{
	return !hms_interval_read_retry(d->iv, s.iv) && s.own == d->own_seq;
}

static bool sd_invalidate(struct hms_interval *iv, const struct hms_notify_range *r,
			  unsigned long cur_seq)
{
	struct hms_softdev *d = hms_interval_priv(iv);

	/* Our own migrations and exclusive grants update the table themselves. */
	if ((r->event == HMS_EVENT_MIGRATE || r->event == HMS_EVENT_EXCLUSIVE) && r->owner == d)
		return true;
	if (r->flags & HMS_NOTIFY_BLOCKABLE)
		pthread_mutex_lock(&d->lock);
	else if (pthread_mutex_trylock(&d->lock))
		return false;
	hms_interval_set_seq(iv, cur_seq);
	sd_pt_clear(&d->pt, r->start >> SD_SHIFT, r->end >> SD_SHIFT);
	pthread_mutex_unlock(&d->lock);
	return true;
}

static const struct hms_interval_ops sd_interval_ops = {
	.invalidate = sd_invalidate,
};

static bool sd_mirror_sync(struct hms_mirror *m, const struct hms_notify_range *r)
{
	(void)m;
	(void)r;
	return true; /* the interval notifier does the work */
}

/* Refuse new operations and wait for those in progress to leave. */
static void sd_quiesce(struct hms_softdev *d)
{
	pthread_mutex_lock(&d->wlock);
	d->stop = true;
	pthread_cond_broadcast(&d->wcond);
	/* A launch waiting for its kernel sees the stop too: workers woken by
	 * it leave without taking work that was posted but not begun, and
	 * nothing else would wake the launch (teardown_inflight hung about
	 * once in 100 runs two at a time). */
	pthread_cond_broadcast(&d->wdone);
	while (d->users)
		pthread_cond_wait(&d->idle, &d->wlock);
	pthread_mutex_unlock(&d->wlock);
}

int sd_enter(struct hms_softdev *d)
{
	int ret = 0;

	pthread_mutex_lock(&d->wlock);
	if (d->stop)
		ret = -ESHUTDOWN;
	else
		d->users++;
	pthread_mutex_unlock(&d->wlock);
	/* See what the application changed before this operation: its
	 * MADV_DONTNEED must not discard what the operation writes.  In a
	 * fork child the device is the parent's: -ECHILD. */
	if (!ret && hms_sync(d->h) == -ECHILD) {
		sd_leave(d);
		ret = -ECHILD;
	}
	return ret;
}

void sd_leave(struct hms_softdev *d)
{
	pthread_mutex_lock(&d->wlock);
	if (--d->users == 0)
		pthread_cond_broadcast(&d->idle);
	pthread_mutex_unlock(&d->wlock);
}

static void sd_mirror_release(struct hms_mirror *m)
{
	/* The address space goes away (hms_close): operations in progress
	 * finish while hms still serves their faults; no new one starts. */
	sd_quiesce(hms_mirror_priv(m));
}

static const struct hms_mirror_ops sd_mirror_ops = {
	.sync = sd_mirror_sync,
	.release = sd_mirror_release,
};

/* ---- topology ------------------------------------------------------------------- */

static void sd_topology_add(struct hms_softdev *d)
{
	struct hms_topology *t;
	const struct hms_object *o;
	hms_uid targets[64];
	size_t n = 0;
	struct hms_initiator_desc ini = { .name = d->name, .kind = HMS_INITIATOR_DEVICE,
					  .numa_node = HMS_NONE,
					  .note = "software device (hms softdev)" };
	struct hms_link_desc link = {
		.name = d->name,
		.initiators = &d->initiator,
		.ninitiators = 1,
		.perf = { HMS_PERF_UNKNOWN, HMS_PERF_UNKNOWN, HMS_PERF_UNKNOWN, HMS_PERF_UNKNOWN },
		.note = "software device: its memory and the system memory it reaches "
			"in place; no figures measured",
	};

	if (hms_initiator_add(d->h, &ini, &d->initiator))
		return;
	targets[n++] = hms_devmem_target(d->dm);
	if (hms_topology_get(d->h, &t) == 0) {
		hms_topology_for_each(t, HMS_OBJECT_TARGET, o) {
			struct hms_target_info ti;

			if (n < 64 && hms_target_info(o, &ti) == 0 && ti.numa_node != HMS_NONE)
				targets[n++] = hms_object_uid(o);
		}
		hms_topology_put(t);
	}
	link.targets = targets;
	link.ntargets = n;
	if (targets[0])
		hms_link_add(d->h, &link, &d->link);
}

/* ---- create / destroy ----------------------------------------------------------- */

static void sd_free(struct hms_softdev *d)
{
	if (d->pool && d->pool != MAP_FAILED)
		munmap(d->pool, d->npages << SD_SHIFT);
	sd_pt_free(&d->pt);
	free(d->free);
	free(d->threads);
	pthread_rwlock_destroy(&d->exec);
	pthread_mutex_destroy(&d->launch_lock);
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->wlock);
	pthread_cond_destroy(&d->wcond);
	pthread_cond_destroy(&d->wdone);
	pthread_cond_destroy(&d->idle);
	free(d);
}

static void sd_stop_workers(struct hms_softdev *d)
{
	sd_quiesce(d);
	for (unsigned i = 0; i < d->nthreads; i++)
		pthread_join(d->threads[i], NULL);
	d->nthreads = 0;
}

/* hms_close() with the device still attached: every page is home. */
static void sd_release(struct hms_devmem *dm)
{
	struct hms_softdev *d = hms_devmem_priv(dm);

	sd_stop_workers(d);
	if (d->iv)
		hms_interval_remove(d->iv);
	if (d->mirror)
		hms_mirror_unregister(d->mirror);
	sd_free(d);
}

static const struct hms_devmem_ops sd_devmem_ops = {
	.migrate_to_ram = sd_migrate_to_ram,
	.page_free = sd_page_free,
	.release = sd_release,
	.migrate_to_device = sd_migrate_to_device,
};

static int sd_start_workers(struct hms_softdev *d, unsigned n)
{
	d->threads = calloc(n, sizeof(*d->threads));
	if (!d->threads)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		int ret = hms__inject(HMS_INJ_THREAD) ? EAGAIN
							: pthread_create(&d->threads[i], NULL, sd_worker, d);

		if (ret) {
			sd_stop_workers(d);
			return -ret;
		}
		d->nthreads++;
	}
	/* Return once they run: a fork() must not catch one inside its
	 * start-up (see hms__uffd_start). */
	pthread_mutex_lock(&d->wlock);
	while (d->running < d->nthreads)
		pthread_cond_wait(&d->wdone, &d->wlock);
	pthread_mutex_unlock(&d->wlock);
	return 0;
}

SD_API int hms_softdev_create(struct hms *h, const struct hms_softdev_config *cfg,
			      struct hms_softdev **out)
{
	struct hms_softdev_config c = { sizeof(c), 64UL << 20, 2, NULL };
	struct hms_devmem_desc desc = { 0 };
	struct hms_softdev *d;
	int ret;

	if (!h || !out)
		return -EINVAL;
	if (cfg) {
		if (cfg->size && cfg->size < sizeof(c))
			return -EINVAL;
		if (cfg->pool_bytes)
			c.pool_bytes = cfg->pool_bytes;
		if (cfg->nthreads)
			c.nthreads = cfg->nthreads;
		c.name = cfg->name;
	}
	/* Checked before rounding up, which would wrap SIZE_MAX to 0. */
	if (c.pool_bytes > ((size_t)UINT32_MAX << SD_SHIFT) || c.nthreads > 256)
		return -EINVAL;
	c.pool_bytes = (c.pool_bytes + SD_PAGE - 1) & ~(SD_PAGE - 1);
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->h = h;
	pthread_mutex_init(&d->lock, NULL);
	d->pt.drop = sd_replica_drop;
	d->pt.drop_arg = d;
	pthread_mutex_init(&d->wlock, NULL);
	pthread_cond_init(&d->wcond, NULL);
	pthread_cond_init(&d->wdone, NULL);
	pthread_cond_init(&d->idle, NULL);
	pthread_rwlock_init(&d->exec, NULL);
	pthread_mutex_init(&d->launch_lock, NULL);
	if (c.name)
		snprintf(d->name, sizeof(d->name), "%s", c.name);
	else
		snprintf(d->name, sizeof(d->name), "softdev%u",
			 atomic_fetch_add(&softdev_count, 1));
	d->npages = c.pool_bytes >> SD_SHIFT;
	d->pool = mmap(NULL, c.pool_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	d->free = malloc(d->npages * sizeof(*d->free));
	if (d->pool == MAP_FAILED || !d->free) {
		sd_free(d);
		return -ENOMEM;
	}
	/* Hand out low pages first: a stack popped from the end. */
	for (uint64_t i = 0; i < d->npages; i++)
		d->free[i] = (uint32_t)(d->npages - 1 - i);
	d->nfree = d->npages;

	desc.name = d->name;
	desc.npages = d->npages;
	desc.owner = d;
	desc.kind = HMS_DEVMEM_PRIVATE;
	ret = hms_devmem_add(h, &desc, &sd_devmem_ops, d, &d->dm);
	if (ret) {
		sd_free(d);
		return ret;
	}
	d->first = hms_devmem_pfn_first(d->dm);
	ret = hms_interval_insert(h, 0, UINTPTR_MAX, &sd_interval_ops, d, &d->iv);
	if (!ret)
		ret = hms_mirror_register(h, &sd_mirror_ops, d, &d->mirror);
	if (!ret)
		ret = sd_start_workers(d, c.nthreads);
	if (ret) {
		hms_softdev_destroy(d);
		return ret;
	}
	sd_topology_add(d);
	*out = d;
	return 0;
}

SD_API void hms_softdev_destroy(struct hms_softdev *d)
{
	if (!d)
		return;
	/* In a fork child the device is the parent's, its workers are not
	 * there to join (they hung this): the child's copy just goes, as
	 * its context's does in hms_close() (tests/fork_child_calls). */
	if (hms_sync(d->h) == -ECHILD)
		return;
	sd_stop_workers(d);
	/* Every page comes back before the memory goes. */
	if (d->dm && hms_devmem_remove(d->dm)) {
		/* Could not bring everything back: keep the memory attached so
		 * nothing is lost; hms_close() finishes the job. */
		return;
	}
	if (d->link)
		hms_object_remove(d->h, d->link);
	if (d->initiator)
		hms_object_remove(d->h, d->initiator);
	if (d->iv)
		hms_interval_remove(d->iv);
	if (d->mirror)
		hms_mirror_unregister(d->mirror);
	sd_free(d);
}

SD_API hms_uid hms_softdev_target(const struct hms_softdev *d)
{
	return d ? hms_devmem_target(d->dm) : 0;
}

SD_API hms_uid hms_softdev_initiator(const struct hms_softdev *d)
{
	return d ? d->initiator : 0;
}

SD_API size_t hms_softdev_pages_used(const struct hms_softdev *d)
{
	size_t used;

	if (!d)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&d->lock);
	used = d->npages - d->nfree;
	pthread_mutex_unlock((pthread_mutex_t *)&d->lock);
	return used;
}

SD_API void hms_softdev_fail_alloc(struct hms_softdev *d, unsigned n)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->fail_alloc = n;
	pthread_mutex_unlock(&d->lock);
}
