/* SPDX-License-Identifier: MIT */
/*
 * minidev.h - a minimal driver for tests that need device memory of their
 * own, written against hms_driver.h only: MINIDEV_PAGES pages in an array
 * of the program, each free or used.  The test gives its migrate_to_ram
 * (the behaviour it tests); the rest is here.  One per program.
 */
#ifndef HMS_TEST_MINIDEV_H
#define HMS_TEST_MINIDEV_H

#include <stdatomic.h>

#include "hms_test.h"

#define MINIDEV_PAGES 16

struct minidev {
	char pool[MINIDEV_PAGES][4096];
	atomic_bool used[MINIDEV_PAGES];
	atomic_int freed[MINIDEV_PAGES]; /* page_free() calls, per page */
	atomic_int to_ram_calls;         /* minidev_to_ram() calls */
	int owner; /* its address is the pgmap owner */
	struct hms_devmem *dm;
};

extern struct minidev md;

/* Registers md's memory in h under name (asserts). */
void minidev_add(struct hms *h, const char *name,
		 int (*migrate_to_ram)(struct hms_devmem *, const struct hms_devmem_fault *));

/* The pool page behind device pfn (asserts that it is one of md's). */
char *minidev_page(hms_pfn pfn);

/* Pool page i's device pfn. */
hms_pfn minidev_pfn(unsigned i);

/* Moves the system page at addr to a free device page (its data, zeros
 * for a page never populated); returns the device pfn (asserts). */
hms_pfn minidev_to_device(struct hms *h, void *addr);

/* Brings the device page at addr home, its data copied from the pool: the
 * plain migrate_to_ram a test's own may end with.  0 or -errno. */
int minidev_page_home(struct hms *h, uintptr_t addr);

/* A migrate_to_ram that does only that (and counts md.to_ram_calls). */
int minidev_to_ram(struct hms_devmem *dm, const struct hms_devmem_fault *f);

#endif
