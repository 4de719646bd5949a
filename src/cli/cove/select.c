/*
 * Which containers a command acts on (the names given, --all, --latest),
 * the order `rm` removes them in (dependents first), and the sort keys
 * of `ps` (its filters and sizes: src/engine/ps.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cove/cli.h"
#include "engine/engine.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

int cove_cli_select_check(const char *cmd, unsigned flags, int nargs)
{
	if ((flags & COVE_CLI_SEL_ALL) && (flags & COVE_CLI_SEL_LATEST))
		return cove_cli_failf("%s: --all and --latest cannot be used "
				      "together",
				      cmd);
	if (flags && nargs > 0)
		return cove_cli_failf(
		    "%s: --%s and containers cannot be used "
		    "together",
		    cmd, flags & COVE_CLI_SEL_ALL ? "all" : "latest");
	if (!flags && nargs <= 0)
		return cove_cli_failf("%s: a container is required (see 'cove "
				      "%s --help')",
				      cmd, cmd);
	return 0;
}

int cove_cli_select(struct cove_engine *e, const char *cmd, unsigned flags,
		    cove_cli_want_fn want, int nargs, char **args, char ***ret)
{
	_cleanup_strv_ char **out = NULL;
	struct cove_error err = {0};
	struct cove_ctr *cs = NULL;
	size_t n = 0;
	sqlite3 *db;
	int r = cove_cli_select_check(cmd, flags, nargs);

	if (r)
		return r;
	if (!flags) {
		for (int i = 0; i < nargs; i++)
			if (cove_strv_push(&out, args[i]) < 0)
				return cove_cli_failf("out of memory");
		*ret = TAKE_PTR(out);
		return 0;
	}
	if (cove_engine_db(e, &db, &err) < 0 ||
	    cove_ctr_list(db, &cs, &n, &err) < 0)
		return cove_cli_fail(&err);
	if (flags & COVE_CLI_SEL_LATEST) {
		size_t last = 0;
		for (size_t i = 1; i < n; i++)
			if (cs[i].created >= cs[last].created)
				last = i;
		if (n == 0)
			r = cove_cli_failf("%s: --latest: no containers", cmd);
		else if (cove_strv_push(&out, cs[last].id) < 0)
			r = cove_cli_failf("out of memory");
	} else {
		for (size_t i = 0; i < n && !r; i++) {
			(void)cove_engine_refresh(e, &cs[i], &err);
			cove_error_clear(&err);
			if (want && !want(&cs[i]))
				continue;
			if (cove_strv_push(&out, cs[i].id) < 0)
				r = cove_cli_failf("out of memory");
		}
	}
	cove_ctrs_free(cs, n);
	if (!r)
		*ret = TAKE_PTR(out);
	return r;
}

/* ---- rm: dependents first ------------------------------------------------
 */

struct rm_item {
	struct cove_ctr c; /* as looked up first: its id and name */
	bool done;
};

static bool rm_pending(const struct rm_item *items, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!items[i].done && !strcmp(items[i].c.id, id))
			return true;
	return false;
}

static bool rm_listed(const struct rm_item *items, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(items[i].c.id, id))
			return true;
	return false;
}

static int rm_add(struct rm_item **items, size_t *n, struct cove_ctr *c)
{
	struct rm_item *more = realloc(*items, (*n + 1) * sizeof(**items));

	if (!more)
		return -ENOMEM;
	*items = more;
	more[*n] = (struct rm_item){.c = *c};
	memset(c, 0, sizeof(*c));
	(*n)++;
	return 0;
}

static int rm_one(struct cove_engine *e, struct rm_item *it,
		  const struct cove_cli_rm_opts *o)
{
	struct cove_error err = {0};
	struct cove_ctr c = {0};
	int r = cove_engine_lookup(e, it->c.id, &c, &err);

	it->done = true;
	if (r == -ENOENT) /* gone meanwhile (--rm) */
		return 0;
	if (r >= 0 && o->force && o->timeout >= 0 &&
	    (!strcmp(c.state, "running") || !strcmp(c.state, "paused") ||
	     !strcmp(c.state, "restarting")))
		r = cove_engine_stop(e, &c, o->timeout, &err);
	if (r >= 0)
		r = cove_engine_remove(e, &c, o->force, o->volumes, &err);
	if (r >= 0)
		printf("%s\n", c.id);
	cove_ctr_release(&c);
	return r < 0 ? cove_cli_fail(&err) : 0;
}

/*
 * Whether a container that depends on @it is still to be removed in this
 * run: then @it waits for it.
 */
