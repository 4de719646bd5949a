/*
 * Pull orchestration (see pull.h): reference -> registry -> store ->
 * snapshots -> metadata database, plus the image helpers that pull, push,
 * load, save and the CLI share.
 */
#include "image/pull.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/layer.h"
#include "image/registries-conf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

static void registries_conf_freep(struct cove_registries_conf **c)
{
	cove_registries_conf_free(*c);
}

static void registry_client_freep(struct cove_registry_client **c)
{
	cove_registry_client_free(*c);
}

static void manifest_freep(struct cove_manifest **m)
{
	cove_manifest_free(*m);
}

static void image_config_freep(struct cove_image_config **c)
{
	cove_image_config_free(*c);
}

static void image_ref_releasep(struct cove_image_ref *r)
{
	cove_image_ref_release(r);
}

static void registry_manifest_releasep(struct cove_registry_manifest *m)
{
	cove_registry_manifest_release(m);
}

static void platform_releasep(struct cove_platform *p)
{
	cove_platform_release(p);
}

static void image_releasep(struct cove_image *img)
{
	cove_image_release(img);
}

static void record_releasep(struct cove_image_record *r)
{
	cove_image_record_release(r);
}

/* ---- registry clients --------------------------------------------------- */

int cove_remote_client(const char *registry, const char *repository,
		       const struct cove_remote_opts *o, bool for_pull,
		       struct cove_registry_client **ret,
		       struct cove_error *err)
{
	static const struct cove_remote_opts defaults = {0};
	_cleanup_(registries_conf_freep) struct cove_registries_conf *conf =
	    NULL;
	struct cove_registry_options ro = {0};
	bool insecure = false;
	int r;

	if (!o)
		o = &defaults;
	r = cove_registries_conf_load(o->registries_conf, &conf, err);
	if (r < 0)
		return r;
	if (for_pull &&
	    cove_registries_conf_blocked(conf, registry, repository))
		return cove_error_set(err, EACCES,
				      "registry %s is blocked in "
				      "registries.conf",
				      registry);
	switch (o->tls_verify) {
	case COVE_TLS_VERIFY_OFF:
		insecure = true;
		break;
	case COVE_TLS_VERIFY_ON:
		insecure = false;
		break;
	case COVE_TLS_VERIFY_DEFAULT:
		insecure =
		    cove_registries_conf_insecure(conf, registry, repository);
		break;
	}
	ro.insecure = insecure;
	ro.ca_file = o->ca_file;
	ro.certs_dir = o->certs_dir;
	ro.authfile = o->authfile;
	ro.username = o->username;
	ro.password = o->password;
	ro.progress = o->progress;
	ro.progress_data = o->progress_data;
	return cove_registry_client_new(registry, &ro, ret, err);
}

/* ---- images of the store ------------------------------------------------ */

void cove_image_release(struct cove_image *img)
{
	if (!img)
		return;
	cove_image_record_release(&img->rec);
	cove_manifest_free(img->manifest);
	cove_image_config_free(img->config);
	free(img->manifest_data);
	if (img->config_json)
		json_decref(img->config_json);
	*img = (struct cove_image){0};
}

static int copy_record(const struct cove_image_record *in,
		       struct cove_image_record *out)
{
	*out = *in;
	out->manifest_media_type = NULL;
	out->names = NULL;
	if (in->manifest_media_type) {
		out->manifest_media_type = strdup(in->manifest_media_type);
		if (!out->manifest_media_type)
			return -ENOMEM;
	}
	if (in->names) {
		out->names = cove_strv_copy(in->names);
		if (!out->names)
			return -ENOMEM;
	}
	return 0;
}

int cove_image_open_record(struct cove_store *s,
			   const struct cove_image_record *rec,
			   struct cove_image *ret, struct cove_error *err)
{
	_cleanup_(image_releasep) struct cove_image img = {0};
	_cleanup_free_ char *cbuf = NULL;
	size_t clen = 0;
	json_error_t jerr;
	int r;

