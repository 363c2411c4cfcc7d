/* SPDX-License-Identifier: MIT */
/*
 * softdev_ops.c - what the software device does: read and write through
 * its page table (faulting with hms_range_fault() what it does not
 * mirror), snapshot, migrate, exclusive access, release, and launch of
 * kernels on its worker threads.
 *
 * Data paths: pages in its own memory are copied with memcpy; system pages
 * are reached as a DMA engine reaches them (hms_user_read/write), with the
 * CPU's protection, missing pages faulting into hms like any access.  A
 * failed copy means the page moved or lost permission since it was
 * mirrored: the entry is dropped and the page faulted again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "softdev.h"

#define CHUNK_PAGES 512 /* range faults per call: 2 MiB */

/*
 * hms_range_fault() said -EBUSY (an invalidation raced it): try again?
 * For at least RETRY_MIN tries and RETRY_MS milliseconds from the first
 * (*t0, set at the first call), as the kernel's test driver gives
 * hmm_range_fault() a second: another device's placements invalidate
 * the whole mirror, and did so for longer than a count of quick tries
 * lasts (two softdevs reading a range bound to both, each placement one
 * page then, gave -EBUSY).
 */
#define RETRY_MIN 1000
#define RETRY_MS 1000

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static bool sd_retry(unsigned tries, long *t0)
{
	if (!tries)
		*t0 = now_ms();
	return tries < RETRY_MIN || now_ms() - *t0 < RETRY_MS;
}

static int check_cmd(struct hms_softdev *d, const struct hms_softdev_cmd *cmd, bool buf)
{
	if (!d || !cmd || !cmd->npages || (cmd->addr & (SD_PAGE - 1)) || (buf && !cmd->buf) ||
	    cmd->npages > (UINTPTR_MAX >> SD_SHIFT) ||
	    cmd->addr + (cmd->npages << SD_SHIFT) < cmd->addr)
		return -EINVAL;
	return 0;
}

/* ---- faulting into the device page table ------------------------------------- */

static bool user_copy(void *local, uintptr_t remote, size_t len, bool write);

/*
 * Replicas: pages hms marked HMS_PFN_REPLICA are copied into pool pages
 * (rep[i]: pool index + 1, 0 for none).  The copy is made before the
 * sequence check: an invalidation that raced it makes the caller retry,
 * and none can be missed after (it clears the entry).  A full pool just
 * means no replica: the page is used in place.
 */
static void sd_replicas_copy(struct hms_softdev *d, uintptr_t cs, uintptr_t ce,
			     const uint64_t *pfns, uint32_t *rep)
{
	size_t n = (ce - cs) >> SD_SHIFT;

	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < n; i++) {
		hms_pfn pfn = 0;

		if ((pfns[i] & HMS_PFN_REPLICA) && !(pfns[i] & HMS_PFN_SPECIAL))
			pfn = sd_alloc_locked(d);
		rep[i] = pfn ? (uint32_t)(pfn - d->first + 1) : 0;
	}
	pthread_mutex_unlock(&d->lock);
	for (size_t i = 0; i < n; i++) {
		if (rep[i] && !user_copy(d->pool + ((uint64_t)(rep[i] - 1) << SD_SHIFT),
					   cs + (i << SD_SHIFT), SD_PAGE, false)) {
			pthread_mutex_lock(&d->lock);
			d->free[d->nfree++] = rep[i] - 1;
			pthread_mutex_unlock(&d->lock);
			rep[i] = 0;
		}
	}
}

static void sd_replicas_free_locked(struct hms_softdev *d, size_t n, uint32_t *rep)
{
	for (size_t i = 0; i < n; i++)
		if (rep[i])
			d->free[d->nfree++] = rep[i] - 1;
}

/*
 * Fault [start, end) for the device and record the result in its page
 * table; pages outside managed areas are not recorded (nothing would
 * invalidate them) but flagged in inplace[] (indexed from base).
 */
