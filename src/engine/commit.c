/*
 * cove commit: a new image from a container, its image plus one layer.
 *
 * The layer is the change set of diff.c written as an OCI layer: added
 * and changed entries as they are in the container (owners as it sees
 * them), ".wh.NAME" for a deletion and ".wh..wh..opq" in a directory
 * that was removed and made again.  It is written once, as a stream: the
 * tar goes through a sha256 (its diff_id) into gzip, whose output is
 * ingested into the content store (image/store.h), which computes the
 * blob's digest and renames it into place only when complete.  Then the
 * config (the parent's, with the container's settings, the --change
 * instructions, one more diff_id and one more history entry) and an OCI
 * manifest are stored the same way, and only then is the image recorded
 * (cove_image_commit: sizes checked, the new layer unpacked into a
 * snapshot and its diff_id verified, one database transaction).  A
 * failure before that leaves blobs that no image references, which
 * garbage collection removes; a store lease keeps it away meanwhile.
 */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/commit.h"
#include "engine/engine-internal.h"
#include "engine/logfile.h"
#include "engine/netopts.h"
#include "image/pull.h"
#include "image/reference.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strutil.h"

/* ---- --change ----------------------------------------------------------- */

/* "[\"a\", \"b\"]" as an array of strings, else NULL */
static json_t *json_strings(const char *s)
{
	json_t *v = json_loads(s, JSON_DECODE_ANY, NULL), *x;
	size_t i;

	if (!json_is_array(v)) {
		json_decref(v);
		return NULL;
	}
	json_array_foreach(v, i, x) if (!json_is_string(x))
	{
		json_decref(v);
		return NULL;
	}
	return v;
}

/* The exec form (a JSON array), or the shell form: /bin/sh -c ARG */
static json_t *command(const char *arg)
{
	if (*arg == '[')
		return json_strings(arg);
	return json_pack("[s, s, s]", "/bin/sh", "-c", arg);
}

/* Set KEY=VALUE in the "Env" array of @cfg (replacing KEY's entry). */
static int env_set(json_t *cfg, const char *kv)
{
	json_t *env = json_object_get(cfg, "Env"), *x;
	size_t klen = strcspn(kv, "="), i;

	if (!json_is_array(env)) {
		env = json_array();
		if (!env || json_object_set_new(cfg, "Env", env) < 0)
			return -ENOMEM;
	}
	json_array_foreach(env, i, x)
	{
		const char *s = json_string_value(x);
		if (s && !strncmp(s, kv, klen) &&
		    (s[klen] == '=' || s[klen] == '\0'))
			return json_array_set_new(env, i, json_string(kv));
	}
	return json_array_append_new(env, json_string(kv));
}

/* Drop one pair of surrounding double quotes, in place. */
static char *unquote(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s[n - 1] = '\0';
		return s + 1;
	}
	return s;
}

/*
 * ENV and LABEL: "K=V K2=V2" (values may be double-quoted, without
 * blanks inside) or the old "K V with blanks".
 */
