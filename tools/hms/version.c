/* SPDX-License-Identifier: MIT */
/* version.c - `hms version`: library and tool versions, fault engine mode. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "hms.h"

int cmd_version(int argc, char **argv)
{
	const char *cmd = argv[0][0] == '-' ? "hms --version" : "hms version";
	struct hms *h;
	int ret, help;

	help = cli_help(cmd, argc, argv);
	if (!help && argc > 1)
		fprintf(stderr, "%s: %s '%s'\n", cmd, argv[1][0] == '-' ? "unknown option" :
			"unexpected argument", argv[1]);
	if (help || argc > 1) {
		fprintf(help > 0 ? stdout : stderr, "usage: hms version\n"
			"Prints the versions and the userfaultfd mode hms gets here.\n");
		return help > 0 ? 0 : 2;
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
