#include "engine/userns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/nsfs.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/rootless.h"
#include "image/bundle.h"
#include "runtime/idmap.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

#define MODES_HELP                                                             \
	"supported are host, auto, keep-id[:uid=UID,gid=GID], nomap and "      \
	"ns:PATH"

/* ---- the mode ----------------------------------------------------------- */

/* keep-id's options: "uid=U,gid=G", either or both */
static int parse_keep_id(const char *s, const char *opts,
			 struct cove_userns_mode *m, struct cove_error *err)
{
	_cleanup_free_ char *copy = strdup(opts);
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	if (!*opts)
		return cove_error_set(err, EINVAL,
				      "invalid --userns '%s': expected "
				      "keep-id:uid=UID,gid=GID",
				      s);
	for (char *t = strtok_r(copy, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		uint32_t v;
		bool is_uid;
		if (!eq)
			return cove_error_set(err, EINVAL,
					      "invalid --userns '%s': expected "
					      "keep-id:uid=UID,gid=GID",
					      s);
		*eq = '\0';
		if (strcmp(t, "uid") && strcmp(t, "gid"))
			return cove_error_set(err, EINVAL,
					      "invalid --userns '%s': unknown "
					      "keep-id option '%s' (uid and "
					      "gid are)",
					      s, t);
		is_uid = !strcmp(t, "uid");
		if (cove_parse_uint32(eq + 1, &v) < 0 || v == UINT32_MAX)
			return cove_error_set(err, EINVAL,
					      "invalid --userns '%s': %s must "
					      "be a number",
					      s, t);
		if (is_uid) {
			m->has_uid = true;
			m->uid = v;
		} else {
			m->has_gid = true;
			m->gid = v;
		}
	}
	return 0;
}

int cove_userns_mode_parse(const char *s, struct cove_userns_mode *ret,
			   struct cove_error *err)
{
	struct cove_userns_mode m = {.kind = COVE_USERNS_HOST};
	int r;

	if (!s || !*s || !strcmp(s, "host")) {
		*ret = m;
		return 0;
	}
	if (!strcmp(s, "auto")) {
		m.kind = COVE_USERNS_AUTO;
	} else if (!strcmp(s, "nomap")) {
		m.kind = COVE_USERNS_NOMAP;
	} else if (!strcmp(s, "keep-id")) {
		m.kind = COVE_USERNS_KEEP_ID;
	} else if (!strncmp(s, "keep-id:", 8)) {
		m.kind = COVE_USERNS_KEEP_ID;
		r = parse_keep_id(s, s + 8, &m, err);
		if (r < 0)
			return r;
	} else if (!strncmp(s, "ns:", 3)) {
		m.kind = COVE_USERNS_NS;
		m.path = s + 3;
		if (m.path[0] != '/')
			return cove_error_set(err, EINVAL,
					      "invalid --userns '%s': ns: "
					      "needs the absolute path of a "
					      "user namespace (e.g. "
					      "/proc/PID/ns/user)",
					      s);
	} else {
		return cove_error_set(err, EINVAL,
				      "invalid --userns '%s': " MODES_HELP, s);
	}
	*ret = m;
	return 0;
}

/* ---- maps ---------------------------------------------------------------- */

/*
 * keep-id for one of uid/gid: container @t is the namespace's 0 (the
 * user), container 0..t-1 its 1..t, container t+1.. its t+1.. (n ids).
 */
static size_t keep_id_lines(uint32_t t, uint32_t n, struct cove_id_mapping *m)
{
	size_t k = 0;
	uint32_t below = n - 1 < t ? n - 1 : t;

	if (below > 0)
		m[k++] = (struct cove_id_mapping){0, 1, below};
	m[k++] = (struct cove_id_mapping){t, 0, 1};
	if (n - 1 > t)
		m[k++] = (struct cove_id_mapping){t + 1, t + 1, n - 1 - t};
	return k;
}

int cove_userns_build_maps(const struct cove_userns_mode *m, uint32_t n_uids,
			   uint32_t n_gids, uint32_t own_uid, uint32_t own_gid,
			   struct cove_userns_maps *ret, struct cove_error *err)
{
	memset(ret, 0, sizeof(*ret));
	if (n_uids == 0 || n_gids == 0)
		return cove_error_set(err, EINVAL, "empty user namespace");
	switch (m->kind) {
	case COVE_USERNS_KEEP_ID:
		ret->n_uid = keep_id_lines(m->has_uid ? m->uid : own_uid,
					   n_uids, ret->uid);
		ret->n_gid = keep_id_lines(m->has_gid ? m->gid : own_gid,
					   n_gids, ret->gid);
		return 0;
	case COVE_USERNS_NOMAP:
		if (n_uids < 2 || n_gids < 2)
			return cove_error_set(
			    err, EINVAL,
			    "--userns nomap: the user's namespace has no "
			    "ids but the user's own (no /etc/subuid and "
			    "/etc/subgid ranges)");
		ret->uid[0] = (struct cove_id_mapping){0, 1, n_uids - 1};
		ret->gid[0] = (struct cove_id_mapping){0, 1, n_gids - 1};
		ret->n_uid = ret->n_gid = 1;
		return 0;
	default:
		return cove_error_set(err, EINVAL,
				      "no maps to build for this --userns");
	}
}

int cove_userns_map_id(const struct cove_id_mapping *map, size_t n, uint32_t id,
		       uint32_t *ret)
{
	for (size_t i = 0; i < n; i++)
		if (id >= map[i].container_id &&
		    id - map[i].container_id < map[i].size) {
			*ret = map[i].host_id + (id - map[i].container_id);
			return 0;
		}
	return -ENOENT;
}

static json_t *lines_json(const struct cove_id_mapping *m, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%u:%u:%u", m[i].container_id,
			 m[i].host_id, m[i].size);
		json_array_append_new(a, json_string(buf));
	}
	return a;
}

