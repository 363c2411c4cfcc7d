/* SPDX-License-Identifier: MIT */
/*
 * inject.c - the fault injection points (src/inject.h): which are armed,
 * how often they fail, how many failures they injected.  The callers
 * decide what a failure means at their point.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "inject.h"

static const char *const names[HMS_INJ_NPOINTS] = {
	[HMS_INJ_DEV_ALLOC] = "dev_alloc", [HMS_INJ_DEV_COPY] = "dev_copy",
	[HMS_INJ_THREAD] = "thread",	    [HMS_INJ_UFFD_EAGAIN] = "uffd_eagain",
	[HMS_INJ_NOMEM] = "nomem",	    [HMS_INJ_UFFD_REGISTER] = "uffd_register",
	[HMS_INJ_NOTIFY_NOMEM] = "notify_nomem", [HMS_INJ_SPARE_MOVE] = "spare_move",
	[HMS_INJ_ZAP_SHORT] = "zap_short",
};

/* every[p]: 0 = off, else point p fails on every every[p]-th pass;
 * left[p]: failures still to inject, LEFT_ANY for no limit. */
#define LEFT_ANY UINT_MAX
static _Atomic unsigned every[HMS_INJ_NPOINTS], left[HMS_INJ_NPOINTS];
static _Atomic uint64_t passes[HMS_INJ_NPOINTS], hits[HMS_INJ_NPOINTS];

bool hms__inject(enum hms_inject_point p)
{
	unsigned n = atomic_load_explicit(&every[p], memory_order_relaxed), l;

	if (!n || (atomic_fetch_add(&passes[p], 1) + 1) % n)
		return false;
	l = atomic_load(&left[p]);
	do {
		if (!l)
			return false;
	} while (l != LEFT_ANY && !atomic_compare_exchange_weak(&left[p], &l, l - 1));
	atomic_fetch_add(&hits[p], 1);
	return true;
}

static int point_of(const char *s, size_t len)
{
	for (int p = 0; p < HMS_INJ_NPOINTS; p++)
		if (strlen(names[p]) == len && !memcmp(names[p], s, len))
			return p;
	return -1;
}

int hms__inject_arm(const char *spec)
{
	unsigned want[HMS_INJ_NPOINTS] = { 0 };

	/* Strictly: N is digits only (strtoul alone takes " 5", "+5" and
	 * "-1"), no empty item, no point twice. */
	for (const char *s = spec; s && *s;) {
		const char *colon = strchr(s, ':');
		char *end;
		unsigned long n;
		int p;

		if (!colon || colon[1] < '0' || colon[1] > '9')
			return -EINVAL;
		p = point_of(s, (size_t)(colon - s));
		n = strtoul(colon + 1, &end, 10);
		if (p < 0 || want[p] || !n || n > 1000000000ul || (*end && *end != ',') ||
		    (*end == ',' && !end[1]))
			return -EINVAL;
		want[p] = (unsigned)n;
		s = *end ? end + 1 : end;
	}
	for (int p = 0; p < HMS_INJ_NPOINTS; p++) {
		atomic_store(&every[p], 0u);
		atomic_store(&passes[p], 0);
		atomic_store(&hits[p], 0);
		atomic_store(&left[p], LEFT_ANY);
		atomic_store(&every[p], want[p]);
	}
	return 0;
}

void hms__inject_arm_nth(enum hms_inject_point p, unsigned n)
{
	hms__inject_arm(NULL);
	if (p >= HMS_INJ_NPOINTS || !n)
		return;
	/* every nth pass, the first of them the last: pass n alone */
	atomic_store(&left[p], 1u);
	atomic_store(&every[p], n);
}

void hms__inject_arm_once(enum hms_inject_point p)
{
	hms__inject_arm_nth(p, 1);
}

uint64_t hms__inject_hits(enum hms_inject_point p)
{
	return p < HMS_INJ_NPOINTS ? atomic_load(&hits[p]) : 0;
}

const char *hms__inject_name(enum hms_inject_point p)
{
	return p < HMS_INJ_NPOINTS ? names[p] : "?";
}

void hms__inject_env(void)
{
	const char *spec = getenv("HMS_INJECT");

	if (spec)
		hms__inject_arm(spec); /* a bad spec arms nothing */
}

static _Atomic(hms_test_hook_fn) hook;
static void *_Atomic hook_arg;
static atomic_bool hook_handler;

void hms__test_hook_in_handler(bool on)
{
	atomic_store(&hook_handler, on);
}

void hms__test_hook_set(hms_test_hook_fn fn, void *arg)
{
	atomic_store(&hook_arg, arg);
	atomic_store(&hook, fn);
}

bool hms__test_gated_discard(struct hms *h)
{
	return h && h->uffd_move;
}

void hms__test_hook_run(struct hms *h, enum hms_test_hook point, uintptr_t start, size_t len)
{
	hms_test_hook_fn fn = atomic_load_explicit(&hook, memory_order_acquire);

	if (fn && (!hms__in_handler(h) || atomic_load(&hook_handler)))
		fn(point, start, len, atomic_load(&hook_arg));
}
