/* SPDX-License-Identifier: MIT */
#include "replica_util.h"

void t_rep_setup(struct t_rep *r, size_t npages)
{
	memset(r, 0, sizeof(*r));
	r->h = t_open();
	r->d[0] = t_softdev(r->h, 0);
	r->d[1] = t_softdev(r->h, 0);
	r->npages = npages;
	r->p = hms_alloc(r->h, npages * T_PAGE, 0);
	r->buf = malloc(npages * T_PAGE);
	T_ASSERT(r->p && r->buf);
	for (size_t i = 0; i < npages; i++)
		memset(r->p + i * T_PAGE, 'a' + (int)(i % 26), T_PAGE);
	T_EQ(hms_advise(r->h, r->p, npages * T_PAGE, HMS_ADVICE_READ_MOSTLY, 0), 0);
}

void t_rep_fini(struct t_rep *r)
{
	hms_softdev_destroy(r->d[0]);
	hms_softdev_destroy(r->d[1]);
	hms_close(r->h);
	free(r->buf);
}

void t_rep_read_check(struct t_rep *r, int k)
{
	struct hms_softdev_cmd c;

	memset(r->buf, 0, r->npages * T_PAGE);
	T_EQ(t_cmd(r->d[k], hms_softdev_read, r->p, r->buf, r->npages, &c), 0);
	T_EQ(c.cpages, r->npages);
	if (memcmp(r->buf, r->p, r->npages * T_PAGE))
		T_FAIL("device %d read bytes that differ from the CPU's", k);
}

struct hms_stats t_rep_stats(struct t_rep *r)
{
	struct hms_stats s;

	T_EQ(hms_stats(r->h, &s), 0);
	return s;
}

size_t t_rep_count_wp(struct t_rep *r)
{
	struct hms_page_info *pi = calloc(r->npages, sizeof(*pi));
	size_t n = 0;

	T_ASSERT(pi);
	T_EQ(hms_page_query(r->h, r->p, r->npages, pi), (long)r->npages);
	for (size_t i = 0; i < r->npages; i++)
		n += (pi[i].flags & HMS_PAGE_WRITE_PROTECTED) != 0;
	free(pi);
	return n;
}
