/*
 * Image config -> config.json (see bundle.h).
 */
#include "image/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/capnames.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

#define DEFAULT_PATH                                                           \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define ID_FILE_MAX (4 << 20) /* /etc/passwd, /etc/group */
#define MAX_GROUPS 65536      /* NGROUPS_MAX */
#define NOFILE_WANT 1048576

const char *const cove_bundle_default_caps[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
    NULL,
};

/* ---- users ---- */

void cove_image_user_release(struct cove_image_user *u)
{
	if (!u)
		return;
	free(u->additional_gids);
	free(u->home);
	*u = (struct cove_image_user){0};
}

/* The whole (regular, capped) file @fd, NUL-terminated. */
static int read_fd(int fd, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb;
			if (cap > ID_FILE_MAX)
				return -EFBIG;
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

/*
 * Read /etc/<name> of the rootfs.  SECURITY: resolved inside the rootfs
 * (an image's /etc/passwd may be a symlink to "/etc/shadow" or
 * "../../../etc/passwd": both stay in the image), and only a regular file
 * is read (a fifo would block us, a device never end), non-blocking open
 * and a size cap for the same reasons.  -ENOENT when absent.
 */
int cove_image_read_etc(int rootfs_fd, const char *path, char **ret)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
	    .resolve =
		RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	_cleanup_close_ int fd = -1;
	struct stat st;

	fd = (int)syscall(SYS_openat2, rootfs_fd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS) {
		/* before 5.6: no symlink at all on the way */
		_cleanup_close_ int etc =
		    openat(rootfs_fd, "etc",
			   O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (etc < 0)
			return errno == ENOTDIR ? -ELOOP : -errno;
		fd = openat(etc, path + strlen("etc/"),
			    O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
				O_NOFOLLOW);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size > ID_FILE_MAX)
		return -EFBIG;
	return read_fd(fd, ret);
}

static bool is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static int parse_id(const char *s, uint32_t *ret)
{
	uint32_t v;

	if (!is_number(s) || cove_parse_uint32(s, &v) < 0 || v == UINT32_MAX)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Split @line in place at ':' into at most @max fields. */
static size_t split_fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (n < max) {
		f[n++] = p;
		p = strchr(p, ':');
		if (!p)
			break;
		*p++ = '\0';
	}
	return n;
}

struct pw {
	const char *name;
	uint32_t uid, gid;
	const char *home;
};

/* First /etc/passwd entry with @name, or with @uid when @name is NULL. */
static int find_passwd(char *buf, const char *name, uint32_t uid,
		       struct pw *ret)
{
	char *save = buf, *line;

	while ((line = strsep(&save, "\n"))) {
		char *f[7];
		size_t n;
		uint32_t u, g;

		if (!*line || strchr("#+-", *line))
			continue;
		n = split_fields(line, f, 7);
		if (n < 4 || parse_id(f[2], &u) < 0 || parse_id(f[3], &g) < 0)
			continue;
		if (name ? strcmp(f[0], name) != 0 : u != uid)
			continue;
		*ret = (struct pw){f[0], u, g, n >= 6 ? f[5] : NULL};
		return 0;
	}
	return -ENOENT;
}

/*
 * Walk /etc/group: the gid of group @name (when non-NULL), or collect the
 * gids of the groups listing @member (when non-NULL).
 */
static int walk_groups(char *buf, const char *name, const char *member,
		       uint32_t *ret_gid, struct cove_image_user *u)
{
	char *save = buf, *line;

	while ((line = strsep(&save, "\n"))) {
		char *f[4], *msave, *m;
		size_t n;
		uint32_t g;

		if (!*line || strchr("#+-", *line))
			continue;
		n = split_fields(line, f, 4);
		if (n < 3 || parse_id(f[2], &g) < 0)
			continue;
		if (name) {
			if (!strcmp(f[0], name)) {
				*ret_gid = g;
				return 0;
			}
			continue;
		}
		if (n < 4 || g == u->gid)
			continue;
		msave = f[3];
		while ((m = strsep(&msave, ","))) {
			bool dup = false;
			uint32_t *ng;

			if (strcmp(m, member))
				continue;
			for (size_t i = 0; i < u->n_additional_gids; i++)
				dup |= u->additional_gids[i] == g;
			if (dup)
				break;
			if (u->n_additional_gids >= MAX_GROUPS)
				return -E2BIG;
			ng =
			    reallocarray(u->additional_gids,
					 u->n_additional_gids + 1, sizeof(*ng));
			if (!ng)
				return -ENOMEM;
			u->additional_gids = ng;
			u->additional_gids[u->n_additional_gids++] = g;
			break;
		}
	}
	return name ? -ENOENT : 0;
}

int cove_image_user_resolve(int rootfs_fd, const char *spec,
			    struct cove_image_user *ret, struct cove_error *err)
{
	_cleanup_free_ char *copy = strdup(spec ? spec : ""), *passwd = NULL,
			    *group = NULL;
	struct cove_image_user u = {0};
	const char *user, *grp;
	struct pw pw;
	bool by_name;
	char *colon;
	int r;

	if (!copy)
		return cove_error_set(err, ENOMEM, "out of memory");
	colon = strchr(copy, ':');
	if (colon)
		*colon = '\0';
	user = *copy ? copy : "0";
	grp = colon ? colon + 1 : NULL;
	if (grp && !*grp)
		return cove_error_set(err, EINVAL,
				      "invalid user '%s': empty group", spec);
	by_name = !is_number(user);
	if (!by_name && parse_id(user, &u.uid) < 0)
		return cove_error_set(err, EINVAL, "invalid user '%s': bad uid",
				      spec);
	if (grp && is_number(grp) && parse_id(grp, &u.gid) < 0)
		return cove_error_set(err, EINVAL, "invalid user '%s': bad gid",
				      spec);

	if (rootfs_fd >= 0) {
		r = cove_image_read_etc(rootfs_fd, "etc/passwd", &passwd);
		if (r < 0 && r != -ENOENT)
			return cove_error_setx(err, r,
					       "cannot read /etc/passwd of "
					       "the image");
	}
	if (passwd &&
	    find_passwd(passwd, by_name ? user : NULL, u.uid, &pw) == 0) {
		u.uid = pw.uid;
		if (!grp)
			u.gid = pw.gid;
		if (pw.home && *pw.home) {
			u.home = strdup(pw.home);
			if (!u.home)
				return cove_error_set(err, ENOMEM,
						      "out of memory");
		}
	} else if (by_name) {
		return cove_error_set(err, ENOENT,
				      "user '%s' not found in the image's "
				      "/etc/passwd",
				      user);
	}

	if ((grp && !is_number(grp)) || (by_name && !grp)) {
		if (rootfs_fd >= 0) {
			r = cove_image_read_etc(rootfs_fd, "etc/group", &group);
			if (r < 0 && r != -ENOENT) {
				cove_image_user_release(&u);
				return cove_error_setx(err, r,
						       "cannot read /etc/group "
						       "of the image");
			}
		}
		if (grp) {
			r = group ? walk_groups(group, grp, NULL, &u.gid, &u)
				  : -ENOENT;
			if (r < 0) {
				cove_image_user_release(&u);
				return cove_error_set(err, ENOENT,
						      "group '%s' not found in "
						      "the image's /etc/group",
						      grp);
			}
		} else if (group) {
			r = walk_groups(group, NULL, user, NULL, &u);
			if (r < 0) {
				cove_image_user_release(&u);
				return cove_error_setx(err, r,
						       "cannot read the groups "
						       "of '%s'",
						       user);
			}
		}
	}
	*ret = u;
	return 0;
}

/* ---- the spec ---- */

/* Set "KEY=VALUE" in @env, replacing an entry with the same key. */
static int env_set(char ***env, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);

	for (char **e = *env; e && *e; e++)
		if (!strncmp(*e, kv, klen) && (*e)[klen] == '=') {
			char *n = strdup(kv);
			if (!n)
				return -ENOMEM;
			free(*e);
			*e = n;
			return 0;
		}
	return cove_strv_push(env, kv);
}

