#include "runtime/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "runtime/idmap.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

static int openat2_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

int cove_open_in_root(int rootfd, const char *path, bool create, bool dir)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	int fd;

	fd = openat2_in_root(rootfd, path, O_PATH);
	if (fd >= 0 || fd != -ENOENT || !create)
		return fd;
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	/* Strip trailing slashes, then create each missing component. */
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	for (char *p = buf + 1;; p++) {
		bool last = *p == '\0';
		char saved;
		char *slash;
		_cleanup_close_ int parent = -1;
		int r;

		if (*p != '/' && !last)
			continue;
		saved = *p;
		*p = '\0';
		fd = openat2_in_root(rootfd, buf, O_PATH);
		if (fd >= 0) {
			if (last)
				return fd;
			close(fd);
			*p = saved;
			continue;
		}
		if (fd != -ENOENT)
			return fd;
		slash = strrchr(buf, '/');
		if (slash == buf) {
			parent =
			    openat2_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
		} else {
			*slash = '\0';
			parent =
			    openat2_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
			*slash = '/';
		}
		if (parent < 0)
			return parent;
		if (!last || dir) {
			r = mkdirat(parent, slash + 1, 0755);
		} else {
			int f = openat(parent, slash + 1,
				       O_CREAT | O_EXCL | O_WRONLY |
					   O_NOFOLLOW | O_CLOEXEC,
				       0644);
			r = f;
			if (f >= 0)
				close(f);
		}
		if (r < 0 && errno != EEXIST)
			return -errno;
		fd = openat2_in_root(rootfd, buf, O_PATH);
		/*
		 * EEXIST then ENOENT: the component is a dangling symlink.
		 * Following it would mean creating its target, which may be
		 * anywhere; refuse instead.
		 */
		if (fd < 0)
			return fd == -ENOENT ? -ELOOP : fd;
		if (last)
			return fd;
		close(fd);
		*p = saved;
	}
}

static void fd_path(char *buf, size_t n, int fd)
{
	snprintf(buf, n, "/proc/self/fd/%d", fd);
}

/* Flags of an existing mount that an unprivileged remount must keep. */
static unsigned long locked_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_RDONLY)
		f |= MS_RDONLY;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

/* ---- cgroup mounts ------------------------------------------------------ */

struct mountinfo_cg {
	char *mountpoint; /* /sys/fs/cgroup/memory */
	char *root;	  /* root of the mount within the hierarchy */
	char *fstype;	  /* cgroup / cgroup2 */
	char *options;	  /* super options: "rw,memory" */
};

static char *unescape_mountinfo(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;
	if (!out)
		return NULL;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] &&
		    s[3]) {
			*o++ = (char)(((s[1] - '0') << 6) |
				      ((s[2] - '0') << 3) | (s[3] - '0'));
			s += 4;
		} else
			*o++ = *s++;
	}
	*o = '\0';
	return out;
}

static int read_cgroup_mounts(struct mountinfo_cg **ret, size_t *ret_n)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0, n = 0;
	struct mountinfo_cg *v = NULL;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char *fields[16] = {0}, *save = NULL, *tok, *dash;
		int nf = 0;
		struct mountinfo_cg *nv;

		dash = strstr(line, " - ");
		if (!dash)
			continue;
		*dash = '\0';
		for (tok = strtok_r(line, " ", &save); tok && nf < 10;
		     tok = strtok_r(NULL, " ", &save))
			fields[nf++] = tok;
		if (nf < 5)
			continue;
		{
			char *save2 = NULL;
			char *fstype = strtok_r(dash + 3, " ", &save2);
			char *src = strtok_r(NULL, " ", &save2);
			char *opts = strtok_r(NULL, " \n", &save2);
			(void)src;
			if (!fstype || !opts)
				continue;
			if (strcmp(fstype, "cgroup") &&
			    strcmp(fstype, "cgroup2"))
				continue;
			nv = realloc(v, (n + 1) * sizeof(*v));
			if (!nv)
				break;
			v = nv;
			v[n].mountpoint = unescape_mountinfo(fields[4]);
			v[n].root = unescape_mountinfo(fields[3]);
			v[n].fstype = strdup(fstype);
			v[n].options = strdup(opts);
			n++;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static void free_cgroup_mounts(struct mountinfo_cg *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].mountpoint);
		free(v[i].root);
		free(v[i].fstype);
		free(v[i].options);
	}
	free(v);
}

