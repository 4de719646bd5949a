/*
 * Layer application (see layer.h for the contract).
 *
 * Two libarchive readers are chained: a "raw" reader that only
 * decompresses (gzip, zstd or none, detected by magic) and a tar reader
 * whose input callback pulls from the first and hashes every byte it hands
 * over.  Thus the diff_id is the sha256 of exactly the uncompressed stream,
 * computed in the same pass as the extraction, and libarchive does all of
 * the decompression and tar parsing.
 *
 * Extraction itself is ours rather than archive_write_disk's: that one works
 * on paths relative to the current directory, while every write here is
 * relative to a directory fd resolved inside the target (see resolve()).
 */
#include "image/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/layer-internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define READ_BLOCK (128 * 1024)
#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define WHITEOUT_META ".wh..wh." /* aufs bookkeeping: ignored */

static const struct {
	const char *type;
	enum cove_layer_compression compression;
} media_types[] = {
    {"application/vnd.oci.image.layer.v1.tar", COVE_LAYER_UNCOMPRESSED},
    {"application/vnd.oci.image.layer.v1.tar+gzip", COVE_LAYER_GZIP},
    {"application/vnd.oci.image.layer.v1.tar+zstd", COVE_LAYER_ZSTD},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar",
     COVE_LAYER_UNCOMPRESSED},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
     COVE_LAYER_GZIP},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
     COVE_LAYER_ZSTD},
    {"application/vnd.docker.image.rootfs.diff.tar", COVE_LAYER_UNCOMPRESSED},
    {"application/vnd.docker.image.rootfs.diff.tar.gzip", COVE_LAYER_GZIP},
    {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
     COVE_LAYER_GZIP},
};

int cove_layer_media_type(const char *media_type,
			  enum cove_layer_compression *ret,
			  struct cove_error *err)
{
	if (!media_type) {
		*ret = COVE_LAYER_UNCOMPRESSED;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(media_types); i++)
		if (!strcmp(media_type, media_types[i].type)) {
			*ret = media_types[i].compression;
			return 0;
		}
	return cove_error_set(err, EPROTONOSUPPORT,
			      "unsupported layer media type '%s'", media_type);
}

int cove_idmap_range_map(const struct cove_idmap_range *map, size_t len,
			 uint32_t id, uint32_t *ret)
{
	if (len == 0) {
		*ret = id;
		return 0;
	}
	for (size_t i = 0; i < len; i++)
		if (id >= map[i].container_id &&
		    id - map[i].container_id < map[i].size) {
			uint64_t h = (uint64_t)map[i].host_id +
				     (id - map[i].container_id);
			if (h > UINT32_MAX - 1)
				return -EOVERFLOW;
			*ret = (uint32_t)h;
			return 0;
		}
	return -EOVERFLOW;
}

bool cove_in_user_namespace(void)
{
	char buf[256];
	unsigned long a, b, c;
	int n = 0;
	ssize_t len;
	_cleanup_close_ int fd =
	    open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);

	/* Without /proc we cannot tell: assume the restricted case. */
	if (fd < 0)
		return true;
	len = cove_read_all(fd, buf, sizeof(buf) - 1);
	if (len <= 0)
		return true;
	buf[len] = '\0';
	if (sscanf(buf, "%lu %lu %lu %n", &a, &b, &c, &n) != 3)
		return true;
	return !(a == 0 && b == 0 && c == 4294967295UL && buf[n] == '\0');
}

static uint64_t path_hash(const char *s, size_t len)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

static bool key_eq(const char *key, const char *s, size_t len)
{
	return strncmp(key, s, len) == 0 && key[len] == '\0';
}

static bool pathset_has(const struct pathset *set, const char *s, size_t len)
{
	if (set->n == 0)
		return false;
	for (size_t i = path_hash(s, len) & (set->cap - 1);;
	     i = (i + 1) & (set->cap - 1)) {
		if (!set->keys[i])
			return false;
		if (key_eq(set->keys[i], s, len))
			return true;
	}
}

static void pathset_insert(struct pathset *set, char *key)
{
	size_t i = path_hash(key, strlen(key)) & (set->cap - 1);

	while (set->keys[i])
		i = (i + 1) & (set->cap - 1);
	set->keys[i] = key;
	set->n++;
}

/* 1 when added, 0 when present, -ENOMEM. */
static int pathset_add(struct pathset *set, const char *s, size_t len)
{
	char *key;

	if (pathset_has(set, s, len))
		return 0;
	if ((set->n + 1) * 2 > set->cap) {
		struct pathset bigger = {.cap = set->cap ? set->cap * 2 : 1024};

		bigger.keys = calloc(bigger.cap, sizeof(char *));
		if (!bigger.keys)
			return -ENOMEM;
		for (size_t i = 0; i < set->cap; i++)
			if (set->keys[i])
				pathset_insert(&bigger, set->keys[i]);
		free(set->keys);
		*set = bigger;
	}
	key = strndup(s, len);
	if (!key)
		return -ENOMEM;
	pathset_insert(set, key);
	return 1;
}

static void pathset_release(struct pathset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->keys[i]);
	free(set->keys);
	*set = (struct pathset){0};
}