static bool env_has(char *const *env, const char *key)
{
	size_t klen = strlen(key);

	for (; env && *env; env++)
		if (!strncmp(*env, key, klen) && (*env)[klen] == '=')
			return true;
	return false;
}

static int check_env(char *const *env, const char *field,
		     struct cove_error *err)
{
	for (size_t i = 0; env && env[i]; i++)
		if (!strchr(env[i], '=') || env[i][0] == '=')
			return cove_error_set(err, EINVAL,
					      "invalid '%s[%zu]': expected "
					      "KEY=VALUE, got '%s'",
					      field, i, env[i]);
	return 0;
}

static const char *cap_canonical(const char *name, char *buf, size_t size)
{
	const char *bare = !strncasecmp(name, "CAP_", 4) ? name + 4 : name;
	size_t i = 0;

	snprintf(buf, size, "CAP_");
	for (i = 0; bare[i] && 4 + i < size - 1; i++)
		buf[4 + i] = (char)(bare[i] >= 'a' && bare[i] <= 'z'
					? bare[i] - 'a' + 'A'
					: bare[i]);
	buf[4 + i] = '\0';
	for (size_t k = 0; k < cove_cap_names_n; k++)
		if (!strcmp(cove_cap_names[k], buf))
			return cove_cap_names[k];
	return NULL;
}

