/* SPDX-License-Identifier: MIT */
/*
 * first.c - the smallest hms program: managed memory, a software device,
 * a migration, and a CPU read that brings the data back.
 *   cc first.c $(pkg-config --cflags --libs hms)
 */
#include <stdio.h>
#include <string.h>

#include <hms.h>

int main(void)
{
	struct hms *h;
	struct hms_softdev *dev;
	struct hms_softdev_cmd c = { 0 };
	int *p, ret;

	ret = hms_open(&h, NULL);
	if (ret) {
		fprintf(stderr, "hms_open: %s (%s)\n", strerror(-ret), hms_last_error());
		return 1;
	}
	ret = hms_softdev_create(h, NULL, &dev);
	p = ret ? NULL : hms_alloc(h, 1 << 20, 0);
	if (!p) {
		fprintf(stderr, "setup failed\n");
		hms_close(h);
		return 1;
	}
	p[0] = 42;
	c.addr = (uintptr_t)p;
	c.npages = 256;
	ret = hms_softdev_migrate_to_device(dev, &c);
	printf("migrated: %s, %lu pages in device memory\n", ret ? strerror(-ret) : "ok",
	       (unsigned long)c.cpages);
	ret = p[0]; /* a CPU fault brings the page back */
	printf("p[0] = %d\n", ret);
	hms_close(h); /* unmaps what hms_alloc() mapped: p is gone now */
	return ret == 42 ? 0 : 1;
}
