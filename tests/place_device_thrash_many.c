/* place_device_thrash_many: a contest over many blocks at once (768 of
 * them, 1.5 GiB of address space, one page touched in each) pins every
 * block, as a contest over one does.  A softdev reads a page of each
 * block, which its touch places in its memory (hms_bind), and the CPU
 * reads it back, three times over: every block must be pinned, its page
 * in system memory, HMS_PAGE_THRASHING.  (The record was a fixed table of
 * 256 slots, where a block took over the slot of another: the blocks
 * that shared a slot reset each other's counts, and none was pinned.)
 * Then a fourth device read migrates nothing. */
#include "hms_test.h"

#define NB 768
#define BLOCK (2UL << 20)

int main(void)
{
	struct hms *h;
	struct hms_softdev *d;
	hms_uid t;
	char *p, buf[T_PAGE];
	struct hms_page_info info;
	struct hms_stats s0, s1;
	size_t pinned = 0;

	/* Deterministic: every round within the window, pins that outlast
	 * the test. */
	T_EQ(setenv("HMS_THRASH_ROUNDS", "3", 1), 0);
	T_EQ(setenv("HMS_THRASH_MS", "600000", 1), 0);
	T_EQ(setenv("HMS_THRASH_PIN_MS", "600000", 1), 0);
	h = t_open();
	d = t_softdev(h, 8 << 20);
	t = hms_softdev_target(d);
	p = hms_alloc(h, NB * BLOCK, 0);
	T_ASSERT(p);
	for (size_t b = 0; b < NB; b++)
		*(volatile unsigned *)(p + b * BLOCK) = (unsigned)b * 7 + 1;
	T_EQ(hms_bind(h, p, NB * BLOCK, &t, 1, 0), 0);

	for (int round = 1; round <= 3; round++) {
		for (size_t b = 0; b < NB; b++) {
			struct hms_softdev_cmd c;

			T_EQ(t_cmd(d, hms_softdev_read, p + b * BLOCK, buf, 1, &c), 0);
			T_EQ(*(unsigned *)buf, (unsigned)b * 7 + 1);
			if (round < 3) {
				T_EQ(hms_page_query(h, p + b * BLOCK, 1, &info), 1);
				if (info.location != HMS_LOC_DEVICE)
					T_FAIL("round %d, block %zu: location %d, not placed", round, b,
					       info.location);
			}
			/* the CPU takes it home: a round */
			T_EQ(*(volatile unsigned *)(p + b * BLOCK), (unsigned)b * 7 + 1);
		}
	}
	for (size_t b = 0; b < NB; b++) {
		T_EQ(hms_page_query(h, p + b * BLOCK, 1, &info), 1);
		T_EQ(info.location, HMS_LOC_SYSTEM);
		pinned += !!(info.flags & HMS_PAGE_THRASHING);
	}
	if (pinned != NB)
		T_FAIL("%zu of %d blocks pinned after three rounds", pinned, NB);

	/* Pinned: the device reads every page where it is. */
	T_EQ(hms_stats(h, &s0), 0);
	for (size_t b = 0; b < NB; b++) {
		struct hms_softdev_cmd c;

		T_EQ(t_cmd(d, hms_softdev_read, p + b * BLOCK, buf, 1, &c), 0);
		T_EQ(*(unsigned *)buf, (unsigned)b * 7 + 1);
	}
	T_EQ(hms_stats(h, &s1), 0);
	T_EQ(s1.migrations_to_device, s0.migrations_to_device);
	T_EQ(hms_softdev_pages_used(d), 0);

	T_EQ(hms_free(h, p, NB * BLOCK), 0);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
