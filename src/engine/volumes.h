#pragma once
/*
 * Named volumes, podman-style: a directory <volumes dir>/<name>/_data that
 * containers mount, and a row of the engine database's `volumes` table:
 *
 *   volumes(name TEXT PRIMARY KEY, driver TEXT, mountpoint TEXT,
 *           created INTEGER (unix seconds), labels TEXT (JSON object),
 *           options TEXT (JSON object))
 *
 * Every function takes the engine's connection (db.h: WAL mode, busy
 * timeout set) and the volumes directory (<storage root>/volumes).  They
 * begin their own transactions, so they must not be called inside one.
 *
 * Crash safety.  The directory always exists before its row (create makes
 * it, then inserts the row in the same write transaction) and outlives it
 * (remove deletes the row, commits, then removes the directory).  A crash
 * leaves at most a directory without a row: create reuses it when its
 * _data is empty, prune removes it.  create, remove and prune of all
 * processes serialise on an flock of the volumes directory, so that no
 * process removes a directory that another is about to record.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "util/error.h"

/* podman's volume name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 255 */
#define COVE_VOLUME_NAME_MAX 255

struct cove_volume {
	char *name;
	char *driver;	  /* "local" */
	char *mountpoint; /* <volumes dir>/<name>/_data */
	int64_t created;  /* unix seconds */
	json_t *labels;	  /* object of strings, never NULL when filled */
	json_t *options;  /* object of strings, never NULL when filled */
};

void cove_volume_release(struct cove_volume *v);
/* Release @n volumes and free the array (NULL is fine). */
void cove_volumes_free(struct cove_volume *v, size_t n);

/* CREATE TABLE IF NOT EXISTS volumes (...).  0 or -errno. */
int cove_volumes_init_schema(sqlite3 *db, struct cove_error *err);

/* 0 when @name follows the rule above, else -EINVAL naming it. */
int cove_volume_name_validate(const char *name, struct cove_error *err);

struct cove_volume_create_opts {
	const char *name;   /* NULL: a random 64-hex-digit name */
	const char *driver; /* NULL or "local", the only driver */
	/*
	 * Objects of string values, borrowed (NULL: none).  Options are
	 * recorded and shown by inspect; the local driver interprets none.
	 */
	const json_t *labels;
	const json_t *options;
	/*
	 * An existing @name is not an error (podman's --ignore): *ret gets
	 * the existing volume, unchanged, and the call returns 0 instead of
	 * 1.  Without it an existing name is -EEXIST.
	 */
	bool ignore;
};

/*
 * Create a volume: <dir>/<name>/ (0700) and <dir>/<name>/_data (0755),
 * then the row.  Returns 1 when created (the volume to *ret, which may be
 * NULL), 0 when @o->ignore found it existing, -errno on failure.
 */
int cove_volume_create(sqlite3 *db, const char *volumes_dir,
		       const struct cove_volume_create_opts *o,
		       struct cove_volume *ret, struct cove_error *err);

/*
 * Look a volume up by its full name or by a prefix that only one volume
 * name starts with.  -ENOENT ("no such volume"), or -EINVAL when the
 * prefix is ambiguous.
 */
int cove_volume_lookup(sqlite3 *db, const char *name, struct cove_volume *ret,
		       struct cove_error *err);

/*
 * Whether label filter @filter ("KEY" or "KEY=VALUE") matches @labels (an
 * object of strings): KEY present, with VALUE when one is given.
 */
bool cove_volume_label_match(const json_t *labels, const char *filter);

/*
 * Every volume whose labels match all of @label_filters (NULL-terminated,
 * may be NULL), sorted by name, to a new array *ret of *ret_n entries
 * (free with cove_volumes_free()).
 */
int cove_volume_list(sqlite3 *db, char *const *label_filters,
		     struct cove_volume **ret, size_t *ret_n,
		     struct cove_error *err);

/*
 * The in-use check the engine supplies: 1 when a container uses volume
 * @name (*ret_user may then get the container's name or id, freed by the
 * caller), 0 when none does, -errno (with @err) when it cannot tell.  It
 * runs inside the remove's write transaction, on the same connection, so
 * it sees a consistent table and a concurrent container create waits for
 * the remove; it must not begin a transaction of its own.
 */
typedef int (*cove_volume_in_use_fn)(void *data, sqlite3 *db, const char *name,
				     char **ret_user, struct cove_error *err);

enum cove_volume_remove_flags {
	/*
	 * A volume that does not exist is not an error (returns 0).  A
	 * volume in use is still refused: podman's `volume rm -f` removes
	 * the containers first, which is for the caller to do.
	 */
	COVE_VOLUME_REMOVE_FORCE = 1 << 0,
};

/*
 * Remove volume @name (full name or unique prefix, see lookup): its row,
 * then its directory.  -EBUSY when @in_use (may be NULL: no check) says a
 * container uses it, -ENOENT when it does not exist.  Returns 1 when
 * removed, 0 when absent with COVE_VOLUME_REMOVE_FORCE.  The full name of
 * the volume removed goes to *ret_name when not NULL (caller frees).
 */
int cove_volume_remove(sqlite3 *db, const char *volumes_dir, const char *name,
		       unsigned flags, cove_volume_in_use_fn in_use,
		       void *in_use_data, char **ret_name,
		       struct cove_error *err);

/*
 * Remove every volume that matches @label_filters (may be NULL) and is not
 * in use, and the directories a crash left without a row.  The names of
 * the volumes removed go to *ret_removed (NULL-terminated, may be NULL
 * when none; caller frees with cove_strv_free()).
 */
int cove_volume_prune(sqlite3 *db, const char *volumes_dir,
		      char *const *label_filters, cove_volume_in_use_fn in_use,
		      void *in_use_data, char ***ret_removed,
		      struct cove_error *err);

/*
 * docker's copy-up: the first time an empty volume is mounted over a
 * directory of the image, the directory's content is copied into it.
 *
 * Copies the tree below @image_dir_fd (a directory fd, O_PATH is fine) into
 * @volume_data_dir when that directory is empty: regular files, directories,
 * symlinks (as links, never followed), hard links within the tree, device
 * nodes and FIFOs; with their modes, owners, times and xattrs (owners and
 * xattrs best-effort: EPERM and ENOTSUP are ignored).  The volume
 * directory itself takes the owner and mode of the image directory.
 *
 * SECURITY: the source is an image's rootfs, made by strangers.  The walk
 * opens every entry relative to its parent's fd with O_NOFOLLOW and never
 * resolves a path through a symlink; the destination is written relative
 * to directory fds that this function created, so nothing is read or
 * written outside the two trees.
 *
 * Returns 1 when copied, 0 when the volume was not empty (nothing done),
 * -errno on failure, in which case what was copied is removed again.
 */
int cove_volume_copy_up(const char *volume_data_dir, int image_dir_fd,
			struct cove_error *err);

/*
 * As cove_volume_copy_up() with the image directory given as @path inside
 * the root file system @rootfs_fd, resolved as if @rootfs_fd were "/"
 * (openat2 RESOLVE_IN_ROOT: symlinks in the image cannot lead out).  A
 * @path that does not exist or is not a directory has nothing to copy:
 * returns 0.
 */
int cove_volume_copy_up_from_rootfs(const char *volume_data_dir, int rootfs_fd,
				    const char *path, struct cove_error *err);