static int sd_fault(struct hms_softdev *d, uintptr_t start, uintptr_t end, bool write,
		    uintptr_t base, uint8_t *inplace)
{
	uint64_t pfns[CHUNK_PAGES];
	uint32_t rep[CHUNK_PAGES];

	for (uintptr_t cs = start; cs < end;) {
		uintptr_t ce = end - cs > (CHUNK_PAGES << SD_SHIFT) ? cs + (CHUNK_PAGES << SD_SHIFT) : end;
		struct hms_range r = {
			.interval = d->iv, .start = cs, .end = ce, .pfns = pfns,
			.default_flags = HMS_PFN_REQ_FAULT | (write ? HMS_PFN_REQ_WRITE : 0),
			.dev_private_owner = d,
		};
		long t0 = 0;
		int ret;

		for (unsigned tries = 0;; tries++) {
			struct sd_seq seq = sd_seq_begin(d);

			r.notifier_seq = seq.iv;
			ret = hms_range_fault(d->h, &r);
			if (ret == -EBUSY && sd_retry(tries, &t0))
				continue;
			if (ret)
				return ret;
			sd_replicas_copy(d, cs, ce, pfns, rep);
			pthread_mutex_lock(&d->lock);
			if (sd_seq_valid_locked(d, seq))
				break;
			sd_replicas_free_locked(d, (ce - cs) >> SD_SHIFT, rep);
			pthread_mutex_unlock(&d->lock);
		}
		/* Lock held: program the device page table. */
		for (uintptr_t a = cs; a < ce; a += SD_PAGE) {
			uint64_t e = pfns[(a - cs) >> SD_SHIFT], ent;

			if (e & HMS_PFN_SPECIAL) {
				inplace[(a - base) >> SD_SHIFT] = 1;
				continue;
			}
			ent = SD_V | ((e & HMS_PFN_WRITE) ? SD_W : 0);
			if (e & HMS_PFN_DEVICE_PRIVATE)
				ent |= SD_D | ((uint64_t)((e & HMS_PFN_PFN_MASK) - d->first) << 12);
			else if (rep[(a - cs) >> SD_SHIFT])
				ent = SD_V | SD_D | SD_R |
				      ((uint64_t)(rep[(a - cs) >> SD_SHIFT] - 1) << 12);
			sd_pt_set(&d->pt, a >> SD_SHIFT, ent);
		}
		pthread_mutex_unlock(&d->lock);
		cs = ce;
	}
	return 0;
}

/* ---- copies ---------------------------------------------------------------------- */

static bool user_copy(void *local, uintptr_t remote, size_t len, bool write)
{
	ssize_t n = write ? hms_user_write((void *)remote, local, len)
			  : hms_user_read(local, (const void *)remote, len);

	return n == (ssize_t)len;
}

/*
 * Device memory (the entry e at *pos has SD_D; d->lock held, so no page
 * can go): copy it and the device pages after it, up to DEV_RUN pages,
 * one memcpy per run of adjacent pool pages.  One lock hold per run, not
 * per page: the lock's round trip cost as much as a 4 KiB copy.  64
 * pages (256 KiB, some 25 us of copying) keep invalidations, which wait
 * for the lock, as short a wait as 512 did not, at the same speed
 * (`hms bench replicate`: 18-19 ms a round either way).
 */
#define DEV_RUN 64

static void sd_copy_run(struct hms_softdev *d, char *buf, uint64_t from, uint64_t to, uint64_t idx,
			bool write)
{
	char *p = d->pool + (idx << SD_SHIFT), *b = buf + (from << SD_SHIFT);

	if (write)
		memcpy(p, b, (to - from) << SD_SHIFT);
	else
		memcpy(b, p, (to - from) << SD_SHIFT);
}

