#include "image/gc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/manifest.h"
#include "util/cleanup.h"
#include "util/strutil.h"

#define HASH_CHUNK (128 * 1024)
#define MAX_DEPTH 8

/* ---- a set of strings -------------------------------------------------- */

struct strset {
	char **slots;
	size_t cap; /* power of two */
	size_t n;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static bool strset_contains(const struct strset *set, const char *s)
{
	if (!set->cap)
		return false;
	for (size_t i = fnv1a(s) & (set->cap - 1);;
	     i = (i + 1) & (set->cap - 1)) {
		if (!set->slots[i])
			return false;
		if (!strcmp(set->slots[i], s))
			return true;
	}
}

static int strset_insert_owned(struct strset *set, char *s)
{
	size_t i;

	for (i = fnv1a(s) & (set->cap - 1); set->slots[i];
	     i = (i + 1) & (set->cap - 1))
		;
	set->slots[i] = s;
	set->n++;
	return 0;
}

/* 1 if added, 0 if present, -ENOMEM. */
static int strset_add(struct strset *set, const char *s)
{
	char *copy;

	if (strset_contains(set, s))
		return 0;
	if ((set->n + 1) * 2 > set->cap) {
		struct strset bigger = {0};
		bigger.cap = set->cap ? set->cap * 2 : 64;
		bigger.slots = calloc(bigger.cap, sizeof(char *));
		if (!bigger.slots)
			return -ENOMEM;
		for (size_t i = 0; i < set->cap; i++)
			if (set->slots[i])
				strset_insert_owned(&bigger, set->slots[i]);
		free(set->slots);
		*set = bigger;
	}
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	strset_insert_owned(set, copy);
	return 1;
}

static void strset_release(struct strset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slots[i]);
	free(set->slots);
	*set = (struct strset){0};
}

/* ---- reachability ------------------------------------------------------ */

enum node_kind {
	NODE_LEAF,     /* config, layer: not read */
	NODE_MANIFEST, /* must parse as an image manifest */
	NODE_INDEX,    /* must parse as an index */
	NODE_SNIFF,    /* a manifest if it parses as one, else a leaf */
};

struct walk {
	struct cove_store *s;
	struct strset reachable;
	char **dangling;
	char **invalid;
};

static void walk_release(struct walk *w)
{
	strset_release(&w->reachable);
	cove_strv_free(w->dangling);
	cove_strv_free(w->invalid);
}

static int note(char ***v, const char *digest)
{
	if (cove_strv_contains(*v, digest))
		return 0;
	return cove_strv_push(v, digest);
}

static bool looks_like_json_object(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' ||
		    buf[i] == '\r')
			continue;
		return buf[i] == '{';
	}
	return false;
}

static int visit(struct walk *w, const char *digest, enum node_kind kind,
		 bool required, int depth);

static int visit_manifest(struct walk *w, const struct cove_manifest *m,
			  bool required, int depth)
{
	int r;

	if (cove_manifest_is_index(m)) {
		/* Children of an index are there only for pulled platforms. */
		for (size_t i = 0; i < m->n_manifests; i++) {
			const struct cove_descriptor *d = &m->manifests[i];
			enum node_kind k =
			    cove_media_type_is_manifest(d->media_type)
				? NODE_MANIFEST
			    : cove_media_type_is_index(d->media_type)
				? NODE_INDEX
				: NODE_SNIFF;
			r = visit(w, d->digest, k, false, depth + 1);
			if (r < 0)
				return r;
		}
		return 0;
	}
	r = visit(w, m->config.digest, NODE_LEAF, required, depth + 1);
	if (r < 0)
		return r;
	for (size_t i = 0; i < m->n_layers; i++) {
		bool foreign = false;
		/* Foreign layers live at their urls, not in the store. */
		cove_media_type_layer(m->layers[i].media_type, NULL, &foreign);
		r = visit(w, m->layers[i].digest, NODE_LEAF,
			  required && !foreign, depth + 1);
		if (r < 0)
			return r;
	}
	return 0;
}

