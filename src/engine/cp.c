/*
 * cove cp: files between the host and a container.
 *
 * SECURITY: the container's tree belongs to whoever controls the
 * container; its symlinks may point anywhere.  Every path inside it is
 * resolved with openat2(RESOLVE_IN_ROOT) against the container's root (the
 * running container's /proc/PID/root, so its volumes are seen as it sees
 * them, or the rootfs of a stopped one), and the copy then walks with
 * O_NOFOLLOW relative to directory fds: a symlink is copied as a symlink,
 * never followed, and nothing is read or written outside the two trees.
 *
 * Owners, as podman 4.3 gives them (its --archive=true, the default):
 * what is copied in belongs to the container's own user (process.user of
 * its config.json: root unless -u or the image's User, the user's ids for
 * keep-id), what is copied out to the caller.  -a keeps the source's
 * owners as the container sees them (podman's --archive=false copying in;
 * docker's -a both ways).  A container with a user namespace of its own
 * sees its ids through its maps (HostConfig.IDMappings), so its ids are
 * translated on the way: its user's ids to the ids of cove's namespace
 * that the maps give them, and back for -a out.  An id the maps lack is
 * the container's nobody (65534), as cove_userns_shift_tree does.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/engine-internal.h"
#include "engine/userns.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

struct cp {
	bool keep_owner;   /* -a */
	bool to_container; /* -a: the direction @maps are applied in */
	uid_t uid;	   /* without -a: the owner of what is made */
	gid_t gid;
	/* the container's maps; n_uid == 0 when it has no user namespace */
	const struct cove_userns_maps *maps;
	struct cove_error *err;
	unsigned depth;
};

static int open_in_root(int root, const char *path, int flags, mode_t mode)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
			       .mode = mode,
			       .resolve =
				   RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	long fd = syscall(SYS_openat2, root, path, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

/* -a: the source's owner @id (a uid when @uid) for the destination */
static uint32_t kept_id(const struct cp *c, bool uid, uint32_t id)
{
	const struct cove_id_mapping *map = uid ? c->maps->uid : c->maps->gid;
	size_t n = uid ? c->maps->n_uid : c->maps->n_gid;

	if (!n)
		return id;
	return c->to_container ? cove_userns_to_host(map, n, id)
			       : cove_userns_to_ctr(map, n, id);
}

static void set_owner(struct cp *c, int fd, const char *name, int flags,
		      const struct stat *st)
{
	uid_t u = c->keep_owner ? kept_id(c, true, st->st_uid) : c->uid;
	gid_t g = c->keep_owner ? kept_id(c, false, st->st_gid) : c->gid;
	if (fchownat(fd, name, u, g, flags) < 0) {
		/* best effort: a rootless copy cannot give away files */
	}
}

static int copy_entry(struct cp *c, int sdir, const char *sname, int ddir,
		      const char *dname);

static int copy_dir(struct cp *c, int sfd, int dfd)
{
	_cleanup_closedir_ DIR *d = cove_opendir_dup(sfd);
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		int r;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = copy_entry(c, sfd, de->d_name, dfd, de->d_name);
		if (r < 0)
			return r;
	}
	return 0;
}

