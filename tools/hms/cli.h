/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the hms subcommands share on their command lines: strict
 * decimal numbers and the messages of a usage error or a failed
 * hms_open().  Usage errors exit 2, runtime failures 1 (as numactl).
 */
#ifndef HMS_TOOL_CLI_H
#define HMS_TOOL_CLI_H

#include <stdint.h>

/*
 * Parses s, the value of option opt of command cmd ("hms bench"), as a
 * decimal number in [min, max]: digits only (no sign, space, base prefix
 * or suffix).  Returns 0 with *out set, or -1 after a message naming opt
 * and s on stderr ("hms bench: --reps: invalid number 'abc'"); s NULL is
 * a missing value.
 */
int cli_uint(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max,
	     uint64_t *out);

/*
 * Says why hms_open() failed with err (negative errno), prefixed with
 * cmd.  Names $HMS_SYSFS_ROOT and its path when that is what cannot be
 * read.
 */
void cli_open_error(const char *cmd, int err);

#endif
