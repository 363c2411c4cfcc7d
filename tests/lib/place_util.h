/* SPDX-License-Identifier: MIT */
/*
 * place_util.h - what the placement tests (hms_bind, hms_migrate,
 * hms_where, hms_hbind) share: the system-node targets of the topology
 * and the kernel's own view of where a page is.
 */
#ifndef HMS_PLACE_UTIL_H
#define HMS_PLACE_UTIL_H

#include <hms.h>

#define T_MAX_NODES 16

/* System memory targets (NUMA nodes with memory): uids[] and nodes[] in
 * increasing node order; returns how many (at most T_MAX_NODES). */
unsigned t_node_targets(struct hms *h, hms_uid *uids, int *nodes);
/* Skips (77) unless the machine has at least n nodes with memory. */
void t_need_nodes(struct hms *h, unsigned n);
/* The node of the page at addr per move_pages(), or -errno. */
int t_page_node(const void *addr);
/* Checks that hms_where() reports uid for all npages at addr. */
void t_where_all(struct hms *h, const void *addr, size_t npages, hms_uid uid);
/* Byte pattern of page i of a test, and its check. */
void t_pattern(void *p, size_t npages, unsigned seed);
void t_pattern_check(const void *p, size_t npages, unsigned seed);

#endif
