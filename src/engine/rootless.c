/*
 * Rootless: the user namespace an unprivileged cove works in (see
 * rootless.h).  A command joins the namespaces of the user's pause process
 * when there is one; otherwise, under <runroot>/pause.lock, it makes them in
 * three phases, each needed by the next:
 *
 *   1. read the user's subordinate ranges (/etc/subuid, /etc/subgid);
 *   2. unshare(CLONE_NEWUSER) and have the maps written: by a child forked
 *      beforehand, which stays in the host's user namespace so that the
 *      setuid helpers newuidmap/newgidmap keep their privilege there (a
 *      process in the new namespace could not use them), or, for the
 *      single mapping, by ourselves;
 *   3. become 0 in the namespace and unshare a mount namespace whose mounts
 *      never propagate back: nothing of the host's mount table is touched;
 *
 * and then starts the pause process that keeps both namespaces alive for
 * the commands that follow.
 */
#include "engine/rootless.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
#define PAUSE_PID_FILE "pause.pid"
#define PAUSE_LOCK_FILE "pause.lock"
#define PAUSE_COMM "cove-pause"
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

/* ---- pause.pid, /proc/PID/stat, /proc/PID/uid_map ------------------------ */

/*
 * A run of decimal digits at *p (no sign, no leading zero: the kernel and
 * we write none), as a uint64; advances *p.
 */
static bool parse_u64(const char **p, const char *end, uint64_t *ret)
{
	uint64_t v = 0;
	const char *s = *p;

	if (s == end || *s < '0' || *s > '9')
		return false;
	if (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9')
		return false;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*ret = v;
	return true;
}

int cove_pause_id_parse(const char *data, size_t len, struct cove_pause_id *ret)
{
	const char *p = data, *end = data + len;
	uint64_t pid, start;

	if (len > 0 && end[-1] == '\n')
		end--;
	if (!parse_u64(&p, end, &pid) || pid == 0 || pid > INT32_MAX ||
	    p == end || *p++ != ' ' || !parse_u64(&p, end, &start) || p != end)
		return -EINVAL;
	*ret = (struct cove_pause_id){(pid_t)pid, start};
	return 0;
}

int cove_pause_id_format(const struct cove_pause_id *id, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%d %llu\n", (int)id->pid,
			 (unsigned long long)id->start_time);

	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return n;
}

int cove_proc_stat_parse(const char *data, size_t len, char *comm,
			 size_t comm_size, uint64_t *ret_start_time)
{
	const char *end = data + len, *open, *close = NULL, *p;
	uint64_t v;
	size_t n;

	open = memchr(data, '(', len);
	if (!open)
		return -EINVAL;
	/* the name may hold ')': the last one ends it */
	for (p = open + 1; p < end; p++)
		if (*p == ')')
			close = p;
	if (!close)
		return -EINVAL;
	/* ") S ppid ...": fields 3 to 22, each after one space */
	p = close + 1;
	for (int field = 3; field < 22; field++) {
		if (p == end || *p != ' ' || p + 1 == end || p[1] == ' ')
			return -EINVAL;
		for (p++; p < end && *p != ' '; p++)
			;
	}
	if (p == end || *p++ != ' ' || !parse_u64(&p, end, &v) ||
	    (p != end && *p != ' ' && *p != '\n'))
		return -EINVAL;
	if (comm && comm_size > 0) {
		n = (size_t)(close - open - 1);
		if (n >= comm_size)
			n = comm_size - 1;
		memcpy(comm, open + 1, n);
		comm[n] = '\0';
	}
	*ret_start_time = v;
	return 0;
}

int cove_proc_idmap_parse(const char *data, size_t len,
			  struct cove_idmap_range *ret, size_t max,
			  size_t *ret_n)
{
	const char *p = data, *end = data + len;
	size_t n = 0;

	for (;;) {
		uint64_t v[3];

		while (p < end && (*p == ' ' || *p == '\n' || *p == '\t'))
			p++;
		if (p == end)
			break;
		for (int i = 0; i < 3; i++) {
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			if (!parse_u64(&p, end, &v[i]) || v[i] > UINT32_MAX)
				return -EINVAL;
		}
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p != end && *p != '\n')
			return -EINVAL;
		/* as the kernel: the ids stay below 2^32-1, "no id" */
		if (v[2] == 0 || v[0] + v[2] > UINT32_MAX ||
		    v[1] + v[2] > UINT32_MAX)
			return -EINVAL;
		if (n == max)
			return -E2BIG;
		ret[n++] = (struct cove_idmap_range){
		    (uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2]};
	}
	*ret_n = n;
	return 0;
}

