#pragma once
/*
 * Image -> OCI runtime bundle: an image config (application/vnd.oci.image.
 * config.v1+json, or docker's equivalent) plus a root file system become a
 * runtime-spec 1.2 config.json, following the image-spec's conversion rules
 * (conversion.md) and wrapping the process in the secure default profile
 * that docker and podman use: docker's default capability set, a default
 * seccomp allowlist, masked and read-only /proc and /sys paths, no new
 * privileges, its own namespaces, and rlimits within the caller's.
 *
 * Nothing here knows the runtime: the result is plain JSON that any OCI
 * runtime accepts.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/layer.h"
#include "util/error.h"

/*
 * Read @path ("etc/passwd", "etc/group") of the rootfs @rootfs_fd,
 * resolved inside it, a regular file of at most 4 MiB only: an image's
 * file may be a symlink anywhere, a fifo or a device.  -ENOENT when
 * absent.
 */
int cove_image_read_etc(int rootfs_fd, const char *path, char **ret);

/* A process user resolved inside the image. */
struct cove_image_user {
	uint32_t uid;
	uint32_t gid;
	uint32_t *additional_gids;
	size_t n_additional_gids;
	char *home; /* from /etc/passwd; NULL when the user has no entry */
};

/*
 * Resolve Config.User @spec ("", "name", "uid", "name:group", "uid:gid",
 * "name:gid", "uid:group") with /etc/passwd and /etc/group of the rootfs
 * @rootfs_fd, read with openat2(RESOLVE_IN_ROOT) so that symlinks in the
 * image cannot point the lookup at host files (and only regular files are
 * read).  "" is root.  A user or group given by name that does not exist
 * is -ENOENT.  Supplementary groups (the groups of /etc/group that list the
 * user) are added only for a user given by name without a group, as the
 * image-spec says.  @rootfs_fd may be -1 when @spec is numeric.
 */
int cove_image_user_resolve(int rootfs_fd, const char *spec,
			    struct cove_image_user *ret,
			    struct cove_error *err);
void cove_image_user_release(struct cove_image_user *u);

struct cove_bundle_opts {
	/* root.path written to config.json; NULL: "rootfs" */
	const char *rootfs;
	/*
	 * Non-NULL: replaces Config.Entrypoint (an empty vector clears it),
	 * and Config.Cmd is dropped unless @cmd is given, as docker's
	 * --entrypoint does.
	 */
	char *const *entrypoint;
	/* Non-NULL: replaces Config.Cmd. */
	char *const *cmd;
	/* "KEY=VALUE" entries set over the image's Env. */
	char *const *env;
	/* Replace Config.User / Config.WorkingDir when non-NULL. */
	const char *user;
	const char *workdir;
	/* NULL: "cove" */
	const char *hostname;
	/* "KEY=VALUE" annotations, over those derived from the image. */
	char *const *annotations;
	/* Capability names ("CAP_NET_ADMIN" or "NET_ADMIN", or "ALL"). */
	char *const *cap_add;
	char *const *cap_drop;
	bool terminal;
	bool read_only;	   /* root.readonly */
	bool no_seccomp;   /* leave linux.seccomp out (unconfined) */
	bool host_network; /* no network namespace */
	/*
	 * Rootless: a user namespace with these maps (default: container
	 * root is the calling user, size 1), /sys bound rather than mounted,
	 * no device cgroup rules.
	 */
	bool rootless;
	const struct cove_idmap_range *uid_map;
	size_t uid_map_len;
	const struct cove_idmap_range *gid_map;
	size_t gid_map_len;
	/* linux.cgroupsPath; NULL: left to the runtime */
	const char *cgroups_path;
};

/*
 * Build config.json from @image_config (the whole image config document)
 * and the rootfs @rootfs_fd (for user resolution; -1 if Config.User and
 * o->user are numeric or empty).  Errors name the image config field
 * ("invalid 'config.Env[2]': ...").  *ret is owned by the caller.
 */
int cove_bundle_spec(const json_t *image_config, int rootfs_fd,
		     const struct cove_bundle_opts *o, json_t **ret,
		     struct cove_error *err);

/* Write @spec as <bundle_dir>/config.json, atomically (fsync + rename). */
int cove_bundle_write(const char *bundle_dir, const json_t *spec,
		      struct cove_error *err);

/*
 * Both: the bundle directory @bundle_dir (created if missing) gets a
 * config.json whose root.path is o->rootfs, or "rootfs" (then
 * <bundle_dir>/rootfs must exist).  The rootfs is opened to resolve the
 * user: o->rootfs relative to @bundle_dir, or absolute.
 */
int cove_bundle_create(const json_t *image_config, const char *bundle_dir,
		       const struct cove_bundle_opts *o,
		       struct cove_error *err);

/* docker's default capability set, NULL-terminated. */
extern const char *const cove_bundle_default_caps[];

/*
 * The default seccomp profile (linux.seccomp) for a process whose bounding
 * set is @caps (NULL-terminated names): an allowlist, EPERM for the rest,
 * ENOSYS for syscalls that callers probe and fall back from (clone3,
 * io_uring); privileged syscalls are allowed only with the capability that
 * the kernel checks for them anyway.  NULL on ENOMEM.
 */
json_t *cove_bundle_default_seccomp(char *const *caps);
