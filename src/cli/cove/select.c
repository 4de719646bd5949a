/*
 * Which containers a command acts on (the names given, --all, --latest),
 * the order `rm` removes them in (dependents first), and the filters,
 * sort keys and sizes of `ps`.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* ---- ps: filters -----------------------------------------------------------
 */

static const char *const ps_keys[] = {
    "id",     "name",	 "status", "ancestor", "label", "exited",
    "health", "network", "volume", "before",   "since",
};

struct cove_cli_ps_filters {
	char *const *f;	  /* KEY=VALUE, borrowed */
	int64_t *created; /* before=/since=: that container's creation */
};

void cove_cli_ps_filters_free(struct cove_cli_ps_filters *pf)
{
	if (!pf)
		return;
	free(pf->created);
	free(pf);
}

int cove_cli_ps_filters_new(struct cove_engine *e, char *const *filters,
			    struct cove_cli_ps_filters **ret)
{
	size_t n = cove_strv_length(filters);
	struct cove_cli_ps_filters *pf = calloc(1, sizeof(*pf));
	int r = 0;

	if (!pf || !(pf->created = calloc(n + 1, sizeof(int64_t)))) {
		free(pf);
		return cove_cli_failf("out of memory");
	}
	pf->f = filters;
	for (size_t i = 0; i < n && !r; i++) {
		const char *f = filters[i], *v = strchr(f, '=') + 1;
		size_t klen = (size_t)(v - 1 - f);
		bool known = false;
		for (size_t k = 0; k < ARRAY_SIZE(ps_keys) && !known; k++)
			known = strlen(ps_keys[k]) == klen &&
				!strncmp(f, ps_keys[k], klen);
		if (!known) {
			r = cove_cli_failf("ps: invalid filter '%.*s'",
					   (int)klen, f);
		} else if (!strncmp(f, "exited=", 7)) {
			int code;
			if (cove_parse_int(v, &code) < 0 || code < 0 ||
			    code > 255)
				r = cove_cli_failf("ps: invalid filter '%s': "
						   "expected an exit code",
						   f);
		} else if (!strncmp(f, "health=", 7)) {
			if (strcmp(v, "healthy") && strcmp(v, "unhealthy") &&
			    strcmp(v, "starting") && strcmp(v, "none"))
				r = cove_cli_failf(
				    "ps: invalid filter '%s': expected "
				    "healthy, unhealthy, starting or none",
				    f);
		} else if (!strncmp(f, "before=", 7) ||
			   !strncmp(f, "since=", 6)) {
			struct cove_error err = {0};
			struct cove_ctr c = {0};
			if (cove_engine_lookup(e, v, &c, &err) < 0) {
				r = cove_cli_fail(&err);
			} else {
				pf->created[i] = c.created;
				cove_ctr_release(&c);
			}
		}
	}
	if (r) {
		cove_cli_ps_filters_free(pf);
		return r;
	}
	*ret = pf;
	return 0;
}

static bool label_match(const struct cove_ctr *c, const char *v)
{
	const json_t *l = json_object_get(c->config, "Labels");
	const char *eq = strchr(v, '=');
	_cleanup_free_ char *k = eq ? strndup(v, (size_t)(eq - v)) : strdup(v);
	const char *have;

	if (!k)
		return false;
	have = json_string_value(json_object_get(l, k));
	return have && !(eq && strcmp(have, eq + 1));
}

static const char *health_of(const struct cove_ctr *c)
{
	const char *s = json_string_value(
	    json_object_get(json_object_get(c->config, "Health"), "Status"));

	if (cove_engine_health_interval(c) == 0)
		return "none";
	return s && *s ? s : "starting";
}

/* The networks @c is attached to: a mode that names one, and inspect's. */
static bool network_match(const struct cove_ctr *c, const char *v)
{
	const char *m = json_string_value(json_object_get(
	    json_object_get(c->config, "HostConfig"), "NetworkMode"));

	if (json_object_get(
		json_object_get(json_object_get(c->config, "NetworkSettings"),
				"Networks"),
		v))
		return true;
	if (!m || !*m || !strcmp(m, "bridge") || !strcmp(m, "default"))
		m = "cove";
	if (!strcmp(m, "none") || !strcmp(m, "host") ||
	    !strcmp(m, "slirp4netns") || !strcmp(m, "private") ||
	    strchr(m, ':'))
		return false;
	return !strcmp(m, v);
}

/* A volume by name, or by where it is mounted in the container. */
static bool volume_match(const struct cove_ctr *c, const char *v)
{
	const json_t *host = json_object_get(c->config, "HostConfig");
	size_t len = strlen(v), i;
	json_t *x;

	json_array_foreach(json_object_get(host, "Binds"), i, x)
	{
		const char *b = json_string_value(x);
		const char *colon = b ? strchr(b, ':') : NULL;
		if (!colon || b[0] == '/')
			continue;
		if ((size_t)(colon - b) == len && !strncmp(b, v, len))
			return true;
		if (!strncmp(colon + 1, v, len) &&
		    (colon[1 + len] == '\0' || colon[1 + len] == ':'))
			return true;
	}
	json_array_foreach(json_object_get(host, "Mounts"), i, x)
	{
		const char *t = json_string_value(json_object_get(x, "Type"));
		const char *s = json_string_value(json_object_get(x, "Source"));
		const char *d = json_string_value(json_object_get(x, "Target"));
		if (t && !strcmp(t, "volume") &&
		    ((s && !strcmp(s, v)) || (d && !strcmp(d, v))))
			return true;
	}
	json_array_foreach(json_object_get(host, "AnonVolumes"), i, x)
	{
		if (json_is_string(x) && !strcmp(json_string_value(x), v))
			return true;
	}
	return false;
}

