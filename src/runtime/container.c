/*
 * The runtime side of the lifecycle.  create() spawns the init in its
 * namespaces, drives it through the sync protocol (id maps, cgroup, hooks,
 * pty, seccomp listener) and records the state; every failure path tears
 * down what exists so far: the init, its cgroup, the state directory.
 */
#include "runtime/container.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/hooks.h"
#include "runtime/idmap.h"
#include "runtime/init.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int cove_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

int cove_wait_exit_code(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return 255;
	}
	return cove_exit_code(status);
}

/* ---- spawning the init ------------------------------------------------------
 */

/*
 * Which namespaces are created with clone() flags directly (the fast path,
 * one process) and which need the two-stage path: joining any namespace by
 * path must happen before new ones are created (so that they are owned by
 * the joined user namespace), and a time namespace's offsets can only be
 * written between unshare() and the first fork into it.
 */
static bool needs_two_stages(const struct cove_spec *spec)
{
	for (int t = 0; t < COVE_NS_MAX; t++)
		if (spec->namespaces[t].enabled && spec->namespaces[t].path)
			return true;
	return spec->namespaces[COVE_NS_TIME].enabled;
}

/*
 * Namespaces created at clone()/unshare() time.  A new cgroup namespace is
 * not among them: it must be created by the init after the runtime moved it
 * into its cgroup, so that the namespace is rooted there.
 */
static int new_ns_flags(const struct cove_spec *spec)
{
	int flags = 0;
	for (int t = 0; t < COVE_NS_MAX; t++)
		if (spec->namespaces[t].enabled && !spec->namespaces[t].path &&
		    t != COVE_NS_CGROUP)
			flags |= cove_ns_clone_flag((enum cove_ns_type)t);
	return flags;
}

static __attribute__((noreturn)) void stage1_fail(int sock, int code,
						  const char *fmt, ...)
{
	struct cove_error err = {0};
	va_list ap;
	char buf[COVE_ERROR_MSG_MAX];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cove_error_setx(&err, code, "%s", buf);
	cove_sync_send_error(sock, &err);
	_exit(1);
}

static int write_time_offsets(const struct cove_spec *spec)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf),
			 "monotonic %lld %lld\nboottime %lld %lld\n",
			 (long long)spec->time_offsets[0][0],
			 (long long)spec->time_offsets[0][1],
			 (long long)spec->time_offsets[1][0],
			 (long long)spec->time_offsets[1][1]);
	return cove_write_file("/proc/self/timens_offsets", buf, (size_t)n);
}

