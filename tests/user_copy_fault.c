/* user_copy_fault: hms_user_read/hms_user_write copy what the CPU may
 * reach and stop at the first page it may not, without a signal: a page
 * made PROT_NONE in the middle ends a read there (the pages before it are
 * copied, byte for byte), a read that starts on it or on unmapped memory
 * gives -EFAULT, a write to a read-only page gives -EFAULT and changes
 * nothing, and a never-touched page of a managed range faults in (zeros).
 * With HMS_USER_COPY=kernel (ctest user_copy_fault_kernel) the same
 * through process_vm_readv/writev, which may copy nothing of a range with
 * a failing page (as ThreadSanitizer builds always do).  Copies of several
 * pages (which go a group of pages at a time) stop exactly at the failing
 * page wherever in a group it is, reading and writing. */
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
#if defined(__SANITIZE_THREAD__)
	bool kernel = true; /* ThreadSanitizer builds copy through the kernel */
#else
	const char *how = getenv("HMS_USER_COPY");
	bool kernel = how && !strcmp(how, "kernel");
#endif
	size_t n = 4, len = n * T_PAGE;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	unsigned char *buf = malloc(len), *q;
	ssize_t got;

	T_ASSERT(p != MAP_FAILED && buf);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 7 + i / T_PAGE);

	/* All readable: everything. */
	memset(buf, 0, len);
	T_EQ(hms_user_read(buf, p, len), len);
	T_ASSERT(!memcmp(buf, p, len));
	T_EQ(hms_user_read(buf, p, 0), 0);
	T_EQ(hms_user_read(NULL, p, len), -EFAULT);
	T_EQ(hms_user_read(buf, (void *)(UINTPTR_MAX - T_PAGE + 1), 2 * T_PAGE), -EFAULT);

	/* Page 2 unreadable: the copy ends there. */
	T_EQ(mprotect(p + 2 * T_PAGE, T_PAGE, PROT_NONE), 0);
	memset(buf, 0, len);
	got = hms_user_read(buf, p + 100, len - 100);
	if (kernel) {
		T_ASSERT(got == -EFAULT || got == (ssize_t)(2 * T_PAGE - 100));
	} else {
		T_EQ(got, 2 * T_PAGE - 100);
	}
	if (got > 0)
		T_ASSERT(!memcmp(buf, p + 100, (size_t)got));
	T_EQ(hms_user_read(buf, p + 2 * T_PAGE + 8, 16), -EFAULT);
	T_EQ(hms_user_read(buf, p + 3 * T_PAGE, T_PAGE), T_PAGE);
	T_ASSERT(!memcmp(buf, p + 3 * T_PAGE, T_PAGE));

	/* Page 1 read-only: a write is refused, nothing changes. */
	T_EQ(mprotect(p + T_PAGE, T_PAGE, PROT_READ), 0);
	memset(buf, 0xee, len);
	T_EQ(hms_user_write(p + T_PAGE, buf, T_PAGE), -EFAULT);
	for (size_t i = T_PAGE; i < 2 * T_PAGE; i++)
		if (p[i] != (unsigned char)(i * 7 + 1))
			T_FAIL("byte %zu changed by a refused write", i);
	T_EQ(hms_user_write(p, buf, 64), 64);
	T_EQ(p[63], 0xee);

	/* Longer copies go in groups of pages: a page that fails anywhere in
	 * a group still ends the copy exactly there, the pages before it
	 * copied byte for byte, both ways. */
	{
		size_t gn = 12, glen = gn * T_PAGE;
		unsigned char *r = mmap(NULL, glen, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		unsigned char *gbuf = malloc(glen);

		T_ASSERT(r != MAP_FAILED && gbuf);
		for (size_t i = 0; i < glen; i++)
			r[i] = (unsigned char)(i * 13 + i / T_PAGE);
		T_EQ(hms_user_read(gbuf, r, glen), glen);
		T_ASSERT(!memcmp(gbuf, r, glen));
		for (size_t k = 0; k < gn; k++) {
			ssize_t want = k ? (ssize_t)(k * T_PAGE) : -EFAULT;

			T_EQ(mprotect(r + k * T_PAGE, T_PAGE, PROT_NONE), 0);
			memset(gbuf, 0, glen);
			got = hms_user_read(gbuf, r, glen);
			if (kernel)
				T_ASSERT(got == -EFAULT || got == want);
			else
				T_EQ(got, want);
			if (got > 0)
				T_ASSERT(!memcmp(gbuf, r, (size_t)got));
			T_EQ(mprotect(r + k * T_PAGE, T_PAGE, PROT_READ), 0);
			memset(gbuf, 0x5a, glen);
			got = hms_user_write(r, gbuf, glen);
			if (kernel)
				T_ASSERT(got == -EFAULT || got == (k ? want : -EFAULT));
			else
				T_EQ(got, want);
			for (size_t i = 0; i < glen; i++) {
				unsigned char old = (unsigned char)(i * 13 + i / T_PAGE);

				if (r[i] != (got > 0 && i < (size_t)got ? 0x5a : old))
					T_FAIL("k %zu: byte %zu is %#x after the write", k, i, r[i]);
			}
			T_EQ(mprotect(r, glen, PROT_READ | PROT_WRITE), 0);
			for (size_t i = 0; i < glen; i++)
				r[i] = (unsigned char)(i * 13 + i / T_PAGE);
		}
		munmap(r, glen);
		free(gbuf);
	}

	/* Unmapped: nothing. */
	T_EQ(munmap(p, len), 0);
	T_EQ(hms_user_read(buf, p, len), -EFAULT);
	T_EQ(hms_user_write(p, buf, 16), -EFAULT);

	/* A managed page never touched: faulted in, zeros. */
	q = hms_alloc(h, len, 0);
	T_ASSERT(q);
	memset(buf, 0xaa, len);
	T_EQ(hms_user_read(buf, q, len), len);
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			T_FAIL("byte %zu of a fresh managed page is %#x", i, buf[i]);
	T_EQ(hms_user_write(q + 5, "hms", 3), 3);
	T_ASSERT(!memcmp(q + 5, "hms", 3));
	hms_free(h, q, len);
	free(buf);
	hms_close(h);
	printf("user copies %s\n", kernel ? "through the kernel" : "guarded");
	return 0;
}
