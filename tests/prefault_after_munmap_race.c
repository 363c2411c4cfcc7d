/* SPDX-License-Identifier: MIT */
/* prefault_after_munmap_race: hms_prefault() of fresh memory at addresses another
 * thread has just munmap()ed from a managed area says -ENOENT and leaves
 * the memory alone (tests/lib/calls_after_munmap_race.inc). */
#define CALL_PREFAULT
/* hms_prefault's wrong answer (-EFAULT) needs the unmap to land inside
 * its fault: the old code failed after about 2,100 rounds, not a few. */
#define ROUNDS 20000
#define SECONDS 5
#include "calls_after_munmap_race.inc"