	if (copy_record(rec, &img.rec) < 0)
		return cove_error_set(err, ENOMEM, "out of memory");
	r = cove_store_get(s, rec->manifest_digest, COVE_MANIFEST_MAX,
			   &img.manifest_data, &img.manifest_len, err);
	if (r < 0)
		return cove_error_wrap(err, "image %s: manifest", rec->id);
	r = cove_manifest_parse(img.manifest_data, img.manifest_len,
				rec->manifest_digest, NULL, 0, &img.manifest,
				err);
	if (r < 0)
		return cove_error_wrap(err, "image %s", rec->id);
	if (cove_manifest_is_index(img.manifest))
		return cove_error_set(err, EBADMSG,
				      "image %s: manifest %s is an index",
				      rec->id, rec->manifest_digest);
	if (strcmp(img.manifest->config.digest, rec->id))
		return cove_error_set(err, EBADMSG,
				      "image %s: its manifest %s names config "
				      "%s",
				      rec->id, rec->manifest_digest,
				      img.manifest->config.digest);
	r = cove_store_get(s, rec->id, COVE_CONFIG_MAX, &cbuf, &clen, err);
	if (r < 0)
		return cove_error_wrap(err, "image %s: config", rec->id);
	r = cove_image_config_parse(cbuf, clen, rec->id, &img.config, err);
	if (r < 0)
		return r;
	img.config_json = json_loadb(cbuf, clen, 0, &jerr);
	if (!img.config_json)
		return cove_error_set(err, EBADMSG, "image config %s: %s",
				      rec->id, jerr.text);
	*ret = img;
	img = (struct cove_image){0};
	return 0;
}

int cove_image_open(struct cove_store *s, struct cove_images *db,
		    const char *name_or_id, struct cove_image *ret,
		    struct cove_error *err)
{
	_cleanup_(record_releasep) struct cove_image_record rec = {0};
	int r;

	r = cove_images_lookup(db, name_or_id, &rec, err);
	if (r < 0)
		return r;
	return cove_image_open_record(s, &rec, ret, err);
}

int cove_image_layers(struct cove_store *s, const struct cove_image *img,
		      struct cove_snapshot_layer **ret_layers, size_t *ret_n,
		      char *ret_chain_id, struct cove_error *err)
{
	const struct cove_manifest *m = img->manifest;
	const struct cove_image_config *c = img->config;
	_cleanup_strv_ char **paths = NULL;
	struct cove_snapshot_layer *layers;
	char chain[COVE_CHAIN_ID_MAX] = "", next[COVE_CHAIN_ID_MAX];
	size_t total = 0;
	char *p;
	int r;

	r = cove_manifest_check_config(m, c, img->rec.manifest_digest, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < m->n_layers; i++) {
		_cleanup_free_ char *path =
		    cove_store_blob_path(s, m->layers[i].digest);

		if (!path)
			return cove_error_setx(err, errno,
					       "layer %zu: invalid digest '%s'",
					       i, m->layers[i].digest);
		if (cove_strv_push(&paths, path) < 0)
			return cove_error_set(err, ENOMEM, "out of memory");
		total += strlen(path) + 1;
		r = cove_chain_id(*chain ? chain : NULL, c->diff_ids[i], next,
				  err);
		if (r < 0)
			return cove_error_wrap(err, "image %s: layer %zu",
					       img->rec.id, i);
		memcpy(chain, next, sizeof(chain));
	}
	layers = calloc(1, m->n_layers * sizeof(*layers) + total + 1);
	if (!layers)
		return cove_error_set(err, ENOMEM, "out of memory");
	p = (char *)(layers + m->n_layers);
	for (size_t i = 0; i < m->n_layers; i++) {
		size_t len = strlen(paths[i]) + 1;

		memcpy(p, paths[i], len);
		layers[i] = (struct cove_snapshot_layer){
		    .diff_id = c->diff_ids[i],
		    .media_type = m->layers[i].media_type,
		    .name = m->layers[i].digest,
		    .blob_path = p,
		    .blob_fd = -1,
		};
		p += len;
	}
	*ret_layers = layers;
	*ret_n = m->n_layers;
	if (ret_chain_id)
		memcpy(ret_chain_id, chain, sizeof(chain));
	return 0;
}

int cove_image_unpack(struct cove_store *s, struct cove_snapshotter *snap,
		      const struct cove_image *img, char *ret_chain_id,
		      struct cove_error *err)
{
	_cleanup_free_ struct cove_snapshot_layer *layers = NULL;
	char chain[COVE_CHAIN_ID_MAX];
	size_t n = 0;
	int r;

	r = cove_image_layers(s, img, &layers, &n, chain, err);
	if (r < 0)
		return r;
	r = cove_snapshot_prepare(snap, layers, n, NULL, NULL, err);
	if (r < 0)
		return cove_error_wrap(err, "cannot unpack image %s",
				       img->rec.id);
	if (ret_chain_id)
		memcpy(ret_chain_id, chain, sizeof(chain));
	return 0;
}

