/*
 * cove export: a container's whole root file system as a tar, and the tar
 * writer that commit shares.
 *
 * SECURITY: the tree is the container's.  The walk goes by directory fds
 * opened with O_NOFOLLOW from the root's fd; a symlink is archived as a
 * symlink (its target read with readlinkat, never followed), a regular
 * file is opened with O_NOFOLLOW relative to its directory and archived
 * with the size it had when opened (a file that grows or shrinks
 * meanwhile is cut or padded, never read past), so nothing outside the
 * tree is ever read.  The walk stays on the root's mount: a running
 * container's own mounts (volumes, /proc) are in its mount namespace, not
 * on the host's view of its rootfs, and anything mounted there from
 * outside is not the container's file system.
 */
#include <archive.h>
#include <archive_entry.h>
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

struct hardlink {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct cove_tarw {
	struct archive *a;
	struct archive_entry *e;
	struct hardlink *links;
	size_t n_links, cap_links;
};

int cove_tarw_new(struct archive *a, struct cove_tarw **ret)
{
	struct cove_tarw *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->a = a;
	w->e = archive_entry_new();
	if (!w->e) {
		free(w);
		return -ENOMEM;
	}
	*ret = w;
	return 0;
}

void cove_tarw_free(struct cove_tarw *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_links; i++)
		free(w->links[i].path);
	free(w->links);
	archive_entry_free(w->e);
	free(w);
}

static int archive_fail(struct cove_tarw *w, const char *what, const char *path,
			struct cove_error *err)
{
	int code = archive_errno(w->a);

	return cove_error_set(err, code > 0 ? code : EIO,
			      "cannot archive '%s': %s: %s", path, what,
			      archive_error_string(w->a)
				  ? archive_error_string(w->a)
				  : "unknown error");
}

