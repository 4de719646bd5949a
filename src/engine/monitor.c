/*
 * The monitor: what conmon is to podman, inside cove.  One process per
 * running container (the `cove` process itself for an attached run) that
 *   - creates and starts the container through the runtime layer, in
 *     process, so the init is its child and its exit status is ours;
 *   - holds the container's stdout and stderr (pipes, or a pty with -t)
 *     and writes them to the log file (and, attached, to its own stdio);
 *   - records the state, exit code and OOM kill in the engine database;
 *   - applies the restart policy, and removes the container at the end
 *     when it was run with --rm.
 * It blocks the signals it handles and reads them from a signalfd: the
 * runtime resets the mask before the container's execve.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "engine/attach.h"
#include "engine/engine-internal.h"
#include "engine/events.h"
#include "engine/logfile.h"
#include "engine/netopts.h"
#include "runtime/cgroup.h"
#include "runtime/container.h"
#include "runtime/state.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/signals.h"
#include "util/strutil.h"

struct monitor {
	struct cove_engine *e;
	struct cove_ctr *c;
	char *dir;
	bool attached;
	bool tty;
	bool stdin_open;
	/* --log-driver passthrough: the container has our own stdio */
	bool passthrough;
	int notify_fd;
	struct cove_logfile *log;
	char *log_path;
	uint64_t log_max_size;
	unsigned log_max_files;
	unsigned delay_ms; /* the next restart's back-off */
	int sfd;	   /* signalfd of handled_signals */
	sigset_t old_mask;
	/* `cove attach` clients (detached containers only) */
	int listen_fd;
	struct cove_attach_clients clients;
};

static int64_t hint(const struct cove_ctr *c, const char *obj, const char *key)
{
	const json_t *h = json_object_get(c->config, "HostConfig");
	if (obj)
		h = json_object_get(h, obj);
	return json_integer_value(json_object_get(h, key));
}

static void notify(struct monitor *m, int r, const struct cove_error *err)
{
	char buf[COVE_ERROR_MSG_MAX + 16];
	int n;

	if (m->notify_fd < 0)
		return;
	if (r >= 0)
		n = snprintf(buf, sizeof(buf), "0\n");
	else
		n = snprintf(buf, sizeof(buf), "%d %s\n", -r,
			     err->msg[0] ? err->msg : strerror(-r));
	(void)cove_write_all(m->notify_fd, buf, (size_t)n);
	close(m->notify_fd);
	m->notify_fd = -1;
}

static int db_update(struct monitor *m, unsigned fields)
{
	struct cove_error err = {0};
	sqlite3 *db;
	int r = cove_engine_db(m->e, &db, &err);
	if (r < 0)
		return r;
	return cove_ctr_update(db, m->c, fields, &err);
}

/* Read the row again: `cove stop` may have asked for no restart. */
static void db_reload(struct monitor *m)
{
	struct cove_error err = {0};
	struct cove_ctr fresh = {0};
	sqlite3 *db;

	if (cove_engine_db(m->e, &db, &err) < 0 ||
	    cove_ctr_lookup(db, m->c->id, &fresh, &err) < 0)
		return;
	m->c->stop_requested = fresh.stop_requested;
	cove_ctr_release(&fresh);
}

static uint64_t oom_count(struct monitor *m)
{
	struct cove_state *s = NULL;
	struct cove_cgroup *cg = NULL;
	uint64_t n = 0;

	if (cove_state_load(m->e->runtime_root, m->c->id, &s, NULL) < 0)
		return 0;
	if (s->cgroup_path &&
	    cove_cgroup_open(NULL, s->cgroup_mode, s->cgroup_path, &cg, NULL) >=
		0) {
		(void)cove_cgroup_oom_count(cg, &n);
		cove_cgroup_free(cg);
	}
	cove_state_free(s);
	return n;
}

void cove_engine_release_runtime(struct cove_engine *e, struct cove_ctr *c)
{
	struct cove_error err = {0};

	(void)cove_container_delete(e->runtime_root, c->id, true, &err);
	if (e->snap || cove_engine_images(e, &err) >= 0)
		(void)cove_snapshot_unmount(e->snap, c->id, &err);
}

static int mount_rootfs(struct monitor *m, struct cove_error *err)
{
	_cleanup_free_ char *path = NULL;

	return cove_engine_mount_rootfs(m->e, m->c, &path, err);
}

