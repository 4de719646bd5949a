/*
 * Rootless: the user namespace an unprivileged cove works in (see
 * rootless.h).  Three phases, each needed by the next:
 *
 *   1. read the user's subordinate ranges (/etc/subuid, /etc/subgid);
 *   2. unshare(CLONE_NEWUSER) and have the maps written: by a child forked
 *      beforehand, which stays in the host's user namespace so that the
 *      setuid helpers newuidmap/newgidmap keep their privilege there (a
 *      process in the new namespace could not use them), or, for the
 *      single mapping, by ourselves;
 *   3. become 0 in the namespace and unshare a mount namespace whose mounts
 *      never propagate back: an overlay mounted by this process is gone
 *      when it exits, and nothing of the host's mount table is touched.
 */
#include "engine/rootless.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/idmap.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

#define SUBUID_FILE "/etc/subuid"
#define SUBGID_FILE "/etc/subgid"
/* Larger sub-id files are not plausible; refuse rather than read them. */
#define SUBID_FILE_MAX (8u << 20)
#define DEFAULT_PATH                                                           \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static struct {
	bool active;
	struct cove_rootless_maps maps;
} state;

/* ---- /etc/subuid, /etc/subgid ------------------------------------------- */

/* A decimal field of 1..10 ASCII digits, as a uint32. */
static bool parse_field(const char *p, size_t len, uint32_t *ret)
{
	char buf[16];

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return cove_parse_uint32(buf, ret) == 0;
}

static bool owner_matches(const char *owner, size_t len, const char *user,
			  uint32_t uid)
{
	uint32_t n;

	if (user && strlen(user) == len && !memcmp(owner, user, len))
		return true;
	return parse_field(owner, len, &n) && n == uid;
}

int cove_subid_parse(const char *data, size_t len, const char *file,
		     const char *user, uint32_t uid,
		     struct cove_subid_range **ret, size_t *ret_n,
		     struct cove_error *err)
{
	_cleanup_free_ struct cove_subid_range *v = NULL;
	const char *p = data, *end = data + len;
	size_t n = 0;
	unsigned line = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *c1, *c2;
		size_t l = (size_t)(eol - p);
		struct cove_subid_range r;

