#pragma once
/*
 * Shared by the files of layer application (layer.c: reading the tar and
 * applying entries; layer-lower.c: what the lower layers of an overlay
 * snapshot already have, and copy-up from them).  Not part of libcove's
 * API.
 */
#include <linux/openat2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "image/layer.h"
#include "util/error.h"

/*
 * The paths this layer has created, each with all its ancestors.  The
 * image-spec says a whiteout hides only what lower layers put there, never
 * an entry of its own layer, whatever the order of the two in the tar; this
 * set tells the two apart.
 */
struct pathset {
	char **keys;
	size_t cap; /* power of two */
	size_t n;
};

struct stream;

/* Directory metadata applied after the last entry (see finish_dirs()). */
struct dir_fixup {
	char *path;
	struct timespec times[2];
	mode_t mode;
	bool set_mode;
};

struct layer_ctx {
	const struct cove_layer_opts *o;
	const char *name; /* of the layer, for messages */
	int root_fd;
	bool root; /* euid 0: setuid bits kept, DAC checks bypassed */
	bool can_mknod;
	bool have_openat2;
	uint64_t max_entries;
	struct cove_layer_stats st;
	struct pathset touched;
	struct dir_fixup *dirs;
	size_t n_dirs, cap_dirs;
	/* The last parent directory resolved: tar entries come grouped. */
	char *cache_path;
	int cache_fd;
	/*
	 * Something was removed: the cached path may resolve differently
	 * now.  Dropped at the next lookup, not at once, because the entry
	 * being applied still uses the fd it was given.
	 */
	bool cache_stale;
	char shown[256]; /* the current entry's path, printable */
	const struct stream *stream;
	struct cove_error *err;
};

/* "layer NAME: 'PATH': MSG[: strerror]" */
int layer_entry_fail(struct layer_ctx *c, int code, bool with_errno,
		     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * @path resolved inside the target (openat2 RESOLVE_IN_ROOT; layer.c has
 * the details), as an O_PATH directory fd.
 */
int layer_open_in_root(struct layer_ctx *c, const char *path, bool nosymlinks,
		       int *ret);

/*
 * openat2(@dfd, @path, @how), tried again while the kernel says EAGAIN
 * (a rename raced the lookup) or EINTR, at most 16 times: the fd, or
 * -errno (-ENOSYS before Linux 5.6).
 */
int layer_openat2(int dfd, const char *path, struct open_how *how);

/* Make the missing directories of @path, as a layer that omits them. */
int layer_make_dirs(struct layer_ctx *c, const char *path, int *ret);

/* overlayfs's own xattrs (trusted.overlay.*, user.overlay.*) */
bool layer_overlay_xattr(const char *name);

/* layer-lower.c */

/*
 * What the merged view of the lower layers has at @path, when it is of
 * type @type (S_IFDIR or S_IFREG; 0: anything but a directory): its
 * O_PATH fd and stat.  -ENOENT when there is none, it is whited out,
 * hidden by an opaque directory, or of another type.
 */
int layer_find_lower(struct layer_ctx *c, const char *path, mode_t type,
		     int *ret_fd, struct stat *ret_st);

/*
 * Owner, mode and xattrs of @lower (O_PATH, stat @lst) onto the new @fd,
 * in that order: chown clears setuid bits and file capabilities.
 */
int layer_copy_lower_meta(struct layer_ctx *c, int lower,
			  const struct stat *lst, int fd, const char *path);

/*
 * Copy-up of @path, which only a lower layer has, into this layer (see
 * layer-lower.c); *@tfd the directory @tparent that now holds @tname.
 */
int layer_copy_up(struct layer_ctx *c, const char *path, const char *tparent,
		  const char *tname, int *tfd);
