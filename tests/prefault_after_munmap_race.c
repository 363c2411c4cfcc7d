/* SPDX-License-Identifier: MIT */
/* prefault_after_munmap_race: hms_prefault() of fresh memory at addresses another
 * thread has just munmap()ed from a managed area says -ENOENT and leaves
 * the memory alone (tests/lib/calls_after_munmap_race.inc). */
#define CALL_PREFAULT
#include "calls_after_munmap_race.inc"