/* Copy what a pipe or pty has to the log (and our own stdout/stderr). */
static int pump(struct monitor *m, int fd, enum cove_log_stream stream,
		int out_fd)
{
	char buf[32768];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0; /* EOF, or EIO from a pty whose slave is gone */
	if (m->log)
		(void)cove_logfile_write(m->log, stream, buf, (size_t)n);
	if (out_fd >= 0)
		(void)cove_write_all(out_fd, buf, (size_t)n);
	cove_attach_broadcast(&m->clients, stream == COVE_LOG_STDERR ? 2 : 1,
			      buf, (size_t)n);
	return 1;
}

struct run {
	pid_t pid;
	int out, errp; /* read ends (or the pty master in out) */
	int in;	       /* write end of the container's stdin, or -1 */
};

static void run_close(struct run *run)
{
	if (run->out >= 0)
		close(run->out);
	if (run->errp >= 0)
		close(run->errp);
	if (run->in >= 0)
		close(run->in);
	run->out = run->errp = run->in = -1;
}

/*
 * Create the container with our stdio replaced by its pipes: the init is
 * cloned from this process and keeps fds 0-2 (the runtime closes the rest).
 */
static int create(struct monitor *m, struct run *run, struct cove_error *err)
{
	_cleanup_free_ char *bundle = NULL, *seccomp_cache = NULL;
	int saved[3] = {-1, -1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1},
	    in[2] = {-1, -1}, devnull = -1;
	struct cove_create_opts o = {0};
	int r;

	bundle = strdup(m->dir);
	if (!bundle)
		return -ENOMEM;
	o.root = m->e->runtime_root;
	o.id = m->c->id;
	o.bundle = bundle;
	o.foreground = true;
	o.cgroup_manager = m->e->rootless ? COVE_CGROUP_MANAGER_DISABLED
					  : COVE_CGROUP_MANAGER_CGROUPFS;
	/* compiled seccomp programs; NULL (no memory) only means no cache */
	seccomp_cache = cove_strdup_printf("%s/seccomp-cache", m->e->root);
	o.seccomp_cache_dir = seccomp_cache;

	if (m->passthrough) {
		/* no pipes, no log: fds 0-2 are the container's as they are */
		run->out = run->errp = run->in = -1;
		return cove_container_create(&o, &run->pid, NULL, err);
	}
	if (m->tty) {
		/* the runtime makes the pty and hands us the master */
		if (!m->stdin_open || !m->attached) {
			devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
			saved[0] = fcntl(0, F_DUPFD_CLOEXEC, 3);
			dup2(devnull, 0);
		}
		r = cove_container_create(&o, &run->pid, &run->out, err);
		if (saved[0] >= 0) {
			dup2(saved[0], 0);
			close(saved[0]);
		}
		if (devnull >= 0)
			close(devnull);
		run->errp = -1;
		run->in = -1;
		return r;
	}
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    (m->stdin_open && pipe2(in, O_CLOEXEC) < 0)) {
		r = cove_error_setx(err, errno, "pipe");
		goto out;
	}
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < 3; i++)
		saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
	dup2(m->stdin_open ? in[0] : devnull, 0);
	dup2(out[1], 1);
	dup2(errp[1], 2);
	r = cove_container_create(&o, &run->pid, NULL, err);
	for (int i = 0; i < 3; i++)
		if (saved[i] >= 0) {
			dup2(saved[i], i);
			close(saved[i]);
		} else {
			close(i);
		}
	if (r < 0)
		goto out;
	run->out = out[0];
	run->errp = errp[0];
	run->in = m->stdin_open ? in[1] : -1;
	out[0] = errp[0] = in[1] = -1;
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (in[i] >= 0)
			close(in[i]);
	}
	if (devnull >= 0)
		close(devnull);
	return r;
}

/*
 * One health check, in a child of the monitor so that a slow check never
 * holds up the container's output; the child records the result itself.
 */
static void run_health_check(struct monitor *m)
{
	pid_t pid;

	cove_engine_before_fork(m->e);
	pid = fork();
	if (pid == 0) {
		struct cove_error err = {0};
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		struct cove_ctr fresh = {0};
		sqlite3 *db;
		/* the row as it is now: earlier checks wrote their results */
		if (cove_engine_db(m->e, &db, &err) >= 0 &&
		    cove_ctr_lookup(db, m->c->id, &fresh, &err) >= 0)
			(void)cove_engine_healthcheck(m->e, &fresh, NULL, &err);
		_exit(0);
	}
	/* reaped with the other children on SIGCHLD */
}