static void set_shown(struct layer_ctx *c, const char *path)
{
	size_t i = 0;

	for (; path[i] && i < sizeof(c->shown) - 1; i++) {
		unsigned char ch = (unsigned char)path[i];
		c->shown[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	c->shown[i] = '\0';
}

/* "layer NAME: 'PATH': MSG[: strerror]" */
int layer_entry_fail(struct layer_ctx *c, int code, bool with_errno,
		     const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (with_errno)
		return cove_error_setx(c->err, code, "layer %s: '%s': %s",
				       c->name, c->shown, msg);
	return cove_error_set(c->err, code, "layer %s: '%s': %s", c->name,
			      c->shown, msg);
}

struct stream;
static bool stream_overflow(const struct stream *s);

/* A read error: libarchive words it as a truncated archive, say why. */
static int read_fail(struct layer_ctx *c, struct archive *a, const char *what)
{
	const char *msg = archive_error_string(a);
	int code = archive_errno(a) > 0 ? archive_errno(a) : EIO;

	if (c->stream && stream_overflow(c->stream))
		return cove_error_set(c->err, EFBIG,
				      "layer %s: more than %llu bytes of "
				      "uncompressed data",
				      c->name,
				      (unsigned long long)c->o->max_size);
	if (c->shown[0])
		return layer_entry_fail(c, code, false, "%s: %s", what,
					msg ? msg : "unknown error");
	return cove_error_set(c->err, code, "layer %s: %s: %s", c->name, what,
			      msg ? msg : "unknown error");
}

static void cache_drop(struct layer_ctx *c)
{
	free(c->cache_path);
	c->cache_path = NULL;
	if (c->cache_fd >= 0)
		close(c->cache_fd);
	c->cache_fd = -1;
}

/*
 * Normalise a tar path: leading '/' and "." components and empty ones
 * dropped ("./a//b/" -> "a/b", "/" -> "").  A ".." component is refused
 * outright rather than cleaned: no legitimate layer needs one, and
 * refusing leaves nothing to get wrong.
 */
static int clean_path(const char *in, char *out, size_t size)
{
	size_t n = 0;
	const char *p = in;

	while (*p) {
		const char *s;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		s = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - s);
		if (len == 1 && s[0] == '.')
			continue;
		if (len == 2 && s[0] == '.' && s[1] == '.')
			return -EINVAL;
		if (n + (n ? 1 : 0) + len + 1 > size)
			return -ENAMETOOLONG;
		if (n)
			out[n++] = '/';
		memcpy(out + n, s, len);
		n += len;
	}
	out[n] = '\0';
	return (int)n;
}

/* Split "a/b/c" into "a/b" (in place) and "c"; "c" into "" and "c". */
static const char *split_path(char *path, char **ret_parent)
{
	char *slash = strrchr(path, '/');

	if (!slash) {
		*ret_parent = path + strlen(path); /* "" */
		return path;
	}
	*slash = '\0';
	*ret_parent = path;
	return slash + 1;
}

static int mark_touched(struct layer_ctx *c, const char *path)
{
	size_t len = strlen(path);

	while (len > 0) {
		int r = pathset_add(&c->touched, path, len);
		if (r <= 0)
			return r; /* present: so are its ancestors */
		while (len > 0 && path[len - 1] != '/')
			len--;
		if (len > 0)
			len--; /* the '/' */
	}
	return 0;
}

static bool is_touched(struct layer_ctx *c, const char *path)
{
	return pathset_has(&c->touched, path, strlen(path));
}

int layer_openat2(int dfd, const char *path, struct open_how *how)
{
	for (int tries = 0; tries < 16; tries++) {
		int r = (int)syscall(SYS_openat2, dfd, path, how, sizeof(*how));
		if (r >= 0)
			return r;
		if (errno != EAGAIN && errno != EINTR)
			break;
	}
	return -errno;
}

/*
 * Open directory @path (cleaned, relative) of the target as an O_PATH fd.
 *
 * SECURITY: with RESOLVE_IN_ROOT every symlink met on the way - absolute,
 * or with enough ".." to climb out - resolves as if the target were "/":
 * a layer can point "etc" at "/etc" or "../../.." and its next entry
 * "etc/passwd" still lands inside the target.  RESOLVE_NO_MAGICLINKS
 * refuses /proc-style links, RESOLVE_NO_XDEV any mount point inside the
 * target.  @nosymlinks refuses symlinks altogether (hard link targets).
 * Kernels without openat2 (< 5.6) walk component by component with
 * O_NOFOLLOW, and so refuse every symlink in a parent path.
 */
int layer_open_in_root(struct layer_ctx *c, const char *path, bool nosymlinks,
		       int *ret)
{
	_cleanup_close_ int fd = -1;
	char buf[PATH_MAX];
	char *save = NULL, *comp;
	size_t len;

	if (!*path) {
		fd = openat(c->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		*ret = TAKE_FD(fd);
		return 0;
	}
	if (c->have_openat2) {
		struct open_how how = {
		    .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
			       RESOLVE_NO_XDEV |
			       (nosymlinks ? RESOLVE_NO_SYMLINKS : 0),
		};
		int r = layer_openat2(c->root_fd, path, &how);
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
	fd = openat(c->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (comp = strtok_r(buf, "/", &save); comp;
	     comp = strtok_r(NULL, "/", &save)) {
		int nfd = openat(fd, comp,
				 O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0)
			return errno == ENOTDIR ? -ELOOP : -errno;
		close(fd);
		fd = nfd;
	}
	*ret = TAKE_FD(fd);
	return 0;
}

static int map_owner(struct layer_ctx *c, struct archive_entry *e,
		     uid_t *ret_uid, gid_t *ret_gid)
{
	la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
	uint32_t hu, hg;

	if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
		return layer_entry_fail(c, EOVERFLOW, false,
					"invalid owner %lld:%lld",
					(long long)uid, (long long)gid);
	if (cove_idmap_range_map(c->o->uid_map, c->o->uid_map_len,
				 (uint32_t)uid, &hu) < 0)
		return layer_entry_fail(c, EOVERFLOW, false,
					"uid %lld is not in the uid map",
					(long long)uid);
	if (cove_idmap_range_map(c->o->gid_map, c->o->gid_map_len,
				 (uint32_t)gid, &hg) < 0)
		return layer_entry_fail(c, EOVERFLOW, false,
					"gid %lld is not in the gid map",
					(long long)gid);
	*ret_uid = hu;
	*ret_gid = hg;
	return 0;
}

bool layer_overlay_xattr(const char *name)
{
	return !strncmp(name, "trusted.overlay.", 16) ||
	       !strncmp(name, "user.overlay.", 13);
}

static int defer_fixup(struct layer_ctx *c, const char *path,
		       const struct timespec times[2], mode_t mode,
		       bool set_mode)
{
	struct dir_fixup *d;

	if (c->n_dirs == c->cap_dirs) {
		size_t cap = c->cap_dirs ? c->cap_dirs * 2 : 256;
		struct dir_fixup *nd = reallocarray(c->dirs, cap, sizeof(*nd));
		if (!nd)
			return layer_entry_fail(c, ENOMEM, true,
						"out of memory");
		c->dirs = nd;
		c->cap_dirs = cap;
	}
	d = &c->dirs[c->n_dirs];
	*d = (struct dir_fixup){.mode = mode, .set_mode = set_mode};
	d->times[0] = times[0];
	d->times[1] = times[1];
	d->path = strdup(path);
	if (!d->path)
		return layer_entry_fail(c, ENOMEM, true, "out of memory");
	c->n_dirs++;
	return 0;
}

/* True when directory @fd (O_PATH) of a lower layer is opaque. */
/* Owner of directories the layer implies but does not list: root. */
static int implied_owner(struct layer_ctx *c, uid_t *ret_uid, gid_t *ret_gid)
{
	uint32_t hu, hg;

	if (cove_idmap_range_map(c->o->uid_map, c->o->uid_map_len, 0, &hu) <
		0 ||
	    cove_idmap_range_map(c->o->gid_map, c->o->gid_map_len, 0, &hg) < 0)
		return layer_entry_fail(c, EOVERFLOW, false,
					"container root is not in the id maps");
	*ret_uid = hu;
	*ret_gid = hg;
	return 0;
}

/*
 * Owner and mode of a directory the layer implies: in overlay mode those of
 * the directory a lower layer has there, so that the new one does not hide
 * them in the merged view, else @uid:@gid 0755.
 */
static int make_dir_meta(struct layer_ctx *c, int dfd, const char *path,
			 uid_t uid, gid_t gid)
{
	_cleanup_close_ int lfd = -1;
	struct stat lst;
	int r;

	if (c->o->overlay_whiteouts &&
	    layer_find_lower(c, path, S_IFDIR, &lfd, &lst) == 0) {
		struct timespec ts[2] = {lst.st_atim, lst.st_mtim};

		r = layer_copy_lower_meta(c, lfd, &lst, dfd, path);
		if (r < 0)
			return r;
		return defer_fixup(c, path, ts, lst.st_mode & 07777, !c->root);
	}
	if (!c->o->no_chown && fchown(dfd, uid, gid) < 0)
		return layer_entry_fail(c, errno, true, "cannot chown '%s'",
					path);
	if (fchmod(dfd, 0755) < 0)
		return layer_entry_fail(c, errno, true, "cannot chmod '%s'",
					path);
	return 0;
}

/*
 * Create the missing directories of @path (parents a layer omitted), each
 * resolved from the root again so that they obey the same rules.
 */
int layer_make_dirs(struct layer_ctx *c, const char *path, int *ret)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	uid_t uid = 0;
	gid_t gid = 0;
	int r;

	if (len >= sizeof(buf))
		return layer_entry_fail(c, ENAMETOOLONG, false,
					"path too long");
	if (!c->o->no_chown) {
		r = implied_owner(c, &uid, &gid);
		if (r < 0)
			return r;
	}
	memcpy(buf, path, len + 1);
	for (size_t i = 0; i <= len; i++) {
		_cleanup_close_ int pfd = -1, dfd = -1;
		char *slash, *name;
		int fd;

		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		r = layer_open_in_root(c, buf, false, &fd);
		if (r == 0) {
			if (i == len) {
				*ret = fd;
				return 0;
			}
			close(fd);
			buf[i] = '/';
			continue;
		}
		if (r != -ENOENT)
			return layer_entry_fail(c, -r, true, "cannot open '%s'",
						buf);
		slash = strrchr(buf, '/');
		if (slash)
			*slash = '\0';
		name = slash ? slash + 1 : buf;
		r = layer_open_in_root(c, slash ? buf : "", false, &pfd);
		if (r < 0)
			return layer_entry_fail(c, -r, true, "cannot open '%s'",
						buf);
		if (slash)
			*slash = '/';
		if (mkdirat(pfd, name, 0700) < 0)
			return layer_entry_fail(c, errno, true,
						"cannot create directory '%s'",
						buf);
		dfd = openat(pfd, name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			return layer_entry_fail(c, errno, true,
						"cannot open '%s'", buf);
		r = make_dir_meta(c, dfd, buf, uid, gid);
		if (r < 0)
			return r;
		r = mark_touched(c, buf);
		if (r < 0)
			return layer_entry_fail(c, -r, true, "out of memory");
		if (i == len) {
			/* reopen as O_PATH from the root, like the others */
			r = layer_open_in_root(c, buf, false, ret);
			if (r < 0)
				return layer_entry_fail(
				    c, -r, true, "cannot open '%s'", buf);
			return 0;
		}
		buf[i] = '/';
	}
	return layer_entry_fail(c, EINVAL, false, "empty path");
}

/*
 * The directory that will hold an entry (borrowed fd).  @create makes the
 * missing ones.  -ENOENT when absent and !@create.
 */
static int parent_fd(struct layer_ctx *c, const char *parent, bool create,
		     int *ret)
{
	int fd, r;

	if (!*parent) {
		*ret = c->root_fd;
		return 0;
	}
	if (c->cache_stale) {
		cache_drop(c);
		c->cache_stale = false;
	}
	if (c->cache_path && !strcmp(c->cache_path, parent)) {
		*ret = c->cache_fd;
		return 0;
	}
	r = layer_open_in_root(c, parent, false, &fd);
	if (r == -ENOENT && create)
		r = layer_make_dirs(c, parent, &fd);
	else if (r == -ENOENT)
		return r;
	else if (r < 0)
		return layer_entry_fail(c, -r, true, "cannot open parent '%s'",
					parent);
	if (r < 0)
		return r;
	cache_drop(c);
	c->cache_path = strdup(parent);
	if (!c->cache_path) {
		close(fd);
		return layer_entry_fail(c, ENOMEM, true, "out of memory");
	}
	c->cache_fd = fd;
	*ret = fd;
	return 0;
}

/* rm -rf @name in @dfd without following symlinks or crossing mounts. */
static int remove_tree(struct layer_ctx *c, int dfd, const char *name)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	struct stat st, sub;
	int fd;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	/* A removed directory or symlink may be on the cached path. */
	c->cache_stale = true;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno
								     : 0;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sub) < 0 || sub.st_dev != st.st_dev ||
	    sub.st_ino != st.st_ino) {
		close(fd);
		return -EBUSY;
	}
	if (!c->root && (st.st_mode & 0700) != 0700)
		(void)fchmod(fd, (st.st_mode & 07777) | 0700);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		struct stat cst;
		int r;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &cst, AT_SYMLINK_NOFOLLOW) ==
			0 &&
		    S_ISDIR(cst.st_mode) && cst.st_dev != st.st_dev)
			return -EBUSY; /* a mount point: never descend */
		r = remove_tree(c, dirfd(d), de->d_name);
		if (r < 0)
			return r;
	}
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/*
 * Opaque directory: remove what lower layers put under @path (whose fd is
 * @dfd), keeping what this layer created.  @path is a PATH_MAX buffer that
 * is extended and restored while descending.
 */
