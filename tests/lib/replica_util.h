/* SPDX-License-Identifier: MIT */
/*
 * replica_util.h - shared setup of the replication tests: a READ_MOSTLY
 * buffer with known bytes, two softdevs, and the checks they repeat.
 */
#ifndef REPLICA_UTIL_H
#define REPLICA_UTIL_H

#include "hms_test.h"

struct t_rep {
	struct hms *h;
	struct hms_softdev *d[2];
	char *p;
	size_t npages;
	char *buf; /* npages pages, for device reads */
};

/* Context, two softdevs, npages of managed memory filled with page i's
 * bytes = 'a' + i % 26, advised READ_MOSTLY. */
void t_rep_setup(struct t_rep *r, size_t npages);
void t_rep_fini(struct t_rep *r);
/* Device k reads all pages; checks every byte against p. */
void t_rep_read_check(struct t_rep *r, int k);
/* Current counters. */
struct hms_stats t_rep_stats(struct t_rep *r);
/* Pages of [0, npages) the page table says are write protected. */
size_t t_rep_count_wp(struct t_rep *r);

#endif
