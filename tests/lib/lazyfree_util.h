/* SPDX-License-Identifier: MIT */
/*
 * lazyfree_util.h - the scene of the tests on a page that MADV_FREE left
 * in place, still write protected in the kernel, while the table forgot
 * it: a user-mode-only context (where a kernel write fault on such a page
 * cannot reach the handler), a softdev and T_LAZY_NP pages of 'x'; then a
 * device's write to page 1, which must land.
 */
#ifndef LAZYFREE_UTIL_H
#define LAZYFREE_UTIL_H

#include "hms_test.h"

#define T_LAZY_NP 4

struct t_lazy {
	struct hms *h;          /* HMS_OPEN_USER_MODE_ONLY, its mode checked */
	struct hms_softdev *d;  /* default pool */
	char *p;                /* T_LAZY_NP pages of h, every byte 'x' */
};

struct t_lazy t_lazy_open(void);

/* Device d writes 'd' over page 1 of p: the command succeeds for its one
 * page, the CPU reads 'd' at both ends of the page, and page 0 still holds
 * 'x'. */
void t_lazy_device_write(struct hms_softdev *d, char *p);

#endif