/*
 * Start the container once: rootfs, network, create (the init becomes our
 * child, with the pipes of @run as its stdio), row updated, start.
 */
static int start_once(struct monitor *m, struct run *run,
		      struct cove_error *err)
{
	int r = mount_rootfs(m, err);

	if (r < 0)
		return r;
	r = cove_engine_net_setup(m->e, m->c, err);
	if (r < 0)
		goto fail;
	r = create(m, run, err);
	if (r < 0)
		goto fail;
	cove_events_ctr(m->c, "init", NULL, NULL);
	m->c->pid = run->pid;
	m->c->pid_start = cove_proc_start_time(run->pid);
	m->c->monitor_pid = getpid();
	m->c->started_at = cove_now_ns();
	free(m->c->state);
	m->c->state = strdup("running");
	r = db_update(m, COVE_CTR_STATE | COVE_CTR_PID | COVE_CTR_MONITOR |
			     COVE_CTR_STARTED);
	if (r >= 0)
		r = cove_container_start(m->e->runtime_root, m->c->id, err);
	if (r < 0) {
		kill(run->pid, SIGKILL);
		waitpid(run->pid, NULL, 0);
		run_close(run);
		goto fail;
	}
	cove_events_ctr(m->c, "start", NULL, NULL);
	if (m->attached)
		cove_events_ctr(m->c, "attach", NULL, NULL);
	notify(m, 0, NULL);
	return 0;
fail:
	cove_engine_release_runtime(m->e, m->c);
	cove_engine_net_teardown(m->e, m->c);
	return r;
}

/* Copy the container's output until the init is gone; its wait status. */
static int watch(struct monitor *m, struct run *run)
{
	struct termios saved_tio;
	int64_t health_ns, next_check;
	bool exited = false, raw = false, stdin_done;
	int status = 0;

	if (m->attached && m->tty && isatty(0) &&
	    tcgetattr(0, &saved_tio) == 0) {
		struct termios t = saved_tio;
		cfmakeraw(&t);
		raw = tcsetattr(0, TCSANOW, &t) == 0;
	}
	stdin_done = !m->attached || (!m->tty && run->in < 0) ||
		     (m->tty && !m->stdin_open);
	health_ns = cove_engine_health_interval(m->c);
	next_check = health_ns ? cove_now_ns() + health_ns : 0;
	while (!exited || run->out >= 0 || run->errp >= 0) {
		struct pollfd p[5 + COVE_ATTACH_MAX_CLIENTS] = {
		    {.fd = m->sfd, .events = POLLIN},
		    {.fd = run->out, .events = POLLIN},
		    {.fd = run->errp, .events = POLLIN},
		    {.fd = stdin_done ? -1 : 0, .events = POLLIN},
		    {.fd = exited ? -1 : m->listen_fd, .events = POLLIN},
		};
		size_t nc = m->clients.n;
		int timeout = exited ? 200 : -1;
		int n;

		for (size_t i = 0; i < nc; i++) {
			p[5 + i].fd = cove_attach_input_fd(&m->clients, i);
			p[5 + i].events = POLLIN;
		}
		if (!exited && next_check) {
			int64_t left = (next_check - cove_now_ns()) / 1000000;
			timeout = left > 0 ? (int)left : 0;
		}
		n = poll(p, (nfds_t)(5 + nc), timeout);
		if (n < 0 && errno != EINTR)
			break;
		if (n == 0 && exited)
			break; /* a daemonized process kept the pipe open */
		if (!exited && next_check && cove_now_ns() >= next_check) {
			run_health_check(m);
			next_check = cove_now_ns() + health_ns;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(m->sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					continue;
				if (si.ssi_signo == SIGWINCH && m->tty) {
					struct winsize ws;
					if (ioctl(0, TIOCGWINSZ, &ws) == 0)
						ioctl(run->out, TIOCSWINSZ,
						      &ws);
					continue;
				}
				kill(run->pid, (int)si.ssi_signo);
			}
			for (;;) {
				int st;
				pid_t w = waitpid(-1, &st, WNOHANG);
				if (w <= 0)
					break;
				if (w == run->pid) {
					status = st;
					exited = true;
				}
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (!pump(m, run->out, COVE_LOG_STDOUT,
				  m->attached ? 1 : -1)) {
				close(run->out);
				run->out = -1;
			}
		}
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (!pump(m, run->errp, COVE_LOG_STDERR,
				  m->attached ? 2 : -1)) {
				close(run->errp);
				run->errp = -1;
			}
		}
		if (p[3].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[4096];
			ssize_t k = read(0, buf, sizeof(buf));
			int to = m->tty ? run->out : run->in;
			if (k <= 0) {
				stdin_done = true;
				if (run->in >= 0) {
					close(run->in);
					run->in = -1;
				}
			} else if (to >= 0) {
				(void)cove_write_all(to, buf, (size_t)k);
			}
		}
		/* attach clients: their input goes to the container's stdin */
		for (size_t i = nc; i-- > 0;)
			if (p[5 + i].revents & (POLLIN | POLLHUP | POLLERR))
				cove_attach_input(&m->clients, i,
						  m->tty ? run->out : run->in);
		if (p[4].revents & POLLIN)
			cove_attach_accept(&m->clients, m->listen_fd);
	}
	if (raw)
		tcsetattr(0, TCSANOW, &saved_tio);
	run_close(run);
	if (!exited)
		waitpid(run->pid, &status, 0);
	return status;
}

