/* SPDX-License-Identifier: MIT */
/* cmd.h - the hms CLI's subcommands, one file each (tools/hms/NAME.c). */
#ifndef HMS_TOOL_CMD_H
#define HMS_TOOL_CMD_H

int cmd_version(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_topo(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_stress(int argc, char **argv);
int cmd_bind(int argc, char **argv);
int cmd_stat(int argc, char **argv);

#endif
