/* SPDX-License-Identifier: MIT */
/*
 * stress_run.c - runs `hms stress`: the worker threads, the watchdog that
 * turns a hang into a report, fork with the child checking every byte,
 * the final checks (through hms, then after hms_close), and the reports
 * of a mismatch with the history of its page.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inject.h"
#include "stress.h"

bool st_in_child;

/*
 * Whether a line of st_log() could not be written (a full disk, a closed
 * pipe): the run goes on, but it must not end with exit 0 when its report
 * is lost.  -1 none, else the errno (0 for a short write).
 */
static atomic_int log_errno = -1;

int st_log_error(void)
{
	return atomic_load(&log_errno);
}

/* ---- output -----------------------------------------------------------------
 *
 * One write(2) per line, no stdio lock: a fork child may report while a
 * thread of the parent held a lock at the time of the fork.
 */
void st_log(struct stress *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	(void)s;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	if (n > 0) {
		ssize_t w = write(STDOUT_FILENO, line, (size_t)n);
		int none = -1;

		if (w != n)
			atomic_compare_exchange_strong(&log_errno, &none, w < 0 ? errno : 0);
	}
}

static const char *prot_name(unsigned prot)
{
	static const char *const names[] = { "---", "r--", "-w-", "rw-" };

	return names[prot & 3];
}

static void print_hist_entry(struct stress *s, const struct st_hist *e)
{
	char dev[8] = "-";

	if (e->dev == ST_DEV_GPU)
		snprintf(dev, sizeof(dev), "gpu");
	else if (e->dev >= 0)
		snprintf(dev, sizeof(dev), "%d", e->dev);
	st_log(s, "    seq %-9llu %-15s thread %-2u dev %-2s ret %-6d prot %s\n",
	       (unsigned long long)e->seq, st_op_name(e->op), e->thread, dev, e->ret,
	       prot_name(e->prot));
}

static void print_history(struct stress *s, size_t r, unsigned page)
{
	struct st_region *g = &s->reg[r];
	struct st_hist h[ST_HIST];
	unsigned next, n;

	if (!st_in_child)
		pthread_mutex_lock(&g->hist_lock);
	memcpy(h, g->hist[page], sizeof(h));
	next = g->hist_next[page];
	if (!st_in_child)
		pthread_mutex_unlock(&g->hist_lock);
	n = next < ST_HIST ? next : ST_HIST;
	st_log(s, "  history of the page, oldest first (last %u operations):\n", n);
	for (unsigned i = next - n; i != next; i++)
		print_hist_entry(s, &h[i % ST_HIST]);
	if (!st_in_child)
		pthread_mutex_lock(&s->ghist_lock);
	next = s->ghist_next;
	n = next < ST_GHIST ? next : ST_GHIST;
	st_log(s, "  last %u operations on whole devices or the whole memory:\n", n);
	for (unsigned i = next - n; i != next; i++)
		print_hist_entry(s, &s->ghist[i % ST_GHIST]);
	if (!st_in_child)
		pthread_mutex_unlock(&s->ghist_lock);
}

/* The kernel's mapping of addr: its /proc/self/smaps line and VmFlags
 * (userfaultfd registration: um, uw, ui). */
static void print_mapping(struct stress *s, const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512], range[160] = "";
	uintptr_t a = (uintptr_t)addr;
	bool in = false;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long vs, ve;
		int n = 0;

		if (sscanf(line, "%lx-%lx %n", &vs, &ve, &n) == 2 && n) {
			in = a >= vs && a < ve;
			if (in)
				snprintf(range, sizeof(range), "%.*s", (int)strcspn(line, "\n"), line);
		} else if (in && !strncmp(line, "VmFlags:", 8)) {
			st_log(s, "  the kernel maps it: %s; %.*s\n", range, (int)strcspn(line, "\n"),
			       line);
			break;
		}
	}
	if (!range[0])
		st_log(s, "  the kernel maps nothing there\n");
	fclose(f);
}

