/* SPDX-License-Identifier: MIT */
/*
 * stats.c - the context's counters: one list, copied out, printed, and
 * reported at hms_close() to the file $HMS_STATS_FILE names (hms stat).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/internal.h"

/* ---- the list ------------------------------------------------------------------- */

static void stats_load(struct hms *h, struct hms_stats *out)
{
	struct hms_stats s = { 0 };

#define LOAD(f) s.f = atomic_load_explicit(&h->stats.f, memory_order_relaxed)
	LOAD(cpu_faults);
	LOAD(cpu_faults_device);
	LOAD(device_faults);
	LOAD(wp_faults);
	LOAD(migrations_to_device);
	LOAD(migrations_to_system);
	LOAD(bytes_to_device);
	LOAD(bytes_to_system);
	LOAD(replicas_made);
	LOAD(replicas_collapsed);
	LOAD(prefaulted);
#undef LOAD
	for (int i = 0; i < HMS_EVENT_COUNT; i++)
		s.invalidations[i] = atomic_load_explicit(&h->stats.invalidations[i],
							  memory_order_relaxed);
	*out = s;
}

/*
 * Every counter of s, in the order hms_stats_print() prints them, as
 * fn(name, value, arg): the one list both formats are made from.
 */
static void stats_each(const struct hms_stats *s,
		       void (*fn)(const char *name, uint64_t v, void *arg), void *arg)
{
	char name[64];

	fn("cpu_faults", s->cpu_faults, arg);
	fn("cpu_faults_device", s->cpu_faults_device, arg);
	fn("device_faults", s->device_faults, arg);
	fn("wp_faults", s->wp_faults, arg);
	fn("migrations_to_device", s->migrations_to_device, arg);
	fn("migrations_to_system", s->migrations_to_system, arg);
	fn("bytes_to_device", s->bytes_to_device, arg);
	fn("bytes_to_system", s->bytes_to_system, arg);
	for (int i = 0; i < HMS_EVENT_COUNT; i++) {
		snprintf(name, sizeof(name), "invalidations_%s", hms_event_name(i));
		fn(name, s->invalidations[i], arg);
	}
	fn("replicas_made", s->replicas_made, arg);
	fn("replicas_collapsed", s->replicas_collapsed, arg);
	fn("prefaulted", s->prefaulted, arg);
}

/* ---- the public calls ----------------------------------------------------------- */

HMS_API int hms_stats(struct hms *h, struct hms_stats *out)
{
	int ret = hms__check(h);

	if (ret)
		return ret;
	if (!out)
		return -EINVAL;
	stats_load(h, out);
	return 0;
}

static void print_one(const char *name, uint64_t v, void *arg)
{
	fprintf(arg, "%s %" PRIu64 "\n", name, v);
}

HMS_API int hms_stats_print(const struct hms_stats *s, FILE *f)
{
	if (!s || !f)
		return -EINVAL;
	stats_each(s, print_one, f);
	/* Flushed: a buffered write that fails later would be lost unseen. */
	return fflush(f) || ferror(f) ? -EIO : 0;
}

/* ---- the report at hms_close ---------------------------------------------------- */

struct line {
	char buf[2048];
	size_t len;
};

static void line_one(const char *name, uint64_t v, void *arg)
{
	struct line *l = arg;

	if (l->len < sizeof(l->buf))
		l->len += (size_t)snprintf(l->buf + l->len, sizeof(l->buf) - l->len,
					   " %s %" PRIu64, name, v);
}

/*
 * Appends the context's final counters to the file $HMS_STATS_FILE names,
 * one line "hms_stats pid PID NAME VALUE ..." (the names and values of
 * hms_stats_print()), for `hms stat`.  A path rather than an inherited
 * descriptor: a program may close or reuse any descriptor number (a
 * daemon's closefrom(3)), and a reused number would have this line
 * written into the program's own file; the path reaches the children
 * the program starts as well.  The file must exist (O_CREAT would make a
 * variable left behind litter files), it is opened with O_APPEND and
 * written in one write(2), so that lines of processes closing at once do
 * not mix.  secure_getenv: a setuid program never writes where its
 * caller says.  Every failure is silent; errno is kept.
 */
void hms__stats_report(struct hms *h)
{
	const char *path = secure_getenv("HMS_STATS_FILE");
	struct hms_stats s;
	struct line l;
	int fd, saved = errno;

	if (!path || !*path)
		return;
	stats_load(h, &s);
	l.len = (size_t)snprintf(l.buf, sizeof(l.buf), "hms_stats pid %ld", (long)getpid());
	stats_each(&s, line_one, &l);
	if (l.len >= sizeof(l.buf) - 1)
		goto out; /* cannot happen with today's list; never a cut line */
	l.buf[l.len++] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		goto out;
	if (write(fd, l.buf, l.len) < 0) {
		/* nobody to tell */
	}
	close(fd);
out:
	errno = saved;
}