static void sd_copy_local_locked(struct hms_softdev *d, struct hms_softdev_cmd *cmd,
				 uint64_t *pos, bool write, const uint8_t *inplace, uint64_t e)
{
	uint64_t vpn = cmd->addr >> SD_SHIFT, end = *pos + DEV_RUN;
	uint64_t from = *pos, idx = SD_IDX(e); /* the run of adjacent pool pages */

	if (end > cmd->npages)
		end = cmd->npages;
	for ((*pos)++; *pos < end && !inplace[*pos]; (*pos)++) {
		uint64_t f = sd_pt_get(&d->pt, vpn + *pos);

		if (!(f & SD_V) || !(f & SD_D) || (write && !(f & SD_W)))
			break;
		if (SD_IDX(f) != idx + (*pos - from)) {
			sd_copy_run(d, cmd->buf, from, *pos, idx, write);
			from = *pos;
			idx = SD_IDX(f);
		}
	}
	sd_copy_run(d, cmd->buf, from, *pos, idx, write);
}

/*
 * Copy as many pages from *pos on as the page table allows.  Returns 0
 * when done, 1 when the page at *pos needs a fault, 2 when it needs one
 * because the kernel refused the copy, -errno on failure.
 */
static int sd_copy(struct hms_softdev *d, struct hms_softdev_cmd *cmd, uint64_t *pos,
		   bool write, const uint8_t *inplace)
{
	char *buf = cmd->buf;

	while (*pos < cmd->npages) {
		uintptr_t a = cmd->addr + (*pos << SD_SHIFT);
		uint64_t e, run = 1;

		if (inplace[*pos]) {
			if (!user_copy(buf + (*pos << SD_SHIFT), a, SD_PAGE, write))
				return write ? -EPERM : -EFAULT;
			(*pos)++;
			continue;
		}
		pthread_mutex_lock(&d->lock);
		e = sd_pt_get(&d->pt, a >> SD_SHIFT);
		if (!(e & SD_V) || (write && !(e & SD_W))) {
			pthread_mutex_unlock(&d->lock);
			return 1;
		}
		if (e & SD_D) {
			sd_copy_local_locked(d, cmd, pos, write, inplace, e);
			pthread_mutex_unlock(&d->lock);
			continue;
		}
		/* System memory: one kernel copy for the whole run. */
		while (*pos + run < cmd->npages && !inplace[*pos + run]) {
			uint64_t f = sd_pt_get(&d->pt, (a >> SD_SHIFT) + run);

			if (!(f & SD_V) || (f & SD_D) || (write && !(f & SD_W)))
				break;
			run++;
		}
		pthread_mutex_unlock(&d->lock);
		if (!user_copy(buf + (*pos << SD_SHIFT), a, run << SD_SHIFT, write)) {
			/* Moved or protected since: forget it, fault again. */
			pthread_mutex_lock(&d->lock);
			sd_pt_clear(&d->pt, a >> SD_SHIFT, (a >> SD_SHIFT) + run);
			pthread_mutex_unlock(&d->lock);
			return 2;
		}
		*pos += run;
	}
	return 0;
}

static int sd_rw(struct hms_softdev *d, struct hms_softdev_cmd *cmd, bool write)
{
	uint64_t pos = 0, stuck_at = UINT64_MAX;
	unsigned stuck = 0;
	uint8_t *inplace;
	int ret = check_cmd(d, cmd, true);

	if (ret)
		return ret;
	inplace = calloc(cmd->npages, 1);
	if (!inplace)
		return -ENOMEM;
	cmd->cpages = 0;
	cmd->faults = 0;
	for (;;) {
		ret = sd_copy(d, cmd, &pos, write, inplace);
		if (ret <= 0)
			break;
		/* The kernel refusing the same page again and again after faults
		 * hms said were done: it refuses the access (e.g. a raw mprotect
		 * behind hms' back).  A page that only moved away again (its
		 * entry invalidated: another device took it, say) is no reason
		 * to give up; hms_range_fault() bounds that (-EBUSY). */
		if (ret == 2 && pos == stuck_at && ++stuck > 8) {
			ret = write ? -EPERM : -EFAULT;
			break;
		}
		if (ret == 2 && pos != stuck_at) {
			stuck = 0;
			stuck_at = pos;
		}
		ret = sd_fault(d, cmd->addr + (pos << SD_SHIFT), cmd->addr + (cmd->npages << SD_SHIFT),
			       write, cmd->addr, inplace);
		if (ret)
			break;
		cmd->faults++;
	}
	free(inplace);
	if (ret)
		return ret;
	cmd->cpages = cmd->npages;
	return 0;
}