static int copy_entry(struct cp *c, int sdir, const char *sname, int ddir,
		      const char *dname)
{
	struct stat st;
	int r;

	if (++c->depth > 256) {
		c->depth--;
		return cove_error_set(c->err, ELOOP,
				      "cp: tree too deep at '%s'", sname);
	}
	if (fstatat(sdir, sname, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = cove_error_setx(c->err, errno, "cp: cannot stat '%s'",
				    sname);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int sfd = -1, dfd = -1;
		if (mkdirat(ddir, dname, 0700) < 0 && errno != EEXIST) {
			r = cove_error_setx(c->err, errno,
					    "cp: cannot create directory '%s'",
					    dname);
			goto out;
		}
		sfd = openat(sdir, sname,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		dfd = openat(ddir, dname,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0 || dfd < 0) {
			r = cove_error_setx(c->err, errno,
					    "cp: cannot open '%s'",
					    sfd < 0 ? sname : dname);
			goto out;
		}
		r = copy_dir(c, sfd, dfd);
		if (r < 0)
			goto out;
		(void)fchmod(dfd, st.st_mode & 07777);
		set_owner(c, dfd, "", AT_EMPTY_PATH, &st);
	} else if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int sfd = -1, dfd = -1;
		char buf[65536];
		ssize_t n;
		sfd = openat(sdir, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0) {
			r = cove_error_setx(c->err, errno,
					    "cp: cannot open '%s'", sname);
			goto out;
		}
		/* an existing symlink at the target is replaced, not followed
		 */
		(void)unlinkat(ddir, dname, 0);
		dfd = openat(
		    ddir, dname,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (dfd < 0) {
			r = cove_error_setx(c->err, errno,
					    "cp: cannot create '%s'", dname);
			goto out;
		}
		while ((n = read(sfd, buf, sizeof(buf))) > 0)
			if (cove_write_all(dfd, buf, (size_t)n) < 0) {
				r = cove_error_setx(c->err, errno,
						    "cp: cannot write '%s'",
						    dname);
				goto out;
			}
		if (n < 0) {
			r = cove_error_setx(c->err, errno,
					    "cp: cannot read '%s'", sname);
			goto out;
		}
		(void)fchmod(dfd, st.st_mode & 07777);
		set_owner(c, dfd, "", AT_EMPTY_PATH, &st);
	} else if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(sdir, sname, target, sizeof(target) - 1);
		if (n < 0) {
			r = cove_error_setx(c->err, errno,
					    "cp: cannot read link '%s'", sname);
			goto out;
		}
		target[n] = '\0';
		(void)unlinkat(ddir, dname, 0);
		if (symlinkat(target, ddir, dname) < 0) {
			r = cove_error_setx(c->err, errno,
					    "cp: cannot create link '%s'",
					    dname);
			goto out;
		}
		set_owner(c, ddir, dname, AT_SYMLINK_NOFOLLOW, &st);
	}
	/* devices, fifos and sockets are not copied, as docker cp */
	r = 0;
out:
	c->depth--;
	return r;
}

/* Split "a/b/c" into the parent "a/b" (or ".") and the name "c". */
static int split(const char *path, char **ret_parent, char **ret_name)
{
	_cleanup_free_ char *p = strdup(path);
	char *slash;
	size_t n;

	if (!p)
		return -ENOMEM;
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	slash = strrchr(p, '/');
	if (!slash) {
		*ret_parent = strdup(".");
		*ret_name = strdup(p);
	} else if (slash == p) {
		*ret_parent = strdup("/");
		*ret_name = strdup(slash + 1);
	} else {
		*slash = '\0';
		*ret_parent = strdup(p);
		*ret_name = strdup(slash + 1);
	}
	if (!*ret_parent || !*ret_name)
		return -ENOMEM;
	if (!**ret_name) {
		free(*ret_name);
		*ret_name = strdup(".");
		if (!*ret_name)
			return -ENOMEM;
	}
	return 0;
}

/*
 * The owner of what is copied into @c without -a: the user its process
 * runs as (config.json's process.user, resolved at create: cp itself
 * reads no passwd file of the container), through its maps @m.
 */
static int ctr_owner(struct cove_engine *e, const struct cove_ctr *c,
		     const struct cove_userns_maps *m, uid_t *ret_uid,
		     gid_t *ret_gid, struct cove_error *err)
{
	_cleanup_free_ char *dir = cove_engine_ctr_dir(e, c->id), *path = NULL;
	_cleanup_json_ json_t *spec = NULL;
	const json_t *user;
	json_int_t u = 0, g = 0;
	int r;

	path = dir ? cove_strdup_printf("%s/config.json", dir) : NULL;
	if (!path)
		return -ENOMEM;
	r = cove_json_load_file(path, 16 << 20, &spec, err);
	if (r < 0) {
		(void)cove_error_wrap(err,
				      "cp: cannot find the user of "
				      "container %s",
				      c->name);
		return r;
	}
	user = json_object_get(json_object_get(spec, "process"), "user");
	if (user) {
		u = json_integer_value(json_object_get(user, "uid"));
		g = json_integer_value(json_object_get(user, "gid"));
	}
	if (u < 0 || u > UINT32_MAX || g < 0 || g > UINT32_MAX)
		return cove_error_set(err, EINVAL,
				      "invalid 'process.user' in %s", path);
	*ret_uid = m->n_uid ? cove_userns_to_host(m->uid, m->n_uid, (uint32_t)u)
			    : (uid_t)u;
	*ret_gid = m->n_gid ? cove_userns_to_host(m->gid, m->n_gid, (uint32_t)g)
			    : (gid_t)g;
	return 0;
}

int cove_engine_cp(struct cove_engine *e, struct cove_ctr *c, bool to_container,
		   const char *host_path, const char *ctr_path, bool archive,
		   struct cove_error *err)
{
	_cleanup_free_ char *root_path = NULL, *sparent = NULL, *sname = NULL,
			    *dparent = NULL, *dname = NULL;
	_cleanup_close_ int root = -1, sdir = -1, ddir = -1;
	_cleanup_free_ struct cove_userns_maps *maps = NULL;
	struct cp cp = {.err = err,
			.keep_owner = archive,
			.to_container = to_container,
			.uid = getuid(),
			.gid = getgid(),
			.maps = NULL};
	const char *src = to_container ? host_path : ctr_path;
	const char *dst = to_container ? ctr_path : host_path;
	bool mounted = false;
	struct stat st;
	int r;

	r = cove_engine_ctr_maps(c, &maps, err);
	if (r < 0)
		return r;
	cp.maps = maps;
	if (to_container && !archive) {
		r = ctr_owner(e, c, maps, &cp.uid, &cp.gid, err);
		if (r < 0)
			return r;
	}
	if (!strcmp(c->state, "running") || !strcmp(c->state, "paused")) {
		root_path = cove_strdup_printf("/proc/%d/root", c->pid);
	} else {
		r = cove_engine_images(e, err);
		if (r < 0)
			return r;
		r = cove_engine_mount_rootfs(e, c, &root_path, err);
		if (r < 0)
			return r;
		mounted = true;
	}
	if (!root_path)
		return -ENOMEM;
	root = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		r = cove_error_setx(err, errno, "cannot open %s", root_path);
		goto out;
	}
	r = split(src, &sparent, &sname);
	if (r >= 0)
		r = split(dst, &dparent, &dname);
	if (r < 0)
		goto out;
	if (to_container) {
		sdir = open(sparent, O_PATH | O_DIRECTORY | O_CLOEXEC);
		ddir = open_in_root(root, dparent, O_PATH | O_DIRECTORY, 0);
	} else {
		sdir = open_in_root(root, sparent, O_PATH | O_DIRECTORY, 0);
		ddir = open(dparent, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (sdir < 0 || ddir < 0) {
		r = cove_error_setx(err,
				    sdir < 0 ? (sdir == -1 ? errno : sdir)
					     : (ddir == -1 ? errno : ddir),
				    "cp: cannot open the directory of '%s'",
				    sdir < 0 ? src : dst);
		goto out;
	}
	/* an existing directory as destination: copy into it (cp's rule) */
	if (fstatat(ddir, dname, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode)) {
		int fd = openat(ddir, dname,
				O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = cove_error_setx(err, errno, "cp: cannot open '%s'",
					    dst);
			goto out;
		}
		close(ddir);
		ddir = fd;
		free(dname);
		dname = strdup(sname);
		if (!dname) {
			r = -ENOMEM;
			goto out;
		}
	}
	r = copy_entry(&cp, sdir, sname, ddir, dname);
out:
	if (mounted)
		(void)cove_snapshot_unmount(e->snap, c->id, NULL);
	return r;
}