/* The intermediate process of the two-stage path.  Never returns. */
static __attribute__((noreturn)) void stage1_main(struct cove_init_args *a)
{
	static const enum cove_ns_type order[] = {
	    COVE_NS_USER, COVE_NS_IPC, COVE_NS_UTS,    COVE_NS_NET,
	    COVE_NS_PID,  COVE_NS_MNT, COVE_NS_CGROUP, COVE_NS_TIME,
	};
	const struct cove_spec *spec = a->spec;
	int fds[COVE_NS_MAX];
	int flags = new_ns_flags(spec);
	pid_t pid;

	/* Open every namespace first: the paths are in the host's view. */
	for (int t = 0; t < COVE_NS_MAX; t++) {
		fds[t] = -1;
		if (!spec->namespaces[t].enabled || !spec->namespaces[t].path)
			continue;
		fds[t] = open(spec->namespaces[t].path, O_RDONLY | O_CLOEXEC);
		if (fds[t] < 0)
			stage1_fail(a->sync_fd, errno,
				    "cannot open %s namespace %s",
				    cove_ns_name((enum cove_ns_type)t),
				    spec->namespaces[t].path);
	}
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		int t = order[i];
		if (fds[t] < 0)
			continue;
		if (setns(fds[t], cove_ns_clone_flag(t)) < 0)
			stage1_fail(a->sync_fd, errno,
				    "cannot join %s namespace %s",
				    cove_ns_name(t), spec->namespaces[t].path);
		close(fds[t]);
		if (t == COVE_NS_USER &&
		    (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
			stage1_fail(a->sync_fd, errno,
				    "cannot become root in user namespace %s",
				    spec->namespaces[t].path);
	}
	if (flags & CLONE_NEWUSER) {
		struct cove_error err = {0};
		if (unshare(CLONE_NEWUSER) < 0)
			stage1_fail(a->sync_fd, errno,
				    "cannot create a user namespace");
		if (cove_sync_send(a->sync_fd, COVE_SYNC_USERNS, 0, NULL, -1) <
			0 ||
		    cove_sync_expect(a->sync_fd, COVE_SYNC_USERNS_DONE, NULL,
				     NULL, &err) < 0)
			_exit(1);
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			stage1_fail(a->sync_fd, errno,
				    "cannot become root in the user namespace");
	}
	if (unshare(flags & ~CLONE_NEWUSER) < 0)
		stage1_fail(a->sync_fd, errno, "cannot create namespaces");
	if ((flags & CLONE_NEWTIME) && spec->has_time_offsets) {
		/*
		 * After setresuid() in a user namespace we are not dumpable,
		 * so /proc/self belongs to the host's root and the write is
		 * refused; no container process exists yet, so being dumpable
		 * for the write exposes nothing.
		 */
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		if (write_time_offsets(spec) < 0)
			stage1_fail(a->sync_fd, errno,
				    "cannot set time offsets");
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	pid = fork();
	if (pid < 0)
		stage1_fail(a->sync_fd, errno, "fork");
	if (pid == 0)
		cove_init_main(a);
	cove_sync_send(a->sync_fd, COVE_SYNC_PID, pid, NULL, -1);
	_exit(0);
}

struct spawned {
	pid_t init;
	pid_t stage1; /* 0 on the fast path */
};

/*
 * Start the init (or stage1).  On the fast path the id maps are written
 * here; on the two-stage path when stage1 asks.  Returns with the init's
 * host pid known and the init waiting for GO.
 */
static int spawn(struct cove_init_args *a, int sock, bool rootless,
		 struct spawned *ret, struct cove_error *err)
{
	const struct cove_spec *spec = a->spec;
	struct cove_sync_msg msg;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!needs_two_stages(spec)) {
		int flags = new_ns_flags(spec);
		pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL,
					   NULL, NULL, NULL);
		if (pid < 0)
			return cove_error_setx(
			    err, errno,
			    "cannot create the container process (clone)");
		if (pid == 0)
			cove_init_main(a);
		ret->init = pid;
		if (flags & CLONE_NEWUSER) {
			r = cove_idmap_write(pid, spec, rootless, err);
			if (r < 0)
				return r;
		}
		return 0;
	}

	ret->stage1 = fork();
	if (ret->stage1 < 0)
		return cove_error_setx(err, errno, "fork");
	if (ret->stage1 == 0)
		stage1_main(a);
	for (;;) {
		r = cove_sync_recv(sock, &msg, NULL, err);
		if (r < 0)
			return r;
		if (msg.type == COVE_SYNC_USERNS) {
			r = cove_idmap_write(ret->stage1, spec, rootless, err);
			if (r < 0)
				return r;
			r = cove_sync_send(sock, COVE_SYNC_USERNS_DONE, 0, NULL,
					   -1);
			if (r < 0)
				return cove_error_setx(err, r, "sync");
			continue;
		}
		if (msg.type == COVE_SYNC_PID) {
			ret->init = msg.value;
			break;
		}
		return cove_error_set(
		    err, EPROTO, "unexpected message %d from stage1", msg.type);
	}
	waitpid(ret->stage1, NULL, 0);
	ret->stage1 = 0;
	return 0;
}

/* ---- create ----------------------------------------------------------------
 */

static int detect_cgroup_mode(enum cove_cgroup_manager mgr,
			      enum cove_cgroup_mode *ret,
			      struct cove_error *err)
{
	if (mgr == COVE_CGROUP_MANAGER_DISABLED) {
		*ret = COVE_CGROUP_NONE;
		return 0;
	}
	if (mgr == COVE_CGROUP_MANAGER_SYSTEMD &&
	    access("/run/systemd/system", F_OK) < 0)
		return cove_error_set(err, EOPNOTSUPP,
				      "systemd cgroup manager requested but "
				      "systemd is not running on this host");
	if (mgr == COVE_CGROUP_MANAGER_SYSTEMD)
		return cove_error_set(
		    err, EOPNOTSUPP,
		    "the systemd cgroup manager is not supported yet: use "
		    "--cgroup-manager=cgroupfs");
	if (cove_cgroup_detect(NULL, ret) < 0)
		*ret = COVE_CGROUP_NONE;
	return 0;
}

struct create_ctx {
	const struct cove_create_opts *o;
	struct cove_spec *spec;
	struct cove_state state;
	struct cove_cgroup_resources res;
	bool has_res;
	struct cove_cgroup *cg;
	struct cove_init_args args;
	struct spawned sp;
	int sock[2];
	int fifo_fd;
	int pty;
	char *dir;
	bool rootless;
};

static void create_ctx_cleanup(struct create_ctx *c, bool failed)
{
	if (failed) {
		if (c->sp.init > 0) {
			kill(c->sp.init, SIGKILL);
			if (c->o->foreground || !c->sp.stage1)
				waitpid(c->sp.init, NULL, 0);
		}
		if (c->sp.stage1 > 0) {
			kill(c->sp.stage1, SIGKILL);
			waitpid(c->sp.stage1, NULL, 0);
		}
		if (c->cg)
			cove_cgroup_destroy(c->cg, NULL);
		if (c->dir)
			cove_rm_rf(c->dir);
		if (c->pty >= 0)
			close(c->pty);
	}
	if (c->sock[0] >= 0)
		close(c->sock[0]);
	if (c->sock[1] >= 0)
		close(c->sock[1]);
	if (c->fifo_fd >= 0)
		close(c->fifo_fd);
	cove_cgroup_free(c->cg);
	if (c->has_res)
		cove_cgroup_resources_release(&c->res);
	free(c->args.rootfs.idmap_fds); /* the fds live in the init only */
	cove_seccomp_free(c->args.seccomp);
	free(c->dir);
	free(c->state.cgroup_path);
	free(c->state.created);
	if (c->state.cgroup_created_map)
		json_decref(c->state.cgroup_created_map);
	cove_spec_free(c->spec);
}