/* ---- commit ------------------------------------------------------------- */

/*
 * Everything the manifest promises is in the store, as it says: the
 * config and every layer with the descriptor's size, layer media types
 * that cove can unpack, and uncompressed layers that are their diff_ids.
 */
static int check_blobs(struct cove_store *s, const struct cove_image *img,
		       struct cove_error *err)
{
	const struct cove_manifest *m = img->manifest;
	const char *mname = img->rec.manifest_digest;
	int64_t size;
	int r;

	size = cove_store_blob_size(s, m->config.digest);
	if (size != m->config.size)
		return cove_error_set(err, EBADMSG,
				      "manifest %s: config %s is %lld bytes, "
				      "the manifest says %lld",
				      mname, m->config.digest, (long long)size,
				      (long long)m->config.size);
	r = cove_manifest_check_config(m, img->config, mname, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < m->n_layers; i++) {
		const struct cove_descriptor *d = &m->layers[i];
		enum cove_layer_compression comp;

		r = cove_layer_media_type(d->media_type, &comp, err);
		if (r < 0)
			return cove_error_wrap(err, "manifest %s: layer %zu",
					       mname, i);
		size = cove_store_blob_size(s, d->digest);
		if (size < 0)
			return cove_error_set(err, ENOENT,
					      "manifest %s: layer %zu (%s) is "
					      "not in the store",
					      mname, i, d->digest);
		if (size != d->size)
			return cove_error_set(err, EBADMSG,
					      "manifest %s: layer %zu (%s) is "
					      "%lld bytes, the manifest says "
					      "%lld",
					      mname, i, d->digest,
					      (long long)size,
					      (long long)d->size);
		if (comp == COVE_LAYER_UNCOMPRESSED &&
		    strcmp(d->digest, img->config->diff_ids[i]))
			return cove_error_set(
			    err, EBADMSG,
			    "manifest %s: uncompressed layer %zu is %s but "
			    "the config says its diff_id is %s",
			    mname, i, d->digest, img->config->diff_ids[i]);
	}
	return 0;
}

int cove_image_commit(struct cove_store *s, struct cove_images *db,
		      struct cove_snapshotter *snap,
		      const char *manifest_digest, const char *index_digest,
		      const char *const *names, struct cove_image_record *ret,
		      struct cove_error *err)
{
	_cleanup_(image_releasep) struct cove_image img = {0};
	struct cove_image_record rec = {0};
	int64_t size;
	int r;

	/* The record is built first so that the usual open path reads it. */
	snprintf(rec.manifest_digest, sizeof(rec.manifest_digest), "%s",
		 manifest_digest);
	{
		_cleanup_free_ char *buf = NULL;
		_cleanup_(manifest_freep) struct cove_manifest *m = NULL;
		size_t len = 0;

		r = cove_store_get(s, manifest_digest, COVE_MANIFEST_MAX, &buf,
				   &len, err);
		if (r < 0)
			return cove_error_wrap(err, "manifest");
		r = cove_manifest_parse(buf, len, manifest_digest, NULL, 0, &m,
					err);
		if (r < 0)
			return r;
		if (cove_manifest_is_index(m))
			return cove_error_set(err, EINVAL,
					      "manifest %s is an index, not an "
					      "image",
					      manifest_digest);
		snprintf(rec.id, sizeof(rec.id), "%s", m->config.digest);
		rec.manifest_media_type = m->media_type;
		r = cove_image_open_record(s, &rec, &img, err);
		if (r < 0)
			return r;
	}
	r = check_blobs(s, &img, err);
	if (r < 0)
		return r;
	if (snap) {
		r = cove_image_unpack(s, snap, &img, NULL, err);
		if (r < 0)
			return r;
	}
	size = (int64_t)img.manifest_len + img.manifest->config.size;
	for (size_t i = 0; i < img.manifest->n_layers; i++)
		size += img.manifest->layers[i].size;
	img.rec.size = size;
	img.rec.created = img.config->created_unix;
	snprintf(img.rec.index_digest, sizeof(img.rec.index_digest), "%s",
		 index_digest ? index_digest : "");
	r = cove_images_add(db, &img.rec, names, err);
	if (r < 0)
		return r;
	if (!ret)
		return 0;
	return cove_images_lookup(db, img.rec.id, ret, err);
}

/* ---- pull --------------------------------------------------------------- */

