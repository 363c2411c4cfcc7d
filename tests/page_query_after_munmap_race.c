/* SPDX-License-Identifier: MIT */
/* page_query_after_munmap_race: hms_page_query() of fresh memory at addresses another
 * thread has just munmap()ed from a managed area says -ENOENT and leaves
 * the memory alone (tests/lib/calls_after_munmap_race.inc). */
#define CALL_PAGE_QUERY
#include "calls_after_munmap_race.inc"
