#pragma once
/*
 * Snapshots: image layers unpacked once each, keyed by chain id, and
 * container root file systems made from them.
 *
 * Two drivers, one layout under @root:
 *
 *   overlay  <root>/overlay/<chain hex>/diff      one layer, overlay format
 *                                                  (whiteouts are 0:0 char
 *                                                  devices, opaque dirs an
 *                                                  xattr)
 *            <root>/overlay-containers/<id>/{upper,work,merged}
 *                      merged = overlayfs of upper over the layer diffs,
 *                      newest first
 *   vfs      <root>/vfs/<chain hex>/diff           the whole chain,
 *                                                  flattened (copied from
 *                                                  the parent, then the layer
 *                                                  applied)
 *            <root>/vfs-containers/<id>/rootfs     a copy of the top one
 *
 * Each snapshot directory also holds "parent" (the parent chain id, empty
 * for a base layer) and "diff-id".  A layer is unpacked into
 * <root>/<driver>/tmp-*, its diff_id checked, the file system synced once,
 * and only then renamed into place: a directory named by a chain id is
 * always complete.  Temporaries left by a crash are removed by the next
 * prepare (under an exclusive lock on <root>/<driver>/.lock, while every
 * prepare holds it shared).
 *
 * Rootless: the caller runs in a user namespace (and a mount namespace for
 * mount()); @rootless makes overlay use user.overlay.* xattrs ("userxattr")
 * and skips device nodes, and the id maps turn layer ownership into the ids
 * of that namespace.  A namespace with a single id sets @squash_ids: every
 * file is then owned by the caller (container root).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/layer.h"
#include "util/error.h"

#define COVE_CHAIN_ID_MAX COVE_LAYER_DIFF_ID_MAX

struct cove_snapshot_opts {
	/* "overlay", "vfs", or NULL/"auto": overlay when the kernel has it */
	const char *driver;
	bool rootless;
	/* Leave layer ownership alone: every file is the caller's. */
	bool squash_ids;
	const struct cove_idmap_range *uid_map;
	size_t uid_map_len;
	const struct cove_idmap_range *gid_map;
	size_t gid_map_len;
};

struct cove_snapshotter;

/* Open (creating the directories) the snapshots under @root. */
int cove_snapshotter_open(const char *root, const struct cove_snapshot_opts *o,
			  struct cove_snapshotter **ret,
			  struct cove_error *err);
void cove_snapshotter_free(struct cove_snapshotter *s);
/* "overlay" or "vfs". */
const char *cove_snapshotter_driver(const struct cove_snapshotter *s);

/*
 * Chain id of a layer (image-spec): the diff_id for a base layer (@parent
 * NULL), else "sha256:" + sha256(parent + " " + diff_id).  @ret holds
 * COVE_CHAIN_ID_MAX bytes.  -EINVAL with @err when a digest is malformed.
 */
int cove_chain_id(const char *parent, const char *diff_id, char *ret,
		  struct cove_error *err);

/* One layer of an image, as prepare needs it. */
struct cove_snapshot_layer {
	const char *diff_id;	/* from the config's rootfs.diff_ids */
	const char *media_type; /* of the blob; NULL: detect */
	const char *name;	/* for messages: the blob digest */
	const char *blob_path;	/* the (compressed) blob, or NULL and: */
	int blob_fd;		/* read from its current offset; borrowed */
};

/*
 * Make sure a snapshot exists for every layer of @layers (base first),
 * unpacking (and verifying against its diff_id) each missing one.  The top
 * chain id goes to @ret_chain_id (COVE_CHAIN_ID_MAX bytes, may be NULL),
 * the number of layers actually unpacked to @ret_unpacked (may be NULL).
 * A diff_id mismatch is -EBADMSG naming the layer.
 */
int cove_snapshot_prepare(struct cove_snapshotter *s,
			  const struct cove_snapshot_layer *layers, size_t n,
			  char *ret_chain_id, size_t *ret_unpacked,
			  struct cove_error *err);

bool cove_snapshot_exists(struct cove_snapshotter *s, const char *chain_id);
/* The snapshot's diff directory (see above); caller frees; NULL on ENOMEM. */
char *cove_snapshot_path(struct cove_snapshotter *s, const char *chain_id);

/*
 * The root file system of container @id on snapshot @chain_id (NULL or ""
 * for an empty image): overlay mounts it (again, if it was unmounted; the
 * upper dir keeps the container's changes), vfs copies it once.  *ret_path
 * (caller frees) is the directory to use as the bundle's root.path.
 * Calling it for a mounted container returns the same path.
 */
int cove_snapshot_mount(struct cove_snapshotter *s, const char *id,
			const char *chain_id, char **ret_path,
			struct cove_error *err);
/*
 * Copy the root file system of snapshot @chain_id (NULL or "": an empty
 * image) into the empty directory @target_dirfd, keeping owners, modes,
 * xattrs, times and hard links: vfs copies the flattened snapshot, overlay
 * reads the layers through a read-only overlay that is never attached to a
 * path (a detached mount, gone when its fd is closed).  For a root file
 * system that must outlive the caller's mount namespace (rootless).
 */
int cove_snapshot_copy(struct cove_snapshotter *s, const char *chain_id,
		       int target_dirfd, struct cove_error *err);

/*
 * As cove_snapshot_mount() for a container in a user namespace of its
 * own: the layers are mounted through idmapped mounts made with
 * @userns_fd (a user namespace with the container's mapping), attached at
 * <root>/overlay-containers/<id>/lower-N, and the upper dir belongs to the
 * mapped root, so the container sees the image's owners.  Overlay only:
 * -ENOTSUP for vfs (the caller shifts a vfs copy itself).  The mapping
 * must be the same at every mount.
 */
int cove_snapshot_mount_idmapped(struct cove_snapshotter *s, const char *id,
				 const char *chain_id, int userns_fd,
				 char **ret_path, struct cove_error *err);

/* Unmount container @id's rootfs (overlay); no-op when not mounted. */
int cove_snapshot_unmount(struct cove_snapshotter *s, const char *id,
			  struct cove_error *err);
/* Unmount and delete container @id's rootfs and its changes. */
int cove_snapshot_remove_container(struct cove_snapshotter *s, const char *id,
				   struct cove_error *err);

/*
 * Delete snapshot @chain_id.  -EBUSY when another snapshot has it as parent
 * (overlay stacks need it) or a container uses it; remove top-down.
 */
int cove_snapshot_remove(struct cove_snapshotter *s, const char *chain_id,
			 struct cove_error *err);

struct cove_snapshot_info {
	char chain_id[COVE_CHAIN_ID_MAX];
	char parent[COVE_CHAIN_ID_MAX]; /* "" for a base layer */
	char diff_id[COVE_CHAIN_ID_MAX];
};

/* Every committed snapshot, for garbage collection; *ret owned by caller. */
int cove_snapshot_list(struct cove_snapshotter *s,
		       struct cove_snapshot_info **ret, size_t *ret_n,
		       struct cove_error *err);

struct cove_snapshot_container {
	char id[129];
	char chain_id[COVE_CHAIN_ID_MAX]; /* "" for an empty image */
};

/* Every container rootfs, for garbage collection; *ret owned by caller. */
int cove_snapshot_list_containers(struct cove_snapshotter *s,
				  struct cove_snapshot_container **ret,
				  size_t *ret_n, struct cove_error *err);
