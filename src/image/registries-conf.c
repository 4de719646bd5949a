#include "image/registries-conf.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

#define SYSTEM_CONF "/etc/containers/registries.conf"
#define SYSTEM_CONF_D "/etc/containers/registries.conf.d"
#define MAX_ENTRIES 4096
#define MAX_DEPTH 16

struct entry {
	char *prefix;
	bool insecure;
	bool blocked;
};

struct cove_registries_conf {
	struct entry *entries;
	size_t n_entries;
	char **search; /* never NULL after _new() */
};

struct cove_registries_conf *cove_registries_conf_new(void)
{
	struct cove_registries_conf *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->search = calloc(1, sizeof(char *));
	if (!c->search) {
		free(c);
		return NULL;
	}
	return c;
}

void cove_registries_conf_free(struct cove_registries_conf *conf)
{
	if (!conf)
		return;
	for (size_t i = 0; i < conf->n_entries; i++)
		free(conf->entries[i].prefix);
	free(conf->entries);
	cove_strv_free(conf->search);
	free(conf);
}

char *const *
cove_registries_conf_search(const struct cove_registries_conf *conf)
{
	return conf->search;
}

/* Find or add the entry for @prefix: later files override earlier ones. */
static struct entry *entry_for(struct cove_registries_conf *c,
			       const char *prefix)
{
	struct entry *n;

	for (size_t i = 0; i < c->n_entries; i++)
		if (strcmp(c->entries[i].prefix, prefix) == 0)
			return &c->entries[i];
	if (c->n_entries >= MAX_ENTRIES)
		return NULL;
	n = realloc(c->entries, (c->n_entries + 1) * sizeof(*n));
	if (!n)
		return NULL;
	c->entries = n;
	n = &c->entries[c->n_entries];
	memset(n, 0, sizeof(*n));
	n->prefix = strdup(prefix);
	if (!n->prefix)
		return NULL;
	c->n_entries++;
	return n;
}

/* ---- a TOML subset ------------------------------------------------------- */

enum vtype { V_OTHER, V_STRING, V_BOOL, V_STRV };

struct value {
	enum vtype type;
	char *str;
	bool b;
	char **strv;
	bool strv_only_strings;
};

static void value_release(struct value *v)
{
	free(v->str);
	cove_strv_free(v->strv);
	memset(v, 0, sizeof(*v));
}

struct parser {
	const char *name;
	const char *p, *end;
	unsigned line;
	struct cove_error *err;
};

static int fail(struct parser *ps, const char *what)
{
	return cove_error_set(ps->err, EINVAL, "%s:%u: %s", ps->name, ps->line,
			      what);
}

static int peek(struct parser *ps)
{
	return ps->p < ps->end ? (unsigned char)*ps->p : -1;
}

static void advance(struct parser *ps)
{
	if (ps->p < ps->end) {
		if (*ps->p == '\n')
			ps->line++;
		ps->p++;
	}
}

static void skip_blank(struct parser *ps)
{
	while (peek(ps) == ' ' || peek(ps) == '\t')
		advance(ps);
}

static void skip_comment(struct parser *ps)
{
	if (peek(ps) == '#')
		while (peek(ps) != -1 && peek(ps) != '\n')
			advance(ps);
}

/* Blanks, newlines and comments (inside arrays and between lines). */
static void skip_space(struct parser *ps)
{
	for (;;) {
		int c = peek(ps);
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			advance(ps);
		else if (c == '#')
			skip_comment(ps);
		else
			return;
	}
}

/* End of a key/value line or table header: blanks, comment, newline. */
static int expect_eol(struct parser *ps)
{
	skip_blank(ps);
	skip_comment(ps);
	if (peek(ps) == '\r')
		advance(ps);
	if (peek(ps) == -1)
		return 0;
	if (peek(ps) != '\n')
		return fail(ps, "expected end of line");
	advance(ps);
	return 0;
}

