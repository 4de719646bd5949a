/*
 * cove diff, and the change walk that commit shares: what a container
 * changed in its root file system against its image.
 *
 * Two ways, by where the changes are:
 *
 *   overlay  every change is in the container's upper dir, so the walk
 *            reads that dir alone.  A whiteout (a 0:0 character device,
 *            or a file with the overlay.whiteout xattr) is a deletion
 *            ("D"); a directory with the overlay.opaque xattr was removed
 *            and made again: "D" as podman reports it, and everything
 *            under it is new ("A"); anything else is "C" when the image's
 *            layers have the path and "A" when not.  Upper directories
 *            are there because something under them changed: "C", as
 *            podman shows them.  cove mounts without redirect_dir and
 *            metacopy (the kernel's defaults), so the upper dir holds
 *            every changed file whole; an entry marked otherwise is
 *            refused rather than half archived.
 *   compare  vfs, and a container with a private shifted copy of its
 *            image (--userns): the container's tree is compared with the
 *            image's, entry by entry.  A path the image lacks is "A"; one
 *            whose type, permission bits, owner, size, mtime, device
 *            number or symlink target differ is "C" (a directory's mtime
 *            alone is not a change: it moves with every entry made or
 *            removed in it); an image entry the container lacks is "D".
 *            Directories above a change are "C", as on overlay.
 *
 * The image's side is looked up path by path through its layers, newest
 * first, with overlay's rules (a whiteout or a non-directory hides what
 * is below, an opaque directory hides the lower layers' content); a vfs
 * snapshot is one flattened layer.  Every lookup walks component by
 * component with O_NOFOLLOW: the layers never lead elsewhere either.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "engine/commit.h"
#include "engine/engine-internal.h"
#include "engine/userns.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

#define MAX_DEPTH 256

struct frame {
	int pfd; /* its parent directory (borrowed) */
	const char *name;
	struct stat st;
	size_t len; /* of the path up to this directory */
	bool emitted;
};

struct walk {
	cove_diff_fn fn;
	void *data;
	const int *lowers; /* the image's layers, newest first */
	size_t n_lower;
	const struct cove_userns_maps *maps;
	char path[PATH_MAX + 1]; /* of the entry being looked at */
	size_t len;
	struct frame frames[MAX_DEPTH];
	size_t depth;
	struct cove_error *err;
};

void cove_diff_map_owner(const struct cove_userns_maps *maps, struct stat *st)
{
	if (!maps || !maps->n_uid)
		return;
	st->st_uid = cove_userns_to_ctr(maps->uid, maps->n_uid, st->st_uid);
	st->st_gid = cove_userns_to_ctr(maps->gid, maps->n_gid, st->st_gid);
}

/* ---- overlay's marks ---------------------------------------------------- */

/* Whether @fd (opened, not O_PATH) has overlay xattr @what, either prefix */
static bool has_ovl_xattr(int fd, const char *what)
{
	char name[64], v[8];

	snprintf(name, sizeof(name), "trusted.overlay.%s", what);
	if (fgetxattr(fd, name, v, sizeof(v)) >= 0 || errno == ERANGE)
		return true;
	snprintf(name, sizeof(name), "user.overlay.%s", what);
	return fgetxattr(fd, name, v, sizeof(v)) >= 0 || errno == ERANGE;
}

static bool is_opaque(int dirfd)
{
	char v[8];
	ssize_t n = fgetxattr(dirfd, "trusted.overlay.opaque", v, sizeof(v));

	if (n < 0)
		n = fgetxattr(dirfd, "user.overlay.opaque", v, sizeof(v));
	return n >= 1 && v[0] == 'y';
}

/*
 * A whiteout: a 0:0 character device, or (overlay's other form) an empty
 * regular file carrying the overlay.whiteout xattr.
 */
