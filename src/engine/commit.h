#pragma once
/*
 * A container's file system as the world outside it sees it:
 *
 *   diff.c    its changes against its image (`cove diff`), walked once for
 *             both diff and commit: on overlay the container's upper dir
 *             (<root>/overlay-containers/<id>/upper) against the image's
 *             layers, on vfs (and for a private shifted copy, --userns)
 *             the container's copy against the image's snapshot, entry by
 *             entry;
 *   export.c  the whole root file system as a tar (`cove export`), and the
 *             tar writer that commit shares;
 *   commit.c  a new image: the container's image plus one layer of its
 *             changes (`cove commit`).
 *
 * SECURITY: every tree is the container's and may hold symlinks that
 * point anywhere.  The walks go by directory fds with O_NOFOLLOW from a
 * root opened once; a symlink is archived as a symlink and never followed,
 * a regular file is opened with O_NOFOLLOW relative to its directory, so
 * nothing outside the container's tree is ever read.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "engine/engine.h"
#include "image/digest.h"
#include "util/error.h"

enum cove_change_kind {
	COVE_CHANGE_CHANGED = 'C',
	COVE_CHANGE_ADDED = 'A',
	COVE_CHANGE_DELETED = 'D',
};

/* One entry of the change set, as the walk reports it. */
struct cove_diff_entry {
	const char *path; /* "/etc/passwd" */
	enum cove_change_kind kind;
	/*
	 * The entry in the container's tree: @name in the directory @dirfd,
	 * with its lstat (owners as the container sees them).  -1 and NULL
	 * for a deleted entry.
	 */
	int dirfd;
	const char *name;
	const struct stat *st;
	/*
	 * A directory whose content in the image is gone (overlay's opaque
	 * directory: removed and made again).  Reported as deleted, as
	 * podman does; it exists, with what is listed under it, and a layer
	 * marks it with ".wh..wh..opq".
	 */
	bool opaque;
};

/* Called for every change, parents before their children; < 0 stops. */
typedef int (*cove_diff_fn)(const struct cove_diff_entry *ent, void *data);

/*
 * Walk the changes of container @c against its image (unordered, but a
 * directory always comes before what is under it, and every directory
 * above a change is reported, as changed, when nothing else is).
 */
int cove_engine_diff_walk(struct cove_engine *e, struct cove_ctr *c,
			  cove_diff_fn fn, void *data, struct cove_error *err);

struct cove_change {
	char *path;
	enum cove_change_kind kind;
};

/*
 * @st's owners, ids of cove's namespace, as container @maps sees them
 * (its nobody when unmapped); unchanged when @maps has no uid map.
 */
struct cove_userns_maps;
void cove_diff_map_owner(const struct cove_userns_maps *maps, struct stat *st);

/*
 * Open (and mount when needed) @c's root file system as the container
 * sees it: *ret_fd a directory fd, *ret_maps the maps its owners go
 * through (caller frees), *ret_unmount true when the caller must call
 * cove_snapshot_unmount() when done.
 */
int cove_engine_open_rootfs(struct cove_engine *e, struct cove_ctr *c,
			    int *ret_fd, struct cove_userns_maps **ret_maps,
			    bool *ret_unmount, struct cove_error *err);

/* The changes of @c sorted by path, as `cove diff` prints them. */
int cove_engine_diff(struct cove_engine *e, struct cove_ctr *c,
		     struct cove_change **ret, size_t *ret_n,
		     struct cove_error *err);
void cove_changes_free(struct cove_change *v, size_t n);

/*
 * Write container @c's whole root file system (running or not; mounted
 * for the time of the call when needed) to @fd as an uncompressed tar:
 * owners (as the container sees them), modes, times, symlinks, hard
 * links, device nodes, fifos and the xattrs of files and directories.
 * Sockets are left out.
 */
int cove_engine_export(struct cove_engine *e, struct cove_ctr *c, int fd,
		       struct cove_error *err);

/*
 * The tar writer of export and commit (export.c), on @a (a libarchive
 * write handle the caller opened; borrowed).  Entries keep the owners
 * their struct stat gives.
 */
struct archive;
struct cove_tarw;
int cove_tarw_new(struct archive *a, struct cove_tarw **ret);
void cove_tarw_free(struct cove_tarw *w);
/*
 * Archive @name of @dirfd (@st: its lstat) as @path (relative, "etc/passwd"): a
 * regular file's data read through O_NOFOLLOW, a symlink as a symlink.
 */
int cove_tarw_add(struct cove_tarw *w, int dirfd, const char *name,
		  const char *path, const struct stat *st,
		  struct cove_error *err);
/* An empty regular file @path (a whiteout marker), root-owned. */
int cove_tarw_add_marker(struct cove_tarw *w, const char *path,
			 struct cove_error *err);

struct cove_commit_opts {
	const char *author;  /* -a; NULL: none */
	const char *message; /* -m: the history entry's comment */
	/* -c instructions ("CMD [\"sh\"]", "ENV A=b"), NULL-terminated */
	char *const *changes;
	bool pause; /* freeze a running container meanwhile */
	/* IMAGE[:TAG]; "localhost/" is added without a registry; NULL: none */
	const char *name;
};

/*
 * Make an image of container @c: its image's config (with the
 * container's command, entrypoint, environment, user, working directory,
 * labels and exposed ports, then @o->changes applied), history and
 * layers plus one new gzip layer of its changes (cove_engine_diff_walk:
 * ".wh.NAME" for what was deleted), as an OCI manifest.  The blobs are
 * stored first; the image is recorded last, in one transaction, after its
 * layers were unpacked and verified: a failure leaves no image.  The new
 * id (the config digest) goes to @ret_id (COVE_DIGEST_MAX bytes).
 */
int cove_engine_commit(struct cove_engine *e, struct cove_ctr *c,
		       const struct cove_commit_opts *o, char *ret_id,
		       struct cove_error *err);

/*
 * Apply one --change instruction to an image config's "config" object
 * @cfg: CMD, ENTRYPOINT (JSON array or shell form, which becomes
 * ["/bin/sh","-c",...]), ENV K=V..., LABEL K=V..., EXPOSE P[/proto]...,
 * WORKDIR, USER, STOPSIGNAL, VOLUME (JSON array or paths).  The word and
 * its argument are separated by blanks or '=' (podman's "CMD=/bin/sh").
 * -EINVAL with @err naming the instruction.
 */
int cove_commit_change_apply(json_t *cfg, const char *change,
			     struct cove_error *err);
