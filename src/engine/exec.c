/*
 * cove exec: a new process in a running container, through the runtime's
 * exec in process.  Its defaults come from the container's own config.json
 * (environment, user, working directory, capabilities, no_new_privileges,
 * rlimits), so an exec'd process is confined exactly like the container's
 * main one unless --privileged asks for more.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/engine-internal.h"
#include "image/bundle.h"
#include "runtime/container.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

static pid_t forward_pid;

static void forward_signal(int sig)
{
	if (forward_pid > 0)
		kill(forward_pid, sig);
}

/* Set or replace "KEY=..." in the env array. */
static void env_set(json_t *env, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
	size_t i;
	json_t *v;

	json_array_foreach(env, i, v)
	{
		const char *s = json_string_value(v);
		if (s && !strncmp(s, kv, klen) && s[klen] == '=') {
			json_array_set_new(env, i, json_string(kv));
			return;
		}
	}
	json_array_append_new(env, json_string(kv));
}

static int resolve_user(const char *rootfs, const char *spec, json_t *proc,
			struct cove_error *err)
{
	struct cove_image_user u = {0};
	_cleanup_close_ int fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	json_t *user = json_object();
	int r;

	if (fd < 0) {
		json_decref(user);
		return cove_error_setx(err, errno, "cannot open %s", rootfs);
	}
	r = cove_image_user_resolve(fd, spec, &u, err);
	if (r < 0) {
		json_decref(user);
		return cove_error_wrap(err, "invalid --user '%s'", spec);
	}
	json_object_set_new(user, "uid", json_integer(u.uid));
	json_object_set_new(user, "gid", json_integer(u.gid));
	if (u.n_additional_gids) {
		json_t *g = json_array();
		for (size_t i = 0; i < u.n_additional_gids; i++)
			json_array_append_new(
			    g, json_integer(u.additional_gids[i]));
		json_object_set_new(user, "additionalGids", g);
	}
	json_object_set_new(proc, "user", user);
	if (u.home) {
		char *home = cove_strdup_printf("HOME=%s", u.home);
		if (home)
			env_set(json_object_get(proc, "env"), home);
		free(home);
	}
	cove_image_user_release(&u);
	return 0;
}

/*
 * exec -d: the process needs a parent that reaps it at once.  Left to the
 * host's init (as the child of a command that exits), its zombie would hold
 * up the container's pid namespace teardown until that init gets round to
 * it, and with it every stop and rm.  So a waiter process of its own
 * (in a session of its own) runs the exec, reports, and reaps it.
 */
