/* SPDX-License-Identifier: MIT */
/* replica_unset_give_up: HMS_ADVICE_UNSET_READ_MOSTLY called from a
 * callback of the very operation that holds the range's pages (a
 * mirror's sync callback of a dirty scan) waits for them
 * HMS_STALE_WAIT_MS (here 200 ms) and then gives up: it returns 0
 * instead of waiting for ever.  The pages it passed over keep their
 * replicas, write protected, until their next write (devices reading
 * them meanwhile are still handed replicas), so no device is left with
 * an old copy: after the CPU writes every page, none is replicated and
 * both devices read the new bytes. */
#include <stdatomic.h>
#include <time.h>

#include "replica_util.h"

#define NP 8
#define WAIT_MS 200

static struct t_rep r;
static atomic_int armed;
static int unset_ret = 99;
static double unset_ms = -1;

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static bool sync_cb(struct hms_mirror *m, const struct hms_notify_range *rg)
{
	double t0;

	(void)m;
	if (rg->event != HMS_EVENT_SOFT_DIRTY || !atomic_exchange(&armed, 0))
		return true;
	/* the scan holds every page of the range now */
	t0 = now_ms();
	unset_ret = hms_advise(r.h, r.p, NP * T_PAGE, HMS_ADVICE_UNSET_READ_MOSTLY, 0);
	unset_ms = now_ms() - t0;
	return true;
}

static const struct hms_mirror_ops ops = { .sync = sync_cb };

int main(void)
{
	struct hms_mirror *m;
	struct hms_page_info pi[NP];
	uint64_t bm[1];
	size_t kept = 0;

	T_EQ(setenv("HMS_STALE_WAIT_MS", "200", 1), 0); /* read by hms_open */
	t_rep_setup(&r, NP);
	t_rep_read_check(&r, 0); /* replicas armed on every page */
	T_EQ(hms_mirror_register(r.h, &ops, NULL, &m), 0);
	t_watchdog(30, "UNSET_READ_MOSTLY inside the scan that holds its pages");
	atomic_store(&armed, 1);
	T_EQ(hms_dirty_scan(r.h, r.p, NP * T_PAGE, bm, 0), NP);
	t_watchdog(0, NULL);
	T_EQ(atomic_load(&armed), 0);
	T_EQ(unset_ret, 0);
	/* It waited for the pages before giving up.  No upper bound: a loaded
	 * machine may take seconds over the last look; a wait that never ends
	 * is the watchdog's. */
	if (unset_ms < WAIT_MS * 0.9)
		T_FAIL("the advice returned after %.0f ms, not after %d ms or more", unset_ms,
		       WAIT_MS);

	/* Passed over, every page the scan held stays replicated, so write
	 * protected, until its next write. */
	T_EQ(hms_page_query(r.h, r.p, NP, pi), NP);
	for (int i = 0; i < NP; i++)
		kept += (pi[i].flags & HMS_PAGE_REPLICATED) != 0;
	T_EQ(kept, NP);
	T_EQ(t_rep_count_wp(&r), NP);
	t_rep_read_check(&r, 1);
	/* The CPU's writes reach every device's copy. */
	for (int i = 0; i < NP; i++)
		r.p[i * T_PAGE + 7] = 'Z';
	T_EQ(hms_page_query(r.h, r.p, NP, pi), NP);
	for (int i = 0; i < NP; i++)
		if (pi[i].flags & HMS_PAGE_REPLICATED)
			T_FAIL("page %d: still replicated after the CPU wrote it", i);
	t_rep_read_check(&r, 0);
	t_rep_read_check(&r, 1);
	printf("the advice gave up after %.0f ms\n", unset_ms);
	hms_mirror_unregister(m);
	t_rep_fini(&r);
	return 0;
}