static int remove_untouched(struct layer_ctx *c, int dfd, char *path,
			    size_t len)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		size_t nlen = strlen(de->d_name);
		struct stat st;
		int r;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (len + 1 + nlen + 1 > PATH_MAX)
			return -ENAMETOOLONG;
		if (len)
			path[len] = '/';
		memcpy(path + len + (len ? 1 : 0), de->d_name, nlen + 1);
		if (!is_touched(c, path)) {
			r = remove_tree(c, dirfd(d), de->d_name);
		} else if (fstatat(dirfd(d), de->d_name, &st,
				   AT_SYMLINK_NOFOLLOW) == 0 &&
			   S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(
			    dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = sub < 0
				? -errno
				: remove_untouched(c, sub, path,
						   len + (len ? 1 : 0) + nlen);
		} else {
			r = 0;
		}
		path[len] = '\0';
		if (r < 0)
			return r;
	}
	return 0;
}

#define MAX_XATTRS 128

/* True when xattr @name (the @index-th, 1-based) appears again later. */
static bool later_xattr(struct archive_entry *e, int index, const char *name)
{
	const char *n;
	const void *v;
	size_t size;
	bool found = false;
	int i = 0;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &n, &v, &size) == ARCHIVE_OK)
		if (++i > index && n && !strcmp(n, name))
			found = true;
	/* restore the caller's iteration */
	archive_entry_xattr_reset(e);
	for (i = 0; i < index; i++)
		archive_entry_xattr_next(e, &n, &v, &size);
	return found;
}

