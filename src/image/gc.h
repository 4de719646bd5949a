#pragma once
/*
 * Consistency checks and garbage collection of the content store.
 *
 * What is reachable: every image of the metadata database (image/images.h)
 * keeps its config, its manifest and, through the manifest, its layers;
 * an image chosen from an index keeps the index and every child manifest
 * of it that is in the store (with their configs and layers).  Layers an
 * index lists for platforms that were never pulled are simply absent;
 * only what a pulled image needs is "dangling" when missing.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/images.h"
#include "image/store.h"
#include "util/error.h"

struct cove_fsck_report {
	size_t blobs;	     /* blob files checked */
	char **corrupt;	     /* content differs from the name, or a bad name */
	char **dangling;     /* needed by an image but missing */
	char **invalid;	     /* needed manifests that no longer parse */
	size_t stale_ingest; /* abandoned ingest files removed */
	size_t removed;	     /* corrupt blobs removed (COVE_FSCK_REPAIR) */
};

enum cove_fsck_flags {
	/* Delete corrupt blobs, so that the next pull fetches them again. */
	COVE_FSCK_REPAIR = 1 << 0,
};

/*
 * Re-hash every blob; with @db (may be NULL) also walk every image and
 * report what it needs but the store lacks; remove stale ingest files.
 * Problems found are in the report, not errors: the return is -errno only
 * when the check itself could not run.  All vectors are NULL-terminated
 * (NULL when empty); release with cove_fsck_report_release().
 */
int cove_store_fsck(struct cove_store *s, struct cove_images *db,
		    unsigned flags, struct cove_fsck_report *ret,
		    struct cove_error *err);
void cove_fsck_report_release(struct cove_fsck_report *r);
/* No corrupt, dangling or invalid entries. */
bool cove_fsck_report_clean(const struct cove_fsck_report *r);

struct cove_prune_report {
	char **removed; /* digests, NULL-terminated; NULL when none */
	size_t n_removed;
	uint64_t bytes; /* freed */
};

enum cove_prune_flags {
	COVE_PRUNE_DRY_RUN = 1 << 0, /* report, delete nothing */
};

/*
 * Delete every blob that no image of @db reaches, nor any of
 * @extra_roots (NULL or NULL-terminated digests that other parts of cove
 * hold on to, such as a build cache; manifests among them are walked
 * too).  Waits for store leases (cove_store_lease) to end first.  Refuses
 * (-EBADMSG, deleting nothing) when a manifest an image needs cannot be
 * read or parsed: deleting on a partial view could destroy layers still
 * in use.
 */
int cove_store_prune(struct cove_store *s, struct cove_images *db,
		     const char *const *extra_roots, unsigned flags,
		     struct cove_prune_report *ret, struct cove_error *err);
void cove_prune_report_release(struct cove_prune_report *r);