static int append_char(char **buf, size_t *len, size_t *cap, char c)
{
	if (*len + 2 > *cap) {
		size_t n = *cap ? *cap * 2 : 32;
		char *b = realloc(*buf, n);
		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = n;
	}
	(*buf)[(*len)++] = c;
	(*buf)[*len] = '\0';
	return 0;
}

/* A basic ("...") or literal ('...') single-line string. */
static int parse_string(struct parser *ps, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;
	int q = peek(ps), r;

	advance(ps);
	if (peek(ps) == q && ps->p + 1 < ps->end && ps->p[1] == q)
		return fail(ps, "multi-line strings are not supported");
	r = append_char(&buf, &len, &cap, '\0');
	len = 0;
	if (r < 0)
		return r;
	for (;;) {
		int c = peek(ps);
		if (c == -1 || c == '\n')
			return fail(ps, "unterminated string");
		advance(ps);
		if (c == q)
			break;
		if (c < 0x20 && c != '\t')
			return fail(ps, "control character in string");
		if (c == '\\' && q == '"') {
			c = peek(ps);
			advance(ps);
			switch (c) {
			case '"':
			case '\\':
				break;
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			default:
				/* \uXXXX and friends: not needed by
				 * registries.conf. */
				return fail(ps, "unsupported escape in string");
			}
		}
		r = append_char(&buf, &len, &cap, (char)c);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(buf);
	return 0;
}

static bool is_bare(int c)
{
	return c >= 0 && (isalnum(c) || c == '_' || c == '-');
}

/* A possibly dotted, possibly quoted key, returned joined with '.'. */
static int parse_key(struct parser *ps, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;
	int r;

	for (;;) {
		skip_blank(ps);
		if (peek(ps) == '"' || peek(ps) == '\'') {
			_cleanup_free_ char *s = NULL;
			r = parse_string(ps, &s);
			if (r < 0)
				return r;
			for (char *c = s; *c; c++)
				if ((r = append_char(&buf, &len, &cap, *c)) < 0)
					return r;
		} else if (is_bare(peek(ps))) {
			while (is_bare(peek(ps))) {
				r = append_char(&buf, &len, &cap, *ps->p);
				if (r < 0)
					return r;
				advance(ps);
			}
		} else {
			return fail(ps, "expected a key");
		}
		skip_blank(ps);
		if (peek(ps) != '.')
			break;
		advance(ps);
		if ((r = append_char(&buf, &len, &cap, '.')) < 0)
			return r;
	}
	if (!buf)
		return fail(ps, "empty key");
	*ret = TAKE_PTR(buf);
	return 0;
}

static int parse_value(struct parser *ps, struct value *v, unsigned depth);

static int parse_array(struct parser *ps, struct value *v, unsigned depth)
{
	int r;

	advance(ps); /* '[' */
	v->type = V_STRV;
	v->strv_only_strings = true;
	v->strv = calloc(1, sizeof(char *));
	if (!v->strv)
		return -ENOMEM;
	for (;;) {
		struct value item = {0};

		skip_space(ps);
		if (peek(ps) == ']') {
			advance(ps);
			return 0;
		}
		r = parse_value(ps, &item, depth + 1);
		if (r < 0) {
			value_release(&item);
			return r;
		}
		if (item.type == V_STRING) {
			if (cove_strv_length(v->strv) >= MAX_ENTRIES) {
				value_release(&item);
				return fail(ps, "array too long");
			}
			r = cove_strv_push(&v->strv, item.str);
		} else {
			v->strv_only_strings = false;
		}
		value_release(&item);
		if (r < 0)
			return r;
		skip_space(ps);
		if (peek(ps) == ',') {
			advance(ps);
			continue;
		}
		if (peek(ps) != ']')
			return fail(ps, "expected ',' or ']' in array");
	}
}

static int parse_inline_table(struct parser *ps, unsigned depth)
{
	int r;

	advance(ps); /* '{' */
	skip_blank(ps);
	if (peek(ps) == '}') {
		advance(ps);
		return 0;
	}
	for (;;) {
		_cleanup_free_ char *key = NULL;
		struct value item = {0};

		r = parse_key(ps, &key);
		if (r < 0)
			return r;
		if (peek(ps) != '=')
			return fail(ps, "expected '=' in inline table");
		advance(ps);
		r = parse_value(ps, &item, depth + 1);
		value_release(&item);
		if (r < 0)
			return r;
		skip_blank(ps);
		if (peek(ps) == '}') {
			advance(ps);
			return 0;
		}
		if (peek(ps) != ',')
			return fail(ps, "expected ',' or '}' in inline table");
		advance(ps);
	}
}

static int parse_value(struct parser *ps, struct value *v, unsigned depth)
{
	int c;

	if (depth > MAX_DEPTH)
		return fail(ps, "values nested too deeply");
	skip_blank(ps);
	c = peek(ps);
	if (c == '"' || c == '\'') {
		v->type = V_STRING;
		return parse_string(ps, &v->str);
	}
	if (c == '[')
		return parse_array(ps, v, depth);
	if (c == '{') {
		v->type = V_OTHER;
		return parse_inline_table(ps, depth);
	}
	if (ps->end - ps->p >= 4 && memcmp(ps->p, "true", 4) == 0 &&
	    !is_bare(ps->p + 4 < ps->end ? (unsigned char)ps->p[4] : -1)) {
		ps->p += 4;
		v->type = V_BOOL;
		v->b = true;
		return 0;
	}
	if (ps->end - ps->p >= 5 && memcmp(ps->p, "false", 5) == 0 &&
	    !is_bare(ps->p + 5 < ps->end ? (unsigned char)ps->p[5] : -1)) {
		ps->p += 5;
		v->type = V_BOOL;
		v->b = false;
		return 0;
	}
	/* Numbers and dates: skipped, no key cove reads has one. */
	if (c >= 0 && (isdigit(c) || c == '+' || c == '-')) {
		while (peek(ps) != -1 &&
		       (isalnum(peek(ps)) || strchr("+-.:_", peek(ps))))
			advance(ps);
		v->type = V_OTHER;
		return 0;
	}
	return fail(ps, "expected a value");
}

/* ---- semantics ----------------------------------------------------------- */

struct section {
	char *table; /* "" for the root table */
	bool array;  /* [[table]] */
	/* The [[registry]] being read, committed at its end. */
	char *prefix, *location;
	int insecure, blocked; /* -1 unset */
};

static int commit_registry(struct cove_registries_conf *c, struct parser *ps,
			   struct section *s)
{
	const char *prefix;
	struct entry *e;

	if (!s->array || strcmp(s->table, "registry") != 0)
		return 0;
	prefix = s->prefix ? s->prefix : s->location;
	if (!prefix || !*prefix) {
		/* An entry without prefix or location configures nothing. */
		if (s->insecure > 0 || s->blocked > 0)
			return fail(ps,
				    "[[registry]] without location or prefix");
		return 0;
	}
	e = entry_for(c, prefix);
	if (!e)
		return -ENOMEM;
	if (s->insecure >= 0)
		e->insecure = s->insecure;
	if (s->blocked >= 0)
		e->blocked = s->blocked;
	return 0;
}

static void section_reset(struct section *s)
{
	free(s->table);
	free(s->prefix);
	free(s->location);
	memset(s, 0, sizeof(*s));
	s->insecure = s->blocked = -1;
}

static int v1_list(struct cove_registries_conf *c, struct parser *ps,
		   struct value *v, bool insecure)
{
	if (v->type != V_STRV || !v->strv_only_strings)
		return fail(ps, "'registries' must be an array of strings");
	for (char **p = v->strv; *p; p++) {
		struct entry *e = entry_for(c, *p);
		if (!e)
			return -ENOMEM;
		if (insecure)
			e->insecure = true;
		else
			e->blocked = true;
	}
	return 0;
}

static int apply(struct cove_registries_conf *c, struct parser *ps,
		 struct section *s, const char *key, struct value *v)
{
	bool root = !s->array && s->table[0] == '\0';

	if (root && strcmp(key, "unqualified-search-registries") == 0) {
		if (v->type != V_STRV || !v->strv_only_strings)
			return fail(ps, "'unqualified-search-registries' must "
					"be an array of strings");
		cove_strv_free(c->search);
		c->search = TAKE_PTR(v->strv);
		return 0;
	}
	if (!s->array && strcmp(key, "registries") == 0) {
		if (strcmp(s->table, "registries.insecure") == 0)
			return v1_list(c, ps, v, true);
		if (strcmp(s->table, "registries.block") == 0)
			return v1_list(c, ps, v, false);
		return 0;
	}
	if (!s->array || strcmp(s->table, "registry") != 0)
		return 0;
	if (strcmp(key, "prefix") == 0 || strcmp(key, "location") == 0) {
		char **slot = key[0] == 'p' ? &s->prefix : &s->location;
		if (v->type != V_STRING)
			return fail(ps,
				    "'prefix' and 'location' must be strings");
		free(*slot);
		*slot = TAKE_PTR(v->str);
	} else if (strcmp(key, "insecure") == 0 ||
		   strcmp(key, "blocked") == 0) {
		if (v->type != V_BOOL)
			return fail(ps, "'insecure' and 'blocked' must be "
					"true or false");
		if (key[0] == 'i')
			s->insecure = v->b;
		else
			s->blocked = v->b;
	}
	return 0;
}

static int parse_header(struct parser *ps, struct section *s)
{
	bool array = false;
	char *table = NULL;
	int r;

	advance(ps); /* '[' */
	if (peek(ps) == '[') {
		advance(ps);
		array = true;
	}
	r = parse_key(ps, &table);
	if (r < 0)
		return r;
	if (peek(ps) != ']' ||
	    (array && (ps->p + 1 >= ps->end || ps->p[1] != ']'))) {
		free(table);
		return fail(ps, "expected ']' after table name");
	}
	advance(ps);
	if (array)
		advance(ps);
	section_reset(s);
	s->table = table;
	s->array = array;
	return expect_eol(ps);
}

int cove_registries_conf_parse(struct cove_registries_conf *conf,
			       const char *name, const char *text, size_t len,
			       struct cove_error *err)
{
	struct parser ps = {
	    .name = name, .p = text, .end = text + len, .line = 1, .err = err};
	struct section s = {0};
	int r = 0;

	if (len > COVE_REGISTRIES_CONF_MAX)
		return cove_error_set(err, EFBIG, "%s: file too large", name);
	if (memchr(text, '\0', len))
		return cove_error_set(err, EINVAL, "%s: NUL byte in file",
				      name);
	section_reset(&s);
	s.table = strdup("");
	if (!s.table)
		return -ENOMEM;
	for (;;) {
		skip_space(&ps);
		if (peek(&ps) == -1)
			break;
		if (peek(&ps) == '[') {
			/* A [[registry]] ends where the next table starts. */
			r = commit_registry(conf, &ps, &s);
			if (r >= 0)
				r = parse_header(&ps, &s);
		} else {
			_cleanup_free_ char *key = NULL;
			struct value v = {0};

			r = parse_key(&ps, &key);
			if (r >= 0 && peek(&ps) != '=')
				r = fail(&ps, "expected '=' after key");
			if (r >= 0) {
				advance(&ps);
				r = parse_value(&ps, &v, 0);
			}
			if (r >= 0)
				r = apply(conf, &ps, &s, key, &v);
			value_release(&v);
			if (r >= 0)
				r = expect_eol(&ps);
		}
		if (r < 0)
			break;
	}
	if (r >= 0)
		r = commit_registry(conf, &ps, &s);
	section_reset(&s);
	return r;
}

static int load_one(struct cove_registries_conf *c, const char *path,
		    struct cove_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	r = cove_read_file(path, COVE_REGISTRIES_CONF_MAX, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r == -EFBIG)
		return cove_error_set(err, EFBIG, "%s: file too large", path);
	if (r < 0)
		return cove_error_setx(err, r, "cannot read %s", path);
	return cove_registries_conf_parse(c, path, buf, len, err);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dropins(struct cove_registries_conf *c, const char *dir,
			struct cove_error *err)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	_cleanup_strv_ char **names = NULL;
	struct dirent *de;
	int r;

	if (!d)
		return errno == ENOENT
			   ? 0
			   : cove_error_setx(err, errno, "cannot read %s", dir);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.' || n < 6 ||
		    strcmp(de->d_name + n - 5, ".conf") != 0)
			continue;
		if ((r = cove_strv_push(&names, de->d_name)) < 0)
			return r;
	}
	if (!names)
		return 0;
	qsort(names, cove_strv_length(names), sizeof(char *), cmp_str);
	for (char **p = names; *p; p++) {
		_cleanup_free_ char *path =
		    cove_strdup_printf("%s/%s", dir, *p);
		if (!path)
			return -ENOMEM;
		if ((r = load_one(c, path, err)) < 0)
			return r;
	}
	return 0;
}