json_t *cove_userns_maps_json(const struct cove_userns_maps *m)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "UidMap", lines_json(m->uid, m->n_uid));
	json_object_set_new(o, "GidMap", lines_json(m->gid, m->n_gid));
	return o;
}

static int lines_parse(const json_t *a, struct cove_id_mapping *m,
		       size_t *ret_n)
{
	size_t i, n = 0;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > COVE_USERNS_MAX_MAPS)
		return -EINVAL;
	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(v);
		unsigned long long x[3];
		int used = 0;
		if (!s ||
		    sscanf(s, "%llu:%llu:%llu%n", &x[0], &x[1], &x[2], &used) !=
			3 ||
		    s[used] || x[2] == 0 || x[0] + x[2] > UINT32_MAX ||
		    x[1] + x[2] > UINT32_MAX)
			return -EINVAL;
		m[n++] = (struct cove_id_mapping){
		    (uint32_t)x[0], (uint32_t)x[1], (uint32_t)x[2]};
	}
	*ret_n = n;
	return 0;
}

int cove_userns_maps_from_config(const json_t *host,
				 struct cove_userns_maps *ret)
{
	const json_t *idm = json_object_get(host, "IDMappings");
	json_int_t base =
	    json_integer_value(json_object_get(host, "IDMapBase"));
	int r;

	memset(ret, 0, sizeof(*ret));
	if (json_is_object(idm)) {
		r = lines_parse(json_object_get(idm, "UidMap"), ret->uid,
				&ret->n_uid);
		if (r >= 0)
			r = lines_parse(json_object_get(idm, "GidMap"),
					ret->gid, &ret->n_gid);
		if (r < 0)
			memset(ret, 0, sizeof(*ret));
		return r;
	}
	if (base > 0 && base <= (json_int_t)UINT32_MAX - 65536) {
		ret->uid[0] = ret->gid[0] =
		    (struct cove_id_mapping){0, (uint32_t)base, 65536};
		ret->n_uid = ret->n_gid = 1;
	}
	return 0;
}

int cove_engine_ctr_maps(const struct cove_ctr *c,
			 struct cove_userns_maps **ret, struct cove_error *err)
{
	struct cove_userns_maps *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	if (cove_userns_maps_from_config(
		json_object_get(c->config, "HostConfig"), m) < 0) {
		free(m);
		return cove_error_set(err, EINVAL,
				      "invalid 'HostConfig.IDMappings' of "
				      "container %s",
				      c->name);
	}
	*ret = m;
	return 0;
}

uint32_t cove_userns_to_host(const struct cove_id_mapping *map, size_t n,
			     uint32_t id)
{
	uint32_t r;

	if (cove_userns_map_id(map, n, id, &r) == 0 ||
	    cove_userns_map_id(map, n, 65534, &r) == 0)
		return r;
	return id;
}

uint32_t cove_userns_to_ctr(const struct cove_id_mapping *map, size_t n,
			    uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (id >= map[i].host_id && id - map[i].host_id < map[i].size)
			return map[i].container_id + (id - map[i].host_id);
	return 65534;
}

/* "0 1001 1\n1 100000 65536\n" -> lines; the ids they cover */
static int parse_map_file(const char *file, struct cove_id_mapping *m,
			  size_t *ret_n, uint32_t *ret_top,
			  struct cove_error *err)
{
	_cleanup_free_ struct cove_idmap_range *v =
	    calloc(COVE_USERNS_MAX_MAPS, sizeof(*v));
	_cleanup_free_ char *data = NULL;
	size_t len = 0, n = 0;
	uint64_t top = 0;
	int r;

	if (!v)
		return -ENOMEM;
	r = cove_read_file(file, 65536, &data, &len);
	if (r < 0)
		return cove_error_setx(err, r, "cannot read %s", file);
	r = cove_proc_idmap_parse(data, len, v, COVE_USERNS_MAX_MAPS, &n);
	if (r < 0)
		return cove_error_set(err, -r, "unexpected contents of %s",
				      file);
	for (size_t i = 0; i < n; i++) {
		m[i] = (struct cove_id_mapping){v[i].container_id, v[i].host_id,
						v[i].size};
		if ((uint64_t)v[i].container_id + v[i].size > top)
			top = (uint64_t)v[i].container_id + v[i].size;
	}
	*ret_n = n;
	if (ret_top)
		*ret_top = top > UINT32_MAX ? UINT32_MAX : (uint32_t)top;
	return 0;
}

