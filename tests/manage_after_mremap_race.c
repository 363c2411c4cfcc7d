/* SPDX-License-Identifier: MIT */
/* manage_after_mremap_race: two threads each mmap() fresh memory at one
 * address (MAP_FIXED_NOREPLACE), hms_manage() it, touch it and mremap()
 * it away to an address of their own, so that one thread manages the
 * addresses the other has just moved its area from.  hms_manage() must
 * succeed, and the new area must stay managed until its owner moves it:
 * the kernel lets the old range go before the REMAP event and the UNMAP
 * event that follows it are read, so the old area could still be in the
 * table (hms_manage() failed with EEXIST), and the UNMAP event, read after
 * the new area was made, removed it (hms_page_query() said ENOENT). */
#define MOVE_AWAY 1
#include "manage_after_munmap_race.c"