/*
 * xattrs of the entry.  @fd is an open (not O_PATH) fd of the object, or
 * -1 to go through /proc/self/fd/@pfd/@name without following the last
 * component (symlinks, fifos, devices).
 *
 * SECURITY: overlay's own xattrs (opaque, redirect, metacopy, origin) are
 * never taken from a layer: they would let a layer steer the overlay mount
 * built from it.  Whiteouts are expressed only by the .wh. files.
 */
static int apply_xattrs(struct layer_ctx *c, struct archive_entry *e, int fd,
			int pfd, const char *name)
{
	char proc[PATH_MAX];
	const char *xname;
	const void *value;
	size_t size;
	int count = 0;

	if (archive_entry_xattr_reset(e) == 0)
		return 0;
	if (fd < 0) {
		int n = snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", pfd,
				 name);
		if (n < 0 || (size_t)n >= sizeof(proc))
			return layer_entry_fail(c, ENAMETOOLONG, false,
						"path too long");
	}
	while (archive_entry_xattr_next(e, &xname, &value, &size) ==
	       ARCHIVE_OK) {
		int r;

		/*
		 * pax archives from libarchive carry each xattr twice
		 * (SCHILY.xattr and LIBARCHIVE.xattr): the last one wins, as
		 * it would on disk.
		 */
		if (++count > MAX_XATTRS)
			return layer_entry_fail(
			    c, E2BIG, false, "more than %d xattrs", MAX_XATTRS);
		if (xname && later_xattr(e, count, xname))
			continue;
		if (!xname || !*xname || layer_overlay_xattr(xname)) {
			c->st.skipped_xattrs++;
			continue;
		}
		r = fd >= 0 ? fsetxattr(fd, xname, value, size, 0)
			    : lsetxattr(proc, xname, value, size, 0);
		if (r == 0)
			continue;
		/*
		 * Not supported by this file system, or not permitted to
		 * this user (trusted.*, security.* without privilege, user.*
		 * on a symlink): the image still works without it.
		 */
		if (errno == ENOTSUP || errno == EPERM || errno == EACCES) {
			c->st.skipped_xattrs++;
			continue;
		}
		return layer_entry_fail(c, errno, true, "cannot set xattr '%s'",
					xname);
	}
	return 0;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
	ts[1].tv_sec = archive_entry_mtime(e);
	ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	if (ts[1].tv_nsec < 0 || ts[1].tv_nsec > 999999999)
		ts[1].tv_nsec = 0;
	if (archive_entry_atime_is_set(e)) {
		ts[0].tv_sec = archive_entry_atime(e);
		ts[0].tv_nsec = archive_entry_atime_nsec(e);
		if (ts[0].tv_nsec < 0 || ts[0].tv_nsec > 999999999)
			ts[0].tv_nsec = 0;
	} else {
		ts[0] = ts[1];
	}
}

/* Permission bits to set: setuid/setgid only for root. */
static mode_t entry_mode(struct layer_ctx *c, struct archive_entry *e, bool dir)
{
	mode_t m = archive_entry_perm(e) & 07777;

	if (!c->root && !dir)
		m &= ~(mode_t)(S_ISUID | S_ISGID);
	return m;
}

/*
 * Owner, mode, xattrs and times of a file or directory through its open fd.
 * Order matters: chown clears setuid bits and file capabilities, so mode
 * and security.capability come after it.
 */
static int apply_meta_fd(struct layer_ctx *c, struct archive_entry *e, int fd,
			 bool dir)
{
	struct timespec ts[2];
	mode_t mode = entry_mode(c, e, dir);
	uid_t uid;
	gid_t gid;
	int r;

	if (!c->o->no_chown) {
		r = map_owner(c, e, &uid, &gid);
		if (r < 0)
			return r;
		if (fchown(fd, uid, gid) < 0)
			return layer_entry_fail(c, errno, true,
						"cannot chown to %u:%u",
						(unsigned)uid, (unsigned)gid);
	}
	/* Unprivileged: keep directories writable until the end. */
	if (fchmod(fd, dir && !c->root ? mode | 0700 : mode) < 0)
		return layer_entry_fail(c, errno, true, "cannot chmod");
	r = apply_xattrs(c, e, fd, -1, NULL);
	if (r < 0)
		return r;
	entry_times(e, ts);
	if (!dir && futimens(fd, ts) < 0)
		return layer_entry_fail(c, errno, true, "cannot set times");
	return 0;
}

