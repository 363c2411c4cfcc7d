/* SPDX-License-Identifier: MIT */
/* version.c - `hms version`: library and tool versions, fault engine mode. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "hms.h"

int cmd_version(int argc, char **argv)
{
	struct hms *h;
	int ret;

	if (argc > 1) {
		bool help = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");
		const char *cmd = argv[0][0] == '-' ? "--version" : "version";

		if (!help)
			fprintf(stderr, "hms %s: %s '%s'\n", cmd, argv[1][0] == '-' ?
				"unknown option" : "unexpected argument", argv[1]);
		fprintf(help ? stdout : stderr, "usage: hms version\n"
			"Prints the versions and the userfaultfd mode hms gets here.\n");
		return help ? 0 : 2;
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