static json_t *creating_state(struct create_ctx *c, const char *status)
{
	json_t *j = json_object();
	json_object_set_new(j, "ociVersion", json_string("1.2.0"));
	json_object_set_new(j, "id", json_string(c->o->id));
	json_object_set_new(j, "status", json_string(status));
	json_object_set_new(j, "pid", json_integer(c->sp.init));
	json_object_set_new(j, "bundle", json_string(c->o->bundle));
	json_object_set_new(j, "annotations",
			    c->spec->annotations
				? json_deep_copy(c->spec->annotations)
				: json_object());
	return j;
}

static int add_default_device_rules(struct create_ctx *c);

static int validate(struct create_ctx *c, struct cove_error *err)
{
	struct cove_spec *spec = c->spec;
	int r;

	if (!spec->has_process)
		return cove_error_set(
		    err, EINVAL, "invalid 'process': missing (nothing to run)");
	if (!spec->namespaces[COVE_NS_MNT].enabled)
		return cove_error_set(err, EINVAL,
				      "invalid 'linux.namespaces': a mount "
				      "namespace is required");
	if (spec->process.terminal && !c->o->console_socket &&
	    !c->o->foreground)
		return cove_error_set(
		    err, EINVAL,
		    "cannot allocate a terminal for a detached container "
		    "without --console-socket");
	if (!spec->process.terminal && c->o->console_socket)
		return cove_error_set(
		    err, EINVAL,
		    "--console-socket given but 'process.terminal' is false");
	{
		struct stat st;
		if (stat(spec->root_path, &st) < 0 || !S_ISDIR(st.st_mode))
			return cove_error_set(
			    err, ENOENT,
			    "invalid 'root.path': %s is not a directory",
			    spec->root_path);
	}
	r = cove_process_ctx_init(&c->args.pctx, &spec->process, err);
	if (r < 0)
		return r;
	if (spec->seccomp) {
		r = cove_seccomp_compile_cached(spec->seccomp, "linux.seccomp",
						c->o->seccomp_cache_dir,
						&c->args.seccomp, err);
		if (r < 0)
			return r;
	}
	if (spec->personality) {
		r = cove_personality_parse(spec->personality,
					   "linux.personality",
					   &c->args.personality, err);
		if (r < 0)
			return r;
	}
	if (spec->resources) {
		r = cove_cgroup_resources_parse(
		    spec->resources, "linux.resources", &c->res, err);
		if (r < 0)
			return r;
		c->has_res = true;
		r = add_default_device_rules(c);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (spec->mounts[i].idmap && c->rootless)
			return cove_error_set(err, EOPNOTSUPP,
					      "invalid 'mounts[%zu]': idmapped "
					      "mounts need root on the host",
					      i);
	return 0;
}

/* Whether one of the config's @n rules @v names exactly @r's device. */
static bool has_device_rule(const struct cove_device_rule *v, size_t n,
			    const struct cove_device_rule *r)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].type == r->type && v[i].major == r->major &&
		    v[i].minor == r->minor)
			return true;
	return false;
}

/*
 * The device cgroup always lets the container use the devices the runtime
 * itself creates (and mknod in general), as runc does: the config's rules
 * come first and these are appended, so a config cannot lock the container
 * out of /dev/null, but everything else it denies stays denied.  A device
 * of linux.devices gets "rwm" unless the config has a rule of its own for
 * it (podman's --device PATH:PATH:r is such a rule: only read).
 */