/* An image that is not from an index: does it suit the platform asked? */
static int check_platform(const struct cove_image_config *c,
			  const struct cove_platform *want, const char *name,
			  struct cove_error *err)
{
	struct cove_platform have = {
	    .os = c->os,
	    .architecture = c->architecture,
	    .variant = c->variant,
	};
	_cleanup_free_ char *w = NULL, *h = NULL;

	if (!c->os || !c->architecture || cove_platform_match(want, &have) >= 0)
		return 0;
	w = cove_platform_format(want);
	h = cove_platform_format(&have);
	return cove_error_set(err, ENOENT,
			      "image %s is for %s, not %s (it is not a "
			      "multi-platform image)",
			      name, h ? h : "?", w ? w : "?");
}

/* Fetch a manifest and keep its exact bytes in the store. */
static int fetch_manifest(struct cove_registry_client *c, struct cove_store *s,
			  const char *repository, const char *reference,
			  const char *name, struct cove_registry_manifest *ret,
			  struct cove_manifest **ret_parsed,
			  struct cove_error *err)
{
	_cleanup_(
	    registry_manifest_releasep) struct cove_registry_manifest rm = {0};
	_cleanup_(manifest_freep) struct cove_manifest *m = NULL;
	int r;

	r = cove_registry_get_manifest(c, repository, reference, NULL, 0, &rm,
				       err);
	if (r < 0)
		return r;
	r = cove_manifest_parse(rm.data, rm.len, name, rm.media_type, 0, &m,
				err);
	if (r < 0)
		return r;
	r = cove_store_put(s, rm.data, rm.len, rm.digest, NULL, err);
	if (r < 0)
		return r;
	*ret = rm;
	rm = (struct cove_registry_manifest){0};
	*ret_parsed = TAKE_PTR(m);
	return 0;
}

/*
 * Layers are fetched by up to PULL_JOBS threads, each with a registry
 * client of its own (clients are not shared between threads; the store
 * takes concurrent ingests).  The first failure stops the others from
 * starting more blobs and is what the pull reports.
 */
#define PULL_JOBS 3

struct fetch_shared {
	struct cove_store *s;
	const struct cove_image_ref *ref;
	const struct cove_remote_opts *remote;
	const struct cove_manifest *m;
	pthread_mutex_t lock;
	size_t next;
	int r;
	struct cove_error err; /* the first failure */
};

/* Interleaved byte counts would garble a terminal: completions only. */
static void fetch_progress(void *ud, const char *digest, int64_t done,
			   int64_t total)
{
	struct fetch_shared *sh = ud;

	if (total < 0 || done < total)
		return;
	pthread_mutex_lock(&sh->lock);
	sh->remote->progress(sh->remote->progress_data, digest, done, total);
	pthread_mutex_unlock(&sh->lock);
}

static void fetch_fail(struct fetch_shared *sh, int r,
		       const struct cove_error *err)
{
	pthread_mutex_lock(&sh->lock);
	if (sh->r >= 0) {
		sh->r = r;
		sh->err = *err;
	}
	pthread_mutex_unlock(&sh->lock);
}

static void *fetch_worker(void *arg)
{
	struct fetch_shared *sh = arg;
	struct cove_remote_opts ro = *sh->remote;
	struct cove_registry_client *c = NULL;
	struct cove_error err = {0};
	int r;

	if (ro.progress) {
		ro.progress = fetch_progress;
		ro.progress_data = sh;
	}
	r = cove_remote_client(sh->ref->registry, sh->ref->repository, &ro,
			       true, &c, &err);
	while (r >= 0) {
		const struct cove_descriptor *d;
		size_t i;

		pthread_mutex_lock(&sh->lock);
		i = sh->r < 0 ? SIZE_MAX : sh->next++;
		pthread_mutex_unlock(&sh->lock);
		if (i >= sh->m->n_layers)
			break;
		d = &sh->m->layers[i];
		r = cove_registry_pull_blob(c, sh->s, sh->ref->repository,
					    d->digest, d->size, &err);
	}
	if (r < 0)
		fetch_fail(sh, r, &err);
	cove_registry_client_free(c);
	return NULL;
}