static int exec_detached(const struct cove_exec_opts *o, struct cove_error *err)
{
	char buf[COVE_ERROR_MSG_MAX + 16];
	int fds[2];
	ssize_t n;
	pid_t w;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return cove_error_setx(err, errno, "pipe");
	w = fork();
	if (w < 0) {
		close(fds[0]);
		close(fds[1]);
		return cove_error_setx(err, errno, "fork");
	}
	if (w == 0) {
		struct cove_exec_opts wo = *o;
		struct cove_error werr = {0};
		pid_t pid = 0;
		int r;
		close(fds[0]);
		if (fork() != 0)
			_exit(0); /* the waiter is not the caller's child */
		/*
		 * It outlives the command: nothing of the caller's may stay
		 * open in it (saved copies of its stdio, the databases).
		 */
		if (fds[1] > 3)
			syscall(SYS_close_range, 3, fds[1] - 1, 0);
		syscall(SYS_close_range, fds[1] + 1, ~0U, 0);
		setsid();
		wo.detach = false;
		r = cove_container_exec(&wo, &pid, NULL, &werr);
		n = r < 0 ? snprintf(buf, sizeof(buf), "%d %s", werr.code,
				     werr.msg)
			  : snprintf(buf, sizeof(buf), "0");
		(void)cove_write_all(fds[1], buf, (size_t)n);
		close(fds[1]);
		if (r >= 0)
			while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
				;
		_exit(0);
	}
	close(fds[1]);
	waitpid(w, NULL, 0);
	n = cove_read_all(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	if (n <= 0)
		return cove_error_set(err, EIO, "the exec waiter died");
	buf[n] = '\0';
	if (buf[0] != '0') {
		int code = EIO;
		char *msg = strchr(buf, ' ');
		if (msg)
			*msg++ = '\0';
		if (cove_parse_int(buf, &code) < 0 || code <= 0)
			code = EIO;
		return cove_error_set(err, code, "%s",
				      msg ? msg : "exec failed");
	}
	return 0;
}

int cove_engine_exec(struct cove_engine *e, struct cove_ctr *c,
		     const struct cove_exec_req *req, int *ret_exit,
		     struct cove_error *err)
{
	_cleanup_free_ char *dir = NULL, *cfgpath = NULL, *seccomp_cache = NULL;
	_cleanup_json_ json_t *spec = NULL;
	static const int forwarded[] = {SIGINT,	 SIGTERM, SIGHUP,
					SIGQUIT, SIGUSR1, SIGUSR2};
	struct cove_exec_opts o = {0};
	int saved[3] = {-1, -1, -1}, devnull = -1;
	sigset_t fwd, old_mask;
	json_t *proc, *args;
	const char *rootfs;
	pid_t pid = 0;
	int pty = -1, r;

	if (strcmp(c->state, "running"))
		return cove_error_set(err, EINVAL,
				      "container %s is not running (it is %s)",
				      c->name, c->state);
	dir = cove_engine_ctr_dir(e, c->id);
	cfgpath = cove_strdup_printf("%s/config.json", dir ? dir : "");
	if (!dir || !cfgpath)
		return -ENOMEM;
	r = cove_json_load_file(cfgpath, 16 << 20, &spec, err);
	if (r < 0)
		return r;
	proc = json_deep_copy(json_object_get(spec, "process"));
	if (!proc)
		return -ENOMEM;
	rootfs = json_string_value(
	    json_object_get(json_object_get(spec, "root"), "path"));
	args = json_array();
	for (size_t i = 0; req->argv[i]; i++)
		json_array_append_new(args, json_string(req->argv[i]));
	json_object_set_new(proc, "args", args);
	json_object_set_new(proc, "terminal", json_boolean(req->tty));
	json_object_del(proc, "consoleSize");
	if (!json_is_array(json_object_get(proc, "env")))
		json_object_set_new(proc, "env", json_array());
	for (size_t i = 0; req->env && req->env[i]; i++)
		env_set(json_object_get(proc, "env"), req->env[i]);
	if (req->workdir)
		json_object_set_new(proc, "cwd", json_string(req->workdir));
	if (req->user && rootfs) {
		r = resolve_user(rootfs, req->user, proc, err);
		if (r < 0) {
			json_decref(proc);
			return r;
		}
	}
	if (req->privileged) {
		/* every capability the container's bounding set allows */
		json_t *caps = json_object_get(proc, "capabilities");
		json_t *b = json_object_get(caps, "bounding");
		if (b) {
			json_object_set(caps, "effective", b);
			json_object_set(caps, "permitted", b);
			json_object_set(caps, "inheritable", b);
		}
	}

	o.root = e->runtime_root;
	o.id = c->id;
	o.process = proc;
	o.detach = req->detach;
	o.foreground_pty = req->tty;
	/* the same compiled seccomp programs as the container create */
	seccomp_cache = cove_strdup_printf("%s/seccomp-cache", e->root);
	o.seccomp_cache_dir = seccomp_cache;
	/*
	 * Signals to forward are held from before the process exists until
	 * the handler knows its pid, so none is lost (or kills cove and leaves
	 * the process behind).  The runtime unblocks them for the process.
	 */
	sigemptyset(&fwd);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaddset(&fwd, forwarded[i]);
	sigprocmask(SIG_BLOCK, &fwd, &old_mask);
	if (req->detach) {
		/* detached: it must not keep the caller's stdio open */
		devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		for (int i = 0; i < 3 && devnull >= 0; i++) {
			saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
			dup2(devnull, i);
		}
	}
	if (req->detach) {
		r = exec_detached(&o, err);
		pid = -1;
	} else {
		r = cove_container_exec(&o, &pid, &pty, err);
	}
	for (int i = 0; i < 3; i++)
		if (saved[i] >= 0) {
			dup2(saved[i], i);
			close(saved[i]);
		}
	if (devnull >= 0)
		close(devnull);
	json_decref(proc);
	if (r < 0 || req->detach) {
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		if (r >= 0 && ret_exit)
			*ret_exit = 0;
		return r;
	}
	{
		struct sigaction sa = {.sa_handler = forward_signal,
				       .sa_flags = SA_RESTART};
		forward_pid = pid;
		for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
			sigaction(forwarded[i], &sa, NULL);
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
	}
	if (pty >= 0) {
		struct cove_error perr = {0};
		cove_pty_proxy(pty, &perr);
		close(pty);
	}
	if (req->timeout_ms > 0) {
		/* the health check's timeout: the process is our child */
		int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		if (pfd >= 0) {
			if (poll(&p, 1, req->timeout_ms) == 0)
				kill(pid, SIGKILL);
			close(pfd);
		}
	}
	if (ret_exit)
		*ret_exit = cove_wait_exit_code(pid);
	forward_pid = 0;
	return 0;
}