static int add_default_device_rules(struct create_ctx *c)
{
	static const struct cove_device_rule defaults[] = {
	    {true, 'c', -1, -1, "m"},	 {true, 'b', -1, -1, "m"},
	    {true, 'c', 1, 3, "rwm"},	 {true, 'c', 1, 5, "rwm"},
	    {true, 'c', 1, 7, "rwm"},	 {true, 'c', 1, 8, "rwm"},
	    {true, 'c', 1, 9, "rwm"},	 {true, 'c', 5, 0, "rwm"},
	    {true, 'c', 5, 1, "rwm"},	 {true, 'c', 5, 2, "rwm"},
	    {true, 'c', 136, -1, "rwm"},
	};
	size_t extra = ARRAY_SIZE(defaults) + c->spec->n_devices, n_config;
	struct cove_device_rule *v;

	if (!c->has_res || c->res.n_devices == 0)
		return 0;
	v = realloc(c->res.devices, (c->res.n_devices + extra) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	n_config = c->res.n_devices;
	c->res.devices = v;
	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
		v[c->res.n_devices++] = defaults[i];
	for (size_t i = 0; i < c->spec->n_devices; i++) {
		const struct cove_device *d = &c->spec->devices[i];
		struct cove_device_rule rule = {true,
						d->type == 'b' ? 'b' : 'c',
						d->major, d->minor, "rwm"};
		if (d->type == 'p' || has_device_rule(v, n_config, &rule))
			continue;
		v[c->res.n_devices++] = rule;
	}
	return 0;
}

/* Resources worth applying at all (rootless without delegation: none). */
static bool has_any_resource(const struct cove_spec *spec)
{
	return spec->resources && json_object_size(spec->resources) > 0;
}

static bool has_idmap_mounts(const struct cove_spec *spec)
{
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (spec->mounts[i].idmap)
			return true;
	return false;
}

/*
 * Idmapped mounts: since Linux 6.15 a detached mount tree can only be
 * attached in the mount namespace it was cloned in, and the init, in a user
 * namespace, may lack the privilege to idmap host file systems.  So a helper
 * forked from the runtime (host root) enters the init's mount namespace,
 * clones and idmaps the source trees there and sends them to the init over
 * the sync socket, before GO.
 */
static int send_idmapped_mounts(struct create_ctx *c, struct cove_error *err)
{
	char path[64];
	_cleanup_close_ int mntns = -1;
	pid_t helper;
	int status;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)c->sp.init);
	mntns = open(path, O_RDONLY | O_CLOEXEC);
	if (mntns < 0)
		return cove_error_setx(err, errno, "cannot open %s", path);
	helper = fork();
	if (helper < 0)
		return cove_error_setx(err, errno, "fork");
	if (helper == 0) {
		struct cove_error herr = {0};
		int *fds = NULL;
		if (setns(mntns, CLONE_NEWNS) < 0) {
			cove_error_setx(
			    &herr, errno,
			    "cannot enter the container's mount namespace");
			goto fail;
		}
		if (cove_rootfs_open_idmapped(c->spec, &fds, &herr) < 0)
			goto fail;
		for (size_t i = 0; fds && i < c->spec->n_mounts; i++)
			if (fds[i] >= 0 &&
			    cove_sync_send(c->sock[0], COVE_SYNC_IDMAP, (int)i,
					   NULL, fds[i]) < 0)
				_exit(2);
		_exit(0);
	fail:
		/* write the message where the parent reads it: a pipe-less
		 * trick */
		dprintf(2, "cove-runtime: %s\n", herr.msg);
		_exit(1);
	}
	while (waitpid(helper, &status, 0) < 0)
		if (errno != EINTR)
			return cove_error_setx(err, errno, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return cove_error_set(err, EIO,
				      "cannot prepare the idmapped mounts (see "
				      "the message above)");
	return 0;
}

static int drive_init(struct create_ctx *c, struct cove_error *err)
{
	int sock = c->sock[0];
	struct cove_sync_msg msg;
	int r;

	for (;;) {
		int fd = -1;
		r = cove_sync_recv(sock, &msg, &fd, err);
		if (r < 0)
			return r;
		switch (msg.type) {
		case COVE_SYNC_READY:
			return 0;
		case COVE_SYNC_HOOKS: {
			_cleanup_json_ json_t *st =
			    creating_state(c, "creating");
			r = cove_hooks_run(&c->spec->hooks[COVE_HOOK_PRESTART],
					   "prestart", st, err);
			if (r >= 0)
				r = cove_hooks_run(
				    &c->spec->hooks[COVE_HOOK_CREATE_RUNTIME],
				    "createRuntime", st, err);
			if (r < 0)
				return r;
			r = cove_sync_send(sock, COVE_SYNC_HOOKS_DONE, 0, NULL,
					   -1);
			break;
		}
		case COVE_SYNC_PTY:
			if (fd < 0)
				return cove_error_set(
				    err, EPROTO, "no pty received from init");
			if (c->o->console_socket) {
				r = cove_console_socket_send(
				    c->o->console_socket, fd, err);
				close(fd);
				if (r < 0)
					return r;
			} else {
				c->pty = fd;
			}
			r = cove_sync_send(sock, COVE_SYNC_ACK, 0, NULL, -1);
			break;
		case COVE_SYNC_SECCOMP: {
			_cleanup_json_ json_t *st =
			    creating_state(c, "creating");
			if (fd < 0)
				return cove_error_set(
				    err, EPROTO,
				    "no seccomp listener received from init");
			r = cove_seccomp_send_listener(c->args.seccomp, fd,
						       c->sp.init, st, err);
			close(fd);
			if (r < 0)
				return r;
			r = cove_sync_send(sock, COVE_SYNC_ACK, 0, NULL, -1);
			break;
		}
		default:
			if (fd >= 0)
				close(fd);
			return cove_error_set(err, EPROTO,
					      "unexpected message %d from init",
					      msg.type);
		}
		if (r < 0)
			return cove_error_setx(err, r, "sync");
	}
}

