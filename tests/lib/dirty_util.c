/* SPDX-License-Identifier: MIT */
#include <stdarg.h>

#include "dirty_util.h"

#define NP 100
#define WORDS ((NP + 63) / 64)

/* Scan (flags) and compare with the pages listed (ended by -1). */
static void expect(struct hms *h, char *p, unsigned flags, int line, ...)
{
	uint64_t want[WORDS] = { 0 }, got[WORDS];
	long count = 0, ret;
	va_list ap;

	va_start(ap, line);
	for (int i = va_arg(ap, int); i >= 0; i = va_arg(ap, int)) {
		want[i / 64] |= 1ULL << (i % 64);
		count++;
	}
	va_end(ap);
	memset(got, 0xa5, sizeof(got));
	ret = hms_dirty_scan(h, p, NP * T_PAGE, got, flags);
	if (ret != count || memcmp(got, want, sizeof(got))) {
		fprintf(stderr, "line %d: scan returned %ld, expected %ld; pages:", line, ret, count);
		for (int i = 0; i < NP && ret >= 0; i++)
			if ((got[i / 64] >> (i % 64)) & 1)
				fprintf(stderr, " %d", i);
		T_FAIL("wrong dirty bitmap");
	}
}

#define EXPECT(...) expect(h, p, 0, __LINE__, __VA_ARGS__, -1)
#define PEEK(...) expect(h, p, HMS_DIRTY_NO_REARM, __LINE__, __VA_ARGS__, -1)

static void dev_write(struct hms_softdev *d, char *p, int page, char v)
{
	char buf[T_PAGE];
	struct hms_softdev_cmd c;

	memset(buf, v, sizeof(buf));
	T_EQ(t_cmd(d, hms_softdev_write, p + page * T_PAGE, buf, 1, &c), 0);
}

void t_dirty_scenario(struct hms *h)
{
	struct hms_softdev *d = t_softdev(h, 0);
	char *p = hms_alloc(h, NP * T_PAGE, 0);
	volatile char *v = NULL;
	struct hms_softdev_cmd c;

	T_ASSERT(p);
	v = p;
	/* Never scanned: every page reads as written. */
	{
		uint64_t got[WORDS];

		T_EQ(hms_dirty_scan(h, p, NP * T_PAGE, got, 0), NP);
		T_EQ(got[0], ~0ULL);
		T_EQ(got[1], (1ULL << (NP - 64)) - 1);
	}
	EXPECT(-1);

	/* First touches: writes are seen, reads are not. */
	v[0] = 1;
	v[5 * T_PAGE] = 1;
	v[63 * T_PAGE + 9] = 1;
	v[99 * T_PAGE] = 1;
	T_EQ(v[10 * T_PAGE], 0);
	EXPECT(0, 5, 63, 99);
	EXPECT(-1);

	/* Writes to populated pages, once or many times. */
	v[10 * T_PAGE] = 2;
	for (int k = 0; k < 100; k++)
		v[5 * T_PAGE + k] = (char)k;
	T_EQ(v[6 * T_PAGE], 0);
	v[64 * T_PAGE] = 2;
	EXPECT(5, 10, 64);

	/* Device writes: to a never-touched page and to a tracked one. */
	dev_write(d, p, 20, 'd');
	EXPECT(20);
	dev_write(d, p, 10, 'e');
	EXPECT(10);
	T_EQ(v[10 * T_PAGE + 3], 'e');
	T_EQ(v[20 * T_PAGE + 3], 'd');
	/* A page in device memory reads as written while it is there, and
	 * once more after it came back (tracking lost sight of it).  Page 45
	 * was never touched: it moves in a HMS_OPEN_WP_ASYNC context too. */
	T_EQ(t_cmd(d, hms_softdev_migrate_to_device, p + 45 * T_PAGE, NULL, 1, &c), 0);
	T_EQ(c.cpages, 1);
	EXPECT(45);
	EXPECT(45);
	T_EQ(v[45 * T_PAGE], 0);
	EXPECT(45);
	EXPECT(-1);

	/* Device reads write nothing. */
	{
		char *buf = malloc(NP * T_PAGE);

		T_ASSERT(buf);
		T_EQ(t_cmd(d, hms_softdev_read, p, buf, NP, &c), 0);
		T_EQ(buf[20 * T_PAGE], 'd');
		free(buf);
	}
	EXPECT(-1);

	/* Report only: the same answer until a scan re-arms. */
	v[30 * T_PAGE] = 3;
	PEEK(30);
	PEEK(30);
	EXPECT(30);
	EXPECT(-1);

	/* MADV_DONTNEED discards a page: it changed (to zeros). */
	T_EQ(madvise(p + 63 * T_PAGE, T_PAGE, MADV_DONTNEED), 0);
	EXPECT(63);
	T_EQ(v[63 * T_PAGE + 9], 0);
	EXPECT(-1);

	hms_softdev_destroy(d);
	T_EQ(hms_free(h, p, NP * T_PAGE), 0);
}

void t_dirty_write_all(struct hms *h, char *p, size_t len, const char *what)
{
	uint64_t bm = 0;

	T_ASSERT(len % T_PAGE == 0 && len / T_PAGE <= 64);
	for (size_t i = 0; i < len; i += T_PAGE)
		((volatile char *)p)[i] = 3;
	T_ASSERT(hms_dirty_scan(h, p, len, &bm, 0) >= 0);
	for (size_t i = 0; i < len / T_PAGE; i++)
		if (!((bm >> i) & 1))
			T_FAIL("%s: page %zu written but reported clean (bitmap %#llx)", what, i,
			       (unsigned long long)bm);
}

void t_dirty_three_writes(struct hms *h, struct hms_stats *before, struct hms_stats *after)
{
	char *p = hms_alloc(h, 8 * T_PAGE, 0);
	uint64_t bm = 0;

	T_ASSERT(p);
	memset(p, 1, 8 * T_PAGE);
	T_EQ(hms_dirty_scan(h, p, 8 * T_PAGE, &bm, 0), 8);
	T_EQ(hms_stats(h, before), 0);
	for (int k = 0; k < 2; k++) {
		p[1 * T_PAGE + k] = 2;
		p[4 * T_PAGE + k] = 2;
		p[7 * T_PAGE + k] = 2;
	}
	T_EQ(hms_stats(h, after), 0);
	T_EQ(hms_dirty_scan(h, p, 8 * T_PAGE, &bm, 0), 3);
	T_EQ(bm, (1u << 1) | (1u << 4) | (1u << 7));
	T_EQ(hms_free(h, p, 8 * T_PAGE), 0);
}