static bool is_whiteout(int dirfd, const char *name, const struct stat *st)
{
	_cleanup_close_ int fd = -1;

	if (S_ISCHR(st->st_mode))
		return st->st_rdev == makedev(0, 0);
	if (!S_ISREG(st->st_mode) || st->st_size != 0)
		return false;
	fd = openat(dirfd, name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	return fd >= 0 && has_ovl_xattr(fd, "whiteout");
}

/* ---- the image's side --------------------------------------------------- */

/*
 * Open directory @rel ("a/b", "" for the top) of layer @top, component by
 * component without following symlinks.  Returns the fd, -ENOENT when a
 * component is missing, -ENOTDIR when one is not a directory (a symlink,
 * a file, a whiteout: it hides the path).  *ret_opaque: some directory
 * on the way (the top excluded) is opaque in this layer.
 */
static int layer_open_dir(int top, const char *rel, bool *ret_opaque)
{
	_cleanup_free_ char *copy = strdup(rel);
	_cleanup_close_ int fd = fcntl(top, F_DUPFD_CLOEXEC, 3);
	char *save = NULL, *comp;

	*ret_opaque = false;
	if (!copy || fd < 0)
		return copy ? -errno : -ENOMEM;
	for (comp = strtok_r(copy, "/", &save); comp;
	     comp = strtok_r(NULL, "/", &save)) {
		int nfd = openat(
		    fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0)
			return errno == ELOOP ? -ENOTDIR : -errno;
		close(fd);
		fd = nfd;
		if (is_opaque(fd))
			*ret_opaque = true;
	}
	return TAKE_FD(fd);
}

/*
 * Look @path ("/a/b/c") up in the image: 1 and its lstat in @ret_st (may
 * be NULL) and its layer's directory in @ret_dirfd (may be NULL; caller
 * closes) when the image has it, 0 when not.
 */
static int lower_lookup(struct walk *w, const char *path, struct stat *ret_st,
			int *ret_dirfd)
{
	_cleanup_free_ char *copy = strdup(path + 1);
	const char *rel = "", *name;
	char *slash;

	if (!copy)
		return -ENOMEM;
	slash = strrchr(copy, '/');
	if (slash) {
		*slash = '\0';
		rel = copy;
		name = slash + 1;
	} else {
		name = copy;
	}
	for (size_t i = 0; i < w->n_lower; i++) {
		_cleanup_close_ int dfd = -1;
		struct stat st;
		bool opaque;

		dfd = layer_open_dir(w->lowers[i], rel, &opaque);
		if (dfd == -ENOTDIR)
			return 0;
		if (dfd == -ENOENT) {
			if (opaque)
				return 0;
			continue;
		}
		if (dfd < 0)
			return dfd;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (is_whiteout(dfd, name, &st))
				return 0;
			if (ret_st)
				*ret_st = st;
			if (ret_dirfd)
				*ret_dirfd = TAKE_FD(dfd);
			return 1;
		}
		if (errno != ENOENT)
			return -errno;
		if (opaque)
			return 0;
	}
	return 0;
}

/*
 * The names directory @rel ("a/b", "" for the top) has in the image: merged
 * over the layers, whiteouts removed.  NULL-terminated; caller frees.
 */
static int lower_list(struct walk *w, const char *rel, char ***ret)
{
	_cleanup_strv_ char **names = NULL, **hidden = NULL;

	for (size_t i = 0; i < w->n_lower; i++) {
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *de;
		bool opaque;
		int dfd = layer_open_dir(w->lowers[i], rel, &opaque);

		if (dfd == -ENOTDIR)
			break;
		if (dfd == -ENOENT) {
			if (opaque)
				break;
			continue;
		}
		if (dfd < 0)
			return dfd;
		d = fdopendir(dfd);
		if (!d) {
			close(dfd);
			return -errno;
		}
		while ((de = readdir(d))) {
			struct stat st;
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, "..") ||
			    cove_strv_contains(names, de->d_name) ||
			    cove_strv_contains(hidden, de->d_name))
				continue;
			if (fstatat(dirfd(d), de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) < 0)
				return -errno;
			if (cove_strv_push(
				is_whiteout(dirfd(d), de->d_name, &st) ? &hidden
								       : &names,
				de->d_name) < 0)
				return -ENOMEM;
		}
		/* an opaque directory hides the lower layers' */
		if (*rel && is_opaque(dirfd(d)))
			break;
	}
	*ret = TAKE_PTR(names);
	return 0;
}