/* docker's set, then --cap-drop, then --cap-add ("ALL" for either). */
static int caps_compute(const struct cove_bundle_opts *o, char ***ret,
			struct cove_error *err)
{
	_cleanup_strv_ char **caps = NULL;
	char buf[64];
	bool all_dropped = false;

	for (char *const *d = o->cap_drop; d && *d; d++)
		if (!strcasecmp(*d, "ALL"))
			all_dropped = true;
	if (!all_dropped)
		for (const char *const *c = cove_bundle_default_caps; *c; c++) {
			bool dropped = false;
			for (char *const *d = o->cap_drop; d && *d; d++) {
				const char *n =
				    cap_canonical(*d, buf, sizeof(buf));
				if (!n)
					return cove_error_set(
					    err, EINVAL,
					    "unknown capability '%s'", *d);
				dropped |= !strcmp(n, *c);
			}
			if (!dropped && cove_strv_push(&caps, *c) < 0)
				return cove_error_set(err, ENOMEM,
						      "out of memory");
		}
	for (char *const *a = o->cap_add; a && *a; a++) {
		if (!strcasecmp(*a, "ALL")) {
			for (size_t k = 0; k < cove_cap_names_n; k++)
				if (!cove_strv_contains(caps,
							cove_cap_names[k]) &&
				    cove_strv_push(&caps, cove_cap_names[k]) <
					0)
					return cove_error_set(err, ENOMEM,
							      "out of memory");
			continue;
		}
		const char *n = cap_canonical(*a, buf, sizeof(buf));
		if (!n)
			return cove_error_set(err, EINVAL,
					      "unknown capability '%s'", *a);
		if (!cove_strv_contains(caps, n) &&
		    cove_strv_push(&caps, n) < 0)
			return cove_error_set(err, ENOMEM, "out of memory");
	}
	if (!caps) {
		caps = calloc(1, sizeof(char *));
		if (!caps)
			return cove_error_set(err, ENOMEM, "out of memory");
	}
	*ret = TAKE_PTR(caps);
	return 0;
}

static json_t *mount_json(const char *dest, const char *type, const char *src,
			  const char *const *opts)
{
	json_t *m = json_object();

	json_object_set_new(m, "destination", json_string(dest));
	json_object_set_new(m, "type", json_string(type));
	json_object_set_new(m, "source", json_string(src));
	if (opts)
		json_object_set_new(m, "options", cove_json_strv_array(opts));
	return m;
}

static json_t *mounts_json(bool rootless)
{
	static const char *const dev[] = {"nosuid", "strictatime", "mode=755",
					  "size=65536k", NULL};
	static const char *const pts[] = {
	    "nosuid",	 "noexec", "newinstance", "ptmxmode=0666",
	    "mode=0620", "gid=5",  NULL};
	/* gid 5 (tty) may not be mapped in a user namespace */
	static const char *const pts_rootless[] = {
	    "nosuid",	     "noexec",	  "newinstance",
	    "ptmxmode=0666", "mode=0620", NULL};
	static const char *const shm[] = {"nosuid",    "noexec",      "nodev",
					  "mode=1777", "size=65536k", NULL};
	static const char *const mq[] = {"nosuid", "noexec", "nodev", NULL};
	static const char *const sys[] = {"nosuid", "noexec", "nodev", "ro",
					  NULL};
	/* sysfs needs a network namespace owned by our user namespace */
	static const char *const sys_rootless[] = {"rbind", "nosuid", "noexec",
						   "nodev", "ro",     NULL};
	static const char *const cg[] = {"nosuid",   "noexec", "nodev",
					 "relatime", "ro",     NULL};
	json_t *m = json_array();

	json_array_append_new(m, mount_json("/proc", "proc", "proc", mq));
	json_array_append_new(m, mount_json("/dev", "tmpfs", "tmpfs", dev));
	json_array_append_new(m, mount_json("/dev/pts", "devpts", "devpts",
					    rootless ? pts_rootless : pts));
	json_array_append_new(m, mount_json("/dev/shm", "tmpfs", "shm", shm));
	json_array_append_new(
	    m, mount_json("/dev/mqueue", "mqueue", "mqueue", mq));
	if (rootless)
		json_array_append_new(
		    m, mount_json("/sys", "none", "/sys", sys_rootless));
	else
		json_array_append_new(
		    m, mount_json("/sys", "sysfs", "sysfs", sys));
	json_array_append_new(
	    m, mount_json("/sys/fs/cgroup", "cgroup", "cgroup", cg));
	return m;
}