static int pairs(json_t *cfg, bool env, char *arg, struct cove_error *err)
{
	char *save = NULL, *tok;
	size_t first = strcspn(arg, " \t");

	if (!memchr(arg, '=', first)) {
		/* "K V" */
		char *v = arg + first;
		_cleanup_free_ char *kv = NULL;
		if (!*v)
			return cove_error_set(err, EINVAL,
					      "invalid %s '%s': KEY=VALUE "
					      "expected",
					      env ? "ENV" : "LABEL", arg);
		*v++ = '\0';
		v += strspn(v, " \t");
		if (!env)
			return json_object_set_new(
				   cove_json_object_member(cfg, "Labels"), arg,
				   json_string(unquote(v))) < 0
				   ? -ENOMEM
				   : 0;
		kv = cove_strdup_printf("%s=%s", arg, unquote(v));
		return !kv || env_set(cfg, kv) < 0 ? -ENOMEM : 0;
	}
	for (tok = strtok_r(arg, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '=');
		_cleanup_free_ char *kv = NULL;
		if (!eq || eq == tok)
			return cove_error_set(err, EINVAL,
					      "invalid %s '%s': KEY=VALUE "
					      "expected",
					      env ? "ENV" : "LABEL", tok);
		*eq = '\0';
		if (!env) {
			if (json_object_set_new(
				cove_json_object_member(cfg, "Labels"),
				unquote(tok), json_string(unquote(eq + 1))) < 0)
				return -ENOMEM;
			continue;
		}
		kv = cove_strdup_printf("%s=%s", tok, unquote(eq + 1));
		if (!kv || env_set(cfg, kv) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* "80 53/udp 8000-8002": ExposedPorts keys, as --expose makes them */
static int expose(json_t *cfg, char *arg, struct cove_error *err)
{
	_cleanup_json_ json_t *scratch =
	    json_pack("{s:{}, s:{}}", "HostConfig", "ExposedPorts");
	char *save = NULL, *tok;
	const char *k;
	json_t *v;

	if (!scratch)
		return -ENOMEM;
	for (tok = strtok_r(arg, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		int r = cove_netopt_add(scratch, COVE_NETOPT_EXPOSE, tok, err);
		if (r < 0)
			return r == -ENOMEM ? r
					    : cove_error_wrap(err, "EXPOSE");
	}
	json_object_foreach(json_object_get(scratch, "ExposedPorts"), k, v)
	{
		if (json_object_set_new(
			cove_json_object_member(cfg, "ExposedPorts"), k,
			json_object()) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int volumes(json_t *cfg, char *arg, struct cove_error *err)
{
	json_t *vols = cove_json_object_member(cfg, "Volumes");
	_cleanup_json_ json_t *list = *arg == '[' ? json_strings(arg) : NULL;
	char *save = NULL, *tok;
	json_t *x;
	size_t i;

	if (*arg == '[' && !list)
		return cove_error_set(err, EINVAL,
				      "invalid VOLUME '%s': a JSON array of "
				      "strings expected",
				      arg);
	if (list) {
		json_array_foreach(list, i, x)
		{
			if (json_string_value(x)[0] != '/')
				return cove_error_set(err, EINVAL,
						      "invalid VOLUME '%s': "
						      "not an absolute path",
						      json_string_value(x));
			if (json_object_set_new(vols, json_string_value(x),
						json_object()) < 0)
				return -ENOMEM;
		}
		return 0;
	}
	for (tok = strtok_r(arg, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (tok[0] != '/')
			return cove_error_set(err, EINVAL,
					      "invalid VOLUME '%s': not an "
					      "absolute path",
					      tok);
		if (json_object_set_new(vols, tok, json_object()) < 0)
			return -ENOMEM;
	}
	return 0;
}

int cove_commit_change_apply(json_t *cfg, const char *change,
			     struct cove_error *err)
{
	static const char *const words[] = {
	    "CMD",  "ENTRYPOINT", "ENV",	"LABEL",  "EXPOSE",
	    "USER", "WORKDIR",	  "STOPSIGNAL", "VOLUME",
	};
	_cleanup_free_ char *copy = NULL;
	char word[16], *arg;
	size_t n, i;
	int r;

	change += strspn(change, " \t");
	n = strcspn(change, " \t=");
	if (n == 0 || n >= sizeof(word))
		return cove_error_set(err, EINVAL,
				      "invalid change '%.200s': an instruction "
				      "expected (CMD, ENTRYPOINT, ENV, LABEL, "
				      "EXPOSE, USER, WORKDIR, STOPSIGNAL, "
				      "VOLUME)",
				      change);
	for (i = 0; i < n; i++)
		word[i] = (char)toupper((unsigned char)change[i]);
	word[n] = '\0';
	for (i = 0; i < ARRAY_SIZE(words); i++)
		if (!strcmp(word, words[i]))
			break;
	if (i == ARRAY_SIZE(words))
		return cove_error_set(err, EINVAL,
				      "invalid change '%.200s': unknown "
				      "instruction '%s'",
				      change, word);
	copy = strdup(change + n + (change[n] == '=' ? 1 : 0));
	if (!copy)
		return cove_error_set(err, ENOMEM, "out of memory");
	arg = copy + strspn(copy, " \t");
	for (n = strlen(arg); n && strchr(" \t\r\n", arg[n - 1]); n--)
		arg[n - 1] = '\0';
	if (!*arg)
		return cove_error_set(err, EINVAL,
				      "invalid change '%.200s': %s needs an "
				      "argument",
				      change, word);
	if (!strcmp(word, "CMD") || !strcmp(word, "ENTRYPOINT")) {
		json_t *v = command(arg);
		if (!v)
			return cove_error_set(err, EINVAL,
					      "invalid %s '%s': a JSON array "
					      "of strings expected",
					      word, arg);
		r = json_object_set_new(
		    cfg, !strcmp(word, "CMD") ? "Cmd" : "Entrypoint", v);
		/* a new entrypoint drops the old command, as in a Dockerfile */
		if (r == 0 && !strcmp(word, "ENTRYPOINT"))
			(void)json_object_del(cfg, "Cmd");
	} else if (!strcmp(word, "ENV") || !strcmp(word, "LABEL")) {
		r = pairs(cfg, !strcmp(word, "ENV"), arg, err);
		if (r < 0 && r != -ENOMEM)
			return r;
	} else if (!strcmp(word, "EXPOSE")) {
		r = expose(cfg, arg, err);
		if (r < 0 && r != -ENOMEM)
			return r;
	} else if (!strcmp(word, "VOLUME")) {
		r = volumes(cfg, arg, err);
		if (r < 0 && r != -ENOMEM)
			return r;
	} else {
		const char *key = !strcmp(word, "USER")	     ? "User"
				  : !strcmp(word, "WORKDIR") ? "WorkingDir"
							     : "StopSignal";
		if (!strcmp(word, "WORKDIR") && arg[0] != '/')
			return cove_error_set(err, EINVAL,
					      "invalid WORKDIR '%s': not an "
					      "absolute path",
					      arg);
		r = json_object_set_new(cfg, key, json_string(arg));
	}
	if (r < 0)
		return cove_error_set(err, ENOMEM, "out of memory");
	return 0;
}

/* ---- the new config ------------------------------------------------------ */

/*
 * What the container was created with over the image's: a command,
 * entrypoint, user, working directory given at create, its -e variables,
 * labels and exposed ports, as docker and podman carry them into the
 * committed image.
 */
static int container_settings(json_t *cfg, const json_t *ctr)
{
	const json_t *v;
	json_t *x;
	const char *k;
	size_t i;

	v = json_object_get(ctr, "Cmd");
	if (json_is_array(v) && json_array_size(v) &&
	    json_object_set_new(cfg, "Cmd", json_deep_copy(v)) < 0)
		return -ENOMEM;
	v = json_object_get(ctr, "Entrypoint");
	if (json_is_array(v) &&
	    json_object_set_new(cfg, "Entrypoint", json_deep_copy(v)) < 0)
		return -ENOMEM;
	for (i = 0; i < 3; i++) {
		const char *key = i == 0   ? "User"
				  : i == 1 ? "WorkingDir"
					   : "StopSignal";
		const char *s = json_string_value(json_object_get(ctr, key));
		/* SIGTERM is every container's default: not a choice */
		if (s && *s && !(i == 2 && !strcmp(s, "SIGTERM")) &&
		    json_object_set_new(cfg, key, json_string(s)) < 0)
			return -ENOMEM;
	}
	json_array_foreach(json_object_get(ctr, "Env"), i, x)
	{
		if (json_is_string(x) && strchr(json_string_value(x), '=') &&
		    env_set(cfg, json_string_value(x)) < 0)
			return -ENOMEM;
	}
	json_object_foreach((json_t *)json_object_get(ctr, "Labels"), k, x)
	{
		if (json_object_set(cove_json_object_member(cfg, "Labels"), k,
				    x) < 0)
			return -ENOMEM;
	}
	json_object_foreach((json_t *)json_object_get(ctr, "ExposedPorts"), k,
			    x)
	{
		if (json_object_set_new(
			cove_json_object_member(cfg, "ExposedPorts"), k,
			json_object()) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The parent's config with the new layer, settings and history entry. */
static int new_config(const struct cove_image *img, const struct cove_ctr *c,
		      const struct cove_commit_opts *o, const char *diff_id,
		      json_t **ret, struct cove_error *err)
{
	_cleanup_json_ json_t *doc = json_deep_copy(img->config_json);
	json_t *cfg, *rootfs, *ids, *hist, *h;
	char now[64];

	if (!doc)
		return cove_error_set(err, ENOMEM, "out of memory");
	cfg = cove_json_object_member(doc, "config");
	if (container_settings(cfg, c->config) < 0)
		return cove_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; o->changes && o->changes[i]; i++) {
		int r = cove_commit_change_apply(cfg, o->changes[i], err);
		if (r < 0)
			return r;
	}
	cove_log_time_format(cove_now_ns(), now);
	rootfs = cove_json_object_member(doc, "rootfs");
	ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_array(ids)) {
		ids = json_array();
		json_object_set_new(rootfs, "diff_ids", ids);
	}
	hist = json_object_get(doc, "history");
	if (!json_is_array(hist)) {
		hist = json_array();
		json_object_set_new(doc, "history", hist);
	}
	h = json_pack("{s:s, s:s}", "created", now, "created_by",
		      "cove commit");
	if (!h || json_object_set_new(rootfs, "type", json_string("layers")) ||
	    json_array_append_new(ids, json_string(diff_id)) < 0 ||
	    json_object_set_new(doc, "created", json_string(now)) < 0)
		return cove_error_set(err, ENOMEM, "out of memory");
	if (o->author &&
	    (json_object_set_new(doc, "author", json_string(o->author)) < 0 ||
	     json_object_set_new(h, "author", json_string(o->author)) < 0))
		return cove_error_set(err, ENOMEM, "out of memory");
	if (o->message &&
	    json_object_set_new(h, "comment", json_string(o->message)) < 0)
		return cove_error_set(err, ENOMEM, "out of memory");
	if (json_array_append_new(hist, h) < 0)
		return cove_error_set(err, ENOMEM, "out of memory");
	*ret = TAKE_PTR(doc);
	return 0;
}

/* ---- the layer ----------------------------------------------------------- */

struct layer {
	struct archive *tar, *gz;
	struct cove_hasher *diff; /* of the uncompressed tar */
	struct cove_ingest *in;
	struct cove_tarw *w;
	int64_t size; /* compressed bytes */
	struct cove_error *err;
};

/* The tar's output: hashed, then into gzip */
static la_ssize_t tar_out(struct archive *a, void *data, const void *buf,
			  size_t len)
{
	struct layer *l = data;

	if (cove_hasher_update(l->diff, buf, len) < 0) {
		archive_set_error(a, ENOMEM, "cannot hash the layer");
		return -1;
	}
	if (archive_write_data(l->gz, buf, len) != (la_ssize_t)len) {
		archive_set_error(a, EIO, "gzip: %s",
				  archive_error_string(l->gz)
				      ? archive_error_string(l->gz)
				      : "write failed");
		return -1;
	}
	return (la_ssize_t)len;
}

/* gzip's output: into the store */
static la_ssize_t gz_out(struct archive *a, void *data, const void *buf,
			 size_t len)
{
	struct layer *l = data;

	if (cove_ingest_write(l->in, buf, len, l->err) < 0) {
		archive_set_error(a,
				  l->err && l->err->code ? l->err->code : EIO,
				  "%s", l->err ? l->err->msg : "cannot store");
		return -1;
	}
	l->size += (int64_t)len;
	return (la_ssize_t)len;
}

static int layer_entry(const struct cove_diff_entry *ent, void *data)
{
	struct layer *l = data;
	const char *rel = ent->path + 1, *base = strrchr(ent->path, '/') + 1;
	_cleanup_free_ char *marker = NULL;
	int r;

	/*
	 * A name that a layer would read as a whiteout cannot be carried:
	 * refused, rather than turned into a deletion by the next unpack.
	 */
	if (cove_str_has_prefix(base, ".wh."))
		return cove_error_set(l->err, EINVAL,
				      "cannot commit '%s': names starting with "
				      "'.wh.' are reserved for whiteouts",
				      ent->path);
	if (ent->kind == COVE_CHANGE_DELETED && !ent->opaque) {
		marker = cove_strdup_printf("%.*s.wh.%s", (int)(base - rel),
					    rel, base);
		if (!marker)
			return cove_error_set(l->err, ENOMEM, "out of memory");
		return cove_tarw_add_marker(l->w, marker, l->err);
	}
	r = cove_tarw_add(l->w, ent->dirfd, ent->name, rel, ent->st, l->err);
	if (r < 0 || !ent->opaque)
		return r;
	marker = cove_strdup_printf("%s/.wh..wh..opq", rel);
	if (!marker)
		return cove_error_set(l->err, ENOMEM, "out of memory");
	return cove_tarw_add_marker(l->w, marker, l->err);
}

static int archive_err(struct archive *a, struct cove_error *err,
		       const char *what)
{
	int code = archive_errno(a);

	if (err && err->code)
		return -err->code; /* ours, passed through a callback */
	return cove_error_set(err, code > 0 ? code : EIO, "%s: %s", what,
			      archive_error_string(a) ? archive_error_string(a)
						      : "unknown error");
}

/*
 * Write @c's changes as a gzip layer into the store: its diff_id and
 * digest (COVE_DIGEST_MAX bytes each) and compressed size.
 */
static int write_layer(struct cove_engine *e, struct cove_ctr *c,
		       char *ret_diff_id, char *ret_digest, int64_t *ret_size,
		       struct cove_error *err)
{
	struct layer l = {.err = err};
	struct archive_entry *ent = NULL;
	int r;

	r = cove_ingest_begin(e->store, NULL, -1, &l.in, err);
	if (r < 0)
		return r;
	l.tar = archive_write_new();
	l.gz = archive_write_new();
	ent = archive_entry_new();
	if (!l.tar || !l.gz || !ent ||
	    cove_hasher_new(COVE_DIGEST_SHA256, &l.diff) < 0 ||
	    cove_tarw_new(l.tar, &l.w) < 0) {
		r = cove_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	/* gzip: a raw stream of one entry, no padding after the trailer */
	if (archive_write_set_format_raw(l.gz) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(l.gz) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(l.gz, 1) != ARCHIVE_OK ||
	    archive_write_open(l.gz, &l, NULL, gz_out, NULL) != ARCHIVE_OK) {
		r = archive_err(l.gz, err, "cannot start gzip");
		goto out;
	}
	archive_entry_set_pathname(ent, "layer.tar");
	archive_entry_set_filetype(ent, AE_IFREG);
	archive_entry_set_perm(ent, 0644);
	if (archive_write_header(l.gz, ent) != ARCHIVE_OK) {
		r = archive_err(l.gz, err, "cannot start gzip");
		goto out;
	}
	if (archive_write_set_format_pax_restricted(l.tar) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(l.tar, 1) != ARCHIVE_OK ||
	    archive_write_open(l.tar, &l, NULL, tar_out, NULL) != ARCHIVE_OK) {
		r = archive_err(l.tar, err, "cannot start the layer");
		goto out;
	}
	r = cove_engine_diff_walk(e, c, layer_entry, &l, err);
	if (r < 0)
		goto out;
	if (archive_write_close(l.tar) != ARCHIVE_OK) {
		r = archive_err(l.tar, err, "cannot finish the layer");
		goto out;
	}
	if (archive_write_close(l.gz) != ARCHIVE_OK) {
		r = archive_err(l.gz, err, "cannot finish gzip");
		goto out;
	}
	r = cove_hasher_final(l.diff, ret_diff_id);
	if (r < 0) {
		r = cove_error_setx(err, r, "cannot hash the layer");
		goto out;
	}
	r = cove_ingest_commit(TAKE_PTR(l.in), ret_digest, err);
	if (r < 0)
		goto out;
	*ret_size = l.size;
out:
	cove_tarw_free(l.w);
	if (l.tar)
		archive_write_free(l.tar);
	if (l.gz)
		archive_write_free(l.gz);
	archive_entry_free(ent);
	cove_hasher_free(l.diff);
	cove_ingest_abort(l.in);
	return r < 0 ? r : 0;
}

/* ---- the image ----------------------------------------------------------- */

/* The OCI spelling of a parent's layer media type */
static const char *oci_layer_type(const char *mt)
{
	if (!mt || !strcmp(mt, COVE_MT_DOCKER_LAYER))
		return COVE_MT_OCI_LAYER_GZIP;
	if (!strcmp(mt, COVE_MT_DOCKER_LAYER_TAR))
		return COVE_MT_OCI_LAYER;
	if (!strcmp(mt, COVE_MT_DOCKER_LAYER_FOREIGN))
		return COVE_MT_OCI_LAYER_ND_GZIP;
	return mt;
}

/* IMAGE[:TAG] with "localhost/" when it names no registry, as podman */
static char *image_name(const char *name)
{
	const char *slash = strchr(name, '/');
	size_t n = slash ? (size_t)(slash - name) : 0;

	if (slash && (memchr(name, '.', n) || memchr(name, ':', n) ||
		      (n == 9 && !strncmp(name, "localhost", 9))))
		return strdup(name);
	return cove_strdup_printf("localhost/%s", name);
}

static int store_image(struct cove_engine *e, const struct cove_image *img,
		       json_t *config, const char *layer_digest,
		       int64_t layer_size, const char *name, char *ret_id,
		       struct cove_error *err)
{
	_cleanup_free_ char *cfg_txt = NULL, *man_txt = NULL, *full = NULL;
	_cleanup_free_ struct cove_descriptor *layers = NULL;
	const struct cove_manifest *pm = img->manifest;
	struct cove_manifest m = {.kind = COVE_MANIFEST_OCI,
				  .media_type = COVE_MT_OCI_MANIFEST};
	struct cove_image_record rec = {0};
	const char *names[2] = {NULL, NULL};
	char cfg_digest[COVE_DIGEST_MAX], man_digest[COVE_DIGEST_MAX];
	size_t man_len = 0;
	int r;

	cfg_txt = json_dumps(config, JSON_COMPACT);
	if (!cfg_txt)
		return cove_error_set(err, ENOMEM, "out of memory");
	r = cove_store_put(e->store, cfg_txt, strlen(cfg_txt), NULL, cfg_digest,
			   err);
	if (r < 0)
		return cove_error_wrap(err, "cannot store the config");
	layers = calloc(pm->n_layers + 1, sizeof(*layers));
	if (!layers)
		return cove_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < pm->n_layers; i++) {
		layers[i] = pm->layers[i];
		layers[i].media_type =
		    (char *)oci_layer_type(pm->layers[i].media_type);
		layers[i].platform = NULL;
	}
	layers[pm->n_layers] = (struct cove_descriptor){
	    .media_type = COVE_MT_OCI_LAYER_GZIP, .size = layer_size};
	snprintf(layers[pm->n_layers].digest, COVE_DIGEST_MAX, "%s",
		 layer_digest);
	m.config = (struct cove_descriptor){.media_type = COVE_MT_OCI_CONFIG,
					    .size = (int64_t)strlen(cfg_txt)};
	snprintf(m.config.digest, sizeof(m.config.digest), "%s", cfg_digest);
	m.layers = layers;
	m.n_layers = pm->n_layers + 1;
	r = cove_manifest_to_json(&m, &man_txt, &man_len, err);
	if (r < 0)
		return r;
	r = cove_store_put(e->store, man_txt, man_len, NULL, man_digest, err);
	if (r < 0)
		return cove_error_wrap(err, "cannot store the manifest");
	if (name) {
		full = image_name(name);
		if (!full)
			return cove_error_set(err, ENOMEM, "out of memory");
		names[0] = full;
	}
	/* last: the record, after the layers were unpacked and verified */
	r = cove_image_commit(e->store, e->images, e->snap, man_digest, NULL,
			      names, &rec, err);
	if (r < 0)
		return r;
	snprintf(ret_id, COVE_DIGEST_MAX, "%s", rec.id);
	cove_image_record_release(&rec);
	return 0;
}

int cove_engine_commit(struct cove_engine *e, struct cove_ctr *c,
		       const struct cove_commit_opts *o, char *ret_id,
		       struct cove_error *err)
{
	struct cove_image img = {0};
	_cleanup_json_ json_t *config = NULL;
	_cleanup_close_ int lease = -1;
	char diff_id[COVE_DIGEST_MAX], digest[COVE_DIGEST_MAX];
	bool paused = false;
	int64_t size = 0;
	int r = cove_engine_images(e, err);

	if (r < 0)
		return r;
	if (!c->image_id || !*c->image_id)
		return cove_error_set(err, EINVAL,
				      "container %s has no image to commit "
				      "onto",
				      c->name);
	r = cove_image_open(e->store, e->images, c->image_id, &img, err);
	if (r < 0)
		return cove_error_wrap(err, "the image of container %s",
				       c->name);
	/* the name and the changes are checked before anything is written */
	if (o->name) {
		_cleanup_free_ char *full = image_name(o->name);
		struct cove_image_ref ref = {0};
		if (!full) {
			r = cove_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
		r = cove_image_ref_parse(full, &ref, err);
		if (r >= 0 && ref.digest)
			r = cove_error_set(err, EINVAL,
					   "invalid image name '%s': a commit "
					   "cannot be pinned by digest",
					   o->name);
		cove_image_ref_release(&ref);
		if (r < 0)
			goto out;
	}
	r = new_config(&img, c, o, "sha256:", &config, err);
	if (r < 0)
		goto out;
	json_decref(config);
	config = NULL;
	lease = cove_store_lease(e->store, err);
	if (lease < 0) {
		r = lease;
		goto out;
	}
	if (o->pause && !strcmp(c->state, "running")) {
		r = cove_container_pause(e->runtime_root, c->id, true, err);
		if (r < 0)
			goto out;
		paused = true;
	}
	r = write_layer(e, c, diff_id, digest, &size, err);
	if (paused) {
		struct cove_error ignore = {0};
		int u = cove_container_pause(e->runtime_root, c->id, false,
					     r < 0 ? &ignore : err);
		if (r >= 0 && u < 0)
			r = u;
	}
	if (r < 0)
		goto out;
	r = new_config(&img, c, o, diff_id, &config, err);
	if (r >= 0)
		r = store_image(e, &img, config, digest, size, o->name, ret_id,
				err);
out:
	cove_image_release(&img);
	return r < 0 ? r : 0;
}
