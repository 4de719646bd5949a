#pragma once
/*
 * The content store: blobs addressed by digest under
 *   <root>/blobs/<algo>/<hex>
 * Writes go to <root>/ingest/<random> and are renamed into place only after
 * the digest (and size, when known) verified, with fsync of the file and of
 * the directory: a kill -9 at any point leaves either no blob or a complete
 * one, plus stale ingest files that the next open or fsck removes.
 *
 * Image metadata (names, tags, which manifest an image is) lives in SQLite
 * at <root>/cove.db, every change one transaction.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "image/digest.h"
#include "util/error.h"

struct cove_store;

/* Open (creating the layout) the store at @root. */
int cove_store_open(const char *root, struct cove_store **ret,
		    struct cove_error *err);
void cove_store_free(struct cove_store *s);
const char *cove_store_root(const struct cove_store *s);

bool cove_store_has(struct cove_store *s, const char *digest);
/* Path of a blob (caller frees); the blob may not exist. */
char *cove_store_blob_path(struct cove_store *s, const char *digest);
/* Open a blob for reading (O_RDONLY|O_CLOEXEC); -ENOENT if absent. */
int cove_store_open_blob(struct cove_store *s, const char *digest);

/* Streaming ingest: write, then commit with the expected digest. */
struct cove_ingest;
int cove_ingest_begin(struct cove_store *s, const char *expected_digest,
		      int64_t expected_size, struct cove_ingest **ret,
		      struct cove_error *err);
int cove_ingest_write(struct cove_ingest *in, const void *buf, size_t len,
		      struct cove_error *err);
/* Bytes written so far (for resumed downloads). */
int64_t cove_ingest_offset(const struct cove_ingest *in);
/*
 * Verify and rename into place.  With no expected digest, the computed one
 * is returned in @ret_digest (COVE_DIGEST_MAX bytes, may be NULL).  The
 * ingest is freed in every case.
 */
int cove_ingest_commit(struct cove_ingest *in, char *ret_digest,
		       struct cove_error *err);
void cove_ingest_abort(struct cove_ingest *in);

/* Whole-buffer convenience (manifests, configs). */
int cove_store_put(struct cove_store *s, const void *buf, size_t len,
		   const char *expected_digest, char *ret_digest,
		   struct cove_error *err);
/* Read a whole (small) blob, verified against its digest; caller frees. */
int cove_store_get(struct cove_store *s, const char *digest, size_t max,
		   char **ret_buf, size_t *ret_len, struct cove_error *err);
