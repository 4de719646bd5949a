/*
 * `cove ps`: the --filter list checked and matched against a container,
 * and a container's sizes (--size): its writable layer, and its image's
 * layers with it.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/ps.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

static const char *const ps_keys[] = {
    "id",     "name",	 "status", "ancestor", "label", "exited",
    "health", "network", "volume", "before",   "since",
};

struct cove_engine_ps_filters {
	char *const *f;	  /* KEY=VALUE, borrowed */
	int64_t *created; /* before=/since=: that container's creation */
};

void cove_engine_ps_filters_free(struct cove_engine_ps_filters *pf)
{
	if (!pf)
		return;
	free(pf->created);
	free(pf);
}

int cove_engine_ps_filters_new(struct cove_engine *e, char *const *filters,
			       struct cove_engine_ps_filters **ret,
			       struct cove_error *err)
{
	size_t n = cove_strv_length(filters);
	struct cove_engine_ps_filters *pf = calloc(1, sizeof(*pf));
	int r = 0;

	if (!pf || !(pf->created = calloc(n + 1, sizeof(int64_t)))) {
		free(pf);
		return cove_error_set(err, ENOMEM, "out of memory");
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
			r = cove_error_set(err, EINVAL,
					   "ps: invalid filter '%.*s'",
					   (int)klen, f);
		} else if (!strncmp(f, "exited=", 7)) {
			int code;
			if (cove_parse_int(v, &code) < 0 || code < 0 ||
			    code > 255)
				r = cove_error_set(err, EINVAL,
						   "ps: invalid filter '%s': "
						   "expected an exit code",
						   f);
		} else if (!strncmp(f, "health=", 7)) {
			if (strcmp(v, "healthy") && strcmp(v, "unhealthy") &&
			    strcmp(v, "starting") && strcmp(v, "none"))
				r = cove_error_set(
				    err, EINVAL,
				    "ps: invalid filter '%s': expected "
				    "healthy, unhealthy, starting or none",
				    f);
		} else if (!strncmp(f, "before=", 7) ||
			   !strncmp(f, "since=", 6)) {
			struct cove_ctr c = {0};
			r = cove_engine_lookup(e, v, &c, err);
			if (r >= 0) {
				r = 0;
				pf->created[i] = c.created;
				cove_ctr_release(&c);
			}
		}
	}
	if (r) {
		cove_engine_ps_filters_free(pf);
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

static bool one_match(const struct cove_engine_ps_filters *pf, size_t i,
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
bool cove_engine_ps_filters_match(const struct cove_engine_ps_filters *pf,
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

int cove_engine_ctr_size(struct cove_engine *e, const struct cove_ctr *c,
			 uint64_t *ret_rw, uint64_t *ret_rootfs,
			 struct cove_error *err)
{
	static char cached_chain[COVE_CHAIN_ID_MAX];
	static uint64_t cached_size;
	_cleanup_free_ char *rw = NULL;
	const char *chain = cove_engine_chain_id(c);
	bool overlay;
	int r = cove_engine_images(e, err);

	if (r < 0)
		return r;
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
