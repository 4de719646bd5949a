/*
 * Layer application, the overlay side: what the lower layers of a
 * snapshot already have (the merged view, resolved without following any
 * symlink), and copy-up from them, as overlayfs itself would do before a
 * change to a lower file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/layer-internal.h"
#include "util/cleanup.h"

/*
 * Open @path (cleaned, relative, not empty) of lower layer @lfd as an
 * O_PATH fd of the object itself.
 *
 * SECURITY: no symlink is followed at all, not even the last component,
 * and never out of the lower dir (RESOLVE_IN_ROOT on top): the object is
 * only ever read, and what a symlink of a lower layer means depends on the
 * merged view, which does not exist yet.
 */
static int open_lower(struct layer_ctx *c, int lfd, const char *path, int *ret)
{
	_cleanup_close_ int fd = -1;
	char buf[PATH_MAX];
	char *save = NULL, *comp, *next;
	size_t len;

	if (c->have_openat2) {
		struct open_how how = {
		    .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
			       RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS,
		};
		int r = layer_openat2(lfd, path, &how);
		if (r >= 0) {
			*ret = r;
			return 0;
		}
		if (r != -ENOSYS)
			return r;
		c->have_openat2 = false;
	}
	len = strlen(path);
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	fd = openat(lfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (comp = strtok_r(buf, "/", &save); comp; comp = next) {
		int nfd;

		next = strtok_r(NULL, "/", &save);
		nfd = openat(fd, comp,
			     O_PATH | O_NOFOLLOW | O_CLOEXEC |
				 (next ? O_DIRECTORY : 0));
		if (nfd < 0)
			return -errno;
		close(fd);
		fd = nfd;
	}
	*ret = TAKE_FD(fd);
	return 0;
}

static bool lower_opaque(struct layer_ctx *c, int fd)
{
	const char *xname =
	    c->o->userxattr ? "user.overlay.opaque" : "trusted.overlay.opaque";
	char proc[64], v[2];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return getxattr(proc, xname, v, sizeof(v)) == 1 && v[0] == 'y';
}

/*
 * An ancestor of @path in lower @lfd is an opaque directory: the layers
 * below it are hidden there.
 */
static bool lower_opaque_ancestor(struct layer_ctx *c, int lfd,
				  const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, path, len + 1);
	while (len > 0) {
		_cleanup_close_ int fd = -1;
		struct stat st;

		while (len > 0 && buf[len - 1] != '/')
			len--;
		if (len == 0)
			break;
		buf[--len] = '\0';
		if (open_lower(c, lfd, buf, &fd) < 0 || fstat(fd, &st) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		return lower_opaque(c, fd);
	}
	return false;
}

/*
 * (layer-internal.h) Layers are searched newest first; the first that has
 * the path decides.
 */
int layer_find_lower(struct layer_ctx *c, const char *path, mode_t type,
		     int *ret_fd, struct stat *ret_st)
{
	for (size_t i = 0; i < c->o->n_lower; i++) {
		int lfd = c->o->lower_dirfds[i];
		_cleanup_close_ int fd = -1;
		int r = open_lower(c, lfd, path, &fd);

		if (r == -ENOENT) {
			if (lower_opaque_ancestor(c, lfd, path))
				return -ENOENT;
			continue;
		}
		/* a whiteout or symlink on the way, or an error: stop */
		if (r < 0 || fstat(fd, ret_st) < 0 ||
		    (type ? (ret_st->st_mode & S_IFMT) != type
			  : S_ISDIR(ret_st->st_mode)))
			return -ENOENT;
		/* a whiteout (0:0 char device) hides what is below */
		if (S_ISCHR(ret_st->st_mode) && ret_st->st_rdev == 0)
			return -ENOENT;
		*ret_fd = TAKE_FD(fd);
		return 0;
	}
	return -ENOENT;
}

/*
 * Copy the xattrs of @src (O_PATH) to @dst (open), overlay's own excepted;
 * those this file system or user cannot have are counted and skipped.
 */
static int copy_xattrs(struct layer_ctx *c, int src, int dst, const char *path)
{
	_cleanup_free_ char *names = NULL, *value = NULL;
	char proc[64];
	ssize_t len;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", src);
	len = listxattr(proc, NULL, 0);
	if (len < 0 && (errno == ENOTSUP || errno == EPERM))
		return 0;
	if (len < 0)
		return layer_entry_fail(c, errno, true,
					"cannot list xattrs of '%s'", path);
	if (len == 0)
		return 0;
	names = malloc((size_t)len + 1);
	value = malloc(XATTR_SIZE_MAX);
	if (!names || !value)
		return layer_entry_fail(c, ENOMEM, true, "out of memory");
	len = listxattr(proc, names, (size_t)len);
	if (len < 0)
		return layer_entry_fail(c, errno, true,
					"cannot list xattrs of '%s'", path);
	names[len] = '\0';
	for (char *n = names; n < names + len; n += strlen(n) + 1) {
		ssize_t vlen;

		if (!*n || layer_overlay_xattr(n))
			continue;
		vlen = getxattr(proc, n, value, XATTR_SIZE_MAX);
		if (vlen < 0) {
			if (errno == ENODATA || errno == ENOTSUP ||
			    errno == EPERM || errno == EACCES)
				continue;
			return layer_entry_fail(
			    c, errno, true, "cannot read xattr '%s' of '%s'", n,
			    path);
		}
		if (fsetxattr(dst, n, value, (size_t)vlen, 0) == 0)
			continue;
		if (errno == ENOTSUP || errno == EPERM || errno == EACCES) {
			c->st.skipped_xattrs++;
			continue;
		}
		return layer_entry_fail(
		    c, errno, true, "cannot set xattr '%s' on '%s'", n, path);
	}
	return 0;
}

/*
 * Owner, mode and xattrs of @lower (O_PATH, stat @lst) onto the new @fd,
 * in that order: chown clears setuid bits and file capabilities.
 * Unprivileged, a directory stays writable until finish_dirs().
 */
int layer_copy_lower_meta(struct layer_ctx *c, int lower,
			  const struct stat *lst, int fd, const char *path)
{
	mode_t mode = lst->st_mode & 07777;
	bool dir = S_ISDIR(lst->st_mode);

	if (!c->o->no_chown && fchown(fd, lst->st_uid, lst->st_gid) < 0)
		return layer_entry_fail(
		    c, errno, true, "cannot chown '%s' to %u:%u", path,
		    (unsigned)lst->st_uid, (unsigned)lst->st_gid);
	if (!c->root && !dir)
		mode &= ~(mode_t)(S_ISUID | S_ISGID);
	if (fchmod(fd, dir && !c->root ? mode | 0700 : mode) < 0)
		return layer_entry_fail(c, errno, true, "cannot chmod '%s'",
					path);
	return copy_xattrs(c, lower, fd, path);
}

static int copy_content(int in, int out, off_t size)
{
	bool fallback = false;
	off_t done = 0;

	while (done < size) {
		size_t want =
		    (size_t)(size - done > (1 << 30) ? (1 << 30) : size - done);
		ssize_t n = -1;

		if (!fallback) {
			n = copy_file_range(in, NULL, out, NULL, want, 0);
			if (n < 0 && done == 0 &&
			    (errno == EXDEV || errno == EINVAL ||
			     errno == ENOSYS || errno == EOPNOTSUPP)) {
				fallback = true;
				continue;
			}
		} else {
			n = sendfile(out, in, NULL, want);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break; /* shrank under us */
		done += n;
	}
	return 0;
}

/*
 * Copy-up of what is not a regular file: a symlink (as a symlink, never
 * followed), a fifo or a device node, with its owner, mode and times.
 */
static int copy_up_special(struct layer_ctx *c, int lfd, const struct stat *lst,
			   int tfd, const char *tname, const char *path)
{
	struct timespec ts[2] = {lst->st_atim, lst->st_mtim};
	char target[PATH_MAX];
	ssize_t n;

	switch (lst->st_mode & S_IFMT) {
	case S_IFLNK:
		n = readlinkat(lfd, "", target, sizeof(target) - 1);
		if (n < 0)
			return layer_entry_fail(c, errno, true,
						"cannot read link '%s' below",
						path);
		target[n] = '\0';
		if (symlinkat(target, tfd, tname) < 0)
			return layer_entry_fail(c, errno, true,
						"cannot copy up '%s'", path);
		break;
	case S_IFIFO:
		if (mkfifoat(tfd, tname, lst->st_mode & 07777) < 0)
			return layer_entry_fail(c, errno, true,
						"cannot copy up '%s'", path);
		break;
	case S_IFCHR:
	case S_IFBLK:
		if (c->o->skip_devices)
			return -ENOENT; /* not made here either */
		if (mknodat(tfd, tname, lst->st_mode, lst->st_rdev) < 0)
			return layer_entry_fail(c, errno, true,
						"cannot copy up '%s'", path);
		break;
	default:
		return -ENOENT; /* sockets are not layer content */
	}
	if (!c->o->no_chown && fchownat(tfd, tname, lst->st_uid, lst->st_gid,
					AT_SYMLINK_NOFOLLOW) < 0)
		return layer_entry_fail(
		    c, errno, true, "cannot chown '%s' to %u:%u", path,
		    (unsigned)lst->st_uid, (unsigned)lst->st_gid);
	if (!S_ISLNK(lst->st_mode) &&
	    fchmodat(tfd, tname, lst->st_mode & 07777, 0) < 0)
		return layer_entry_fail(c, errno, true, "cannot chmod '%s'",
					path);
	if (utimensat(tfd, tname, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return layer_entry_fail(c, errno, true,
					"cannot set times of '%s'", path);
	return 0;
}

/*
 * Copy-up: the file @path, which only a lower layer has, copied with its
 * owner, mode, xattrs and times into this layer at the same path (its
 * missing parents made as for any entry), as overlayfs does before it
 * links to a lower file.  Regular files get their content; symlinks,
 * fifos and device nodes are made again.  On success *@tfd is the
 * (O_PATH, symlink-free) directory @tparent that now holds @tname.
 */
int layer_copy_up(struct layer_ctx *c, const char *path, const char *tparent,
		  const char *tname, int *tfd)
{
	_cleanup_close_ int lfd = -1, in = -1, out = -1, dfd = -1;
	struct stat lst;
	struct timespec ts[2];
	char proc[64];
	int r;

	if (layer_find_lower(c, path, 0, &lfd, &lst) < 0)
		return -ENOENT;
	if (*tfd < 0) {
		r = layer_make_dirs(c, tparent, &dfd);
		if (r < 0)
			return r;
		r = layer_open_in_root(c, tparent, true, tfd);
		if (r < 0)
			return layer_entry_fail(c, -r, true,
						"hard link target '%s'", path);
	}
	if (!S_ISREG(lst.st_mode))
		return copy_up_special(c, lfd, &lst, *tfd, tname, path);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", lfd);
	in = open(proc, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (in < 0)
		return layer_entry_fail(c, errno, true,
					"cannot open '%s' below", path);
	out =
	    openat(*tfd, tname,
		   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return layer_entry_fail(c, errno, true, "cannot copy up '%s'",
					path);
	r = copy_content(in, out, lst.st_size);
	if (r < 0)
		return layer_entry_fail(c, -r, true, "cannot copy up '%s'",
					path);
	r = layer_copy_lower_meta(c, lfd, &lst, out, path);
	if (r < 0)
		return r;
	ts[0] = lst.st_atim;
	ts[1] = lst.st_mtim;
	if (futimens(out, ts) < 0)
		return layer_entry_fail(c, errno, true,
					"cannot set times of '%s'", path);
	return 0;
}
