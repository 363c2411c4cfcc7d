/* SPDX-License-Identifier: MIT */
/*
 * dirty_util.h - the dirty-tracking scenario both mechanisms must answer
 * identically (dirty_sync.c, dirty_async.c): CPU and device writes, first
 * touches, reads, a page in device memory, report-only scans, with the
 * exact bitmap checked after every step.
 */
#ifndef DIRTY_UTIL_H
#define DIRTY_UTIL_H

#include "hms_test.h"

/* Runs the scenario on a fresh 100-page area of h. */
void t_dirty_scenario(struct hms *h);

#endif