static int write_pid_file(const char *path, pid_t pid, struct cove_error *err)
{
	char buf[32], abs[PATH_MAX];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	_cleanup_free_ char *dir = NULL;
	const char *slash;
	int r;

	/* Written atomically: a reader never sees an empty pid file. */
	if (path[0] != '/') {
		if (!getcwd(abs, sizeof(abs)))
			return cove_error_setx(err, errno, "getcwd");
		dir = strdup(abs);
	} else {
		slash = strrchr(path, '/');
		dir = strndup(
		    path, (size_t)(slash - path) ? (size_t)(slash - path) : 1);
		path = slash + 1;
	}
	if (!dir)
		return -ENOMEM;
	{
		_cleanup_close_ int dfd =
		    open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return cove_error_setx(
			    err, errno, "cannot open pid file directory %s",
			    dir);
		r = cove_write_file_replace_at(dfd, path, buf, (size_t)n, 0644);
		if (r < 0)
			return cove_error_setx(
			    err, r, "cannot write pid file %s", path);
	}
	return 0;
}

int cove_container_create(const struct cove_create_opts *o, pid_t *ret_pid,
			  int *ret_pty, struct cove_error *err)
{
	struct create_ctx c = {
	    .o = o, .sock = {-1, -1}, .fifo_fd = -1, .pty = -1};
	enum cove_cgroup_mode mode;
	_cleanup_free_ char *fifo = NULL;
	bool best_effort = false;
	bool failed = true;
	int r;

	if (ret_pty)
		*ret_pty = -1;
	c.rootless = geteuid() != 0;
	r = cove_id_validate(o->id, err);
	if (r < 0)
		goto out;
	r = cove_spec_load(o->bundle, o->config_file, &c.spec, err);
	if (r < 0)
		goto out;
	r = validate(&c, err);
	if (r < 0)
		goto out;
	r = detect_cgroup_mode(o->cgroup_manager, &mode, err);
	if (r < 0)
		goto out;

	r = cove_state_reserve(o->root, o->id, &c.dir, err);
	if (r < 0)
		goto out;
	fifo = cove_strdup_printf("%s/exec.fifo", c.dir);
	if (!fifo || mkfifo(fifo, 0622) < 0) {
		r = cove_error_setx(err, fifo ? errno : ENOMEM,
				    "cannot create %s",
				    fifo ? fifo : "exec.fifo");
		goto out;
	}
	/*
	 * Read-write, so the init can block in read() until `start` writes
	 * a byte; with no reader left, `start` gets ENXIO and knows the init
	 * is gone.
	 */
	c.fifo_fd = open(fifo, O_RDWR | O_CLOEXEC);
	if (c.fifo_fd < 0) {
		r = cove_error_setx(err, errno, "cannot open %s", fifo);
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, c.sock) < 0) {
		r = cove_error_setx(err, errno, "socketpair");
		goto out;
	}

	if (mode != COVE_CGROUP_NONE) {
		if (c.spec->cgroups_path)
			c.state.cgroup_path = strdup(c.spec->cgroups_path);
		else
			c.state.cgroup_path =
			    cove_strdup_printf("/cove/%s", o->id);
	}

	c.args.spec = c.spec;
	c.args.id = o->id;
	c.args.bundle = o->bundle;
	c.args.sync_fd = c.sock[1];
	c.args.fifo_fd = c.fifo_fd;
	c.args.new_userns = c.spec->namespaces[COVE_NS_USER].enabled &&
			    !c.spec->namespaces[COVE_NS_USER].path;
	c.args.rootless = c.rootless;
	c.args.no_new_keyring = o->no_new_keyring;
	c.args.preserve_fds = o->preserve_fds;
	c.args.want_runtime_hooks = c.spec->hooks[COVE_HOOK_PRESTART].n ||
				    c.spec->hooks[COVE_HOOK_CREATE_RUNTIME].n;
	c.args.pctx.setgroups_denied =
	    c.rootless && c.args.new_userns && !cove_idmap_uses_helpers(c.spec);
	/*
	 * Inside a user namespace already (rootless cove), devices are bound
	 * rather than made, as in a new one.
	 */
	c.args.rootfs.userns = c.spec->namespaces[COVE_NS_USER].enabled ||
			       !cove_in_initial_userns();
	c.args.rootfs.no_pivot = o->no_pivot;
	c.args.rootfs.cgroup_path = c.state.cgroup_path;
	/* cgroup mounts follow the host's layout even without a manager */
	c.args.rootfs.cgroup_mode = mode;
	if (mode == COVE_CGROUP_NONE &&
	    cove_cgroup_detect(NULL, &c.args.rootfs.cgroup_mode) < 0)
		c.args.rootfs.cgroup_mode = COVE_CGROUP_NONE;
	c.args.rootfs.cgroupns = c.spec->namespaces[COVE_NS_CGROUP].enabled;
	best_effort =
	    c.rootless && !has_any_resource(c.spec) && !c.spec->cgroups_path;
	c.args.rootfs.cgroup_path_known = c.state.cgroup_path && !best_effort;

	if (has_idmap_mounts(c.spec)) {
		/* slots the init fills from COVE_SYNC_IDMAP messages */
		c.args.rootfs.idmap_fds =
		    malloc(c.spec->n_mounts * sizeof(int));
		if (!c.args.rootfs.idmap_fds) {
			r = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < c.spec->n_mounts; i++)
			c.args.rootfs.idmap_fds[i] = -1;
	}

	if (o->foreground && needs_two_stages(c.spec))
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

	r = spawn(&c.args, c.sock[0], c.rootless, &c.sp, err);
	if (r < 0)
		goto out;
	close(c.sock[1]);
	c.sock[1] = -1;

	/*
	 * The init may start on its mounts now; it waits for the cgroup only
	 * where it matters (see join_cgroup() in init.c).
	 */
	if (c.args.rootfs.idmap_fds) {
		r = send_idmapped_mounts(&c, err);
		if (r < 0)
			goto out;
	}
	cove_sync_send(c.sock[0], COVE_SYNC_GO, c.sp.init, NULL, -1);
	if (c.state.cgroup_path) {
		unsigned flags = 0;
		/*
		 * Rootless without delegation: no cgroup, unless the config
		 * asked for one explicitly or for limits (then it is an error,
		 * as with runc).
		 */
		if (c.rootless && !has_any_resource(c.spec) &&
		    !c.spec->cgroups_path)
			flags |= COVE_CGROUP_BEST_EFFORT;
		/*
		 * Directories and limits first, the move second, so that the
		 * init can bind the directories while the move waits.
		 */
		r = cove_cgroup_create(NULL, mode, c.state.cgroup_path,
				       best_effort ? c.sp.init : 0,
				       c.has_res ? &c.res : NULL, flags, &c.cg,
				       err);
		if (r < 0)
			goto out;
		cove_sync_send(c.sock[0], COVE_SYNC_CGROUP_DIRS, 0, NULL, -1);
		if (!best_effort) {
			r = cove_cgroup_enter(c.cg, c.sp.init, err);
			if (r < 0) {
				cove_error_wrap(
				    err,
				    "cannot move the init into cgroup '%s'",
				    c.state.cgroup_path);
				goto out;
			}
		}
		if (cove_cgroup_hierarchy_count(c.cg) == 0) {
			/* best effort failed: run without a cgroup */
			cove_cgroup_free(c.cg);
			c.cg = NULL;
			free(c.state.cgroup_path);
			c.state.cgroup_path = NULL;
		}
	} else {
		cove_sync_send(c.sock[0], COVE_SYNC_CGROUP_DIRS, 0, NULL, -1);
	}
	if (c.spec->process.has_oom_score_adj) {
		r = cove_oom_score_adj_apply(
		    c.sp.init, c.spec->process.oom_score_adj, err);
		if (r < 0)
			goto out;
	}
	/* A failed send means the init died: drive_init() reads why. */
	cove_sync_send(c.sock[0], COVE_SYNC_CGROUP, 0, NULL, -1);
	r = drive_init(&c, err);
	if (r < 0)
		goto out;

	c.state.id = (char *)o->id;
	c.state.pid = c.sp.init;
	c.state.pid_start_time = cove_proc_start_time(c.sp.init);
	c.state.bundle = (char *)o->bundle;
	c.state.rootfs = c.spec->root_path;
	c.state.created = cove_rfc3339_now();
	c.state.owner = geteuid();
	c.state.cgroup_mode = mode;
	c.state.cgroup_created = c.cg ? cove_cgroup_get_created(c.cg) : 0;
	if (c.cg) {
		r = cove_cgroup_get_created_map(c.cg,
						&c.state.cgroup_created_map);
		if (r < 0)
			goto out;
	}
	c.state.rootless = c.rootless;
	c.state.terminal = c.spec->process.terminal;
	c.state.systemd_cgroup =
	    o->cgroup_manager == COVE_CGROUP_MANAGER_SYSTEMD;
	c.state.annotations = c.spec->annotations;
	c.state.config = c.spec->root;
	c.state.dir = c.dir;
	r = cove_state_save(&c.state, err);
	if (r < 0)
		goto out;
	if (o->pid_file) {
		r = write_pid_file(o->pid_file, c.sp.init, err);
		if (r < 0)
			goto out;
	}
	if (ret_pid)
		*ret_pid = c.sp.init;
	if (ret_pty) {
		*ret_pty = c.pty;
		c.pty = -1;
	}
	failed = false;
	r = 0;
