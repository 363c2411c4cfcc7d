/* SPDX-License-Identifier: MIT */
/*
 * notify_rec.h - a test subscriber: a mirror and an interval notifier
 * that log every invalidation they are told of, so that tests can assert
 * the exact event, range, owner and count each one saw.
 */
#ifndef NOTIFY_REC_H
#define NOTIFY_REC_H

#include <pthread.h>
#include <stdbool.h>

#include "hms_test.h"

enum { T_SRC_MIRROR = 0, T_SRC_INTERVAL = 1 };

struct t_ev {
	int src;
	struct hms_notify_range r;
	unsigned long cur_seq;
};

#define T_REC_MAX 4096

struct t_rec {
	struct hms *h;
	pthread_mutex_t lock;
	struct t_ev ev[T_REC_MAX];
	size_t n;
	unsigned released; /* mirror release() calls */
	struct hms_mirror *m;
	struct hms_interval *iv;
};

/* Registers a mirror and an interval over [start, start + len). */
void t_rec_init(struct t_rec *r, struct hms *h, uintptr_t start, size_t len);
/* Unregisters both (not after hms_close). */
void t_rec_fini(struct t_rec *r);
void t_rec_reset(struct t_rec *r);
/* Events of src matching event (-1: any). */
size_t t_rec_count(struct t_rec *r, int src, int event);
/* Waits up to ms for count(src, event) >= n, then 100 ms more so that a
 * duplicate would show; returns the count. */
size_t t_rec_wait(struct t_rec *r, int src, int event, size_t n, unsigned ms);
/* The k-th event of src matching event (-1: any); fails if none. */
struct t_ev t_rec_get(struct t_rec *r, int src, int event, size_t k);
/* Asserts each of mirror and interval saw exactly one event of type ev,
 * with that range and owner, and nothing else. */
void t_rec_expect_one(struct t_rec *r, int ev, uintptr_t start, uintptr_t end, void *owner);
void t_rec_dump(struct t_rec *r);

void t_msleep(unsigned ms);

#endif