static const char *ns_type_name(int type)
{
	switch (type) {
	case CLONE_NEWNET:
		return "network";
	case CLONE_NEWNS:
		return "mount";
	case CLONE_NEWPID:
		return "pid";
	case CLONE_NEWUTS:
		return "uts";
	case CLONE_NEWIPC:
		return "ipc";
	case CLONE_NEWCGROUP:
		return "cgroup";
	default:
		return "another";
	}
}

/*
 * Rootless, cove works in the user's own user namespace (rootless.h): a
 * namespace made outside it is out of its reach.
 */
static const char *rootless_hint(int e)
{
	if ((e != EACCES && e != EPERM) || cove_in_initial_userns())
		return "";
	return " (rootless, the namespace must be made inside cove's own, "
	       "e.g. by a process of `cove unshare`)";
}

/* An open fd of user namespace @path, other than cove's own. */
static int open_userns(const char *path, int *ret_fd, struct cove_error *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st, self;
	int type;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		return cove_error_set(err, e,
				      "invalid --userns 'ns:%s': cannot open "
				      "%s: %s%s",
				      path, path, strerror(e),
				      rootless_hint(e));
	}
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type < 0)
		return cove_error_set(err, EINVAL,
				      "invalid --userns 'ns:%s': %s is not a "
				      "namespace (expected a user namespace "
				      "such as /proc/PID/ns/user)",
				      path, path);
	if (type != CLONE_NEWUSER)
		return cove_error_set(err, EINVAL,
				      "invalid --userns 'ns:%s': %s is a %s "
				      "namespace, not a user namespace",
				      path, path, ns_type_name(type));
	if (fstat(fd, &st) == 0 && stat("/proc/self/ns/user", &self) == 0 &&
	    st.st_dev == self.st_dev && st.st_ino == self.st_ino)
		return cove_error_set(err, EINVAL,
				      "invalid --userns 'ns:%s': %s is cove's "
				      "own user namespace (that is --userns "
				      "host)",
				      path, path);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int cove_userns_read_path_maps(const char *path, struct cove_userns_maps *ret,
			       struct cove_error *err)
{
	_cleanup_close_ int fd = -1;
	int res[2] = {-1, -1}, hold[2] = {-1, -1};
	int r, child_err = 0;
	char file[64];
	pid_t pid;

	memset(ret, 0, sizeof(*ret));
	r = open_userns(path, &fd, err);
	if (r < 0)
		return r;

	/*
	 * A child joins the namespace and we read its maps from here: read
	 * by a process of another namespace, uid_map shows the ids of the
	 * reader's namespace (user_namespaces(7)), cove's, which own the
	 * image's files.  The child holds until we are done (EOF on @hold).
	 */
	if (pipe2(res, O_CLOEXEC) < 0)
		return cove_error_setx(err, errno, "pipe");
	if (pipe2(hold, O_CLOEXEC) < 0) {
		r = cove_error_setx(err, errno, "pipe");
		close(res[0]);
		close(res[1]);
		return r;
	}
	pid = fork();
	if (pid < 0) {
		r = cove_error_setx(err, errno, "fork");
		close(res[0]);
		close(res[1]);
		close(hold[0]);
		close(hold[1]);
		return r;
	}
	if (pid == 0) {
		int e = 0;
		char c;
		close(res[0]);
		close(hold[1]);
		if (setns(fd, CLONE_NEWUSER) < 0)
			e = errno;
		if (write(res[1], &e, sizeof(e)) != (ssize_t)sizeof(e))
			_exit(1);
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(res[1]);
	close(hold[0]);
	if (cove_read_all(res[0], &child_err, sizeof(child_err)) !=
	    (ssize_t)sizeof(child_err))
		child_err = EIO;
	close(res[0]);
	if (child_err) {
		r = cove_error_set(err, child_err,
				   "invalid --userns 'ns:%s': cannot join "
				   "user namespace %s: %s%s",
				   path, path, strerror(child_err),
				   rootless_hint(child_err));
	} else {
		snprintf(file, sizeof(file), "/proc/%d/uid_map", (int)pid);
		r = parse_map_file(file, ret->uid, &ret->n_uid, NULL, err);
		snprintf(file, sizeof(file), "/proc/%d/gid_map", (int)pid);
		if (r >= 0)
			r = parse_map_file(file, ret->gid, &ret->n_gid, NULL,
					   err);
		if (r >= 0 && (!ret->n_uid || !ret->n_gid))
			r = cove_error_set(err, EINVAL,
					   "invalid --userns 'ns:%s': user "
					   "namespace %s has no ids of cove's "
					   "user namespace mapped",
					   path, path);
	}
	close(hold[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return r;
}

/* ---- shifting a private copy ------------------------------------------ */

struct shift {
	const struct cove_userns_maps *m;
	dev_t dev;
	ino_t *seen; /* hard-linked inodes done: open addressing, 0 = free */
	size_t cap, n;
};

/* True when @ino was shifted already; else it is recorded. */
static int seen_before(struct shift *s, ino_t ino)
{
	size_t i;

	if (ino == 0)
		return 0;
	if (2 * (s->n + 1) > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 1024;
		ino_t *nv = calloc(ncap, sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		for (size_t j = 0; j < s->cap; j++) {
			if (!s->seen[j])
				continue;
			for (i = s->seen[j] % ncap; nv[i]; i = (i + 1) % ncap)
				;
			nv[i] = s->seen[j];
		}
		free(s->seen);
		s->seen = nv;
		s->cap = ncap;
	}
	for (i = ino % s->cap; s->seen[i]; i = (i + 1) % s->cap)
		if (s->seen[i] == ino)
			return 1;
	s->seen[i] = ino;
	s->n++;
	return 0;
}

/* @name in @dirfd ("" with @dirfd itself) */
static int shift_one(struct shift *s, int dirfd, const char *name,
		     const struct stat *st)
{
	uid_t u = cove_userns_to_host(s->m->uid, s->m->n_uid, st->st_uid);
	gid_t g = cove_userns_to_host(s->m->gid, s->m->n_gid, st->st_gid);
	int flags = AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH);

	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		int r = seen_before(s, st->st_ino);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	if ((u != st->st_uid || g != st->st_gid) &&
	    fchownat(dirfd, name, u, g, flags) < 0)
		return -errno;
	/* chown clears set-id bits: put them back (never on a symlink) */
	if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)) &&
	    (*name ? fchmodat(dirfd, name, st->st_mode & 07777, 0)
		   : fchmod(dirfd, st->st_mode & 07777)) < 0)
		return -errno;
	return 0;
}