SD_API int hms_softdev_read(struct hms_softdev *d, struct hms_softdev_cmd *cmd)
{
	int ret = d ? sd_enter(d) : -EINVAL;

	if (ret)
		return ret;
	ret = sd_rw(d, cmd, false);
	sd_leave(d);
	return ret;
}

SD_API int hms_softdev_write(struct hms_softdev *d, struct hms_softdev_cmd *cmd)
{
	int ret = d ? sd_enter(d) : -EINVAL;

	if (ret)
		return ret;
	ret = sd_rw(d, cmd, true);
	sd_leave(d);
	return ret;
}

/* ---- snapshot -------------------------------------------------------------------- */

static uint8_t snap_byte(struct hms_softdev *d, uint64_t e)
{
	uint8_t b;

	(void)d;
	if (e & HMS_PFN_ERROR)
		return HMS_SNAP_ERROR;
	if (!(e & HMS_PFN_VALID))
		return HMS_SNAP_NONE;
	if (e & HMS_PFN_DEVICE_PRIVATE)
		b = HMS_SNAP_DEV_PRIVATE_LOCAL; /* others' pages are not valid here */
	else if (e & HMS_PFN_ZERO)
		b = HMS_SNAP_ZERO;
	else
		b = HMS_SNAP_NONE;
	b |= (e & HMS_PFN_WRITE) ? HMS_SNAP_WRITE : HMS_SNAP_READ;
	if (((e & HMS_PFN_ORDER_MASK) >> HMS_PFN_ORDER_SHIFT) == 9)
		b |= HMS_SNAP_PMD;
	return b;
}

static int sd_snapshot(struct hms_softdev *d, struct hms_softdev_cmd *cmd)
{
	uint64_t pfns[CHUNK_PAGES];
	uint8_t *out;
	int ret = check_cmd(d, cmd, true);

	if (ret)
		return ret;
	out = cmd->buf;
	for (uint64_t i = 0; i < cmd->npages; i += CHUNK_PAGES) {
		uint64_t n = cmd->npages - i < CHUNK_PAGES ? cmd->npages - i : CHUNK_PAGES;
		struct hms_range r = {
			.interval = d->iv, .start = cmd->addr + (i << SD_SHIFT),
			.end = cmd->addr + ((i + n) << SD_SHIFT), .pfns = pfns,
			.dev_private_owner = d,
		};
		unsigned tries = 0;
		long t0 = 0;

		do {
			r.notifier_seq = hms_interval_read_begin(d->iv);
			ret = hms_range_fault(d->h, &r);
		} while (ret == -EBUSY && sd_retry(tries++, &t0));
		if (ret)
			return ret;
		for (uint64_t k = 0; k < n; k++)
			out[i + k] = snap_byte(d, pfns[k]);
	}
	cmd->cpages = cmd->npages;
	cmd->faults = 0;
	return 0;
}

/* ---- migration commands ------------------------------------------------------------- */

static uintptr_t batch_end(uintptr_t s, uintptr_t end)
{
	uintptr_t next = (s + HMS_MIGRATE_MAX_BYTES) & ~(HMS_MIGRATE_MAX_BYTES - 1);

	return next < end && next > s ? next : end;
}

/* The kernel test device's checks: every page managed and readable.
 * Asked 64 pages at a time; where that fails (not all of them managed),
 * one page.  The answer is known at the first page that differs from the
 * first managed one, so a huge range that is partly managed costs no more
 * than its managed part (an unmanaged one is still looked at page by
 * page: nothing in hms_driver.h says where the next area starts). */
