/* SPDX-License-Identifier: MIT */
/*
 * cli_json_escape: what `hms bench --json` and `hms topo --json` print is
 * valid JSON whatever the strings in it hold.  A GPU name with a quote,
 * a backslash and control characters (fakecuda's FAKECUDA_NAME) reaches
 * bench gpu's "params" and the topology's GPU note; a library path with
 * them reaches a skipped benchmark's reason.  Each stdout line of bench
 * and the whole of topo must parse (a small parser here, and python3 -m
 * json.tool where python3 is installed), with the name escaped in it.
 * JSON text is UTF-8: a byte of the name that is no UTF-8 is written as
 * \ufffd, UTF-8 as it is.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo_util.h"

static const char *tool;
static char outpath[1024];

/* ------------------------------------------------------------------------
 * A JSON parser that only says whether text is one JSON value (RFC 8259)
 * ---------------------------------------------------------------------- */

static bool value(const char **p, int depth);

static void ws(const char **p)
{
	*p += strspn(*p, " \t\n\r");
}

static bool lit(const char **p, const char *w)
{
	size_t n = strlen(w);

	if (strncmp(*p, w, n))
		return false;
	*p += n;
	return true;
}

/* A string, bytes >= 0x80 as UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, at most U+10FFFF). */
static bool string(const char **p)
{
	const unsigned char *s = (const unsigned char *)*p;

	if (*s++ != '"')
		return false;
	for (;;) {
		unsigned c = *s++, n, cp;

		if (c == '"')
			break;
		if (c < 0x20)
			return false;
		if (c == '\\') {
			c = *s++;
			if (c == 'u') {
				for (int i = 0; i < 4; i++, s++)
					if (!*s || !strchr("0123456789abcdefABCDEF", *s))
						return false;
			} else if (!c || !strchr("\"\\/bfnrt", (int)c)) {
				return false;
			}
			continue;
		}
		if (c < 0x80)
			continue;
		n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
		if (!n || c > 0xf4)
			return false;
		cp = c & (0x3f >> n);
		for (unsigned i = 0; i < n; i++, s++) {
			if ((*s & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (*s & 0x3f);
		}
		if (cp < (n == 1 ? 0x80u : n == 2 ? 0x800u : 0x10000u) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
	}
	*p = (const char *)s;
	return true;
}

static bool number(const char **p)
{
	const char *s = *p;

	s += *s == '-';
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		s += strspn(s, "0123456789");
	else
		return false;
	if (*s == '.') {
		if (!strspn(++s, "0123456789"))
			return false;
		s += strspn(s, "0123456789");
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		s += *s == '+' || *s == '-';
		if (!strspn(s, "0123456789"))
			return false;
		s += strspn(s, "0123456789");
	}
	*p = s;
	return true;
}

/* "{...}" or "[...]": members (key ':' value) or values, comma-separated. */
static bool group(const char **p, char close, int depth)
{
	ws(p);
	if (**p == close) {
		(*p)++;
		return true;
	}
	for (;;) {
		ws(p);
		if (close == '}') {
			if (!string(p))
				return false;
			ws(p);
			if (*(*p)++ != ':')
				return false;
		}
		if (!value(p, depth + 1))
			return false;
		ws(p);
		if (**p == close) {
			(*p)++;
			return true;
		}
		if (*(*p)++ != ',')
			return false;
	}
}

static bool value(const char **p, int depth)
{
	if (depth > 64)
		return false;
	ws(p);
	switch (**p) {
	case '{': (*p)++; return group(p, '}', depth);
	case '[': (*p)++; return group(p, ']', depth);
	case '"': return string(p);
	case 't': return lit(p, "true");
	case 'f': return lit(p, "false");
	case 'n': return lit(p, "null");
	default: return number(p);
	}
}

/* s (len bytes, no NUL inside) is one JSON value. */
static bool json_valid(const char *s, size_t len)
{
	const char *p = s;

	if (strlen(s) != len || !value(&p, 0))
		return false;
	ws(&p);
	return !*p;
}

/* ------------------------------------------------------------------------
 * The runs
 * ---------------------------------------------------------------------- */

/* `hms ARGS >outpath` (stderr to /dev/null): its exit status, stdout. */
static int hms(const char *args, char **out)
{
	char cmd[4096];
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' %s >'%s' 2>/dev/null", tool, args, outpath);
	st = topo_run(cmd, NULL);
	*out = topo_read_file(outpath);
	return st;
}

/* python3's opinion of outpath too, when it is installed (given a path,
 * json.tool reads strict UTF-8; stdin may take any byte). */
static void python_check(const char *what, bool lines)
{
	char cmd[2048];

	if (system("python3 -c '' 2>/dev/null"))
		return;
	snprintf(cmd, sizeof(cmd), "python3 -m json.tool %s '%s' >/dev/null",
		 lines ? "--json-lines" : "", outpath);
	TOPO_CHECK(system(cmd) == 0, "%s: python3 -m json.tool refuses it (above)", what);
}

/* Every line of out is one JSON object; one of them holds want. */
static void check_lines(const char *what, char *out, const char *want)
{
	bool seen = false;
	int n = 0;

	TOPO_CHECK(out && *out, "%s: no output", what);
	for (char *l = out, *nl; l && *l; l = nl ? nl + 1 : NULL, n++) {
		nl = strchr(l, '\n');
		if (nl)
			*nl = '\0';
		TOPO_CHECK(*l == '{' && json_valid(l, strlen(l)), "%s: line %d is no JSON "
			   "object:\n%s", what, n + 1, l);
		seen |= strstr(l, want) != NULL;
	}
	TOPO_CHECK(seen, "%s: no line holds %s:\n%s", what, want, out);
	python_check(what, true);
}

/* bench gpu and topo --gpu with the GPU called name: esc in their JSON. */
static void gpu_name(const char *name, const char *esc)
{
	char *out;

	setenv("FAKECUDA_NAME", name, 1);
	TOPO_CHECK(hms("bench --json --reps 1 --mib 4 gpu", &out) == 0, "bench --json gpu "
		   "failed");
	check_lines("bench --json gpu", out, esc);
	free(out);

	TOPO_CHECK(hms("topo --json --gpu", &out) == 0, "topo --json --gpu failed");
	TOPO_CHECK(out && json_valid(out, strlen(out)), "topo --json --gpu: no JSON:\n%s",
		   out ? out : "");
	TOPO_CHECK(out && strstr(out, esc), "topo --json --gpu: no note holds %s:\n%s", esc,
		   out ? out : "");
	python_check("topo --json --gpu", false);
	free(out);
}

int main(void)
{
	/* a quote, a backslash, a tab, a newline, a control character */
	static const char name[] = "GPU \"x\" \\ \t\n\x01 end";
	static const char esc[] = "GPU \\\"x\\\" \\\\ \\u0009\\n\\u0001 end";
	const char *cuda = getenv("HMS_CUDA_LIBRARY");
	char *dir = topo_tmpdir(), *out = NULL;
	struct hms *h;

	tool = getenv("HMS_TOOL");
	if (!tool || !dir) {
		fprintf(stderr, "HMS_TOOL missing: run through ctest\n");
		return 1;
	}
	if (!cuda || !strstr(cuda, "fakecuda")) { /* the NUMA VM has no fakecuda */
		printf("SKIP: needs fakecuda (HMS_CUDA_LIBRARY, which ctest sets) for a GPU name "
		       "with quotes in it\n");
		return TOPO_SKIP;
	}
	snprintf(outpath, sizeof(outpath), "%s/stdout", dir);
	h = topo_open_empty();
	if (!h)
		return TOPO_SKIP;
	hms_close(h);

	gpu_name(name, esc);
	/* 0xff, a lead byte without its continuation, an overlong '/', UTF-8;
	 * the name goes into each line's params: one hms configuration will do
	 * (the whole bench twice took 39 s under ThreadSanitizer) */
	setenv("HMS_BENCH_GPU_ONLY", "staged, 8 copy threads", 1);
	gpu_name("GPU \xff \xc3( \xc0\xaf \xc3\xa9", "GPU \\ufffd \\ufffd( \\ufffd\\ufffd \xc3\xa9");
	unsetenv("HMS_BENCH_GPU_ONLY");

	/* a skipped benchmark's reason: the library it could not load */
	setenv("HMS_CUDA_LIBRARY", "/nonexistent/a\"b\\c\td.so", 1);
	TOPO_CHECK(hms("bench --json gpu", &out) == 0, "bench --json gpu (skipped) failed");
	check_lines("bench --json gpu (skipped)", out, "a\\\"b\\\\c\\u0009d.so");
	free(out);
	return topo_result();
}
