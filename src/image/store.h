#pragma once
/*
 * The content store: blobs addressed by digest under
 *   <root>/blobs/<algo>/<hex>
 * Writes go to <root>/ingest/<random> and are renamed into place only after
 * the digest (and size, when known) verified, with fsync of the file and of
 * the directory: a kill -9 at any point leaves either no blob or a complete
 * one, plus stale ingest files that the next open or fsck removes.
 *
 * Each ingest file is flock()ed by its writer for as long as it is open;
 * a file nobody holds a lock on belongs to a dead writer and is stale.
 * Two processes ingesting the same blob each write their own file and both
 * rename onto the same (identical) target, so both succeed.
 *
 * Image metadata (names, tags, which manifest an image is) lives in SQLite
 * at <root>/cove.db, every change one transaction (image/images.h).
 * Garbage collection and consistency checks are in image/gc.h.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "image/digest.h"
#include "util/error.h"

struct cove_store;

/*
 * Open (creating the layout) the store at @root and remove stale ingest
 * files.  The root is created 0700: blobs may hold private images.
 */
int cove_store_open(const char *root, struct cove_store **ret,
		    struct cove_error *err);
void cove_store_free(struct cove_store *s);
const char *cove_store_root(const struct cove_store *s);

/* True when a blob with this (valid) digest is in the store. */
bool cove_store_has(struct cove_store *s, const char *digest);
/*
 * Path of a blob (caller frees); the blob may not exist.  NULL with errno
 * EINVAL when @digest is not a valid digest (never a path outside blobs/).
 */
char *cove_store_blob_path(struct cove_store *s, const char *digest);
/* Open a blob for reading (O_RDONLY|O_CLOEXEC); -ENOENT if absent. */
int cove_store_open_blob(struct cove_store *s, const char *digest);
/* Size of a blob in bytes, or -ENOENT / -EINVAL. */
int64_t cove_store_blob_size(struct cove_store *s, const char *digest);

/* Streaming ingest: write, then commit with the expected digest. */
struct cove_ingest;
/*
 * @expected_digest may be NULL (computed sha256 reported at commit);
 * @expected_size is -1 when unknown.  Writing past a known size fails at
 * once, so a hostile server cannot fill the disk.
 */
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
 * ingest is freed in every case.  A digest or size mismatch is -EBADMSG and
 * leaves nothing behind.
 */
int cove_ingest_commit(struct cove_ingest *in, char *ret_digest,
		       struct cove_error *err);
/* Discard the ingest file and free; NULL is fine. */
void cove_ingest_abort(struct cove_ingest *in);

/* Whole-buffer convenience (manifests, configs). */
int cove_store_put(struct cove_store *s, const void *buf, size_t len,
		   const char *expected_digest, char *ret_digest,
		   struct cove_error *err);
/*
 * Read a whole (small) blob, verified against its digest; caller frees.
 * The buffer is NUL-terminated (not counted in *ret_len).  -ENOENT when
 * absent, -EFBIG beyond @max bytes, -EBADMSG when the content does not
 * match its digest.
 */
int cove_store_get(struct cove_store *s, const char *digest, size_t max,
		   char **ret_buf, size_t *ret_len, struct cove_error *err);

/* Remove a blob; absent blobs are not an error.  Syncs the directory. */
int cove_store_delete(struct cove_store *s, const char *digest,
		      struct cove_error *err);

/*
 * Call @fn for every blob file in the store with its digest ("sha256:..."
 * built from the file name, which may not be a valid digest: callers
 * validate) and size.  A negative return from @fn stops the walk and is
 * returned.
 */
int cove_store_foreach_blob(struct cove_store *s,
			    int (*fn)(const char *digest, int64_t size,
				      void *userdata),
			    void *userdata, struct cove_error *err);

/*
 * Remove ingest files that no live writer holds.  The count removed goes
 * to @ret_removed (may be NULL).
 */
int cove_store_clean_ingest(struct cove_store *s, size_t *ret_removed,
			    struct cove_error *err);

/*
 * A lease keeps prune (image/gc.h) away while blobs exist that no image
 * references yet: take it before checking cove_store_has() in a pull or a
 * build, and release it (close the returned fd) after the image is
 * recorded in the metadata database.  Leases are shared among writers;
 * prune waits for all of them.  Returns an fd or -errno.
 */
int cove_store_lease(struct cove_store *s, struct cove_error *err);
/* The exclusive side, used by prune (blocks until leases end). */
int cove_store_lock_exclusive(struct cove_store *s, struct cove_error *err);
