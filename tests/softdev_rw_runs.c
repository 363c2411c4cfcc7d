/* softdev_rw_runs: a device read or write over a range whose pages lie in
 * device memory out of pool order (some migrated in reverse, so adjacent
 * addresses hold non-adjacent pool pages), in system memory, and in
 * read-only replicas, copies every byte to and from the right page: the
 * softdev copies device pages a run at a time under one lock hold, and
 * must break the run wherever the pool pages stop being adjacent. */
#include "hms_test.h"

#define NP 64

static unsigned char pat(unsigned gen, size_t i)
{
	return (unsigned char)(gen * 31 + i / T_PAGE * 7 + i % 251);
}

static void check(const unsigned char *b, unsigned gen, const char *what)
{
	for (size_t i = 0; i < NP * T_PAGE; i++)
		if (b[i] != pat(gen, i))
			T_FAIL("%s: byte %zu (page %zu) is %u, want %u", what, i, i / T_PAGE, b[i],
			       pat(gen, i));
}

int main(void)
{
	struct hms *h = t_open();
	struct hms_softdev *d = t_softdev(h, 0);
	unsigned char *p = hms_alloc(h, NP * T_PAGE, 0), *buf = malloc(NP * T_PAGE);
	struct hms_softdev_cmd c;

	T_ASSERT(p && buf);
	for (size_t i = 0; i < NP * T_PAGE; i++)
		p[i] = pat(1, i);
	/* Pool pages are handed out in order: pages 40-47 take pool pages
	 * 0-7, pages 8-23 the next 16, and pages 31 down to 24, migrated one
	 * at a time in reverse, the next 8 in descending order. */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p + 40 * T_PAGE, NULL, 8, &c), 0);
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p + 8 * T_PAGE, NULL, 16, &c), 0);
	for (int i = 31; i >= 24; i--)
		T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p + i * T_PAGE, NULL, 1, &c), 0);
	T_EQ(hms_softdev_pages_used(d), 32);
	T_EQ(t_count_loc(h, p, NP, HMS_LOC_DEVICE), 32);
	/* Pages 48-55 are read through replicas; 0-7, 32-39, 56-63 stay. */
	T_EQ(hms_advise(h, p + 48 * T_PAGE, 8 * T_PAGE, HMS_ADVICE_READ_MOSTLY, 0), 0);

	memset(buf, 0, NP * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, NP, &c), 0);
	T_EQ(c.cpages, NP);
	check(buf, 1, "first device read");
	/* Everything is mirrored now: the second read copies only. */
	memset(buf, 0, NP * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, NP, &c), 0);
	T_EQ(c.faults, 0);
	check(buf, 1, "second device read");
	/* A read starting mid-run and ending mid-run. */
	memset(buf, 0, NP * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_read, p + 10 * T_PAGE, buf + 10 * T_PAGE, 40, &c), 0);
	for (size_t i = 10 * T_PAGE; i < 50 * T_PAGE; i++)
		if (buf[i] != pat(1, i))
			T_FAIL("partial read: byte %zu is %u, want %u", i, buf[i], pat(1, i));

	/* A device write of the whole range. */
	for (size_t i = 0; i < NP * T_PAGE; i++)
		buf[i] = pat(2, i);
	T_EQ(t_cmd(d, hms_softdev_write, p, buf, NP, &c), 0);
	T_EQ(c.cpages, NP);
	memset(buf, 0, NP * T_PAGE);
	T_EQ(t_cmd(d, hms_softdev_read, p, buf, NP, &c), 0);
	check(buf, 2, "device read after device write");
	/* The CPU sees the device's writes (device pages come home). */
	check(p, 2, "CPU read after device write");
	T_EQ(t_count_loc(h, p, NP, HMS_LOC_DEVICE), 0);

	free(buf);
	hms_softdev_destroy(d);
	hms_close(h);
	return 0;
}
