/* SPDX-License-Identifier: MIT */
/*
 * stress_ops.c - the operations of `hms stress`: each picks a span of
 * regions, locks it (for reading when it must not change the bytes, for
 * writing when it does), runs one hms or kernel call, checks the result
 * and the bytes against the shadow, and records itself in the history of
 * every page it touched.  Fork is in stress_run.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "inject.h"
#include "stress.h"

#define RW (PROT_READ | PROT_WRITE)

static const char *const op_names[OP_COUNT] = {
	[OP_CPU_READ] = "cpu-read",       [OP_CPU_WRITE] = "cpu-write",
	[OP_DEV_READ] = "dev-read",       [OP_DEV_WRITE] = "dev-write",
	[OP_LAUNCH] = "dev-kernel",       [OP_MIGRATE_DEV] = "migrate-to-dev",
	[OP_MIGRATE_SYS] = "migrate-to-sys", [OP_RELEASE] = "dev-release",
	[OP_EXCLUSIVE] = "dev-exclusive", [OP_PREFAULT] = "prefault",
	[OP_PROTECT] = "protect",         [OP_DONTNEED] = "madv-dontneed",
	[OP_UNMAP] = "munmap",            [OP_MAP] = "mmap+manage",
	[OP_MREMAP] = "mremap",           [OP_SYS_WRITE] = "write(2)-from",
	[OP_SYS_READ] = "read(2)-into",   [OP_QUERY] = "page-query",
	[OP_BIND] = "bind",               [OP_BIND_DEFAULT] = "bind-default",
	[OP_HMS_MIGRATE] = "hms-migrate", [OP_FORK] = "fork",
	[OP_ADVISE] = "read-mostly",      [OP_DIRTY_SCAN] = "dirty-scan",
	[OP_GPU_MIGRATE] = "gpu-migrate",  [OP_GPU_MIGRATE_SYS] = "gpu-migrate-sys",
	[OP_GPU_WRITE] = "gpu-kernel-write", [OP_GPU_READ] = "gpu-kernel-read",
	[OP_HUGE_RENEW] = "huge-renew",   [OP_UNMANAGE] = "unmanage",
};

_Static_assert(OP_COUNT <= 32, "--skip keeps one bit per operation");

const char *st_op_name(int op)
{
	return op >= 0 && op < OP_COUNT && op_names[op] ? op_names[op] : "?";
}

/* Relative weights, out of the sum (fork is rare: it copies everything). */
static const unsigned op_weight[OP_COUNT] = {
	[OP_CPU_READ] = 150,    [OP_CPU_WRITE] = 150,  [OP_DEV_READ] = 100,
	[OP_DEV_WRITE] = 80,    [OP_LAUNCH] = 60,      [OP_MIGRATE_DEV] = 120,
	[OP_MIGRATE_SYS] = 50,  [OP_RELEASE] = 6,      [OP_EXCLUSIVE] = 25,
	[OP_PREFAULT] = 25,     [OP_PROTECT] = 40,     [OP_DONTNEED] = 25,
	[OP_UNMAP] = 15,        [OP_MAP] = 25,         [OP_MREMAP] = 20,
	[OP_SYS_WRITE] = 20,    [OP_SYS_READ] = 20,    [OP_QUERY] = 20,
	[OP_BIND] = 15,         [OP_BIND_DEFAULT] = 10, [OP_HMS_MIGRATE] = 30,
	[OP_FORK] = 2,          [OP_ADVISE] = 15,      [OP_DIRTY_SCAN] = 20,
	[OP_GPU_MIGRATE] = 40,  [OP_GPU_MIGRATE_SYS] = 20, [OP_GPU_WRITE] = 40,
	[OP_GPU_READ] = 40,     [OP_HUGE_RENEW] = 40,  [OP_UNMANAGE] = 10,
};

bool st_op_drawn(const struct stress_opts *o, int op)
{
	if (st_op_gpu(op))
		return o->gpu;
	return op != OP_HUGE_RENEW || o->huge;
}

/* ---- spans ---------------------------------------------------------------- */

static void lock_region(struct stress *s, size_t r, bool write)
{
	if (write)
		pthread_rwlock_wrlock(&s->reg[r].lock);
	else
		pthread_rwlock_rdlock(&s->reg[r].lock);
}

static void unlock_span(struct stress *s, const struct st_span *sp)
{
	for (unsigned i = sp->n; i-- > 0;)
		pthread_rwlock_unlock(&s->reg[sp->r + i].lock);
}

static bool region_fits(struct stress *s, size_t r, size_t first, uint8_t want)
{
	if (s->reg[r].state != want)
		return false;
	return want != REG_MAPPED || s->reg[r].seg == s->reg[first].seg;
}

/*
 * Locks a random span of 1 to ST_MAX_SPAN regions in state want (mapped
 * spans within one area) and picks its pages: all of them, or a random
 * run.  With --huge, an operation that may (block) takes the whole 2 MiB
 * block around its region, all its pages, always in even blocks (which
 * then stay in huge pages longer) and one time in four in odd ones: the
 * span then ends where the block's first area does.  Returns false (nothing locked)
 * when the first region does not fit.
 */
static bool span_lock(struct st_thread *t, bool write, uint8_t want, bool whole, bool block,
		      struct st_span *sp)
{
	struct stress *s = t->s;
	size_t r = st_below(t, (unsigned)s->nregions);
	unsigned n = st_below(t, 4) ? 1 : 1 + st_below(t, ST_MAX_SPAN), k = 0;

	if (block && s->o.huge && ((r / ST_BLOCK_REGIONS) % 2 == 0 || !st_below(t, 4))) {
		r -= r % ST_BLOCK_REGIONS;
		n = ST_BLOCK_REGIONS; /* nregions is a multiple of it */
		whole = true;
	}
	if (r + n > s->nregions)
		n = (unsigned)(s->nregions - r);
	for (unsigned i = 0; i < n; i++)
		lock_region(s, r + i, write);
	while (k < n && region_fits(s, r + k, r, want))
		k++;
	for (unsigned i = n; i-- > k;)
		pthread_rwlock_unlock(&s->reg[r + i].lock);
	if (!k)
		return false;
	if (k == ST_BLOCK_REGIONS)
		atomic_fetch_add(&s->block_ops, 1);
	sp->r = r;
	sp->n = k;
	sp->first = 0;
	sp->npages = k * ST_REGION_PAGES;
	if (!whole && st_below(t, 2)) {
		sp->first = st_below(t, sp->npages);
		sp->npages = 1 + st_below(t, sp->npages - sp->first);
	}
	return true;
}

static char *span_addr(struct stress *s, const struct st_span *sp)
{
	return st_addr(s, sp->r, sp->first);
}