int cove_registries_conf_load(const char *path,
			      struct cove_registries_conf **ret,
			      struct cove_error *err)
{
	struct cove_registries_conf *c = cove_registries_conf_new();
	int r;

	if (!c)
		return -ENOMEM;
	if (path) {
		r = load_one(c, path, err);
	} else {
		const char *xdg = getenv("XDG_CONFIG_HOME");
		const char *home = getenv("HOME");
		_cleanup_free_ char *user = NULL;

		if (xdg && *xdg)
			user = cove_strdup_printf(
			    "%s/containers/registries.conf", xdg);
		else if (home && *home)
			user = cove_strdup_printf(
			    "%s/.config/containers/registries.conf", home);
		if (user && access(user, F_OK) == 0)
			r = load_one(c, user, err);
		else
			r = load_one(c, SYSTEM_CONF, err);
		if (r >= 0)
			r = load_dropins(c, SYSTEM_CONF_D, err);
	}
	if (r < 0) {
		cove_registries_conf_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

/* ---- lookup -------------------------------------------------------------- */

/* Length of the match of @prefix against "registry/repository", or 0. */
static size_t match(const char *prefix, const char *registry, const char *full)
{
	size_t n = strlen(prefix);

	if (cove_str_has_prefix(prefix, "*.")) {
		/* Wildcards match the host only: "*.example.com". */
		const char *host_end = strchr(registry, ':');
		size_t hl =
		    host_end ? (size_t)(host_end - registry) : strlen(registry);
		size_t sl = n - 1; /* ".example.com" */
		if (hl > sl && memcmp(registry + hl - sl, prefix + 1, sl) == 0)
			return sl;
		return 0;
	}
	if (strncmp(full, prefix, n) != 0)
		return 0;
	if (full[n] != '\0' && full[n] != '/')
		return 0;
	return n;
}

static const struct entry *lookup(const struct cove_registries_conf *c,
				  const char *registry, const char *repository)
{
	_cleanup_free_ char *full = NULL;
	const struct entry *best = NULL;
	size_t best_len = 0;

	if (!c || !registry)
		return NULL;
	full = repository ? cove_strdup_printf("%s/%s", registry, repository)
			  : strdup(registry);
	if (!full)
		return NULL;
	for (size_t i = 0; i < c->n_entries; i++) {
		size_t n = match(c->entries[i].prefix, registry, full);
		if (n > best_len) {
			best_len = n;
			best = &c->entries[i];
		}
	}
	return best;
}

bool cove_registries_conf_insecure(const struct cove_registries_conf *conf,
				   const char *registry, const char *repository)
{
	const struct entry *e = lookup(conf, registry, repository);

	return e && e->insecure;
}

bool cove_registries_conf_blocked(const struct cove_registries_conf *conf,
				  const char *registry, const char *repository)
{
	const struct entry *e = lookup(conf, registry, repository);

	return e && e->blocked;
}
