#pragma once
/*
 * Moving images between a registry and the local store, and the steps that
 * every way into the store shares (pull, load, build):
 *
 *   pull   reference -> registry client -> manifest (an index is resolved
 *          to the entry for the wanted platform) -> config and layers
 *          streamed into the store (blobs already there are skipped;
 *          layers three at a time, each thread with a client of its
 *          own) ->
 *          the image committed: config and layers checked against the
 *          manifest, layers optionally unpacked into snapshots with their
 *          diff_ids verified, and only then recorded in the metadata
 *          database.  A failure at any step records nothing; blobs already
 *          fetched stay in the store (a retry does not fetch them again)
 *          until garbage collection.
 *   push   store -> registry: blobs the registry lacks are uploaded (HEAD
 *          first), then the manifest is PUT under a tag or its digest.
 *
 * Registry access follows containers-registries.conf(5): TLS is verified
 * unless the caller turns it off or the registry is marked insecure there,
 * and blocked registries are refused.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/images.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "image/registry.h"
#include "image/snapshot.h"
#include "image/store.h"
#include "util/error.h"

enum cove_tls_verify {
	COVE_TLS_VERIFY_DEFAULT, /* on, unless registries.conf says insecure */
	COVE_TLS_VERIFY_ON,	 /* on, whatever registries.conf says */
	COVE_TLS_VERIFY_OFF,	 /* unverified TLS, then plain HTTP */
};

/* How to reach a registry; zero-initialised is the default. */
struct cove_remote_opts {
	enum cove_tls_verify tls_verify;
	const char *authfile; /* auth.h search list when NULL */
	const char *username; /* explicit credentials (--creds) */
	const char *password;
	const char *ca_file;	     /* extra trusted CAs (PEM) */
	const char *certs_dir;	     /* per-registry CA dirs; NULL: certs.d */
	const char *registries_conf; /* NULL: the system configuration */
	cove_registry_progress_fn progress; /* per blob, may be NULL */
	void *progress_data;
};

/*
 * A client for @registry (@repository, may be NULL, narrows the
 * registries.conf lookup), with the insecure decision made as above.
 * -EACCES when registries.conf blocks the registry and @for_pull.
 */
int cove_remote_client(const char *registry, const char *repository,
		       const struct cove_remote_opts *o, bool for_pull,
		       struct cove_registry_client **ret,
		       struct cove_error *err);

/* An image of the store, with its documents parsed. */
struct cove_image {
	struct cove_image_record rec;
	struct cove_manifest *manifest;
	struct cove_image_config *config;
	char *manifest_data; /* the exact bytes of the manifest */
	size_t manifest_len;
	json_t *config_json; /* the whole config document */
};

/*
 * Find @name_or_id (cove_images_lookup rules) and read its manifest and
 * config from the store, verified against their digests.  Release with
 * cove_image_release().
 */
int cove_image_open(struct cove_store *s, struct cove_images *db,
		    const char *name_or_id, struct cove_image *ret,
		    struct cove_error *err);
/* As cove_image_open() for a record already looked up (copied). */
int cove_image_open_record(struct cove_store *s,
			   const struct cove_image_record *rec,
			   struct cove_image *ret, struct cove_error *err);
void cove_image_release(struct cove_image *img);

/*
 * The snapshot layers of @img (blob paths in @s, the config's diff_ids),
 * and the chain id of the top layer ("" for an image without layers;
 * COVE_CHAIN_ID_MAX bytes).  *ret_layers is freed by the caller (the
 * strings point into @img and a single allocation with it).
 */
int cove_image_layers(struct cove_store *s, const struct cove_image *img,
		      struct cove_snapshot_layer **ret_layers, size_t *ret_n,
		      char *ret_chain_id, struct cove_error *err);

/*
 * Unpack every layer of @img into @snap (those not already there),
 * verifying each against its diff_id.  The top chain id goes to
 * @ret_chain_id (may be NULL).
 */
int cove_image_unpack(struct cove_store *s, struct cove_snapshotter *snap,
		      const struct cove_image *img, char *ret_chain_id,
		      struct cove_error *err);

/*
 * Commit an image whose blobs are in the store: the manifest
 * @manifest_digest (an image manifest, not an index), its config and its
 * layers must all be present with the sizes the manifest gives, the
 * config must list one diff_id per layer, layers with an uncompressed
 * media type must have their diff_id as digest; with @snap the layers are
 * unpacked (and verified) first.  Then the image is recorded with @names
 * (NULL-terminated, may be NULL) in one transaction.  @index_digest is
 * the index it was chosen from (NULL or "" if none).  *ret (may be NULL)
 * gets the record; release with cove_image_record_release().
 */
int cove_image_commit(struct cove_store *s, struct cove_images *db,
		      struct cove_snapshotter *snap,
		      const char *manifest_digest, const char *index_digest,
		      const char *const *names, struct cove_image_record *ret,
		      struct cove_error *err);

struct cove_pull_opts {
	struct cove_remote_opts remote;
	/* "os/arch[/variant]"; NULL: the host's */
	const char *platform;
	/* Unpack the layers at pull time (verifying diff_ids); may be NULL. */
	struct cove_snapshotter *unpack;
};

/*
 * Pull @reference ("busybox", "127.0.0.1:5000/a/b:tag", "x@sha256:...")
 * into @s and record it in @db under its normalised name (the pinned name
 * when pulled by digest).  *ret (may be NULL) gets the record.
 */
int cove_image_pull(struct cove_store *s, struct cove_images *db,
		    const char *reference, const struct cove_pull_opts *o,
		    struct cove_image_record *ret, struct cove_error *err);

/*
 * Push local image @source (name or id) to @dest ("registry/repo:tag",
 * "registry/repo@sha256:..."; an optional "docker://" prefix is
 * dropped), or with @dest NULL to the name @source gives.  The manifest is
 * pushed byte for byte, so its digest stays the same; a destination
 * pinned by digest must name that digest.  @ret_digest (may be NULL,
 * COVE_DIGEST_MAX bytes) gets the manifest digest.
 */
int cove_image_push(struct cove_store *s, struct cove_images *db,
		    const char *source, const char *dest,
		    const struct cove_remote_opts *o, char *ret_digest,
		    struct cove_error *err);

/*
 * Remove every snapshot of @snap that no image of @db (and no container
 * rootfs of @snap) needs.  The number removed goes to @ret_removed (may be
 * NULL).
 */
int cove_snapshot_gc(struct cove_store *s, struct cove_images *db,
		     struct cove_snapshotter *snap, size_t *ret_removed,
		     struct cove_error *err);

/*
 * A root file system of @img at @target (an existing, empty directory):
 *   - with @snap (overlay driver): the layers are unpacked into snapshots
 *     if needed and an overlay of them is mounted on @target, with the
 *     changes going to @upper and @work (created when missing; same file
 *     system as each other);
 *   - without: every layer is applied, in order and flattened, into
 *     @target itself (a private copy), each checked against its diff_id.
 * Undo an overlay with umount(@target).
 */
int cove_image_rootfs(struct cove_store *s, struct cove_snapshotter *snap,
		      const struct cove_image *img, const char *target,
		      const char *upper, const char *work,
		      struct cove_error *err);