static int shift_dir(struct shift *s, int fd)
{
	_cleanup_closedir_ DIR *d = cove_opendir_dup(fd);
	struct dirent *de;

	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		int r;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (st.st_dev != s->dev)
			continue; /* a mount point: not ours */
		r = shift_one(s, fd, de->d_name, &st);
		if (r < 0)
			return r;
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(
			    fd, de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				return -errno;
			r = shift_dir(s, sub);
			if (r < 0)
				return r;
		}
	}
	return errno ? -errno : 0;
}

int cove_userns_shift_tree(const char *root, const struct cove_userns_maps *m,
			   struct cove_error *err)
{
	struct shift s = {.m = m};
	_cleanup_close_ int fd =
	    open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	int r;

	if (fd < 0 || fstat(fd, &st) < 0)
		return cove_error_setx(err, errno, "cannot open %s", root);
	s.dev = st.st_dev;
	r = shift_one(&s, fd, "", &st);
	if (r >= 0)
		r = shift_dir(&s, fd);
	free(s.seen);
	if (r < 0)
		return cove_error_setx(err, r,
				       "--userns: cannot shift the owners "
				       "under %s",
				       root);
	return 0;
}

/* ---- the engine's part ------------------------------------------------ */

/*
 * --userns=auto: each such container gets its own 65536 host ids, from
 * 2^31 up in slots of 65536 (above any id a distribution hands out), the
 * lowest slot no other container of this engine holds.  Chosen at
 * create; recorded as HostConfig.IDMapBase (unique in the database).
 */
#define USERNS_AUTO_FIRST 0x80000000u
#define USERNS_AUTO_SIZE 65536u
#define USERNS_AUTO_SLOTS 8192u

static int auto_set_base(sqlite3 *db, json_t *host, struct cove_error *err)
{
	struct cove_ctr *cs = NULL;
	size_t n = 0;
	int r = cove_ctr_list(db, &cs, &n, err);

	if (r < 0)
		return r;
	for (uint32_t slot = 0; slot < USERNS_AUTO_SLOTS; slot++) {
		uint32_t base = USERNS_AUTO_FIRST + slot * USERNS_AUTO_SIZE;
		struct cove_userns_maps m = {0};
		bool used = false;
		for (size_t i = 0; i < n && !used; i++)
			used = json_integer_value(json_object_get(
				   json_object_get(cs[i].config, "HostConfig"),
				   "IDMapBase")) == base;
		if (used)
			continue;
		cove_ctrs_free(cs, n);
		m.uid[0] = m.gid[0] =
		    (struct cove_id_mapping){0, base, USERNS_AUTO_SIZE};
		m.n_uid = m.n_gid = 1;
		json_object_set_new(host, "IDMapBase", json_integer(base));
		json_object_set_new(host, "IDMappings",
				    cove_userns_maps_json(&m));
		return 0;
	}
	cove_ctrs_free(cs, n);
	return cove_error_set(err, ENOSPC,
			      "--userns=auto: every id range is in use");
}

int cove_engine_userns_auto_next(sqlite3 *db, json_t *host,
				 struct cove_error *err)
{
	return auto_set_base(db, host, err);
}

static const char *mode_string(const json_t *host)
{
	const char *s = json_string_value(json_object_get(host, "UsernsMode"));

	return s ? s : "";
}

int cove_engine_userns_check(struct cove_engine *e, const json_t *host,
			     struct cove_error *err)
{
	struct cove_userns_mode m;
	const char *s = mode_string(host);
	int r = cove_userns_mode_parse(s, &m, err);

	if (r < 0)
		return r;
	if (m.kind == COVE_USERNS_AUTO && e->rootless)
		return cove_error_set(err, EINVAL,
				      "--userns=auto is for root: rootless "
				      "containers run in the user's own "
				      "user namespace already");
	if (m.kind == COVE_USERNS_NS) {
		_cleanup_close_ int fd = -1;
		return open_userns(m.path, &fd, err);
	}
	if ((m.kind == COVE_USERNS_KEEP_ID || m.kind == COVE_USERNS_NOMAP) &&
	    !e->rootless)
		return cove_error_set(
		    err, EINVAL,
		    "invalid --userns '%s': %s is only "
		    "supported in rootless mode (as root, "
		    "--userns auto gives the container "
		    "ids of its own)",
		    s, m.kind == COVE_USERNS_NOMAP ? "nomap" : "keep-id");
	return 0;
}