/* ---- the pause process ----------------------------------------------------
 */

/* The command name and start time of process @pid; -ESRCH when gone. */
static int proc_stat(pid_t pid, char *comm, size_t comm_size,
		     uint64_t *ret_start_time)
{
	_cleanup_free_ char *data = NULL;
	char path[64];
	size_t len = 0;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	r = cove_read_file(path, 4096, &data, &len);
	if (r == -ENOENT)
		return -ESRCH;
	if (r < 0)
		return r;
	return cove_proc_stat_parse(data, len, comm, comm_size, ret_start_time);
}

/*
 * The pause process itself: nothing open but /dev/null, in a session of its
 * own and in "/" (it must not keep a terminal or a directory busy), deaf to
 * every signal but SIGTERM (and SIGKILL, SIGSTOP, which cannot be
 * ignored): a stray ^C or SIGHUP must not take the namespaces down.
 * Reports its pid on @ready_fd once it is all set up.
 */
static _Noreturn void pause_main(int ready_fd)
{
	struct sigaction ign = {.sa_handler = SIG_IGN},
			 dfl = {.sa_handler = SIG_DFL};
	sigset_t none;
	pid_t self = getpid();
	int fd;

	(void)prctl(PR_SET_NAME, PAUSE_COMM, 0, 0, 0);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, sig == SIGTERM ? &dfl : &ign,
					NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (chdir("/") < 0)
		_exit(1);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(1);
	if (cove_write_all(ready_fd, &self, sizeof(self)) < 0)
		_exit(1);
	/* every other fd: the lock, the store, whatever the caller had */
	if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0) {
		long max = sysconf(_SC_OPEN_MAX);
		for (long i = 3; i < (max > 0 ? max : 65536); i++)
			close((int)i);
	}
	for (;;)
		pause();
}

/*
 * Start the pause process, a grandchild (its parent exits at once, so no
 * cove process ever has it as a child to wait for), and record it in
 * @dirfd's pause.pid.
 */
static int spawn_pause(int dirfd, struct cove_error *err)
{
	_cleanup_close_ int rd = -1, wr = -1;
	struct cove_pause_id id = {0};
	char line[64];
	pid_t child, pid = -1;
	ssize_t n;
	int fds[2], status, r;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return cove_error_setx(err, errno, "pipe");
	rd = fds[0];
	wr = fds[1];
	child = fork();
	if (child < 0)
		return cove_error_setx(err, errno, "fork");
	if (child == 0) {
		pid_t gc;

		close(TAKE_FD(rd));
		if (setsid() < 0)
			_exit(1);
		gc = fork();
		if (gc < 0)
			_exit(1);
		if (gc == 0)
			pause_main(wr);
		_exit(0);
	}
	close(TAKE_FD(wr));
	n = cove_read_all(rd, &pid, sizeof(pid));
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			break;
	if (n != (ssize_t)sizeof(pid) || pid <= 0)
		return cove_error_set(err, EIO, "cannot start the %s process",
				      PAUSE_COMM);
	id.pid = pid;
	r = proc_stat(pid, NULL, 0, &id.start_time);
	if (r >= 0)
		r = cove_pause_id_format(&id, line, sizeof(line));
	if (r >= 0)
		r = cove_write_file_atomic_at(dirfd, PAUSE_PID_FILE, line,
					      (size_t)r, 0600);
	if (r < 0) {
		(void)kill(pid, SIGKILL);
		return cove_error_setx(err, r, "cannot record the %s process",
				       PAUSE_COMM);
	}
	return 0;
}

static bool same_file(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * The user and mount namespaces of the pause process named in @dirfd's
 * pause.pid, opened, in *ret_user and *ret_mnt; 0 when there is none to
 * join (no file, a stale one, a dead or reused pid), 1 when found.  The
 * process must be our own, have the start time recorded and the pause
 * process's name, both before and after the namespaces are opened (the
 * open fds keep them, even if it dies after).
 */
