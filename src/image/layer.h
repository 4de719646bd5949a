#pragma once
/*
 * Layer application: one OCI image layer (a tar changeset, uncompressed,
 * gzip or zstd) streamed into a directory, with the whiteouts of the
 * image-spec, while the diff_id (sha256 of the uncompressed tar) is computed
 * so that the caller can check it against the image config's
 * rootfs.diff_ids.
 *
 * Layers come from strangers.  Nothing is ever written outside the target
 * directory: every parent directory is resolved inside it (openat2 with
 * RESOLVE_IN_ROOT, so a symlink - one from the layer or one already in the
 * target - is followed as if the target were "/", never beyond it); paths
 * with a ".." component are refused, absolute paths are taken relative to
 * the target, as docker does; hard link targets are resolved without
 * following any symlink; a file is always created anew (the old name is
 * unlinked first), so data is never written through an existing link.
 *
 * Nothing is fsync'ed: the caller syncs the finished tree once (syncfs).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* One range of an id map: container ids [container, container+size) */
struct cove_idmap_range {
	uint32_t container_id;
	uint32_t host_id;
	uint32_t size;
};

enum cove_layer_compression {
	COVE_LAYER_UNCOMPRESSED,
	COVE_LAYER_GZIP,
	COVE_LAYER_ZSTD,
};

struct cove_layer_opts {
	/* Names the layer in error messages (its digest); may be NULL. */
	const char *name;
	/*
	 * Overlay mode: the target is one layer's diff directory of an
	 * overlay stack.  ".wh.NAME" becomes a whiteout (char device 0:0)
	 * and ".wh..wh..opq" the opaque xattr on its directory.  Otherwise
	 * (flattened mode) whiteouts delete from the target what lower layers
	 * put there.
	 */
	bool overlay_whiteouts;
	/*
	 * Overlay mode: the diff directories of the layers below, newest
	 * first (borrowed).  A parent directory the layer implies but does
	 * not list takes mode, owner and xattrs from the first of them that
	 * has it (else root 0755), and a hard link to a file that only a
	 * lower layer has copies that file up first, as overlayfs would;
	 * otherwise the new layer would hide what is below.  Paths in them
	 * are resolved without following any symlink.
	 */
	const int *lower_dirfds;
	size_t n_lower;
	/* Overlay mode in a user namespace: user.overlay.* xattrs. */
	bool userxattr;
	/*
	 * Device nodes are created only by root outside a user namespace.
	 * Otherwise a layer that has one fails, or with this flag the node is
	 * skipped and counted in stats.skipped_devices.
	 */
	bool skip_devices;
	/* Leave ownership alone (an unprivileged user without id maps). */
	bool no_chown;
	/*
	 * Ownership in the layer is container ids; these map them to the ids
	 * written to disk (rootless).  An id outside every range is an error.
	 * Empty maps: identity.
	 */
	const struct cove_idmap_range *uid_map;
	size_t uid_map_len;
	const struct cove_idmap_range *gid_map;
	size_t gid_map_len;
	/* Most entries accepted (0: COVE_LAYER_MAX_ENTRIES). */
	uint64_t max_entries;
	/*
	 * Most bytes of uncompressed tar accepted (0: no limit): a bound on
	 * what a decompression bomb can write.  -EFBIG beyond.
	 */
	uint64_t max_size;
};

#define COVE_LAYER_MAX_ENTRIES (UINT64_C(4) << 20)
#define COVE_LAYER_DIFF_ID_MAX 72 /* "sha256:" + 64 hex + NUL */

struct cove_layer_stats {
	char diff_id[COVE_LAYER_DIFF_ID_MAX];	 /* "sha256:<hex>" */
	enum cove_layer_compression compression; /* detected from the bytes */
	uint64_t compressed_size;		 /* bytes read from blob_fd */
	uint64_t uncompressed_size;		 /* bytes of the tar stream */
	uint64_t entries;			 /* tar entries processed */
	uint64_t whiteouts;	  /* .wh.* and opaque markers applied */
	uint64_t skipped_devices; /* with skip_devices */
	uint64_t skipped_xattrs;  /* unsupported or not permitted here */
	uint64_t skipped_other;	  /* sockets, aufs metadata */
};

/*
 * Classify a layer media type: OCI (tar, tar+gzip, tar+zstd, and their
 * nondistributable variants) or docker (rootfs.diff.tar.gzip and the
 * foreign variant).  NULL means "unknown, detect from the bytes" and is
 * accepted as such.  Returns 0, or -EPROTONOSUPPORT (e.g. an encrypted
 * layer) with @err naming the media type.
 */
int cove_layer_media_type(const char *media_type,
			  enum cove_layer_compression *ret,
			  struct cove_error *err);

/*
 * Apply the layer read from @blob_fd (from its current offset; not closed)
 * onto the directory @target_dirfd.  The compression is detected from the
 * magic bytes (gzip, zstd or none); a media type that names another
 * compression is an error.  On success *ret (may be NULL) holds the diff_id
 * and counters.  On failure the target holds a partial layer (the caller
 * discards it) and @err names the layer (o->name) and the entry.
 * @o may be NULL for defaults.
 */
int cove_layer_apply(int blob_fd, const char *media_type, int target_dirfd,
		     const struct cove_layer_opts *o,
		     struct cove_layer_stats *ret, struct cove_error *err);

/*
 * Map @id through @map (identity when @len is 0).  -EOVERFLOW when @id is
 * outside every range.
 */
int cove_idmap_range_map(const struct cove_idmap_range *map, size_t len,
			 uint32_t id, uint32_t *ret);

/* True when the calling process is in a user namespace other than init's. */
bool cove_in_user_namespace(void);
