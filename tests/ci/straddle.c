/* SPDX-License-Identifier: MIT */
/*
 * straddle.c - an LD_PRELOAD for CI: every private anonymous mapping of
 * 8 KiB up to 2 MiB that lets the kernel choose its address lands across a
 * 2 MiB boundary, at STRADDLE_PAGE pages from its start (default: the
 * middle; past the end: before the last page).  hms migrates in 2 MiB
 * batches (HMS_MIGRATE_MAX_BYTES), so a range across a boundary moves in
 * two; a test that passes only where its range happens to sit inside one
 * block fails under this preload every time instead of one run in fifty
 * (migrate_remap_onto_race in CI, notify_migrate).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BLOCK (2UL << 20)
#define PAGE 4096UL

static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	const char *env = getenv("STRADDLE_PAGE");
	size_t at, span = len + 2 * BLOCK;
	uintptr_t boundary, want, end;
	char *raw;
	void *p;

	if (addr || (flags & MAP_FIXED) || !(flags & MAP_ANONYMOUS) || !(flags & MAP_PRIVATE) ||
	    len < 2 * PAGE || len >= BLOCK || len % PAGE)
		return sys_mmap(addr, len, prot, flags, fd, off);
	at = env && *env ? strtoul(env, NULL, 0) * PAGE : (len / 2) & ~(PAGE - 1);
	if (!at || at >= len)
		at = at ? len - PAGE : PAGE;
	/* Reserve room, place the mapping in it, give back the rest. */
	raw = sys_mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return raw;
	boundary = ((uintptr_t)raw + BLOCK + BLOCK - 1) & ~(BLOCK - 1);
	want = boundary - at;
	end = (uintptr_t)raw + span;
	p = sys_mmap((void *)want, len, prot, flags | MAP_FIXED, fd, off);
	if (p == MAP_FAILED) {
		syscall(SYS_munmap, raw, span);
		return p;
	}
	syscall(SYS_munmap, raw, want - (uintptr_t)raw);
	syscall(SYS_munmap, (void *)(want + len), end - (want + len));
	return p;
}
