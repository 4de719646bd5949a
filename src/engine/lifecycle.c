/*
 * Start, stop, kill, wait, remove: the lifecycle commands, each a short
 * conversation with the container's monitor through the database and
 * signals.  Waiting on processes that are not our children uses pidfds.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/ctrns.h"
#include "engine/engine-internal.h"
#include "engine/events.h"
#include "engine/volumes.h"
#include "runtime/cgroup.h"
#include "runtime/container.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/signals.h"
#include "util/strutil.h"

static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Wait up to @ms for @pid to exit (-1: forever).  True when it is gone. */
static bool wait_gone(pid_t pid, uint64_t start, int ms)
{
	_cleanup_close_ int fd = -1;
	struct pollfd p;

	if (pid <= 0)
		return true;
	fd = pidfd_of(pid);
	if (fd < 0)
		return errno == ESRCH;
	/* the pid may have been reused since it was recorded */
	if (start && cove_proc_start_time(pid) != start)
		return true;
	p.fd = fd;
	p.events = POLLIN;
	while (poll(&p, 1, ms) < 0 && errno == EINTR)
		;
	return p.revents & POLLIN;
}

/* Alive and not a zombie (a killed monitor may wait to be reaped). */
static bool pid_running(pid_t pid)
{
	char path[64], buf[512];
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static bool is_running_state(const char *s)
{
	return !strcmp(s, "running") || !strcmp(s, "paused") ||
	       !strcmp(s, "stopping");
}

static int set_state(struct cove_engine *e, struct cove_ctr *c,
		     const char *state, unsigned more, struct cove_error *err)
{
	sqlite3 *db;
	char *s = strdup(state);
	int r;

	if (!s)
		return -ENOMEM;
	free(c->state);
	c->state = s;
	r = cove_engine_db(e, &db, err);
	if (r < 0)
		return r;
	return cove_ctr_update(db, c, COVE_CTR_STATE | more, err);
}

int cove_engine_refresh(struct cove_engine *e, struct cove_ctr *c,
			struct cove_error *err)
{
	bool monitor_alive;

	if (!is_running_state(c->state) && strcmp(c->state, "restarting"))
		return 0;
	monitor_alive = c->monitor_pid > 0 && pid_running(c->monitor_pid);
	if (monitor_alive)
		return 0;
	if (cove_ctr_process_alive(c) && !strcmp(c->state, "restarting"))
		return 0;
	if (cove_ctr_process_alive(c)) {
		/*
		 * The monitor was killed, the container runs on: nobody
		 * records its exit now, so stop it as `stop -t 0` would.
		 */
		kill(c->pid, SIGKILL);
		wait_gone(c->pid, c->pid_start, 5000);
	}
	cove_engine_release_runtime(e, c);
	cove_engine_net_teardown(e, c);
	c->pid = 0;
	c->pid_start = 0;
	c->monitor_pid = 0;
	if (c->exit_code < 0)
		c->exit_code = 137;
	c->finished_at = cove_now_ns();
	return set_state(e, c, "exited",
			 COVE_CTR_PID | COVE_CTR_MONITOR | COVE_CTR_EXIT, err);
}

int cove_engine_start(struct cove_engine *e, struct cove_ctr *c,
		      const struct cove_start_opts *o, int *ret_exit,
		      struct cove_error *err)
{
	int fds[2] = {-1, -1};
	char buf[COVE_ERROR_MSG_MAX + 32];
	ssize_t n;
	pid_t pid;
	int r, status;

	if (is_running_state(c->state) || !strcmp(c->state, "restarting"))
		return cove_error_set(
		    err, EBUSY, "container %s is already running", c->name);
	/* the namespaces it joins (--pid container:X): X's, now */
	r = cove_engine_ctrns_prepare_start(e, c, err);
	if (r < 0)
		return r;
	c->stop_requested = false;
	c->exit_code = -1;
	r = set_state(e, c, "created", COVE_CTR_STOP_REQUEST, err);
	if (r < 0)
		return r;
	if (!o->detach) {
		r = cove_monitor_run(e, c, true, -1, err);
		if (r < 0)
			return r;
		if (ret_exit)
			*ret_exit = r;
		return 0;
	}

	if (pipe2(fds, O_CLOEXEC) < 0)
		return cove_error_setx(err, errno, "pipe");
	cove_engine_before_fork(e);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return cove_error_setx(err, errno, "fork");
	}
	if (pid == 0) {
		/* the monitor: a grandchild in a session of its own */
		int devnull;
		struct cove_error merr = {0};
		close(fds[0]);
		if (setsid() < 0 || fork() != 0)
			_exit(0);
		devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		if (chdir("/") < 0)
			_exit(1);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		r = cove_monitor_run(e, c, false, fds[1], &merr);
		_exit(r < 0 ? 125 : 0);
	}
	close(fds[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	n = cove_read_all(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	if (n <= 0)
		return cove_error_set(err, EIO,
				      "the monitor of container %s died "
				      "before the container started",
				      c->name);
	buf[n] = '\0';
	if (buf[0] != '0') {
		int code = 0;
		char *msg = strchr(buf, ' ');
		if (msg)
			*msg++ = '\0';
		if (cove_parse_int(buf, &code) < 0 || code <= 0)
			code = EIO;
		if (msg)
			msg[strcspn(msg, "\n")] = '\0';
		return cove_error_set(err, code, "%s", msg ? msg : "failed");
	}
	return 0;
}

void cove_engine_prewarm(struct cove_engine *e, const json_t *config)
{
	const char *parent = json_string_value(json_object_get(
	    json_object_get(config, "HostConfig"), "CgroupParent"));
	enum cove_cgroup_mode mode;
	char dir[4096];
	pid_t pid;

	if (!parent || !*parent)
		parent = "/cove";
	if (e->rootless || cove_cgroup_detect(NULL, &mode) < 0 ||
	    (mode != COVE_CGROUP_V1 && mode != COVE_CGROUP_HYBRID) ||
	    access("/sys/fs/cgroup/pids/cgroup.procs", W_OK) < 0)
		return;
	snprintf(dir, sizeof(dir), "/sys/fs/cgroup/pids%s", parent);
	/*
	 * A standing parent, as podman's /libpod_parent: made once, in every
	 * hierarchy, so that the runtime takes it for pre-existing and keeps
	 * it (making it in one hierarchy only would leave it behind in the
	 * others).
	 */
	if (access(dir, F_OK) < 0) {
		struct cove_cgroup *cg = NULL;
		if (cove_cgroup_path_check(parent, "--cgroup-parent", NULL) <
			0 ||
		    cove_cgroup_create(NULL, mode, parent, 0, NULL, 0, &cg,
				       NULL) < 0)
			return;
		cove_cgroup_free(cg);
	}
	pid = fork();
	if (pid != 0)
		return; /* reaped with the caller's other children */
	/* the child: one move into the container's parent cgroup, and out */
	{
		char procs[4200];
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
		(void)cove_write_file(procs, "0", 1);
	}
	_exit(0);
}

int cove_engine_start_error_code(const struct cove_error *err)
{
	/* the shell's and podman's: 127 not found, 126 cannot be run */
	if (err->code == ENOENT &&
	    (strstr(err->msg, "not found") || strstr(err->msg, "cannot exec")))
		return 127;
	if ((err->code == EACCES || err->code == ENOEXEC) &&
	    strstr(err->msg, "exec"))
		return 126;
	return 125;
}

int cove_engine_kill(struct cove_engine *e, struct cove_ctr *c, int sig,
		     struct cove_error *err)
{
	int r;

	/* a signal to frozen processes waits for the thaw: docker refuses */
	if (!strcmp(c->state, "paused"))
		return cove_error_set(err, EBUSY,
				      "container %s is paused: unpause it "
				      "before killing it",
				      c->name);
	if (!is_running_state(c->state))
		return cove_error_set(err, EINVAL,
				      "container %s is not running", c->name);
	r = cove_container_kill(e->runtime_root, c->id, sig, false, err);
	if (r >= 0)
		cove_events_ctr_kill(c, sig);
	return r;
}

/* Until the monitor has recorded the exit (or is gone). */
static void wait_recorded(struct cove_engine *e, struct cove_ctr *c)
{
	struct cove_error err = {0};
	sqlite3 *db;

	if (c->monitor_pid > 0)
		wait_gone(c->monitor_pid, 0, 100);
	for (int i = 0; i < 600; i++) {
		struct cove_ctr fresh = {0};
		if (cove_engine_db(e, &db, &err) < 0 ||
		    cove_ctr_lookup(db, c->id, &fresh, &err) < 0)
			return;
		if (!is_running_state(fresh.state) &&
		    strcmp(fresh.state, "restarting")) {
			cove_ctr_release(c);
			*c = fresh;
			return;
		}
		if (fresh.monitor_pid <= 0 || !pid_running(fresh.monitor_pid)) {
			cove_ctr_release(&fresh);
			break;
		}
		cove_ctr_release(&fresh);
		usleep(10000);
	}
	(void)cove_engine_refresh(e, c, &err);
}

int cove_engine_stop(struct cove_engine *e, struct cove_ctr *c, int timeout,
		     struct cove_error *err)
{
	const char *sig_name =
	    json_string_value(json_object_get(c->config, "StopSignal"));
	int sig = sig_name ? cove_signal_parse(sig_name) : SIGTERM;
	sqlite3 *db;
	int r;

	if (sig <= 0)
		sig = SIGTERM;
	if (timeout < 0) {
		json_t *t = json_object_get(c->config, "StopTimeout");
		timeout = json_is_integer(t) ? (int)json_integer_value(t) : 10;
	}
	c->stop_requested = true;
	r = cove_engine_db(e, &db, err);
	if (r < 0)
		return r;
	r = cove_ctr_update(db, c, COVE_CTR_STOP_REQUEST, err);
	if (r < 0)
		return r;
	if (!is_running_state(c->state)) {
		if (!strcmp(c->state, "restarting"))
			wait_recorded(e, c);
		return 0;
	}
	if (!strcmp(c->state, "paused"))
		(void)cove_container_pause(e->runtime_root, c->id, false, NULL);
	if (timeout > 0 &&
	    cove_container_kill(e->runtime_root, c->id, sig, false, NULL) >=
		0 &&
	    wait_gone(c->pid, c->pid_start, timeout * 1000)) {
		wait_recorded(e, c);
		cove_events_ctr(c, "stop", NULL, NULL);
		return 0;
	}
	/* the timeout passed: SIGKILL, to every process of the container */
	if (cove_container_kill(e->runtime_root, c->id, SIGKILL, true, NULL) <
	    0)
		(void)cove_container_kill(e->runtime_root, c->id, SIGKILL,
					  false, NULL);
	wait_gone(c->pid, c->pid_start, 10000);
	wait_recorded(e, c);
	cove_events_ctr(c, "stop", NULL, NULL);
	return 0;
}

int cove_engine_wait(struct cove_engine *e, struct cove_ctr *c, int *ret_exit,
		     struct cove_error *err)
{
	for (;;) {
		struct cove_ctr fresh = {0};
		sqlite3 *db;
		int r;

		if (is_running_state(c->state) && c->monitor_pid > 0)
			wait_gone(c->monitor_pid, 0, 1000);
		else if (!strcmp(c->state, "restarting"))
			usleep(50000);
		r = cove_engine_db(e, &db, err);
		if (r < 0)
			return r;
		r = cove_ctr_lookup(db, c->id, &fresh, err);
		if (r < 0)
			return r;
		r = cove_engine_refresh(e, &fresh, err);
		cove_ctr_release(c);
		*c = fresh;
		if (r < 0)
			return r;
		if (!is_running_state(c->state) &&
		    strcmp(c->state, "restarting")) {
			*ret_exit = c->exit_code < 0 ? 0 : c->exit_code;
			return 0;
		}
	}
}

int cove_engine_remove(struct cove_engine *e, struct cove_ctr *c, bool force,
		       bool volumes, struct cove_error *err)
{
	_cleanup_free_ char *dir = NULL, *vdir = NULL;
	struct cove_error ignore = {0};
	const json_t *anon;
	sqlite3 *db;
	size_t i;
	json_t *v;
	int r;

	/* containers joining its namespaces go first (--pid container:) */
	r = cove_engine_ctrns_check_dependents(e, c, err);
	if (r < 0)
		return r;
	if (is_running_state(c->state) || !strcmp(c->state, "restarting")) {
		if (!force)
			return cove_error_set(
			    err, EBUSY,
			    "cannot remove container %s: it is %s; stop it "
			    "first or use --force",
			    c->name, c->state);
		r = cove_engine_stop(e, c, 0, err);
		if (r < 0)
			return r;
	}
	cove_engine_release_runtime(e, c);
	cove_engine_net_teardown(e, c);
	r = cove_engine_images(e, err);
	if (r < 0)
		return r;
	r = cove_snapshot_remove_container(e->snap, c->id, err);
	if (r < 0 && r != -ENOENT)
		return r;
	dir = cove_engine_ctr_dir(e, c->id);
	if (!dir)
		return -ENOMEM;
	r = cove_rm_rf(dir);
	if (r < 0 && r != -ENOENT)
		return cove_error_setx(err, r, "cannot remove %s", dir);
	r = cove_engine_db(e, &db, err);
	if (r < 0)
		return r;
	r = cove_ctr_delete(db, c->id, err);
	if (r < 0)
		return r;
	cove_events_ctr(c, "remove", NULL, NULL);
	if (!volumes)
		return 0;
	/* anonymous volumes die with their container (rm -v, --rm) */
	vdir = cove_strdup_printf("%s/volumes", e->root);
	if (!vdir)
		return -ENOMEM;
	anon = json_object_get(json_object_get(c->config, "HostConfig"),
			       "AnonVolumes");
	json_array_foreach(anon, i, v)
	{
		(void)cove_volume_remove(
		    db, vdir, json_string_value(v), COVE_VOLUME_REMOVE_FORCE,
		    cove_engine_volume_in_use, e, NULL, &ignore);
	}
	return 0;
}