static int sd_check_migratable(struct hms_softdev *d, const struct hms_softdev_cmd *cmd)
{
	struct hms_page_info info[64];
	uint64_t managed = 0;

	for (uint64_t i = 0, n; i < cmd->npages; i += n) {
		void *a = (void *)(uintptr_t)(cmd->addr + (i << SD_SHIFT));
		long r;

		n = cmd->npages - i < 64 ? cmd->npages - i : 64;
		r = hms_page_query(d->h, a, (size_t)n, info);
		if (r < 0 && n > 1) {
			n = 1;
			r = hms_page_query(d->h, a, 1, info);
		}
		if (r < 0 && managed)
			return -EINVAL; /* partly managed: known, stop looking */
		if (r < 0)
			continue; /* not managed (so far, none is) */
		if (managed < i)
			return -EINVAL; /* unmanaged pages before this one */
		for (uint64_t k = 0; k < n; k++)
			if (!(info[k].prot & PROT_READ))
				return -EINVAL;
		managed += n;
	}
	if (!managed)
		return -ENOENT;
	return managed < cmd->npages ? -EINVAL : 0;
}

/* *short_of_pool (may be NULL): set when the pool could not take a page
 * asked for, whatever the return. */
static int sd_cmd_migrate_to_device(struct hms_softdev *d, struct hms_softdev_cmd *cmd,
				    bool *short_of_pool)
{
	uintptr_t end;
	long moved = 0;
	unsigned long selected = 0;
	bool nomem = false, *np = short_of_pool ? short_of_pool : &nomem;
	int ret = check_cmd(d, cmd, false);

	if (!ret)
		ret = sd_check_migratable(d, cmd);
	if (ret)
		return ret;
	end = cmd->addr + (cmd->npages << SD_SHIFT);
	for (uintptr_t s = cmd->addr; s < end; s = batch_end(s, end)) {
		long n = sd_migrate_batch_to_device(d, s, batch_end(s, end), np, &selected);

		if (n < 0)
			return (int)n;
		moved += n;
	}
	if (!selected)
		return -ENOENT; /* nothing movable: already on a device, or busy */
	if (!moved && *np)
		return -ENOMEM;
	cmd->cpages = (uint64_t)moved;
	cmd->faults = 0;
	return 0;
}

static int sd_cmd_migrate_to_system(struct hms_softdev *d, struct hms_softdev_cmd *cmd)
{
	uintptr_t end;
	long moved = 0;
	int ret = check_cmd(d, cmd, false);

	if (ret)
		return ret;
	end = cmd->addr + (cmd->npages << SD_SHIFT);
	for (uintptr_t s = cmd->addr; s < end; s = batch_end(s, end)) {
		long n = sd_migrate_batch_to_system(d, s, batch_end(s, end), false);

		if (n > 0)
			moved += n;
	}
	cmd->cpages = (uint64_t)moved;
	cmd->faults = 0;
	return 0;
}

SD_API long hms_softdev_release(struct hms_softdev *d)
{
	long ret = d ? sd_enter(d) : -EINVAL;

	if (ret)
		return ret;
	ret = hms_devmem_evict(d->dm);
	/* The pool is empty only once the replicas go too (and with them
	 * every mapping: the device faults again what it needs). */
	pthread_mutex_lock(&d->lock);
	sd_pt_clear(&d->pt, 0, UINT64_MAX >> SD_SHIFT);
	pthread_mutex_unlock(&d->lock);
	sd_leave(d);
	return ret;
}

/* ---- exclusive access ---------------------------------------------------------------- */

/* Fault [start, end) home (others' pages back, write access resolved). */
static int sd_fault_home(struct hms_softdev *d, uintptr_t start, uintptr_t end, bool write)
{
	uint64_t pfns[CHUNK_PAGES];

	for (uintptr_t cs = start; cs < end;) {
		uintptr_t ce = end - cs > (CHUNK_PAGES << SD_SHIFT) ? cs + (CHUNK_PAGES << SD_SHIFT) : end;
		struct hms_range r = { .start = cs, .end = ce, .pfns = pfns,
				       .default_flags = HMS_PFN_REQ_FAULT |
							(write ? HMS_PFN_REQ_WRITE : 0),
				       .dev_private_owner = d };
		int ret = hms_range_fault(d->h, &r);

		if (ret)
			return ret;
		cs = ce;
	}
	return 0;
}

