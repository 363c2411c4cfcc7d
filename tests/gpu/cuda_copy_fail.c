/* SPDX-License-Identifier: MIT */
/*
 * Fault injection (fakecuda only): copies to and from the GPU fail.  A
 * failed copy to the GPU leaves its pages in system memory with their
 * data; a failed copy back leaves the page on the GPU and the CPU's fault
 * is retried until the copy works, or, when copies keep failing, gets
 * SIGBUS (the kernel's VM_FAULT_SIGBUS), and hms_cuda_detach() says
 * -EBUSY with the GPU still attached; no byte is lost either way.
 * Runs in both copy modes; with HMS_CUDA_COPY_REGISTER every range pinned
 * in place is unregistered again, whichever call failed (fakecuda counts
 * them), and a pinning that fails falls back to the staged copy.
 */
#include "gpu_test.h"

static unsigned (*registered)(void);
static void (*fail_call)(const char *, unsigned, unsigned);

static void run(unsigned mode)
{
	struct hms *h;
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 32UL << 20, 2, mode, NULL };
	struct hms_cuda *g;
	const size_t len = 8UL << 20, npages = len / T_PAGE, n = len / sizeof(int);
	const long run = mode == HMS_CUDA_COPY_REGISTER ? 512 : 128;
	void (*fail)(unsigned, unsigned);
	hms_uid gpu;
	int *p;
	long moved;

	h = t_open();
	g = g_attach(h, &cfg);
	fail = (void (*)(unsigned, unsigned))g_fake_sym("fakecuda_fail_copies");
	registered = (unsigned (*)(void))g_fake_sym("fakecuda_registered");
	fail_call = (void (*)(const char *, unsigned, unsigned))g_fake_sym("fakecuda_fail_call");
	gpu = hms_cuda_target(g);
	p = hms_alloc(h, len, 0);
	T_ASSERT(p);
	t_fill(p, n, 11);

	/* Every copy to the GPU fails: nothing moves, nothing is lost. */
	fail(0, 1000000);
	moved = hms_migrate(h, p, len, &gpu, 1, 0);
	T_EQ(moved, 0);
	T_EQ(g_count_on(h, p, npages, gpu), 0);
	T_EQ(registered(), 0);
	t_check(p, n, 11);

	/* The wait for the copies fails (once per batch, four batches):
	 * nothing moves. */
	fail(0, 0);
	fail_call("cuStreamSynchronize", 0, 4);
	T_EQ(hms_migrate(h, p, len, &gpu, 1, 0), 0);
	fail_call("", 0, 0);
	T_EQ(registered(), 0);
	T_EQ(g_count_on(h, p, npages, gpu), 0);
	t_check(p, n, 11);

	/* Pinning in place fails: those runs are staged, every page moves. */
	fail_call("cuMemHostRegister", 0, 3);
	T_EQ(hms_migrate(h, p, len, &gpu, 1, 0), (long)npages);
	fail_call("", 0, 0);
	T_EQ(registered(), 0);
	t_check(p, n, 11);
	T_EQ(g_count_on(h, p, npages, gpu), 0);

	/* One copy fails (the driver copies runs of at most 128 pages where
	 * staged, a whole 2 MiB batch of contiguous pages where pinned in
	 * place): those pages stay, the others move. */
	fail(1, 1);
	moved = hms_migrate(h, p, len, &gpu, 1, 0);
	T_EQ(moved, npages - run);
	T_EQ(g_count_on(h, p, npages, gpu), npages - run);
	T_EQ(registered(), 0);
	t_check(p, n, 11); /* each page read once: all come home */
	T_EQ(g_count_on(h, p, npages, gpu), 0);

	/* Copies back fail for a while: the CPU's faults retry until they
	 * work; the data arrives intact. */
	T_EQ(hms_migrate(h, p, len, &gpu, 1, 0), npages);
	fail(0, 20);
	t_check(p, n, 11);
	T_EQ(g_count_on(h, p, npages, gpu), 0);

	/* Copies back fail for good: the CPU's read gets SIGBUS (after its
	 * retries) instead of waiting for ever; the data stays on the GPU and
	 * the same read gets it once copies work. */
	{
		int seen = -1;

		/* (EAGAIN would be retried for a minute before the SIGBUS.) */
		t_watchdog(30, "a read of a page that cannot come home");
		T_EQ(hms_migrate(h, p, len, &gpu, 1, 0), npages);
		fail(0, 1000000);
		T_ASSERT(!t_read_or_sigbus(p + 7, &seen));
		T_EQ(seen, -1);
		T_EQ(g_count_on(h, p, npages, gpu), npages);
		/* A detach cannot bring them home either: -EBUSY, the GPU
		 * stays attached and keeps the data. */
		T_EQ(hms_cuda_detach(g), -EBUSY);
		T_EQ(g_count_on(h, p, npages, gpu), npages);
		fail(0, 0);
		T_ASSERT(t_read_or_sigbus(p + 7, &seen));
		T_EQ(seen, 11 + 7);
		t_check(p, n, 11);
		T_EQ(g_count_on(h, p, npages, gpu), 0);
		t_watchdog(0, NULL);
	}

	T_EQ(registered(), 0);
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
}

int main(void)
{
	if (!g_fake())
		T_SKIP("copy failures are injected through fakecuda only");
	run(HMS_CUDA_COPY_STAGED);
	run(HMS_CUDA_COPY_REGISTER);
	printf("ok\n");
	return 0;
}
