/* SPDX-License-Identifier: MIT */
/*
 * topology.c - the topology model: targets, initiators, links, bridges;
 * immutable reference-counted snapshots; registration at run time; paths,
 * best target and the initiator x target matrix.  Discovery from sysfs is
 * in topology_sysfs.c, export (JSON, dot, sysfs tree) in topology_export.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/* ------------------------------------------------------------------------
 * Objects and snapshots
 *
 * Lifetime: an object is immutable once its snapshot is published and is
 * shared by every later snapshot that still holds it (refs counts the
 * snapshots).  A change never edits a published snapshot: it clones the
 * current one (copying the pointer array, taking a reference on every
 * object and on the facts), edits the clone, and publishes it in place of
 * the old one, which lives on for as long as readers hold it.
 *
 *   reader                         driver
 *   lock; t = cur; t->refs++        lock
 *   unlock                          n = clone(cur); edit n
 *   ... read t (never changes) ...  old = cur; cur = n; unlock
 *   put(t)                          put(old)  (freed when readers are done)
 * ---------------------------------------------------------------------- */

struct hms_object {
	_Atomic unsigned refs; /* snapshots holding it */
	enum hms_object_type type;
	hms_uid uid;
	char *name;
	char *note;
	/* targets */
	struct hms_target_info ti;
	struct hms_memcache *caches;
	/* initiators */
	struct hms_initiator_info ii;
	unsigned *cpus;
	char *cpulist;
	/* links and bridges */
	struct hms_perf perf;
	hms_uid *ini, *tgt; /* sorted; tgt unused for bridges */
	unsigned nini, ntgt;
	hms_uid from, to; /* bridges */
};

/* What discovery learnt besides objects; shared by clones, read-only once
 * published. */
struct topo_facts {
	_Atomic unsigned refs;
	char **warn;
	size_t nwarn, capwarn;
	int *dist_nodes;
	unsigned *dist;
	unsigned ndist;
};

/* Invariant: obj[] sorted by uid; count[type] = objects of that type. */
struct hms_topology {
	_Atomic unsigned refs;
	struct hms_object **obj;
	size_t nobj, cap;
	size_t count[5];
	struct topo_facts *facts;
};

struct hms_topo_state {
	pthread_mutex_t lock;
	struct hms_topology *cur; /* guarded by lock */
};

/* Never reused: uids come from one process-wide counter. */
static _Atomic hms_uid topo_next_uid = 1;

static hms_uid uid_alloc(void)
{
	hms_uid u = atomic_fetch_add(&topo_next_uid, 1);

	if (u == 0) { /* wrapped: refuse rather than reuse */
		atomic_store(&topo_next_uid, 0);
		return 0;
	}
	return u;
}

static void obj_put(struct hms_object *o)
{
	if (!o || atomic_fetch_sub(&o->refs, 1) != 1)
		return;
	free(o->name);
	free(o->note);
	free(o->caches);
	free(o->cpus);
	free(o->cpulist);
	free(o->ini);
	free(o->tgt);
	free(o);
}

static void facts_put(struct topo_facts *f)
{
	if (!f || atomic_fetch_sub(&f->refs, 1) != 1)
		return;
	for (size_t i = 0; i < f->nwarn; i++)
		free(f->warn[i]);
	free(f->warn);
	free(f->dist_nodes);
	free(f->dist);
	free(f);
}

struct hms_topology *hms__topo_new(void)
{
	struct hms_topology *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->facts = calloc(1, sizeof(*t->facts));
	if (!t->facts) {
		free(t);
		return NULL;
	}
	atomic_init(&t->refs, 1);
	atomic_init(&t->facts->refs, 1);
	return t;
}

HMS_API void hms_topology_put(struct hms_topology *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	for (size_t i = 0; i < t->nobj; i++)
		obj_put(t->obj[i]);
	free(t->obj);
	facts_put(t->facts);
	free(t);
}

static struct hms_topology *topo_clone(const struct hms_topology *src)
{
	struct hms_topology *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cap = src->nobj + 8;
	t->obj = malloc(t->cap * sizeof(*t->obj));
	if (!t->obj) {
		free(t);
		return NULL;
	}
	atomic_init(&t->refs, 1);
	for (size_t i = 0; i < src->nobj; i++) {
		t->obj[i] = src->obj[i];
		atomic_fetch_add(&t->obj[i]->refs, 1);
	}
	t->nobj = src->nobj;
	memcpy(t->count, src->count, sizeof(t->count));
	t->facts = src->facts;
	atomic_fetch_add(&t->facts->refs, 1);
	return t;
}

