/* SPDX-License-Identifier: MIT */
/* unmanage_after_munmap_race: hms_unmanage() of fresh memory at addresses another
 * thread has just munmap()ed from a managed area says -ENOENT and leaves
 * the memory alone (tests/lib/calls_after_munmap_race.inc). */
#define CALL_UNMANAGE
#include "calls_after_munmap_race.inc"
