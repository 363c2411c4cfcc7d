/* SPDX-License-Identifier: MIT */
/* replica_unset_busy_race: HMS_ADVICE_UNSET_READ_MOSTLY drops every
 * replica of the range, also of pages another operation holds busy at
 * that moment (here a dirty scan, between its selection of the pages and
 * its marking: a mirror's sync callback starts the advice on another
 * thread and lets it run for 50 ms).  The pass skipped busy pages: they
 * stayed replicated and write protected, and devices kept being handed
 * replicas after the advice was gone (found by review).  It now waits
 * for them (HMS_STALE_WAIT_MS at most) and passes over them again.
 * That bound is raised to 30 s here: the scan holds the pages 50 ms, and
 * a loaded VM must not turn its wait into the give-up that
 * tests/replica_unset_give_up checks (a failure says how long it took). */
#include <stdatomic.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "replica_util.h"

static struct t_rep r;
static atomic_int armed;
static int unset_ret = 99;
static double unset_ms; /* how long the advice took (said if a page kept its replica) */
static pthread_t unsetter_thread;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *unsetter(void *a)
{
	double t0 = now_ms();

	(void)a;
	unset_ret = hms_advise(r.h, r.p, r.npages * T_PAGE, HMS_ADVICE_UNSET_READ_MOSTLY, 0);
	unset_ms = now_ms() - t0;
	return NULL;
}

static bool sync_cb(struct hms_mirror *m, const struct hms_notify_range *rg)
{
	(void)m;
	if (atomic_load(&armed) && rg->event == HMS_EVENT_SOFT_DIRTY) {
		atomic_store(&armed, 0);
		/* another thread's UNSET_READ_MOSTLY while the scan holds the pages */
		T_EQ(pthread_create(&unsetter_thread, NULL, unsetter, NULL), 0);
		usleep(50 * 1000);
	}
	return true;
}

static const struct hms_mirror_ops ops = { .sync = sync_cb };

int main(void)
{
	struct hms_mirror *m;
	struct hms_page_info pi[8];
	struct hms_stats s0, s1;
	uint64_t bm[1];

	T_EQ(setenv("HMS_STALE_WAIT_MS", "30000", 1), 0);
	t_rep_setup(&r, 8);
	t_rep_read_check(&r, 0); /* replicas armed on all 8 pages */
	T_EQ(hms_mirror_register(r.h, &ops, NULL, &m), 0);
	atomic_store(&armed, 1);
	T_EQ(hms_dirty_scan(r.h, r.p, 8 * T_PAGE, bm, 0), 8);
	T_EQ(pthread_join(unsetter_thread, NULL), 0);
	T_EQ(unset_ret, 0);
	T_EQ(hms_page_query(r.h, r.p, 8, pi), 8);
	for (int i = 0; i < 8; i++)
		if (pi[i].flags & HMS_PAGE_REPLICATED)
			T_FAIL("page %d still replicated after HMS_ADVICE_UNSET_READ_MOSTLY (which "
			       "took %.0f ms; HMS_STALE_WAIT_MS bounds its wait for busy pages)",
			       i, unset_ms);
	s0 = t_rep_stats(&r);
	t_rep_read_check(&r, 1);
	s1 = t_rep_stats(&r);
	T_EQ(s1.replicas_made, s0.replicas_made);
	hms_mirror_unregister(m);
	t_rep_fini(&r);
	return 0;
}