static void print_page_state(struct stress *s, const void *addr)
{
	struct hms_page_info info;
	static const char *const loc[] = { "not populated", "system memory", "device memory" };
	long r;

	if (st_in_child || !s->h)
		return;
	r = hms_page_query(s->h, addr, 1, &info);
	if (r != 1) {
		st_log(s, "  hms says: hms_page_query returned %ld (%s)\n", r,
		       r < 0 ? strerror((int)-r) : "?");
		print_mapping(s, addr);
		return;
	}
	st_log(s, "  hms says: %s, target %u, prot %s, flags%s%s%s%s\n",
	       loc[info.location % 3], info.target, prot_name(info.prot),
	       info.flags & HMS_PAGE_MIGRATING ? " migrating" : "",
	       info.flags & HMS_PAGE_WRITE_PROTECTED ? " write-protected" : "",
	       info.flags & HMS_PAGE_EXCLUSIVE ? " exclusive" : "",
	       info.flags & HMS_PAGE_REPLICATED ? " replicated" : "");
}

/* Operations running now on other threads (they hold the page's region
 * for reading, or are elsewhere and may move pages nearby). */
static void print_inflight(struct stress *s)
{
	for (unsigned i = 0; !st_in_child && s->threads && i < s->nthreads; i++) {
		struct st_thread *t = &s->threads[i];
		int op = atomic_load(&t->cur_op);

		if (op >= 0)
			st_log(s, "  now: thread %u in %s (dev %d), seq %llu, regions %zu..%zu\n", i,
			       st_op_name(op), atomic_load(&t->cur_dev),
			       (unsigned long long)atomic_load(&t->cur_seq),
			       atomic_load(&t->cur_region),
			       atomic_load(&t->cur_region) + atomic_load(&t->cur_span) - 1);
	}
}

static void print_bytes(struct stress *s, const char *what, const uint8_t *p, size_t off)
{
	size_t from = off & ~(size_t)15;
	char line[128];
	int n = snprintf(line, sizeof(line), "  %-9s +%04zx:", what, from);

	for (size_t i = from; i < from + 16; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " %02x", p[i]);
	st_log(s, "%s\n", line);
}

/* The first report wins; the others only stop their thread. */
static bool first_report(struct stress *s)
{
	atomic_store(&s->stop, true);
	return !atomic_exchange(&s->failed, true);
}

int st_mismatch(struct stress *s, const char *how, size_t r, unsigned page,
		const uint8_t *actual, size_t off, uint64_t seq)
{
	const uint8_t *exp = st_shadow(s, r, page);
	size_t ndiff = 0;

	if (!first_report(s) && !st_in_child)
		return -1;
	for (size_t i = 0; i < HMS_PAGE_SIZE; i++)
		ndiff += actual[i] != exp[i];
	st_log(s, "MISMATCH (%s) at %p: region %zu page %u byte %zu, during operation seq %llu\n",
	       how, (void *)(st_addr(s, r, page) + off), r, page, off, (unsigned long long)seq);
	print_bytes(s, "expected", exp, off);
	print_bytes(s, "actual", actual, off);
	if (!st_in_child && (s->reg[r].prot[page] & PROT_READ) && s->reg[r].state == REG_MAPPED) {
		uint8_t now[HMS_PAGE_SIZE];

		memcpy(now, st_addr(s, r, page), HMS_PAGE_SIZE);
		print_bytes(s, "cpu now", now, off);
	}
	st_log(s, "  %zu of %lu bytes of the page differ; expected protection %s\n", ndiff,
	       HMS_PAGE_SIZE, prot_name(s->reg[r].prot[page]));
	print_page_state(s, st_addr(s, r, page));
	print_inflight(s);
	print_history(s, r, page);
	return -1;
}