static uint8_t *span_shadow(struct stress *s, const struct st_span *sp)
{
	return st_shadow(s, sp->r, sp->first);
}

static size_t span_len(const struct st_span *sp)
{
	return (size_t)sp->npages * HMS_PAGE_SIZE;
}

static uint8_t page_prot(struct stress *s, const struct st_span *sp, unsigned j)
{
	unsigned p = sp->first + j;

	return s->reg[sp->r + p / ST_REGION_PAGES].prot[p % ST_REGION_PAGES];
}

/* True if every page of the span has all of mask. */
static bool span_all(struct stress *s, const struct st_span *sp, int mask)
{
	for (unsigned j = 0; j < sp->npages; j++)
		if ((page_prot(s, sp, j) & mask) != mask)
			return false;
	return true;
}

/* True if some page of the span has none of mask. */
static bool span_any_lacks(struct stress *s, const struct st_span *sp, int mask)
{
	for (unsigned j = 0; j < sp->npages; j++)
		if (!(page_prot(s, sp, j) & mask))
			return true;
	return false;
}

static void record(struct stress *s, const struct st_span *sp, unsigned thread, int op, int dev,
		   long ret, uint64_t seq)
{
	struct st_hist e = { seq, (uint8_t)op, (uint8_t)thread, (int8_t)dev, 0, (int32_t)ret };

	st_hist_add(s, sp->r, sp->first, sp->npages, &e);
}

static void fill_random(struct st_thread *t, uint8_t *p, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t x = st_rand(t);

		memcpy(p + i, &x, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)st_rand(t);
}

static struct hms_softdev_cmd cmd_of(struct stress *s, const struct st_span *sp, void *buf)
{
	struct hms_softdev_cmd c = { (uint64_t)(uintptr_t)span_addr(s, sp), buf, sp->npages, 0, 0 };

	return c;
}

/* ---- CPU ------------------------------------------------------------------- */

/* Every readable page of the span, read by the CPU and compared; what
 * names the read in a mismatch report. */
static int check_readable(struct st_thread *t, struct st_span *sp, uint64_t seq, const char *what)
{
	struct stress *s = t->s;

	for (unsigned j = 0; j < sp->npages; j++) {
		struct st_span one = { sp->r, sp->n, sp->first + j, 1 };

		if (!(page_prot(s, sp, j) & PROT_READ))
			continue;
		memcpy(t->buf, span_addr(s, &one), HMS_PAGE_SIZE);
		if (st_compare(s, what, &one, t->buf, seq))
			return -1;
	}
	return 0;
}

static int op_cpu_read(struct st_thread *t, struct st_span *sp, uint64_t seq)
{
	return check_readable(t, sp, seq, "cpu read");
}

/* Writes a random run of bytes into each writable page: a memset, random
 * bytes, or a few scattered bytes. */
static int op_cpu_write(struct st_thread *t, struct st_span *sp, uint64_t seq)
{
	struct stress *s = t->s;

	(void)seq;
	for (unsigned j = 0; j < sp->npages; j++) {
		struct st_span one = { sp->r, sp->n, sp->first + j, 1 };
		volatile uint8_t *mem = (volatile uint8_t *)span_addr(s, &one);
		uint8_t *sh = span_shadow(s, &one);
		unsigned off = st_below(t, HMS_PAGE_SIZE);
		unsigned len = 1 + st_below(t, HMS_PAGE_SIZE - off);

		if (page_prot(s, sp, j) != RW)
			continue;
		st_written(s, sp->r, sp->first + j, 1);
		switch (st_below(t, 3)) {
		case 0:
			memset(sh + off, (int)st_rand(t), len);
			memcpy((void *)(mem + off), sh + off, len);
			break;
		case 1:
			fill_random(t, sh + off, len);
			memcpy((void *)(mem + off), sh + off, len);
			break;
		default:
			for (unsigned k = 0; k < 8; k++) {
				unsigned o = st_below(t, HMS_PAGE_SIZE);

				sh[o] = (uint8_t)st_rand(t);
				mem[o] = sh[o];
			}
		}
	}
	return 0;
}

/* ---- device ------------------------------------------------------------------ */

/* -ENOMEM ("out of memory", documented for every device call and for
 * hms_bind and hms_advise) while --inject makes allocations fail: a clean
 * refusal, not a finding. */
bool st_injected_nomem(long ret)
{
	return ret == -ENOMEM && hms__inject_hits(HMS_INJ_NOMEM) > 0;
}

/* A placement call's result: 0, a tolerated refusal (counted), or an error. */
static int placement_result(struct stress *s, const char *what, const struct st_span *sp, int ret,
			    uint64_t seq)
{
	if (st_injected_nomem(ret)) {
		atomic_fetch_add(&s->tolerated, 1);
		return 0;
	}
	return ret ? st_error(s, what, sp, ret, seq) : 0;
}

static int op_dev_read(struct st_thread *t, struct st_span *sp, int d, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	struct hms_softdev_cmd c = cmd_of(s, sp, t->buf);
	bool denied = span_any_lacks(s, sp, PROT_READ);
	int ret = hms_softdev_read(s->dev[d], &c);

	*res = ret;
	if (ret == -EBUSY || st_injected_nomem(ret)) {
		atomic_fetch_add(&s->tolerated, 1);
		return 0; /* (-ENOMEM may come before the permission check) */
	}
	if (denied)
		return ret == -EFAULT ? 0 : st_error(s, "dev read without read permission, "
						  "expected -EFAULT", sp, ret, seq);
	if (ret || c.cpages != sp->npages)
		return st_error(s, "dev read", sp, ret ? ret : (long)c.cpages, seq);
	return st_compare(s, "device read", sp, t->buf, seq);
}

/* After a failed device write each page holds the old or the new bytes. */
static int reconcile(struct stress *s, struct st_span *sp, const uint8_t *newb, uint64_t seq)
{
	for (unsigned j = 0; j < sp->npages; j++) {
		struct st_span one = { sp->r, sp->n, sp->first + j, 1 };
		const uint8_t *mem = (const uint8_t *)span_addr(s, &one);
		const uint8_t *nb = newb + (size_t)j * HMS_PAGE_SIZE;

		if (!memcmp(mem, nb, HMS_PAGE_SIZE)) {
			memcpy(span_shadow(s, &one), nb, HMS_PAGE_SIZE);
			st_written(s, one.r, one.first, 1);
		} else if (st_compare(s, "page after a failed device write (neither old nor new)",
				    &one, mem, seq))
			return -1;
	}
	return 0;
}