static json_t *idmap_json(const struct cove_idmap_range *map, size_t len,
			  uint32_t self)
{
	json_t *a = json_array();

	for (size_t i = 0; i < (len ? len : 1); i++) {
		json_t *m = json_object();
		json_object_set_new(
		    m, "containerID",
		    json_integer(len ? map[i].container_id : 0));
		json_object_set_new(m, "hostID",
				    json_integer(len ? map[i].host_id : self));
		json_object_set_new(m, "size",
				    json_integer(len ? map[i].size : 1));
		json_array_append_new(a, m);
	}
	return a;
}

static json_t *linux_json(const struct cove_bundle_opts *o, json_t *seccomp)
{
	static const char *const masked[] = {
	    "/proc/acpi",
	    "/proc/asound",
	    "/proc/kcore",
	    "/proc/keys",
	    "/proc/latency_stats",
	    "/proc/timer_list",
	    "/proc/timer_stats",
	    "/proc/sched_debug",
	    "/proc/scsi",
	    "/sys/firmware",
	    "/sys/devices/virtual/powercap",
	    NULL,
	};
	static const char *const readonly[] = {
	    "/proc/bus",	   "/proc/fs", "/proc/irq", "/proc/sys",
	    "/proc/sysrq-trigger", NULL,
	};
	json_t *lx = json_object(), *ns = json_array();
	const char *types[] = {"pid",	"network", "ipc", "uts",
			       "mount", "cgroup",  "user"};

	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		json_t *n;
		if (!strcmp(types[i], "network") && o->host_network)
			continue;
		if (!strcmp(types[i], "user") && !o->rootless)
			continue;
		n = json_object();
		json_object_set_new(n, "type", json_string(types[i]));
		json_array_append_new(ns, n);
	}
	json_object_set_new(lx, "namespaces", ns);
	if (o->rootless) {
		json_object_set_new(lx, "uidMappings",
				    idmap_json(o->uid_map, o->uid_map_len,
					       (uint32_t)geteuid()));
		json_object_set_new(lx, "gidMappings",
				    idmap_json(o->gid_map, o->gid_map_len,
					       (uint32_t)getegid()));
	} else {
		json_t *res = json_object(), *devs = json_array(),
		       *d = json_object();
		json_object_set_new(d, "allow", json_false());
		json_object_set_new(d, "access", json_string("rwm"));
		json_array_append_new(devs, d);
		json_object_set_new(res, "devices", devs);
		json_object_set_new(lx, "resources", res);
	}
	if (o->cgroups_path)
		json_object_set_new(lx, "cgroupsPath",
				    json_string(o->cgroups_path));
	json_object_set_new(lx, "maskedPaths", cove_json_strv_array(masked));
	json_object_set_new(lx, "readonlyPaths",
			    cove_json_strv_array(readonly));
	if (seccomp)
		json_object_set_new(lx, "seccomp", seccomp);
	return lx;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "a,b,c"; NULL on ENOMEM. */
static char *join(char *const *v)
{
	size_t len = 1, pos = 0;
	char *out;

	for (char *const *p = v; *p; p++)
		len += strlen(*p) + 1;
	out = malloc(len);
	if (!out)
		return NULL;
	for (char *const *p = v; *p; p++) {
		size_t n = strlen(*p);
		if (p != v)
			out[pos++] = ',';
		memcpy(out + pos, *p, n);
		pos += n;
	}
	out[pos] = '\0';
	return out;
}

