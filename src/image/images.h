#pragma once
/*
 * The image metadata database: which images the store holds and the names
 * that point at them, in SQLite at <root>/cove.db (WAL mode, so readers
 * never wait for a writer; a busy timeout, so concurrent cove processes
 * queue instead of failing).  Every change is one transaction: a crash or
 * an error leaves the database as it was before the call.
 *
 * An image is identified by its config digest (as podman and docker do);
 * it records the manifest that describes it (for this platform) and the
 * index it was selected from, if any.  Names are fully qualified,
 * normalised references ("docker.io/library/busybox:latest"); a name points
 * at exactly one image, an image may have many names or none.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/digest.h"
#include "util/error.h"

struct cove_images;

struct cove_image_record {
	char id[COVE_DIGEST_MAX];	       /* config digest */
	char manifest_digest[COVE_DIGEST_MAX]; /* the image manifest */
	char *manifest_media_type;
	char index_digest[COVE_DIGEST_MAX]; /* "" unless chosen from an index */
	int64_t created; /* seconds since the epoch, from the config; 0 if
			    unknown */
	int64_t added;	 /* when it was recorded (set by cove_images_add) */
	int64_t size;	 /* bytes in the store: manifest + config + layers */
	char **names;	 /* NULL-terminated, sorted; NULL when none */
};

void cove_image_record_release(struct cove_image_record *rec);

/* Open (creating) <root>/cove.db. */
int cove_images_open(const char *root, struct cove_images **ret,
		     struct cove_error *err);
void cove_images_free(struct cove_images *db);

/*
 * Record an image (insert, or update its manifest, media type, index,
 * created and size when the id exists) and point each of @names (NULL or
 * NULL-terminated; normalised with cove_image_ref_parse) at it, all in one
 * transaction.  @rec->names and @rec->added are ignored.  An invalid name
 * fails the whole call: nothing is recorded.
 */
int cove_images_add(struct cove_images *db, const struct cove_image_record *rec,
		    const char *const *names, struct cove_error *err);

/*
 * Point @name at image @id (a full id), moving it from any other image,
 * as `docker tag` does.  -ENOENT if no such image.
 */
int cove_images_tag(struct cove_images *db, const char *id, const char *name,
		    struct cove_error *err);
/* Remove a name.  -ENOENT if it points nowhere. */
int cove_images_untag(struct cove_images *db, const char *name,
		      struct cove_error *err);

/*
 * Find an image the way podman does, in this order:
 *   1. a full id ("sha256:<hex>" or the bare 64 hex digits);
 *   2. a name, normalised ("busybox" -> docker.io/library/busybox:latest);
 *      a name pinned by digest ("busybox@sha256:...") matches the image
 *      whose manifest or index has that digest and that carries a name in
 *      the same repository (or the exact pinned name);
 *   3. a unique id prefix ("3f57d9401f8d", "sha256:3f57"); at least 3 hex
 *      digits; -EINVAL ("ambiguous") when several images share it.
 * Returns -ENOENT with "image not known" when nothing matches.
 */
int cove_images_lookup(struct cove_images *db, const char *name_or_id,
		       struct cove_image_record *ret, struct cove_error *err);

/* Every image, newest first; free with cove_image_records_free(). */
int cove_images_list(struct cove_images *db, struct cove_image_record **ret,
		     size_t *ret_n, struct cove_error *err);
void cove_image_records_free(struct cove_image_record *recs, size_t n);

/*
 * Remove image @id (a full id).  Refused (-EBUSY) while a name points at
 * it, unless @force, which removes its names too.  -ENOENT if absent.
 * Blobs stay in the store until cove_store_prune().
 */
int cove_images_remove(struct cove_images *db, const char *id, bool force,
		       struct cove_error *err);

/*
 * The roots of garbage collection: every manifest, index and config digest
 * the database references, without duplicates (NULL-terminated, caller
 * frees with cove_strv_free).  Layers are found by walking the manifests
 * (image/gc.h).
 */
int cove_images_referenced_blobs(struct cove_images *db, char ***ret,
				 struct cove_error *err);