static bool one_match(const struct cove_cli_ps_filters *pf, size_t i,
		      const struct cove_ctr *c)
{
	const char *f = pf->f[i], *v = strchr(f, '=') + 1;
	size_t klen = (size_t)(v - 1 - f);

#define KEY(k) (klen == sizeof(k) - 1 && !strncmp(f, k, klen))
	if (KEY("name"))
		return strstr(c->name, v);
	if (KEY("id"))
		return !strncmp(c->id, v, strlen(v));
	if (KEY("status"))
		return !strcmp(c->state, v);
	if (KEY("ancestor"))
		return !strcmp(c->image, v) ||
		       !strncmp(c->image_id, v, strlen(v)) ||
		       (strlen(c->image_id) > 7 &&
			!strncmp(c->image_id + 7, v, strlen(v)));
	if (KEY("label"))
		return label_match(c, v);
	if (KEY("exited")) {
		int code = -1;
		(void)cove_parse_int(v, &code);
		return !strcmp(c->state, "exited") && c->exit_code == code;
	}
	if (KEY("health"))
		return !strcmp(health_of(c), v);
	if (KEY("network"))
		return network_match(c, v);
	if (KEY("volume"))
		return volume_match(c, v);
	if (KEY("before"))
		return c->created < pf->created[i];
	if (KEY("since"))
		return c->created > pf->created[i];
#undef KEY
	return false;
}

/*
 * As podman: filters with the same key match when any of them does
 * (label: when all do); filters with different keys must all match.
 */
bool cove_cli_ps_filters_match(const struct cove_cli_ps_filters *pf,
			       const struct cove_ctr *c)
{
	for (size_t k = 0; pf && k < ARRAY_SIZE(ps_keys); k++) {
		size_t klen = strlen(ps_keys[k]);
		bool any = false, hit = false,
		     label = !strcmp(ps_keys[k], "label");
		for (size_t i = 0; pf->f && pf->f[i]; i++) {
			if (strncmp(pf->f[i], ps_keys[k], klen) ||
			    pf->f[i][klen] != '=')
				continue;
			any = true;
			if (one_match(pf, i, c)) {
				hit = true;
			} else if (label) {
				hit = false;
				break;
			}
		}
		if (any && !hit)
			return false;
	}
	return true;
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

/* ---- ps: sizes --------------------------------------------------------- */

static uint64_t du_total;

static int du_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F || flag == FTW_SL)
		du_total += (uint64_t)st->st_size;
	return 0;
}

/* The bytes of the files under @path (apparent sizes, as podman's). */
static uint64_t tree_size(const char *path)
{
	du_total = 0;
	(void)nftw(path, du_one, 32, FTW_PHYS | FTW_MOUNT);
	return du_total;
}

/* An image's layers: each layer's diff (overlay), the flattened top (vfs) */
static uint64_t image_size(struct cove_engine *e, const char *chain,
			   bool overlay)
{
	char cur[COVE_CHAIN_ID_MAX];
	uint64_t total = 0;

	snprintf(cur, sizeof(cur), "%s", chain);
	for (int depth = 0; *cur && depth < 256; depth++) {
		_cleanup_free_ char *diff = cove_snapshot_path(e->snap, cur);
		_cleanup_free_ char *pfile = NULL, *parent = NULL;
		size_t len = 0;

		if (!diff)
			break;
		total += tree_size(diff);
		if (!overlay)
			break;
		pfile = cove_strdup_printf("%.*s/parent",
					   (int)(strlen(diff) - 5), diff);
		if (!pfile || cove_read_file(pfile, COVE_CHAIN_ID_MAX - 1,
					     &parent, &len) < 0)
			break;
		while (len > 0 && parent[len - 1] == '\n')
			parent[--len] = '\0';
		snprintf(cur, sizeof(cur), "%s", parent);
	}
	return total;
}

int cove_cli_ctr_size(struct cove_engine *e, const struct cove_ctr *c,
		      uint64_t *ret_rw, uint64_t *ret_rootfs)
{
	static char cached_chain[COVE_CHAIN_ID_MAX];
	static uint64_t cached_size;
	struct cove_error err = {0};
	_cleanup_free_ char *rw = NULL;
	const char *chain = cove_engine_chain_id(c);
	bool overlay;

	if (cove_engine_images(e, &err) < 0)
		return -err.code;
	overlay = !strcmp(cove_snapshotter_driver(e->snap), "overlay");
	rw = cove_strdup_printf("%s/%s-containers/%s/%s", e->root,
				overlay ? "overlay" : "vfs", c->id,
				overlay ? "upper" : "rootfs");
	if (!rw)
		return -ENOMEM;
	*ret_rw = tree_size(rw);
	if (!overlay) {
		/* the rootfs is a whole copy: writable and virtual at once */
		*ret_rootfs = *ret_rw;
		return 0;
	}
	if (strcmp(cached_chain, chain)) {
		cached_size = *chain ? image_size(e, chain, overlay) : 0;
		snprintf(cached_chain, sizeof(cached_chain), "%s", chain);
	}
	*ret_rootfs = cached_size + *ret_rw;
	return 0;
}
