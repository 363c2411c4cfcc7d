/* SPDX-License-Identifier: MIT */
/*
 * demo.c - `hms demo`: a short tour of hms.  Allocates managed memory,
 * creates a software device, migrates part of the memory to it, runs a
 * device kernel with launch, touches pages on the CPU, and prints what
 * moved where with the counters.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "hms.h"

#define NPAGES 256

static void where(struct hms *h, const char *when, void *p, size_t npages)
{
	struct hms_page_info info[NPAGES];
	size_t count[3] = { 0 };

	if (hms_page_query(h, p, npages, info) != (long)npages)
		return;
	for (size_t i = 0; i < npages; i++)
		count[info[i].location]++;
	printf("  %-38s %3zu in system memory, %3zu in device memory, %3zu not populated\n",
	       when, count[HMS_LOC_SYSTEM], count[HMS_LOC_DEVICE], count[HMS_LOC_NONE]);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: hms demo\nA short tour: allocate managed memory, migrate half of it to a\n"
		   "software device, run a device kernel on it, read it back on the CPU.\n");
}

/* Device kernel: add 1 to every int of the page. */
static void add_one(void *page, uint64_t index, void *arg)
{
	int *w = page;

	(void)index;
	(void)arg;
	for (size_t i = 0; i < HMS_PAGE_SIZE / sizeof(int); i++)
		w[i] += 1;
}

int cmd_demo(int argc, char **argv)
{
	struct hms *h;
	struct hms_softdev *dev;
	struct hms_softdev_cmd c = { 0 };
	struct hms_stats st;
	size_t len = NPAGES * HMS_PAGE_SIZE, nints = len / sizeof(int), bad = 0;
	int *p, ret, help;

	help = cli_help("hms demo", argc, argv);
	if (!help && argc > 1)
		fprintf(stderr, "hms demo: %s '%s'\n",
			argv[1][0] == '-' ? "unknown option" : "unexpected argument", argv[1]);
	if (help || argc > 1) {
		usage(help > 0 ? stdout : stderr);
		return help > 0 ? 0 : 2;
	}
	ret = hms_open(&h, NULL);
	if (ret) {
		cli_open_error("hms demo", ret);
		return 1;
	}
	printf("hms %s demo: userfaultfd in %s mode\n", hms_version(),
	       hms_mode(h) == HMS_MODE_FULL ? "full" : "user-mode-only");
	ret = hms_softdev_create(h, NULL, &dev);
	if (ret) {
		fprintf(stderr, "hms demo: softdev: %s\n", strerror(-ret));
		hms_close(h);
		return 1;
	}
	p = hms_alloc(h, len, 0);
	if (!p) {
		perror("hms demo: hms_alloc");
		hms_close(h);
		return 1;
	}
	printf("1. hms_alloc(%zu KiB) at %p, a software device with %zu MiB of memory\n",
	       len >> 10, (void *)p, (size_t)64);
	where(h, "after allocation:", p, NPAGES);

	for (size_t i = 0; i < nints; i++)
		p[i] = (int)i;
	where(h, "after the CPU wrote every page:", p, NPAGES);

	c.addr = (uintptr_t)p;
	c.npages = NPAGES / 2;
	ret = hms_softdev_migrate_to_device(dev, &c);
	printf("2. migrate the first half to the device: %s, %lu pages moved\n",
	       ret ? strerror(-ret) : "ok", (unsigned long)c.cpages);
	where(h, "after migration:", p, NPAGES);

	c.npages = NPAGES;
	ret = hms_softdev_launch(dev, &c, add_one, NULL);
	printf("3. launch a device kernel (add 1 to every int) on all pages: %s\n",
	       ret ? strerror(-ret) : "ok");
	where(h, "after the kernel (it runs in device memory):", p, NPAGES);

	for (size_t i = 0; i < nints; i++)
		bad += p[i] != (int)i + 1;
	printf("4. the CPU reads every int back: %zu wrong of %zu\n", bad, nints);
	where(h, "after the CPU touched everything:", p, NPAGES);

	hms_stats(h, &st);
	printf("5. counters: %lu CPU faults (%lu brought pages back from the device), "
	       "%lu pages to the device, %lu back, %lu invalidations for migrations\n",
	       (unsigned long)st.cpu_faults, (unsigned long)st.cpu_faults_device,
	       (unsigned long)st.migrations_to_device, (unsigned long)st.migrations_to_system,
	       (unsigned long)st.invalidations[6]);
	hms_free(h, p, len);
	hms_softdev_destroy(dev);
	hms_close(h);
	return bad ? 1 : 0;
}