static int pause_find(int dirfd, struct cove_pause_id *ret_id, int *ret_user,
		      int *ret_mnt)
{
	_cleanup_close_ int ufd = -1, mfd = -1;
	_cleanup_free_ char *data = NULL;
	struct cove_pause_id id;
	char comm[32], path[64];
	uint64_t start;
	struct stat st;
	size_t len = 0;

	if (cove_read_file_at(dirfd, PAUSE_PID_FILE, 128, &data, &len) < 0 ||
	    cove_pause_id_parse(data, len, &id) < 0)
		return 0;
	if (proc_stat(id.pid, comm, sizeof(comm), &start) < 0 ||
	    start != id.start_time || strcmp(comm, PAUSE_COMM))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d", (int)id.pid);
	if (stat(path, &st) < 0 || st.st_uid != geteuid())
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)id.pid);
	ufd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)id.pid);
	mfd = open(path, O_RDONLY | O_CLOEXEC);
	if (ufd < 0 || mfd < 0 || same_file(ufd, "/proc/self/ns/user"))
		return 0;
	if (proc_stat(id.pid, NULL, 0, &start) < 0 || start != id.start_time)
		return 0;
	*ret_id = id;
	*ret_user = TAKE_FD(ufd);
	*ret_mnt = TAKE_FD(mfd);
	return 1;
}

/* The maps of the namespace we are in, as the kernel has them. */
static int maps_in_force(struct cove_rootless_maps *m, struct cove_error *err)
{
	static const char *const files[] = {"/proc/self/uid_map",
					    "/proc/self/gid_map"};
	struct cove_idmap_range *maps[] = {m->uid_map, m->gid_map};
	size_t *lens[] = {&m->uid_map_len, &m->gid_map_len};
	uint32_t *ids[] = {&m->n_uids, &m->n_gids};

	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ char *data = NULL;
		uint64_t top = 0;
		size_t len = 0;
		int r = cove_read_file(files[i], 65536, &data, &len);

		if (r < 0)
			return cove_error_setx(err, r, "cannot read %s",
					       files[i]);
		r = cove_proc_idmap_parse(data, len, maps[i],
					  COVE_SUBID_MAX_RANGES + 1, lens[i]);
		if (r < 0 || *lens[i] == 0)
			return cove_error_set(err, r < 0 ? -r : EINVAL,
					      "unexpected contents of %s",
					      files[i]);
		for (size_t j = 0; j < *lens[i]; j++) {
			uint64_t e =
			    (uint64_t)maps[i][j].container_id + maps[i][j].size;
			if (e > top)
				top = e;
		}
		*ids[i] = top > UINT32_MAX ? UINT32_MAX : (uint32_t)top;
	}
	m->single_id = m->uid_map_len == 1 && m->uid_map[0].size == 1 &&
		       m->gid_map_len == 1 && m->gid_map[0].size == 1;
	return 0;
}

/*
 * The maps a new namespace gets: the sub-id ranges, or the single id
 * when there are none or when newuidmap/newgidmap are missing.  The
 * helpers' paths (caller frees) in *ret_newuidmap and *ret_newgidmap.
 */
static int planned_maps(struct cove_rootless_maps *m, char **ret_newuidmap,
			char **ret_newgidmap, struct cove_error *err)
{
	_cleanup_free_ char *newuidmap = NULL, *newgidmap = NULL;
	int r = user_maps(m, err);

	if (r < 0)
		return r;
	if (!m->single_id) {
		newuidmap = find_in_path("newuidmap");
		newgidmap = find_in_path("newgidmap");
		if (!newuidmap || !newgidmap) {
			/* podman does the same: one id beats no container */
			uint32_t uid = m->uid_map[0].host_id,
				 gid = m->gid_map[0].host_id;
			*m = (struct cove_rootless_maps){0};
			build_single(uid, gid, m);
			snprintf(m->single_reason, sizeof(m->single_reason),
				 "%s is not installed (package uidmap)",
				 newuidmap ? "newgidmap" : "newuidmap");
		}
	}
	*ret_newuidmap = TAKE_PTR(newuidmap);
	*ret_newgidmap = TAKE_PTR(newgidmap);
	return 0;
}

/*
 * Join the pause process's namespaces: the user namespace first (its owner
 * may join it, and gains every capability in it), then the mount
 * namespace, which that namespace owns.  setns() into a mount namespace
 * moves the working directory to its root: back to the same path.
 */
static int join(const struct cove_pause_id *id, int userfd, int mntfd,
		struct cove_error *err)
{
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	struct cove_rootless_maps m = {0}, planned;
	_cleanup_free_ char *u = NULL, *g = NULL;
	struct cove_error ignored = {0};
	int r;