/* ---- reporting ---------------------------------------------------------- */

static int call(struct walk *w, size_t len, enum cove_change_kind kind,
		int dirfd, const char *name, const struct stat *st, bool opaque)
{
	struct cove_diff_entry ent = {.path = w->path,
				      .kind = kind,
				      .dirfd = dirfd,
				      .name = name,
				      .st = st,
				      .opaque = opaque};
	char saved = w->path[len];
	int r;

	w->path[len] = '\0';
	r = w->fn(&ent, w->data);
	w->path[len] = saved;
	return r;
}

/* Report the entry at w->path, after the directories above it. */
static int emit(struct walk *w, enum cove_change_kind kind, int dirfd,
		const char *name, const struct stat *st, bool opaque)
{
	for (size_t i = 0; i < w->depth; i++) {
		struct frame *f = &w->frames[i];
		int r;
		if (f->emitted)
			continue;
		f->emitted = true;
		r = call(w, f->len, COVE_CHANGE_CHANGED, f->pfd, f->name,
			 &f->st, false);
		if (r < 0)
			return r;
	}
	return call(w, w->len, kind, dirfd, name, st, opaque);
}

static int push_name(struct walk *w, const char *name)
{
	size_t n = strlen(name);

	if (w->len + 1 + n > PATH_MAX)
		return cove_error_set(w->err, ENAMETOOLONG,
				      "diff: path too long under '%s'",
				      w->path);
	w->path[w->len++] = '/';
	memcpy(w->path + w->len, name, n + 1);
	w->len += n;
	return 0;
}

static void pop_name(struct walk *w, size_t len)
{
	w->len = len;
	w->path[len] = '\0';
}

static int enter(struct walk *w, int pfd, const char *name,
		 const struct stat *st, bool emitted)
{
	struct frame *f;

	if (w->depth >= MAX_DEPTH)
		return cove_error_set(w->err, ELOOP,
				      "diff: tree too deep at '%s'", w->path);
	f = &w->frames[w->depth++];
	*f = (struct frame){.pfd = pfd,
			    .name = name,
			    .st = *st,
			    .len = w->len,
			    .emitted = emitted};
	return 0;
}

/* The names in directory @dfd but "." and ".." (NULL when empty) */
static int read_names(int dfd, char ***ret)
{
	_cleanup_closedir_ DIR *d = cove_opendir_dup(dfd);
	_cleanup_strv_ char **v = NULL;
	struct dirent *de;

	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    cove_strv_push(&v, de->d_name) < 0)
			return -ENOMEM;
	if (errno)
		return -errno;
	*ret = TAKE_PTR(v);
	return 0;
}

static int open_child(struct walk *w, int dfd, const char *name)
{
	int fd =
	    openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return cove_error_setx(w->err, errno, "diff: cannot open '%s'",
				       w->path);
	return fd;
}

/* ---- overlay: the upper dir --------------------------------------------- */

/*
 * @news: everything here is new (under an added or an opaque directory),
 * so the image need not be asked.
 */
