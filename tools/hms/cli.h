/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the hms subcommands share on their command lines: strict
 * decimal numbers and the messages of a usage error or a failed
 * hms_open().  Usage errors exit 2, runtime failures 1 (as numactl).
 */
#ifndef HMS_TOOL_CLI_H
#define HMS_TOOL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The first len bytes of s as a decimal number in [min, max], quietly:
 * digits only, at least one (no sign, space, base prefix or suffix).
 * Returns 0 with *out set, -EINVAL (not such a number) or -ERANGE.
 */
int cli_parse_uint(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Writes why cli_parse_uint() refused the len bytes of s (err, its
 * return) to f, a line: "invalid number 'abc'" or "'0' is out of range
 * (1 to 100000)".
 */
void cli_uint_why(FILE *f, const char *s, size_t len, int err, uint64_t min, uint64_t max);

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
 * Whether the subcommand's arguments (argv[1..argc-1], up to a "--") ask
 * for its help: 0 no --help or -h, 1 one of them and nothing else, -1
 * after a message naming the other argument ("hms topo: --help:
 * unexpected argument 'extra'"), a usage error.
 */
int cli_help(const char *cmd, int argc, char **argv);

/*
 * One option of a hand-written parser, as getopt_long takes them: argv[i]
 * alone ("--mib" then its value in argv[i + 1]) or joined ("--mib=64").
 * The name goes to o->name (for a joined one the part before '=', copied
 * into o->buf), the value to o->value (NULL when argv[i] is the last),
 * and o->joined says which: the caller steps over argv[i + 1] only when
 * it took the value and it was not joined.
 */
struct cli_opt {
	const char *name, *value;
	bool joined;
	char buf[64];
};
void cli_option(int argc, char **argv, int i, struct cli_opt *o);

/*
 * An option that takes no value given one ("--json=1"): 0 when it has
 * none, else -1 after a message ("hms bench: --json: takes no value").
 */
int cli_no_value(const char *cmd, const struct cli_opt *o);

/*
 * Says why hms_open() failed with err (negative errno), prefixed with
 * cmd.  Names $HMS_SYSFS_ROOT and its path when that is what cannot be
 * read.
 */
void cli_open_error(const char *cmd, int err);

/*
 * Says on stderr that writing standard output failed, with the reason err
 * (an errno; 0 when it is not known): "hms topo: write error on standard
 * output: No space left on device".
 */
void cli_write_error(const char *cmd, int err);

/*
 * Flushes stdout and checks its error flag, which a write that failed
 * earlier left set (stdio then drops the buffer, so the final flush alone
 * may succeed).  Returns 0, or -1 after cli_write_error(): the output is
 * incomplete and the command must not exit 0.
 */
int cli_flush_stdout(const char *cmd);

/*
 * cli_stdout_init() - make stdout a stream that remembers why a write
 * failed (cli_flush_stdout() names it).  Called first thing in main();
 * stdout stays what it was if the stream cannot be made.
 */
void cli_stdout_init(void);

/*
 * cli_wrapper_help() - --help (-h) met at argv[i] by a command that runs
 * another (hms bind, hms stat: their own options come before COMMAND, and
 * a --help after it is COMMAND's).  --help goes alone: usage on stdout and
 * 0; with a value or any other argument, a usage error naming it, usage on
 * stderr and 2.  Returns the exit status.
 */
int cli_wrapper_help(const char *cmd, int argc, char **argv, int i, const struct cli_opt *opt,
		     void (*usage)(FILE *f));

/*
 * cli_wrapper_next() - the next own option of a command that runs another
 * (hms bind, hms stat), at argv[*i]: true with it in *o (cli_option()).
 * False where they end, *i then at COMMAND (argc when there is none):
 * after the arguments, at one that is not an option ("-" is not), or past
 * a "--".
 */
bool cli_wrapper_next(int argc, char **argv, int *i, struct cli_opt *o);

/*
 * cli_anon_huge_bytes() - bytes of transparent huge pages (AnonHugePages
 * in /proc/self/smaps) in the mappings that lie within [lo, hi): for
 * hms stress --huge and hms bench fault.  0 where smaps cannot be read.
 */
size_t cli_anon_huge_bytes(uintptr_t lo, uintptr_t hi);

#endif
