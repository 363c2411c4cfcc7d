/* interval_tree_random: with many overlapping intervals (byte-granular,
 * touching at their ends, the whole address space, up to its top) and
 * random inserts and removes between invalidations, each invalidation
 * calls exactly the intervals that overlap it, once each. */
#include <stdint.h>
#include <stdlib.h>
#include "hms_test.h"

#define NIV 300
#define NPAGES 64

static struct hms *h;
static char *p;
static struct hms_interval *ivs[NIV];
static uintptr_t ivs_s[NIV], ivs_l[NIV]; /* [start, last] */
static int calls[NIV];

static bool inv(struct hms_interval *iv, const struct hms_notify_range *r, unsigned long seq)
{
	(void)r;
	hms_interval_set_seq(iv, seq);
	calls[(intptr_t)hms_interval_priv(iv)]++;
	return true;
}

static const struct hms_interval_ops ops = { inv };

static void add(int k)
{
	uintptr_t base = (uintptr_t)p, s;
	size_t len;

	switch (rand() % 8) {
	case 0: /* the whole address space */
		s = 0;
		len = UINTPTR_MAX;
		break;
	case 1: /* up to the top */
		s = base + (uintptr_t)(rand() % (NPAGES * (int)T_PAGE));
		len = (size_t)(0 - s);
		break;
	case 2: /* touching another at its end, or starting where it does */
		if (ivs[(k + 1) % NIV] && ivs_l[(k + 1) % NIV] < (uintptr_t)p + NPAGES * T_PAGE) {
			s = ivs_l[(k + 1) % NIV] + (rand() & 1);
			len = 1 + (size_t)(rand() % (4 * (int)T_PAGE));
			break;
		}
		/* fall through */
	default:
		s = base - T_PAGE + (uintptr_t)(rand() % ((NPAGES + 2) * (int)T_PAGE));
		len = 1 + (size_t)(rand() % ((rand() & 1) ? (int)T_PAGE : 16 * (int)T_PAGE));
		break;
	}
	T_EQ(hms_interval_insert(h, s, len, &ops, (void *)(intptr_t)k, &ivs[k]), 0);
	ivs_s[k] = s;
	ivs_l[k] = s + len - 1;
}

int main(void)
{
	srand(12345);
	h = t_open();
	p = hms_alloc(h, NPAGES * T_PAGE, 0);
	T_ASSERT(p);
	for (int k = 0; k < NIV; k++)
		add(k);
	for (int round = 0; round < 400; round++) {
		size_t a = (size_t)(rand() % NPAGES), n = 1 + (size_t)(rand() % 8);
		uintptr_t s, e;

		if (a + n > NPAGES)
			n = NPAGES - a;
		s = (uintptr_t)p + a * T_PAGE;
		e = s + n * T_PAGE;
		for (int j = 0; j < 10; j++) {
			int k = rand() % NIV;

			hms_interval_remove(ivs[k]);
			ivs[k] = NULL;
			if (rand() & 1)
				add(k);
		}
		for (int k = 0; k < NIV; k++)
			calls[k] = 0;
		T_EQ(hms_protect(h, (void *)s, e - s, (round & 1) ? PROT_READ : PROT_READ | PROT_WRITE), 0);
		for (int k = 0; k < NIV; k++) {
			int want = ivs[k] && ivs_s[k] < e && ivs_l[k] >= s;

			if (calls[k] != want)
				T_FAIL("round %d: interval %d [%#lx, %#lx] got %d calls for [%#lx, %#lx), want %d",
				       round, k, (unsigned long)ivs_s[k], (unsigned long)ivs_l[k],
				       calls[k], (unsigned long)s, (unsigned long)e, want);
		}
		for (int k = 0; k < NIV; k++)
			if (!ivs[k])
				add(k);
	}
	for (int k = 0; k < NIV; k++)
		hms_interval_remove(ivs[k]);
	hms_close(h);
	return 0;
}
