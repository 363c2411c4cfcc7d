/* SPDX-License-Identifier: MIT */
/* manage_after_mremap_shrink_race: manage_after_mremap_race with an
 * mremap() that shrinks the range to half as it moves it.  The kernel
 * sends the REMAP event, then an UNMAP event of the tail it cut off, then
 * the UNMAP event of the old range that moved; neither UNMAP event may
 * remove the area that the other thread has made over the old range
 * meanwhile (hms_page_query() of the new area must not say ENOENT). */
#define MOVE_AWAY 1
#define SHRINK 1
#include "manage_after_munmap_race.c"
