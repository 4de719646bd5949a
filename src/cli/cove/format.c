/*
 * --format '{{.Field}}': the small subset of Go templates that scripts use
 * with podman, shared by every listing command.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cove/cli.h"
#include "util/cleanup.h"
#include "util/strutil.h"

static void print_value(const json_t *v, bool as_json)
{
	_cleanup_free_ char *s = NULL;

	if (!v) {
		fputs("<no value>", stdout);
		return;
	}
	if (!as_json && json_is_string(v)) {
		fputs(json_string_value(v), stdout);
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s)
		fputs(s, stdout);
}

/*
 * A small subset of Go templates, enough for scripts: {{.A.B}},
 * {{json .A}}, and the escapes \t and \n in the text around them.
 */
int cove_cli_render_template(const char *tmpl, const json_t *obj)
{
	const char *p = tmpl;

	while (*p) {
		const char *open = strstr(p, "{{"), *close;
		_cleanup_free_ char *expr = NULL;
		const json_t *v = obj;
		bool as_json = false;
		char *field, *save = NULL;

		for (const char *q = p; *q && q != open; q++) {
			if (q[0] == '\\' && q[1] == 't') {
				fputc('\t', stdout);
				q++;
			} else if (q[0] == '\\' && q[1] == 'n') {
				fputc('\n', stdout);
				q++;
			} else {
				fputc(*q, stdout);
			}
		}
		if (!open)
			break;
		close = strstr(open, "}}");
		if (!close)
			return cove_cli_failf("invalid --format: '{{' without "
					      "'}}'");
		expr = strndup(open + 2, (size_t)(close - open - 2));
		if (!expr)
			return cove_cli_failf("out of memory");
		field = expr;
		while (*field == ' ')
			field++;
		if (cove_str_has_prefix(field, "json ")) {
			as_json = true;
			field += 5;
			while (*field == ' ')
				field++;
		}
		for (char *e = field + strlen(field);
		     e > field && e[-1] == ' ';)
			*--e = '\0';
		if (*field != '.')
			return cove_cli_failf("invalid --format: unsupported "
					      "expression '%s'",
					      field);
		if (field[1])
			for (char *tok = strtok_r(field + 1, ".", &save); tok;
			     tok = strtok_r(NULL, ".", &save))
				v = v && json_is_object(v)
					? json_object_get(v, tok)
					: NULL;
		print_value(v, as_json);
		p = close + 2;
	}
	fputc('\n', stdout);
	return 0;
}

bool cove_cli_is_template(const char *format)
{
	return format && strstr(format, "{{");
}