/* Controller options of a v1 mount ("rw,nosuid,memory" -> "memory"). */
static char *v1_controllers(const char *opts)
{
	_cleanup_free_ char *copy = strdup(opts);
	char *save = NULL, *tok, *out = NULL;

	if (!copy)
		return NULL;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "rw") || !strcmp(tok, "ro") ||
		    !strcmp(tok, "relatime") || !strcmp(tok, "nosuid") ||
		    !strcmp(tok, "nodev") || !strcmp(tok, "noexec") ||
		    cove_str_has_prefix(tok, "release_agent") ||
		    !strcmp(tok, "clone_children") ||
		    !strcmp(tok, "noprefix") || !strcmp(tok, "xattr"))
			continue;
		if (!out)
			out = strdup(tok);
		else {
			char *n = cove_strdup_printf("%s,%s", out, tok);
			free(out);
			out = n;
		}
		if (!out)
			return NULL;
	}
	return out;
}

/*
 * The cgroup of this process in the hierarchy mounted with @opts ("cgroup2"
 * or v1 super options), from /proc/self/cgroup, relative to the mount's
 * root @mroot.  The init has already been placed in its cgroups when this
 * runs, so this is the container's cgroup, or, rootless without one, the
 * cgroup it inherited.
 */
static char *own_cgroup(const char *proc_cgroup, const char *fstype,
			const char *opts, const char *mroot)
{
	_cleanup_free_ char *copy = NULL, *want = NULL;
	char *save = NULL, *line;
	bool v2 = !strcmp(fstype, "cgroup2");

	if (!proc_cgroup || !(copy = strdup(proc_cgroup)))
		return NULL;
	if (!v2) {
		want = v1_controllers(opts);
		if (!want)
			return NULL;
	}
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2;
		const char *path;
		size_t rl;
		if (!c1 || !(c2 = strchr(c1 + 1, ':')))
			continue;
		*c2 = '\0';
		*c1 = '\0';
		if (v2 ? strcmp(line, "0") || c1[1] : strcmp(c1 + 1, want))
			continue;
		path = c2 + 1;
		rl = strlen(mroot);
		if (strcmp(mroot, "/") && !strncmp(path, mroot, rl))
			path += rl;
		return strdup(*path ? path : "/");
	}
	return NULL;
}

/*
 * A "cgroup" mount in the config: a tmpfs with one entry per hierarchy (v1)
 * or the cgroup2 file system (v2), showing only the container's own cgroup.
 * With a cgroup namespace the hierarchies are mounted fresh (the kernel
 * roots them at the namespace); without one, the container's directory in
 * each host hierarchy is bind-mounted.
 */
static int mount_cgroup(int rootfd, const struct cove_mount *m,
			const struct cove_rootfs_opts *o,
			struct cove_error *err)
{
	struct mountinfo_cg *cgs = NULL;
	_cleanup_free_ char *proc_cgroup = NULL;
	size_t n = 0;
	_cleanup_close_ int target = -1;
	char tp[64];
	unsigned long flags = m->flags & ~MS_RDONLY;
	int r = 0;

