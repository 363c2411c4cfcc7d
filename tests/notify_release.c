/* notify_release: hms_unmanage tells a mirror and an interval one RELEASE
 * with the range (data kept); hms_close calls the mirror's release() once
 * and tells one RELEASE per remaining area. */
#include "notify_rec.h"

/* A devmem whose release() lets the test driver free its subscribers at
 * hms_close, as a driver does. */
static int no_migrate(struct hms_devmem *dm, const struct hms_devmem_fault *f)
{
	(void)dm;
	(void)f;
	return -EIO;
}

static void no_free(struct hms_devmem *dm, hms_pfn pfn)
{
	(void)dm;
	(void)pfn;
}

static struct t_rec *rec;
static size_t at_close[2][HMS_EVENT_COUNT];
static unsigned released_at_close;

static void dm_release(struct hms_devmem *dm)
{
	(void)dm;
	for (int src = 0; src < 2; src++)
		for (int e = 0; e < HMS_EVENT_COUNT; e++)
			at_close[src][e] = t_rec_count(rec, src, e);
	released_at_close = rec->released;
	t_rec_fini(rec);
}

static const struct hms_devmem_ops dm_ops = { no_migrate, no_free, dm_release };

int main(void)
{
	struct hms *h = t_open();
	size_t npages = 16;
	char *p = hms_alloc(h, npages * T_PAGE, 0);
	char *q = hms_alloc(h, 4 * T_PAGE, 0);
	uintptr_t s = (uintptr_t)p;
	struct hms_devmem_desc desc = { "notify_release", 1, &desc, HMS_DEVMEM_PRIVATE };
	struct hms_devmem *dm;

	rec = malloc(sizeof(*rec));
	T_ASSERT(p && q && rec);
	memset(p, 7, npages * T_PAGE);
	T_EQ(hms_devmem_add(h, &desc, &dm_ops, NULL, &dm), 0);
	t_rec_init(rec, h, s, npages * T_PAGE);

	T_EQ(hms_unmanage(h, p + 12 * T_PAGE, 4 * T_PAGE), 0);
	t_rec_expect_one(rec, HMS_EVENT_RELEASE, s + 12 * T_PAGE, s + 16 * T_PAGE, NULL);
	T_EQ(p[12 * T_PAGE], 7); /* still mapped, data kept */
	T_EQ(rec->released, 0);

	t_rec_reset(rec);
	hms_close(h);
	T_EQ(released_at_close, 1);
	/* The interval covers p's remaining area only; the mirror hears both. */
	T_EQ(at_close[T_SRC_MIRROR][HMS_EVENT_RELEASE], 2);
	T_EQ(at_close[T_SRC_INTERVAL][HMS_EVENT_RELEASE], 1);
	for (int e = 0; e < HMS_EVENT_COUNT; e++)
		if (e != HMS_EVENT_RELEASE && (at_close[0][e] || at_close[1][e]))
			T_FAIL("hms_close sent %s", hms_event_name(e));
	{
		bool saw_p = false, saw_q = false;

		for (size_t k = 0; k < 2; k++) {
			struct t_ev ev = t_rec_get(rec, T_SRC_MIRROR, HMS_EVENT_RELEASE, k);

			saw_p |= ev.r.start == s && ev.r.end == s + 12 * T_PAGE;
			saw_q |= ev.r.start == (uintptr_t)q && ev.r.end == (uintptr_t)q + 4 * T_PAGE;
		}
		T_ASSERT(saw_p && saw_q);
	}
	/* hms_unmanage'd memory stays ours. */
	T_EQ(p[12 * T_PAGE], 7);
	munmap(p + 12 * T_PAGE, 4 * T_PAGE);
	free(rec);
	return 0;
}