		line++;
		c1 = memchr(p, ':', l);
		if (l == 0 || p[0] == '#' ||
		    !owner_matches(p, c1 ? (size_t)(c1 - p) : l, user, uid))
			goto next;
		/* this user's line: it must be exactly OWNER:START:COUNT */
		c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
		if (!c1 || !c2)
			return cove_error_set(err, EINVAL,
					      "%s line %u: expected "
					      "NAME:START:COUNT",
					      file, line);
		if (!parse_field(c1 + 1, (size_t)(c2 - c1 - 1), &r.start) ||
		    !parse_field(c2 + 1, (size_t)(eol - c2 - 1), &r.count))
			return cove_error_set(err, EINVAL,
					      "%s line %u: invalid range "
					      "(START and COUNT must be "
					      "decimal numbers)",
					      file, line);
		if (r.count == 0)
			return cove_error_set(err, EINVAL,
					      "%s line %u: invalid range: "
					      "COUNT is 0",
					      file, line);
		if (r.start == 0)
			return cove_error_set(err, EINVAL,
					      "%s line %u: invalid range: it "
					      "includes host id 0 (root)",
					      file, line);
		/* the last id must stay below 2^32-1, which is "no id" */
		if ((uint64_t)r.start + r.count > UINT32_MAX)
			return cove_error_set(err, EINVAL,
					      "%s line %u: invalid range: "
					      "%u+%u passes the largest id",
					      file, line, r.start, r.count);
		for (size_t i = 0; i < n; i++)
			if (r.start < (uint64_t)v[i].start + v[i].count &&
			    v[i].start < (uint64_t)r.start + r.count)
				return cove_error_set(
				    err, EINVAL,
				    "%s line %u: range %u+%u overlaps an "
				    "earlier range of the same user",
				    file, line, r.start, r.count);
		if (n == COVE_SUBID_MAX_RANGES)
			return cove_error_set(err, E2BIG,
					      "%s line %u: more than %d ranges "
					      "for one user",
					      file, line,
					      COVE_SUBID_MAX_RANGES);
		if (!v) {
			v = calloc(COVE_SUBID_MAX_RANGES, sizeof(*v));
			if (!v)
				return cove_error_set(err, ENOMEM,
						      "out of memory");
		}
		v[n++] = r;
	next:
		if (!nl)
			break;
		p = nl + 1;
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

int cove_subid_read(const char *path, const char *user, uint32_t uid,
		    struct cove_subid_range **ret, size_t *ret_n,
		    struct cove_error *err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = cove_read_file(path, SUBID_FILE_MAX, &data, &len);

	if (r == -ENOENT) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (r < 0)
		return cove_error_setx(err, r, "cannot read '%s'", path);
	return cove_subid_parse(data, len, path, user, uid, ret, ret_n, err);
}

/* ---- the maps ------------------------------------------------------------ */

static int build_one(uint32_t self, const struct cove_subid_range *sub,
		     size_t n, const char *what, struct cove_idmap_range *map,
		     size_t *ret_len, uint32_t *ret_ids, struct cove_error *err)
{
	uint64_t next = 1;

	map[0] = (struct cove_idmap_range){0, self, 1};
	for (size_t i = 0; i < n; i++) {
		if (self >= sub[i].start && self - sub[i].start < sub[i].count)
			return cove_error_set(err, EINVAL,
					      "the subordinate %s range "
					      "%u+%u contains the user's own "
					      "%s %u",
					      what, sub[i].start, sub[i].count,
					      what, self);
		if (next + sub[i].count > UINT32_MAX)
			return cove_error_set(err, E2BIG,
					      "too many subordinate %ss", what);
		map[i + 1] = (struct cove_idmap_range){
		    (uint32_t)next, sub[i].start, sub[i].count};
		next += sub[i].count;
	}
	*ret_len = n + 1;
	*ret_ids = (uint32_t)next;
	return 0;
}

static void build_single(uint32_t uid, uint32_t gid,
			 struct cove_rootless_maps *m)
{
	m->uid_map[0] = (struct cove_idmap_range){0, uid, 1};
	m->gid_map[0] = (struct cove_idmap_range){0, gid, 1};
	m->uid_map_len = m->gid_map_len = 1;
	m->n_uids = m->n_gids = 1;
	m->single_id = true;
}

int cove_rootless_maps_build(uint32_t uid, uint32_t gid,
			     const struct cove_subid_range *subuid,
			     size_t n_subuid,
			     const struct cove_subid_range *subgid,
			     size_t n_subgid, struct cove_rootless_maps *ret,
			     struct cove_error *err)
{
	struct cove_rootless_maps m = {0};
	int r;

	if (n_subuid > COVE_SUBID_MAX_RANGES ||
	    n_subgid > COVE_SUBID_MAX_RANGES)
		return cove_error_set(err, E2BIG,
				      "too many subordinate ranges");
	if (n_subuid == 0 || n_subgid == 0) {
		build_single(uid, gid, &m);
		snprintf(m.single_reason, sizeof(m.single_reason),
			 "no subordinate %s range for the user in %s",
			 n_subuid == 0 ? "uid" : "gid",
			 n_subuid == 0 ? SUBUID_FILE : SUBGID_FILE);
		*ret = m;
		return 0;
	}
	r = build_one(uid, subuid, n_subuid, "uid", m.uid_map, &m.uid_map_len,
		      &m.n_uids, err);
	if (r < 0)
		return r;
	r = build_one(gid, subgid, n_subgid, "gid", m.gid_map, &m.gid_map_len,
		      &m.n_gids, err);
	if (r < 0)
		return r;
	*ret = m;
	return 0;
}

/* ---- entering the namespace ---------------------------------------------- */

/* An absolute path of @name in $PATH (relative entries skipped), or NULL. */
static char *find_in_path(const char *name)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = strdup(path && *path ? path : DEFAULT_PATH);
	char *save = NULL;