static int visit(struct walk *w, const char *digest, enum node_kind kind,
		 bool required, int depth)
{
	_cleanup_free_ char *buf = NULL;
	struct cove_manifest *m = NULL;
	struct cove_error perr = {0};
	size_t len = 0;
	int64_t size;
	int r;

	if (depth > MAX_DEPTH)
		return note(&w->invalid, digest);
	if (strset_contains(&w->reachable, digest))
		return 0;
	if (!cove_store_has(w->s, digest))
		return required ? note(&w->dangling, digest) : 0;
	r = strset_add(&w->reachable, digest);
	if (r < 0)
		return r;
	if (kind == NODE_LEAF)
		return 0;
	size = cove_store_blob_size(w->s, digest);
	if (kind == NODE_SNIFF && (size < 0 || size > COVE_MANIFEST_MAX))
		return 0;
	r = cove_store_get(w->s, digest, COVE_MANIFEST_MAX, &buf, &len, &perr);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return kind == NODE_SNIFF ? 0 : note(&w->invalid, digest);
	if (kind == NODE_SNIFF && !looks_like_json_object(buf, len))
		return 0;
	r = cove_manifest_parse(buf, len, digest, NULL,
				COVE_MANIFEST_ALLOW_ARTIFACTS, &m, &perr);
	if (r == -ENOMEM)
		return r;
	if (r < 0 || (kind == NODE_MANIFEST && cove_manifest_is_index(m)) ||
	    (kind == NODE_INDEX && !cove_manifest_is_index(m))) {
		cove_manifest_free(m);
		return kind == NODE_SNIFF ? 0 : note(&w->invalid, digest);
	}
	r = visit_manifest(w, m, required, depth);
	cove_manifest_free(m);
	return r;
}

static int walk_images(struct walk *w, struct cove_images *db,
		       const char *const *extra_roots, struct cove_error *err)
{
	struct cove_image_record *recs = NULL;
	_cleanup_strv_ char **refs = NULL;
	size_t n = 0;
	int r = 0;

	if (db) {
		r = cove_images_list(db, &recs, &n, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = visit(w, recs[i].manifest_digest, NODE_MANIFEST, true, 0);
		if (r >= 0)
			r = visit(w, recs[i].id, NODE_LEAF, true, 0);
		if (r >= 0 && recs[i].index_digest[0])
			r = visit(w, recs[i].index_digest, NODE_INDEX, true, 0);
	}
	cove_image_records_free(recs, n);
	if (r < 0)
		return cove_error_set(err, r, "out of memory");
	/* Whatever else the database holds on to stays too. */
	if (db) {
		r = cove_images_referenced_blobs(db, &refs, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; refs && refs[i]; i++) {
		r = visit(w, refs[i], NODE_SNIFF, true, 0);
		if (r < 0)
			return cove_error_set(err, r, "out of memory");
	}
	for (size_t i = 0; extra_roots && extra_roots[i]; i++) {
		r = visit(w, extra_roots[i], NODE_SNIFF, false, 0);
		if (r < 0)
			return cove_error_set(err, r, "out of memory");
	}
	return 0;
}

/* ---- fsck -------------------------------------------------------------- */

void cove_fsck_report_release(struct cove_fsck_report *r)
{
	if (!r)
		return;
	cove_strv_free(r->corrupt);
	cove_strv_free(r->dangling);
	cove_strv_free(r->invalid);
	*r = (struct cove_fsck_report){0};
}

bool cove_fsck_report_clean(const struct cove_fsck_report *r)
{
	return !r->corrupt && !r->dangling && !r->invalid;
}

/* 1 if @digest names its content, 0 if not, -errno if unreadable. */
static int blob_verify(struct cove_store *s, const char *digest)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct cove_hasher *h = NULL;
	enum cove_digest_algo algo;
	char got[COVE_DIGEST_MAX];
	int r;

	if (cove_digest_validate(digest, &algo, NULL) < 0)
		return 0;
	fd = cove_store_open_blob(s, digest);
	if (fd < 0)
		return fd == -ELOOP ? 0 : fd;
	buf = malloc(HASH_CHUNK);
	if (!buf)
		return -ENOMEM;
	r = cove_hasher_new(algo, &h);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = read(fd, buf, HASH_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0) {
			r = cove_hasher_final(h, got);
			if (r >= 0)
				r = strcmp(got, digest) == 0;
			break;
		}
		r = cove_hasher_update(h, buf, (size_t)n);
		if (r < 0)
			break;
	}
	cove_hasher_free(h);
	return r;
}

struct fsck_ctx {
	struct cove_store *s;
	struct cove_fsck_report *rep;
	char **bad; /* collected during the walk, removed after it */
};

static int fsck_one(const char *digest, int64_t size, void *userdata)
{
	struct fsck_ctx *c = userdata;
	int r;

	c->rep->blobs++;
	if (size < 0) /* not a regular file */
		return cove_strv_push(&c->bad, digest);
	r = blob_verify(c->s, digest);
	if (r == -ENOMEM)
		return r;
	if (r == 0 || r < 0)
		return cove_strv_push(&c->bad, digest);
	return 0;
}