/* cove's own namespace: its size and the host ids of its id 0 */
struct own_ns {
	uint32_t n_uids, n_gids;
	uint32_t uid, gid; /* the user's host ids (ns id 0) */
};

static int own_ns(struct own_ns *ret, struct cove_error *err)
{
	_cleanup_free_ struct cove_userns_maps *m = calloc(1, sizeof(*m));
	uint32_t u, g;
	int r;

	if (!m)
		return -ENOMEM;
	r = parse_map_file("/proc/self/uid_map", m->uid, &m->n_uid,
			   &ret->n_uids, err);
	if (r >= 0)
		r = parse_map_file("/proc/self/gid_map", m->gid, &m->n_gid,
				   &ret->n_gids, err);
	if (r < 0)
		return r;
	if (cove_userns_map_id(m->uid, m->n_uid, 0, &u) < 0 ||
	    cove_userns_map_id(m->gid, m->n_gid, 0, &g) < 0)
		return cove_error_set(err, EINVAL,
				      "id 0 is not mapped in cove's user "
				      "namespace");
	ret->uid = u;
	ret->gid = g;
	return 0;
}

static json_t *graph_data(json_t *config)
{
	json_t *gd = json_object_get(config, "GraphDriver"), *data;

	if (!gd) {
		gd = json_object();
		json_object_set_new(config, "GraphDriver", gd);
	}
	data = json_object_get(gd, "Data");
	if (!data) {
		data = json_object();
		json_object_set_new(gd, "Data", data);
	}
	return data;
}

int cove_engine_userns_prepare(struct cove_engine *e, sqlite3 *db,
			       json_t *config, struct cove_error *err)
{
	json_t *host = json_object_get(config, "HostConfig");
	_cleanup_free_ struct cove_userns_maps *maps = calloc(1, sizeof(*maps));
	struct cove_userns_mode m;
	struct own_ns own = {0};
	int r;

	if (!maps)
		return -ENOMEM;
	r = cove_engine_userns_check(e, host, err);
	if (r < 0)
		return r;
	(void)cove_userns_mode_parse(mode_string(host), &m, NULL);
	json_object_del(host, "IDMappings");
	json_object_del(host, "IDMapBase");
	switch (m.kind) {
	case COVE_USERNS_HOST:
		return 0;
	case COVE_USERNS_AUTO:
		r = auto_set_base(db, host, err);
		break;
	case COVE_USERNS_KEEP_ID:
	case COVE_USERNS_NOMAP:
		r = own_ns(&own, err);
		if (r >= 0)
			r = cove_userns_build_maps(&m, own.n_uids, own.n_gids,
						   own.uid, own.gid, maps, err);
		if (r >= 0)
			json_object_set_new(host, "IDMappings",
					    cove_userns_maps_json(maps));
		/* keep-id: the process is the user unless -u says */
		if (r >= 0 && m.kind == COVE_USERNS_KEEP_ID &&
		    !*(json_string_value(json_object_get(config, "User"))
			   ?: "")) {
			_cleanup_free_ char *user = cove_strdup_printf(
			    "%u:%u", m.has_uid ? m.uid : own.uid,
			    m.has_gid ? m.gid : own.gid);
			if (!user)
				return -ENOMEM;
			json_object_set_new(config, "User", json_string(user));
		}
		break;
	case COVE_USERNS_NS:
		r = cove_userns_read_path_maps(m.path, maps, err);
		if (r >= 0)
			json_object_set_new(host, "IDMappings",
					    cove_userns_maps_json(maps));
		break;
	}
	if (r < 0)
		return r;
	/*
	 * Rootless overlay: the layers cannot be idmapped (the host's file
	 * systems are not the user's), so the container gets a private copy
	 * of the image with its owners shifted.
	 */
	if (e->rootless && !strcmp(cove_snapshotter_driver(e->snap), "overlay"))
		json_object_set_new(graph_data(config), "RootfsCopy",
				    json_true());
	return 0;
}

/*
 * The runtime reaches the rootfs and the /etc files as the container's
 * root, an id with no rights of its own: the directories on their way
 * must let others through (0711: search, not list; the names below them
 * are random ids).
 */
static int traversable(struct cove_engine *e, const char *id, const char *mode,
		       struct cove_error *err)
{
	const char *driver = cove_snapshotter_driver(e->snap);
	char up[PATH_MAX];
	char *paths[5] = {
	    cove_strdup_printf("%s", e->root),
	    cove_strdup_printf("%s/%s-containers", e->root, driver),
	    cove_strdup_printf("%s/%s-containers/%s", e->root, driver, id),
	    cove_strdup_printf("%s/containers", e->root),
	    cove_strdup_printf("%s/containers/%s", e->root, id),
	};
	int r = 0;