static const struct hms_object *topo_find(const struct hms_topology *t,
					  hms_uid uid)
{
	size_t lo = 0, hi = t->nobj;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->obj[mid]->uid == uid)
			return t->obj[mid];
		if (t->obj[mid]->uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * Building a snapshot
 * ---------------------------------------------------------------------- */

static struct hms_object *obj_new(enum hms_object_type type, const char *name,
				  const char *note)
{
	struct hms_object *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	atomic_init(&o->refs, 1);
	o->type = type;
	o->name = strdup(name);
	o->note = strdup(note ? note : "");
	if (!o->name || !o->note) {
		obj_put(o);
		return NULL;
	}
	return o;
}

static hms_uid topo_append(struct hms_topology *t, struct hms_object *o)
{
	if (t->nobj == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct hms_object **n = realloc(t->obj, cap * sizeof(*n));

		if (!n)
			goto nomem;
		t->obj = n;
		t->cap = cap;
	}
	o->uid = uid_alloc();
	if (!o->uid) {
		obj_put(o);
		errno = ENOSPC;
		return 0;
	}
	t->obj[t->nobj++] = o;
	t->count[o->type]++;
	return o->uid;
nomem:
	obj_put(o);
	errno = ENOMEM;
	return 0;
}

static int cmp_uid(const void *a, const void *b)
{
	hms_uid x = *(const hms_uid *)a, y = *(const hms_uid *)b;

	return x < y ? -1 : x > y;
}

/* Copy, sort and deduplicate a uid list, checking every uid's type. */
static int uids_copy(const struct hms_topology *t, const hms_uid *in, size_t n,
		     enum hms_object_type type, hms_uid **out, unsigned *nout)
{
	hms_uid *u;
	unsigned k = 0;

	if (!in || n == 0 || n > UINT_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const struct hms_object *o = topo_find(t, in[i]);

		if (!o)
			return -ENOENT;
		if (o->type != type)
			return -EINVAL;
	}
	u = malloc(n * sizeof(*u));
	if (!u)
		return -ENOMEM;
	memcpy(u, in, n * sizeof(*u));
	qsort(u, n, sizeof(*u), cmp_uid);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || u[k - 1] != u[i])
			u[k++] = u[i];
	*out = u;
	*nout = k;
	return 0;
}

hms_uid hms__topo_add_target(struct hms_topology *t,
			     const struct hms_target_desc *d,
			     const struct hms_memcache *caches, unsigned ncaches)
{
	struct hms_object *o;

	if (!d || !d->name || d->kind < HMS_TARGET_DRAM ||
	    d->kind > HMS_TARGET_DEVICE_COHERENT || (ncaches && !caches)) {
		errno = EINVAL;
		return 0;
	}
	o = obj_new(HMS_OBJECT_TARGET, d->name, d->note);
	if (!o)
		goto nomem;
	o->ti = (struct hms_target_info){ .kind = d->kind,
					  .numa_node = d->numa_node < 0 ? HMS_NONE : d->numa_node,
					  .size = d->size,
					  .free = d->free,
					  .memory_tier = d->memory_tier < 0 ? HMS_NONE : d->memory_tier,
					  .ncaches = ncaches };
	if (ncaches) {
		o->caches = malloc(ncaches * sizeof(*caches));
		if (!o->caches) {
			obj_put(o);
			goto nomem;
		}
		memcpy(o->caches, caches, ncaches * sizeof(*caches));
	}
	return topo_append(t, o);
nomem:
	errno = ENOMEM;
	return 0;
}

hms_uid hms__topo_add_initiator(struct hms_topology *t,
				const struct hms_initiator_desc *d)
{
	struct hms_object *o;
	size_t cap;

	if (!d || !d->name ||
	    (d->kind != HMS_INITIATOR_CPU && d->kind != HMS_INITIATOR_DEVICE)) {
		errno = EINVAL;
		return 0;
	}
	o = obj_new(HMS_OBJECT_INITIATOR, d->name, d->note);
	if (!o)
		goto nomem;
	if (d->cpulist && *d->cpulist) {
		int err = hms__cpulist_parse(d->cpulist, &o->cpus, &o->ii.ncpus);

		if (err) {
			obj_put(o);
			errno = -err;
			return 0;
		}
	}
	if (d->kind == HMS_INITIATOR_CPU && o->ii.ncpus == 0) {
		obj_put(o);
		errno = EINVAL;
		return 0;
	}
	/* Sized for the list, never cut: each CPU takes at most a comma, a
	 * dash and two numbers below CPU_MAX (7 digits each). */
	cap = (size_t)o->ii.ncpus * 16 + 1;
	o->cpulist = malloc(cap);
	if (!o->cpulist) {
		obj_put(o);
		goto nomem;
	}
	hms__cpulist_format(o->cpus, o->ii.ncpus, o->cpulist, cap);
	o->ii.kind = d->kind;
	o->ii.numa_node = d->numa_node < 0 ? HMS_NONE : d->numa_node;
	o->ii.cpulist = o->cpulist;
	return topo_append(t, o);
nomem:
	errno = ENOMEM;
	return 0;
}

