#pragma once
/*
 * The container's file system view: mounts, devices, pivot_root, masked and
 * read-only paths.  Runs inside the container's mount namespace, in the init
 * process, before and after pivot_root.
 *
 * Every path inside the rootfs is resolved relative to the rootfs directory
 * fd with openat2(RESOLVE_IN_ROOT): a symlink in the image can never make a
 * mount, a mkdir or a mknod land outside the rootfs (CVE-2021-30465 class).
 * Mounts are then made onto /proc/self/fd/N of the resolved O_PATH fd, so the
 * path is never re-resolved between the check and the use.
 */
#include <stdbool.h>

#include "runtime/cgroup.h"
#include "runtime/spec.h"
#include "util/error.h"

struct cove_rootfs_opts {
	bool userns; /* in a new user namespace: bind devices, keep locked flags
		      */
	bool no_pivot; /* --no-pivot: MS_MOVE + chroot instead of pivot_root */
	const char *cgroup_path; /* for mounts of type "cgroup" */
	enum cove_cgroup_mode cgroup_mode;
	bool cgroupns; /* a new cgroup namespace */
	/*
	 * cgroup_path is where the init will be (not a rootless best effort
	 * that may end up elsewhere): cgroup mounts can bind it as soon as the
	 * directories exist, without waiting for the migration.
	 */
	bool cgroup_path_known;
	/*
	 * Called before the first mount of type "cgroup": the init sets up
	 * its mounts while the runtime creates and joins its cgroup, and waits
	 * here only for what the mount needs.  May be NULL.
	 */
	int (*before_cgroup)(void *data, struct cove_error *err);
	void *before_cgroup_data;
	/*
	 * Per mount (index as spec->mounts), a detached idmapped mount made by
	 * cove_rootfs_open_idmapped() in the runtime, or -1.
	 */
	int *idmap_fds;
};

/*
 * In the runtime, before the init exists: for every mount with "idmap",
 * clone the source tree (open_tree) and idmap it (mount_setattr) with the
 * mount's mappings, or the container's when it has none.  The init inherits
 * the fds and attaches them with move_mount().  *ret has spec->n_mounts
 * entries (-1 where there is nothing); NULL when no mount is idmapped.
 */
int cove_rootfs_open_idmapped(const struct cove_spec *spec, int **ret,
			      struct cove_error *err);
void cove_rootfs_close_idmapped(int *fds, size_t n);

/* Before pivot_root: propagation, the rootfs bind, all mounts, devices. */
int cove_rootfs_prepare(const struct cove_spec *spec,
			const struct cove_rootfs_opts *o,
			struct cove_error *err);

/* pivot_root into spec->root_path and detach the old root. */
int cove_rootfs_pivot(const struct cove_spec *spec,
		      const struct cove_rootfs_opts *o, struct cove_error *err);

/* After pivot_root: sysctl, masked/readonly paths, read-only root. */
int cove_rootfs_finalize(const struct cove_spec *spec,
			 const struct cove_rootfs_opts *o,
			 struct cove_error *err);

/*
 * Open @path inside the directory @rootfd as if @rootfd were "/" (symlinks
 * and ".." cannot leave it).  With @create, missing parents are created as
 * directories and the last component as a directory (@dir) or an empty file.
 * Returns an O_PATH fd or -errno.
 */
int cove_open_in_root(int rootfd, const char *path, bool create, bool dir);