static int fetch_layers(struct cove_registry_client *c, struct cove_store *s,
			const struct cove_image_ref *ref,
			const struct cove_remote_opts *remote,
			const struct cove_manifest *m, struct cove_error *err)
{
	struct fetch_shared sh = {.s = s, .ref = ref, .remote = remote, .m = m};
	pthread_t threads[PULL_JOBS];
	size_t n_threads = 0, missing = 0;
	int r;

	for (size_t i = 0; i < m->n_layers; i++)
		if (!cove_store_has(s, m->layers[i].digest))
			missing++;
	if (missing <= 1) {
		for (size_t i = 0; i < m->n_layers; i++) {
			r = cove_registry_pull_blob(c, s, ref->repository,
						    m->layers[i].digest,
						    m->layers[i].size, err);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (pthread_mutex_init(&sh.lock, NULL) != 0)
		return cove_error_set(err, ENOMEM, "cannot create a lock");
	for (; n_threads < PULL_JOBS && n_threads < missing; n_threads++)
		if (pthread_create(&threads[n_threads], NULL, fetch_worker,
				   &sh) != 0)
			break;
	if (n_threads == 0)
		fetch_worker(&sh); /* no thread to be had: do it here */
	for (size_t i = 0; i < n_threads; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&sh.lock);
	if (sh.r < 0) {
		if (err)
			*err = sh.err;
		return sh.r;
	}
	return 0;
}

int cove_image_pull(struct cove_store *s, struct cove_images *db,
		    const char *reference, const struct cove_pull_opts *o,
		    struct cove_image_record *ret, struct cove_error *err)
{
	static const struct cove_pull_opts defaults = {0};
	_cleanup_(image_ref_releasep) struct cove_image_ref ref = {0};
	_cleanup_(registry_client_freep) struct cove_registry_client *c = NULL;
	_cleanup_(
	    registry_manifest_releasep) struct cove_registry_manifest rm = {0};
	_cleanup_(manifest_freep) struct cove_manifest *m = NULL;
	_cleanup_(image_config_freep) struct cove_image_config *config = NULL;
	_cleanup_(platform_releasep) struct cove_platform want = {0};
	_cleanup_free_ char *name = NULL, *cbuf = NULL;
	_cleanup_close_ int lease = -1;
	char index_digest[COVE_DIGEST_MAX] = "";
	const char *names[2] = {NULL, NULL};
	size_t clen = 0;
	int r;

	if (!o)
		o = &defaults;
	r = cove_image_ref_parse(reference, &ref, err);
	if (r < 0)
		return r;
	name = cove_image_ref_format(&ref);
	if (!name)
		return cove_error_set(err, ENOMEM, "out of memory");
	if (o->platform) {
		r = cove_platform_parse(o->platform, &want, err);
		if (r < 0)
			return r;
	}
	r = cove_remote_client(ref.registry, ref.repository, &o->remote, true,
			       &c, err);
	if (r < 0)
		return r;
	/* Blobs fetched before the image is recorded are kept from prune. */
	lease = cove_store_lease(s, err);
	if (lease < 0)
		return lease;

	r = fetch_manifest(c, s, ref.repository,
			   ref.digest ? ref.digest : ref.tag, name, &rm, &m,
			   err);
	if (r < 0)
		return r;
	if (cove_manifest_is_index(m)) {
		_cleanup_free_ char *child = NULL;
		int i =
		    cove_index_select(m, name, o->platform ? &want : NULL, err);
		int64_t child_size;

		if (i < 0)
			return i;
		child_size = m->manifests[i].size;
		snprintf(index_digest, sizeof(index_digest), "%s", rm.digest);
		child = strdup(m->manifests[i].digest);
		if (!child)
			return cove_error_set(err, ENOMEM, "out of memory");
		cove_registry_manifest_release(&rm);
		cove_manifest_free(m);
		m = NULL;
		r = fetch_manifest(c, s, ref.repository, child, child, &rm, &m,
				   err);
		if (r < 0)
			return r;
		if (cove_manifest_is_index(m))
			return cove_error_set(err, EINVAL,
					      "index %s: entry %s is an index "
					      "itself",
					      index_digest, child);
		if ((int64_t)rm.len != child_size)
			return cove_error_set(err, EBADMSG,
					      "index %s: entry %s is %lld "
					      "bytes, the index says %lld",
					      index_digest, child,
					      (long long)rm.len,
					      (long long)child_size);
	}

	/* The config first: it is small and says what the layers must be. */
	r = cove_registry_pull_blob(c, s, ref.repository, m->config.digest,
				    m->config.size, err);
	if (r < 0)
		return r;
	r = cove_store_get(s, m->config.digest, COVE_CONFIG_MAX, &cbuf, &clen,
			   err);
	if (r < 0)
		return r;
	r = cove_image_config_parse(cbuf, clen, m->config.digest, &config, err);
	if (r < 0)
		return r;
	r = cove_manifest_check_config(m, config, rm.digest, err);
	if (r < 0)
		return r;
	if (o->platform && !*index_digest) {
		r = check_platform(config, &want, name, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < m->n_layers; i++) {
		enum cove_layer_compression comp;

		r = cove_layer_media_type(m->layers[i].media_type, &comp, err);
		if (r < 0)
			return cove_error_wrap(err, "manifest %s: layer %zu",
					       rm.digest, i);
	}
	r = fetch_layers(c, s, &ref, &o->remote, m, err);
	if (r < 0)
		return r;
	names[0] = name;
	return cove_image_commit(s, db, o->unpack, rm.digest,
				 *index_digest ? index_digest : NULL, names,
				 ret, err);
}

/* ---- snapshot garbage collection ---------------------------------------- */

struct chain_set {
	char (*ids)[COVE_CHAIN_ID_MAX];
	size_t n, cap;
};

static bool chain_set_has(const struct chain_set *set, const char *id)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->ids[i], id))
			return true;
	return false;
}