/* The object a link or bridge starts as: its name, note, performance and
 * initiators (checked and sorted by uids_copy()); NULL with errno. */
static struct hms_object *path_new(const struct hms_topology *t, enum hms_object_type type,
				   const char *name, const char *note, struct hms_perf perf,
				   const hms_uid *ini, size_t nini)
{
	struct hms_object *o = obj_new(type, name, note);
	int err;

	if (!o) {
		errno = ENOMEM;
		return NULL;
	}
	o->perf = perf;
	err = uids_copy(t, ini, nini, HMS_OBJECT_INITIATOR, &o->ini, &o->nini);
	if (err) {
		obj_put(o);
		errno = -err;
		return NULL;
	}
	return o;
}

hms_uid hms__topo_add_link(struct hms_topology *t, const struct hms_link_desc *d)
{
	struct hms_object *o;
	int err;

	if (!d || !d->name) {
		errno = EINVAL;
		return 0;
	}
	o = path_new(t, HMS_OBJECT_LINK, d->name, d->note, d->perf, d->initiators,
		     d->ninitiators);
	if (!o)
		return 0;
	err = uids_copy(t, d->targets, d->ntargets, HMS_OBJECT_TARGET, &o->tgt, &o->ntgt);
	if (err) {
		obj_put(o);
		errno = -err;
		return 0;
	}
	return topo_append(t, o);
}

hms_uid hms__topo_add_bridge(struct hms_topology *t,
			     const struct hms_bridge_desc *d)
{
	const struct hms_object *from, *to;
	struct hms_object *o;

	if (!d || !d->name || d->from == d->to) {
		errno = EINVAL;
		return 0;
	}
	from = topo_find(t, d->from);
	to = topo_find(t, d->to);
	if (!from || !to) {
		errno = ENOENT;
		return 0;
	}
	if (from->type != HMS_OBJECT_LINK || to->type != HMS_OBJECT_LINK) {
		errno = EINVAL;
		return 0;
	}
	o = path_new(t, HMS_OBJECT_BRIDGE, d->name, d->note, d->perf, d->initiators,
		     d->ninitiators);
	if (!o)
		return 0;
	o->from = d->from;
	o->to = d->to;
	return topo_append(t, o);
}

void hms__topo_warn(struct hms_topology *t, const char *fmt, ...)
{
	struct topo_facts *f = t->facts;
	va_list ap;
	char *s;

	if (f->nwarn == f->capwarn) {
		size_t cap = f->capwarn ? 2 * f->capwarn : 8;
		char **n = realloc(f->warn, cap * sizeof(*n));

		if (!n)
			return; /* a warning lost to ENOMEM is not worth failing for */
		f->warn = n;
		f->capwarn = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s)
		f->warn[f->nwarn++] = s;
}

int hms__topo_set_distances(struct hms_topology *t, const int *nodes,
			    unsigned n, const unsigned *matrix)
{
	struct topo_facts *f = t->facts;
	int *nn = malloc(n * sizeof(*nn) + 1);
	unsigned *m = malloc((size_t)n * n * sizeof(*m) + 1);

	if (!nn || !m) {
		free(nn);
		free(m);
		return -ENOMEM;
	}
	memcpy(nn, nodes, n * sizeof(*nn));
	memcpy(m, matrix, (size_t)n * n * sizeof(*m));
	free(f->dist_nodes);
	free(f->dist);
	f->dist_nodes = nn;
	f->dist = m;
	f->ndist = n;
	return 0;
}

unsigned hms__topo_distances(const struct hms_topology *t, const int **nodes,
			     const unsigned **matrix)
{
	*nodes = t->facts->dist_nodes;
	*matrix = t->facts->dist;
	return t->facts->ndist;
}

/* ------------------------------------------------------------------------
 * CPU lists
 * ---------------------------------------------------------------------- */

#define CPU_MAX (1u << 20) /* far above any kernel's NR_CPUS */

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

