/* SPDX-License-Identifier: MIT */
/*
 * hms_test.h - what every core test shares: assertions that print where
 * they failed and exit 1, skip (exit 77) with a reason, and setup of a
 * context, a buffer and software devices.  Tests use the public headers
 * only.
 */
#ifndef HMS_TEST_H
#define HMS_TEST_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <hms.h>
#include <hms_driver.h>

#define T_SKIP_CODE 77

#define T_FAIL(...)                                                        \
	do {                                                               \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);       \
		fprintf(stderr, __VA_ARGS__);                              \
		fputc('\n', stderr);                                       \
		exit(1);                                                   \
	} while (0)

#define T_ASSERT(cond)                                                     \
	do {                                                               \
		if (!(cond))                                               \
			T_FAIL("%s", #cond);                               \
	} while (0)

/* Compare two integers; prints both values on failure. */
#define T_EQ(a, b)                                                         \
	do {                                                               \
		long long a_ = (long long)(a), b_ = (long long)(b);        \
		if (a_ != b_)                                              \
			T_FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);  \
	} while (0)

#define T_SKIP(...)                                                        \
	do {                                                               \
		printf("SKIP: ");                                          \
		printf(__VA_ARGS__);                                       \
		printf("\n");                                              \
		exit(T_SKIP_CODE);                                         \
	} while (0)

#define T_PAGE ((size_t)HMS_PAGE_SIZE)

/* Opens a context (skips if userfaultfd is unavailable here). */
struct hms *t_open(void);
/* Opens a context with options. */
struct hms *t_open_flags(unsigned flags);
/* Opens a context in user-mode-only mode whose hms_user_read/write copy
 * through the kernel (HMS_USER_COPY=kernel: call before the process's
 * first copy, which reads it). */
struct hms *t_open_user_kernel_copy(void);
/* A softdev with pool_bytes of memory (0: default). */
struct hms_softdev *t_softdev(struct hms *h, size_t pool_bytes);
/* Runs a softdev operation on npages at addr; returns its result. */
typedef int (*t_op)(struct hms_softdev *, struct hms_softdev_cmd *);
int t_cmd(struct hms_softdev *d, t_op op, void *addr, void *buf, size_t npages,
	  struct hms_softdev_cmd *out);
/* Fills n ints with base + i; checks them. */
void t_fill(int *p, size_t n, int base);
void t_check(const int *p, size_t n, int base);
/* The kernel's /proc/self/pagemap entries of the n pages from p, into
 * out[]; and the bits tests look at. */
void t_pagemap(const void *p, size_t n, uint64_t *out);
#define T_PM_UFFD_WP (1ULL << 57)
#define T_PM_SWAPPED (1ULL << 62)
#define T_PM_PRESENT (1ULL << 63)
/* Is the page at addr write protected by userfaultfd in the kernel? */
bool t_kernel_wp(const void *addr);
/* The page at addr becomes a fresh anonymous mapping hms does not know
 * (MAP_FIXED over it), and h has read the event. */
void t_map_foreign(struct hms *h, void *addr);
/* hms_alloc()s size bytes inside one HMS_MIGRATE_MAX_BYTES block, so a
 * softdev migration command moves them in one batch: for tests that count
 * a migration's events or hook its one batch (a range across a 2 MiB
 * boundary migrates in two). */
void *t_alloc_one_batch(struct hms *h, size_t size);
/* An anonymous read-write mapping of size bytes below 512 MiB (page
 * numbers of at most 17 bits), not managed; SKIP when there is no room. */
char *t_map_low(size_t size);
/* Maps PROT_NONE over [addr, addr + len) so that no later mapping lands on a
 * range the test has just freed; false when another thread (the handler,
 * malloc) has mapped something there first: then the test frees another. */
bool t_fence(void *addr, size_t len);
/* Migrates npages at p to softdev d and checks that all of them went
 * (the command's count and the state table); what names the case. */
void t_to_device(struct hms *h, struct hms_softdev *d, void *p, size_t npages, const char *what);
/* Migrates npages at p (holding base + i) to softdev d and checks that
 * all of them went, then that the CPU reads every int back and that the
 * pages are in system memory again; what names the case in a failure. */
void t_device_round_trip(struct hms *h, struct hms_softdev *d, int *p, size_t npages, int base,
			 const char *what);
/* Snapshots npages at p through softdev d (every page answered) and fails
 * unless every page's byte is want (HMS_SNAP_*). */
