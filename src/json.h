/* SPDX-License-Identifier: MIT */
/*
 * json.h - the one writer of JSON strings, shared by the library's
 * topology export (hms_topology_write_json, src/core/topology_export.c)
 * and the hms tool (hms bench --json).  Internal: exported under hms__
 * for the tool only, not part of hms.h, no stability promise.
 */
#ifndef HMS_JSON_H
#define HMS_JSON_H

#include <stdio.h>

/*
 * Writes s to f as a JSON string, the quotes included: '"' and '\'
 * escaped, a newline as \n, every other control character and DEL as
 * \u00XX, a byte that does not belong to a valid UTF-8 sequence as
 * \ufffd (the replacement character: JSON text is UTF-8).  Other bytes
 * are written as they are.
 */
__attribute__((visibility("default"))) void hms__json_string(FILE *f, const char *s);

#endif