static bool span_any_has(struct stress *s, const struct st_span *sp, int mask)
{
	for (unsigned j = 0; j < sp->npages; j++)
		if (page_prot(s, sp, j) & mask)
			return true;
	return false;
}

/*
 * All pages writable: the write must succeed.  No page writable: it must
 * be refused with -EPERM (-EFAULT is also documented when a page cannot
 * even be read).  Mixed spans are skipped: the pages before the refused
 * one may be written, so the expected bytes would not be defined.
 */
static int op_dev_write(struct st_thread *t, struct st_span *sp, int d, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	struct hms_softdev_cmd c = cmd_of(s, sp, t->buf);
	bool all_rw = span_all(s, sp, RW);
	int ret;

	if (!all_rw && span_any_has(s, sp, PROT_WRITE))
		return 1;
	fill_random(t, t->buf, span_len(sp));
	ret = hms_softdev_write(s->dev[d], &c);
	*res = ret;
	if (!all_rw) {
		if (ret == -EPERM || (ret == -EFAULT && span_any_lacks(s, sp, PROT_READ)))
			return 0;
		if (st_injected_nomem(ret)) { /* no page is writable: none changed */
			atomic_fetch_add(&s->tolerated, 1);
			return 0;
		}
		return st_error(s, "dev write without write permission, expected -EPERM", sp,
				ret, seq);
	}
	if (!ret && c.cpages == sp->npages) {
		memcpy(span_shadow(s, sp), t->buf, span_len(sp));
		st_written(s, sp->r, sp->first, sp->npages);
		return 0;
	}
	if (ret == -EBUSY || st_injected_nomem(ret)) {
		atomic_fetch_add(&s->tolerated, 1);
		return reconcile(s, sp, t->buf, seq);
	}
	return st_error(s, "dev write", sp, ret ? ret : (long)c.cpages, seq);
}

struct st_kernel {
	uint8_t mul, add;
};

/* The device kernel: every byte becomes byte * mul + add + page index. */
static void st_kernel_fn(void *page, uint64_t index, void *arg)
{
	const struct st_kernel *k = arg;
	uint8_t *p = page, add = (uint8_t)(k->add + index);

	for (size_t i = 0; i < HMS_PAGE_SIZE; i++)
		p[i] = (uint8_t)(p[i] * k->mul + add);
}

static int op_launch(struct st_thread *t, struct st_span *sp, int d, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	struct hms_softdev_cmd c = cmd_of(s, sp, NULL);
	struct st_kernel k = { (uint8_t)(st_rand(t) | 1), (uint8_t)st_rand(t) };
	int ret;

	if (!span_all(s, sp, RW))
		return 1;
	if (s->o.serial_launch)
		pthread_mutex_lock(&s->launch_lock[d]);
	ret = hms_softdev_launch(s->dev[d], &c, st_kernel_fn, &k);
	if (s->o.serial_launch)
		pthread_mutex_unlock(&s->launch_lock[d]);
	*res = ret;
	if (ret == -ENOMEM) { /* the pool cannot hold the range: nothing ran */
		atomic_fetch_add(&s->tolerated, 1);
		return 0;
	}
	if (ret)
		return st_error(s, "dev kernel", sp, ret, seq);
	for (unsigned j = 0; j < sp->npages; j++) {
		struct st_span one = { sp->r, sp->n, sp->first + j, 1 };

		st_kernel_fn(span_shadow(s, &one), j, &k);
	}
	st_written(s, sp->r, sp->first, sp->npages);
	return 0;
}

static int op_migrate_dev(struct st_thread *t, struct st_span *sp, int d, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	struct hms_softdev_cmd c = cmd_of(s, sp, NULL);
	int ret = hms_softdev_migrate_to_device(s->dev[d], &c);

	*res = ret ? ret : (long)c.cpages;
	if (span_any_lacks(s, sp, PROT_READ))
		return ret == -EINVAL ? 0 : st_error(s, "migrate to device without read "
						     "permission, expected -EINVAL", sp, ret, seq);
	if (ret == -ENOENT || ret == -ENOMEM) {
		atomic_fetch_add(&s->tolerated, 1);
		return 0;
	}
	if (ret || c.cpages > sp->npages)
		return st_error(s, "migrate to device", sp, ret ? ret : (long)c.cpages, seq);
	return 0;
}

static int op_migrate_sys(struct st_thread *t, struct st_span *sp, int d, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	struct hms_softdev_cmd c = cmd_of(s, sp, NULL);
	int ret = hms_softdev_migrate_to_system(s->dev[d], &c);

	*res = ret ? ret : (long)c.cpages;
	if (st_injected_nomem(ret)) {
		atomic_fetch_add(&s->tolerated, 1);
		return 0;
	}
	if (ret || c.cpages > sp->npages)
		return st_error(s, "migrate to system", sp, ret ? ret : (long)c.cpages, seq);
	return 0;
}

static int op_exclusive(struct st_thread *t, struct st_span *sp, int d, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	struct hms_softdev_cmd c = cmd_of(s, sp, t->buf);
	int ret;

	if (!span_all(s, sp, RW))
		return 1;
	ret = hms_softdev_exclusive(s->dev[d], &c);
	*res = ret ? ret : (long)c.cpages;
	if (st_injected_nomem(ret)) {
		atomic_fetch_add(&s->tolerated, 1);
		return 0; /* the data did not change: the next checks see it */
	}
	if (s->o.wp_async) /* documented: CPU writes could not revoke it */
		return ret == -EOPNOTSUPP ? 0 : st_error(s, "dev exclusive with asynchronous "
							 "write protection, expected -EOPNOTSUPP",
							 sp, ret, seq);
	if (ret)
		return st_error(s, "dev exclusive", sp, ret, seq);
	return st_compare(s, "device view after exclusive", sp, t->buf, seq);
}

/* ---- placement policy (hms_bind, hms_migrate) ------------------------------- */

/* The device targets: the softdevs, then the GPU with --gpu. */
static unsigned dev_targets(struct stress *s, hms_uid *tg)
{
	for (int d = 0; d < ST_NDEV; d++)
		tg[d] = hms_softdev_target(s->dev[d]);
	tg[ST_NDEV] = st_gpu_target(s);
	return tg[ST_NDEV] ? ST_NDEV + 1 : ST_NDEV;
}

/* n of them, starting at a random one. */
static size_t pick_targets(struct st_thread *t, hms_uid *out)
{
	hms_uid all[ST_NDEV + 1];
	unsigned nt = dev_targets(t->s, all);
	size_t n = 1 + st_below(t, nt);
	unsigned first = st_below(t, nt);

	for (size_t i = 0; i < n; i++)
		out[i] = all[(first + i) % nt];
	return n;
}

