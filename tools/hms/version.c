/* SPDX-License-Identifier: MIT */
/* version.c - `hms version`: library and tool versions, fault engine mode. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "hms.h"

int cmd_version(int argc, char **argv)
{
	struct hms *h;
	int ret;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: hms version\nPrints the versions and the userfaultfd mode hms gets here.\n");
		return 0;
	}
	printf("hms %s (libhms %s)\n", HMS_TOOL_VERSION, hms_version());
	ret = hms_open(&h, &(struct hms_options){ .size = sizeof(struct hms_options),
						  .flags = HMS_OPEN_NO_TOPOLOGY });
	if (ret) {
		printf("fault engine: unavailable: %s\n", hms_last_error());
		return 0;
	}
	printf("fault engine: userfaultfd, %s mode\n",
	       hms_mode(h) == HMS_MODE_FULL ? "full" : "user-mode-only");
	hms_close(h);
	return 0;
}
