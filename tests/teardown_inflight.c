/* SPDX-License-Identifier: MIT */
/*
 * teardown_inflight - hms_close() while device kernels run on two softdevs
 * and a CPU thread faults pages back from device memory: close returns
 * (no hang), nothing crashes, every launch returns, and the data stays
 * intact: pages a kernel ran on hold the old or the new bytes, whole; the
 * CPU's pages hold what was written.  The memory is adopted with
 * hms_manage(), so it stays mapped after close.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "hms_test.h"

#define NP 128 /* pages per part: kernel on dev 0, kernel on dev 1, CPU */

static struct hms *h;
static struct hms_softdev *dev[2];
static unsigned char *mem;
static atomic_int kernels_started, go;
static int launch_ret[2];

/* Slow kernel: every byte + 1, with a pause so that close finds it running. */
static void slow_inc(void *page, uint64_t index, void *arg)
{
	unsigned char *p = page;

	(void)index;
	(void)arg;
	atomic_fetch_add(&kernels_started, 1);
	usleep(1000);
	for (size_t i = 0; i < T_PAGE; i++)
		p[i]++;
}

static void *launcher(void *arg)
{
	long i = (long)arg;
	struct hms_softdev_cmd c = { (uint64_t)(uintptr_t)(mem + i * NP * T_PAGE), NULL, NP, 0, 0 };

	launch_ret[i] = hms_softdev_launch(dev[i], &c, slow_inc, NULL);
	return NULL;
}

/* Reads the device-resident CPU part (faults), then writes and rereads it. */
static void *cpu(void *arg)
{
	unsigned char *p = mem + 2 * NP * T_PAGE;

	(void)arg;
	while (!atomic_load(&go))
		sched_yield();
	for (size_t k = 0; k < NP * T_PAGE; k++)
		if (p[k] != (unsigned char)(k / T_PAGE + 7))
			T_FAIL("CPU part byte %zu: %u, expected %u", k, p[k],
			       (unsigned char)(k / T_PAGE + 7));
	for (size_t k = 0; k < NP * T_PAGE; k++)
		p[k] = (unsigned char)(k / T_PAGE + 9);
	for (size_t k = 0; k < NP * T_PAGE; k++)
		T_EQ(p[k], (unsigned char)(k / T_PAGE + 9));
	return NULL;
}

int main(void)
{
	size_t len = 3 * NP * T_PAGE;
	pthread_t th[3];

	t_watchdog(20, "hms_close or a thread did not return in 20 s");
	h = t_open();
	dev[0] = t_softdev(h, 0);
	dev[1] = t_softdev(h, 0);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(mem != MAP_FAILED);
	T_EQ(hms_manage(h, mem, len), 0);
	for (size_t k = 0; k < len; k++)
		mem[k] = (unsigned char)(k / T_PAGE + 7);
	/* The CPU part lives on dev 1 when the CPU thread touches it. */
	T_EQ(t_cmd(dev[1], hms_softdev_migrate_to_device, mem + 2 * NP * T_PAGE, NULL, NP, NULL), 0);
	T_EQ(t_count_loc(h, mem + 2 * NP * T_PAGE, NP, HMS_LOC_DEVICE), NP);

	for (long i = 0; i < 2; i++)
		T_EQ(pthread_create(&th[i], NULL, launcher, (void *)i), 0);
	T_EQ(pthread_create(&th[2], NULL, cpu, NULL), 0);
	while (atomic_load(&kernels_started) < 4)
		usleep(100);
	atomic_store(&go, 1);
	hms_close(h);
	for (int i = 0; i < 3; i++)
		T_EQ(pthread_join(th[i], NULL), 0);

	/* A launch cut short by close reports it; its pages are old or new, whole. */
	for (int i = 0; i < 2; i++) {
		if (launch_ret[i] != 0 && launch_ret[i] != -ESHUTDOWN)
			T_FAIL("launch %d returned %d, expected 0 or -ESHUTDOWN", i, launch_ret[i]);
		for (size_t pg = 0; pg < NP; pg++) {
			unsigned char *p = mem + (i * NP + pg) * T_PAGE;
			unsigned char old = (unsigned char)(i * NP + pg + 7);

			if (p[0] != old && p[0] != (unsigned char)(old + 1))
				T_FAIL("kernel part %d page %zu: %u, expected %u or %u", i, pg, p[0], old,
				       old + 1);
			for (size_t k = 1; k < T_PAGE; k++)
				if (p[k] != p[0])
					T_FAIL("kernel part %d page %zu byte %zu: %u, page starts %u", i,
					       pg, k, p[k], p[0]);
		}
	}
	T_EQ(munmap(mem, len), 0);
	printf("launches returned %d and %d\n", launch_ret[0], launch_ret[1]);
	return 0;
}