static int op_bind(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	hms_uid tg[ST_NDEV + 1];
	size_t n = pick_targets(t, tg);
	int ret = hms_bind(s->h, span_addr(s, sp), span_len(sp), tg, n,
		       st_below(t, 2) ? HMS_BIND_PREFERRED : 0);
	*res = ret;
	return placement_result(s, "hms_bind", sp, ret, seq);
}

static int op_bind_default(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	int ret = hms_bind_default(s->h, span_addr(s, sp), span_len(sp));

	*res = ret;
	return placement_result(s, "hms_bind_default", sp, ret, seq);
}

/* READ_MOSTLY on or off: device reads then replicate, writes collapse. */
static int op_advise(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	int advice = st_below(t, 2) ? HMS_ADVICE_READ_MOSTLY : HMS_ADVICE_UNSET_READ_MOSTLY;
	int ret = hms_advise(s->h, span_addr(s, sp), span_len(sp), advice, 0);

	*res = ret;
	if (s->o.wp_async && advice == HMS_ADVICE_READ_MOSTLY) /* documented */
		return ret == -EOPNOTSUPP ? 0 : st_error(s, "READ_MOSTLY with asynchronous "
							 "write protection, expected -EOPNOTSUPP",
							 sp, ret, seq);
	return placement_result(s, "hms_advise", sp, ret, seq);
}

static int migrate(struct stress *s, struct st_span *sp, const hms_uid *tg, size_t n,
		   const char *what, uint64_t seq, long *res)
{
	long ret = hms_migrate(s->h, span_addr(s, sp), span_len(sp), tg, n,
			       tg ? 0 : HMS_MIGRATE_POLICY);

	*res = ret;
	if (ret == -ENOMEM) {
		atomic_fetch_add(&s->tolerated, 1);
		return 0;
	}
	if (ret < 0 || ret > sp->npages)
		return st_error(s, what, sp, ret, seq);
	return 0;
}

/* To one device, several in some order, or to each range's policy. */
static int op_hms_migrate(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res)
{
	hms_uid tg[ST_NDEV + 1];
	size_t n = pick_targets(t, tg);

	if (!st_below(t, 4))
		return migrate(t->s, sp, NULL, 0, "hms_migrate(HMS_MIGRATE_POLICY)", seq, res);
	return migrate(t->s, sp, tg, n, "hms_migrate", seq, res);
}

/* To the GPU alone, or home to a system node. */
static int op_gpu_migrate(struct st_thread *t, struct st_span *sp, bool home, uint64_t seq,
			  long *res)
{
	hms_uid tg = home ? st_sys_target(t->s) : st_gpu_target(t->s);

	return migrate(t->s, sp, &tg, 1, home ? "hms_migrate to system memory" :
				       "hms_migrate to the GPU", seq, res);
}

/* ---- protection and mappings ------------------------------------------------- */

static int op_prefault(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	bool write = span_all(s, sp, RW) && st_below(t, 2);
	long ret = hms_prefault(s->h, span_addr(s, sp), span_len(sp), write);

	*res = ret;
	if (st_injected_nomem(ret)) {
		atomic_fetch_add(&s->tolerated, 1);
		return 0; /* placement only: no byte changes */
	}
	if (span_any_lacks(s, sp, PROT_READ))
		return ret == -EFAULT ? 0 : st_error(s, "prefault without read permission, "
						     "expected -EFAULT", sp, ret, seq);
	if (ret < 0 || ret > sp->npages)
		return st_error(s, "prefault", sp, ret, seq);
	return 0;
}

static int op_protect(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res)
{
	static const int prots[] = { PROT_NONE, PROT_READ, RW, RW };
	struct stress *s = t->s;
	int prot = prots[st_below(t, 4)];
	int ret = hms_protect(s->h, span_addr(s, sp), span_len(sp), prot);

	*res = ret;
	if (ret)
		return st_error(s, "hms_protect", sp, ret, seq);
	for (unsigned j = 0; j < sp->npages; j++) {
		unsigned p = sp->first + j;

		s->reg[sp->r + p / ST_REGION_PAGES].prot[p % ST_REGION_PAGES] = (uint8_t)prot;
	}
	return 0;
}

/*
 * MADV_DONTNEED: the span reads zeros.  Or, half the time where every page
 * may be written, MADV_FREE and a write of new data over every page
 * (which keeps the kernel's pages for good: the span's content is defined
 * again before any other operation sees it).  MADV_FREE sends the event
 * MADV_DONTNEED sends; hms must not take those pages for discarded ones.
 */
static int op_dontneed(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	bool lazy = st_below(t, 2);
	int ret;

	for (unsigned j = 0; j < sp->npages && lazy; j++)
		lazy = page_prot(s, sp, j) == RW;
	ret = madvise(span_addr(s, sp), span_len(sp), lazy ? MADV_FREE : MADV_DONTNEED) ? -errno
											  : 0;
	*res = ret;
	if (ret)
		return st_error(s, lazy ? "madvise(MADV_FREE)" : "madvise(MADV_DONTNEED)", sp, ret,
				seq);
	/* discarded, or written after MADV_FREE: either reads as written */
	st_written(s, sp->r, sp->first, sp->npages);
	if (!lazy) {
		memset(span_shadow(s, sp), 0, span_len(sp));
		return 0;
	}
	fill_random(t, span_shadow(s, sp), span_len(sp));
	memcpy(span_addr(s, sp), span_shadow(s, sp), span_len(sp));
	return 0;
}

static void mark_unmapped(struct stress *s, const struct st_span *sp, int placeholder)
{
	memset(span_shadow(s, sp), 0, span_len(sp));
	for (unsigned i = 0; i < sp->n; i++) {
		s->reg[sp->r + i].state = placeholder ? REG_LOST : REG_UNMAPPED;
		s->reg[sp->r + i].seg = 0;
		s->reg[sp->r + i].owned = false;
		memset(s->reg[sp->r + i].prot, PROT_NONE, ST_REGION_PAGES);
	}
}

/* Unmaps whole regions: MAP_FIXED over them in one step, or munmap. */
static int op_unmap(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	bool raw = st_below(t, 2);
	int ret;

	if (raw) {
		ret = munmap(span_addr(s, sp), span_len(sp)) ? -errno : 0;
		*res = ret;
		if (ret)
			return st_error(s, "munmap", sp, ret, seq);
		ret = st_placeholder(span_addr(s, sp), span_len(sp), false);
		if (ret && ret != -EEXIST)
			return st_error(s, "placeholder mmap", sp, ret, seq);
	} else {
		ret = st_placeholder(span_addr(s, sp), span_len(sp), true);
		*res = ret;
		if (ret)
			return st_error(s, "mmap(MAP_FIXED) over managed memory", sp, ret, seq);
	}
	mark_unmapped(s, sp, ret);
	return 0;
}