static int walk_upper(struct walk *w, int dfd, bool news)
{
	_cleanup_strv_ char **names = NULL;
	int r = read_names(dfd, &names);

	if (r < 0)
		return cove_error_setx(w->err, r, "diff: cannot read '%s'",
				       w->len ? w->path : "/");
	for (size_t i = 0; names && names[i]; i++) {
		size_t len = w->len;
		struct stat st;
		bool exists = false;

		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* gone meanwhile */
			return cove_error_setx(w->err, errno,
					       "diff: cannot stat '%s/%s'",
					       w->path, names[i]);
		}
		r = push_name(w, names[i]);
		if (r < 0)
			return r;
		if (is_whiteout(dfd, names[i], &st)) {
			r = emit(w, COVE_CHANGE_DELETED, -1, NULL, NULL, false);
		} else {
			struct stat mapped = st;
			if (!news) {
				r = lower_lookup(w, w->path, NULL, NULL);
				if (r < 0)
					return cove_error_setx(
					    w->err, r,
					    "diff: cannot look '%s' "
					    "up in the image",
					    w->path);
				exists = r > 0;
			}
			cove_diff_map_owner(w->maps, &mapped);
			if (S_ISDIR(st.st_mode)) {
				_cleanup_close_ int cfd =
				    open_child(w, dfd, names[i]);
				bool opaque;
				if (cfd < 0)
					return cfd;
				if (has_ovl_xattr(cfd, "redirect"))
					return cove_error_set(
					    w->err, ENOTSUP,
					    "diff: '%s' is a renamed "
					    "directory (overlay "
					    "redirect_dir), which cove does "
					    "not read",
					    w->path);
				opaque = exists && is_opaque(cfd);
				r = emit(w,
					 opaque	  ? COVE_CHANGE_DELETED
					 : exists ? COVE_CHANGE_CHANGED
						  : COVE_CHANGE_ADDED,
					 dfd, names[i], &mapped, opaque);
				if (r >= 0)
					r = enter(w, dfd, names[i], &mapped,
						  true);
				if (r >= 0) {
					r = walk_upper(w, cfd,
						       !exists || opaque);
					w->depth--;
				}
			} else {
				if (S_ISREG(st.st_mode)) {
					_cleanup_close_ int fd = openat(
					    dfd, names[i],
					    O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
						O_NOCTTY | O_CLOEXEC);
					if (fd >= 0 &&
					    has_ovl_xattr(fd, "metacopy"))
						return cove_error_set(
						    w->err, ENOTSUP,
						    "diff: '%s' was copied up "
						    "without its data "
						    "(overlay metacopy), which "
						    "cove does not read",
						    w->path);
				}
				r = emit(w,
					 exists ? COVE_CHANGE_CHANGED
						: COVE_CHANGE_ADDED,
					 dfd, names[i], &mapped, false);
			}
		}
		pop_name(w, len);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- compare: the container's copy against the image -------------------- */

static bool link_differs(int adir, const char *aname, int bdir,
			 const char *bname)
{
	char a[PATH_MAX + 1], b[PATH_MAX + 1];
	ssize_t na = readlinkat(adir, aname, a, sizeof(a));
	ssize_t nb = readlinkat(bdir, bname, b, sizeof(b));

	return na < 0 || nb < 0 || na != nb || memcmp(a, b, (size_t)na);
}

/* @st (owners as the container sees them) against the image's @ist */
static bool entry_differs(const struct stat *st, const struct stat *ist,
			  int dfd, const char *name, int idfd)
{
	if ((st->st_mode & S_IFMT) != (ist->st_mode & S_IFMT) ||
	    (st->st_mode & 07777) != (ist->st_mode & 07777) ||
	    st->st_uid != ist->st_uid || st->st_gid != ist->st_gid)
		return true;
	if (S_ISDIR(st->st_mode))
		return false;
	if (st->st_mtim.tv_sec != ist->st_mtim.tv_sec ||
	    st->st_mtim.tv_nsec != ist->st_mtim.tv_nsec)
		return true;
	if (S_ISREG(st->st_mode))
		return st->st_size != ist->st_size;
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		return st->st_rdev != ist->st_rdev;
	if (S_ISLNK(st->st_mode))
		return link_differs(dfd, name, idfd, name);
	return false;
}

static int walk_compare(struct walk *w, int dfd, bool news)
{
	_cleanup_strv_ char **names = NULL, **old = NULL;
	int r = read_names(dfd, &names);

	if (r < 0)
		return cove_error_setx(w->err, r, "diff: cannot read '%s'",
				       w->len ? w->path : "/");
	for (size_t i = 0; names && names[i]; i++) {
		_cleanup_close_ int idfd = -1;
		size_t len = w->len;
		struct stat st, ist;
		bool exists = false;

		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return cove_error_setx(w->err, errno,
					       "diff: cannot stat '%s/%s'",
					       w->path, names[i]);
		}
		cove_diff_map_owner(w->maps, &st);
		r = push_name(w, names[i]);
		if (r < 0)
			return r;
		if (!news) {
			r = lower_lookup(w, w->path, &ist, &idfd);
			if (r < 0)
				return cove_error_setx(w->err, r,
						       "diff: cannot look '%s' "
						       "up in the image",
						       w->path);
			exists = r > 0;
		}
		if (!exists) {
			r = emit(w, COVE_CHANGE_ADDED, dfd, names[i], &st,
				 false);
		} else if (entry_differs(&st, &ist, dfd, names[i], idfd)) {
			r = emit(w, COVE_CHANGE_CHANGED, dfd, names[i], &st,
				 false);
			/* a directory that became one: all of it is new */
			if (S_ISDIR(st.st_mode) && !S_ISDIR(ist.st_mode))
				exists = false;
		} else if (S_ISDIR(st.st_mode)) {
			/* unchanged: reported only above a change */
			r = enter(w, dfd, names[i], &st, false);
			if (r >= 0) {
				_cleanup_close_ int cfd =
				    open_child(w, dfd, names[i]);
				r = cfd < 0 ? cfd : walk_compare(w, cfd, false);
				w->depth--;
			}
			pop_name(w, len);
			if (r < 0)
				return r;
			continue;
		}
		if (r >= 0 && S_ISDIR(st.st_mode)) {
			r = enter(w, dfd, names[i], &st, true);
			if (r >= 0) {
				_cleanup_close_ int cfd =
				    open_child(w, dfd, names[i]);
				r = cfd < 0 ? cfd
					    : walk_compare(w, cfd, !exists);
				w->depth--;
			}
		}
		pop_name(w, len);
		if (r < 0)
			return r;
	}
	if (news)
		return 0;
	/* what the image has here and the container no longer */
	r = lower_list(w, w->len ? w->path + 1 : "", &old);
	if (r < 0)
		return cove_error_setx(w->err, r,
				       "diff: cannot list '%s' in the image",
				       w->len ? w->path : "/");
	for (size_t i = 0; old && old[i]; i++) {
		size_t len = w->len;
		struct stat st;

		if (cove_strv_contains(names, old[i]) ||
		    fstatat(dfd, old[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		r = push_name(w, old[i]);
		if (r >= 0)
			r = emit(w, COVE_CHANGE_DELETED, -1, NULL, NULL, false);
		pop_name(w, len);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- setting up --------------------------------------------------------- */

/* The diff dirs of @chain_id and its ancestors, newest first (vfs: one) */
static int open_lowers(struct cove_engine *e, const char *chain_id,
		       int **ret_fds, size_t *ret_n, struct cove_error *err)
{
	_cleanup_free_ struct cove_snapshot_info *snaps = NULL;
	_cleanup_free_ int *fds = NULL;
	bool vfs = strcmp(cove_snapshotter_driver(e->snap), "overlay") != 0;
	char cur[COVE_CHAIN_ID_MAX];
	size_t n_snaps = 0, n = 0;
	int r;

	*ret_fds = NULL;
	*ret_n = 0;
	if (!*chain_id)
		return 0;
	r = cove_snapshot_list(e->snap, &snaps, &n_snaps, err);
	if (r < 0)
		return r;
	fds = calloc(n_snaps + 1, sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	snprintf(cur, sizeof(cur), "%s", chain_id);
	while (*cur) {
		_cleanup_free_ char *p = cove_snapshot_path(e->snap, cur);
		size_t j;

		if (n > n_snaps)
			break;
		if (!p)
			return cove_error_set(err, EINVAL,
					      "invalid chain id '%s'", cur);
		fds[n] = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fds[n] < 0) {
			r = -errno;
			for (size_t k = 0; k < n; k++)
				close(fds[k]);
			return cove_error_setx(err, r,
					       "cannot open the image's layer "
					       "'%s'",
					       p);
		}
		n++;
		if (vfs)
			break;
		for (j = 0; j < n_snaps; j++)
			if (!strcmp(snaps[j].chain_id, cur))
				break;
		if (j == n_snaps) {
			for (size_t k = 0; k < n; k++)
				close(fds[k]);
			return cove_error_set(
			    err, ENOENT, "snapshot '%s' does not exist", cur);
		}
		memcpy(cur, snaps[j].parent, sizeof(cur));
	}
	*ret_fds = TAKE_PTR(fds);
	*ret_n = n;
	return 0;
}

static bool rootfs_copy(const struct cove_ctr *c)
{
	return json_is_true(json_object_get(
	    json_object_get(json_object_get(c->config, "GraphDriver"), "Data"),
	    "RootfsCopy"));
}

int cove_engine_diff_walk(struct cove_engine *e, struct cove_ctr *c,
			  cove_diff_fn fn, void *data, struct cove_error *err)
{
	_cleanup_free_ struct cove_userns_maps *maps = NULL;
	_cleanup_free_ struct walk *w = calloc(1, sizeof(*w));
	_cleanup_free_ int *lowers = NULL;
	_cleanup_free_ char *src = NULL;
	_cleanup_close_ int fd = -1;
	size_t n_lower = 0;
	bool upper;
	int r = cove_engine_images(e, err);

	if (r < 0)
		return r;
	if (!w)
		return -ENOMEM;
	r = cove_engine_ctr_maps(c, &maps, err);
	if (r < 0)
		return r;
	upper = !strcmp(cove_snapshotter_driver(e->snap), "overlay") &&
		!rootfs_copy(c);
	if (upper) {
		src = cove_strdup_printf("%s/overlay-containers/%s/upper",
					 e->root, c->id);
		if (!src)
			return -ENOMEM;
	} else {
		/* vfs: the copy, made at create (no mount to undo) */
		r = cove_engine_mount_rootfs(e, c, &src, err);
		if (r < 0)
			return r;
	}
	fd = open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cove_error_setx(err, errno,
				       "cannot open the root file system of "
				       "container %s (%s)",
				       c->name, src);
	r = open_lowers(e, cove_engine_chain_id(c), &lowers, &n_lower, err);
	if (r < 0)
		return r;
	*w = (struct walk){.fn = fn,
			   .data = data,
			   .lowers = lowers,
			   .n_lower = n_lower,
			   .maps = maps,
			   .err = err};
	r = upper ? walk_upper(w, fd, n_lower == 0)
		  : walk_compare(w, fd, n_lower == 0);
	for (size_t i = 0; i < n_lower; i++)
		close(lowers[i]);
	return r;
}

/* ---- cove diff ---------------------------------------------------------- */

struct collect {
	struct cove_change *v;
	size_t n, cap;
};

static int collect_one(const struct cove_diff_entry *ent, void *data)
{
	struct collect *col = data;

	if (col->n == col->cap) {
		size_t cap = col->cap ? col->cap * 2 : 64;
		struct cove_change *v = realloc(col->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		col->v = v;
		col->cap = cap;
	}
	col->v[col->n].path = strdup(ent->path);
	if (!col->v[col->n].path)
		return -ENOMEM;
	col->v[col->n++].kind = ent->kind;
	return 0;
}

static int change_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cove_change *)a)->path,
		      ((const struct cove_change *)b)->path);
}

void cove_changes_free(struct cove_change *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

int cove_engine_diff(struct cove_engine *e, struct cove_ctr *c,
		     struct cove_change **ret, size_t *ret_n,
		     struct cove_error *err)
{
	struct collect col = {0};
	int r = cove_engine_diff_walk(e, c, collect_one, &col, err);

	if (r < 0) {
		cove_changes_free(col.v, col.n);
		return r == -ENOMEM && (!err || !err->code)
			   ? cove_error_set(err, ENOMEM, "out of memory")
			   : r;
	}
	if (col.n)
		qsort(col.v, col.n, sizeof(*col.v), change_cmp);
	*ret = col.v;
	*ret_n = col.n;
	return 0;
}