int st_compare(struct stress *s, const char *how, const struct st_span *sp,
	       const uint8_t *actual, uint64_t seq)
{
	const uint8_t *exp = st_shadow(s, sp->r, sp->first);
	size_t len = (size_t)sp->npages * HMS_PAGE_SIZE;

	if (!memcmp(exp, actual, len))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (exp[i] != actual[i]) {
			unsigned p = sp->first + (unsigned)(i / HMS_PAGE_SIZE);

			return st_mismatch(s, how, sp->r + p / ST_REGION_PAGES, p % ST_REGION_PAGES,
					   actual + (i & ~(HMS_PAGE_SIZE - 1)), i % HMS_PAGE_SIZE,
					   seq);
		}
	return 0;
}

int st_dirty_missed(struct stress *s, size_t r, unsigned page, uint64_t bits, uint64_t seq)
{
	if (!first_report(s))
		return -1;
	st_log(s, "DIRTY PAGE MISSED at %p: region %zu page %u was changed since its last dirty "
	       "scan and hms_dirty_scan (operation seq %llu) did not report it (bitmap word "
	       "%#llx)\n", (void *)st_addr(s, r, page), r, page, (unsigned long long)seq,
	       (unsigned long long)bits);
	print_page_state(s, st_addr(s, r, page));
	print_inflight(s);
	print_history(s, r, page);
	return -1;
}

int st_error(struct stress *s, const char *what, const struct st_span *sp, long ret,
	     uint64_t seq)
{
	if (!first_report(s))
		return -1;
	st_log(s, "ERROR: %s returned %ld (%s) on %p, %u pages (region %zu), operation seq %llu\n",
	       what, ret, ret < 0 ? strerror((int)-ret) : "unexpected count",
	       sp->npages ? (void *)st_addr(s, sp->r, sp->first) : NULL, sp->npages, sp->r,
	       (unsigned long long)seq);
	if (sp->npages) {
		unsigned p = sp->first;

		print_page_state(s, st_addr(s, sp->r, p));
		print_inflight(s);
		print_history(s, sp->r + p / ST_REGION_PAGES, p % ST_REGION_PAGES);
	}
	return -1;
}

/* ---- fork ---------------------------------------------------------------------- */

/*
 * In the child: every mapped byte must be what the parent had.  And the
 * context is the parent's: hms_dirty_scan refuses it with -ECHILD, the
 * bitmap untouched (it asks no lock before that check).
 */
static int child_verify(struct stress *s, uint64_t seq)
{
	bool scanned = false;

	for (size_t r = 0; r < s->nregions; r++) {
		if (s->reg[r].state != REG_MAPPED)
			continue;
		if (!scanned) {
			uint64_t bm = 0;
			long ret = hms_dirty_scan(s->h, st_addr(s, r, 0), ST_REGION_BYTES, &bm, 0);

			scanned = true;
			if (ret != -ECHILD || bm) {
				st_log(s, "ERROR: hms_dirty_scan in the fork child returned %ld, "
				       "bitmap %#llx (expected -ECHILD, untouched)\n", ret,
				       (unsigned long long)bm);
				return 3;
			}
		}
		for (unsigned p = 0; p < ST_REGION_PAGES; p++) {
			struct st_span one = { r, 1, p, 1 };

			if (!(s->reg[r].prot[p] & PROT_READ) &&
			    mprotect(st_addr(s, r, p), HMS_PAGE_SIZE, PROT_READ))
				return 2;
			if (st_compare(s, "fork child", &one, (const uint8_t *)st_addr(s, r, p), seq))
				return 1;
		}
	}
	return 0;
}

/*
 * The gate is held for writing: no byte, protection or mapping changes,
 * but migrations, device reads and faults of other threads go on while
 * fork() runs.
 */
