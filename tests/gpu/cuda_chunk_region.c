/* SPDX-License-Identifier: MIT */
/*
 * Which chunk a block's slot comes from, and which chunks go back (8 MiB
 * chunks, four slots): a chunk serves one aligned 8 MiB region of the
 * address space, block b in slot b % 4 (gpu.h: a window maps chunks
 * whole), so a block of another region never takes a free slot of a
 * chunk in use: it takes an empty chunk, kept for reuse, or a new one.
 * Once blocks are freed no more than keep_chunks free slots are kept,
 * whichever chunk the last free went to (an empty chunk goes back when a
 * slot of another chunk frees up, or when a chunk made meanwhile brings
 * more free slots: fakecuda holds its cuMemCreate()).  What the GPU holds
 * is read from hms_cuda_info() and from fakecuda's count of memory given
 * out.
 */
#include <pthread.h>
#include <unistd.h>

#include "gpu_test.h"

#define MIB (1UL << 20)
#define BLK (2 * MIB)
#define PAGES 512


/* Move block i of p to target t, alone (one block per call: which slot a
 * block gets then does not depend on the copy threads' order). */
static void move(struct hms *h, char *p, unsigned i, hms_uid t)
{
	T_EQ(hms_migrate(h, p + i * BLK, BLK, &t, 1, 0), PAGES);
}

struct mover {
	struct hms *h;
	char *p;
	unsigned i;
	hms_uid t;
};

static void *move_thread(void *arg)
{
	struct mover *m = arg;

	move(m->h, m->p, m->i, m->t);
	return NULL;
}

static struct hms_cuda *attach8(struct hms *h, unsigned keep)
{
	struct hms_cuda_config cfg = { sizeof(cfg), 0, 32 * MIB, 2, 0, NULL, keep, 8 };

	return g_attach(h, &cfg);
}

int main(void)
{
	const size_t n = 12 * BLK / sizeof(int);
	struct hms *h;
	struct hms_cuda *g;
	hms_uid gpu, sys;
	char *raw, *p;

	if (!g_fake())
		T_SKIP("what the GPU gave out is counted by fakecuda only");
	h = t_open();
	raw = hms_alloc(h, 16 * BLK, 0);
	T_ASSERT(raw);
	/* 12 whole blocks: regions A (blocks 0-3), B (4-7), C (8-11). */
	p = (char *)(((uintptr_t)raw + 4 * BLK - 1) & ~(4 * BLK - 1));
	t_fill((int *)p, n, 3);
	T_EQ(hms_where(h, p, 1, &sys), 1);

	/* Blocks 0-7 fill A's and B's chunks.  Block 4 leaves B (one slot
	 * free), 0 and 1 leave A (two free).  Block 8 is C's: a new chunk,
	 * not a free slot of A or B.  When 2 and 3 leave, A is empty and
	 * goes back to the GPU; block 4 comes back to its slot in B. */
	g = attach8(h, HMS_CUDA_KEEP_NONE);
	gpu = hms_cuda_target(g);
	for (unsigned i = 0; i < 8; i++)
		move(h, p, i, gpu);
	g_expect_mem(g, 16, 0, 16);
	move(h, p, 4, sys);
	move(h, p, 0, sys);
	move(h, p, 1, sys);
	g_expect_mem(g, 10, 6, 16);
	move(h, p, 8, gpu);
	g_expect_mem(g, 12, 12, 24);
	move(h, p, 2, sys);
	move(h, p, 3, sys);
	g_expect_mem(g, 8, 8, 16);
	move(h, p, 4, gpu);
	g_expect_mem(g, 10, 6, 16);
	T_EQ(g_count_on(h, p, 12 * PAGES, gpu), 5 * PAGES);
	t_check((int *)p, n, 3);
	g_expect_mem(g, 0, 0, 0);
	T_EQ(hms_cuda_detach(g), 0);

	/* keep_chunks 4: A empties and is kept (4 free slots); block 8 (C)
	 * takes that empty chunk rather than a new one.  Then block 4
	 * leaves B: four free slots, none of an empty chunk: all stay. */
	g = attach8(h, 4);
	gpu = hms_cuda_target(g);
	for (unsigned i = 0; i < 8; i++)
		move(h, p, i, gpu);
	for (unsigned i = 0; i < 4; i++)
		move(h, p, i, sys);
	g_expect_mem(g, 8, 8, 16);
	move(h, p, 8, gpu);
	g_expect_mem(g, 10, 6, 16);
	move(h, p, 4, sys);
	g_expect_mem(g, 8, 8, 16);
	t_check((int *)p, n, 3);
	g_expect_mem(g, 0, 8, 8); /* one empty chunk kept */
	T_EQ(hms_cuda_detach(g), 0);

	/* keep_chunks 4 again: block 4 needs a new chunk B while A is full;
	 * B's cuMemCreate is held while A's blocks leave (A is kept: four
	 * free).  Once B is made seven slots are free: A goes back. */
	g = attach8(h, 4);
	gpu = hms_cuda_target(g);
	for (unsigned i = 0; i < 4; i++)
		move(h, p, i, gpu);
	{
		void (*hold)(bool) = (void (*)(bool))g_fake_sym("fakecuda_hold_create");
		unsigned (*held)(void) = (unsigned (*)(void))g_fake_sym("fakecuda_create_held");
		struct mover m = { h, p, 4, gpu };
		pthread_t t;

		hold(true);
		T_EQ(pthread_create(&t, NULL, move_thread, &m), 0);
		for (int i = 0; i < 10000 && !held(); i++)
			usleep(1000);
		T_EQ(held(), 1);
		for (unsigned i = 0; i < 4; i++)
			move(h, p, i, sys);
		g_expect_mem(g, 0, 8, 8);
		hold(false);
		T_EQ(pthread_join(t, NULL), 0);
	}
	g_expect_mem(g, 2, 6, 8);
	t_check((int *)p, n, 3);
	T_EQ(hms_cuda_detach(g), 0);
	T_EQ(((size_t (*)(void))g_fake_sym("fakecuda_mem_used"))(), 0);
	hms_close(h);
	printf("ok\n");
	return 0;
}
