/* SPDX-License-Identifier: MIT */
/*
 * stress_cli_inject: `hms stress --inject SPEC` (and $HMS_INJECT) takes
 * each count N as digits only, as every other number of the command
 * line: strtoul passed " 5" and "+5" as 5, so junk ran as a valid spec.
 * An empty item (a trailing comma), a point named twice and an empty
 * --inject are refused too (exit 2, the message first on stderr naming
 * the spec and what is wrong in it); the good forms still parse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo_util.h"

/* `ENV hms stress ... ARGS`: exit status; stderr's first line in line. */
static int stress(const char *env, const char *args, char *line, size_t cap)
{
	char a[4096];

	snprintf(a, sizeof(a), "stress %s >/dev/null", args);
	return topo_run_tool(env, a, NULL, line, cap);
}

static void refused(const char *env, const char *args, const char *want)
{
	char line[1024];
	int st = stress(env, args, line, sizeof(line));

	TOPO_CHECK(st == 2 && !strcmp(line, want), "%s hms stress %s: exit %d (want 2), first "
		   "line\n  %s\nwant\n  %s", env, args, st, line, want);
}

/* The spec is taken: the next thing refused is --ops x. */
static void taken(const char *env, const char *args)
{
	char a[1024];

	snprintf(a, sizeof(a), "%s --ops x", args);
	refused(env, a, "hms stress: --ops: invalid number 'x'");
}

/* --ops x: should the spec be taken, the run is refused anyway */
#define BAD(spec, why) \
	refused("", "--inject '" spec "' --ops x", \
		"hms stress: --inject: invalid spec '" spec "': " why)

/* $HMS_INJECT is checked after the options: a short run if taken */
#define SHORT "--ops 1 --threads 1 --mib 1"

int main(void)
{
	if (!getenv("HMS_TOOL")) {
		fprintf(stderr, "HMS_TOOL missing\n");
		return 1;
	}

	BAD("nomem: 5", "nomem: invalid number ' 5'");
	BAD("nomem:+5", "nomem: invalid number '+5'");
	BAD("nomem:-1", "nomem: invalid number '-1'");
	BAD("nomem:5x", "nomem: invalid number '5x'");
	BAD("nomem:0x5", "nomem: invalid number '0x5'");
	BAD("nomem:", "nomem: invalid number ''");
	BAD("nomem:5 ", "nomem: invalid number '5 '");
	BAD("nomem:0", "nomem: '0' is out of range (1 to 1000000000)");
	BAD("nomem:1000000001", "nomem: '1000000001' is out of range (1 to 1000000000)");
	BAD("nomem:99999999999999999999999",
	    "nomem: '99999999999999999999999' is out of range (1 to 1000000000)");
	BAD("dev_copy:+1", "dev_copy: invalid number '+1'");
	BAD("nomem:5,", "empty item");
	BAD(",nomem:5", "empty item");
	BAD("nomem:5,,dev_alloc:3", "empty item");
	BAD("nomem", "no count in 'nomem' (point:N)");
	BAD("bogus:1", "unknown point 'bogus'");
	BAD(" nomem:1", "unknown point ' nomem'");
	BAD("nomem:5,dev_alloc:2,nomem:7", "nomem is given twice");
	refused("", "--inject '' --ops x", "hms stress: --inject: empty spec");
	/* $HMS_INJECT alike (empty is unset) */
	refused("HMS_INJECT='nomem: 5'", SHORT,
		"hms stress: HMS_INJECT: invalid spec 'nomem: 5': nomem: invalid number ' 5'");
	refused("HMS_INJECT=nomem:+5", SHORT,
		"hms stress: HMS_INJECT: invalid spec 'nomem:+5': nomem: invalid number '+5'");
	taken("HMS_INJECT=", "");

	/* the good forms, leading zeros decimal as elsewhere */
	taken("", "--inject nomem:5");
	taken("", "--inject nomem:05,dev_alloc:1000000000");
	taken("", "--inject dev_copy:2,uffd_eagain:2,notify_nomem:16,spare_move:1,zap_short:3");
	/* the counts too small to make progress are still refused, as N */
	refused("", "--inject dev_copy:01 --ops x",
		"hms stress: --inject: dev_copy:1 fails every pass and the run can never make "
		"progress; use dev_copy:2 or more");
	return topo_result();
}