out:
	c.state.id = NULL;
	c.state.bundle = NULL;
	c.state.rootfs = NULL;
	c.state.annotations = NULL;
	c.state.config = NULL;
	c.state.dir = NULL;
	if (c.pty >= 0 && !failed)
		close(c.pty);
	create_ctx_cleanup(&c, failed);
	return r;
}

/* ---- start / kill / delete ------------------------------------------------
 */

static int load_spec_of(const struct cove_state *s, struct cove_spec **ret,
			struct cove_error *err)
{
	if (!s->config)
		return cove_error_set(err, EINVAL,
				      "state of '%s' has no config", s->id);
	json_incref(s->config);
	if (cove_spec_parse(s->config, s->bundle, ret, err) < 0) {
		json_decref(s->config);
		return -EINVAL;
	}
	return 0;
}

static int run_state_hooks(struct cove_state *s, enum cove_hook_kind kind,
			   const char *name, struct cove_error *err)
{
	_cleanup_spec_ struct cove_spec *spec = NULL;
	_cleanup_json_ json_t *st = NULL;
	json_t *hooks = s->config ? json_object_get(s->config, "hooks") : NULL;
	int r;

	if (!hooks || !json_object_get(hooks, name))
		return 0;
	r = load_spec_of(s, &spec, err);
	if (r < 0)
		return r;
	st = cove_state_to_json(s);
	return cove_hooks_run(&spec->hooks[kind], name, st, err);
}

