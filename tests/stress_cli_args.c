/* SPDX-License-Identifier: MIT */
/*
 * stress_cli_args: `hms stress` refuses what its parser used to pass by
 * (exit 2, the message first on stderr): a word that is no option is an
 * unexpected argument, not an "unknown option"; an empty --skip list, or
 * an empty name in one, skips nothing the user could have meant and ran
 * the default 10 s silently.  And a run states the --seconds it was
 * given: 0.5 is not "seconds 0".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo_util.h"

static void usage_error(const char *args, const char *want)
{
	char a[4096], err[1024];
	int st;

	/* --ops 10 --mib 1 --threads 1: short, should the parser let it by */
	snprintf(a, sizeof(a), "stress --ops 10 --mib 1 --threads 1 %s >/dev/null", args);
	st = topo_run_tool(NULL, a, NULL, err, sizeof(err));
	TOPO_CHECK(st == 2 && !strcmp(err, want),
		   "hms stress %s: exit %d (want 2), first line\n  %s\nwant\n  %s", args, st, err,
		   want);
}

int main(void)
{
	const char *tool = getenv("HMS_TOOL");
	struct hms *h;

	if (!tool) {
		fprintf(stderr, "HMS_TOOL missing\n");
		return 1;
	}

	usage_error("extra", "hms stress: unexpected argument 'extra'");
	usage_error("''", "hms stress: unexpected argument ''");
	usage_error("--bogus", "hms stress: unknown option '--bogus'");
	usage_error("--skip ''", "hms stress: --skip: empty operation name in ''");
	usage_error("--skip ,", "hms stress: --skip: empty operation name in ','");
	usage_error("--skip fork,", "hms stress: --skip: empty operation name in 'fork,'");
	usage_error("--skip fork,,bind", "hms stress: --skip: empty operation name in 'fork,,bind'");
	usage_error("--skip fork,nope", "hms stress: --skip: unknown operation 'nope'");

	h = topo_open_empty();
	if (h) {
		char cmd[2048], *out = NULL;

		hms_close(h);
		snprintf(cmd, sizeof(cmd), "'%s' stress --seconds 0.5 --mib 1 --threads 1", tool);
		TOPO_CHECK(topo_run(cmd, &out) == 0 && out && strstr(out, ", seconds 0.5\n"),
			   "stress --seconds 0.5: the first line should end \"seconds 0.5\":\n%s",
			   out ? out : "");
		free(out);
	}
	return topo_result();
}