	if (setns(userfd, CLONE_NEWUSER) < 0)
		return cove_error_setx(err, errno,
				       "cannot join the user namespace of "
				       "%s (pid %d)",
				       PAUSE_COMM, (int)id->pid);
	if (setns(mntfd, CLONE_NEWNS) < 0)
		return cove_error_setx(err, errno,
				       "cannot join the mount namespace of "
				       "%s (pid %d)",
				       PAUSE_COMM, (int)id->pid);
	/*
	 * As after creating it: uid and gid 0, the supplementary groups kept
	 * (a host group may be what lets us read a file the user names).
	 */
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return cove_error_setx(err, errno,
				       "cannot become root in the user "
				       "namespace");
	if (cwd && chdir(cwd) < 0)
		return cove_error_setx(err, errno,
				       "cannot change to the working directory "
				       "'%s' in the user's mount namespace",
				       cwd);
	r = maps_in_force(&m, err);
	if (r < 0)
		return r;
	if (m.single_id) {
		/* why it has one id: the same reasons as when it was made */
		if (planned_maps(&planned, &u, &g, &ignored) >= 0 &&
		    planned.single_id)
			memcpy(m.single_reason, planned.single_reason,
			       sizeof(m.single_reason));
		else
			snprintf(m.single_reason, sizeof(m.single_reason),
				 "the namespace of %s (pid %d) was made "
				 "without subordinate ids; stop it to have it "
				 "made anew",
				 PAUSE_COMM, (int)id->pid);
	}
	state.maps = m;
	state.active = true;
	return 0;
}

static int create(int dirfd, struct cove_error *err)
{
	_cleanup_free_ char *newuidmap = NULL, *newgidmap = NULL;
	struct cove_rootless_maps m;
	int r;

	r = planned_maps(&m, &newuidmap, &newgidmap, err);
	if (r < 0)
		return r;
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
	 * A mount namespace of the user's, and "/" a recursive slave: what
	 * cove mounts stays here (kept by the pause process), while mounts
	 * the host makes later still reach us.
	 */
	if (unshare(CLONE_NEWNS) < 0)
		return cove_error_setx(err, errno,
				       "cannot create a mount namespace");
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return cove_error_setx(err, errno,
				       "cannot make '/' a slave mount");
	r = spawn_pause(dirfd, err);
	if (r < 0)
		return r;
	state.maps = m;
	state.active = true;
	return 0;
}

/*
 * The run root, made if missing.  It must be the user's: pause.pid there
 * decides whose namespaces we try (the kernel would refuse a stranger's
 * anyway, but a planted file must not even make us fail).
 */
static int open_runroot(const char *runroot, struct cove_error *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r = cove_mkdir_p(runroot, 0700);

	if (r < 0)
		return cove_error_setx(err, r, "cannot create '%s'", runroot);
	fd = open(runroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cove_error_setx(err, errno, "cannot open '%s'", runroot);
	if (fstat(fd, &st) < 0)
		return cove_error_setx(err, errno, "cannot stat '%s'", runroot);
	if (st.st_uid != geteuid() || (st.st_mode & 0022))
		return cove_error_set(err, EPERM,
				      "'%s' must be a directory of the user "
				      "(uid %u) that no one else can write",
				      runroot, (unsigned)geteuid());
	return TAKE_FD(fd);
}

int cove_rootless_enter(const char *runroot, struct cove_error *err)
{
	_cleanup_close_ int dirfd = -1, lockfd = -1, userfd = -1, mntfd = -1;
	struct cove_pause_id id;
	int r;

	if (state.active || geteuid() == 0)
		return 0;
	r = open_runroot(runroot, err);
	if (r < 0)
		return r;
	dirfd = r;
	/*
	 * One at a time: two first commands must not both make a pause
	 * process (each would record its own, and the other's containers
	 * could not be joined).  The lock is held until pause.pid is
	 * written or the namespaces joined, never by the pause process.
	 */
	lockfd = openat(dirfd, PAUSE_LOCK_FILE,
			O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lockfd < 0)
		return cove_error_setx(err, errno, "cannot open %s/%s", runroot,
				       PAUSE_LOCK_FILE);
	while (flock(lockfd, LOCK_EX) < 0)
		if (errno != EINTR)
			return cove_error_setx(err, errno, "cannot lock %s/%s",
					       runroot, PAUSE_LOCK_FILE);
	if (pause_find(dirfd, &id, &userfd, &mntfd) > 0)
		r = join(&id, userfd, mntfd, err);
	else
		r = create(dirfd, err);
	(void)flock(lockfd, LOCK_UN);
	return r;
}

bool cove_rootless_active(void)
{
	return state.active;
}

const struct cove_rootless_maps *cove_rootless_maps(void)
{
	return state.active ? &state.maps : NULL;
}