/* The path a hard link to @st should point at; NULL the first time. */
static int hardlink_seen(struct cove_tarw *w, const struct stat *st,
			 const char *path, const char **ret)
{
	*ret = NULL;
	for (size_t i = 0; i < w->n_links; i++)
		if (w->links[i].dev == st->st_dev &&
		    w->links[i].ino == st->st_ino) {
			*ret = w->links[i].path;
			return 0;
		}
	if (w->n_links == w->cap_links) {
		size_t cap = w->cap_links ? w->cap_links * 2 : 16;
		struct hardlink *v = realloc(w->links, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		w->links = v;
		w->cap_links = cap;
	}
	w->links[w->n_links].path = strdup(path);
	if (!w->links[w->n_links].path)
		return -ENOMEM;
	w->links[w->n_links].dev = st->st_dev;
	w->links[w->n_links++].ino = st->st_ino;
	return 0;
}

/*
 * The xattrs of @fd but overlay's own (they describe the storage, not
 * the file), onto the entry.  Best effort: a file system without xattrs
 * has none.
 */
static int add_xattrs(struct cove_tarw *w, int fd)
{
	char names[65536];
	ssize_t len = flistxattr(fd, names, sizeof(names));

	if (len < 0)
		return errno == ENOTSUP || errno == E2BIG || errno == ERANGE
			   ? 0
			   : -errno;
	for (char *n = names; n < names + len; n += strlen(n) + 1) {
		char value[65536];
		ssize_t vlen;

		if (cove_str_has_prefix(n, "trusted.overlay.") ||
		    cove_str_has_prefix(n, "user.overlay."))
			continue;
		vlen = fgetxattr(fd, n, value, sizeof(value));
		if (vlen < 0)
			continue;
		archive_entry_xattr_add_entry(w->e, n, value, (size_t)vlen);
	}
	return 0;
}

static int write_data(struct cove_tarw *w, int fd, int64_t size,
		      const char *path, struct cove_error *err)
{
	char buf[65536];

	while (size > 0) {
		size_t want =
		    size < (int64_t)sizeof(buf) ? (size_t)size : sizeof(buf);
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cove_error_setx(err, errno, "cannot read '%s'",
					       path);
		if (n == 0) {
			/* shrunk since it was opened: pad to the size */
			n = (ssize_t)want;
			memset(buf, 0, want);
		}
		if (archive_write_data(w->a, buf, (size_t)n) != n)
			return archive_fail(w, "write", path, err);
		size -= n;
	}
	return 0;
}

int cove_tarw_add(struct cove_tarw *w, int dirfd, const char *name,
		  const char *path, const struct stat *st,
		  struct cove_error *err)
{
	_cleanup_close_ int fd = -1;
	struct stat now;
	int64_t size = 0;
	int r;

	if (S_ISSOCK(st->st_mode))
		return 0; /* not file system content */
	archive_entry_clear(w->e);
	archive_entry_set_pathname(w->e, path);
	archive_entry_set_uid(w->e, st->st_uid);
	archive_entry_set_gid(w->e, st->st_gid);
	archive_entry_set_perm(w->e, st->st_mode & 07777);
	archive_entry_set_mtime(w->e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	if (S_ISDIR(st->st_mode) || S_ISREG(st->st_mode)) {
		int flags = O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC |
			    (S_ISDIR(st->st_mode) ? O_DIRECTORY : O_NONBLOCK);
		fd = openat(dirfd, name, flags);
		if (fd < 0)
			return cove_error_setx(err, errno, "cannot open '%s'",
					       path);
		/* the same file as the walk saw, not a swapped-in one */
		if (fstat(fd, &now) < 0)
			return cove_error_setx(err, errno, "cannot stat '%s'",
					       path);
		if ((now.st_mode & S_IFMT) != (st->st_mode & S_IFMT) ||
		    now.st_ino != st->st_ino)
			return cove_error_set(err, EAGAIN,
					      "'%s' changed while it was "
					      "archived",
					      path);
		r = add_xattrs(w, fd);
		if (r < 0)
			return cove_error_setx(
			    err, r, "cannot read the xattrs of '%s'", path);
	}
	if (S_ISDIR(st->st_mode)) {
		archive_entry_set_filetype(w->e, AE_IFDIR);
	} else if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
		if (n < 0)
			return cove_error_setx(err, errno,
					       "cannot read link '%s'", path);
		target[n] = '\0';
		archive_entry_set_filetype(w->e, AE_IFLNK);
		archive_entry_set_symlink(w->e, target);
	} else {
		const char *first = NULL;
		if (st->st_nlink > 1) {
			r = hardlink_seen(w, st, path, &first);
			if (r < 0)
				return cove_error_set(err, ENOMEM,
						      "out of memory");
		}
		if (first) {
			/* the data went with the first name */
			archive_entry_set_filetype(w->e, AE_IFREG);
			archive_entry_set_hardlink(w->e, first);
			archive_entry_set_size(w->e, 0);
		} else if (S_ISREG(st->st_mode)) {
			archive_entry_set_filetype(w->e, AE_IFREG);
			size = now.st_size;
			archive_entry_set_size(w->e, size);
		} else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
			archive_entry_set_filetype(
			    w->e, S_ISCHR(st->st_mode) ? AE_IFCHR : AE_IFBLK);
			archive_entry_set_rdevmajor(w->e, major(st->st_rdev));
			archive_entry_set_rdevminor(w->e, minor(st->st_rdev));
		} else if (S_ISFIFO(st->st_mode)) {
			archive_entry_set_filetype(w->e, AE_IFIFO);
		} else {
			return 0;
		}
	}
	if (archive_write_header(w->a, w->e) < ARCHIVE_WARN)
		return archive_fail(w, "header", path, err);
	if (size > 0) {
		r = write_data(w, fd, size, path, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int cove_tarw_add_marker(struct cove_tarw *w, const char *path,
			 struct cove_error *err)
{
	archive_entry_clear(w->e);
	archive_entry_set_pathname(w->e, path);
	archive_entry_set_filetype(w->e, AE_IFREG);
	archive_entry_set_perm(w->e, 0600);
	archive_entry_set_size(w->e, 0);
	archive_entry_set_uid(w->e, 0);
	archive_entry_set_gid(w->e, 0);
	archive_entry_set_mtime(w->e, 0, 0);
	if (archive_write_header(w->a, w->e) < ARCHIVE_WARN)
		return archive_fail(w, "header", path, err);
	return 0;
}

/* ---- the root file system ----------------------------------------------- */

int cove_engine_open_rootfs(struct cove_engine *e, struct cove_ctr *c,
			    int *ret_fd, struct cove_userns_maps **ret_maps,
			    bool *ret_unmount, struct cove_error *err)
{
	_cleanup_free_ struct cove_userns_maps *maps = NULL;
	_cleanup_free_ char *path = NULL;
	bool live = !strcmp(c->state, "running") ||
		    !strcmp(c->state, "paused") ||
		    !strcmp(c->state, "stopping");
	int fd, r;

	r = cove_engine_ctr_maps(c, &maps, err);
	if (r < 0)
		return r;
	/*
	 * A running container's rootfs is mounted (the same mount is
	 * returned); a stopped one's is mounted for the caller, as cp does.
	 */
	r = cove_engine_mount_rootfs(e, c, &path, err);
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = cove_error_setx(err, errno, "cannot open %s", path);
		if (!live)
			(void)cove_snapshot_unmount(e->snap, c->id, NULL);
		return r;
	}
	*ret_fd = fd;
	*ret_maps = TAKE_PTR(maps);
	*ret_unmount = !live;
	return 0;
}

struct export
{
	struct cove_tarw *w;
	const struct cove_userns_maps *maps;
	dev_t dev;
	char path[PATH_MAX + 1]; /* relative: "etc/passwd" */
	size_t len;
	unsigned depth;
	struct cove_error *err;
};

static int export_dir(struct export *x, int dfd)
{
	_cleanup_closedir_ DIR *d = cove_opendir_dup(dfd);
	struct dirent *de;

	if (!d)
		return cove_error_setx(x->err, errno, "cannot read '/%s'",
				       x->path);
	if (++x->depth > MAX_DEPTH)
		return cove_error_set(x->err, ELOOP, "tree too deep at '/%s'",
				      x->path);
	while ((errno = 0, de = readdir(d))) {
		size_t len = x->len, n = strlen(de->d_name);
		struct stat st;
		int r;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (len + n + 2 > sizeof(x->path))
			return cove_error_set(x->err, ENAMETOOLONG,
					      "path too long under '/%s'",
					      x->path);
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return cove_error_setx(x->err, errno,
					       "cannot stat '/%s%s%s'", x->path,
					       len ? "/" : "", de->d_name);
		}
		if (len)
			x->path[x->len++] = '/';
		memcpy(x->path + x->len, de->d_name, n + 1);
		x->len += n;
		if (st.st_dev != x->dev) {
			/* another file system mounted here: not the rootfs */
			r = 0;
		} else {
			struct stat mapped = st;
			cove_diff_map_owner(x->maps, &mapped);
			r = cove_tarw_add(x->w, dfd, de->d_name, x->path,
					  &mapped, x->err);
			if (r >= 0 && S_ISDIR(st.st_mode)) {
				_cleanup_close_ int cfd =
				    openat(dfd, de->d_name,
					   O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					       O_CLOEXEC);
				r = cfd < 0 ? cove_error_setx(x->err, errno,
							      "cannot open "
							      "'/%s'",
							      x->path)
					    : export_dir(x, cfd);
			}
		}
		x->len = len;
		x->path[len] = '\0';
		if (r < 0)
			return r;
	}
	if (errno)
		return cove_error_setx(x->err, errno, "cannot read '/%s'",
				       x->path);
	x->depth--;
	return 0;
}

static void archive_freep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

int cove_engine_export(struct cove_engine *e, struct cove_ctr *c, int fd,
		       struct cove_error *err)
{
	_cleanup_free_ struct cove_userns_maps *maps = NULL;
	_cleanup_(archive_freep) struct archive *a = NULL;
	_cleanup_close_ int root = -1;
	struct cove_tarw *w = NULL;
	struct export *x = NULL;
	bool unmount = false;
	struct stat st;
	int r = cove_engine_images(e, err);

	if (r < 0)
		return r;
	r = cove_engine_open_rootfs(e, c, &root, &maps, &unmount, err);
	if (r < 0)
		return r;
	a = archive_write_new();
	x = calloc(1, sizeof(*x));
	if (!a || !x || cove_tarw_new(a, &w) < 0) {
		r = cove_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	if (fstat(root, &st) < 0) {
		r = cove_error_setx(err, errno, "cannot stat the rootfs");
		goto out;
	}
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		r = cove_error_set(err, EIO, "cannot start the tar: %s",
				   archive_error_string(a));
		goto out;
	}
	x->w = w;
	x->maps = maps;
	x->dev = st.st_dev;
	x->err = err;
	r = export_dir(x, root);
	if (r >= 0 && archive_write_close(a) != ARCHIVE_OK) {
		int code = archive_errno(a);
		r = cove_error_set(err, code > 0 ? code : EIO,
				   "cannot finish the tar: %s",
				   archive_error_string(a));
	}
out:
	cove_tarw_free(w);
	free(x);
	if (unmount)
		(void)cove_snapshot_unmount(e->snap, c->id, NULL);
	return r < 0 ? r : 0;
}