	if (o->cgroup_mode == COVE_CGROUP_V2 ||
	    o->cgroup_mode == COVE_CGROUP_NONE) {
		target = cove_open_in_root(rootfd, m->destination, true, true);
		if (target < 0)
			return cove_error_setx(err, target,
					       "cannot create mount point %s",
					       m->destination);
		fd_path(tp, sizeof(tp), target);
		if (o->cgroupns || !o->cgroup_path) {
			if (mount("cgroup2", tp, "cgroup2", m->flags, NULL) < 0)
				return cove_error_setx(
				    err, errno, "cannot mount cgroup2 on %s",
				    m->destination);
		} else {
			_cleanup_free_ char *pc = NULL;
			_cleanup_free_ char *own = NULL;
			cove_read_file("/proc/self/cgroup", 1 << 20, &pc, NULL);
			if (!o->cgroup_path_known)
				own = own_cgroup(pc, "cgroup2", "", "/");
			_cleanup_free_ char *src =
			    cove_strdup_printf("%s%s", COVE_CGROUP_DEFAULT_ROOT,
					       own ? own : o->cgroup_path);
			if (mount(src, tp, NULL, MS_BIND | MS_REC, NULL) < 0)
				return cove_error_setx(err, errno,
						       "cannot bind %s on %s",
						       src, m->destination);
			if (m->flags) {
				_cleanup_close_ int t2 = cove_open_in_root(
				    rootfd, m->destination, false, true);
				fd_path(tp, sizeof(tp), t2);
				if (t2 >= 0 &&
				    mount(NULL, tp, NULL,
					  MS_BIND | MS_REMOUNT | m->flags |
					      locked_flags(tp),
					  NULL) < 0)
					return cove_error_setx(
					    err, errno, "cannot remount %s",
					    m->destination);
			}
		}
		return 0;
	}

	target = cove_open_in_root(rootfd, m->destination, true, true);
	if (target < 0)
		return cove_error_setx(err, target,
				       "cannot create mount point %s",
				       m->destination);
	fd_path(tp, sizeof(tp), target);
	if (mount("tmpfs", tp, "tmpfs", flags, "mode=755") < 0)
		return cove_error_setx(err, errno, "cannot mount tmpfs on %s",
				       m->destination);
	r = read_cgroup_mounts(&cgs, &n);
	if (r < 0)
		return cove_error_setx(err, r,
				       "cannot read /proc/self/mountinfo");
	/* Read once: where this process is in every hierarchy. */
	if (!o->cgroup_path_known)
		cove_read_file("/proc/self/cgroup", 1 << 20, &proc_cgroup,
			       NULL);
	for (size_t i = 0; i < n; i++) {
		const char *base = strrchr(cgs[i].mountpoint, '/');
		_cleanup_free_ char *dest = NULL, *src = NULL, *ctrls = NULL;
		_cleanup_close_ int sub = -1;
		char sp[64];

		if (!cove_str_has_prefix(cgs[i].mountpoint,
					 COVE_CGROUP_DEFAULT_ROOT "/") ||
		    !base)
			continue;
		base++;
		dest = cove_strdup_printf("%s/%s", m->destination, base);
		if (!dest) {
			r = -ENOMEM;
			break;
		}
		sub = cove_open_in_root(rootfd, dest, true, true);
		if (sub < 0) {
			r = cove_error_setx(err, sub, "cannot create %s", dest);
			break;
		}
		fd_path(sp, sizeof(sp), sub);
		if (o->cgroupns) {
			bool v2 = !strcmp(cgs[i].fstype, "cgroup2");
			ctrls = v2 ? NULL : v1_controllers(cgs[i].options);
			if (mount("cgroup", sp, cgs[i].fstype, flags, ctrls) <
			    0) {
				r = cove_error_setx(
				    err, errno, "cannot mount cgroup %s on %s",
				    base, dest);
				break;
			}
		} else {
			_cleanup_free_ char *own =
			    o->cgroup_path_known
				? strdup(o->cgroup_path)
				: own_cgroup(proc_cgroup, cgs[i].fstype,
					     cgs[i].options, cgs[i].root);
			src = cove_strdup_printf("%s%s", cgs[i].mountpoint,
						 own ? own : "");
			if (!src ||
			    mount(src, sp, NULL, MS_BIND | MS_REC, NULL) < 0) {
				r = cove_error_setx(err, src ? errno : ENOMEM,
						    "cannot bind %s on %s",
						    src ? src : "", dest);
				break;
			}
		}
		if (m->flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)) {
			_cleanup_close_ int t2 =
			    cove_open_in_root(rootfd, dest, false, true);
			fd_path(sp, sizeof(sp), t2);
			if (t2 >= 0 && mount(NULL, sp, NULL,
					     MS_BIND | MS_REMOUNT | m->flags |
						 locked_flags(sp),
					     NULL) < 0) {
				r = cove_error_setx(err, errno,
						    "cannot remount %s", dest);
				break;
			}
		}
	}
	free_cgroup_mounts(cgs, n);
	if (r < 0)
		return r;
	/* cpu,cpuacct style names: the usual symlinks for combined mounts. */
	if (m->flags & MS_RDONLY) {
		_cleanup_close_ int t2 =
		    cove_open_in_root(rootfd, m->destination, false, true);
		fd_path(tp, sizeof(tp), t2);
		if (t2 >= 0 &&
		    mount(NULL, tp, NULL, MS_REMOUNT | MS_RDONLY | flags,
			  "mode=755") < 0)
			return cove_error_setx(err, errno, "cannot remount %s",
					       m->destination);
	}
	return 0;
}

