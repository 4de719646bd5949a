/*
 * Snapshots (see snapshot.h): layer unpacking keyed by chain id, crash-safe
 * commit, overlay mounts and the copy-based vfs fallback.
 */
#include "image/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

/* The kernel's overlay stack limit (FILESYSTEM_MAX_STACK_DEPTH-ish). */
#define MAX_LAYERS 500
#define MAX_ID_LEN 128

struct cove_snapshotter {
	char *root;
	char *dir;  /* <root>/<driver> */
	char *cdir; /* <root>/<driver>-containers */
	const char *driver;
	bool overlay;
	bool rootless;
	bool squash_ids;
	struct cove_idmap_range *uid_map, *gid_map;
	size_t uid_map_len, gid_map_len;
};

/* "sha256:" + 64 lowercase hex */
static bool valid_digest(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static bool valid_hex(const char *h)
{
	if (strlen(h) != 64)
		return false;
	for (const char *p = h; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* Container ids name directories: a conservative alphabet, no '/'. */
static bool valid_id(const char *id)
{
	size_t len = id ? strlen(id) : 0;

	if (len == 0 || len > MAX_ID_LEN || id[0] == '.' || id[0] == '-')
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
		      *p == '.'))
			return false;
	return true;
}

int cove_chain_id(const char *parent, const char *diff_id, char *ret,
		  struct cove_error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *ctx;
	int ok;

	if (!valid_digest(diff_id))
		return cove_error_set(err, EINVAL, "invalid diff_id '%s'",
				      diff_id ? diff_id : "");
	if (!parent || !*parent) {
		memcpy(ret, diff_id, 72);
		return 0;
	}
	if (!valid_digest(parent))
		return cove_error_set(err, EINVAL, "invalid chain id '%s'",
				      parent);
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return cove_error_set(err, ENOMEM, "out of memory");
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, parent, strlen(parent)) == 1 &&
	     EVP_DigestUpdate(ctx, " ", 1) == 1 &&
	     EVP_DigestUpdate(ctx, diff_id, strlen(diff_id)) == 1 &&
	     EVP_DigestFinal_ex(ctx, md, &n) == 1 && n == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return cove_error_set(err, EIO, "sha256 failed");
	memcpy(ret, "sha256:", 7);
	for (unsigned int i = 0; i < n; i++)
		snprintf(ret + 7 + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static bool overlay_available(void)
{
	_cleanup_free_ char *buf = NULL;

	if (cove_read_file("/proc/filesystems", 1 << 16, &buf, NULL) < 0)
		return false;
	return strstr(buf, "\toverlay\n") != NULL;
}

static int copy_map(const struct cove_idmap_range *in, size_t n,
		    struct cove_idmap_range **ret)
{
	if (n == 0)
		return 0;
	*ret = calloc(n, sizeof(*in));
	if (!*ret)
		return -ENOMEM;
	memcpy(*ret, in, n * sizeof(*in));
	return 0;
}

void cove_snapshotter_free(struct cove_snapshotter *s)
{
	if (!s)
		return;
	free(s->root);
	free(s->dir);
	free(s->cdir);
	free(s->uid_map);
	free(s->gid_map);
	free(s);
}

static void snapshotter_freep(struct cove_snapshotter **s)
{
	cove_snapshotter_free(*s);
}

int cove_snapshotter_open(const char *root, const struct cove_snapshot_opts *o,
			  struct cove_snapshotter **ret, struct cove_error *err)
{
	static const struct cove_snapshot_opts defaults = {0};
	_cleanup_(snapshotter_freep) struct cove_snapshotter *s = NULL;
	int r;

	if (!o)
		o = &defaults;
	s = calloc(1, sizeof(*s));
	if (!s)
		return cove_error_set(err, ENOMEM, "out of memory");
	if (!o->driver || !strcmp(o->driver, "auto"))
		s->overlay = overlay_available();
	else if (!strcmp(o->driver, "overlay"))
		s->overlay = true;
	else if (strcmp(o->driver, "vfs"))
		return cove_error_set(
		    err, EINVAL, "unknown snapshot driver '%s'", o->driver);
	s->driver = s->overlay ? "overlay" : "vfs";
	s->rootless = o->rootless;
	s->squash_ids = o->squash_ids;
	s->root = strdup(root);
	s->dir = cove_strdup_printf("%s/%s", root, s->driver);
	s->cdir = cove_strdup_printf("%s/%s-containers", root, s->driver);
	if (!s->root || !s->dir || !s->cdir ||
	    copy_map(o->uid_map, o->uid_map_len, &s->uid_map) < 0 ||
	    copy_map(o->gid_map, o->gid_map_len, &s->gid_map) < 0)
		return cove_error_set(err, ENOMEM, "out of memory");
	s->uid_map_len = o->uid_map_len;
	s->gid_map_len = o->gid_map_len;
	r = cove_mkdir_p(s->dir, 0700);
	if (r == 0)
		r = cove_mkdir_p(s->cdir, 0700);
	if (r < 0)
		return cove_error_setx(err, r, "cannot create '%s'", s->dir);
	*ret = TAKE_PTR(s);
	return 0;
}

const char *cove_snapshotter_driver(const struct cove_snapshotter *s)
{
	return s->driver;
}

/* <dir>/<hex>[/<leaf>]; NULL on ENOMEM. */
static char *snap_path(struct cove_snapshotter *s, const char *chain_id,
		       const char *leaf)
{
	return cove_strdup_printf("%s/%s%s%s", s->dir, chain_id + 7,
				  leaf ? "/" : "", leaf ? leaf : "");
}

bool cove_snapshot_exists(struct cove_snapshotter *s, const char *chain_id)
{
	_cleanup_free_ char *p = NULL;
	struct stat st;

	if (!valid_digest(chain_id))
		return false;
	p = snap_path(s, chain_id, "diff");
	return p && lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

char *cove_snapshot_path(struct cove_snapshotter *s, const char *chain_id)
{
	if (!valid_digest(chain_id))
		return NULL;
	return snap_path(s, chain_id, "diff");
}

/* Read a small metadata file ("parent", "diff-id", "chain") into @buf. */
static int read_meta(int dirfd, const char *name, char *buf, size_t size)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = cove_read_file_at(dirfd, name, size - 1, &data, &len);

	if (r < 0)
		return r;
	while (len > 0 && data[len - 1] == '\n')
		len--;
	memcpy(buf, data, len);
	buf[len] = '\0';
	return 0;
}

static int read_parent(struct cove_snapshotter *s, const char *chain_id,
		       char *parent)
{
	_cleanup_free_ char *p = snap_path(s, chain_id, NULL);
	_cleanup_close_ int fd = -1;
	int r;

	if (!p)
		return -ENOMEM;
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = read_meta(fd, "parent", parent, COVE_CHAIN_ID_MAX);
	if (r < 0)
		return r;
	if (*parent && !valid_digest(parent))
		return -EBADMSG;
	return 0;
}

/*
 * Remove what a crash left behind: tmp-* (an unpack never committed) and
 * rm-* (a removal never finished).  Only under the exclusive lock, so never
 * under a running prepare; then the lock is taken shared for our own.
 */
static int lock_and_clean(struct cove_snapshotter *s, int *ret_fd,
			  struct cove_error *err)
{
	_cleanup_free_ char *lock = cove_strdup_printf("%s/.lock", s->dir);
	_cleanup_close_ int fd = -1;

	if (!lock)
		return cove_error_set(err, ENOMEM, "out of memory");
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return cove_error_setx(err, errno, "cannot open '%s'", lock);
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		_cleanup_closedir_ DIR *d = opendir(s->dir);
		struct dirent *de;

		while (d && (de = readdir(d))) {
			_cleanup_free_ char *p = NULL;

			if (strncmp(de->d_name, "tmp-", 4) &&
			    strncmp(de->d_name, "rm-", 3))
				continue;
			p = cove_strdup_printf("%s/%s", s->dir, de->d_name);
			if (p)
				(void)cove_rm_rf(p);
		}
	}
	if (flock(fd, LOCK_SH) < 0)
		return cove_error_setx(err, errno, "cannot lock '%s'", lock);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* ---- tree copy (vfs) ---- */

struct link_seen {
	dev_t dev;
	ino_t ino;
	char *path; /* relative to the destination root */
};

struct copy_ctx {
	int dst_root;
	struct link_seen *links;
	size_t n_links, cap_links;
	char path[PATH_MAX];
	struct cove_error *err;
};

static int copy_fail(struct copy_ctx *c, int code, const char *what)
{
	return cove_error_setx(c->err, code, "cannot copy '%s': %s", c->path,
			       what);
}

static int copy_xattrs(struct copy_ctx *c, int sfd, int dfd, const char *sproc,
		       const char *dproc)
{
	char names[8192], value[65536];
	ssize_t len = sfd >= 0 ? flistxattr(sfd, names, sizeof(names))
			       : llistxattr(sproc, names, sizeof(names));

	if (len < 0)
		return errno == ENOTSUP ? 0 : copy_fail(c, errno, "listxattr");
	for (char *n = names; n < names + len; n += strlen(n) + 1) {
		ssize_t vlen = sfd >= 0
				   ? fgetxattr(sfd, n, value, sizeof(value))
				   : lgetxattr(sproc, n, value, sizeof(value));
		int r;

		if (vlen < 0)
			return copy_fail(c, errno, "getxattr");
		r = dfd >= 0 ? fsetxattr(dfd, n, value, (size_t)vlen, 0)
			     : lsetxattr(dproc, n, value, (size_t)vlen, 0);
		if (r < 0 && errno != ENOTSUP && errno != EPERM)
			return copy_fail(c, errno, "setxattr");
	}
	return 0;
}

static int copy_data(int sfd, int dfd)
{
	if (ioctl(dfd, FICLONE, sfd) == 0)
		return 0;
	for (;;) {
		ssize_t n = copy_file_range(sfd, NULL, dfd, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL &&
		    errno != EOPNOTSUPP)
			return -errno;
		break;
	}
	for (;;) {
		char buf[65536];
		ssize_t n = read(sfd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		n = cove_write_all(dfd, buf, (size_t)n);
		if (n < 0)
			return (int)n;
	}
}

static int copy_dir(struct copy_ctx *c, int sdir, int ddir, size_t plen);

static int copy_entry(struct copy_ctx *c, int sdir, int ddir, const char *name,
		      size_t plen)
{
	char sproc[PATH_MAX + 64], dproc[PATH_MAX + 64];
	struct timespec ts[2];
	struct stat st;
	int r;

	if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return copy_fail(c, errno, "stat");
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	snprintf(sproc, sizeof(sproc), "/proc/self/fd/%d/%s", sdir, name);
	snprintf(dproc, sizeof(dproc), "/proc/self/fd/%d/%s", ddir, name);

	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int sfd = -1, dfd = -1;

		if (mkdirat(ddir, name, 0700) < 0)
			return copy_fail(c, errno, "mkdir");
		sfd = openat(sdir, name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		dfd = openat(ddir, name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0 || dfd < 0)
			return copy_fail(c, errno, "open");
		r = copy_dir(c, sfd, dfd, plen);
		if (r < 0)
			return r;
		if (fchown(dfd, st.st_uid, st.st_gid) < 0 ||
		    fchmod(dfd, st.st_mode & 07777) < 0)
			return copy_fail(c, errno, "chown/chmod");
		r = copy_xattrs(c, sfd, dfd, NULL, NULL);
		if (r < 0)
			return r;
		return futimens(dfd, ts) < 0 ? copy_fail(c, errno, "utimens")
					     : 0;
	}
	if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int sfd = -1, dfd = -1;

		if (st.st_nlink > 1) {
			for (size_t i = 0; i < c->n_links; i++)
				if (c->links[i].dev == st.st_dev &&
				    c->links[i].ino == st.st_ino)
					return linkat(c->dst_root,
						      c->links[i].path, ddir,
						      name, 0) < 0
						   ? copy_fail(c, errno, "link")
						   : 0;
			if (c->n_links == c->cap_links) {
				size_t cap =
				    c->cap_links ? c->cap_links * 2 : 64;
				struct link_seen *nl =
				    reallocarray(c->links, cap, sizeof(*nl));
				if (!nl)
					return copy_fail(c, ENOMEM, "alloc");
				c->links = nl;
				c->cap_links = cap;
			}
			c->links[c->n_links] = (struct link_seen){
			    st.st_dev, st.st_ino, strdup(c->path)};
			if (!c->links[c->n_links].path)
				return copy_fail(c, ENOMEM, "alloc");
			c->n_links++;
		}
		sfd = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0)
			return copy_fail(c, errno, "open");
		dfd = openat(
		    ddir, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (dfd < 0)
			return copy_fail(c, errno, "create");
		r = copy_data(sfd, dfd);
		if (r < 0)
			return copy_fail(c, -r, "data");
		if (fchown(dfd, st.st_uid, st.st_gid) < 0 ||
		    fchmod(dfd, st.st_mode & 07777) < 0)
			return copy_fail(c, errno, "chown/chmod");
		r = copy_xattrs(c, sfd, dfd, NULL, NULL);
		if (r < 0)
			return r;
		return futimens(dfd, ts) < 0 ? copy_fail(c, errno, "utimens")
					     : 0;
	}
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(sdir, name, target, sizeof(target) - 1);

		if (n < 0)
			return copy_fail(c, errno, "readlink");
		target[n] = '\0';
		if (symlinkat(target, ddir, name) < 0)
			return copy_fail(c, errno, "symlink");
	} else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) ||
		   S_ISBLK(st.st_mode)) {
		if (mknodat(ddir, name, st.st_mode & S_IFMT, st.st_rdev) < 0)
			return copy_fail(c, errno, "mknod");
	} else {
		return 0; /* sockets */
	}
	if (fchownat(ddir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return copy_fail(c, errno, "chown");
	/* the node was just made here, by us: no symlink to follow */
	if (!S_ISLNK(st.st_mode) &&
	    fchmodat(ddir, name, st.st_mode & 07777, 0) < 0)
		return copy_fail(c, errno, "chmod");
	r = copy_xattrs(c, -1, -1, sproc, dproc);
	if (r < 0)
		return r;
	if (utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return copy_fail(c, errno, "utimens");
	return 0;
}

static int copy_dir(struct copy_ctx *c, int sdir, int ddir, size_t plen)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = openat(sdir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return copy_fail(c, errno, "open");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return copy_fail(c, errno, "opendir");
	}
	while ((de = readdir(d))) {
		size_t nlen = strlen(de->d_name);
		int r;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (plen + 1 + nlen + 1 > sizeof(c->path))
			return cove_error_set(c->err, ENAMETOOLONG,
					      "path too long under '%s'",
					      c->path);
		if (plen)
			c->path[plen] = '/';
		memcpy(c->path + plen + (plen ? 1 : 0), de->d_name, nlen + 1);
		r = copy_entry(c, dirfd(d), ddir, de->d_name,
			       plen + (plen ? 1 : 0) + nlen);
		c->path[plen] = '\0';
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Copy the tree @sfd into the (empty) directory @dfd, keeping owners,
 * modes, xattrs, times, hard links and device nodes; the top directory's
 * own metadata too.  Files are reflinked where the file system can.
 */
static int copy_tree(int sfd, int dfd, struct cove_error *err)
{
	struct copy_ctx c = {.dst_root = dfd, .err = err};
	struct timespec ts[2];
	struct stat st;
	int r;

	r = copy_dir(&c, sfd, dfd, 0);
	for (size_t i = 0; i < c.n_links; i++)
		free(c.links[i].path);
	free(c.links);
	if (r < 0)
		return r;
	if (fstat(sfd, &st) < 0)
		return cove_error_setx(err, errno, "cannot stat snapshot");
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	if (fchown(dfd, st.st_uid, st.st_gid) < 0 ||
	    fchmod(dfd, st.st_mode & 07777) < 0 || futimens(dfd, ts) < 0)
		return cove_error_setx(err, errno, "cannot copy snapshot root");
	return 0;
}

/* ---- prepare ---- */

static int chain_lowers(struct cove_snapshotter *s, const char *chain_id,
			char ***ret, struct cove_error *err);

static void close_fds(int **fds)
{
	if (!*fds)
		return;
	for (size_t i = 0; (*fds)[i] != -2; i++)
		if ((*fds)[i] >= 0)
			close((*fds)[i]);
	free(*fds);
}

/*
 * Overlay: the diff dirs of @parent's chain, newest first, as O_PATH fds
 * (ended by -2 for close_fds()), for the layer to copy directories and hard
 * link targets from.
 */
static int open_lowers(struct cove_snapshotter *s, const char *parent,
		       int **ret, size_t *ret_n, struct cove_error *err)
{
	_cleanup_strv_ char **lowers = NULL;
	size_t n;
	int *fds, r;

	r = chain_lowers(s, parent, &lowers, err);
	if (r < 0)
		return r;
	n = cove_strv_length(lowers);
	fds = calloc(n + 1, sizeof(*fds));
	if (!fds)
		return cove_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i <= n; i++)
		fds[i] = i < n ? -1 : -2;
	*ret = fds;
	for (size_t i = 0; i < n; i++) {
		fds[i] = open(lowers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fds[i] < 0)
			return cove_error_setx(
			    err, errno, "cannot open layer '%s'", lowers[i]);
	}
	*ret_n = n;
	return 0;
}

static int unpack_one(struct cove_snapshotter *s,
		      const struct cove_snapshot_layer *l, const char *parent,
		      const char *chain_id, struct cove_error *err)
{
	_cleanup_free_ char *tmp = NULL, *final = NULL, *ppath = NULL;
	_cleanup_close_ int tfd = -1, dfd = -1, bfd = -1, dirfd = -1;
	_cleanup_(close_fds) int *lowers = NULL;
	struct cove_layer_opts lo = {
	    .name = l->name ? l->name : l->diff_id,
	    .overlay_whiteouts = s->overlay,
	    .userxattr = s->overlay && s->rootless,
	    .skip_devices = s->rootless,
	    .no_chown = s->squash_ids,
	    .uid_map = s->uid_map,
	    .uid_map_len = s->uid_map_len,
	    .gid_map = s->gid_map,
	    .gid_map_len = s->gid_map_len,
	};
	struct cove_layer_stats st;
	int blob, r;

	tmp = cove_strdup_printf("%s/tmp-%.12s-XXXXXX", s->dir, chain_id + 7);
	final = snap_path(s, chain_id, NULL);
	if (!tmp || !final)
		return cove_error_set(err, ENOMEM, "out of memory");
	if (!mkdtemp(tmp))
		return cove_error_setx(err, errno, "cannot create '%s'",
				       s->dir);
	tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0 || mkdirat(tfd, "diff", 0755) < 0) {
		r = cove_error_setx(err, errno, "cannot create '%s/diff'", tmp);
		goto fail;
	}
	dfd = openat(tfd, "diff", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fchmod(dfd, 0755) < 0) {
		r = cove_error_setx(err, errno, "cannot open '%s/diff'", tmp);
		goto fail;
	}
	if (!s->overlay && *parent) {
		_cleanup_close_ int pfd = -1;

		ppath = snap_path(s, parent, "diff");
		pfd = ppath ? open(ppath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
			    : -1;
		if (pfd < 0) {
			r = cove_error_setx(err, ppath ? errno : ENOMEM,
					    "cannot open snapshot '%s'",
					    parent);
			goto fail;
		}
		r = copy_tree(pfd, dfd, err);
		if (r < 0)
			goto fail;
	}
	if (s->overlay && *parent) {
		r = open_lowers(s, parent, &lowers, &lo.n_lower, err);
		if (r < 0)
			goto fail;
		lo.lower_dirfds = lowers;
	}
	blob = l->blob_fd;
	if (l->blob_path) {
		bfd = open(l->blob_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (bfd < 0) {
			r = cove_error_setx(err, errno, "cannot open blob '%s'",
					    l->blob_path);
			goto fail;
		}
		blob = bfd;
	}
	r = cove_layer_apply(blob, l->media_type, dfd, &lo, &st, err);
	if (r < 0)
		goto fail;
	if (strcmp(st.diff_id, l->diff_id)) {
		r = cove_error_set(err, EBADMSG,
				   "layer %s: content does not match its "
				   "diff_id: config says %s, content is %s",
				   lo.name, l->diff_id, st.diff_id);
		goto fail;
	}
	r = cove_write_file_replace_at(tfd, "parent", parent, strlen(parent),
				       0644);
	if (r == 0)
		r = cove_write_file_replace_at(tfd, "diff-id", l->diff_id,
					       strlen(l->diff_id), 0644);
	if (r < 0) {
		r = cove_error_setx(err, r, "cannot write metadata in '%s'",
				    tmp);
		goto fail;
	}
	/* One sync for the whole tree: the commit below must be durable. */
	if (syncfs(tfd) < 0) {
		r = cove_error_setx(err, errno, "cannot sync '%s'", tmp);
		goto fail;
	}
	if (rename(tmp, final) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY) {
			/* another prepare committed it first */
			(void)cove_rm_rf(tmp);
			return 0;
		}
		r = cove_error_setx(err, errno, "cannot commit '%s'", final);
		goto fail;
	}
	dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd >= 0)
		(void)fsync(dirfd);
	return 0;
fail:
	(void)cove_rm_rf(tmp);
	return r;
}

int cove_snapshot_prepare(struct cove_snapshotter *s,
			  const struct cove_snapshot_layer *layers, size_t n,
			  char *ret_chain_id, size_t *ret_unpacked,
			  struct cove_error *err)
{
	_cleanup_close_ int lock = -1;
	char parent[COVE_CHAIN_ID_MAX] = "", chain[COVE_CHAIN_ID_MAX];
	size_t unpacked = 0;
	int r;

	if (n > MAX_LAYERS)
		return cove_error_set(err, E2BIG,
				      "too many layers: %zu (at most %d)", n,
				      MAX_LAYERS);
	r = lock_and_clean(s, &lock, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		r = cove_chain_id(*parent ? parent : NULL, layers[i].diff_id,
				  chain, err);
		if (r < 0)
			return cove_error_wrap(err, "layer %zu", i);
		if (!cove_snapshot_exists(s, chain)) {
			r = unpack_one(s, &layers[i], parent, chain, err);
			if (r < 0)
				return r;
			unpacked++;
		}
		memcpy(parent, chain, sizeof(chain));
	}
	if (ret_chain_id)
		memcpy(ret_chain_id, parent, sizeof(parent));
	if (ret_unpacked)
		*ret_unpacked = unpacked;
	return 0;
}

/* ---- container root file systems ---- */

static char *cont_path(struct cove_snapshotter *s, const char *id,
		       const char *leaf)
{
	return cove_strdup_printf("%s/%s%s%s", s->cdir, id, leaf ? "/" : "",
				  leaf ? leaf : "");
}

static bool is_mountpoint(const char *path)
{
	_cleanup_free_ char *up = cove_strdup_printf("%s/..", path);
	struct stat a, b;

	/* bind mounts of the same file system too (statx), or st_dev */
	if (cove_is_mount_root(AT_FDCWD, path))
		return true;
	return up && stat(path, &a) == 0 && stat(up, &b) == 0 &&
	       (a.st_dev != b.st_dev || a.st_ino == b.st_ino);
}

/* The diff dirs of @chain_id and its ancestors, newest first. */
static int chain_lowers(struct cove_snapshotter *s, const char *chain_id,
			char ***ret, struct cove_error *err)
{
	_cleanup_strv_ char **v = NULL;
	char cur[COVE_CHAIN_ID_MAX], parent[COVE_CHAIN_ID_MAX];
	int r;

	memcpy(cur, chain_id, sizeof(cur));
	for (int depth = 0;; depth++) {
		_cleanup_free_ char *p = NULL;

		if (depth >= MAX_LAYERS)
			return cove_error_set(
			    err, ELOOP,
			    "snapshot '%s': chain deeper than "
			    "%d layers",
			    chain_id, MAX_LAYERS);
		if (!cove_snapshot_exists(s, cur))
			return cove_error_set(
			    err, ENOENT, "snapshot '%s' does not exist", cur);
		p = snap_path(s, cur, "diff");
		if (!p || cove_strv_push(&v, p) < 0)
			return cove_error_set(err, ENOMEM, "out of memory");
		r = read_parent(s, cur, parent);
		if (r < 0)
			return cove_error_setx(err, r,
					       "snapshot '%s': cannot read "
					       "its parent",
					       cur);
		if (!*parent)
			break;
		memcpy(cur, parent, sizeof(cur));
	}
	*ret = TAKE_PTR(v);
	return 0;
}

/* The kernel's reason, queued on an fs context fd ("e overlay: ..."). */
static void fs_context_msg(int fsfd, char *buf, size_t size)
{
	char line[512];
	ssize_t n;

	buf[0] = '\0';
	while ((n = read(fsfd, line, sizeof(line) - 1)) > 0) {
		line[n] = '\0';
		if (line[0] == 'e' && line[1] == ' ')
			snprintf(buf, size, " (%s)", line + 2);
	}
}

/* mount(2) with one option string, for kernels before "lowerdir+" (6.8). */
static int overlay_mount_legacy(struct cove_snapshotter *s, char **lowers,
				const char *upper, const char *work,
				const char *merged, struct cove_error *err)
{
	char data[4096];
	size_t len = 0;
	int n;

	for (char **l = lowers; *l; l++) {
		if (strpbrk(*l, ":,\\"))
			return cove_error_set(err, EINVAL,
					      "overlay path '%s' has ':', ',' "
					      "or '\\'",
					      *l);
		n = snprintf(data + len, sizeof(data) - len, "%s%s",
			     l == lowers ? "lowerdir=" : ":", *l);
		if (n < 0 || (size_t)n >= sizeof(data) - len)
			return cove_error_set(err, E2BIG,
					      "overlay options for %zu layers "
					      "exceed a page (kernel < 6.8)",
					      cove_strv_length(lowers));
		len += (size_t)n;
	}
	n = snprintf(data + len, sizeof(data) - len,
		     ",upperdir=%s,workdir=%s%s", upper, work,
		     s->rootless ? ",userxattr" : "");
	if (n < 0 || (size_t)n >= sizeof(data) - len)
		return cove_error_set(err, E2BIG,
				      "overlay options exceed a page");
	if (mount("overlay", merged, "overlay", 0, data) < 0)
		return cove_error_setx(err, errno,
				       "cannot mount overlay on '%s'", merged);
	return 0;
}

/*
 * The new mount API adds lower layers one by one ("lowerdir+", 6.8), so
 * that a deep image is not limited by the page-sized option string of
 * mount(2), and returns the kernel's reason on failure.
 */
static int overlay_mount(struct cove_snapshotter *s, char **lowers,
			 const char *upper, const char *work,
			 const char *merged, struct cove_error *err)
{
	_cleanup_close_ int fsfd = -1, mfd = -1;
	char msg[256];

	fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0) {
		if (errno == ENOSYS)
			return overlay_mount_legacy(s, lowers, upper, work,
						    merged, err);
		return cove_error_setx(err, errno, "cannot open overlay");
	}
	for (char **l = lowers; *l; l++)
		if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", *l, 0) <
		    0) {
			if (l == lowers && errno == EINVAL)
				return overlay_mount_legacy(s, lowers, upper,
							    work, merged, err);
			fs_context_msg(fsfd, msg, sizeof(msg));
			return cove_error_setx(
			    err, errno, "overlay lower dir '%s'%s", *l, msg);
		}
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", work, 0) < 0 ||
	    (s->rootless &&
	     fsconfig(fsfd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0) ||
	    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		int e = errno;
		fs_context_msg(fsfd, msg, sizeof(msg));
		return cove_error_setx(err, e, "cannot mount overlay on '%s'%s",
				       merged, msg);
	}
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
	if (mfd < 0 ||
	    move_mount(mfd, "", AT_FDCWD, merged, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return cove_error_setx(err, errno,
				       "cannot mount overlay on '%s'", merged);
	return 0;
}

static int mkdir_at(int dfd, const char *name, mode_t mode, bool *ret_made)
{
	if (mkdirat(dfd, name, mode) == 0) {
		if (ret_made)
			*ret_made = true;
		return 0;
	}
	if (ret_made)
		*ret_made = false;
	return errno == EEXIST ? 0 : -errno;
}

/* The container's directory, recording (or checking) its chain id. */
static int open_container(struct cove_snapshotter *s, const char *id,
			  const char *chain_id, int *ret_fd,
			  struct cove_error *err)
{
	_cleanup_free_ char *p = cont_path(s, id, NULL);
	_cleanup_close_ int fd = -1;
	char old[COVE_CHAIN_ID_MAX];
	int r;

	if (!p)
		return cove_error_set(err, ENOMEM, "out of memory");
	r = mkdir_at(AT_FDCWD, p, 0700, NULL);
	if (r < 0)
		return cove_error_setx(err, r, "cannot create '%s'", p);
	fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cove_error_setx(err, errno, "cannot open '%s'", p);
	r = read_meta(fd, "chain", old, sizeof(old));
	if (r == -ENOENT) {
		r = cove_write_file_atomic_at(fd, "chain", chain_id,
					      strlen(chain_id), 0644);
		if (r < 0)
			return cove_error_setx(err, r,
					       "cannot write '%s/chain'", p);
	} else if (r < 0) {
		return cove_error_setx(err, r, "cannot read '%s/chain'", p);
	} else if (strcmp(old, chain_id)) {
		return cove_error_set(err, EEXIST,
				      "container '%s' already has a rootfs on "
				      "another image (%s)",
				      id, *old ? old : "empty");
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/*
 * @lower seen through an idmapped mount of @userns_fd, attached at
 * <container>/lower-@i (made, or reused when already there).  *ret is
 * that path.
 */
static int idmap_lower(struct cove_snapshotter *s, int cfd, const char *id,
		       size_t i, const char *lower, int userns_fd, char **ret,
		       struct cove_error *err)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP,
				  .userns_fd = (uint64_t)userns_fd};
	_cleanup_close_ int tree = -1;
	char name[32];
	_cleanup_free_ char *path = NULL;
	int r;

	snprintf(name, sizeof(name), "lower-%zu", i);
	path = cont_path(s, id, name);
	if (!path)
		return cove_error_set(err, ENOMEM, "out of memory");
	r = mkdir_at(cfd, name, 0700, NULL);
	if (r < 0)
		return cove_error_setx(err, r, "cannot create '%s'", path);
	if (!is_mountpoint(path)) {
		tree = (int)syscall(SYS_open_tree, AT_FDCWD, lower,
				    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (tree < 0)
			return cove_error_setx(
			    err, errno, "cannot clone layer '%s'", lower);
		if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr,
			    sizeof(attr)) < 0)
			return cove_error_setx(
			    err, errno, "cannot idmap layer '%s'", lower);
		if (move_mount(tree, "", AT_FDCWD, path,
			       MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return cove_error_setx(
			    err, errno, "cannot attach layer '%s'", lower);
	}
	*ret = TAKE_PTR(path);
	return 0;
}

/* Unmount the idmapped layers of container @id (lower-0, lower-1...). */
static void unmount_idmapped_lowers(struct cove_snapshotter *s, const char *id)
{
	for (size_t i = 0;; i++) {
		char name[32];
		_cleanup_free_ char *path = NULL;
		struct stat st;

		snprintf(name, sizeof(name), "lower-%zu", i);
		path = cont_path(s, id, name);
		if (!path || lstat(path, &st) < 0)
			return;
		if (is_mountpoint(path) && umount2(path, UMOUNT_NOFOLLOW) < 0 &&
		    errno == EBUSY)
			(void)umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW);
	}
}

struct idmap_req {
	int userns_fd;
};

static int mount_overlay_container(struct cove_snapshotter *s, int cfd,
				   const char *id, const char *chain_id,
				   const struct idmap_req *map, char **ret_path,
				   struct cove_error *err)
{
	_cleanup_free_ char *upper = cont_path(s, id, "upper"),
			    *work = cont_path(s, id, "work"),
			    *merged = cont_path(s, id, "merged"), *empty = NULL;
	_cleanup_strv_ char **lowers = NULL;
	bool made_upper;
	struct stat st;
	int r;

	if (!upper || !work || !merged)
		return cove_error_set(err, ENOMEM, "out of memory");
	r = mkdir_at(cfd, "upper", 0755, &made_upper);
	if (r == 0)
		r = mkdir_at(cfd, "work", 0700, NULL);
	if (r == 0)
		r = mkdir_at(cfd, "merged", 0755, NULL);
	if (r < 0)
		return cove_error_setx(err, r,
				       "cannot create the directories "
				       "of container '%s'",
				       id);
	if (is_mountpoint(merged)) {
		*ret_path = TAKE_PTR(merged);
		return 0;
	}
	if (*chain_id) {
		r = chain_lowers(s, chain_id, &lowers, err);
		if (r < 0)
			return r;
	} else {
		/* an image without layers: overlay needs one lower dir */
		empty = cove_strdup_printf("%s/empty", s->dir);
		if (!empty || cove_strv_push(&lowers, empty) < 0)
			return cove_error_set(err, ENOMEM, "out of memory");
		r = mkdir_at(AT_FDCWD, empty, 0755, NULL);
		if (r < 0)
			return cove_error_setx(err, r, "cannot create '%s'",
					       empty);
	}
	/*
	 * The merged root takes the upper dir's owner and mode: give it
	 * those of the image's root, once (later the container owns it).
	 */
	if (map) {
		/*
		 * The layers through idmapped mounts: the container's root
		 * sees the image's owners; what it writes lands in the upper
		 * dir with its own host ids, and copy-ups keep the mapped
		 * owners.
		 */
		for (size_t i = 0; lowers[i]; i++) {
			char *mapped = NULL;
			r = idmap_lower(s, cfd, id, i, lowers[i],
					map->userns_fd, &mapped, err);
			if (r < 0)
				return r;
			free(lowers[i]);
			lowers[i] = mapped;
		}
	}
	if (made_upper && stat(lowers[0], &st) == 0 &&
	    (fchownat(cfd, "upper", st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) <
		 0 ||
	     fchmodat(cfd, "upper", st.st_mode & 07777, 0) < 0))
		return cove_error_setx(err, errno, "cannot set up '%s'", upper);
	r = overlay_mount(s, lowers, upper, work, merged, err);
	if (r < 0)
		return r;
	*ret_path = TAKE_PTR(merged);
	return 0;
}

static int copy_vfs_container(struct cove_snapshotter *s, int cfd,
			      const char *id, const char *chain_id,
			      char **ret_path, struct cove_error *err)
{
	_cleanup_free_ char *rootfs = cont_path(s, id, "rootfs"),
			    *tmp = cont_path(s, id, "rootfs.tmp"), *src = NULL;
	_cleanup_close_ int sfd = -1, dfd = -1;
	struct stat st;
	int r;

	if (!rootfs || !tmp)
		return cove_error_set(err, ENOMEM, "out of memory");
	if (lstat(rootfs, &st) == 0) {
		*ret_path = TAKE_PTR(rootfs);
		return 0;
	}
	(void)cove_rm_rf(tmp); /* from an interrupted copy */
	r = mkdir_at(AT_FDCWD, tmp, 0755, NULL);
	dfd = r < 0 ? -1 : open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cove_error_setx(err, r < 0 ? r : errno,
				       "cannot create '%s'", tmp);
	if (*chain_id) {
		if (!cove_snapshot_exists(s, chain_id))
			return cove_error_set(err, ENOENT,
					      "snapshot '%s' does not exist",
					      chain_id);
		src = snap_path(s, chain_id, "diff");
		sfd = src ? open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
		if (sfd < 0)
			return cove_error_setx(err, src ? errno : ENOMEM,
					       "cannot open '%s'", src);
		r = copy_tree(sfd, dfd, err);
		if (r < 0) {
			(void)cove_rm_rf(tmp);
			return r;
		}
	}
	if (syncfs(dfd) < 0 || rename(tmp, rootfs) < 0) {
		r = cove_error_setx(err, errno, "cannot commit '%s'", rootfs);
		(void)cove_rm_rf(tmp);
		return r;
	}
	*ret_path = TAKE_PTR(rootfs);
	return 0;
}

/*
 * A read-only overlay of @lowers (newest first) as a detached mount: no
 * path ever shows it, and closing the returned fd undoes it.  One lower
 * dir alone is not an overlay the kernel accepts without an upper dir, so
 * the (empty) <dir>/empty goes below the layers.
 */
static int overlay_detached(struct cove_snapshotter *s, char **lowers,
			    int *ret_fd, struct cove_error *err)
{
	_cleanup_free_ char *empty = cove_strdup_printf("%s/empty", s->dir);
	_cleanup_free_ char *joined = NULL;
	_cleanup_close_ int fsfd = -1, mfd = -1;
	size_t len = 0;
	char msg[256];
	int r;

	if (!empty)
		return cove_error_set(err, ENOMEM, "out of memory");
	r = mkdir_at(AT_FDCWD, empty, 0755, NULL);
	if (r < 0)
		return cove_error_setx(err, r, "cannot create '%s'", empty);
	for (char **l = lowers; *l; l++) {
		if (strpbrk(*l, ":,\\"))
			return cove_error_set(err, EINVAL,
					      "overlay path '%s' has ':', ',' "
					      "or '\\'",
					      *l);
		len += strlen(*l) + 1;
	}
	joined = malloc(len + strlen(empty) + 1);
	if (!joined)
		return cove_error_set(err, ENOMEM, "out of memory");
	len = 0;
	for (char **l = lowers; *l; l++)
		len +=
		    (size_t)snprintf(joined + len, strlen(*l) + 2, "%s:", *l);
	memcpy(joined + len, empty, strlen(empty) + 1);

	fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return cove_error_setx(err, errno, "cannot open overlay");
	/* "lowerdir+" (6.8) has no page limit; older kernels take the list */
	r = 0;
	for (char **l = lowers; *l && r == 0; l++)
		r = fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", *l, 0);
	if (r == 0)
		r = fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", empty, 0);
	if (r < 0 && errno == EINVAL && lowers[0]) {
		close(fsfd);
		fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
		if (fsfd < 0)
			return cove_error_setx(err, errno,
					       "cannot open overlay");
		r = fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir", joined, 0);
	}
	if (r == 0 && s->rootless)
		r = fsconfig(fsfd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0);
	if (r == 0)
		r = fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	if (r < 0) {
		int e = errno;
		fs_context_msg(fsfd, msg, sizeof(msg));
		return cove_error_setx(err, e, "cannot make an overlay of %s%s",
				       lowers[0], msg);
	}
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC,
		      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
	if (mfd < 0)
		return cove_error_setx(
		    err, errno, "cannot mount an overlay of %s", lowers[0]);
	*ret_fd = TAKE_FD(mfd);
	return 0;
}

int cove_snapshot_copy(struct cove_snapshotter *s, const char *chain_id,
		       int target_dirfd, struct cove_error *err)
{
	_cleanup_strv_ char **lowers = NULL;
	_cleanup_free_ char *src = NULL;
	_cleanup_close_ int mfd = -1, sfd = -1;
	int r;

	if (!chain_id || !*chain_id)
		return 0;
	if (!cove_snapshot_exists(s, chain_id))
		return cove_error_set(err, ENOENT,
				      "snapshot '%s' does not exist", chain_id);
	if (s->overlay) {
		r = chain_lowers(s, chain_id, &lowers, err);
		if (r < 0)
			return r;
		r = overlay_detached(s, lowers, &mfd, err);
		if (r < 0)
			return r;
		sfd = openat(mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		src = snap_path(s, chain_id, "diff");
		if (!src)
			return cove_error_set(err, ENOMEM, "out of memory");
		sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (sfd < 0)
		return cove_error_setx(err, errno, "cannot open snapshot '%s'",
				       chain_id);
	r = copy_tree(sfd, target_dirfd, err);
	if (r < 0)
		return r;
	if (syncfs(target_dirfd) < 0)
		return cove_error_setx(err, errno, "cannot sync the copy");
	return 0;
}

static int mount_container(struct cove_snapshotter *s, const char *id,
			   const char *chain_id, const struct idmap_req *map,
			   char **ret_path, struct cove_error *err)
{
	_cleanup_close_ int cfd = -1;
	int r;

	if (!chain_id)
		chain_id = "";
	if (!valid_id(id))
		return cove_error_set(err, EINVAL, "invalid container id '%s'",
				      id ? id : "");
	if (*chain_id && !valid_digest(chain_id))
		return cove_error_set(err, EINVAL, "invalid chain id '%s'",
				      chain_id);
	r = open_container(s, id, chain_id, &cfd, err);
	if (r < 0)
		return r;
	if (s->overlay)
		return mount_overlay_container(s, cfd, id, chain_id, map,
					       ret_path, err);
	return copy_vfs_container(s, cfd, id, chain_id, ret_path, err);
}

int cove_snapshot_mount(struct cove_snapshotter *s, const char *id,
			const char *chain_id, char **ret_path,
			struct cove_error *err)
{
	return mount_container(s, id, chain_id, NULL, ret_path, err);
}

int cove_snapshot_mount_idmapped(struct cove_snapshotter *s, const char *id,
				 const char *chain_id, int userns_fd,
				 char **ret_path, struct cove_error *err)
{
	struct idmap_req map = {.userns_fd = userns_fd};

	if (!s->overlay)
		return cove_error_set(err, ENOTSUP,
				      "idmapped layers need the overlay "
				      "driver");
	return mount_container(s, id, chain_id, &map, ret_path, err);
}

int cove_snapshot_unmount(struct cove_snapshotter *s, const char *id,
			  struct cove_error *err)
{
	_cleanup_free_ char *merged = NULL;

	if (!valid_id(id))
		return cove_error_set(err, EINVAL, "invalid container id '%s'",
				      id ? id : "");
	if (!s->overlay)
		return 0;
	merged = cont_path(s, id, "merged");
	if (!merged)
		return cove_error_set(err, ENOMEM, "out of memory");
	if (is_mountpoint(merged) && umount2(merged, UMOUNT_NOFOLLOW) < 0) {
		/* still busy (a process holds it): detach it all the same */
		if (errno != EBUSY ||
		    umount2(merged, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
			return cove_error_setx(err, errno,
					       "cannot unmount '%s'", merged);
	}
	unmount_idmapped_lowers(s, id);
	return 0;
}

int cove_snapshot_remove_container(struct cove_snapshotter *s, const char *id,
				   struct cove_error *err)
{
	_cleanup_free_ char *p = NULL;
	int r = cove_snapshot_unmount(s, id, err);

	if (r < 0)
		return r;
	p = cont_path(s, id, NULL);
	if (!p)
		return cove_error_set(err, ENOMEM, "out of memory");
	/* cove_rm_rf never crosses a mount point: -EBUSY if still mounted */
	r = cove_rm_rf(p);
	if (r < 0)
		return cove_error_setx(err, r, "cannot remove '%s'", p);
	return 0;
}

/* ---- listing and removal ---- */

int cove_snapshot_list(struct cove_snapshotter *s,
		       struct cove_snapshot_info **ret, size_t *ret_n,
		       struct cove_error *err)
{
	_cleanup_closedir_ DIR *d = opendir(s->dir);
	_cleanup_free_ struct cove_snapshot_info *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	if (!d)
		return cove_error_setx(err, errno, "cannot open '%s'", s->dir);
	while ((de = readdir(d))) {
		_cleanup_close_ int fd = -1;
		struct cove_snapshot_info info = {0};

		if (!valid_hex(de->d_name))
			continue;
		fd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		snprintf(info.chain_id, sizeof(info.chain_id), "sha256:%s",
			 de->d_name);
		if (read_meta(fd, "parent", info.parent, sizeof(info.parent)) <
			0 ||
		    read_meta(fd, "diff-id", info.diff_id,
			      sizeof(info.diff_id)) < 0)
			continue; /* not a snapshot of ours */
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct cove_snapshot_info *nv =
			    reallocarray(v, ncap, sizeof(*nv));
			if (!nv)
				return cove_error_set(err, ENOMEM,
						      "out of memory");
			v = nv;
			cap = ncap;
		}
		v[n++] = info;
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

int cove_snapshot_list_containers(struct cove_snapshotter *s,
				  struct cove_snapshot_container **ret,
				  size_t *ret_n, struct cove_error *err)
{
	_cleanup_closedir_ DIR *d = opendir(s->cdir);
	_cleanup_free_ struct cove_snapshot_container *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	if (!d)
		return cove_error_setx(err, errno, "cannot open '%s'", s->cdir);
	while ((de = readdir(d))) {
		_cleanup_close_ int fd = -1;
		struct cove_snapshot_container c = {0};

		if (!valid_id(de->d_name))
			continue;
		fd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 ||
		    read_meta(fd, "chain", c.chain_id, sizeof(c.chain_id)) < 0)
			continue;
		snprintf(c.id, sizeof(c.id), "%s", de->d_name);
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct cove_snapshot_container *nv =
			    reallocarray(v, ncap, sizeof(*nv));
			if (!nv)
				return cove_error_set(err, ENOMEM,
						      "out of memory");
			v = nv;
			cap = ncap;
		}
		v[n++] = c;
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

/* Does an overlay container stack include @chain_id? */
static int used_by_container(struct cove_snapshotter *s, const char *chain_id,
			     struct cove_error *err)
{
	_cleanup_free_ struct cove_snapshot_container *v = NULL;
	size_t n = 0;
	int r = cove_snapshot_list_containers(s, &v, &n, err);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		char cur[COVE_CHAIN_ID_MAX];

		memcpy(cur, v[i].chain_id, sizeof(cur));
		for (int depth = 0; *cur && depth < MAX_LAYERS; depth++) {
			if (!strcmp(cur, chain_id))
				return cove_error_set(
				    err, EBUSY,
				    "snapshot '%s' is used by "
				    "container '%s'",
				    chain_id, v[i].id);
			if (read_parent(s, cur, cur) < 0)
				break;
		}
	}
	return 0;
}

int cove_snapshot_remove(struct cove_snapshotter *s, const char *chain_id,
			 struct cove_error *err)
{
	_cleanup_free_ struct cove_snapshot_info *v = NULL;
	_cleanup_free_ char *p = NULL, *tmp = NULL, *lock = NULL;
	_cleanup_close_ int lfd = -1;
	size_t n = 0;
	int r;

	if (!valid_digest(chain_id))
		return cove_error_set(err, EINVAL, "invalid chain id '%s'",
				      chain_id ? chain_id : "");
	lock = cove_strdup_printf("%s/.lock", s->dir);
	if (!lock)
		return cove_error_set(err, ENOMEM, "out of memory");
	/* never under a running prepare that may stack on it */
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX) < 0)
		return cove_error_setx(err, errno, "cannot lock '%s'", lock);
	if (!cove_snapshot_exists(s, chain_id))
		return cove_error_set(err, ENOENT,
				      "snapshot '%s' does not exist", chain_id);
	r = cove_snapshot_list(s, &v, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (s->overlay && !strcmp(v[i].parent, chain_id))
			return cove_error_set(err, EBUSY,
					      "snapshot '%s' is the parent of "
					      "'%s'",
					      chain_id, v[i].chain_id);
	if (s->overlay) {
		r = used_by_container(s, chain_id, err);
		if (r < 0)
			return r;
	}
	/* rename first: a half-removed snapshot must not look complete */
	p = snap_path(s, chain_id, NULL);
	tmp = cove_strdup_printf("%s/rm-%s", s->dir, chain_id + 7);
	if (!p || !tmp)
		return cove_error_set(err, ENOMEM, "out of memory");
	(void)cove_rm_rf(tmp);
	if (rename(p, tmp) < 0)
		return cove_error_setx(err, errno, "cannot remove '%s'", p);
	r = cove_rm_rf(tmp);
	if (r < 0)
		return cove_error_setx(err, r, "cannot remove '%s'", tmp);
	return 0;
}