static int sd_exclusive(struct hms_softdev *d, struct hms_softdev_cmd *cmd)
{
	uintptr_t end;
	long n;
	int ret = check_cmd(d, cmd, false);

	if (ret)
		return ret;
	end = cmd->addr + (cmd->npages << SD_SHIFT);
	/* Bring the pages home writable first (this may revoke an earlier
	 * grant and move other devices' pages: invalidations that must not
	 * hit the entries recorded next). */
	ret = sd_fault_home(d, cmd->addr, end, true);
	if (ret)
		return ret;
	/* Record the grant before taking it: any invalidation from now on (a
	 * CPU access revoking it) clears the entries, so they never claim
	 * more than we have. */
	pthread_mutex_lock(&d->lock);
	for (uintptr_t a = cmd->addr; a < end; a += SD_PAGE)
		sd_pt_set(&d->pt, a >> SD_SHIFT, SD_V | SD_W | SD_A);
	pthread_mutex_unlock(&d->lock);
	n = hms_make_exclusive(d->h, cmd->addr, end, d);
	if (n < 0) {
		pthread_mutex_lock(&d->lock);
		sd_pt_clear(&d->pt, cmd->addr >> SD_SHIFT, end >> SD_SHIFT);
		pthread_mutex_unlock(&d->lock);
		return (int)n;
	}
	/* What the device sees, for the caller to check (reads keep access). */
	if (cmd->buf && !user_copy(cmd->buf, cmd->addr, cmd->npages << SD_SHIFT, false))
		return -EFAULT;
	cmd->cpages = (uint64_t)n;
	cmd->faults = 0;
	return 0;
}

static int sd_check_exclusive(struct hms_softdev *d, struct hms_softdev_cmd *cmd)
{
	int ret = check_cmd(d, cmd, false);

	if (ret)
		return ret;
	pthread_mutex_lock(&d->lock);
	for (uint64_t i = 0; i < cmd->npages && !ret; i++)
		if (sd_pt_get(&d->pt, (cmd->addr >> SD_SHIFT) + i) & SD_A)
			ret = -EPERM;
	pthread_mutex_unlock(&d->lock);
	return ret;
}

/* ---- launch ------------------------------------------------------------------------------ */

struct sd_work {
	hms_softdev_kernel_fn fn;
	void *arg;
	char **pages;
	uint64_t n;
	uint64_t next;   /* wlock */
	unsigned active; /* workers inside; wlock */
};

void *sd_worker(void *arg)
{
	struct hms_softdev *d = arg;

	pthread_mutex_lock(&d->wlock);
	d->running++;
	pthread_cond_broadcast(&d->wdone);
	for (;;) {
		struct sd_work *w = d->work;

		if (d->stop)
			break;
		if (!w || w->next >= w->n) {
			pthread_cond_wait(&d->wcond, &d->wlock);
			continue;
		}
		w->active++;
		while (w->next < w->n) {
			uint64_t i = w->next;
			uint64_t cnt = w->n - i < 16 ? w->n - i : 16;

			w->next += cnt;
			pthread_mutex_unlock(&d->wlock);
			for (uint64_t k = i; k < i + cnt; k++)
				w->fn(w->pages[k], k, w->arg);
			pthread_mutex_lock(&d->wlock);
		}
		w->active--;
		pthread_cond_broadcast(&d->wdone);
	}
	pthread_mutex_unlock(&d->wlock);
	return NULL;
}

/*
 * Device addresses of every page if all are in our memory, recorded in
 * our page table under the interval sequence (no lock held: this calls
 * hms_range_fault()).
 */