int st_op_fork(struct st_thread *t, uint64_t unused)
{
	struct stress *s = t->s;
	uint64_t seq;
	struct st_hist e = { 0, OP_FORK, (uint8_t)t->id, -1, 0, 0 };
	struct st_span none = { 0, 0, 0, 0 };
	pid_t pid;
	int st;

	(void)unused;
	pthread_rwlock_wrlock(&s->gate);
	seq = atomic_fetch_add(&s->seq, 1) + 1;
	atomic_store(&t->cur_op, OP_FORK);
	atomic_store(&t->cur_seq, seq);
	pid = fork();
	if (pid == 0) {
		st_in_child = true;
		_exit(child_verify(s, seq));
	}
	pthread_rwlock_unlock(&s->gate);
	e.seq = seq;
	if (pid < 0) {
		e.ret = -errno;
		st_ghist_add(s, &e);
		return st_error(s, "fork", &none, e.ret, seq);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	e.ret = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	st_ghist_add(s, &e);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		if (!first_report(s))
			return -1;
		st_log(s, "ERROR: the fork child (operation seq %llu) %s %d\n",
		       (unsigned long long)seq, WIFEXITED(st) ? "exited with" : "was killed by signal",
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		return -1;
	}
	return 0;
}

/* ---- final checks ---------------------------------------------------------------- */

/*
 * Every mapped byte, read by the CPU (and first by a device, while hms
 * is open).  Pages without read permission are made readable first.
 */
int st_verify_all(struct stress *s, const char *how, bool use_hms)
{
	uint8_t *buf = malloc(ST_REGION_BYTES);
	int ret = 0;

	if (!buf)
		return -1;
	for (size_t r = 0; r < s->nregions && !ret; r++) {
		struct st_span all = { r, 1, 0, ST_REGION_PAGES };
		char *a = st_addr(s, r, 0);

		/* hms_close() unmapped what hms_alloc() made (--huge) */
		if (s->reg[r].state != REG_MAPPED || (!use_hms && s->reg[r].owned))
			continue;
		if (use_hms ? hms_protect(s->h, a, ST_REGION_BYTES, PROT_READ | PROT_WRITE)
			    : mprotect(a, ST_REGION_BYTES, PROT_READ | PROT_WRITE)) {
			ret = st_error(s, "making the memory readable", &all, -EIO, 0);
			break;
		}
		memset(s->reg[r].prot, PROT_READ | PROT_WRITE, ST_REGION_PAGES);
		if (use_hms) {
			struct hms_softdev_cmd c = { (uint64_t)(uintptr_t)a, buf, ST_REGION_PAGES, 0,
						     0 };
			struct hms_softdev *dev = s->dev[r % ST_NDEV] ? s->dev[r % ST_NDEV] : s->dev[0];
			int err = hms_softdev_read(dev, &c);

			if (err)
				ret = st_error(s, "final device read", &all, err, 0);
			else
				ret = st_compare(s, how, &all, buf, 0);
		}
		if (!ret) {
			memcpy(buf, a, ST_REGION_BYTES);
			ret = st_compare(s, how, &all, buf, 0);
		}
	}
	free(buf);
	return ret;
}

/* ---- threads ------------------------------------------------------------------------ */

uint64_t st_rand(struct st_thread *t)
{
	uint64_t z = (t->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Claims one of the --ops operations: false when all are claimed.  A
 * failed claim changes nothing, so a claim given back (a skipped
 * operation) is there for the thread that gave it. */
static bool claim(struct stress *s)
{
	uint64_t n = atomic_load(&s->begun);

	do {
		if (n >= s->o.ops)
			return false;
	} while (!atomic_compare_exchange_weak(&s->begun, &n, n + 1));
	return true;
}

static void *worker(void *arg)
{
	struct st_thread *t = arg;
	struct stress *s = t->s;

	while (!atomic_load(&s->stop)) {
		/* Claimed before it runs: threads together run exactly --ops. */
		if (s->o.ops && !claim(s))
			break;
		if (st_op_run(t))
			break;
	}
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What each worker is doing. */
static void report_threads(struct stress *s, struct st_thread *t, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int op = atomic_load(&t[i].cur_op);

		if (op < 0)
			st_log(s, "  thread %u: idle (waiting for a region lock)\n", i);
		else
			st_log(s, "  thread %u: in %s, seq %llu, region %zu (%p)\n", i,
			       st_op_name(op), (unsigned long long)atomic_load(&t[i].cur_seq),
			       atomic_load(&t[i].cur_region),
			       (void *)st_addr(s, atomic_load(&t[i].cur_region), 0));
	}
}

static void report_hang(struct stress *s, struct st_thread *t, unsigned n, double secs)
{
	st_log(s, "HANG: no operation finished for %.0f s; threads:\n", secs);
	report_threads(s, t, n);
}

/* Waits for the end (time, ops, failure); returns false on a hang. */
static bool watch(struct stress *s, struct st_thread *t)
{
	double start = now(), last_change = start, last_print = start;
	uint64_t last = 0;

	for (;;) {
		uint64_t tries = atomic_load(&s->tries);
		double tnow = now();

		if (atomic_load(&s->stop) || (s->o.ops && atomic_load(&s->done) >= s->o.ops))
			break;
		if (!s->o.ops && tnow - start >= s->o.seconds)
			break;
		if (tries != last) {
			last = tries;
			last_change = tnow;
		} else if (tnow - last_change > s->o.hang_seconds) {
			report_hang(s, t, s->o.threads, tnow - last_change);
			return false;
		}
		if (s->o.verbose && tnow - last_print >= 1) {
			last_print = tnow;
			st_log(s, "  %.0f s: %llu operations\n", tnow - start,
			       (unsigned long long)atomic_load(&s->done));
			/* none tried in the last second: say where they are */
			if (tnow - last_change >= 1)
				report_threads(s, t, s->o.threads);
		}
		usleep(20000);
	}
	atomic_store(&s->stop, true);
	return true;
}

/*
 * Joins the workers once the run ended.  A thread stuck in a library call
 * (the run may have stopped on another thread's error) would keep the
 * join, and the tool, waiting for ever: after hang_seconds it is reported
 * as a hang instead.  false then.
 */
static bool join_all(struct stress *s, struct st_thread *t, pthread_t *tid, unsigned n)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)s->o.hang_seconds;
	for (unsigned i = 0; i < n; i++)
		if (pthread_timedjoin_np(tid[i], NULL, &until)) {
			report_hang(s, t, s->o.threads, s->o.hang_seconds);
			return false;
		}
	return true;
}

/* What a worker needs before it starts: made before fault injection is
 * armed (an injected failure here would stop the run before it began). */
static int prepare_thread(struct stress *s, struct st_thread *t, unsigned id)
{
	t->s = s;
	t->id = id;
	t->rng = s->o.seed * 0x100000001b3ull + id + 1;
	t->cur_op = -1;
	t->cur_dev = -1;
	/* a span's bytes: a whole 2 MiB block with --huge */
	t->buf = malloc(s->o.huge ? HMS_HUGE_PAGE_SIZE : ST_MAX_SPAN * ST_REGION_BYTES);
	if (!t->buf || pipe2(t->pipe, O_CLOEXEC))
		return -1;
	if (fcntl(t->pipe[0], F_SETPIPE_SZ, (int)(2 * ST_MAX_SPAN * ST_REGION_BYTES)) < 0)
		return -1;
	fcntl(t->pipe[0], F_SETFL, O_NONBLOCK);
	return st_gpu_thread_init(t);
}

static void print_counts(struct stress *s)
{
	uint64_t total = 0;

	st_log(s, "operations (run / skipped: span did not fit):\n");
	for (int i = 0; i < OP_COUNT; i++) {
		if (!st_op_drawn(&s->o, i) || (st_op_gpu(i) && !s->gpu))
			continue;
		total += atomic_load(&s->count[i]);
		st_log(s, "  %-16s %10llu %8llu\n", st_op_name(i),
		       (unsigned long long)atomic_load(&s->count[i]),
		       (unsigned long long)atomic_load(&s->skipped[i]));
	}
	st_log(s, "  %-16s %10llu\n", "total", (unsigned long long)total);
	st_log(s, "  documented refusals tolerated (-EBUSY, -ENOMEM, -ENOENT): %llu\n",
	       (unsigned long long)atomic_load(&s->tolerated));
	st_log(s, "  dirty scans: %llu changed pages had to be reported, %llu pages reported\n",
	       (unsigned long long)atomic_load(&s->dirty_required),
	       (unsigned long long)atomic_load(&s->dirty_reported));
	if (s->o.huge)
		st_log(s, "  huge pages: %llu operations on a whole 2 MiB block; %zu MiB moved to "
			  "devices as whole huge pages, %zu MiB came back through fresh ones; "
			  "%zu of %zu MiB in huge pages at the end; faults asked for %zu MiB "
			  "as whole blocks\n",
		       (unsigned long long)atomic_load(&s->block_ops), s->huge_left >> 20,
		       s->huge_filled >> 20, s->huge_mapped >> 20,
		       (s->nregions * ST_REGION_BYTES) >> 20, s->fault_blocks >> 20);
	st_gpu_summary(s);
}

/* Faults injected (--inject or $HMS_INJECT), per point. */
static void print_injected(struct stress *s, bool clean)
{
	uint64_t total = 0;

	for (int p = 0; p < HMS_INJ_NPOINTS; p++)
		total += hms__inject_hits(p);
	if (!total)
		return;
	st_log(s, "injected faults%s: %llu (", clean ? " survived" : "", (unsigned long long)total);
	for (int p = 0, first = 1; p < HMS_INJ_NPOINTS; p++)
		if (hms__inject_hits(p)) {
			st_log(s, "%s%s %llu", first ? "" : ", ", hms__inject_name(p),
			       (unsigned long long)hms__inject_hits(p));
			first = 0;
		}
	st_log(s, ")\n");
}

/* Final checks: through hms, then after tearing down with pages on devices
 * (and on the GPU: hms_close() detaches it). */
static int finish(struct stress *s)
{
	if (s->o.huge) { /* before the checks below move pages */
		s->huge_mapped = st_huge_bytes(s);
		s->huge_filled = hms__test_huge_filled(s->h);
		s->huge_left = hms__test_huge_left(s->h);
		s->fault_blocks = hms__test_fault_blocks(s->h);
	}
	if (st_verify_all(s, "final check", true))
		return 1;
	/* Leave pages on both devices, then tear down: nothing may be lost. */
	st_gpu_park(s, 1);
	for (size_t r = 0; r < s->nregions; r += 2)
		if (s->reg[r].state == REG_MAPPED) {
			struct hms_softdev_cmd c = { (uint64_t)(uintptr_t)st_addr(s, r, 0), NULL,
						     ST_REGION_PAGES, 0, 0 };

			hms_softdev_migrate_to_device(s->dev[(r / 2) % ST_NDEV], &c);
		}
	hms_softdev_destroy(s->dev[1]);
	s->dev[1] = NULL;
	if (st_verify_all(s, "after hms_softdev_destroy", true))
		return 1;
	for (size_t r = 0; r < s->nregions; r += 2)
		if (s->reg[r].state == REG_MAPPED) {
			struct hms_softdev_cmd c = { (uint64_t)(uintptr_t)st_addr(s, r, 0), NULL,
						     ST_REGION_PAGES, 0, 0 };

			hms_softdev_migrate_to_device(s->dev[0], &c);
		}
	st_gpu_park(s, 3);
	st_gpu_close(s);
	/* A page brought home found the CPU's page already there: the table
	 * and the address space disagreed (uffd.c keeps the CPU's page). */
	if (hms__test_fill_conflicts(s->h)) {
		st_log(s, "FILL CONFLICT: %llu pages came back from a device to find a CPU page "
			  "already present\n",
		       (unsigned long long)hms__test_fill_conflicts(s->h));
		return 1;
	}
	hms_close(s->h); /* destroys dev[0] too */
	s->h = NULL;
	s->dev[0] = NULL;
	return st_verify_all(s, "after hms_close", false) ? 1 : 0;
}

int stress_run(const struct stress_opts *o)
{
	struct stress *s = calloc(1, sizeof(*s));
	struct st_thread *t = calloc(o->threads, sizeof(*t));
	pthread_t *tid = calloc(o->threads, sizeof(*tid));
	unsigned started = 0, prepared = 0;
	char limit[64];
	int rc = 1;

	if (!s || !t || !tid)
		goto out;
	s->o = *o;
	s->threads = t;
	s->nthreads = o->threads;
	if (st_layout_init(s))
		goto out_fini;
	/* --seconds takes a fraction: 0.5 read "seconds 0" (up to 1e7: %.15g) */
	if (o->ops)
		snprintf(limit, sizeof(limit), "operations %llu", (unsigned long long)o->ops);
	else
		snprintf(limit, sizeof(limit), "seconds %.15g", o->seconds);
	st_log(s, "hms stress: seed %llu, %u threads, %zu MiB%s in %zu regions of %u KiB, "
	       "2 softdevs%s, userfaultfd %s mode%s, %s\n",
	       (unsigned long long)o->seed, o->threads, (s->nregions * ST_REGION_BYTES) >> 20,
	       o->huge ? " of HMS_ALLOC_HUGE memory" : "", s->nregions,
	       (unsigned)(ST_REGION_BYTES >> 10), s->gpu ? " and a GPU" : "",
	       s->mode == HMS_MODE_FULL ? "full" : "user-only",
	       o->wp_async ? " with asynchronous write protection" : "", limit);
	for (; prepared < o->threads; prepared++)
		if (prepare_thread(s, &t[prepared], prepared)) {
			st_log(s, "hms stress: cannot set up thread %u\n", prepared);
			prepared++; /* (what it made is freed below) */
			goto out_fini;
		}
	if (o->inject)
		hms__inject_arm(o->inject);
	for (; started < o->threads; started++)
		if (pthread_create(&tid[started], NULL, worker, &t[started])) {
			st_log(s, "hms stress: cannot start thread %u\n", started);
			atomic_store(&s->stop, true);
			atomic_store(&s->failed, true);
			break;
		}
	if (!watch(s, t)) {
		print_counts(s);
		print_injected(s, false);
		st_log(s, "hms stress: seed %llu: FAILED (hang)\n", (unsigned long long)o->seed);
		_exit(1); /* the hung threads cannot be joined */
	}
	if (!join_all(s, t, tid, started)) {
		print_counts(s);
		print_injected(s, false);
		st_log(s, "hms stress: seed %llu: FAILED (hang after the end)\n",
		       (unsigned long long)o->seed);
		_exit(1);
	}
	if (!atomic_load(&s->failed) && finish(s) == 0)
		rc = 0;
	print_counts(s);
	print_injected(s, rc == 0);
	st_log(s, "hms stress: seed %llu: %llu operations, %s\n", (unsigned long long)o->seed,
	       (unsigned long long)atomic_load(&s->done),
	       rc ? "FAILED" : "0 mismatches, every byte checked");
out_fini:
	st_layout_fini(s);
	for (unsigned i = 0; i < prepared; i++) {
		if (t[i].pipe[1] > 0) {
			close(t[i].pipe[0]);
			close(t[i].pipe[1]);
		}
		free(t[i].buf);
	}
out:
	free(s);
	free(t);
	free(tid);
	return rc;
}
