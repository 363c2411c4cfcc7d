/* wp_fault_eagain_event_race: fault_eagain_event_race for write-protect
 * faults.  While a MADV_DONTNEED's REMOVE event waits to be read, lifting
 * a write protection (UFFDIO_WRITEPROTECT) fails with EAGAIN too, and the
 * kernel hands the handler every queued fault before any event.  wp.c
 * woke the writer whose lift got EAGAIN: it faulted again at once and
 * queued one more message ahead of the event, round after round, so the
 * event stayed unread and each writer got SIGBUS a minute later.  A test
 * hook holds the handler in a first fault while 320 threads write pages
 * dirty tracking write-protected (hms_dirty_scan) and a madvise queues
 * behind them; once released, every write must complete, the madvise
 * must return, and the next scan must report every page written. */
#define WP_FAULTS 1
#include "fault_eagain_event_race.c"