static int chain_set_add(struct chain_set *set, const char *id)
{
	if (!*id || chain_set_has(set, id))
		return 0;
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		void *p = realloc(set->ids, cap * sizeof(*set->ids));

		if (!p)
			return -ENOMEM;
		set->ids = p;
		set->cap = cap;
	}
	snprintf(set->ids[set->n++], COVE_CHAIN_ID_MAX, "%s", id);
	return 0;
}

/* Every chain id of every image: the prefixes of their layer stacks. */
static int image_chains(struct cove_store *s, struct cove_images *db,
			struct chain_set *set, struct cove_error *err)
{
	struct cove_image_record *recs = NULL;
	size_t n = 0;
	int r;

	r = cove_images_list(db, &recs, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		_cleanup_(image_releasep) struct cove_image img = {0};
		char chain[COVE_CHAIN_ID_MAX] = "", next[COVE_CHAIN_ID_MAX];

		r = cove_image_open_record(s, &recs[i], &img, err);
		if (r < 0)
			break;
		for (size_t j = 0; j < img.config->n_diff_ids && r >= 0; j++) {
			r = cove_chain_id(*chain ? chain : NULL,
					  img.config->diff_ids[j], next, err);
			if (r >= 0) {
				memcpy(chain, next, sizeof(chain));
				r = chain_set_add(set, chain);
				if (r < 0)
					cove_error_set(err, ENOMEM,
						       "out of memory");
			}
		}
	}
	cove_image_records_free(recs, n);
	return r < 0 ? r : 0;
}

