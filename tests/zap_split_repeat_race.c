/* SPDX-License-Identifier: MIT */
/* zap_split_repeat_race: where a migration to a device discards the
 * system copy with MADV_DONTNEED (the ungated path: kernels before 6.8,
 * HMS_UFFD_MOVE=0), the mapping is split inside the run while that
 * madvise waits for its REMOVE event to be read (here by
 * MADV_NOHUGEPAGE of one page of it; hms_protect or hms_bind would do
 * the same).  Linux 6.16 and later then raise REMOVE again for the pages
 * after the split, events of the kernel's, not the application's: the
 * pages must reach the device with their bytes, none taken for
 * discarded (zap_app_discard_race's rule alone lost them).  Then the
 * device writes every page, and the CPU must read the device's bytes:
 * a system copy left behind would show the old ones.  The split comes
 * while a test hook holds the handler. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hms_test.h"
#include "inject.h"
#include "hold_handler.inc"

#define NP 4

#include "zap_hold.inc"

int main(void)
{
	struct hms *h;
	struct hms_softdev *dh;
	pthread_t m, r;
	char buf[NP * 4096];
	struct hms_softdev_cmd c;

	zap_hold_open(&h, &dh);
	/* The migration's MADV_DONTNEED waits for its REMOVE to be read ... */
	zap_hold_start(&m, &r);
	/* ... with the mmap lock dropped: split the mapping inside the run. */
	T_EQ(madvise(p + T_PAGE, T_PAGE, MADV_NOHUGEPAGE), 0);
	hold_release();
	zap_hold_join(h, m, r);

	T_EQ(t_count_loc(h, p, NP, HMS_LOC_DEVICE), NP);
	T_EQ(sizeof(buf), NP * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, NP, &c), 0);
	for (int i = 0; i < NP; i++)
		for (size_t k = 0; k < T_PAGE; k++)
			if (buf[i * T_PAGE + k] != (char)('A' + i))
				T_FAIL("device: page %d byte %zu is %#x, want '%c'", i, k,
				       (unsigned)(unsigned char)buf[i * T_PAGE + k], 'A' + i);
	memset(buf, 'z', sizeof(buf));
	T_EQ(t_cmd(d, hms_softdev_write, p, buf, NP, &c), 0);
	for (int i = 0; i < NP; i++)
		for (size_t k = 0; k < T_PAGE; k++)
			if (p[i * T_PAGE + k] != 'z')
				T_FAIL("CPU: page %d byte %zu is %#x after the device wrote 'z'", i, k,
				       (unsigned)(unsigned char)p[i * T_PAGE + k]);
	hms_softdev_destroy(d);
	hms_softdev_destroy(dh);
	hms_close(h);
	return 0;
}