	/* the storage root's own parents are the user's: say what to do */
	snprintf(up, sizeof(up), "%s", e->root);
	for (char *slash = strrchr(up, '/'); slash && slash != up;
	     slash = strrchr(up, '/')) {
		struct stat st;
		*slash = '\0';
		if (stat(up, &st) == 0 && !(st.st_mode & 0001)) {
			r = cove_error_set(err, EACCES,
					   "--userns=%s: the container's root "
					   "is an unprivileged id, which "
					   "cannot reach the storage under %s "
					   "(mode %04o): make it searchable "
					   "(chmod o+x) or use another --root",
					   mode, up,
					   (unsigned)(st.st_mode & 07777));
			break;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		struct stat st;
		if (!paths[i]) {
			r = -ENOMEM;
			continue;
		}
		if (r >= 0 && stat(paths[i], &st) == 0 &&
		    (st.st_mode & 0001) == 0 &&
		    chmod(paths[i], (st.st_mode & 07777) | 0111) < 0)
			r = cove_error_setx(err, errno, "cannot chmod %s",
					    paths[i]);
		free(paths[i]);
	}
	return r;
}

/* Whether a line of passwd or group data has @id as its third field. */
static bool has_id(const char *data, uint32_t id)
{
	for (const char *l = data; l && *l;) {
		const char *nl = strchr(l, '\n');
		const char *c1 = strchr(l, ':');
		const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 && (!nl || c2 < nl)) {
			char *end;
			unsigned long v = strtoul(c2 + 1, &end, 10);
			if (end != c2 + 1 && (*end == ':' || *end == '\n') &&
			    v == id)
				return true;
		}
		l = nl ? nl + 1 : NULL;
	}
	return false;
}

/* The image's file (or nothing) plus @line, as <dir>/<name>. */
static int write_etc(const char *dir, const char *name, const char *image,
		     const char *line, struct cove_error *err)
{
	size_t n = image ? strlen(image) : 0;
	_cleanup_free_ char *buf =
	    cove_strdup_printf("%s%s%s\n", image ? image : "",
			       n && image[n - 1] != '\n' ? "\n" : "", line);
	_cleanup_free_ char *path = cove_strdup_printf("%s/%s", dir, name);
	int r;

	if (!buf || !path)
		return -ENOMEM;
	r = cove_write_file_replace_at(AT_FDCWD, path, buf, strlen(buf), 0644);
	if (r < 0)
		return cove_error_setx(err, r, "cannot write %s", path);
	return 0;
}

/* Whether a bind or mount of @config puts something at or below @dir. */
static bool mounted_at(const json_t *config, const char *dir)
{
	const json_t *host = json_object_get(config, "HostConfig");
	size_t len = strlen(dir), i;
	json_t *v;

	json_array_foreach(json_object_get(host, "Binds"), i, v)
	{
		const char *b = json_string_value(v);
		const char *dst = b ? strchr(b, ':') : NULL;
		dst = dst ? dst + 1 : b;
		if (dst && !strncmp(dst, dir, len) &&
		    (dst[len] == '\0' || dst[len] == '/' || dst[len] == ':'))
			return true;
	}
	json_array_foreach(json_object_get(host, "Mounts"), i, v)
	{
		const char *t = json_string_value(json_object_get(v, "Target"));
		if (t && !strncmp(t, dir, len) &&
		    (t[len] == '\0' || t[len] == '/'))
			return true;
	}
	return false;
}

/*
 * keep-id: the user in the container's /etc/passwd and /etc/group, as
 * podman adds them when the image lacks the ids: copies of the image's
 * files in the container's directory (bound over the image's, which stay
 * untouched).  The host's name, comment and shell for the user's own
 * ids, else the number; the home directory is the user's when a mount
 * puts it in the container, else the working directory.
 */
static int keep_id_etc(const json_t *config, const char *rootfs,
		       const char *dir, const struct cove_userns_mode *m,
		       struct cove_error *err)
{
	_cleanup_free_ char *passwd = NULL, *group = NULL, *line = NULL,
			    *uname = NULL, *gname = NULL, *pwbuf = NULL;
	_cleanup_close_ int rootfd =
	    open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	const char *wd =
	    json_string_value(json_object_get(config, "WorkingDir"));
	const char *home = wd && *wd ? wd : "/", *gecos = "container user",
		   *shell = "/bin/sh";
	struct own_ns own = {0};
	struct passwd pw, *pwp = NULL;
	uint32_t uid, gid;
	int r;

	if (rootfd < 0)
		return cove_error_setx(err, errno, "cannot open %s", rootfs);
	r = own_ns(&own, err);
	if (r < 0)
		return r;
	uid = m->has_uid ? m->uid : own.uid;
	gid = m->has_gid ? m->gid : own.gid;
	r = cove_image_read_etc(rootfd, "etc/passwd", &passwd);
	if (r < 0 && r != -ENOENT)
		return cove_error_setx(err, r,
				       "cannot read /etc/passwd of the image");
	r = cove_image_read_etc(rootfd, "etc/group", &group);
	if (r < 0 && r != -ENOENT)
		return cove_error_setx(err, r,
				       "cannot read /etc/group of the image");