/* @path as /proc/self/mountinfo writes it (space, tab, newline, '\\'). */
static char *mountinfo_escape(const char *path)
{
	char *out = malloc(strlen(path) * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (const char *p = path; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\\')
			o += snprintf(o, 5, "\\%03o", (unsigned char)*p);
		else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

/*
 * Whether a mount of this mount namespace lists @path among its options:
 * an overlay (a `cove bundle` rootfs, say) that uses the snapshot as a
 * lower layer, which the snapshotter does not know about.
 */
static bool mounted_lower(const char *mountinfo, const char *path)
{
	_cleanup_free_ char *esc = mountinfo_escape(path);
	size_t len;

	if (!esc || !*esc || !mountinfo)
		return true; /* when in doubt, keep */
	len = strlen(esc);
	for (const char *p = mountinfo; (p = strstr(p, esc)); p += len)
		if (p > mountinfo && strchr(",:= ", p[-1]) &&
		    strchr(",: \n", p[len]))
			return true;
	return false;
}

int cove_snapshot_gc(struct cove_store *s, struct cove_images *db,
		     struct cove_snapshotter *snap, size_t *ret_removed,
		     struct cove_error *err)
{
	_cleanup_free_ struct cove_snapshot_info *snaps = NULL;
	_cleanup_free_ struct cove_snapshot_container *conts = NULL;
	_cleanup_free_ char *mountinfo = NULL;
	struct chain_set keep = {0};
	size_t n_snaps = 0, n_conts = 0, removed = 0;
	bool progress = true;
	int r;

	/* A snapshot unreadable here is kept: deleting blind is worse. */
	r = image_chains(s, db, &keep, err);
	if (r < 0)
		goto out;
	r = cove_snapshot_list(snap, &snaps, &n_snaps, err);
	if (r < 0)
		goto out;
	r = cove_snapshot_list_containers(snap, &conts, &n_conts, err);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n_conts; i++)
		if (chain_set_add(&keep, conts[i].chain_id) < 0) {
			r = cove_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
	r = cove_read_file("/proc/self/mountinfo", 64u << 20, &mountinfo, NULL);
	if (r < 0) {
		r = cove_error_setx(err, r, "cannot read /proc/self/mountinfo");
		goto out;
	}
	for (size_t i = 0; i < n_snaps; i++) {
		_cleanup_free_ char *path =
		    cove_snapshot_path(snap, snaps[i].chain_id);

		if (!mounted_lower(mountinfo, path ? path : ""))
			continue;
		if (chain_set_add(&keep, snaps[i].chain_id) < 0) {
			r = cove_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
	}
	/* What is kept keeps its ancestors (a container's parents). */
	for (bool grew = true; grew;) {
		grew = false;
		for (size_t i = 0; i < n_snaps; i++) {
			if (!chain_set_has(&keep, snaps[i].chain_id) ||
			    !*snaps[i].parent ||
			    chain_set_has(&keep, snaps[i].parent))
				continue;
			if (chain_set_add(&keep, snaps[i].parent) < 0) {
				r = cove_error_set(err, ENOMEM,
						   "out of memory");
				goto out;
			}
			grew = true;
		}
	}
	/* Children before parents: retry what was still a parent. */
	while (progress) {
		progress = false;
		for (size_t i = 0; i < n_snaps; i++) {
			struct cove_error e = {0};

			if (!*snaps[i].chain_id ||
			    chain_set_has(&keep, snaps[i].chain_id))
				continue;
			r = cove_snapshot_remove(snap, snaps[i].chain_id, &e);
			if (r == -EBUSY)
				continue;
			if (r < 0 && r != -ENOENT) {
				if (err)
					*err = e;
				goto out;
			}
			snaps[i].chain_id[0] = '\0';
			removed++;
			progress = true;
		}
	}
	r = 0;
	if (ret_removed)
		*ret_removed = removed;
out:
	free(keep.ids);
	return r;
}

/* ---- root file systems -------------------------------------------------- */

/* The reason the kernel queued on an fs context ("e overlay: ..."). */
static void fs_context_reason(int fsfd, char *buf, size_t size)
{
	char line[512];
	ssize_t n;

	buf[0] = '\0';
	while ((n = read(fsfd, line, sizeof(line) - 1)) > 0) {
		line[n] = '\0';
		if (line[0] == 'e' && line[1] == ' ')
			snprintf(buf, size, " (%s)", line + 2);
	}
}

/*
 * Overlay with the layers added one by one ("lowerdir+", Linux 6.8), so
 * that deep images are not bound by mount(2)'s page of options; older
 * kernels get the option string.
 */
static int mount_overlay(char **lowers, const char *upper, const char *work,
			 const char *target, struct cove_error *err)
{
	_cleanup_close_ int fsfd = -1, mfd = -1;
	_cleanup_free_ char *data = NULL;
	char why[256];
	size_t len = 0;

	fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fsfd >= 0) {
		bool legacy = false;

		for (char **l = lowers; *l && !legacy; l++) {
			if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", *l,
				     0) == 0)
				continue;
			if (l == lowers && errno == EINVAL) {
				legacy = true;
				break;
			}
			fs_context_reason(fsfd, why, sizeof(why));
			return cove_error_setx(
			    err, errno, "overlay lower dir '%s'%s", *l, why);
		}
		if (!legacy) {
			if (fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir",
				     upper, 0) < 0 ||
			    fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", work,
				     0) < 0 ||
			    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) <
				0) {
				int e = errno;

				fs_context_reason(fsfd, why, sizeof(why));
				return cove_error_setx(
				    err, e, "cannot mount overlay on '%s'%s",
				    target, why);
			}
			mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
			if (mfd < 0 || move_mount(mfd, "", AT_FDCWD, target,
						  MOVE_MOUNT_F_EMPTY_PATH) < 0)
				return cove_error_setx(
				    err, errno, "cannot mount overlay on '%s'",
				    target);
			return 0;
		}
	}
	for (char **l = lowers; *l; l++) {
		if (strpbrk(*l, ":,\\"))
			return cove_error_set(err, EINVAL,
					      "overlay path '%s' has ':', ',' "
					      "or '\\'",
					      *l);
		len += strlen(*l) + 1;
	}
	data = malloc(len + strlen(upper) + strlen(work) + 64);
	if (!data)
		return cove_error_set(err, ENOMEM, "out of memory");
	len = 0;
	for (char **l = lowers; *l; l++)
		len += (size_t)snprintf(data + len, strlen(*l) + 16, "%s%s",
					l == lowers ? "lowerdir=" : ":", *l);
	snprintf(data + len, strlen(upper) + strlen(work) + 32,
		 ",upperdir=%s,workdir=%s", upper, work);
	if (mount("overlay", target, "overlay", 0, data) < 0)
		return cove_error_setx(err, errno,
				       "cannot mount overlay on '%s'", target);
	return 0;
}