/*
 * The container's name as the row has it now: `cove rename` may have
 * changed it while the monitor held the copy read at the start.
 */
static void refresh_name(struct monitor *m)
{
	struct cove_error err = {0};
	struct cove_ctr now = {0};
	sqlite3 *db;

	if (cove_engine_db(m->e, &db, &err) < 0 ||
	    cove_ctr_lookup(db, m->c->id, &now, &err) < 0)
		return;
	if (now.name && strcmp(now.name, m->c->name)) {
		free(m->c->name);
		m->c->name = now.name;
		now.name = NULL;
	}
	cove_ctr_release(&now);
}

/* After the init's exit: record it and clean up; the exit code. */
static int finish_once(struct monitor *m, int status)
{
	int code = cove_exit_code(status);

	refresh_name(m);
	cove_events_ctr_died(m->c, code);
	/* each start makes the container's cgroup anew: any kill is this run's
	 */
	m->c->oom_killed = oom_count(m) > 0;
	cove_engine_release_runtime(m->e, m->c);
	cove_engine_net_teardown(m->e, m->c);
	cove_events_ctr(m->c, "cleanup", NULL, NULL);
	m->c->exit_code = code;
	m->c->finished_at = cove_now_ns();
	m->c->pid = 0;
	m->c->pid_start = 0;
	free(m->c->state);
	m->c->state = strdup("exited");
	/* --rm (never with a restart policy): the row goes next anyway */
	if (!json_is_true(json_object_get(
		json_object_get(m->c->config, "HostConfig"), "AutoRemove")))
		(void)db_update(m,
				COVE_CTR_STATE | COVE_CTR_PID | COVE_CTR_EXIT);
	return code;
}

/*
 * Detached: become cove-monitor (src/cli/monitor/) while the container
 * runs.  Returns only when that cannot be done; the caller then watches the
 * container itself.
 */