static int cpulist_push(unsigned **v, unsigned *n, unsigned *cap, unsigned c)
{
	if (*n == *cap) {
		unsigned ncap = *cap ? 2 * *cap : 16;
		unsigned *nv;

		if (ncap > CPU_MAX)
			return -EINVAL;
		nv = realloc(*v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = c;
	return 0;
}

static int cpulist_number(const char **s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (**s < '0' || **s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(*s, &end, 10);
	if (errno || v >= CPU_MAX)
		return -EINVAL;
	*s = end;
	*out = (unsigned)v;
	return 0;
}

int hms__cpulist_parse(const char *s, unsigned **cpus, unsigned *n)
{
	unsigned *v = NULL, nv = 0, cap = 0, k = 0;
	int err = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	while (*s && *s != '\n') {
		unsigned a, b;

		err = cpulist_number(&s, &a);
		if (err)
			goto fail;
		b = a;
		if (*s == '-') {
			s++;
			err = cpulist_number(&s, &b);
			if (err || b < a || b - a >= CPU_MAX) {
				err = -EINVAL;
				goto fail;
			}
		}
		for (unsigned c = a; c <= b; c++) {
			err = cpulist_push(&v, &nv, &cap, c);
			if (err)
				goto fail;
		}
		if (*s == ',')
			s++;
		else if (*s && *s != '\n') {
			err = -EINVAL;
			goto fail;
		}
	}
	if (nv)
		qsort(v, nv, sizeof(*v), cmp_unsigned);
	for (unsigned i = 0; i < nv; i++)
		if (k == 0 || v[k - 1] != v[i])
			v[k++] = v[i];
	*cpus = v;
	*n = k;
	return 0;
fail:
	free(v);
	return err;
}

size_t hms__cpulist_format(const unsigned *cpus, unsigned n, char *buf,
			   size_t cap)
{
	size_t len = 0;

	if (cap)
		buf[0] = '\0';
	for (unsigned i = 0; i < n;) {
		unsigned j = i;
		int w;

		while (j + 1 < n && cpus[j + 1] == cpus[j] + 1)
			j++;
		if (j == i)
			w = snprintf(buf + len, cap - len, "%s%u", len ? "," : "", cpus[i]);
		else
			w = snprintf(buf + len, cap - len, "%s%u-%u", len ? "," : "",
				     cpus[i], cpus[j]);
		if (w < 0 || (size_t)w >= cap - len) {
			buf[len] = '\0'; /* truncated: stop at a whole entry */
			return len;
		}
		len += (size_t)w;
		i = j + 1;
	}
	return len;
}

/* ------------------------------------------------------------------------
 * Context state and registration
 * ---------------------------------------------------------------------- */

int hms__topology_open(struct hms *h, const char *sysfs_root, unsigned flags)
{
	struct hms_topo_state *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	if (flags & HMS_OPEN_NO_TOPOLOGY) {
		s->cur = hms__topo_new();
		err = s->cur ? 0 : -ENOMEM;
	} else {
		err = hms__topology_discover(sysfs_root ? sysfs_root : "/", &s->cur);
	}
	if (err) {
		free(s);
		return err;
	}
	pthread_mutex_init(&s->lock, NULL);
	h->topo = s;
	return 0;
}

void hms__topology_close(struct hms *h)
{
	struct hms_topo_state *s = h->topo;

	if (!s)
		return;
	h->topo = NULL;
	hms_topology_put(s->cur);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int topo_state(struct hms *h, struct hms_topo_state **out)
{
	int err = hms__check(h);

	if (err)
		return err;
	if (!h->topo)
		return -EINVAL;
	*out = h->topo;
	return 0;
}

HMS_API int hms_topology_get(struct hms *h, struct hms_topology **out)
{
	struct hms_topo_state *s;
	int err;

	if (!out)
		return -EINVAL;
	err = topo_state(h, &s);
	if (err)
		return err;
	pthread_mutex_lock(&s->lock);
	atomic_fetch_add(&s->cur->refs, 1);
	*out = s->cur;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

HMS_API int hms_topology_load(const char *sysfs_root, unsigned flags,
			      struct hms_topology **out)
{
	if (flags || !out)
		return -EINVAL;
	return hms__topology_discover(sysfs_root ? sysfs_root : "/", out);
}

/*
 * The end of a change of the published snapshot (s->lock held, dropped
 * here): n, the changed copy, replaces it unless err; the one that loses
 * is put.  Returns err.
 */
static int topo_publish_unlock(struct hms_topo_state *s, struct hms_topology *n, int err)
{
	struct hms_topology *old = n;

	if (!err) {
		old = s->cur;
		s->cur = n;
	}
	pthread_mutex_unlock(&s->lock);
	hms_topology_put(old);
	return err;
}

/* One registration: clone, apply, publish.  add() returns 0 with errno. */
typedef hms_uid (*topo_add_fn)(struct hms_topology *t, const void *desc);

static int topo_register(struct hms *h, topo_add_fn add, const void *desc,
			 hms_uid *out)
{
	struct hms_topo_state *s;
	struct hms_topology *n;
	hms_uid uid = 0;
	int err = topo_state(h, &s);

	if (err)
		return err;
	if (!desc)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	n = topo_clone(s->cur);
	if (!n)
		err = -ENOMEM;
	else if (!(uid = add(n, desc)))
		err = -errno;
	err = topo_publish_unlock(s, n, err);
	if (!err && out)
		*out = uid;
	return err;
}

static hms_uid add_target(struct hms_topology *t, const void *d)
{
	return hms__topo_add_target(t, d, NULL, 0);
}

static hms_uid add_initiator(struct hms_topology *t, const void *d)
{
	return hms__topo_add_initiator(t, d);
}

static hms_uid add_link(struct hms_topology *t, const void *d)
{
	return hms__topo_add_link(t, d);
}

static hms_uid add_bridge(struct hms_topology *t, const void *d)
{
	return hms__topo_add_bridge(t, d);
}

HMS_API int hms_target_add(struct hms *h, const struct hms_target_desc *d,
			   hms_uid *out)
{
	return topo_register(h, add_target, d, out);
}

HMS_API int hms_initiator_add(struct hms *h, const struct hms_initiator_desc *d,
			      hms_uid *out)
{
	return topo_register(h, add_initiator, d, out);
}

HMS_API int hms_link_add(struct hms *h, const struct hms_link_desc *d,
			 hms_uid *out)
{
	return topo_register(h, add_link, d, out);
}

HMS_API int hms_bridge_add(struct hms *h, const struct hms_bridge_desc *d,
			   hms_uid *out)
{
	return topo_register(h, add_bridge, d, out);
}

/* ------------------------------------------------------------------------
 * Removal: the object, then whatever no longer makes sense without it
 * ---------------------------------------------------------------------- */

static bool uids_has(const hms_uid *u, unsigned n, hms_uid x)
{
	return n && bsearch(&x, u, n, sizeof(*u), cmp_uid);
}

/* A copy of link/bridge o without member uid; NULL on ENOMEM. */
static struct hms_object *obj_without(const struct hms_object *o, hms_uid uid)
{
	struct hms_object *c = obj_new(o->type, o->name, o->note);
	unsigned k;

	if (!c)
		return NULL;
	c->uid = o->uid;
	c->perf = o->perf;
	c->from = o->from;
	c->to = o->to;
	c->ini = malloc((o->nini + 1) * sizeof(hms_uid));
	c->tgt = malloc((o->ntgt + 1) * sizeof(hms_uid));
	if (!c->ini || !c->tgt) {
		obj_put(c);
		return NULL;
	}
	for (unsigned i = k = 0; i < o->nini; i++)
		if (o->ini[i] != uid)
			c->ini[k++] = o->ini[i];
	c->nini = k;
	for (unsigned i = k = 0; i < o->ntgt; i++)
		if (o->tgt[i] != uid)
			c->tgt[k++] = o->tgt[i];
	c->ntgt = k;
	return c;
}

/*
 * Remove uid from snapshot t (unpublished), then cascade: links that lose
 * their last initiator or target and bridges that lose an end or their
 * last initiator go as well.  Each pass removes at least one object, so it
 * ends.
 */
static int topo_remove(struct hms_topology *t, hms_uid uid)
{
	size_t k = 0;
	hms_uid cascade = 0;

	for (size_t i = 0; i < t->nobj; i++) {
		struct hms_object *o = t->obj[i];

		if (o->uid == uid) {
			t->count[o->type]--;
			obj_put(o);
			continue;
		}
		if ((o->type == HMS_OBJECT_LINK || o->type == HMS_OBJECT_BRIDGE) &&
		    (uids_has(o->ini, o->nini, uid) || uids_has(o->tgt, o->ntgt, uid))) {
			struct hms_object *c = obj_without(o, uid);

			if (!c)
				return -ENOMEM;
			obj_put(o);
			o = c;
		}
		if (!cascade && ((o->type == HMS_OBJECT_LINK && (!o->nini || !o->ntgt)) ||
				 (o->type == HMS_OBJECT_BRIDGE &&
				  (!o->nini || o->from == uid || o->to == uid))))
			cascade = o->uid;
		t->obj[k++] = o;
	}
	t->nobj = k;
	return cascade ? topo_remove(t, cascade) : 0;
}

HMS_API int hms_object_remove(struct hms *h, hms_uid uid)
{
	struct hms_topo_state *s;
	struct hms_topology *n;
	int err = topo_state(h, &s);

	if (err)
		return err;
	if (uid == 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (!topo_find(s->cur, uid)) {
		pthread_mutex_unlock(&s->lock);
		return -ENOENT;
	}
	n = topo_clone(s->cur);
	return topo_publish_unlock(s, n, n ? topo_remove(n, uid) : -ENOMEM);
}

/* ------------------------------------------------------------------------
 * Hooks for the core
 * ---------------------------------------------------------------------- */

hms_uid hms__topology_node_target(struct hms *h, int node)
{
	struct hms_topo_state *s = h->topo;
	hms_uid uid = 0;

	if (!s || node < 0)
		return 0;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->cur->nobj; i++) {
		const struct hms_object *o = s->cur->obj[i];

		if (o->type == HMS_OBJECT_TARGET && o->ti.numa_node == node &&
		    o->ti.kind != HMS_TARGET_DEVICE_PRIVATE) {
			uid = o->uid;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return uid;
}

hms_uid hms__topology_devmem_target(struct hms *h, const char *name,
				    uint64_t bytes, enum hms_devmem_kind kind)
{
	struct hms_target_desc d = {
		.name = name ? name : "devmem",
		.kind = kind == HMS_DEVMEM_COHERENT ? HMS_TARGET_DEVICE_COHERENT
						    : HMS_TARGET_DEVICE_PRIVATE,
		.numa_node = HMS_NONE,
		.size = bytes,
		.free = HMS_SIZE_UNKNOWN,
		.memory_tier = HMS_NONE,
	};
	hms_uid uid = 0;

	if (!h || !h->topo)
		return 0;
	return topo_register(h, add_target, &d, &uid) ? 0 : uid;
}

void hms__topology_remove(struct hms *h, hms_uid uid)
{
	if (h && h->topo && uid)
		(void)hms_object_remove(h, uid);
}

/* ------------------------------------------------------------------------
 * Reading a snapshot
 * ---------------------------------------------------------------------- */

HMS_API const char *hms_topology_warning(const struct hms_topology *t, size_t i)
{
	if (!t || i >= t->facts->nwarn)
		return NULL;
	return t->facts->warn[i];
}

HMS_API size_t hms_topology_count(const struct hms_topology *t,
				  enum hms_object_type type)
{
	if (!t || (unsigned)type > HMS_OBJECT_BRIDGE)
		return 0;
	return type == HMS_OBJECT_ANY ? t->nobj : t->count[type];
}

HMS_API const struct hms_object *hms_topology_next(const struct hms_topology *t,
						   enum hms_object_type type,
						   const struct hms_object *prev)
{
	size_t lo = 0, hi;

	if (!t)
		return NULL;
	if (prev) { /* first index with uid > prev->uid */
		hi = t->nobj;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (t->obj[mid]->uid <= prev->uid)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	for (size_t i = lo; i < t->nobj; i++)
		if (type == HMS_OBJECT_ANY || t->obj[i]->type == type)
			return t->obj[i];
	return NULL;
}

HMS_API const struct hms_object *hms_object_find(const struct hms_topology *t,
						 hms_uid uid)
{
	const struct hms_object *o;

	if (!t) {
		errno = EINVAL;
		return NULL;
	}
	o = topo_find(t, uid);
	if (!o)
		errno = ENOENT;
	return o;
}

HMS_API enum hms_object_type hms_object_type(const struct hms_object *o)
{
	return o ? o->type : HMS_OBJECT_ANY;
}

HMS_API hms_uid hms_object_uid(const struct hms_object *o)
{
	return o ? o->uid : 0;
}

HMS_API const char *hms_object_name(const struct hms_object *o)
{
	return o ? o->name : "";
}

HMS_API const char *hms_object_note(const struct hms_object *o)
{
	return o ? o->note : "";
}

HMS_API int hms_target_info(const struct hms_object *o, struct hms_target_info *out)
{
	if (!o || !out || o->type != HMS_OBJECT_TARGET)
		return -EINVAL;
	*out = o->ti;
	return 0;
}

HMS_API int hms_target_cache(const struct hms_object *o, unsigned i,
			     struct hms_memcache *out)
{
	if (!o || !out || o->type != HMS_OBJECT_TARGET)
		return -EINVAL;
	if (i >= o->ti.ncaches)
		return -ENOENT;
	*out = o->caches[i];
	return 0;
}

HMS_API int hms_initiator_info(const struct hms_object *o,
			       struct hms_initiator_info *out)
{
	if (!o || !out || o->type != HMS_OBJECT_INITIATOR)
		return -EINVAL;
	*out = o->ii;
	return 0;
}

HMS_API long hms_initiator_cpus(const struct hms_object *o, unsigned *cpus,
				size_t n)
{
	if (!o || o->type != HMS_OBJECT_INITIATOR || (n && !cpus))
		return -EINVAL;
	for (size_t i = 0; i < n && i < o->ii.ncpus; i++)
		cpus[i] = o->cpus[i];
	return o->ii.ncpus;
}

HMS_API int hms_object_perf(const struct hms_object *o, struct hms_perf *out)
{
	if (!o || !out || (o->type != HMS_OBJECT_LINK && o->type != HMS_OBJECT_BRIDGE))
		return -EINVAL;
	*out = o->perf;
	return 0;
}

HMS_API long hms_object_members(const struct hms_object *o,
				enum hms_object_type type, hms_uid *uids,
				size_t n)
{
	const hms_uid *src;
	unsigned cnt;

	if (!o || (n && !uids))
		return -EINVAL;
	if (type == HMS_OBJECT_INITIATOR &&
	    (o->type == HMS_OBJECT_LINK || o->type == HMS_OBJECT_BRIDGE)) {
		src = o->ini;
		cnt = o->nini;
	} else if (type == HMS_OBJECT_TARGET && o->type == HMS_OBJECT_LINK) {
		src = o->tgt;
		cnt = o->ntgt;
	} else {
		return -EINVAL;
	}
	for (size_t i = 0; i < n && i < cnt; i++)
		uids[i] = src[i];
	return cnt;
}

HMS_API int hms_bridge_ends(const struct hms_object *o, hms_uid *from, hms_uid *to)
{
	if (!o || o->type != HMS_OBJECT_BRIDGE)
		return -EINVAL;
	if (from)
		*from = o->from;
	if (to)
		*to = o->to;
	return 0;
}

/* ------------------------------------------------------------------------
 * Paths: bandwidth is the minimum, latency the sum
 * ---------------------------------------------------------------------- */

static const struct hms_perf perf_unknown = {
	HMS_PERF_UNKNOWN, HMS_PERF_UNKNOWN, HMS_PERF_UNKNOWN, HMS_PERF_UNKNOWN
};

static uint32_t bw_min(uint32_t a, uint32_t b)
{
	if (a == HMS_PERF_UNKNOWN || b == HMS_PERF_UNKNOWN)
		return HMS_PERF_UNKNOWN;
	return a < b ? a : b;
}

static uint32_t lat_sum(uint32_t a, uint32_t b)
{
	if (a == HMS_PERF_UNKNOWN || b == HMS_PERF_UNKNOWN)
		return HMS_PERF_UNKNOWN;
	/* saturate below UNKNOWN: a very slow path is still a known one */
	return (uint64_t)a + b >= HMS_PERF_UNKNOWN ? HMS_PERF_UNKNOWN - 1 : a + b;
}

static struct hms_perf perf_chain(struct hms_perf a, struct hms_perf b)
{
	return (struct hms_perf){ bw_min(a.read_bandwidth, b.read_bandwidth),
				  bw_min(a.write_bandwidth, b.write_bandwidth),
				  lat_sum(a.read_latency, b.read_latency),
				  lat_sum(a.write_latency, b.write_latency) };
}

/* Order of figures: known beats unknown, then the better value. */
static int cmp_bw(uint32_t a, uint32_t b)
{
	if (a == b)
		return 0;
	if (a == HMS_PERF_UNKNOWN || b == HMS_PERF_UNKNOWN)
		return a == HMS_PERF_UNKNOWN ? 1 : -1;
	return a > b ? -1 : 1;
}

static int cmp_lat(uint32_t a, uint32_t b)
{
	if (a == b)
		return 0;
	if (a == HMS_PERF_UNKNOWN || b == HMS_PERF_UNKNOWN)
		return a == HMS_PERF_UNKNOWN ? 1 : -1;
	return a < b ? -1 : 1;
}

#define PATH_MAX_BRIDGES 16
#define PATH_BUDGET 100000 /* DFS steps: bounds pathological graphs */

struct path_search {
	const struct hms_topology *t;
	hms_uid ini, tgt;
	hms_uid stack[PATH_MAX_BRIDGES + 1];
	unsigned budget;
	bool found;
	unsigned hops;
	struct hms_perf best;
};

static bool path_better(const struct path_search *ps, unsigned hops,
			struct hms_perf p)
{
	int c;

	if (!ps->found || hops != ps->hops)
		return !ps->found || hops < ps->hops;
	c = cmp_bw(p.read_bandwidth, ps->best.read_bandwidth);
	if (c)
		return c < 0;
	return cmp_lat(p.read_latency, ps->best.read_latency) < 0;
}

/* ps->stack[0..hops] are the links visited; acc includes the last one. */
static void path_dfs(struct path_search *ps, const struct hms_object *link,
		     struct hms_perf acc, unsigned hops)
{
	const struct hms_topology *t = ps->t;

	if (ps->budget == 0)
		return;
	ps->budget--;
	if (uids_has(link->tgt, link->ntgt, ps->tgt) && path_better(ps, hops, acc)) {
		ps->found = true;
		ps->hops = hops;
		ps->best = acc;
	}
	if (hops == PATH_MAX_BRIDGES || (ps->found && ps->hops <= hops))
		return; /* a longer path can no longer win */
	for (size_t i = 0; i < t->nobj; i++) {
		const struct hms_object *b = t->obj[i], *next;
		bool seen = false;

		if (b->type != HMS_OBJECT_BRIDGE || b->from != link->uid ||
		    !uids_has(b->ini, b->nini, ps->ini))
			continue;
		for (unsigned k = 0; k <= hops; k++)
			seen |= ps->stack[k] == b->to;
		next = topo_find(t, b->to);
		if (seen || !next)
			continue;
		ps->stack[hops + 1] = next->uid;
		path_dfs(ps, next, perf_chain(perf_chain(acc, b->perf), next->perf),
			 hops + 1);
	}
}

/* Search without argument checks: bridges crossed, or -ENOENT. */
static int topo_path(const struct hms_topology *t, hms_uid ini, hms_uid tgt,
		     struct hms_perf *out)
{
	struct path_search ps = { .t = t, .ini = ini, .tgt = tgt,
				  .budget = PATH_BUDGET };

	for (size_t i = 0; i < t->nobj; i++) {
		const struct hms_object *l = t->obj[i];

		if (l->type != HMS_OBJECT_LINK || !uids_has(l->ini, l->nini, ini))
			continue;
		ps.stack[0] = l->uid;
		path_dfs(&ps, l, l->perf, 0);
	}
	if (!ps.found)
		return -ENOENT;
	*out = ps.best;
	return (int)ps.hops;
}

/* The initiator and target objects for uids, or the error to return. */
static int path_args(const struct hms_topology *t, hms_uid ini, hms_uid tgt)
{
	const struct hms_object *i, *g;

	if (!t)
		return -EINVAL;
	i = topo_find(t, ini);
	g = topo_find(t, tgt);
	if ((i && i->type != HMS_OBJECT_INITIATOR) || (g && g->type != HMS_OBJECT_TARGET))
		return -EINVAL;
	return i && g ? 0 : -ENOENT;
}

HMS_API int hms_topology_path(const struct hms_topology *t, hms_uid initiator,
			      hms_uid target, struct hms_perf *perf)
{
	int err = path_args(t, initiator, target);

	if (err)
		return err;
	if (!perf)
		return -EINVAL;
	return topo_path(t, initiator, target, perf);
}

/* Is candidate (p, size) better than the best so far for attribute a? */
static bool best_better(enum hms_attribute a, struct hms_perf p, uint64_t size,
			struct hms_perf bp, uint64_t bsize)
{
	int c = 0;

	switch (a) {
	case HMS_ATTR_BANDWIDTH:
		c = cmp_bw(p.read_bandwidth, bp.read_bandwidth);
		if (!c)
			c = cmp_lat(p.read_latency, bp.read_latency);
		break;
	case HMS_ATTR_LATENCY:
		c = cmp_lat(p.read_latency, bp.read_latency);
		if (!c)
			c = cmp_bw(p.read_bandwidth, bp.read_bandwidth);
		break;
	case HMS_ATTR_CAPACITY:
		c = size == bsize ? 0 : size > bsize ? -1 : 1;
		if (!c)
			c = cmp_bw(p.read_bandwidth, bp.read_bandwidth);
		break;
	}
	return c < 0; /* ties keep the earlier, lower uid */
}

static bool best_known(enum hms_attribute a, struct hms_perf p, uint64_t size)
{
	if (a == HMS_ATTR_BANDWIDTH)
		return p.read_bandwidth != HMS_PERF_UNKNOWN;
	if (a == HMS_ATTR_LATENCY)
		return p.read_latency != HMS_PERF_UNKNOWN;
	return size != 0 && size != HMS_SIZE_UNKNOWN;
}

HMS_API long hms_topology_best_target(const struct hms_topology *t,
				      hms_uid initiator,
				      enum hms_attribute attribute)
{
	const struct hms_object *i;
	struct hms_perf bp = perf_unknown;
	uint64_t bsize = 0;
	hms_uid best = 0;
	bool reached = false;

	if (!t || attribute < HMS_ATTR_BANDWIDTH || attribute > HMS_ATTR_CAPACITY)
		return -EINVAL;
	i = topo_find(t, initiator);
	if (!i)
		return -ENOENT;
	if (i->type != HMS_OBJECT_INITIATOR)
		return -EINVAL;
	for (size_t k = 0; k < t->nobj; k++) {
		const struct hms_object *g = t->obj[k];
		struct hms_perf p;

		if (g->type != HMS_OBJECT_TARGET || topo_path(t, initiator, g->uid, &p) < 0)
			continue;
		reached = true;
		if (!best_known(attribute, p, g->ti.size))
			continue;
		if (!best || best_better(attribute, p, g->ti.size, bp, bsize)) {
			best = g->uid;
			bp = p;
			bsize = g->ti.size;
		}
	}
	if (best)
		return best;
	return reached ? -ENODATA : -ENOENT;
}

HMS_API long hms_topology_matrix(const struct hms_topology *t,
				 struct hms_matrix_cell *cells, size_t n)
{
	size_t need, k = 0;

	if (!t)
		return -EINVAL;
	need = t->count[HMS_OBJECT_INITIATOR] * t->count[HMS_OBJECT_TARGET];
	if (!cells)
		return (long)need;
	if (n < need)
		return -ERANGE;
	for (size_t i = 0; i < t->nobj; i++) {
		if (t->obj[i]->type != HMS_OBJECT_INITIATOR)
			continue;
		for (size_t j = 0; j < t->nobj; j++) {
			struct hms_matrix_cell *c = &cells[k];

			if (t->obj[j]->type != HMS_OBJECT_TARGET)
				continue;
			c->initiator = t->obj[i]->uid;
			c->target = t->obj[j]->uid;
			c->perf = perf_unknown;
			c->status = topo_path(t, c->initiator, c->target, &c->perf);
			k++;
		}
	}
	return (long)need;
}