/* Annotations, by conversion.md's precedence: Labels over implicit ones. */
static int annotations_json(const json_t *img, const json_t *cfg,
			    const struct cove_bundle_opts *o, json_t **ret,
			    struct cove_error *err)
{
	static const struct {
		const char *field, *key;
	} implicit[] = {
	    {"os", "org.opencontainers.image.os"},
	    {"architecture", "org.opencontainers.image.architecture"},
	    {"variant", "org.opencontainers.image.variant"},
	    {"os.version", "org.opencontainers.image.os.version"},
	    {"author", "org.opencontainers.image.author"},
	    {"created", "org.opencontainers.image.created"},
	};
	_cleanup_json_ json_t *a = json_object();
	_cleanup_strv_ char **features = NULL;
	json_t *labels = NULL, *ports = NULL, *vols = NULL, *v;
	const char *s, *k;
	int r;

	if (!a)
		return cove_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < ARRAY_SIZE(implicit); i++) {
		r = cove_json_string(img, "", implicit[i].field, &s, err);
		if (r < 0)
			return r;
		if (s)
			json_object_set_new(a, implicit[i].key, json_string(s));
	}
	r = cove_json_strv(img, "", "os.features", &features, err);
	if (r < 0)
		return r;
	if (features) {
		_cleanup_free_ char *joined = join(features);
		if (!joined)
			return cove_error_set(err, ENOMEM, "out of memory");
		json_object_set_new(a, "org.opencontainers.image.os.features",
				    json_string(joined));
	}
	if (cfg) {
		r = cove_json_string(cfg, "config", "StopSignal", &s, err);
		if (r < 0)
			return r;
		if (s)
			json_object_set_new(
			    a, "org.opencontainers.image.stopSignal",
			    json_string(s));
		r = cove_json_object(cfg, "config", "ExposedPorts", &ports,
				     err);
		if (r == 0)
			r = cove_json_object(cfg, "config", "Volumes", &vols,
					     err);
		if (r == 0)
			r = cove_json_object(cfg, "config", "Labels", &labels,
					     err);
		if (r < 0)
			return r;
	}
	/* comma-separated keys, sorted (jansson keeps insertion order) */
	for (int pass = 0; pass < 2; pass++) {
		json_t *obj = pass ? vols : ports;
		const char *key = pass
				      ? "io.cove.image.volumes"
				      : "org.opencontainers.image.exposedPorts";
		_cleanup_strv_ char **keys = NULL;
		_cleanup_free_ char *joined = NULL;

		if (!obj || json_object_size(obj) == 0)
			continue;
		json_object_foreach(obj, k, v)
		{
			if (cove_strv_push(&keys, k) < 0)
				return cove_error_set(err, ENOMEM,
						      "out of memory");
		}
		qsort(keys, cove_strv_length(keys), sizeof(char *), cmp_str);
		joined = join(keys);
		if (!joined)
			return cove_error_set(err, ENOMEM, "out of memory");
		json_object_set_new(a, key, json_string(joined));
	}
	if (labels)
		json_object_foreach(labels, k, v)
		{
			if (!json_is_string(v))
				return cove_error_set(err, EINVAL,
						      "invalid "
						      "'config.Labels.%s': "
						      "expected a string",
						      k);
			json_object_set(a, k, v);
		}
	for (char *const *kv = o->annotations; kv && *kv; kv++) {
		const char *eq = strchr(*kv, '=');
		_cleanup_free_ char *key = NULL;
		if (!eq || eq == *kv)
			return cove_error_set(err, EINVAL,
					      "invalid annotation '%s': "
					      "expected KEY=VALUE",
					      *kv);
		key = strndup(*kv, (size_t)(eq - *kv));
		if (!key)
			return cove_error_set(err, ENOMEM, "out of memory");
		json_object_set_new(a, key, json_string(eq + 1));
	}
	*ret = TAKE_PTR(a);
	return 0;
}

static json_t *rlimits_json(void)
{
	struct rlimit rl;
	uint64_t n = NOFILE_WANT;
	json_t *a = json_array(), *r = json_object();

	/* never above what we have: the runtime could not raise it */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_max != RLIM_INFINITY && rl.rlim_max < n)
		n = rl.rlim_max;
	json_object_set_new(r, "type", json_string("RLIMIT_NOFILE"));
	json_object_set_new(r, "hard", json_integer((json_int_t)n));
	json_object_set_new(r, "soft", json_integer((json_int_t)n));
	json_array_append_new(a, r);
	return a;
}