static void exec_small_monitor(struct monitor *m, struct run *run)
{
	const char *small = cove_engine_helper_path("cove-monitor");
	char exe[4096], a[9][32], health_ns[32];
	char *argv[40];
	int fds[4] = {run->out, run->errp, run->in, m->listen_fd};
	ssize_t n;
	size_t k = 0;

	if (!small || getenv("COVE_NO_SMALL_MONITOR"))
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	snprintf(a[0], sizeof(a[0]), "%d", run->pid);
	snprintf(a[1], sizeof(a[1]), "%d", run->out);
	snprintf(a[2], sizeof(a[2]), "%d", run->errp);
	snprintf(a[3], sizeof(a[3]), "%d", run->in);
	snprintf(a[4], sizeof(a[4]), "%d", m->tty ? 1 : 0);
	snprintf(a[5], sizeof(a[5]), "%d", m->listen_fd);
	snprintf(a[6], sizeof(a[6]), "%llu",
		 (unsigned long long)m->log_max_size);
	snprintf(a[7], sizeof(a[7]), "%u", m->log_max_files);
	snprintf(health_ns, sizeof(health_ns), "%lld",
		 (long long)cove_engine_health_interval(m->c));
	snprintf(a[8], sizeof(a[8]), "%u", m->delay_ms);

	argv[k++] = (char *)small;
	for (int i = 0; i < 6; i++)
		argv[k++] = a[i];
	argv[k++] = m->log_path;
	argv[k++] = a[6];
	argv[k++] = a[7];
	argv[k++] = health_ns;
	argv[k++] = (char *)"--";
	/* RESUME_ARGV: cove __monitor-resume ID DELAY STATUS */
	argv[k++] = exe;
	argv[k++] = (char *)"--root";
	argv[k++] = m->e->root;
	argv[k++] = (char *)"--runroot";
	argv[k++] = m->e->runroot;
	argv[k++] = (char *)"--storage-driver";
	argv[k++] = (char *)m->e->storage_driver;
	argv[k++] = (char *)"__monitor-resume";
	argv[k++] = m->c->id;
	argv[k++] = a[8];
	argv[k++] = (char *)"STATUS";
	argv[k++] = (char *)"--";
	/* HEALTH_ARGV */
	argv[k++] = exe;
	argv[k++] = (char *)"--root";
	argv[k++] = m->e->root;
	argv[k++] = (char *)"--runroot";
	argv[k++] = m->e->runroot;
	argv[k++] = (char *)"--storage-driver";
	argv[k++] = (char *)m->e->storage_driver;
	argv[k++] = (char *)"healthcheck";
	argv[k++] = (char *)"run";
	argv[k++] = m->c->id;
	argv[k] = NULL;

	/* what the small monitor takes over must survive the exec */
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			fcntl(fds[i], F_SETFD, 0);
	cove_logfile_close(m->log);
	m->log = NULL;
	cove_engine_before_fork(m->e);
	execv(small, argv);
	/* could not: carry on here */
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			fcntl(fds[i], F_SETFD, FD_CLOEXEC);
	if (*m->log_path)
		(void)cove_logfile_open(m->log_path, m->log_max_size,
					m->log_max_files, &m->log, NULL);
}

static bool should_restart(struct monitor *m, int code)
{
	const json_t *rp = json_object_get(
	    json_object_get(m->c->config, "HostConfig"), "RestartPolicy");
	const char *policy = json_string_value(json_object_get(rp, "Name"));
	int64_t max = hint(m->c, "RestartPolicy", "MaximumRetryCount");

	db_reload(m);
	if (m->c->stop_requested || !policy)
		return false;
	if (!strcmp(policy, "always") || !strcmp(policy, "unless-stopped"))
		return true;
	if (!strcmp(policy, "on-failure"))
		return code != 0 && (max <= 0 || m->c->restart_count < max);
	return false;
}