int cove_store_fsck(struct cove_store *s, struct cove_images *db,
		    unsigned flags, struct cove_fsck_report *ret,
		    struct cove_error *err)
{
	struct cove_fsck_report rep = {0};
	struct fsck_ctx c = {.s = s, .rep = &rep};
	struct walk w = {.s = s};
	int r;

	*ret = (struct cove_fsck_report){0};
	r = cove_store_clean_ingest(s, &rep.stale_ingest, err);
	if (r < 0)
		return r;
	r = cove_store_foreach_blob(s, fsck_one, &c, err);
	if (r < 0) {
		cove_strv_free(c.bad);
		return r == -ENOMEM ? cove_error_set(err, r, "out of memory")
				    : r;
	}
	rep.corrupt = TAKE_PTR(c.bad);
	if (flags & COVE_FSCK_REPAIR) {
		for (size_t i = 0; rep.corrupt && rep.corrupt[i]; i++) {
			_cleanup_free_ char *path = NULL;
			const char *colon = strchr(rep.corrupt[i], ':');
			/* Bad names are not digests: remove by path. */
			path = cove_strdup_printf("%s/blobs/%.*s/%s",
						  cove_store_root(s),
						  (int)(colon - rep.corrupt[i]),
						  rep.corrupt[i], colon + 1);
			if (!path) {
				cove_fsck_report_release(&rep);
				return -ENOMEM;
			}
			if (unlink(path) == 0)
				rep.removed++;
		}
	}
	r = walk_images(&w, db, NULL, err);
	if (r < 0) {
		walk_release(&w);
		cove_fsck_report_release(&rep);
		return r;
	}
	rep.dangling = TAKE_PTR(w.dangling);
	rep.invalid = TAKE_PTR(w.invalid);
	walk_release(&w);
	*ret = rep;
	return 0;
}

/* ---- prune ------------------------------------------------------------- */

void cove_prune_report_release(struct cove_prune_report *r)
{
	if (!r)
		return;
	cove_strv_free(r->removed);
	*r = (struct cove_prune_report){0};
}

struct prune_ctx {
	struct cove_store *s;
	struct walk *w;
	char **doomed;
	uint64_t bytes;
};

static int prune_one(const char *digest, int64_t size, void *userdata)
{
	struct prune_ctx *c = userdata;

	/* Junk names are fsck's business, not prune's. */
	if (cove_digest_validate(digest, NULL, NULL) < 0)
		return 0;
	if (strset_contains(&c->w->reachable, digest))
		return 0;
	c->bytes += size > 0 ? (uint64_t)size : 0;
	return cove_strv_push(&c->doomed, digest);
}

int cove_store_prune(struct cove_store *s, struct cove_images *db,
		     const char *const *extra_roots, unsigned flags,
		     struct cove_prune_report *ret, struct cove_error *err)
{
	_cleanup_close_ int lock = -1;
	struct walk w = {.s = s};
	struct prune_ctx c = {.s = s, .w = &w};
	size_t removed = 0;
	int r;

	*ret = (struct cove_prune_report){0};
	lock = cove_store_lock_exclusive(s, err);
	if (lock < 0)
		return lock;
	r = walk_images(&w, db, extra_roots, err);
	if (r < 0)
		goto out;
	if (w.invalid) {
		r = cove_error_set(err, EBADMSG,
				   "not pruning: manifest %s, needed by an "
				   "image, cannot be read or parsed (run fsck)",
				   w.invalid[0]);
		goto out;
	}
	r = cove_store_foreach_blob(s, prune_one, &c, err);
	if (r < 0) {
		if (r == -ENOMEM)
			r = cove_error_set(err, r, "out of memory");
		goto out;
	}
	if (!(flags & COVE_PRUNE_DRY_RUN)) {
		for (size_t i = 0; c.doomed && c.doomed[i]; i++) {
			r = cove_store_delete(s, c.doomed[i], err);
			if (r < 0)
				goto out;
			removed++;
		}
		r = cove_store_clean_ingest(s, NULL, err);
		if (r < 0)
			goto out;
	} else {
		removed = cove_strv_length(c.doomed);
	}
	ret->removed = TAKE_PTR(c.doomed);
	ret->n_removed = removed;
	ret->bytes = c.bytes;
	r = 0;
out:
	cove_strv_free(c.doomed);
	walk_release(&w);
	return r;
}