/* The same for symlinks, fifos and devices, by name under @pfd. */
static int apply_meta_name(struct layer_ctx *c, struct archive_entry *e,
			   int pfd, const char *name, bool symlink)
{
	struct timespec ts[2];
	uid_t uid;
	gid_t gid;
	int r;

	if (!c->o->no_chown) {
		r = map_owner(c, e, &uid, &gid);
		if (r < 0)
			return r;
		if (fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			return layer_entry_fail(c, errno, true,
						"cannot chown to %u:%u",
						(unsigned)uid, (unsigned)gid);
	}
	if (!symlink) {
		/* chmod through an O_PATH fd: never follows a name */
		_cleanup_close_ int fd =
		    openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		char proc[64];
		struct stat st;

		if (fd < 0 || fstat(fd, &st) < 0)
			return layer_entry_fail(c, errno, true, "cannot open");
		if (S_ISLNK(st.st_mode))
			return layer_entry_fail(c, ELOOP, false,
						"replaced by a symlink");
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (chmod(proc, entry_mode(c, e, false)) < 0)
			return layer_entry_fail(c, errno, true, "cannot chmod");
	}
	r = apply_xattrs(c, e, -1, pfd, name);
	if (r < 0)
		return r;
	entry_times(e, ts);
	if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return layer_entry_fail(c, errno, true, "cannot set times");
	return 0;
}

static int defer_dir(struct layer_ctx *c, const char *path,
		     struct archive_entry *e)
{
	struct timespec ts[2];

	entry_times(e, ts);
	return defer_fixup(c, path, ts, entry_mode(c, e, true), !c->root);
}

/*
 * Make room for a new entry @name: a directory stays when the new entry is
 * one too (the layer merges into it), anything else is removed.  Files are
 * then created anew with O_EXCL, never opened: data is not written through
 * a hard link or symlink that was there before.
 */
static int make_room(struct layer_ctx *c, int pfd, const char *name, bool dir,
		     bool *ret_is_dir)
{
	struct stat st;
	int r;

	*ret_is_dir = false;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return layer_entry_fail(c, errno, true, "cannot stat");
	}
	if (dir && S_ISDIR(st.st_mode)) {
		*ret_is_dir = true;
		return 0;
	}
	r = remove_tree(c, pfd, name);
	if (r < 0)
		return layer_entry_fail(c, -r, true, "cannot replace");
	return 0;
}