static const int handled_signals[] = {SIGCHLD, SIGINT,	SIGTERM, SIGHUP,
				      SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

static int monitor_init(struct monitor *m, struct cove_engine *e,
			struct cove_ctr *c, bool attached, int notify_fd,
			struct cove_error *err)
{
	const json_t *lc = json_object_get(
	    json_object_get(c->config, "HostConfig"), "LogConfig");
	const char *driver;
	sigset_t mask;
	int r;

	*m = (struct monitor){.e = e,
			      .c = c,
			      .attached = attached,
			      .notify_fd = notify_fd,
			      .listen_fd = -1,
			      .sfd = -1,
			      .delay_ms = 100};
	m->tty = json_is_true(json_object_get(c->config, "Tty"));
	m->stdin_open = json_is_true(json_object_get(c->config, "OpenStdin"));
	m->log_max_size =
	    (uint64_t)json_integer_value(json_object_get(lc, "MaxSize"));
	m->log_max_files =
	    (unsigned)json_integer_value(json_object_get(lc, "MaxFile"));
	m->dir = cove_engine_ctr_dir(e, c->id);
	driver = cove_netopts_log_driver(c->config);
	m->passthrough = !strcmp(driver, COVE_LOG_DRIVER_PASSTHROUGH);
	if (m->passthrough && !attached)
		return cove_error_set(err, EINVAL,
				      "container %s uses the 'passthrough' log "
				      "driver: it can only be started in the "
				      "foreground (cove start -a)",
				      c->name);
	/*
	 * --log-driver none or passthrough: no log file.  The path is empty,
	 * which cove-monitor fails to open, and so writes no log either.
	 */
	if (strcmp(driver, COVE_LOG_DRIVER_JSON))
		m->log_path = strdup("");
	else
		m->log_path =
		    cove_strdup_printf("%s/ctr.log", m->dir ? m->dir : "");
	if (!m->dir || !m->log_path)
		return -ENOMEM;
	if (*m->log_path) {
		r = cove_logfile_open(m->log_path, m->log_max_size,
				      m->log_max_files, &m->log, err);
		if (r < 0)
			return r;
	}
	if (!attached)
		(void)cove_attach_listen(e->runroot, c->id, &m->listen_fd,
					 NULL);
	sigemptyset(&mask);
	for (size_t i = 0; i < ARRAY_SIZE(handled_signals); i++)
		sigaddset(&mask, handled_signals[i]);
	sigprocmask(SIG_BLOCK, &mask, &m->old_mask);
	m->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	/* grandchildren of a two-stage create are reparented to us */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	return 0;
}

static void monitor_release(struct monitor *m)
{
	cove_logfile_close(m->log);
	cove_attach_close_all(&m->clients);
	if (m->listen_fd >= 0) {
		close(m->listen_fd);
		cove_attach_unlink(m->e->runroot, m->c->id);
	}
	if (m->sfd >= 0)
		close(m->sfd);
	sigprocmask(SIG_SETMASK, &m->old_mask, NULL);
	free(m->dir);
	free(m->log_path);
}

/*
 * The restart loop.  @resumed: the container has run and exited with
 * @status under cove-monitor; record that first.
 */
static int supervise(struct monitor *m, bool resumed, int status,
		     struct cove_error *err)
{
	bool first = !resumed, have_code = resumed;
	int code = resumed ? finish_once(m, status) : 0, r = 0;

	for (;;) {
		if (!have_code) {
			struct run run = {
			    .pid = 0, .out = -1, .errp = -1, .in = -1};
			r = start_once(m, &run, err);
			if (r < 0 && first) {
				notify(m, r, err);
				free(m->c->state);
				m->c->state = strdup("exited");
				m->c->exit_code =
				    cove_engine_start_error_code(err);
				m->c->finished_at = cove_now_ns();
				(void)db_update(m,
						COVE_CTR_STATE | COVE_CTR_EXIT);
				break;
			}
			if (r < 0) {
				code =
				    125; /* a failed restart is a failed run */
			} else {
				if (!m->attached)
					exec_small_monitor(m, &run);
				code = finish_once(m, watch(m, &run));
			}
		}
		have_code = false;
		first = false;
		if (!should_restart(m, code))
			break;
		free(m->c->state);
		m->c->state = strdup("restarting");
		(void)db_update(m, COVE_CTR_STATE);
		usleep(m->delay_ms * 1000);
		if (m->delay_ms < 10000)
			m->delay_ms *= 2;
		db_reload(m);
		if (m->c->stop_requested) {
			free(m->c->state);
			m->c->state = strdup("exited");
			(void)db_update(m, COVE_CTR_STATE);
			break;
		}
		m->c->restart_count++;
	}
	monitor_release(m);
	if (r >= 0 &&
	    json_is_true(json_object_get(
		json_object_get(m->c->config, "HostConfig"), "AutoRemove"))) {
		struct cove_error rerr = {0};
		(void)cove_engine_remove(m->e, m->c, true, true, &rerr);
	}
	return r < 0 ? r : code;
}

int cove_monitor_run(struct cove_engine *e, struct cove_ctr *c, bool attached,
		     int notify_fd, struct cove_error *err)
{
	struct monitor m;
	int r = monitor_init(&m, e, c, attached, notify_fd, err);

	if (r < 0) {
		notify(&m, r, err);
		monitor_release(&m);
		return r;
	}
	return supervise(&m, false, 0, err);
}

int cove_monitor_resume(struct cove_engine *e, struct cove_ctr *c, int status,
			unsigned delay_ms, struct cove_error *err)
{
	struct monitor m;
	int r = monitor_init(&m, e, c, false, -1, err);

	if (r < 0) {
		monitor_release(&m);
		return r;
	}
	m.delay_ms = delay_ms ? delay_ms : 100;
	return supervise(&m, true, status, err);
}