static bool rm_blocked(struct cove_engine *e, const struct rm_item *it,
		       const struct rm_item *items, size_t n)
{
	_cleanup_strv_ char **deps = NULL;
	struct cove_error err = {0};

	if (cove_engine_dependents(e, &it->c, &deps, &err) < 0)
		return false; /* the remove reports it */
	for (size_t k = 0; deps && deps[k]; k++)
		if (rm_pending(items, n, deps[k]))
			return true;
	return false;
}

int cove_cli_remove(struct cove_engine *e, char *const *targets,
		    const struct cove_cli_rm_opts *o)
{
	struct rm_item *items = NULL;
	size_t n = 0;
	bool progress = true;
	int r = 0;

	for (size_t i = 0; targets && targets[i]; i++) {
		struct cove_error err = {0};
		struct cove_ctr c = {0};
		int k = cove_engine_lookup(e, targets[i], &c, &err);
		if (k < 0) {
			if (!(k == -ENOENT && (o->force || o->ignore)))
				r = cove_cli_fail(&err);
			continue;
		}
		if (rm_listed(items, n, c.id))
			cove_ctr_release(&c);
		else if (rm_add(&items, &n, &c) < 0)
			r = cove_cli_failf("out of memory");
	}
	/* --depend: whatever joins their namespaces, recursively */
	for (size_t i = 0; o->depend && i < n; i++) {
		_cleanup_strv_ char **deps = NULL;
		struct cove_error err = {0};
		if (cove_engine_dependents(e, &items[i].c, &deps, &err) < 0) {
			r = cove_cli_fail(&err);
			continue;
		}
		for (size_t k = 0; deps && deps[k]; k++) {
			struct cove_ctr c = {0};
			if (rm_listed(items, n, deps[k]) ||
			    cove_engine_lookup(e, deps[k], &c, &err) < 0)
				continue;
			if (rm_add(&items, &n, &c) < 0)
				r = cove_cli_failf("out of memory");
		}
	}
	/*
	 * Dependents first, whatever order they were named in: each round
	 * removes those no pending container depends on.  What is left when
	 * a round removes nothing (a dependent that is not to be removed) is
	 * tried anyway, for the engine's message.
	 */
	while (progress) {
		progress = false;
		for (size_t i = 0; i < n; i++) {
			if (items[i].done || rm_blocked(e, &items[i], items, n))
				continue;
			if (rm_one(e, &items[i], o))
				r = 125;
			progress = true;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!items[i].done && rm_one(e, &items[i], o))
			r = 125;
		cove_ctr_release(&items[i].c);
	}
	free(items);
	return r;
}

/* ---- ps: sort ------------------------------------------------------------ */

static const char *sort_key;

char *cove_cli_ctr_command(const struct cove_ctr *c)
{
	const json_t *cv = json_object_get(c->config, "Cmd");
	char *s = strdup("");
	size_t k;
	json_t *a;

	json_array_foreach(cv, k, a)
	{
		char *more = s ? cove_strdup_printf("%s%s%s", s, k ? " " : "",
						    json_string_value(a))
			       : NULL;
		free(s);
		s = more;
	}
	return s;
}

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int sort_cmp(const void *pa, const void *pb)
{
	const struct cove_ctr *a = *(struct cove_ctr *const *)pa;
	const struct cove_ctr *b = *(struct cove_ctr *const *)pb;
	int r = 0;

	if (!strcmp(sort_key, "id"))
		r = strcmp(a->id, b->id);
	else if (!strcmp(sort_key, "image"))
		r = strcmp(a->image, b->image);
	else if (!strcmp(sort_key, "names"))
		r = strcmp(a->name, b->name);
	else if (!strcmp(sort_key, "status"))
		r = strcmp(a->state, b->state);
	else if (!strcmp(sort_key, "runningfor"))
		r = cmp_i64(a->started_at, b->started_at);
	else if (!strcmp(sort_key, "command")) {
		_cleanup_free_ char *x = cove_cli_ctr_command(a),
				    *y = cove_cli_ctr_command(b);
		r = strcmp(x ? x : "", y ? y : "");
	}
	/* ties, and "created": oldest first */
	return r ? r : cmp_i64(a->created, b->created);
}

bool cove_cli_ps_sort_valid(const char *key)
{
	static const char *const keys[] = {"created", "id",	    "image",
					   "names",   "runningfor", "status",
					   "command"};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(key, keys[i]))
			return true;
	return false;
}

void cove_cli_ps_sort(struct cove_ctr **cs, size_t n, const char *key)
{
	sort_key = key;
	qsort(cs, n, sizeof(*cs), sort_cmp);
}