int cove_container_start(const char *root, const char *id,
			 struct cove_error *err)
{
	_cleanup_state_ struct cove_state *s = NULL;
	_cleanup_free_ char *fifo = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	r = cove_state_load(root, id, &s, err);
	if (r < 0)
		return r;
	if (s->status != COVE_STATUS_CREATED)
		return cove_error_set(
		    err, EINVAL,
		    "cannot start container '%s': it is %s, not created", id,
		    cove_status_name(s->status));
	fifo = cove_strdup_printf("%s/exec.fifo", s->dir);
	if (!fifo)
		return -ENOMEM;
	fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENXIO)
			return cove_error_set(err, ESRCH,
					      "cannot start container '%s': "
					      "its init process has exited",
					      id);
		return cove_error_setx(err, errno, "cannot open %s", fifo);
	}
	if (write(fd, "0", 1) != 1)
		return cove_error_setx(err, errno, "cannot write %s", fifo);
	unlink(fifo);
	s->status = COVE_STATUS_RUNNING;
	r = run_state_hooks(s, COVE_HOOK_POSTSTART, "poststart", err);
	if (r < 0) {
		/* The spec: a failed poststart hook is a warning only. */
		return 1;
	}
	return 0;
}

static int signal_pid(pid_t pid, uint64_t start_time, int sig)
{
	_cleanup_close_ int pfd = pidfd_open_(pid);

	/*
	 * Through a pidfd, checked against the recorded start time: a
	 * recycled pid can never receive the signal.
	 */
	if (pfd < 0)
		return -errno;
	if (start_time && cove_proc_start_time(pid) != start_time)
		return -ESRCH;
	if (syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) < 0)
		return -errno;
	return 0;
}

