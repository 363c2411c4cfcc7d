/* SPDX-License-Identifier: MIT */
/*
 * A block that needs a slot while the only chunk of the pool is on its
 * way back to the GPU (its last page left; CUDA still unmapping it, the
 * driver's lock dropped) waits for it and makes it again, instead of
 * failing -ENOMEM with the whole pool about to be free.  fakecuda holds
 * the chunk's cuMemRelease() to keep it on its way.
 */
#include <pthread.h>
#include <unistd.h>

#include "gpu_test.h"

#define MIB (1UL << 20)
#define BLK (2 * MIB)

static struct hms *h;
static char *p;
static hms_uid sys;
static long home;
static void (*hold_release)(bool);

static void *go_home(void *arg)
{
	(void)arg;
	home = hms_migrate(h, p, BLK, &sys, 1, 0);
	return NULL;
}

static void *lift_hold(void *arg)
{
	(void)arg;
	usleep(300000);
	hold_release(false);
	return NULL;
}

int main(void)
{
	/* One chunk of four slots is the whole pool. */
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 8 * MIB, 2, 0, NULL, HMS_CUDA_KEEP_NONE, 8 };
	struct hms_cuda *g;
	unsigned (*held)(void);
	pthread_t t1, t2;
	hms_uid gpu;
	char *raw;

	if (!g_fake())
		T_SKIP("needs fakecuda (it holds cuMemRelease)");
	h = t_open();
	g = g_attach(h, &cfg);
	gpu = hms_cuda_target(g);
	hold_release = (void (*)(bool))g_fake_sym("fakecuda_hold_release");
	held = (unsigned (*)(void))g_fake_sym("fakecuda_release_held");
	raw = hms_alloc(h, 3 * BLK, 0);
	T_ASSERT(raw);
	p = (char *)(((uintptr_t)raw + BLK - 1) & ~(BLK - 1));
	memset(p, 1, BLK);
	memset(p + BLK, 2, BLK);
	T_EQ(hms_where(h, p, 1, &sys), 1);

	T_EQ(hms_migrate(h, p, BLK, &gpu, 1, 0), 512);
	/* Block 0 goes home; its chunk's release stops in cuMemRelease. */
	hold_release(true);
	T_EQ(pthread_create(&t1, NULL, go_home, NULL), 0);
	while (!held())
		usleep(1000);
	/* Block 1 needs a slot now; the hold ends a little later. */
	T_EQ(pthread_create(&t2, NULL, lift_hold, NULL), 0);
	T_EQ(hms_migrate(h, p + BLK, BLK, &gpu, 1, 0), 512);
	T_EQ(pthread_join(t1, NULL), 0);
	T_EQ(pthread_join(t2, NULL), 0);
	T_EQ(home, 512);
	T_EQ(g_count_on(h, p, 2 * BLK / T_PAGE, gpu), 512);
	for (size_t i = 0; i < 2 * BLK; i += T_PAGE)
		T_EQ(p[i], i < BLK ? 1 : 2);
	T_EQ(hms_cuda_detach(g), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