static int sd_translate(struct hms_softdev *d, const struct hms_softdev_cmd *cmd, char **pages)
{
	uint64_t pfns[CHUNK_PAGES];

	for (uint64_t i = 0; i < cmd->npages; i += CHUNK_PAGES) {
		uint64_t n = cmd->npages - i < CHUNK_PAGES ? cmd->npages - i : CHUNK_PAGES;
		struct hms_range r = { .interval = d->iv, .start = cmd->addr + (i << SD_SHIFT),
				       .end = cmd->addr + ((i + n) << SD_SHIFT),
				       .pfns = pfns, .dev_private_owner = d };
		struct sd_seq seq = sd_seq_begin(d);
		int ret;

		r.notifier_seq = seq.iv;
		ret = hms_range_fault(d->h, &r);
		if (ret)
			return ret == -EBUSY ? -EAGAIN : ret;
		pthread_mutex_lock(&d->lock);
		if (!sd_seq_valid_locked(d, seq)) {
			pthread_mutex_unlock(&d->lock);
			return -EAGAIN;
		}
		for (uint64_t k = 0; k < n; k++) {
			uint64_t idx;

			if (!(pfns[k] & HMS_PFN_DEVICE_PRIVATE)) {
				pthread_mutex_unlock(&d->lock);
				return -EAGAIN;
			}
			idx = (pfns[k] & HMS_PFN_PFN_MASK) - d->first;
			pages[i + k] = d->pool + (idx << SD_SHIFT);
			sd_pt_set(&d->pt, (r.start >> SD_SHIFT) + k,
				  SD_V | SD_D | (idx << 12) | ((pfns[k] & HMS_PFN_WRITE) ? SD_W : 0));
		}
		pthread_mutex_unlock(&d->lock);
	}
	return 0;
}

/* Still all ours (exec held, so nothing can migrate them off now)?  If
 * so, the kernel has begun (sd_kernel_end() when it is done). */
static bool sd_still_resident(struct hms_softdev *d, const struct hms_softdev_cmd *cmd,
			      char **pages)
{
	bool ok = true;

	pthread_mutex_lock(&d->lock);
	for (uint64_t i = 0; i < cmd->npages && ok; i++) {
		uint64_t e = sd_pt_get(&d->pt, (cmd->addr >> SD_SHIFT) + i);

		ok = (e & SD_D) && d->pool + (SD_IDX(e) << SD_SHIFT) == pages[i];
	}
	/* From here a page hms gives back waits for the kernel's end (an
	 * invalidation clears its entry first, so none left since the check). */
	if (ok)
		sd_kernel_begin_locked(d);
	pthread_mutex_unlock(&d->lock);
	return ok;
}