static int do_dir(struct layer_ctx *c, struct archive_entry *e, int pfd,
		  const char *name, const char *path)
{
	_cleanup_close_ int fd = -1;
	bool exists;
	int r;

	if (!*path) {
		fd =
		    openat(c->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		r = make_room(c, pfd, name, true, &exists);
		if (r < 0)
			return r;
		if (!exists && mkdirat(pfd, name, 0700) < 0)
			return layer_entry_fail(c, errno, true,
						"cannot create directory");
		fd = openat(pfd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return layer_entry_fail(c, errno, true,
					"cannot open directory");
	r = apply_meta_fd(c, e, fd, true);
	if (r < 0)
		return r;
	return defer_dir(c, path, e);
}

static int copy_data(struct layer_ctx *c, struct archive *a, int fd,
		     int64_t size)
{
	int64_t end = 0;

	for (;;) {
		const void *buf;
		size_t len, done = 0;
		la_int64_t off;
		int r = archive_read_data_block(a, &buf, &len, &off);

		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return read_fail(c, a, "cannot read data");
		if (off < 0)
			return layer_entry_fail(c, EINVAL, false,
						"bad data offset");
		while (done < len) {
			ssize_t n = pwrite(fd, (const char *)buf + done,
					   len - done, off + (off_t)done);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return layer_entry_fail(c, errno, true,
							"cannot write");
			}
			done += (size_t)n;
		}
		if (off + (int64_t)len > end)
			end = off + (int64_t)len;
	}
	/* a sparse file that ends in a hole */
	if (size > end && ftruncate(fd, size) < 0)
		return layer_entry_fail(c, errno, true, "cannot set size");
	return 0;
}

static int do_file(struct layer_ctx *c, struct archive *a,
		   struct archive_entry *e, int pfd, const char *name)
{
	_cleanup_close_ int fd = -1;
	bool is_dir;
	int r;

	r = make_room(c, pfd, name, false, &is_dir);
	if (r < 0)
		return r;
	fd = openat(pfd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return layer_entry_fail(c, errno, true, "cannot create file");
	r = copy_data(c, a, fd, archive_entry_size(e));
	if (r < 0)
		return r;
	return apply_meta_fd(c, e, fd, false);
}

static const char *entry_string(const char *mbs, const char *utf8)
{
	return mbs ? mbs : utf8;
}

static int do_symlink(struct layer_ctx *c, struct archive_entry *e, int pfd,
		      const char *name)
{
	const char *target = entry_string(archive_entry_symlink(e),
					  archive_entry_symlink_utf8(e));
	bool is_dir;
	int r;

	/* The target is not checked: it is never followed here. */
	if (!target || !*target)
		return layer_entry_fail(c, EINVAL, false,
					"symlink without a target");
	r = make_room(c, pfd, name, false, &is_dir);
	if (r < 0)
		return r;
	if (symlinkat(target, pfd, name) < 0)
		return layer_entry_fail(c, errno, true,
					"cannot create symlink");
	return apply_meta_name(c, e, pfd, name, true);
}

/* Copy the data of @in to @out, both regular files. */
/*
 * SECURITY: the target is resolved with no symlink at all on its way (a
 * tar hard link names an earlier member, never a path through a link) and
 * inside the target dir; the link itself is made with linkat(…, 0), which
 * does not follow a final symlink.  Its data, if the tar carries any, is
 * ignored: writing it would write through the link.
 */
static int do_hardlink(struct layer_ctx *c, const char *link, int pfd,
		       const char *name, const char *path)
{
	char target[PATH_MAX], full[PATH_MAX];
	_cleanup_close_ int tfd = -1;
	const char *tname;
	char *tparent;
	struct stat st;
	bool is_dir;
	int r;

	r = clean_path(link, target, sizeof(target));
	if (r == -EINVAL)
		return layer_entry_fail(
		    c, EINVAL, false, "hard link target has a '..' component");
	if (r < 0)
		return layer_entry_fail(c, -r, false,
					"hard link target too long");
	if (r == 0)
		return layer_entry_fail(c, EINVAL, false,
					"hard link to the root directory");
	if (!strcmp(target, path))
		return 0; /* a link to itself: nothing to do */
	memcpy(full, target, (size_t)r + 1);
	tname = split_path(target, &tparent);
	r = layer_open_in_root(c, tparent, true, &tfd);
	if (r == 0 && fstatat(tfd, tname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	if (r == -ENOENT && c->o->overlay_whiteouts && c->o->n_lower > 0) {
		/* -ENOENT (not below either) is reported as before */
		r = layer_copy_up(c, full, tparent, tname, &tfd);
		if (r < 0 && r != -ENOENT)
			return r;
		if (r == 0 && fstatat(tfd, tname, &st, AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
	}
	if (r < 0)
		return layer_entry_fail(c, -r, true,
					"hard link target '%s%s%s'", tparent,
					*tparent ? "/" : "", tname);
	if (S_ISDIR(st.st_mode))
		return layer_entry_fail(c, EPERM, false,
					"hard link target is a directory");
	r = make_room(c, pfd, name, false, &is_dir);
	if (r < 0)
		return r;
	if (linkat(tfd, tname, pfd, name, 0) < 0)
		return layer_entry_fail(c, errno, true,
					"cannot create hard link");
	return 0;
}

static int do_node(struct layer_ctx *c, struct archive_entry *e, int pfd,
		   const char *name, mode_t type)
{
	dev_t dev = 0;
	bool is_dir;
	int r;

	if (type != S_IFIFO) {
		if (!c->can_mknod) {
			if (c->o->skip_devices) {
				c->st.skipped_devices++;
				return 1;
			}
			return layer_entry_fail(
			    c, EPERM, false,
			    "device nodes need root outside a "
			    "user namespace");
		}
		dev = makedev(archive_entry_rdevmajor(e),
			      archive_entry_rdevminor(e));
	}
	r = make_room(c, pfd, name, false, &is_dir);
	if (r < 0)
		return r;
	if (mknodat(pfd, name, type | 0600, dev) < 0) {
		if (errno == EPERM && type != S_IFIFO && c->o->skip_devices) {
			c->st.skipped_devices++;
			return 1;
		}
		return layer_entry_fail(c, errno, true, "cannot create node");
	}
	return apply_meta_name(c, e, pfd, name, false);
}

static int set_opaque(struct layer_ctx *c, int dfd)
{
	const char *xname =
	    c->o->userxattr ? "user.overlay.opaque" : "trusted.overlay.opaque";
	_cleanup_close_ int fd =
	    openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsetxattr(fd, xname, "y", 1, 0) < 0)
		return layer_entry_fail(c, errno, true, "cannot set %s", xname);
	return 0;
}

/*
 * ".wh..wh..opq" in @parent, or ".wh.NAME".  Both apply only to what lower
 * layers put there (see struct pathset).
 *
 * SECURITY: the name that is whited out is a single component checked
 * like any other (no '/', "." or ".."), and its directory is resolved in
 * the root as for any entry, so a whiteout can only delete inside the
 * target.
 */
static int do_whiteout(struct layer_ctx *c, char *parent, const char *name)
{
	bool overlay = c->o->overlay_whiteouts;
	char full[PATH_MAX];
	const char *victim;
	int pfd, r;

	if (!strcmp(name, WHITEOUT_OPAQUE)) {
		_cleanup_close_ int dfd = -1;
		char buf[PATH_MAX];
		size_t len = strlen(parent);

		c->st.whiteouts++;
		if (overlay)
			r = *parent ? parent_fd(c, parent, true, &pfd) : 0;
		else
			r = *parent ? parent_fd(c, parent, false, &pfd) : 0;
		if (r == -ENOENT)
			return 0; /* nothing below to hide */
		if (r < 0)
			return r;
		dfd = openat(*parent ? pfd : c->root_fd, ".",
			     O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return layer_entry_fail(c, errno, true, "cannot open");
		memcpy(buf, parent, len + 1);
		r = remove_untouched(c, dfd, buf, len);
		if (r < 0)
			return layer_entry_fail(
			    c, -r, true, "cannot empty opaque directory");
		if (!overlay)
			return 0;
		r = set_opaque(c, dfd);
		if (r < 0)
			return r;
		return mark_touched(c, parent) < 0
			   ? layer_entry_fail(c, ENOMEM, true, "out of memory")
			   : 0;
	}
	if (!strncmp(name, WHITEOUT_META, strlen(WHITEOUT_META))) {
		c->st.skipped_other++;
		return 0;
	}
	victim = name + strlen(WHITEOUT_PREFIX);
	if (!*victim || !strcmp(victim, ".") || !strcmp(victim, ".."))
		return layer_entry_fail(c, EINVAL, false, "invalid whiteout");
	r = snprintf(full, sizeof(full), "%s%s%s", parent, *parent ? "/" : "",
		     victim);
	if (r < 0 || (size_t)r >= sizeof(full))
		return layer_entry_fail(c, ENAMETOOLONG, false,
					"path too long");
	c->st.whiteouts++;
	if (is_touched(c, full))
		return 0; /* this layer's own entry: not hidden */
	r = parent_fd(c, parent, overlay, &pfd);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = remove_tree(c, pfd, victim);
	if (r < 0)
		return layer_entry_fail(c, -r, true, "cannot remove '%s'",
					full);
	if (!overlay)
		return 0;
	if (mknodat(pfd, victim, S_IFCHR | 0000, makedev(0, 0)) < 0)
		return layer_entry_fail(c, errno, true,
					"cannot create whiteout '%s'", full);
	return mark_touched(c, full) < 0
		   ? layer_entry_fail(c, ENOMEM, true, "out of memory")
		   : 0;
}

static int apply_entry(struct layer_ctx *c, struct archive *a,
		       struct archive_entry *e)
{
	const char *raw = entry_string(archive_entry_pathname(e),
				       archive_entry_pathname_utf8(e));
	const char *link = entry_string(archive_entry_hardlink(e),
					archive_entry_hardlink_utf8(e));
	char path[PATH_MAX], split[PATH_MAX];
	const char *name;
	char *parent;
	mode_t type;
	int pfd = -1, r;

	if (!raw)
		return cove_error_set(c->err, EINVAL,
				      "layer %s: entry without a readable path",
				      c->name);
	set_shown(c, raw);
	r = clean_path(raw, path, sizeof(path));
	if (r == -EINVAL)
		return layer_entry_fail(c, EINVAL, false,
					"path has a '..' component");
	if (r < 0)
		return layer_entry_fail(c, -r, false, "path too long");
	type = archive_entry_filetype(e);
	memcpy(split, path, strlen(path) + 1);
	name = split_path(split, &parent);

	if (!*path) {
		/* "./" or "/": the target directory itself */
		if (link || type != AE_IFDIR)
			return layer_entry_fail(c, EINVAL, false,
						"the root must be a directory");
		return do_dir(c, e, -1, "", "");
	}
	if (!strncmp(name, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)))
		return do_whiteout(c, parent, name);

	r = parent_fd(c, parent, true, &pfd);
	if (r < 0)
		return r;
	if (link)
		r = do_hardlink(c, link, pfd, name, path);
	else
		switch (type) {
		case AE_IFDIR:
			r = do_dir(c, e, pfd, name, path);
			break;
		case AE_IFREG:
			r = do_file(c, a, e, pfd, name);
			break;
		case AE_IFLNK:
			r = do_symlink(c, e, pfd, name);
			break;
		case AE_IFIFO:
		case AE_IFCHR:
		case AE_IFBLK:
			r = do_node(c, e, pfd, name, type);
			break;
		case AE_IFSOCK:
			c->st.skipped_other++;
			return 0;
		default:
			return layer_entry_fail(c, EINVAL, false,
						"unknown entry type 0%o",
						(unsigned)type);
		}
	if (r < 0)
		return r;
	if (r > 0)
		return 0; /* skipped */
	r = mark_touched(c, path);
	if (r < 0)
		return layer_entry_fail(c, -r, true, "out of memory");
	return 0;
}

/*
 * Directory times (and modes, for an unprivileged user) last: creating
 * entries inside a directory changes its mtime, and a read-only directory
 * would refuse them.  Deepest (latest) first.
 */
static int finish_dirs(struct layer_ctx *c)
{
	for (size_t i = c->n_dirs; i-- > 0;) {
		struct dir_fixup *d = &c->dirs[i];
		_cleanup_close_ int pfd = -1;
		const char *name;
		char *parent;
		struct stat st;

		set_shown(c, d->path);
		if (!*d->path) {
			if (utimensat(c->root_fd, ".", d->times, 0) < 0)
				return layer_entry_fail(c, errno, true,
							"cannot set times");
			if (d->set_mode &&
			    fchmodat(c->root_fd, ".", d->mode, 0) < 0)
				return layer_entry_fail(c, errno, true,
							"cannot chmod");
			continue;
		}
		name = split_path(d->path, &parent);
		if (layer_open_in_root(c, parent, false, &pfd) < 0)
			continue; /* removed by a later entry */
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (utimensat(pfd, name, d->times, AT_SYMLINK_NOFOLLOW) < 0)
			return layer_entry_fail(c, errno, true,
						"cannot set times");
		if (d->set_mode) {
			_cleanup_close_ int fd = openat(
			    pfd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0 || fchmod(fd, d->mode) < 0)
				return layer_entry_fail(c, errno, true,
							"cannot chmod");
			/* fchmod does not touch times */
		}
	}
	return 0;
}

static void ctx_release(struct layer_ctx *c)
{
	cache_drop(c);
	pathset_release(&c->touched);
	for (size_t i = 0; i < c->n_dirs; i++)
		free(c->dirs[i].path);
	free(c->dirs);
}

/* The compressed side: plain reads of the caller's fd, counted. */
struct source {
	int fd;
	uint64_t nread;
	char *buf;
};

static la_ssize_t source_read(struct archive *a, void *data, const void **buf)
{
	struct source *s = data;

	for (;;) {
		ssize_t n = read(s->fd, s->buf, READ_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			archive_set_error(a, errno, "cannot read layer blob");
			return -1;
		}
		s->nread += (uint64_t)n;
		*buf = s->buf;
		return n;
	}
}

/* The uncompressed side: what the tar reader consumes, hashed. */
struct stream {
	struct archive *raw;
	EVP_MD_CTX *md;
	uint64_t total;
	uint64_t max; /* 0: no limit */
	bool overflow;
	bool eof;
	bool empty; /* the blob had no bytes at all */
};

static la_ssize_t stream_read(struct archive *a, void *data, const void **buf)
{
	struct stream *s = data;

	while (!s->eof && !s->empty) {
		const void *b;
		size_t size;
		la_int64_t off;
		int r = archive_read_data_block(s->raw, &b, &size, &off);

		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			const char *msg = archive_error_string(s->raw);
			archive_set_error(
			    a,
			    archive_errno(s->raw) > 0 ? archive_errno(s->raw)
						      : EIO,
			    "%s", msg ? msg : "decompression failed");
			return -1;
		}
		if (size == 0)
			continue;
		if (s->max && size > s->max - s->total) {
			s->overflow = true;
			archive_set_error(a, EFBIG,
					  "more than %llu bytes uncompressed",
					  (unsigned long long)s->max);
			return -1;
		}
		if (EVP_DigestUpdate(s->md, b, size) != 1) {
			archive_set_error(a, ENOMEM, "sha256 failed");
			return -1;
		}
		s->total += size;
		*buf = b;
		return (la_ssize_t)size;
	}
	s->eof = true;
	return 0;
}

static void archive_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static void md_freep(EVP_MD_CTX **md)
{
	if (*md)
		EVP_MD_CTX_free(*md);
}

static bool stream_overflow(const struct stream *s)
{
	return s->overflow;
}

static int detect(struct layer_ctx *c, struct archive *raw,
		  enum cove_layer_compression expected)
{
	int code = archive_filter_code(raw, 0);
	enum cove_layer_compression got;

	switch (code) {
	case ARCHIVE_FILTER_NONE:
		got = COVE_LAYER_UNCOMPRESSED;
		break;
	case ARCHIVE_FILTER_GZIP:
		got = COVE_LAYER_GZIP;
		break;
	case ARCHIVE_FILTER_ZSTD:
		got = COVE_LAYER_ZSTD;
		break;
	default:
		return cove_error_set(c->err, EPROTONOSUPPORT,
				      "layer %s: unsupported compression '%s'",
				      c->name, archive_filter_name(raw, 0));
	}
	/*
	 * Docker archives label uncompressed layers as gzip, and tools
	 * compress layers labelled plain tar; both are harmless since the
	 * diff_id is checked.  Two different compressions are not.
	 */
	if (got != COVE_LAYER_UNCOMPRESSED &&
	    expected != COVE_LAYER_UNCOMPRESSED && got != expected)
		return cove_error_set(
		    c->err, EPROTONOSUPPORT,
		    "layer %s: media type says %s but the "
		    "data is %s",
		    c->name, expected == COVE_LAYER_GZIP ? "gzip" : "zstd",
		    archive_filter_name(raw, 0));
	c->st.compression = got;
	return 0;
}

static int run(struct layer_ctx *c, int blob_fd,
	       enum cove_layer_compression exp)
{
	_cleanup_(archive_freep) struct archive *raw = NULL, *tar = NULL;
	_cleanup_(md_freep) EVP_MD_CTX *md = NULL;
	_cleanup_free_ char *buf = malloc(READ_BLOCK);
	struct source src = {.fd = blob_fd, .buf = buf};
	struct stream s = {0};
	struct archive_entry *e;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	int r;

	md = EVP_MD_CTX_new();
	raw = archive_read_new();
	tar = archive_read_new();
	if (!buf || !md || !raw || !tar ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		return cove_error_set(c->err, ENOMEM, "layer %s: out of memory",
				      c->name);
	/* gzip and zstd only, and never an external program */
	if (archive_read_support_filter_gzip(raw) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(raw) != ARCHIVE_OK ||
	    archive_read_support_format_raw(raw) != ARCHIVE_OK ||
	    archive_read_support_format_tar(tar) != ARCHIVE_OK ||
	    archive_read_support_format_empty(tar) != ARCHIVE_OK)
		return cove_error_set(c->err, ENOTSUP,
				      "layer %s: libarchive lacks gzip, zstd "
				      "or tar support",
				      c->name);
	s.raw = raw;
	s.md = md;
	s.max = c->o->max_size;
	c->stream = &s;
	if (archive_read_open(raw, &src, NULL, source_read, NULL) !=
	    ARCHIVE_OK) {
		if (src.nread != 0)
			return read_fail(c, raw, "cannot decompress");
		s.empty = true; /* an empty blob: an empty tar stream */
	} else {
		r = archive_read_next_header(raw, &e);
		if (r == ARCHIVE_EOF)
			s.empty = true;
		else if (r < ARCHIVE_WARN)
			return read_fail(c, raw, "cannot decompress");
		else if ((r = detect(c, raw, exp)) < 0)
			return r;
	}
	if (archive_read_open(tar, &s, NULL, stream_read, NULL) != ARCHIVE_OK)
		return read_fail(c, tar, "not a tar archive");
	for (;;) {
		r = archive_read_next_header(tar, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return read_fail(c, tar, "cannot read tar header");
		if (++c->st.entries > c->max_entries)
			return cove_error_set(
			    c->err, E2BIG, "layer %s: more than %llu entries",
			    c->name, (unsigned long long)c->max_entries);
		r = apply_entry(c, tar, e);
		if (r < 0)
			return r;
	}
	c->shown[0] = '\0';
	/* The diff_id covers the whole stream, padding after the tar too. */
	for (;;) {
		const void *b;
		la_ssize_t n = stream_read(tar, &s, &b);
		if (n < 0)
			return read_fail(c, tar, "cannot decompress");
		if (n == 0)
			break;
	}
	r = finish_dirs(c);
	if (r < 0)
		return r;
	if (EVP_DigestFinal_ex(md, digest, &dlen) != 1 || dlen != 32)
		return cove_error_set(c->err, EIO, "layer %s: sha256 failed",
				      c->name);
	memcpy(c->st.diff_id, "sha256:", 7);
	for (unsigned int i = 0; i < dlen; i++)
		snprintf(c->st.diff_id + 7 + 2 * i, 3, "%02x", digest[i]);
	c->st.uncompressed_size = s.total;
	c->st.compressed_size = src.nread;
	return 0;
}

int cove_layer_apply(int blob_fd, const char *media_type, int target_dirfd,
		     const struct cove_layer_opts *o,
		     struct cove_layer_stats *ret, struct cove_error *err)
{
	static const struct cove_layer_opts defaults = {0};
	enum cove_layer_compression exp;
	struct layer_ctx c = {
	    .o = o ? o : &defaults,
	    .root_fd = target_dirfd,
	    .cache_fd = -1,
	    .have_openat2 = true,
	    .err = err,
	};
	struct stat st;
	int r;

	c.name = c.o->name ? c.o->name : "(unnamed)";
	c.max_entries =
	    c.o->max_entries ? c.o->max_entries : COVE_LAYER_MAX_ENTRIES;
	r = cove_layer_media_type(media_type, &exp, err);
	if (r < 0)
		return cove_error_wrap(err, "layer %s", c.name);
	if (fstat(target_dirfd, &st) < 0 || !S_ISDIR(st.st_mode))
		return cove_error_set(err, ENOTDIR,
				      "layer %s: target is not a directory",
				      c.name);
	c.root = geteuid() == 0;
	c.can_mknod = c.root && !cove_in_user_namespace();
	r = run(&c, blob_fd, exp);
	c.stream = NULL; /* lived in run()'s frame */
	if (r >= 0 && ret)
		*ret = c.st;
	ctx_release(&c);
	return r < 0 ? r : 0;
}