static json_t *user_json(const struct cove_image_user *u)
{
	json_t *j = json_object();

	json_object_set_new(j, "uid", json_integer(u->uid));
	json_object_set_new(j, "gid", json_integer(u->gid));
	if (u->n_additional_gids) {
		json_t *g = json_array();
		for (size_t i = 0; i < u->n_additional_gids; i++)
			json_array_append_new(
			    g, json_integer(u->additional_gids[i]));
		json_object_set_new(j, "additionalGids", g);
	}
	return j;
}

static json_t *caps_json(char *const *caps)
{
	json_t *c = json_object();

	json_object_set_new(c, "bounding",
			    cove_json_strv_array((const char *const *)caps));
	json_object_set_new(c, "effective",
			    cove_json_strv_array((const char *const *)caps));
	json_object_set_new(c, "permitted",
			    cove_json_strv_array((const char *const *)caps));
	return c;
}

int cove_bundle_spec(const json_t *img, int rootfs_fd,
		     const struct cove_bundle_opts *o, json_t **ret,
		     struct cove_error *err)
{
	static const struct cove_bundle_opts defaults = {0};
	_cleanup_strv_ char **ep = NULL, **cmd = NULL, **env = NULL,
			    **args = NULL, **caps = NULL;
	_cleanup_json_ json_t *spec = NULL, *annotations = NULL;
	struct cove_image_user user = {0};
	const char *cwd = NULL, *user_spec = NULL;
	json_t *cfg = NULL, *proc, *root, *seccomp = NULL;
	int r;

	if (!o)
		o = &defaults;
	if (!json_is_object(img))
		return cove_error_set(err, EINVAL,
				      "invalid image config: expected an "
				      "object");
	r = cove_json_object(img, "", "config", &cfg, err);
	if (r < 0)
		return r;
	if (cfg) {
		r = cove_json_strv(cfg, "config", "Entrypoint", &ep, err);
		if (r == 0)
			r = cove_json_strv(cfg, "config", "Cmd", &cmd, err);
		if (r == 0)
			r = cove_json_strv(cfg, "config", "Env", &env, err);
		if (r == 0)
			r = cove_json_string(cfg, "config", "WorkingDir", &cwd,
					     err);
		if (r == 0)
			r = cove_json_string(cfg, "config", "User", &user_spec,
					     err);
		if (r == 0)
			r = check_env(env, "config.Env", err);
		if (r < 0)
			return r;
	}

	/* process.args: Entrypoint + Cmd */
	if (o->entrypoint) {
		cove_strv_free(ep);
		ep = cove_strv_copy(o->entrypoint);
		cove_strv_free(cmd);
		cmd = NULL;
		if (!ep)
			return cove_error_set(err, ENOMEM, "out of memory");
	}
	if (o->cmd) {
		cove_strv_free(cmd);
		cmd = cove_strv_copy(o->cmd);
		if (!cmd)
			return cove_error_set(err, ENOMEM, "out of memory");
	}
	for (char **p = ep; p && *p; p++)
		if (cove_strv_push(&args, *p) < 0)
			return cove_error_set(err, ENOMEM, "out of memory");
	for (char **p = cmd; p && *p; p++)
		if (cove_strv_push(&args, *p) < 0)
			return cove_error_set(err, ENOMEM, "out of memory");
	if (!args || !args[0][0])
		return cove_error_set(err, EINVAL,
				      "no command: the image has no "
				      "'config.Entrypoint' or 'config.Cmd' "
				      "and none was given");

	/* process.cwd */
	if (o->workdir)
		cwd = o->workdir;
	if (!cwd || !*cwd)
		cwd = "/";
	if (cwd[0] != '/')
		return cove_error_set(err, EINVAL,
				      "invalid %s '%s': must be an absolute "
				      "path",
				      o->workdir ? "working directory"
						 : "'config.WorkingDir'",
				      cwd);

	/* process.user */
	if (o->user)
		user_spec = o->user;
	r = cove_image_user_resolve(rootfs_fd, user_spec ? user_spec : "",
				    &user, err);
	if (r < 0)
		return cove_error_wrap(err, "%s",
				       o->user ? "user" : "'config.User'");