static int sd_launch(struct hms_softdev *d, struct hms_softdev_cmd *cmd,
		     hms_softdev_kernel_fn fn, void *arg)
{
	struct hms_softdev_cmd mig;
	struct sd_work w = { 0 };
	long t0 = 0;
	bool refused = false; /* a round the pool or wp_async refused */
	int ret = check_cmd(d, cmd, false);

	if (ret)
		return ret;
	if (!fn)
		return -EINVAL;
	/* (A stop is seen under wlock: sd_enter() before us, the wait for
	 * the workers below.  Reading it here unlocked raced sd_quiesce():
	 * ThreadSanitizer in teardown_inflight.) */
	if (!d->nthreads)
		return -ESHUTDOWN;
	ret = sd_check_migratable(d, cmd);
	if (ret)
		return ret;
	w.pages = malloc(cmd->npages * sizeof(*w.pages));
	if (!w.pages)
		return -ENOMEM;
	pthread_mutex_lock(&d->launch_lock);
	for (unsigned tries = 0;; tries++) {
		bool short_of_pool = false;

		/* Kernels read and write: the CPU must allow writing, and pages
		 * in other devices' memory come home before they come here. */
		ret = sd_fault_home(d, cmd->addr, cmd->addr + (cmd->npages << SD_SHIFT), true);
		if (ret)
			goto out;
		mig = *cmd;
		ret = sd_cmd_migrate_to_device(d, &mig, &short_of_pool);
		if (ret && ret != -ENOMEM && ret != -ENOENT)
			goto out;
		hms__test_hook_run(d->h, HMS_HOOK_LAUNCH_MIGRATED, cmd->addr,
				   cmd->npages << SD_SHIFT);
		/* The pool short, or wp_async (under which populated pages
		 * never come to a device): a page missing below was refused.
		 * Otherwise it was taken away since (another device, a CPU
		 * fault), or another device had it again before this
		 * migration (-ENOENT). */
		if (short_of_pool || hms_wp_async(d->h))
			refused = true;
		ret = sd_translate(d, cmd, w.pages);
		if (!ret) {
			pthread_rwlock_rdlock(&d->exec);
			if (sd_still_resident(d, cmd, w.pages))
				break;
			pthread_rwlock_unlock(&d->exec);
			ret = -EAGAIN;
		}
		if (ret != -EAGAIN)
			goto out;
		/* Taken away: another round, for as long as a range fault
		 * retries; refused (the pool short, or pages that cannot come,
		 * as under hms_wp_async): three rounds. */
		if (!refused && sd_retry(tries, &t0))
			continue;
		if (!refused) {
			ret = -EBUSY; /* taken away round after round */
			goto out;
		}
		if (tries >= 3) {
			ret = -ENOMEM; /* the pool cannot hold the whole range */
			goto out;
		}
	}
	w.fn = fn;
	w.arg = arg;
	w.n = cmd->npages;
	pthread_mutex_lock(&d->wlock);
	d->work = &w;
	pthread_cond_broadcast(&d->wcond);
	while ((w.next < w.n && !d->stop) || w.active)
		pthread_cond_wait(&d->wdone, &d->wlock);
	d->work = NULL;
	ret = w.next < w.n ? -ESHUTDOWN : 0;
	pthread_mutex_unlock(&d->wlock);
	SD_TSAN_RELEASE(&d->tsan_kernels);
	sd_kernel_end(d);
	pthread_rwlock_unlock(&d->exec);
	if (!ret) {
		cmd->cpages = cmd->npages;
		cmd->faults = 0;
	}
out:
	pthread_mutex_unlock(&d->launch_lock);
	free(w.pages);
	return ret;
}

SD_API int hms_softdev_snapshot(struct hms_softdev *d, struct hms_softdev_cmd *cmd)
{
	int ret = d ? sd_enter(d) : -EINVAL;

	if (ret)
		return ret;
	ret = sd_snapshot(d, cmd);
	sd_leave(d);
	return ret;
}

SD_API int hms_softdev_migrate_to_device(struct hms_softdev *d, struct hms_softdev_cmd *cmd)
{
	int ret = d ? sd_enter(d) : -EINVAL;

	if (ret)
		return ret;
	ret = sd_cmd_migrate_to_device(d, cmd, NULL);
	sd_leave(d);
	return ret;
}

SD_API int hms_softdev_migrate_to_system(struct hms_softdev *d, struct hms_softdev_cmd *cmd)
{
	int ret = d ? sd_enter(d) : -EINVAL;

	if (ret)
		return ret;
	ret = sd_cmd_migrate_to_system(d, cmd);
	sd_leave(d);
	return ret;
}

SD_API int hms_softdev_exclusive(struct hms_softdev *d, struct hms_softdev_cmd *cmd)
{
	int ret = d ? sd_enter(d) : -EINVAL;

	if (ret)
		return ret;
	ret = sd_exclusive(d, cmd);
	sd_leave(d);
	return ret;
}

SD_API int hms_softdev_check_exclusive(struct hms_softdev *d, struct hms_softdev_cmd *cmd)
{
	int ret = d ? sd_enter(d) : -EINVAL;

	if (ret)
		return ret;
	ret = sd_check_exclusive(d, cmd);
	sd_leave(d);
	return ret;
}

SD_API int hms_softdev_launch(struct hms_softdev *d, struct hms_softdev_cmd *cmd,
			      hms_softdev_kernel_fn fn, void *arg)
{
	int ret = d ? sd_enter(d) : -EINVAL;

	if (ret)
		return ret;
	ret = sd_launch(d, cmd, fn, arg);
	sd_leave(d);
	return ret;
}