static int rootfs_overlay(struct cove_store *s, struct cove_snapshotter *snap,
			  const struct cove_image *img, const char *target,
			  const char *upper, const char *work,
			  struct cove_error *err)
{
	_cleanup_strv_ char **lowers = NULL;
	_cleanup_free_ char *empty = NULL;
	const struct cove_image_config *c = img->config;
	char(*chains)[COVE_CHAIN_ID_MAX] = NULL;
	struct stat st;
	int r;

	r = cove_image_unpack(s, snap, img, NULL, err);
	if (r < 0)
		return r;
	chains = calloc(c->n_diff_ids + 1, sizeof(*chains));
	if (!chains)
		return cove_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < c->n_diff_ids && r >= 0; i++)
		r = cove_chain_id(i ? chains[i - 1] : NULL, c->diff_ids[i],
				  chains[i], err);
	/* overlay wants the newest layer first */
	for (size_t i = c->n_diff_ids; i > 0 && r >= 0; i--) {
		_cleanup_free_ char *p =
		    cove_snapshot_path(snap, chains[i - 1]);

		if (!p || cove_strv_push(&lowers, p) < 0)
			r = cove_error_set(err, ENOMEM, "out of memory");
	}
	free(chains);
	if (r < 0)
		return r;
	if (!lowers) {
		/* an image without layers: overlay needs one lower dir */
		empty = cove_strdup_printf("%s.empty", work);
		if (!empty || cove_strv_push(&lowers, empty) < 0)
			return cove_error_set(err, ENOMEM, "out of memory");
		if (mkdir(empty, 0755) < 0 && errno != EEXIST)
			return cove_error_setx(err, errno, "cannot create '%s'",
					       empty);
	}
	if ((mkdir(upper, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(work, 0700) < 0 && errno != EEXIST))
		return cove_error_setx(err, errno, "cannot create '%s' or '%s'",
				       upper, work);
	/* The merged root takes the upper dir's owner and mode. */
	if (stat(lowers[0], &st) == 0 &&
	    (chown(upper, st.st_uid, st.st_gid) < 0 ||
	     chmod(upper, st.st_mode & 07777) < 0))
		return cove_error_setx(err, errno, "cannot set up '%s'", upper);
	return mount_overlay(lowers, upper, work, target, err);
}

static int rootfs_copy(struct cove_store *s, const struct cove_image *img,
		       const char *target, struct cove_error *err)
{
	_cleanup_free_ struct cove_snapshot_layer *layers = NULL;
	_cleanup_close_ int dfd = -1;
	size_t n = 0;
	int r;

	r = cove_image_layers(s, img, &layers, &n, NULL, err);
	if (r < 0)
		return r;
	dfd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cove_error_setx(err, errno, "cannot open '%s'", target);
	for (size_t i = 0; i < n; i++) {
		struct cove_layer_opts lo = {.name = layers[i].name};
		struct cove_layer_stats st;
		_cleanup_close_ int bfd =
		    open(layers[i].blob_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

		if (bfd < 0)
			return cove_error_setx(err, errno,
					       "layer %s is not in the store "
					       "(run `cove image fsck`)",
					       layers[i].name);
		r = cove_layer_apply(bfd, layers[i].media_type, dfd, &lo, &st,
				     err);
		if (r < 0)
			return r;
		if (strcmp(st.diff_id, layers[i].diff_id))
			return cove_error_set(err, EBADMSG,
					      "layer %s: content does not "
					      "match its diff_id: config says "
					      "%s, content is %s",
					      layers[i].name, layers[i].diff_id,
					      st.diff_id);
	}
	return 0;
}

int cove_image_rootfs(struct cove_store *s, struct cove_snapshotter *snap,
		      const struct cove_image *img, const char *target,
		      const char *upper, const char *work,
		      struct cove_error *err)
{
	if (snap)
		return rootfs_overlay(s, snap, img, target, upper, work, err);
	return rootfs_copy(s, img, target, err);
}