static int kill_all(struct cove_state *s, int sig, struct cove_error *err)
{
	_cleanup_cgroup_ struct cove_cgroup *cg = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	int r;

	if (!s->cgroup_path)
		return signal_pid(s->pid, s->pid_start_time, sig);
	r = cove_cgroup_open(NULL, s->cgroup_mode, s->cgroup_path, &cg, err);
	if (r < 0)
		return r;
	r = cove_cgroup_pids(cg, &pids, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		kill(pids[i], sig);
	if (sig == SIGKILL || sig == SIGTERM) {
		bool frozen = false;
		/* A frozen process cannot act on the signal: thaw it. */
		if (cove_cgroup_is_frozen(cg, &frozen) >= 0 && frozen)
			cove_cgroup_freeze(cg, false, NULL);
	}
	return 0;
}

int cove_container_kill(const char *root, const char *id, int sig, bool all,
			struct cove_error *err)
{
	_cleanup_state_ struct cove_state *s = NULL;
	int r;

	r = cove_state_load(root, id, &s, err);
	if (r < 0)
		return r;
	if (s->status == COVE_STATUS_STOPPED && !all)
		return cove_error_set(err, ESRCH,
				      "container '%s' is not running", id);
	if (all)
		return kill_all(s, sig, err);
	r = signal_pid(s->pid, s->pid_start_time, sig);
	if (r < 0)
		return cove_error_setx(err, r, "cannot signal container '%s'",
				       id);
	return 0;
}

static void wait_dead(pid_t pid, uint64_t start, int timeout_ms)
{
	_cleanup_close_ int pfd = pidfd_open_(pid);
	struct pollfd p = {.fd = pfd, .events = POLLIN};

	if (pfd < 0)
		return;
	if (start && cove_proc_start_time(pid) != start)
		return;
	poll(&p, 1, timeout_ms);
}

int cove_container_delete(const char *root, const char *id, bool force,
			  struct cove_error *err)
{
	_cleanup_state_ struct cove_state *s = NULL;
	_cleanup_cgroup_ struct cove_cgroup *cg = NULL;
	int r;

	r = cove_state_load(root, id, &s, err);
	if (r < 0)
		return r;
	if (s->status == COVE_STATUS_RUNNING ||
	    s->status == COVE_STATUS_PAUSED) {
		if (!force)
			return cove_error_set(err, EBUSY,
					      "cannot delete container '%s' "
					      "that is not stopped: %s",
					      id, cove_status_name(s->status));
	}
	if (s->status != COVE_STATUS_STOPPED) {
		/* A created container is killed; a forced one too. */
		if (s->cgroup_path)
			kill_all(s, SIGKILL, NULL);
		signal_pid(s->pid, s->pid_start_time, SIGKILL);
		wait_dead(s->pid, s->pid_start_time, 5000);
	}
	s->status = COVE_STATUS_STOPPED;
	if (s->cgroup_path &&
	    cove_cgroup_open(NULL, s->cgroup_mode, s->cgroup_path, &cg, NULL) >=
		0) {
		/*
		 * Remove only the levels of the path that cove created, per
		 * hierarchy: a parent may have existed in some only.
		 */
		if (s->cgroup_created_map)
			cove_cgroup_set_created_map(cg, s->cgroup_created_map);
		else
			cove_cgroup_set_created(cg, s->cgroup_created);
		r = cove_cgroup_destroy(cg, err);
		if (r < 0)
			return cove_error_wrap(
			    err, "cannot remove the cgroup of '%s'", id);
	}
	{
		struct cove_error herr = {0};
		run_state_hooks(s, COVE_HOOK_POSTSTOP, "poststop", &herr);
		if (herr.code && err)
			*err = herr; /* reported as a warning by the caller */
		r = cove_state_remove(s);
		if (r < 0)
			return cove_error_setx(err, r, "cannot remove %s",
					       s->dir);
		return herr.code ? 1 : 0;
	}
}

int cove_container_pause(const char *root, const char *id, bool pause,
			 struct cove_error *err)
{
	_cleanup_state_ struct cove_state *s = NULL;
	_cleanup_cgroup_ struct cove_cgroup *cg = NULL;
	int r;

	r = cove_state_load(root, id, &s, err);
	if (r < 0)
		return r;
	if (pause && s->status != COVE_STATUS_RUNNING)
		return cove_error_set(err, EINVAL,
				      "cannot pause container '%s': it is %s",
				      id, cove_status_name(s->status));
	if (!pause && s->status != COVE_STATUS_PAUSED)
		return cove_error_set(
		    err, EINVAL,
		    "cannot resume container '%s': it is %s, not paused", id,
		    cove_status_name(s->status));
	if (!s->cgroup_path)
		return cove_error_set(err, EOPNOTSUPP,
				      "container '%s' has no cgroup to freeze",
				      id);
	r = cove_cgroup_open(NULL, s->cgroup_mode, s->cgroup_path, &cg, err);
	if (r < 0)
		return r;
	return cove_cgroup_freeze(cg, pause, err);
}

int cove_container_update(const char *root, const char *id, json_t *resources,
			  struct cove_error *err)
{
	_cleanup_state_ struct cove_state *s = NULL;
	_cleanup_cgroup_ struct cove_cgroup *cg = NULL;
	struct cove_cgroup_resources res;
	int r;

	r = cove_state_load(root, id, &s, err);
	if (r < 0)
		return r;
	if (s->status == COVE_STATUS_STOPPED)
		return cove_error_set(
		    err, EINVAL, "cannot update container '%s': it is stopped",
		    id);
	if (!s->cgroup_path)
		return cove_error_set(err, EOPNOTSUPP,
				      "container '%s' has no cgroup", id);
	r = cove_cgroup_resources_parse(resources, "resources", &res, err);
	if (r < 0)
		return r;
	r = cove_cgroup_open(NULL, s->cgroup_mode, s->cgroup_path, &cg, err);
	if (r >= 0)
		r = cove_cgroup_apply(cg, &res, err);
	cove_cgroup_resources_release(&res);
	if (r < 0)
		return r;
	/* Keep the stored config in step, so that `exec` and events agree. */
	if (s->config) {
		json_t *lx = json_object_get(s->config, "linux");
		json_t *old;
		if (!lx) {
			lx = json_object();
			json_object_set_new(s->config, "linux", lx);
		}
		old = json_object_get(lx, "resources");
		if (json_is_object(old))
			json_object_update_recursive(old, resources);
		else
			json_object_set(lx, "resources", resources);
		cove_state_save(s, NULL);
	}
	return 0;
}
