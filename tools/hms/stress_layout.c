/* SPDX-License-Identifier: MIT */
/*
 * stress_layout.c - the memory `hms stress` tests: one reserved range of
 * regions, some mapped and managed in areas of several regions, the rest
 * PROT_NONE placeholders that map and mremap operations fill.  Also the
 * shadow copy and the per-page history.  Operations are in stress_ops.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cli.h"
#include "stress.h"

/* ---- placeholders ---------------------------------------------------------
 *
 * An unmapped region must stay ours: a hole could be taken by malloc, a
 * thread stack or a sanitizer, and a later MAP_FIXED would destroy it.  So
 * "unmapped" regions hold a PROT_NONE placeholder mapping that is not
 * managed.  replace = true maps it over what is there in one step (the
 * kernel reports the old mapping's munmap to hms); false fills a hole left
 * by munmap/mremap and fails with EEXIST if someone took it meanwhile.
 */
int st_placeholder(void *addr, size_t len, bool replace)
{
	int fl = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		 (replace ? MAP_FIXED : MAP_FIXED_NOREPLACE);
	void *p = mmap(addr, len, PROT_NONE, fl, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	if (p != addr) { /* kernels before 4.17 ignore NOREPLACE */
		munmap(p, len);
		return -EEXIST;
	}
	return 0;
}

/* ---- history ---------------------------------------------------------------- */

void st_hist_add(struct stress *s, size_t r, unsigned first, unsigned n,
		 const struct st_hist *e)
{
	r += first / ST_REGION_PAGES;
	first %= ST_REGION_PAGES;
	while (n) {
		struct st_region *g = &s->reg[r];
		unsigned here = ST_REGION_PAGES - first < n ? ST_REGION_PAGES - first : n;

		pthread_mutex_lock(&g->hist_lock);
		for (unsigned p = first; p < first + here; p++) {
			struct st_hist *h = &g->hist[p][g->hist_next[p]++ % ST_HIST];

			*h = *e;
			h->prot = g->prot[p];
		}
		pthread_mutex_unlock(&g->hist_lock);
		n -= here;
		first = 0;
		r++;
	}
}

void st_written(struct stress *s, size_t r, unsigned first, unsigned n)
{
	for (unsigned p = first; p < first + n; p++)
		s->reg[r + p / ST_REGION_PAGES].written[p % ST_REGION_PAGES] = 1;
}

void st_ghist_add(struct stress *s, const struct st_hist *e)
{
	pthread_mutex_lock(&s->ghist_lock);
	s->ghist[s->ghist_next++ % ST_GHIST] = *e;
	pthread_mutex_unlock(&s->ghist_lock);
}

/* ---- setup and teardown ---------------------------------------------------- */

static int map_area(struct stress *s, size_t r, unsigned n)
{
	char *a = st_addr(s, r, 0);
	size_t len = (size_t)n * ST_REGION_BYTES;
	uint32_t seg = atomic_fetch_add(&s->next_seg, 1);
	int ret;

	if (mmap(a, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
		 0) == MAP_FAILED)
		return -errno;
	ret = hms_manage(s->h, a, len);
	if (ret)
		return ret;
	for (unsigned i = 0; i < n; i++) {
		s->reg[r + i].state = REG_MAPPED;
		s->reg[r + i].seg = seg;
		memset(s->reg[r + i].prot, PROT_READ | PROT_WRITE, ST_REGION_PAGES);
		/* never scanned: reads as written (hms_dirty_scan.3) */
		memset(s->reg[r + i].written, 1, ST_REGION_PAGES);
	}
	return 0;
}

/*
 * --huge: the memory is one hms_alloc(HMS_ALLOC_HUGE) area (2 MiB aligned,
 * populated, in huge pages where the kernel grants them).  Of each 2 MiB
 * block, about one in eight is unmapped whole and two in eight lose a run
 * of one to three regions (a placeholder mapped over them, which splits
 * the area and the huge page); the rest stay whole.  Each run of mapped
 * regions between placeholders is one area.
 */
static int layout_huge(struct stress *s, size_t len)
{
	uint32_t seg = 0;

	s->base = hms_alloc(s->h, len, HMS_ALLOC_HUGE);
	if (!s->base) {
		int err = errno;

		fprintf(stderr, "hms stress: hms_alloc(HMS_ALLOC_HUGE): %s\n", strerror(err));
		return -err;
	}
	for (size_t r = 0; r < s->nregions; r++) {
		s->reg[r].state = REG_MAPPED;
		s->reg[r].owned = true;
		memset(s->reg[r].prot, PROT_READ | PROT_WRITE, ST_REGION_PAGES);
		memset(s->reg[r].written, 1, ST_REGION_PAGES); /* never scanned */
	}
	for (size_t b = 0; b < s->nregions; b += ST_BLOCK_REGIONS) {
		uint64_t x = s->o.seed * 0x9e3779b97f4a7c15ull + b * 0xbf58476d1ce4e5b9ull;
		size_t first = b, n = 0;
		int ret;

		x ^= x >> 31;
		x *= 0x94d049bb133111ebull;
		x ^= x >> 29;
		if (x % 8 == 0) {
			n = ST_BLOCK_REGIONS;
		} else if (x % 8 < 3) {
			n = 1 + (x >> 8) % 3;
			first = b + (x >> 16) % (ST_BLOCK_REGIONS - n + 1);
		}
		if (!n)
			continue;
		ret = st_placeholder(st_addr(s, first, 0), n * ST_REGION_BYTES, true);
		if (ret) {
			fprintf(stderr, "hms stress: cannot unmap part of the test memory: %s\n",
				strerror(-ret));
			return ret;
		}
		for (size_t i = first; i < first + n; i++) {
			s->reg[i].state = REG_UNMAPPED;
			s->reg[i].owned = false;
			memset(s->reg[i].prot, PROT_NONE, ST_REGION_PAGES);
		}
	}
	for (size_t r = 0; r < s->nregions; r++) {
		if (s->reg[r].state != REG_MAPPED)
			continue;
		if (!r || s->reg[r - 1].state != REG_MAPPED)
			seg = atomic_fetch_add(&s->next_seg, 1);
		s->reg[r].seg = seg;
	}
	return 0;
}

static int open_devices(struct stress *s)
{
	size_t pool = (size_t)s->o.mib << 20;

	/* Each pool holds a quarter of the memory: migrations meet a full pool.
	 * With --huge half, so that whole blocks more often move whole (a
	 * migration that finds room for part of a block splits its huge page). */
	pool /= s->o.huge ? 1 : 4;
	pool = pool < (1u << 20) ? (1u << 20) : pool;
	for (int d = 0; d < ST_NDEV; d++) {
		char name[32];
		struct hms_softdev_config c = { .size = sizeof(c), .pool_bytes = pool,
						.nthreads = 2, .name = name };
		int ret;

		snprintf(name, sizeof(name), "stress%d", d);
		ret = hms_softdev_create(s->h, &c, &s->dev[d]);
		if (ret) {
			fprintf(stderr, "hms stress: softdev: %s\n", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int st_layout_init(struct stress *s)
{
	/* The topology only with --gpu: it names the system node that
	 * gpu-migrate-sys moves pages home to. */
	struct hms_options ho = { .size = sizeof(ho),
				  .flags = (s->o.gpu ? 0 : HMS_OPEN_NO_TOPOLOGY) |
					   (s->o.wp_async ? HMS_OPEN_WP_ASYNC : 0) |
					   (s->o.user_only ? HMS_OPEN_USER_MODE_ONLY : 0) };
	size_t len;
	int ret;

	s->nregions = ((size_t)s->o.mib << 20) / ST_REGION_BYTES;
	if (s->o.huge) /* whole 2 MiB blocks */
		s->nregions = (s->nregions + ST_BLOCK_REGIONS - 1) / ST_BLOCK_REGIONS *
			      ST_BLOCK_REGIONS;
	len = s->nregions * ST_REGION_BYTES;
	s->reg = calloc(s->nregions, sizeof(*s->reg));
	s->shadow = calloc(1, len);
	if (!s->reg || !s->shadow)
		return -ENOMEM;
	for (size_t i = 0; i < s->nregions; i++) {
		pthread_rwlock_init(&s->reg[i].lock, NULL);
		pthread_mutex_init(&s->reg[i].hist_lock, NULL);
		pthread_mutex_init(&s->reg[i].scan_lock, NULL);
		s->reg[i].state = REG_UNMAPPED;
	}
	pthread_mutex_init(&s->report_lock, NULL);
	pthread_mutex_init(&s->ghist_lock, NULL);
	{
		pthread_rwlockattr_t a;

		/* fork must not starve behind a stream of writers */
		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&s->gate, &a);
		pthread_rwlockattr_destroy(&a);
	}
	for (int d = 0; d < ST_NDEV; d++)
		pthread_mutex_init(&s->launch_lock[d], NULL);
	atomic_store(&s->next_seg, 1);

	ret = hms_open(&s->h, &ho);
	if (ret) {
		cli_open_error("hms stress", ret);
		return ret;
	}
	s->mode = hms_mode(s->h);
	/* hms_open() falls back to synchronous protection without a word:
	 * a run asked to test the asynchronous kind must not pass silently. */
	if (s->o.wp_async && !hms_wp_async(s->h)) {
		const char *env = getenv("HMS_WP_SYNC");

		fprintf(stderr, "hms stress: --wp-async: %s\n",
			env && *env && strcmp(env, "0")
				? "HMS_WP_SYNC is set in the environment: unset it"
				: "this kernel's userfaultfd lacks asynchronous write protection "
				  "(UFFD_FEATURE_WP_ASYNC and WP_UNPOPULATED, Linux 6.7+)");
		return -EOPNOTSUPP;
	}
	ret = open_devices(s);
	if (!ret && s->o.gpu)
		ret = st_gpu_open(s);
	if (ret)
		return ret;
	if (s->o.huge)
		return layout_huge(s, len);
	s->base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->base == MAP_FAILED) {
		s->base = NULL;
		return -errno;
	}
	/* Areas of 2 to 16 regions; about one region in four stays unmapped. */
	for (size_t r = 0; r < s->nregions;) {
		uint64_t x = s->o.seed * 0x9e3779b97f4a7c15ull + r * 0xbf58476d1ce4e5b9ull;
		unsigned n = 2 + (unsigned)((x >> 20) % 15);

		x ^= x >> 31;
		if (n > s->nregions - r)
			n = (unsigned)(s->nregions - r);
		if ((x >> 40) % 4 == 0) {
			r += 1 + (x >> 44) % 3;
			continue;
		}
		ret = map_area(s, r, n);
		if (ret) {
			fprintf(stderr, "hms stress: cannot map the test memory: %s\n",
				strerror(-ret));
			return ret;
		}
		r += n;
	}
	return 0;
}

size_t st_huge_bytes(const struct stress *s)
{
	uintptr_t lo = (uintptr_t)s->base;

	return cli_anon_huge_bytes(lo, lo + s->nregions * ST_REGION_BYTES);
}

void st_layout_fini(struct stress *s)
{
	st_gpu_close(s);
	free(s->gpu);
	for (int d = 0; d < ST_NDEV; d++)
		if (s->dev[d])
			hms_softdev_destroy(s->dev[d]);
	if (s->h)
		hms_close(s->h);
	if (s->base)
		munmap(s->base, s->nregions * ST_REGION_BYTES);
	for (size_t i = 0; s->reg && i < s->nregions; i++) {
		pthread_rwlock_destroy(&s->reg[i].lock);
		pthread_mutex_destroy(&s->reg[i].hist_lock);
		pthread_mutex_destroy(&s->reg[i].scan_lock);
	}
	free(s->reg);
	free(s->shadow);
}