	/* process.env: the image's, PATH if it has none, then ours */
	r = check_env(o->env, "env", err);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	if (!env_has(env, "PATH") && env_set(&env, "PATH=" DEFAULT_PATH) < 0)
		goto nomem;
	for (char *const *e = o->env; e && *e; e++)
		if (env_set(&env, *e) < 0)
			goto nomem;
	if (!env_has(env, "HOME")) {
		_cleanup_free_ char *home =
		    cove_strdup_printf("HOME=%s", user.home ? user.home : "/");
		if (!home || env_set(&env, home) < 0)
			goto nomem;
	}
	if (o->terminal && !env_has(env, "TERM") &&
	    env_set(&env, "TERM=xterm") < 0)
		goto nomem;

	r = caps_compute(o, &caps, err);
	if (r < 0)
		goto out;
	if (!o->no_seccomp) {
		seccomp = cove_bundle_default_seccomp(caps);
		if (!seccomp)
			goto nomem;
	}
	r = annotations_json(img, cfg, o, &annotations, err);
	if (r < 0)
		goto out;

	spec = json_object();
	proc = json_object();
	root = json_object();
	json_object_set_new(spec, "ociVersion", json_string("1.2.0"));
	json_object_set_new(proc, "terminal", json_boolean(o->terminal));
	json_object_set_new(proc, "user", user_json(&user));
	json_object_set_new(proc, "args",
			    cove_json_strv_array((const char *const *)args));
	json_object_set_new(proc, "env",
			    cove_json_strv_array((const char *const *)env));
	json_object_set_new(proc, "cwd", json_string(cwd));
	json_object_set_new(proc, "capabilities", caps_json(caps));
	json_object_set_new(proc, "rlimits", rlimits_json());
	json_object_set_new(proc, "noNewPrivileges", json_true());
	json_object_set_new(spec, "process", proc);
	json_object_set_new(root, "path",
			    json_string(o->rootfs ? o->rootfs : "rootfs"));
	json_object_set_new(root, "readonly", json_boolean(o->read_only));
	json_object_set_new(spec, "root", root);
	json_object_set_new(spec, "hostname",
			    json_string(o->hostname ? o->hostname : "cove"));
	json_object_set_new(spec, "mounts", mounts_json(o->rootless));
	json_object_set_new(spec, "linux", linux_json(o, TAKE_PTR(seccomp)));
	if (json_object_size(annotations))
		json_object_set(spec, "annotations", annotations);
	*ret = TAKE_PTR(spec);
	r = 0;
	goto out;
nomem:
	r = cove_error_set(err, ENOMEM, "out of memory");
out:
	json_decref(seccomp);
	cove_image_user_release(&user);
	return r;
}

int cove_bundle_write(const char *bundle_dir, const json_t *spec,
		      struct cove_error *err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int dfd = -1;
	int r;

	text = json_dumps(spec, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		return cove_error_set(err, ENOMEM, "out of memory");
	r = cove_mkdir_p(bundle_dir, 0700);
	if (r < 0)
		return cove_error_setx(err, r, "cannot create '%s'",
				       bundle_dir);
	dfd = open(bundle_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cove_error_setx(err, errno, "cannot open '%s'",
				       bundle_dir);
	r = cove_write_file_atomic_at(dfd, "config.json", text, strlen(text),
				      0600);
	if (r < 0)
		return cove_error_setx(err, r, "cannot write '%s/config.json'",
				       bundle_dir);
	return 0;
}

int cove_bundle_create(const json_t *image_config, const char *bundle_dir,
		       const struct cove_bundle_opts *o, struct cove_error *err)
{
	static const struct cove_bundle_opts defaults = {0};
	_cleanup_free_ char *rootfs = NULL;
	_cleanup_close_ int rfd = -1;
	_cleanup_json_ json_t *spec = NULL;
	int r;

	if (!o)
		o = &defaults;
	if (o->rootfs && o->rootfs[0] == '/')
		rootfs = strdup(o->rootfs);
	else
		rootfs = cove_strdup_printf("%s/%s", bundle_dir,
					    o->rootfs ? o->rootfs : "rootfs");
	if (!rootfs)
		return cove_error_set(err, ENOMEM, "out of memory");
	rfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return cove_error_setx(err, errno, "cannot open rootfs '%s'",
				       rootfs);
	r = cove_bundle_spec(image_config, rfd, o, &spec, err);
	if (r < 0)
		return r;
	return cove_bundle_write(bundle_dir, spec, err);
}