	if (!copy)
		return NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *p = NULL;
		struct stat st;

		if (dir[0] != '/')
			continue;
		p = cove_strdup_printf("%s/%s", dir, name);
		if (p && stat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(p, X_OK) == 0)
			return TAKE_PTR(p);
	}
	return NULL;
}

static size_t to_mappings(const struct cove_idmap_range *in, size_t n,
			  struct cove_id_mapping *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (struct cove_id_mapping){in[i].container_id,
						  in[i].host_id, in[i].size};
	return n;
}

/*
 * The helpers' child: waits until the parent has unshared (a byte on
 * @go_fd; EOF means the parent gave up), then runs newuidmap and newgidmap
 * on it, and reports a failure's message on @res_fd.
 */
static _Noreturn void helper_child(pid_t parent, int go_fd, int res_fd,
				   const char *newuidmap, const char *newgidmap,
				   const struct cove_rootless_maps *m)
{
	struct cove_id_mapping um[COVE_SUBID_MAX_RANGES + 1],
	    gm[COVE_SUBID_MAX_RANGES + 1];
	struct cove_error e = {0};
	char c;
	ssize_t n;
	int r;

	do
		n = read(go_fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(2);
	r = cove_idmap_run_helper(newuidmap, parent, um,
				  to_mappings(m->uid_map, m->uid_map_len, um),
				  &e);
	if (r >= 0)
		r = cove_idmap_run_helper(
		    newgidmap, parent, gm,
		    to_mappings(m->gid_map, m->gid_map_len, gm), &e);
	if (r < 0) {
		if (!e.msg[0])
			snprintf(e.msg, sizeof(e.msg), "%s", strerror(-r));
		(void)cove_write_all(res_fd, e.msg, strlen(e.msg));
		_exit(1);
	}
	_exit(0);
}

static int unshare_user(struct cove_error *err)
{
	if (unshare(CLONE_NEWUSER) == 0)
		return 0;
	return cove_error_setx(err, errno,
			       "cannot create a user namespace (are "
			       "unprivileged user namespaces enabled? see "
			       "user.max_user_namespaces)");
}

static int enter_with_helpers(const struct cove_rootless_maps *m,
			      const char *newuidmap, const char *newgidmap,
			      struct cove_error *err)
{
	_cleanup_close_ int go_r = -1, go_w = -1, res_r = -1, res_w = -1;
	pid_t parent = getpid(), child;
	char msg[COVE_ERROR_MSG_MAX];
	ssize_t n = 0, got;
	int fds[2], status, r;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return cove_error_setx(err, errno, "pipe");
	go_r = fds[0];
	go_w = fds[1];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return cove_error_setx(err, errno, "pipe");
	res_r = fds[0];
	res_w = fds[1];
	child = fork();
	if (child < 0)
		return cove_error_setx(err, errno, "fork");
	if (child == 0) {
		close(TAKE_FD(go_w));
		close(TAKE_FD(res_r));
		helper_child(parent, go_r, res_w, newuidmap, newgidmap, m);
	}
	close(TAKE_FD(go_r));
	close(TAKE_FD(res_w));
	r = unshare_user(err);
	if (r >= 0 && cove_write_all(go_w, "x", 1) < 0)
		r = cove_error_setx(err, errno, "cannot signal the id mapper");
	close(TAKE_FD(go_w));
	while ((got = read(res_r, msg + n, sizeof(msg) - 1 - (size_t)n)) > 0 ||
	       (got < 0 && errno == EINTR))
		if (got > 0)
			n += got;
	msg[n] = '\0';
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return r < 0 ? r
				     : cove_error_setx(err, errno, "waitpid");
	if (r < 0)
		return r;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return cove_error_set(err, EPERM,
				      "cannot map the user namespace's ids: %s",
				      n ? msg : "the id mapper failed");
	return 0;
}

static int write_proc_self(const char *file, const char *data,
			   struct cove_error *err)
{
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/self/%s", file);
	r = cove_write_file(path, data, strlen(data));
	if (r < 0)
		return cove_error_setx(err, r, "cannot write %s", path);
	return 0;
}

/* One id: the kernel lets a process map itself, once setgroups is denied. */
static int enter_single(const struct cove_rootless_maps *m,
			struct cove_error *err)
{
	char buf[64];
	int r = unshare_user(err);

	if (r < 0)
		return r;
	r = write_proc_self("setgroups", "deny", err);
	if (r < 0)
		return r;
	snprintf(buf, sizeof(buf), "0 %u 1\n", m->uid_map[0].host_id);
	r = write_proc_self("uid_map", buf, err);
	if (r < 0)
		return r;
	snprintf(buf, sizeof(buf), "0 %u 1\n", m->gid_map[0].host_id);
	return write_proc_self("gid_map", buf, err);
}

static int user_maps(struct cove_rootless_maps *m, struct cove_error *err)
{
	_cleanup_free_ struct cove_subid_range *su = NULL, *sg = NULL;
	_cleanup_free_ char *pwbuf = NULL;
	struct passwd pw, *res = NULL;
	uid_t uid = geteuid();
	gid_t gid = getegid();
	size_t nsu = 0, nsg = 0;
	long size = sysconf(_SC_GETPW_R_SIZE_MAX);
	int r;

	/* without a passwd entry only numeric lines can match */
	pwbuf = malloc(size > 0 ? (size_t)size : 16384);
	if (!pwbuf)
		return cove_error_set(err, ENOMEM, "out of memory");
	if (getpwuid_r(uid, &pw, pwbuf, size > 0 ? (size_t)size : 16384,
		       &res) != 0)
		res = NULL;
	r = cove_subid_read(SUBUID_FILE, res ? res->pw_name : NULL, uid, &su,
			    &nsu, err);
	if (r < 0)
		return r;
	r = cove_subid_read(SUBGID_FILE, res ? res->pw_name : NULL, uid, &sg,
			    &nsg, err);
	if (r < 0)
		return r;
	return cove_rootless_maps_build(uid, gid, su, nsu, sg, nsg, m, err);
}

int cove_rootless_enter(struct cove_error *err)
{
	_cleanup_free_ char *newuidmap = NULL, *newgidmap = NULL;
	struct cove_rootless_maps m;
	int r;

	if (state.active || geteuid() == 0)
		return 0;
	r = user_maps(&m, err);
	if (r < 0)
		return r;
	if (!m.single_id) {
		newuidmap = find_in_path("newuidmap");
		newgidmap = find_in_path("newgidmap");
		if (!newuidmap || !newgidmap) {
			/* podman does the same: one id beats no container */
			uint32_t uid = m.uid_map[0].host_id,
				 gid = m.gid_map[0].host_id;
			m = (struct cove_rootless_maps){0};
			build_single(uid, gid, &m);
			snprintf(m.single_reason, sizeof(m.single_reason),
				 "%s is not installed (package uidmap)",
				 newuidmap ? "newgidmap" : "newuidmap");
		}
	}
	r = m.single_id ? enter_single(&m, err)
			: enter_with_helpers(&m, newuidmap, newgidmap, err);
	if (r < 0)
		return r;
	/* gid first: after setresuid(0) we might no longer be allowed */
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return cove_error_setx(err, errno,
				       "cannot become root in the user "
				       "namespace");
	/*
	 * A mount namespace of our own, and "/" a recursive slave: what we
	 * mount stays here and is gone with the process, while mounts the
	 * host makes later still reach us.
	 */
	if (unshare(CLONE_NEWNS) < 0)
		return cove_error_setx(err, errno,
				       "cannot create a mount namespace");
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return cove_error_setx(err, errno,
				       "cannot make '/' a slave mount");
	state.maps = m;
	state.active = true;
	return 0;
}

bool cove_rootless_active(void)
{
	return state.active;
}

const struct cove_rootless_maps *cove_rootless_maps(void)
{
	return state.active ? &state.maps : NULL;
}