	pwbuf = malloc(16384);
	if (!pwbuf)
		return -ENOMEM;
	if (uid == own.uid &&
	    getpwuid_r(own.uid, &pw, pwbuf, 16384, &pwp) == 0 && pwp) {
		uname = strdup(pw.pw_name);
		gecos = pw.pw_gecos ? pw.pw_gecos : "";
		if (pw.pw_shell && *pw.pw_shell)
			shell = pw.pw_shell;
		if (pw.pw_dir && *pw.pw_dir && mounted_at(config, pw.pw_dir))
			home = pw.pw_dir;
	} else {
		uname = cove_strdup_printf("%u", uid);
	}
	if (!uname)
		return -ENOMEM;
	if (!passwd || !has_id(passwd, uid)) {
		line = cove_strdup_printf("%s:*:%u:%u:%s:%s:%s", uname, uid,
					  gid, gecos, home, shell);
		if (!line)
			return -ENOMEM;
		r = write_etc(dir, "passwd", passwd, line, err);
		if (r < 0)
			return r;
		free(line);
		line = NULL;
	}
	if (!group || !has_id(group, gid)) {
		struct group gr, *grp = NULL;
		if (gid == own.gid &&
		    getgrgid_r(own.gid, &gr, pwbuf, 16384, &grp) == 0 && grp)
			gname = strdup(gr.gr_name);
		else
			gname = cove_strdup_printf("%u", gid);
		line = gname
			   ? cove_strdup_printf("%s:x:%u:%s", gname, gid, uname)
			   : NULL;
		if (!line)
			return -ENOMEM;
		r = write_etc(dir, "group", group, line, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A private copy of the image at <dir>/rootfs (rootless overlay). */
static int make_copy(struct cove_engine *e, const struct cove_ctr *c,
		     const char *dir, struct cove_error *err)
{
	_cleanup_free_ char *path = cove_strdup_printf("%s/rootfs", dir);
	_cleanup_close_ int dfd = -1;
	int r;

	if (!path)
		return -ENOMEM;
	(void)cove_rm_rf(path);
	if (mkdir(path, 0755) < 0)
		return cove_error_setx(err, errno, "cannot create %s", path);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return cove_error_setx(err, errno, "cannot open %s", path);
	r = cove_snapshot_copy(e->snap, cove_engine_chain_id(c), dfd, err);
	if (r < 0)
		return cove_error_wrap(err, "cannot copy the image for "
					    "--userns");
	return 0;
}

int cove_engine_userns_rootfs(struct cove_engine *e, struct cove_ctr *c,
			      const char *dir, char **ret_rootfs,
			      struct cove_error *err)
{
	const json_t *host = json_object_get(c->config, "HostConfig");
	_cleanup_free_ struct cove_userns_maps *maps = calloc(1, sizeof(*maps));
	_cleanup_free_ char *rootfs = NULL;
	struct cove_userns_mode m;
	bool copy = json_is_true(json_object_get(
	    json_object_get(json_object_get(c->config, "GraphDriver"), "Data"),
	    "RootfsCopy"));
	int r;

	if (!maps)
		return -ENOMEM;
	r = cove_userns_maps_from_config(host, maps);
	if (r < 0)
		return cove_error_set(err, EINVAL,
				      "invalid HostConfig.IDMappings");
	if (maps->n_uid && copy) {
		r = make_copy(e, c, dir, err);
		if (r < 0)
			return r;
	}
	r = cove_engine_mount_rootfs(e, c, &rootfs, err);
	if (r < 0)
		return r;
	if (maps->n_uid) {
		if (copy || !strcmp(cove_snapshotter_driver(e->snap), "vfs")) {
			r = cove_userns_shift_tree(rootfs, maps, err);
			if (r < 0)
				return r;
		}
		r = traversable(e, c->id, mode_string(host), err);
		if (r < 0)
			return r;
	}
	if (cove_userns_mode_parse(mode_string(host), &m, NULL) >= 0 &&
	    m.kind == COVE_USERNS_KEEP_ID) {
		r = keep_id_etc(c->config, rootfs, dir, &m, err);
		if (r < 0)
			return r;
	}
	*ret_rootfs = TAKE_PTR(rootfs);
	return 0;
}

static bool env_has_home(const json_t *env)
{
	size_t i;
	json_t *v;

	json_array_foreach(env, i, v)
	{
		if (!strncmp(json_string_value(v) ?: "", "HOME=", 5))
			return true;
	}
	return false;
}

/* keep-id: HOME from the passwd line cove added for the user, if any */
static int keep_id_home(const json_t *config, const json_t *image_config,
			const char *dir, json_t *spec)
{
	_cleanup_free_ char *passwd = NULL, *path = NULL;
	json_t *proc = json_object_get(spec, "process");
	json_t *user = json_object_get(proc, "user"), *env, *v;
	uint32_t uid =
	    (uint32_t)json_integer_value(json_object_get(user, "uid"));
	const char *last = NULL;
	size_t i;

	if (env_has_home(json_object_get(config, "Env")) ||
	    env_has_home(json_object_get(
		json_object_get(image_config, "config"), "Env")))
		return 0;
	path = cove_strdup_printf("%s/passwd", dir);
	if (!path)
		return -ENOMEM;
	if (cove_read_file(path, 4 << 20, &passwd, NULL) < 0)
		return 0; /* nothing added: the image's entry rules */
	/* the last line is the one added */
	for (char *l = passwd; l && *l;) {
		char *nl = strchr(l, '\n');
		if (nl)
			*nl = '\0';
		if (*l)
			last = l;
		l = nl ? nl + 1 : NULL;
	}
	if (!last || !has_id(last, uid))
		return 0;
	{
		/* name:pw:uid:gid:gecos:HOME:shell */
		const char *p = last;
		_cleanup_free_ char *home = NULL, *kv = NULL;
		const char *end;
		for (int f = 0; f < 5 && p; f++) {
			p = strchr(p, ':');
			p = p ? p + 1 : NULL;
		}
		if (!p)
			return 0;
		end = strchr(p, ':');
		home = end ? strndup(p, (size_t)(end - p)) : strdup(p);
		if (!home)
			return -ENOMEM;
		if (!*home)
			return 0;
		kv = cove_strdup_printf("HOME=%s", home);
		if (!kv)
			return -ENOMEM;
		env = json_object_get(proc, "env");
		json_array_foreach(env, i, v)
		{
			if (!strncmp(json_string_value(v) ?: "", "HOME=", 5)) {
				json_array_set_new(env, i, json_string(kv));
				return 0;
			}
		}
		json_array_append_new(env, json_string(kv));
	}
	return 0;
}

/*
 * keep-id's default user (no -u) also has its group as a supplementary
 * one, as podman gives it (`id -G` lists it).  Only when the namespace
 * has more gids than the user's own: with that one alone, the user's
 * namespace was made with setgroups denied, which every namespace below
 * it inherits, so the runtime could not set any.
 */
static int keep_id_groups(const json_t *config,
			  const struct cove_userns_maps *maps, json_t *spec)
{
	json_t *proc = json_object_get(spec, "process");
	json_t *user = json_object_get(proc, "user"), *gids, *g;
	_cleanup_free_ char *dflt = NULL;
	uint32_t uid = 0, gid = 0;
	uint64_t n_gids = 0;
	bool have_uid = false, have_gid = false;
	size_t i;

	/* the container ids the user (its namespace's 0) has */
	for (i = 0; i < maps->n_uid; i++)
		if (maps->uid[i].host_id == 0) {
			uid = maps->uid[i].container_id;
			have_uid = true;
		}
	for (i = 0; i < maps->n_gid; i++) {
		n_gids += maps->gid[i].size;
		if (maps->gid[i].host_id == 0) {
			gid = maps->gid[i].container_id;
			have_gid = true;
		}
	}
	if (!user || !have_uid || !have_gid || n_gids < 2)
		return 0;
	/* what userns_prepare set as the User when -u gave none */
	dflt = cove_strdup_printf("%u:%u", uid, gid);
	if (!dflt)
		return -ENOMEM;
	if (strcmp(json_string_value(json_object_get(config, "User")) ?: "",
		   dflt))
		return 0;
	gids = json_object_get(user, "additionalGids");
	if (!json_is_array(gids)) {
		gids = json_array();
		if (json_object_set_new(user, "additionalGids", gids) < 0)
			return -ENOMEM;
	}
	json_array_foreach(gids, i, g)
	{
		if ((uint32_t)json_integer_value(g) == gid)
			return 0;
	}
	if (json_array_append_new(gids, json_integer(gid)) < 0)
		return -ENOMEM;
	return 0;
}

/* The runtime spec's form of @n maps: [{containerID, hostID, size}] */
static json_t *spec_maps(const struct cove_id_mapping *m, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "containerID",
				    json_integer(m[i].container_id));
		json_object_set_new(o, "hostID", json_integer(m[i].host_id));
		json_object_set_new(o, "size", json_integer(m[i].size));
		json_array_append_new(a, o);
	}
	return a;
}

int cove_engine_userns_spec(const json_t *config, const json_t *image_config,
			    const char *dir, json_t *spec,
			    struct cove_error *err)
{
	const json_t *host = json_object_get(config, "HostConfig");
	json_t *lx = json_object_get(spec, "linux"), *ns;
	_cleanup_free_ struct cove_userns_maps *maps = calloc(1, sizeof(*maps));
	struct cove_userns_mode m;
	int r;

	if (!maps)
		return -ENOMEM;
	r = cove_userns_mode_parse(mode_string(host), &m, err);
	if (r < 0)
		return r;
	r = cove_userns_maps_from_config(host, maps);
	if (r < 0)
		return cove_error_set(err, EINVAL,
				      "invalid HostConfig.IDMappings");
	if (m.kind != COVE_USERNS_NS && !maps->n_uid)
		return 0;
	ns = json_object();
	json_object_set_new(ns, "type", json_string("user"));
	json_array_append_new(json_object_get(lx, "namespaces"), ns);
	if (m.kind == COVE_USERNS_NS) {
		/* joined: its maps are its own */
		json_object_set_new(ns, "path", json_string(m.path));
		return 0;
	}
	json_object_set_new(lx, "uidMappings",
			    spec_maps(maps->uid, maps->n_uid));
	json_object_set_new(lx, "gidMappings",
			    spec_maps(maps->gid, maps->n_gid));
	if (m.kind == COVE_USERNS_KEEP_ID) {
		r = keep_id_groups(config, maps, spec);
		if (r < 0)
			return r;
		return keep_id_home(config, image_config, dir, spec);
	}
	return 0;
}