void t_snapshot_all(struct hms_softdev *d, void *p, size_t npages, unsigned want);
/* AnonHugePages (kB) of the mapping that holds addr (/proc/self/smaps). */
long t_anon_huge_kb(const void *addr);
/* Does the mapping that holds addr have flag (two letters, "um", "rr")
 * among its VmFlags in /proc/self/smaps?  false where addr is unmapped. */
bool t_vm_flag(const void *addr, const char *flag);
/* Huge pages the kernel could not allocate so far, where it made small
 * ones instead (thp_fault_fallback in /proc/vmstat). */
long t_thp_fallbacks(void);
/* Counts pages of [addr, addr + npages) whose location is loc. */
size_t t_count_loc(struct hms *h, void *addr, size_t npages, int loc);
/* Runs one(h, n) for every case n of a test's ncases (name[n]), or for
 * case argv[1] alone, then closes h; a case that has not returned after
 * 100 s fails the test (t_watchdog). */
void t_run_cases(struct hms *h, int argc, char **argv, const char *const name[], int ncases,
		 void (*one)(struct hms *h, int n));

/* --- kernel selftest ports (hmm-tests.c) --- */
#include <sys/types.h>
/* Waits for a child and fails unless it exited with status 0. */
void t_wait_ok(pid_t pid);
/* fork()s with stdio flushed (T_ASSERT on failure).  In the child (0
 * returned) the parent's watchdog is off and an alarm of 10 s kills a
 * hang: t_wait_ok() then fails with "child killed by signal 14". */
pid_t t_fork_alarmed(void);
/* A fork while another thread sits in a driver callback: t_fork_held()
 * starts fn(arg) on a thread, waits until the callback it reaches calls
 * t_held_here(), which keeps it there, and then t_fork_alarmed()s.  In
 * the parent, t_held_release() lets the callback return and joins the
 * thread.  One such thread per process. */
pid_t t_fork_held(void *(*fn)(void *), void *arg);
void t_held_here(void);
void t_held_release(void);
/* mmap()s 2 * size of private anonymous memory with prot and returns the
 * size-aligned part inside, advised MADV_HUGEPAGE; *raw receives the whole
 * mapping (munmap(*raw, 2 * size)). */
void *t_map_aligned(size_t size, int prot, void **raw);
/* An unlinked temporary file of size bytes (O_TMPFILE in /tmp); fd. */
int t_tmpfile(size_t size);
/* Runs `$HMS_TOOL stress ARGS...` (NULL-terminated; SKIP without the tool
 * or userfaultfd) and fails unless it exits 0; with out, keeps its
 * standard output there. */
void t_stress(const char *const args[], char *out, size_t outlen);
/* Fails the test ("FAIL: hang: what", then every thread's stack where gdb
 * is installed) unless t_watchdog(0, NULL) comes within seconds: for calls
 * that must not hang.  (t_open() arms a stack dump that does not fail the
 * test: HMS_TEST_STACKS_S, default 90 s; t_watchdog(0, NULL) rearms it.) */
void t_watchdog(unsigned seconds, const char *what);

/* Waits up to secs seconds for child pid to end: its wait status, or -1
 * when it did not (it is killed and reaped then). */
int t_wait_child(pid_t pid, unsigned secs);

/* Thread tid of this process sleeps (state S or D) inside system call nr
 * (SYS_*), as /proc says now. */
bool t_thread_sleeps_in(int tid, long nr);
/* Waits up to secs seconds until thread tid has slept in system call nr
 * at five looks in a row, 2 ms apart (one look can catch a short wait on
 * another lock in the same call: an allocator's, a sanitizer's); false if
 * it never did. */
bool t_thread_settles_in(int tid, long nr, unsigned secs);

/* Reads the int at addr into *out; false if the read got SIGBUS instead
 * (*out untouched), as a CPU access to data hms cannot bring back does. */
bool t_read_or_sigbus(const volatile int *addr, int *out);
/* Reads the int at addr into *out and returns 0, or returns the signal
 * the read got instead (SIGBUS, or SIGSEGV: an inaccessible page). */
int t_read_or_signal(const volatile int *addr, int *out);

/* From now on system call nr fails with err in every thread of this
 * process (a seccomp filter, for good: the rest of the test lives with
 * it, and the threads it starts later), every call, or
 * with arg1 >= 0 only those whose second argument is arg1 (an ioctl's
 * request; its low 32 bits compared).  false: seccomp filters are not
 * available here. */
bool t_seccomp_refuse(long nr, long arg1, int err);

#endif