/* ---- ordinary mounts ---------------------------------------------------- */

static bool source_is_dir(const struct cove_mount *m)
{
	struct stat st;

	if (!m->bind || !m->source)
		return true;
	if (stat(m->source, &st) < 0)
		return true; /* the mount itself will report the error */
	return S_ISDIR(st.st_mode);
}

static int do_mount(int rootfd, const struct cove_mount *m, size_t idx,
		    const struct cove_rootfs_opts *o, struct cove_error *err)
{
	_cleanup_close_ int target = -1;
	char tp[64];
	unsigned long flags = m->flags;

	if (m->type && !strcmp(m->type, "cgroup")) {
		if (o->before_cgroup) {
			int r = o->before_cgroup(o->before_cgroup_data, err);
			if (r < 0)
				return r;
		}
		return mount_cgroup(rootfd, m, o, err);
	}

	target =
	    cove_open_in_root(rootfd, m->destination, true, source_is_dir(m));
	if (target < 0) {
		if (target == -ELOOP)
			return cove_error_set(
			    err, ELOOP,
			    "mount destination %s: a dangling symlink or a "
			    "loop in the rootfs is refused",
			    m->destination);
		return cove_error_setx(err, target,
				       "cannot create mount point %s",
				       m->destination);
	}
	fd_path(tp, sizeof(tp), target);

	if (m->bind) {
		unsigned long bf = MS_BIND | (m->recursive_bind ? MS_REC : 0);
		if (m->idmap && o->idmap_fds && o->idmap_fds[idx] >= 0) {
			/* The target by fd: move_mount does not follow magic
			 * links. */
			if (move_mount(o->idmap_fds[idx], "", target, "",
				       MOVE_MOUNT_F_EMPTY_PATH |
					   MOVE_MOUNT_T_EMPTY_PATH) < 0)
				return cove_error_setx(
				    err, errno,
				    "cannot attach idmapped mount of %s on %s",
				    m->source, m->destination);
		} else if (mount(m->source, tp, NULL, bf, NULL) < 0)
			return cove_error_setx(err, errno,
					       "cannot bind mount %s on %s",
					       m->source, m->destination);
		/*
		 * Flags of a bind mount only take effect on a remount of the
		 * new mount; reopen the destination to reach the mount that is
		 * now on top.
		 */
		if (flags & ~(MS_REC)) {
			_cleanup_close_ int top = cove_open_in_root(
			    rootfd, m->destination, false, false);
			unsigned long keep = 0;
			if (top < 0)
				return cove_error_setx(
				    err, top, "cannot open %s", m->destination);
			fd_path(tp, sizeof(tp), top);
			if (o->userns)
				keep = locked_flags(tp) & ~m->clear_flags;
			if (mount(NULL, tp, NULL,
				  MS_BIND | MS_REMOUNT | flags | keep,
				  NULL) < 0)
				return cove_error_setx(
				    err, errno,
				    "cannot remount %s with its options",
				    m->destination);
		}
	} else {
		const char *type = m->type;
		const char *src = m->source ? m->source : type;
		if (mount(src, tp, type, flags, m->data) < 0) {
			int e = errno;
			/*
			 * sysfs cannot be mounted in a user namespace that
			 * does not own the network namespace: fall back to a
			 * read-only recursive bind of the host's /sys, as runc
			 * does for rootless containers.
			 */
			if (e == EPERM && o->userns && !strcmp(type, "sysfs")) {
				if (mount("/sys", tp, NULL, MS_BIND | MS_REC,
					  NULL) < 0)
					return cove_error_setx(
					    err, errno,
					    "cannot bind /sys on %s",
					    m->destination);
				return 0;
			}
			/* mqueue likewise, when the ipc namespace is the
			 * host's. */
			if (e == EPERM && o->userns &&
			    !strcmp(type, "mqueue")) {
				if (mount("/dev/mqueue", tp, NULL,
					  MS_BIND | MS_REC, NULL) < 0)
					return cove_error_setx(
					    err, errno,
					    "cannot bind /dev/mqueue on %s",
					    m->destination);
				return 0;
			}
			return cove_error_setx(
			    err, e, "cannot mount %s (type %s) on %s", src,
			    type, m->destination);
		}
	}
	if (m->propagation) {
		_cleanup_close_ int top =
		    cove_open_in_root(rootfd, m->destination, false, false);
		if (top >= 0) {
			fd_path(tp, sizeof(tp), top);
			if (mount(NULL, tp, NULL, m->propagation, NULL) < 0)
				return cove_error_setx(
				    err, errno, "cannot set propagation of %s",
				    m->destination);
		}
	}
	return 0;
}