/* The span's regions become an area of their own. */
static void span_new_area(struct stress *s, const struct st_span *sp)
{
	uint32_t seg = atomic_fetch_add(&s->next_seg, 1);

	for (unsigned i = 0; i < sp->n; i++)
		s->reg[sp->r + i].seg = seg;
}

static void mark_mapped(struct stress *s, const struct st_span *sp)
{
	span_new_area(s, sp);
	for (unsigned i = 0; i < sp->n; i++) {
		s->reg[sp->r + i].state = REG_MAPPED;
		s->reg[sp->r + i].owned = false; /* mremap: set by the caller */
		memset(s->reg[sp->r + i].prot, RW, ST_REGION_PAGES);
		/* never scanned: reads as written (mremap copies its source's) */
		memset(s->reg[sp->r + i].written, 1, ST_REGION_PAGES);
	}
}

static int op_map(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	void *a = span_addr(s, sp);
	int ret;

	(void)t;
	if (mmap(a, span_len(sp), RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return st_error(s, "mmap", sp, -errno, seq);
	ret = hms_manage(s->h, a, span_len(sp));
	*res = ret;
	if (ret == -ENOMEM && !st_placeholder(a, span_len(sp), true)) {
		/* Documented: nothing was adopted; the regions stay unmapped. */
		atomic_fetch_add(&s->tolerated, 1);
		return 0;
	}
	if (ret)
		return st_error(s, "hms_manage", sp, ret, seq);
	memset(span_shadow(s, sp), 0, span_len(sp));
	mark_mapped(s, sp);
	return 0;
}

/*
 * Lets whole regions go (hms_unmanage: device pages come home first), then
 * checks every readable byte as plain memory, writes new bytes over some
 * writable pages while hms does not see them, and adopts the regions
 * again (hms_manage: the data and each page's protection are kept).  The
 * regions are then an area of their own, not the context's to unmap at
 * hms_close(), and every page must be reported by the next dirty scan.
 * A refusal that injection explains leaves them managed, or (hms_manage)
 * unmanaged: then they are unmapped as op_map does.
 */
static int op_unmanage(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	char *a = span_addr(s, sp);
	int ret = hms_unmanage(s->h, a, span_len(sp));

	*res = ret;
	if (st_injected_nomem(ret) || (ret == -EIO && hms__inject_hits(HMS_INJ_DEV_COPY)) ||
	    (ret == -EAGAIN && hms__inject_hits(HMS_INJ_UFFD_EAGAIN))) {
		/* documented: a driver's migrate_to_ram kept failing (the
		 * injected copy error, or the EAGAIN it met), or no memory;
		 * the range stays managed */
		atomic_fetch_add(&s->tolerated, 1);
		return 0;
	}
	if (ret)
		return st_error(s, "hms_unmanage", sp, ret, seq);
	if (check_readable(t, sp, seq, "read after hms_unmanage"))
		return -1;
	for (unsigned j = 0; j < sp->npages; j++) {
		struct st_span one = { sp->r, sp->n, sp->first + j, 1 };

		if (page_prot(s, sp, j) == RW && st_below(t, 2)) {
			fill_random(t, span_shadow(s, &one), HMS_PAGE_SIZE);
			memcpy(span_addr(s, &one), span_shadow(s, &one), HMS_PAGE_SIZE);
		}
	}
	ret = hms_manage(s->h, a, span_len(sp));
	*res = ret;
	if (ret == -ENOMEM && (hms__inject_hits(HMS_INJ_NOMEM) ||
			       hms__inject_hits(HMS_INJ_UFFD_REGISTER))) {
		/* documented: nothing was adopted */
		ret = st_placeholder(a, span_len(sp), true);
		if (ret)
			return st_error(s, "placeholder over memory hms_manage refused", sp, ret,
					seq);
		atomic_fetch_add(&s->tolerated, 1);
		mark_unmapped(s, sp, 0);
		return 0;
	}
	if (ret)
		return st_error(s, "hms_manage after hms_unmanage", sp, ret, seq);
	span_new_area(s, sp);
	for (unsigned i = 0; i < sp->n; i++)
		s->reg[sp->r + i].owned = false;
	st_written(s, sp->r, sp->first, sp->npages);
	return 0;
}

static int op_sys_write(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	size_t len = span_len(sp), got = 0;
	struct st_span copied;
	ssize_t n;

	if (!span_all(s, sp, PROT_READ))
		return 1;
	n = write(t->pipe[1], span_addr(s, sp), len);
	*res = n < 0 ? -errno : n;
	if (n < 0 && errno == EFAULT && s->mode == HMS_MODE_USER_ONLY) {
		atomic_fetch_add(&s->tolerated, 1); /* documented: hms_prefault first */
		return 0;
	}
	/* User-only too: a page the kernel could not fault in stops the copy
	 * there, after the bytes before it (design 7). */
	if (n >= 0 && (size_t)n < len && s->mode == HMS_MODE_USER_ONLY) {
		atomic_fetch_add(&s->tolerated, 1);
		len = (size_t)n;
	} else if (n != (ssize_t)len) {
		return st_error(s, "write(2) from managed memory", sp, *res, seq);
	}
	while (got < len && (n = read(t->pipe[0], t->buf + got, len - got)) > 0)
		got += (size_t)n;
	if (got != len)
		return st_error(s, "read(2) back from the pipe", sp, n < 0 ? -errno : (long)got, seq);
	copied = *sp;
	copied.npages = (unsigned)(len / HMS_PAGE_SIZE); /* the whole pages */
	return copied.npages ? st_compare(s, "write(2) from managed memory", &copied, t->buf, seq)
			     : 0;
}

static int op_sys_read(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	size_t len = span_len(sp);
	ssize_t n;
	char drain[4096];

	if (!span_all(s, sp, RW))
		return 1;
	if (s->mode == HMS_MODE_USER_ONLY)
		hms_prefault(s->h, span_addr(s, sp), len, true);
	fill_random(t, t->buf, len);
	if (write(t->pipe[1], t->buf, len) != (ssize_t)len)
		return st_error(s, "write(2) into the pipe", sp, -errno, seq);
	n = read(t->pipe[0], span_addr(s, sp), len);
	*res = n < 0 ? -errno : n;
	if (n > 0) {
		memcpy(span_shadow(s, sp), t->buf, (size_t)n);
		st_written(s, sp->r, sp->first,
			   (unsigned)(((size_t)n + HMS_PAGE_SIZE - 1) / HMS_PAGE_SIZE));
	}
	if (n != (ssize_t)len) {
		while (read(t->pipe[0], drain, sizeof(drain)) > 0)
			;
		if (s->mode == HMS_MODE_USER_ONLY) {
			atomic_fetch_add(&s->tolerated, 1);
			return 0;
		}
		return st_error(s, "read(2) into managed memory", sp, *res, seq);
	}
	return 0;
}

static int op_query(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	struct hms_page_info info[ST_MAX_SPAN * ST_REGION_PAGES];
	long ret = hms_page_query(s->h, span_addr(s, sp), sp->npages, info);

	*res = ret;
	if (ret != sp->npages)
		return st_error(s, "hms_page_query", sp, ret, seq);
	for (unsigned j = 0; j < sp->npages; j++)
		if (info[j].prot != page_prot(s, sp, j)) {
			struct st_span one = { sp->r, sp->n, sp->first + j, 1 };

			return st_error(s, "hms_page_query: prot differs from the protection set",
					&one, info[j].prot, seq);
		}
	return 0;
}

/* ---- dirty tracking --------------------------------------------------------------- */

#define SCAN_WORDS ((ST_MAX_SPAN * ST_REGION_PAGES + 63) / 64)
#define SCAN_CANARY 0xa5c3a5c3a5c3a5c3ull

static void scan_lock(struct stress *s, const struct st_span *sp, bool lock)
{
	for (unsigned i = 0; i < sp->n; i++)
		if (lock)
			pthread_mutex_lock(&s->reg[sp->r + i].scan_lock);
		else
			pthread_mutex_unlock(&s->reg[sp->r + i].scan_lock);
}

/* The bitmap as hms_dirty_scan.3 has it: `ret` bits set among the span's
 * pages, none past them; the word after it untouched. */
static int scan_bitmap_ok(struct stress *s, const struct st_span *sp, const uint64_t *bm,
			  long ret, uint64_t seq)
{
	unsigned words = (sp->npages + 63) / 64, tail = sp->npages % 64;
	long count = 0;

	for (unsigned i = 0; i < words; i++)
		count += __builtin_popcountll(bm[i]);
	if (count != ret)
		return st_error(s, "hms_dirty_scan: the count differs from the bits set "
				"(bits set in ret)", sp, count, seq);
	if (tail && bm[words - 1] >> tail)
		return st_error(s, "hms_dirty_scan: bits set past the range (the bits in ret)",
				sp, (long)(bm[words - 1] >> tail), seq);
	if (bm[words] != SCAN_CANARY)
		return st_error(s, "hms_dirty_scan: wrote past its bitmap", sp, -EFAULT, seq);
	return 0;
}

/*
 * hms_dirty_scan on a span held for reading (migrations and device reads
 * race it; writers cannot) and its scan locks: every page the stress
 * changed since its last re-arming scan must be reported (false positives
 * are allowed: device pages, migrated pages, pages held by a fault).  One
 * time in four HMS_DIRTY_NO_REARM, which must report the same and change
 * nothing.  On an error the bitmap must be untouched and the pages stay
 * to be reported.
 */
static int op_dirty_scan(struct st_thread *t, struct st_span *sp, uint64_t seq, long *res)
{
	struct stress *s = t->s;
	uint64_t bm[SCAN_WORDS + 1];
	bool rearm = st_below(t, 4) != 0;
	unsigned required = 0;
	long ret;
	int err = 0;

	for (unsigned i = 0; i <= SCAN_WORDS; i++)
		bm[i] = SCAN_CANARY;
	scan_lock(s, sp, true);
	ret = hms_dirty_scan(s->h, span_addr(s, sp), span_len(sp), bm,
			     rearm ? 0 : HMS_DIRTY_NO_REARM);
	*res = ret;
	if (ret < 0) {
		for (unsigned i = 0; i <= SCAN_WORDS && !err; i++)
			if (bm[i] != SCAN_CANARY)
				err = st_error(s, "hms_dirty_scan failed and wrote the bitmap", sp,
					       ret, seq);
		if (!err && st_injected_nomem(ret))
			atomic_fetch_add(&s->tolerated, 1);
		else if (!err)
			err = st_error(s, "hms_dirty_scan", sp, ret, seq);
		scan_lock(s, sp, false);
		return err;
	}
	err = scan_bitmap_ok(s, sp, bm, ret, seq);
	for (unsigned j = 0; j < sp->npages && !err; j++) {
		unsigned p = sp->first + j;
		uint8_t *w = &s->reg[sp->r + p / ST_REGION_PAGES].written[p % ST_REGION_PAGES];

		if (*w && !((bm[j / 64] >> (j % 64)) & 1))
			err = st_dirty_missed(s, sp->r + p / ST_REGION_PAGES, p % ST_REGION_PAGES,
					      bm[j / 64], seq);
		required += *w;
		if (rearm)
			*w = 0;
	}
	scan_lock(s, sp, false);
	atomic_fetch_add(&s->dirty_required, required);
	atomic_fetch_add(&s->dirty_reported, (uint64_t)ret);
	return err;
}

/*
 * Moves whole regions to unmapped ones (MREMAP_FIXED): the bytes, the
 * protection and hms' pages follow.  One time in four with
 * MREMAP_DONTUNMAP, which leaves the old range mapped, empty and still
 * registered: it reads as zeros.
 */
static int op_mremap(struct st_thread *t)
{
	struct stress *s = t->s;
	unsigned n = 1 + st_below(t, ST_MAX_SPAN);
	size_t from = st_below(t, (unsigned)s->nregions), to = st_below(t, (unsigned)s->nregions);
	struct st_span src = { from, n, 0, n * ST_REGION_PAGES }, dst = { to, n, 0, n * ST_REGION_PAGES };
	struct st_span *lo = from < to ? &src : &dst, *hi = from < to ? &dst : &src;
	bool ok = true, dontunmap = !st_below(t, 4);
	size_t len = n * ST_REGION_BYTES;
	uint64_t seq;
	void *p;

	if (from + n > s->nregions || to + n > s->nregions || (from < to + n && to < from + n))
		return 1;
	for (unsigned i = 0; i < n; i++)
		lock_region(s, lo->r + i, true);
	for (unsigned i = 0; i < n; i++)
		lock_region(s, hi->r + i, true);
	for (unsigned i = 0; i < n; i++)
		ok = ok && region_fits(s, from + i, from, REG_MAPPED) &&
		     s->reg[to + i].state == REG_UNMAPPED;
	if (!ok) {
		unlock_span(s, hi);
		unlock_span(s, lo);
		return 1;
	}
	seq = atomic_fetch_add(&s->seq, 1) + 1;
	atomic_store(&t->cur_op, OP_MREMAP);
	atomic_store(&t->cur_seq, seq);
	atomic_store(&t->cur_region, from);
	atomic_store(&t->cur_span, n);
	p = mremap(span_addr(s, &src), len, len,
		   MREMAP_MAYMOVE | MREMAP_FIXED | (dontunmap ? MREMAP_DONTUNMAP : 0),
		   span_addr(s, &dst));
	if (p != span_addr(s, &dst) && errno == EFAULT) {
		/* The range is several VMAs (protection, unmerged neighbours):
		 * the kernel refuses to move those when userfaultfd is armed. */
		record(s, &src, t->id, OP_MREMAP, dontunmap, -EFAULT, seq);
		unlock_span(s, hi);
		unlock_span(s, lo);
		atomic_fetch_add(&s->tolerated, 1);
		return 0;
	}
	if (p != span_addr(s, &dst)) {
		int err = -errno;

		record(s, &src, t->id, OP_MREMAP, dontunmap, err, seq);
		unlock_span(s, hi);
		unlock_span(s, lo);
		return st_error(s, dontunmap ? "mremap(MREMAP_DONTUNMAP)" : "mremap", &src, err, seq);
	}
	memcpy(span_shadow(s, &dst), span_shadow(s, &src), len);
	mark_mapped(s, &dst);
	/* The pages move with their state: one written since its last scan
	 * is still to be reported, at its new address. */
	for (unsigned i = 0; i < n; i++) {
		s->reg[to + i].owned = s->reg[from + i].owned; /* the area moves whole */
		memcpy(s->reg[to + i].prot, s->reg[from + i].prot, ST_REGION_PAGES);
		memcpy(s->reg[to + i].written, s->reg[from + i].written, ST_REGION_PAGES);
	}
	if (dontunmap) {
		/* Still mapped and registered, now empty: an area of its own,
		 * emptied as MADV_DONTNEED would (reads as written). */
		memset(span_shadow(s, &src), 0, len);
		st_written(s, src.r, 0, src.npages);
		span_new_area(s, &src);
	} else {
		int ret = st_placeholder(span_addr(s, &src), len, false);

		if (ret && ret != -EEXIST) {
			unlock_span(s, hi);
			unlock_span(s, lo);
			return st_error(s, "placeholder mmap", &src, ret, seq);
		}
		mark_unmapped(s, &src, ret);
	}
	record(s, &src, t->id, OP_MREMAP, dontunmap, (long)to, seq);
	record(s, &dst, t->id, OP_MREMAP, dontunmap, (long)from, seq);
	unlock_span(s, hi);
	unlock_span(s, lo);
	return 0;
}

/*
 * --huge: a fresh 2 MiB HMS_ALLOC_HUGE area, made elsewhere, is moved over
 * a whole block with MREMAP_FIXED (what was there, managed or placeholder,
 * is unmapped by it): the block is one huge area again, reading as zeros.
 * Without it, unmap, map and mremap would cut every block into small
 * areas and the whole-block operations would die out.
 */
static int op_huge_renew(struct st_thread *t)
{
	struct stress *s = t->s;
	size_t r = st_below(t, (unsigned)s->nregions);
	struct st_span sp;
	uint64_t seq;
	void *p, *q;
	long res;

	r -= r % ST_BLOCK_REGIONS;
	sp = (struct st_span){ r, ST_BLOCK_REGIONS, 0, ST_BLOCK_REGIONS * ST_REGION_PAGES };
	for (unsigned i = 0; i < sp.n; i++)
		lock_region(s, r + i, true);
	for (unsigned i = 0; i < sp.n; i++)
		if (s->reg[r + i].state == REG_LOST) { /* not ours to map over */
			unlock_span(s, &sp);
			return 1;
		}
	seq = atomic_fetch_add(&s->seq, 1) + 1;
	atomic_store(&t->cur_op, OP_HUGE_RENEW);
	atomic_store(&t->cur_seq, seq);
	atomic_store(&t->cur_region, r);
	atomic_store(&t->cur_span, sp.n);
	p = hms_alloc(s->h, span_len(&sp), HMS_ALLOC_HUGE);
	if (!p) {
		res = -errno;
		record(s, &sp, t->id, OP_HUGE_RENEW, -1, res, seq);
		unlock_span(s, &sp);
		if (res == -ENOMEM) { /* documented; --inject nomem */
			atomic_fetch_add(&s->tolerated, 1);
			return 0;
		}
		return st_error(s, "hms_alloc(HMS_ALLOC_HUGE)", &sp, res, seq);
	}
	q = mremap(p, span_len(&sp), span_len(&sp), MREMAP_MAYMOVE | MREMAP_FIXED,
		   span_addr(s, &sp));
	res = q == MAP_FAILED ? -errno : 0;
	if (q != span_addr(s, &sp)) {
		if (q == MAP_FAILED)
			hms_free(s->h, p, span_len(&sp));
		record(s, &sp, t->id, OP_HUGE_RENEW, -1, res, seq);
		unlock_span(s, &sp);
		return st_error(s, "mremap of a fresh huge area over a block", &sp, res, seq);
	}
	memset(span_shadow(s, &sp), 0, span_len(&sp));
	mark_mapped(s, &sp);
	for (unsigned i = 0; i < sp.n; i++)
		s->reg[r + i].owned = true;
	record(s, &sp, t->id, OP_HUGE_RENEW, -1, 0, seq);
	unlock_span(s, &sp);
	return 0;
}

/* ---- dispatch ------------------------------------------------------------------ */

static unsigned weight(struct stress *s, int op)
{
	if (!st_op_drawn(&s->o, op) ||
	    (st_op_gpu(op) && (!s->gpu || (op == OP_GPU_MIGRATE_SYS && !st_sys_target(s)))))
		return 0;
	return s->o.skip_ops & (1u << op) ? 0 : op_weight[op];
}

static int pick_op(struct st_thread *t)
{
	unsigned total = 0, x;

	for (int i = 0; i < OP_COUNT; i++)
		total += weight(t->s, i);
	x = st_below(t, total);
	for (int i = 0; i < OP_COUNT; i++) {
		if (x < weight(t->s, i))
			return i;
		x -= weight(t->s, i);
	}
	return OP_CPU_READ;
}

static int op_release(struct st_thread *t)
{
	struct stress *s = t->s;
	int d = (int)st_below(t, ST_NDEV);
	uint64_t seq = atomic_fetch_add(&s->seq, 1) + 1;
	long ret;
	struct st_hist e = { seq, OP_RELEASE, (uint8_t)t->id, (int8_t)d, 0, 0 };

	atomic_store(&t->cur_op, OP_RELEASE);
	atomic_store(&t->cur_seq, seq);
	ret = hms_softdev_release(s->dev[d]);
	e.ret = (int32_t)ret;
	st_ghist_add(s, &e);
	if (ret < 0 && ret != -EBUSY) {
		struct st_span none = { 0, 0, 0, 0 };

		return st_error(s, "dev release", &none, ret, seq);
	}
	return 0;
}

/* Operations that change bytes, protection or mappings lock for writing. */
static bool op_writes(int op)
{
	switch (op) {
	case OP_CPU_WRITE: case OP_DEV_WRITE: case OP_LAUNCH: case OP_PROTECT:
	case OP_DONTNEED: case OP_UNMAP: case OP_MAP: case OP_SYS_READ: case OP_GPU_WRITE:
	case OP_UNMANAGE:
		return true;
	default:
		return false;
	}
}

/*
 * Operations that hold the gate for reading: those that change bytes,
 * protection or mappings, and those that map a GPU window (fork waits for
 * windows to end: none may be mapped while fork runs).
 */
static bool op_gated(int op)
{
	return op_writes(op) || op == OP_MREMAP || op == OP_GPU_READ || op == OP_HUGE_RENEW;
}

/* Operations that may span a whole 2 MiB block (--huge): those that need
 * no buffer or table of the span's size, or only t->buf (2 MiB then). */
static bool op_block(int op)
{
	switch (op) {
	case OP_CPU_READ: case OP_CPU_WRITE: case OP_DEV_READ: case OP_DEV_WRITE:
	case OP_LAUNCH: case OP_MIGRATE_DEV: case OP_MIGRATE_SYS: case OP_EXCLUSIVE:
	case OP_PREFAULT: case OP_PROTECT: case OP_DONTNEED: case OP_UNMAP: case OP_BIND:
	case OP_BIND_DEFAULT: case OP_HMS_MIGRATE: case OP_ADVISE: case OP_GPU_MIGRATE:
	case OP_GPU_MIGRATE_SYS:
		return true;
	default:
		return false;
	}
}

static int run_locked(struct st_thread *t, int op, struct st_span *sp, int d, uint64_t seq,
		      long *res)
{
	switch (op) {
	case OP_CPU_READ: return op_cpu_read(t, sp, seq);
	case OP_CPU_WRITE: return op_cpu_write(t, sp, seq);
	case OP_DEV_READ: return op_dev_read(t, sp, d, seq, res);
	case OP_DEV_WRITE: return op_dev_write(t, sp, d, seq, res);
	case OP_LAUNCH: return op_launch(t, sp, d, seq, res);
	case OP_MIGRATE_DEV: return op_migrate_dev(t, sp, d, seq, res);
	case OP_MIGRATE_SYS: return op_migrate_sys(t, sp, d, seq, res);
	case OP_EXCLUSIVE: return op_exclusive(t, sp, d, seq, res);
	case OP_PREFAULT: return op_prefault(t, sp, seq, res);
	case OP_PROTECT: return op_protect(t, sp, seq, res);
	case OP_DONTNEED: return op_dontneed(t, sp, seq, res);
	case OP_UNMAP: return op_unmap(t, sp, seq, res);
	case OP_MAP: return op_map(t, sp, seq, res);
	case OP_UNMANAGE: return op_unmanage(t, sp, seq, res);
	case OP_SYS_WRITE: return op_sys_write(t, sp, seq, res);
	case OP_SYS_READ: return op_sys_read(t, sp, seq, res);
	case OP_QUERY: return op_query(t, sp, seq, res);
	case OP_BIND: return op_bind(t, sp, seq, res);
	case OP_BIND_DEFAULT: return op_bind_default(t, sp, seq, res);
	case OP_HMS_MIGRATE: return op_hms_migrate(t, sp, seq, res);
	case OP_ADVISE: return op_advise(t, sp, seq, res);
	case OP_DIRTY_SCAN: return op_dirty_scan(t, sp, seq, res);
	case OP_GPU_MIGRATE: return op_gpu_migrate(t, sp, false, seq, res);
	case OP_GPU_MIGRATE_SYS: return op_gpu_migrate(t, sp, true, seq, res);
	case OP_GPU_WRITE: return span_all(t->s, sp, RW) ? st_gpu_write(t, sp, seq, res) : 1;
	case OP_GPU_READ:
		return span_all(t->s, sp, PROT_READ) ? st_gpu_read(t, sp, seq, res) : 1;
	default: return 1;
	}
}

int st_op_run(struct st_thread *t)
{
	struct stress *s = t->s;
	int op = pick_op(t), d = (int)st_below(t, ST_NDEV), ret;
	struct st_span sp;
	uint64_t seq;
	long res = 0;

	atomic_fetch_add(&s->tries, 1);
	if (op_gated(op))
		pthread_rwlock_rdlock(&s->gate);
	if (op == OP_RELEASE)
		ret = op_release(t);
	else if (op == OP_FORK)
		ret = st_op_fork(t, 0);
	else if (op == OP_MREMAP)
		ret = op_mremap(t);
	else if (op == OP_HUGE_RENEW)
		ret = op_huge_renew(t);
	else if (!span_lock(t, op_writes(op), op == OP_MAP ? REG_UNMAPPED : REG_MAPPED,
			    op == OP_MAP || op == OP_UNMAP || op == OP_UNMANAGE, op_block(op), &sp))
		ret = 1;
	else {
		seq = atomic_fetch_add(&s->seq, 1) + 1;
		atomic_store(&t->cur_op, op);
		atomic_store(&t->cur_seq, seq);
		atomic_store(&t->cur_region, sp.r);
		atomic_store(&t->cur_span, sp.n);
		if (st_op_gpu(op))
			d = ST_DEV_GPU;
		atomic_store(&t->cur_dev, d);
		ret = run_locked(t, op, &sp, d, seq, &res);
		if (ret != 1)
			record(s, &sp, t->id, op,
			       op == OP_CPU_READ || op == OP_CPU_WRITE || op == OP_DIRTY_SCAN ? -1 : d,
			       res, seq);
		unlock_span(s, &sp);
	}
	if (op_gated(op))
		pthread_rwlock_unlock(&s->gate);
	atomic_store(&t->cur_op, -1);
	if (ret == 1) {
		atomic_fetch_add(&s->skipped[op], 1);
		if (s->o.ops)
			atomic_fetch_sub(&s->begun, 1); /* its claim goes back */
		return 0;
	}
	if (ret == 0) {
		atomic_fetch_add(&s->count[op], 1);
		atomic_fetch_add(&s->done, 1);
	}
	return ret;
}
