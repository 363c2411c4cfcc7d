/* SPDX-License-Identifier: MIT */
/*
 * dirty_util.h - the dirty-tracking scenario both mechanisms must answer
 * identically (dirty_sync.c, dirty_async.c): CPU and device writes, first
 * touches, reads, a page in device memory, report-only scans, with the
 * exact bitmap checked after every step; and the check that ends the
 * tests of races with dirty tracking.
 */
#ifndef DIRTY_UTIL_H
#define DIRTY_UTIL_H

#include "hms_test.h"

/* Runs the scenario on a fresh 100-page area of h. */
void t_dirty_scenario(struct hms *h);

/* Dirty tracking's cost: 8 populated pages of h, scanned (re-armed), of
 * which the CPU writes pages 1, 4 and 7 twice each; the next scan must
 * report exactly those three.  *before and *after: h's counters around
 * the writes. */
void t_dirty_three_writes(struct hms *h, struct hms_stats *before, struct hms_stats *after);

/* The CPU writes every page of [p, p + len) (64 pages at most), and the
 * dirty scan that follows must report every one; what names the case in
 * a failure. */
void t_dirty_write_all(struct hms *h, char *p, size_t len, const char *what);

#endif