/* ---- devices ---------------------------------------------------------------
 */

static const struct {
	const char *path;
	unsigned major, minor;
} default_devices[] = {
    {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},	   {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

static int split_parent(int rootfd, const char *path, int *ret_parent,
			const char **ret_name)
{
	_cleanup_free_ char *dir = strdup(path);
	char *slash;
	int fd;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash || !slash[1])
		return -EINVAL;
	*ret_name = path + (slash - dir) + 1;
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	fd = cove_open_in_root(rootfd, dir, true, true);
	if (fd < 0)
		return fd;
	/* O_PATH fds cannot be used for mknodat: reopen as a directory. */
	{
		char p[64];
		int dfd;
		fd_path(p, sizeof(p), fd);
		dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		if (dfd < 0)
			return -errno;
		*ret_parent = dfd;
	}
	return 0;
}

static int create_device(int rootfd, const char *path, char type,
			 unsigned major, unsigned minor, mode_t mode, uid_t uid,
			 gid_t gid, bool bind, struct cove_error *err)
{
	_cleanup_close_ int parent = -1;
	const char *name;
	mode_t fmt;
	int r;

	r = split_parent(rootfd, path, &parent, &name);
	if (r < 0)
		return cove_error_setx(err, r, "cannot create parent of %s",
				       path);
	switch (type) {
	case 'b':
		fmt = S_IFBLK;
		break;
	case 'p':
		fmt = S_IFIFO;
		break;
	default:
		fmt = S_IFCHR;
		break;
	}
	/* Replace whatever the image has there (never following symlinks). */
	if (unlinkat(parent, name, 0) < 0 && errno != ENOENT && errno != EISDIR)
		return cove_error_setx(err, errno, "cannot replace %s", path);
	if (bind && fmt != S_IFIFO) {
		/*
		 * In a user namespace mknod is not allowed: bind the host's
		 * node onto an empty file, as runc does.
		 */
		struct stat hst;
		int f = openat(
		    parent, name,
		    O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
		_cleanup_close_ int t = -1;
		char tp[64];
		if (f < 0)
			return cove_error_setx(err, errno, "cannot create %s",
					       path);
		close(f);
		t = cove_open_in_root(rootfd, path, false, false);
		if (t < 0)
			return cove_error_setx(err, t, "cannot open %s", path);
		fd_path(tp, sizeof(tp), t);
		/* The host's node at the same path is what gets bound. */
		if (stat(path, &hst) < 0)
			return cove_error_set(
			    err, EPERM,
			    "cannot create device %s in a user namespace: the "
			    "host has no "
			    "such device at that path to bind",
			    path);
		if (mount(path, tp, NULL, MS_BIND, NULL) < 0)
			return cove_error_setx(err, errno,
					       "cannot bind device %s", path);
		return 0;
	}
	if (mknodat(parent, name, fmt | (mode & 07777), makedev(major, minor)) <
	    0)
		return cove_error_setx(err, errno, "cannot create device %s",
				       path);
	if (fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return cove_error_setx(err, errno, "cannot chown device %s",
				       path);
	/* mknod honours the umask; set the mode the config asked for. */
	{
		int f = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		char p[64];
		if (f >= 0) {
			fd_path(p, sizeof(p), f);
			chmod(p, mode & 07777);
			close(f);
		}
	}
	return 0;
}

static bool dev_is_host_bind(const struct cove_spec *spec)
{
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (!strcmp(spec->mounts[i].destination, "/dev") &&
		    spec->mounts[i].bind)
			return true;
	return false;
}

static int make_symlink(int rootfd, const char *target, const char *path,
			struct cove_error *err)
{
	_cleanup_close_ int parent = -1;
	const char *name;
	int r = split_parent(rootfd, path, &parent, &name);

	if (r < 0)
		return cove_error_setx(err, r, "cannot create parent of %s",
				       path);
	if (symlinkat(target, parent, name) < 0 && errno != EEXIST)
		return cove_error_setx(err, errno, "cannot create symlink %s",
				       path);
	return 0;
}

static int setup_devices(int rootfd, const struct cove_spec *spec,
			 const struct cove_rootfs_opts *o,
			 struct cove_error *err)
{
	static const struct {
		const char *target, *path;
	} links[] = {
	    {"/proc/self/fd", "/dev/fd"},
	    {"/proc/self/fd/0", "/dev/stdin"},
	    {"/proc/self/fd/1", "/dev/stdout"},
	    {"/proc/self/fd/2", "/dev/stderr"},
	};
	bool host_dev = dev_is_host_bind(spec);
	int r;

	if (!host_dev) {
		for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++) {
			bool listed = false;
			for (size_t j = 0; j < spec->n_devices; j++)
				if (!strcmp(spec->devices[j].path,
					    default_devices[i].path))
					listed = true;
			if (listed)
				continue;
			r = create_device(rootfd, default_devices[i].path, 'c',
					  default_devices[i].major,
					  default_devices[i].minor, 0666, 0, 0,
					  o->userns, err);
			if (r < 0)
				return r;
		}
		for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
			r = make_symlink(rootfd, links[i].target, links[i].path,
					 err);
			if (r < 0)
				return r;
		}
		if (access("/proc/kcore", F_OK) == 0) {
			r = make_symlink(rootfd, "/proc/kcore", "/dev/core",
					 err);
			if (r < 0)
				return r;
		}
		/* /dev/ptmx must be the devpts instance of the container. */
		{
			_cleanup_close_ int parent = -1;
			const char *name;
			r = split_parent(rootfd, "/dev/ptmx", &parent, &name);
			if (r < 0)
				return cove_error_setx(err, r,
						       "cannot open /dev");
			unlinkat(parent, name, 0);
			if (symlinkat("pts/ptmx", parent, name) < 0)
				return cove_error_setx(
				    err, errno, "cannot create /dev/ptmx");
		}
	}
	for (size_t i = 0; i < spec->n_devices; i++) {
		const struct cove_device *d = &spec->devices[i];
		r = create_device(rootfd, d->path, d->type, (unsigned)d->major,
				  (unsigned)d->minor,
				  d->has_file_mode ? d->file_mode : 0666,
				  d->has_uid ? d->uid : 0,
				  d->has_gid ? d->gid : 0, o->userns, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the phases ------------------------------------------------------------
 */

int cove_rootfs_prepare(const struct cove_spec *spec,
			const struct cove_rootfs_opts *o,
			struct cove_error *err)
{
	_cleanup_close_ int rootfd = -1;
	unsigned long prop = MS_SLAVE | MS_REC;

	/*
	 * Phase 1: cut propagation from the host.  Nothing mounted below may
	 * reach the host's mount table, unless the config asks for shared
	 * propagation, in which case we still start from slave and share the
	 * container root afterwards.
	 */
	if (spec->rootfs_propagation & MS_PRIVATE)
		prop = spec->rootfs_propagation | MS_REC;
	/*
	 * An unbindable root could not be bind-mounted onto itself below:
	 * start private, cove_rootfs_finalize() applies unbindable to "/".
	 */
	if (spec->rootfs_propagation & MS_UNBINDABLE)
		prop = MS_PRIVATE | MS_REC;
	if (mount(NULL, "/", NULL, prop, NULL) < 0)
		return cove_error_setx(
		    err, errno,
		    "cannot set propagation of the mount namespace");

	/*
	 * Phase 2: make the rootfs a mount point of its own, which
	 * pivot_root requires and which lets a read-only root be a remount of
	 * just this tree.
	 */
	if (mount(spec->root_path, spec->root_path, NULL, MS_BIND | MS_REC,
		  NULL) < 0)
		return cove_error_setx(
		    err, errno, "cannot bind mount rootfs %s", spec->root_path);
	rootfd = open(spec->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return cove_error_setx(err, errno, "cannot open rootfs %s",
				       spec->root_path);

	/* Phase 3: the config's mounts, in order, each resolved in the root. */
	for (size_t i = 0; i < spec->n_mounts; i++) {
		int r = do_mount(rootfd, &spec->mounts[i], i, o, err);
		if (r < 0)
			return r;
	}

	/* Phase 4: device nodes and the standard /dev symlinks. */
	{
		int r = setup_devices(rootfd, spec, o, err);
		if (r < 0)
			return r;
	}

	/* Phase 5: the working directory exists, as runc guarantees. */
	if (spec->has_process) {
		int fd =
		    cove_open_in_root(rootfd, spec->process.cwd, true, true);
		if (fd < 0)
			return cove_error_setx(
			    err, fd, "cannot create the working directory '%s'",
			    spec->process.cwd);
		close(fd);
	}
	return 0;
}

int cove_rootfs_pivot(const struct cove_spec *spec,
		      const struct cove_rootfs_opts *o, struct cove_error *err)
{
	_cleanup_close_ int oldroot = -1, newroot = -1;

	newroot = open(spec->root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (newroot < 0)
		return cove_error_setx(err, errno, "cannot open rootfs %s",
				       spec->root_path);
	if (o->no_pivot) {
		/* For ramfs roots, where pivot_root is impossible. */
		if (fchdir(newroot) < 0 ||
		    mount(".", "/", NULL, MS_MOVE, NULL) < 0 ||
		    chroot(".") < 0 || chdir("/") < 0)
			return cove_error_setx(err, errno,
					       "cannot move into rootfs %s",
					       spec->root_path);
		return 0;
	}
	oldroot = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (oldroot < 0)
		return cove_error_setx(err, errno, "cannot open /");
	/*
	 * pivot_root(".", ".") stacks the old root on top of the new one;
	 * after making it a slave (so that its unmount does not propagate to
	 * the host) we lazily detach it.  No temporary directory is needed in
	 * the image.
	 */
	if (fchdir(newroot) < 0)
		return cove_error_setx(err, errno, "cannot chdir to rootfs");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return cove_error_setx(err, errno, "pivot_root into %s",
				       spec->root_path);
	if (fchdir(oldroot) < 0)
		return cove_error_setx(err, errno, "cannot chdir to old root");
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return cove_error_setx(err, errno,
				       "cannot make the old root a slave");
	if (umount2(".", MNT_DETACH) < 0)
		return cove_error_setx(err, errno,
				       "cannot detach the old root");
	if (chdir("/") < 0)
		return cove_error_setx(err, errno, "cannot chdir to /");
	return 0;
}

static int write_sysctls(const struct cove_spec *spec, struct cove_error *err)
{
	const char *key;
	json_t *val;

	if (!spec->sysctl)
		return 0;
	json_object_foreach(spec->sysctl, key, val)
	{
		char path[PATH_MAX];
		const char *v = json_string_value(val);
		size_t n = 0;
		int r;

		n = (size_t)snprintf(path, sizeof(path), "/proc/sys/%s", key);
		if (n >= sizeof(path))
			return cove_error_set(err, ENAMETOOLONG,
					      "invalid 'linux.sysctl.%s'", key);
		for (char *p = path + 10; *p; p++)
			if (*p == '.')
				*p = '/';
		r = cove_write_file(path, v, strlen(v));
		if (r < 0)
			return cove_error_setx(
			    err, r, "cannot set sysctl '%s' to '%s'", key, v);
	}
	return 0;
}

static int mask_path(const char *path, struct cove_error *err)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return 0; /* nothing to mask */
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0k") < 0 &&
		    errno != ENOENT)
			return cove_error_setx(err, errno, "cannot mask %s",
					       path);
		return 0;
	}
	if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0 &&
	    errno != ENOENT)
		return cove_error_setx(err, errno, "cannot mask %s", path);
	return 0;
}

static int readonly_path(const char *path, struct cove_error *err)
{
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
		if (errno == ENOENT)
			return 0;
		return cove_error_setx(err, errno, "cannot bind %s", path);
	}
	if (mount(NULL, path, NULL,
		  MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV |
		      MS_NOEXEC | locked_flags(path),
		  NULL) < 0)
		return cove_error_setx(err, errno, "cannot make %s read-only",
				       path);
	return 0;
}

int cove_rootfs_finalize(const struct cove_spec *spec,
			 const struct cove_rootfs_opts *o,
			 struct cove_error *err)
{
	int r;

	r = write_sysctls(spec, err);
	if (r < 0)
		return r;
	for (char **p = spec->readonly_paths; p && *p; p++) {
		r = readonly_path(*p, err);
		if (r < 0)
			return r;
	}
	for (char **p = spec->masked_paths; p && *p; p++) {
		r = mask_path(*p, err);
		if (r < 0)
			return r;
	}
	if (spec->root_readonly) {
		unsigned long keep = o->userns ? locked_flags("/") : 0;
		if (mount(NULL, "/", NULL,
			  MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL) < 0)
			return cove_error_setx(
			    err, errno, "cannot make the rootfs read-only");
	}
	if (spec->rootfs_propagation &&
	    mount(NULL, "/", NULL, spec->rootfs_propagation, NULL) < 0)
		return cove_error_setx(err, errno,
				       "cannot set rootfs propagation");
	return 0;
}

int cove_rootfs_open_idmapped(const struct cove_spec *spec, int **ret,
			      struct cove_error *err)
{
	int *fds = NULL;
	int r = 0;

	*ret = NULL;
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct cove_mount *m = &spec->mounts[i];
		const struct cove_id_mapping *u = m->uid_mappings,
					     *g = m->gid_mappings;
		size_t nu = m->n_uid_mappings, ng = m->n_gid_mappings;
		struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP};
		_cleanup_close_ int userns = -1;
		int tree;

		if (!m->idmap)
			continue;
		if (!fds) {
			fds = malloc(spec->n_mounts * sizeof(int));
			if (!fds)
				return -ENOMEM;
			for (size_t j = 0; j < spec->n_mounts; j++)
				fds[j] = -1;
		}
		if (!nu || !ng) {
			u = spec->uid_mappings;
			nu = spec->n_uid_mappings;
			g = spec->gid_mappings;
			ng = spec->n_gid_mappings;
		}
		if (!nu || !ng) {
			r = cove_error_set(
			    err, EINVAL,
			    "invalid 'mounts[%zu]': an idmapped mount needs "
			    "uidMappings and gidMappings (of the mount or of "
			    "the container)",
			    i);
			break;
		}
		r = cove_idmap_userns_fd(u, nu, g, ng, &userns, err);
		if (r < 0)
			break;
		tree = open_tree(AT_FDCWD, m->source,
				 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
				     (m->recursive_bind ? AT_RECURSIVE : 0));
		if (tree < 0) {
			r = cove_error_setx(err, errno,
					    "cannot clone mount source %s",
					    m->source);
			break;
		}
		fds[i] = tree;
		attr.userns_fd = (uint64_t)userns;
		if (mount_setattr(tree, "",
				  AT_EMPTY_PATH |
				      (m->recursive_bind ? AT_RECURSIVE : 0),
				  &attr, sizeof(attr)) < 0) {
			r = cove_error_setx(
			    err, errno,
			    "cannot idmap the mount of %s (does its file "
			    "system support idmapped mounts?)",
			    m->source);
			break;
		}
	}
	if (r < 0) {
		cove_rootfs_close_idmapped(fds, spec->n_mounts);
		return r;
	}
	*ret = fds;
	return 0;
}

void cove_rootfs_close_idmapped(int *fds, size_t n)
{
	if (!fds)
		return;
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
}
