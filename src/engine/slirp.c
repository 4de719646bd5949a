/*
 * slirp4netns for a container's network namespace (slirp.h): the child
 * process, its API (add_hostfwd), and the engine's setup and teardown.
 */
#include "engine/slirp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine-internal.h"
#include "engine/netns.h"
#include "engine/runspec.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

extern char **environ;

#define API_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000
#define LOG_TAIL 400
/* The descriptors slirp4netns gets: --exit-fd, --ready-fd, the socket's
 * directory for long paths. */
#define CHILD_EXIT_FD 3
#define CHILD_READY_FD 4
#define CHILD_DIR_FD 5

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first "slirp4netns" of $PATH (or of the usual directories). */
static char *find_exe(const char *name)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = NULL;
	char *save = NULL;

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	copy = strdup(path);
	if (!copy)
		return NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *p = NULL;
		if (*dir != '/')
			continue;
		p = cove_strdup_printf("%s/%s", dir, name);
		if (p && access(p, X_OK) == 0)
			return TAKE_PTR(p);
	}
	return NULL;
}

/* Move @fd to a number >= 10, so that the child's dup2() to 3..5 never
 * overwrites another source. */
static int move_high(int *fd)
{
	int nfd;

	if (*fd >= 10)
		return 0;
	nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 10);
	if (nfd < 0)
		return -errno;
	close(*fd);
	*fd = nfd;
	return 0;
}

/*
 * A path for sockaddr_un: @path itself when it fits, otherwise
 * /proc/self/fd/<fd>/<basename> with @dfd open on its directory (the
 * kernel follows the magic link, for bind() and connect() alike).
 */
static int sun_path_of(const char *path, int fd_number, char *buf, size_t size,
		       int *ret_dirfd)
{
	_cleanup_free_ char *dir = NULL;
	const char *slash = strrchr(path, '/');
	int dfd, n;

	*ret_dirfd = -1;
	if (strlen(path) < size) {
		snprintf(buf, size, "%s", path);
		return 0;
	}
	if (!slash)
		return -ENAMETOOLONG;
	dir =
	    slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
	if (!dir)
		return -ENOMEM;
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	n = snprintf(buf, size, "/proc/self/fd/%d/%s",
		     fd_number >= 0 ? fd_number : dfd, slash + 1);
	if (n < 0 || (size_t)n >= size) {
		close(dfd);
		return -ENAMETOOLONG;
	}
	*ret_dirfd = dfd;
	return 0;
}

/* The end of slirp4netns's output, on one line, for an error message. */
static char *log_tail(const char *log_path)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	char *s;

	if (!log_path || cove_read_file(log_path, 1 << 20, &buf, &len) < 0 ||
	    !buf)
		return strdup("");
	s = buf;
	if (len > LOG_TAIL) {
		s = buf + len - LOG_TAIL;
		s += strcspn(s, "\n");
	}
	s += strspn(s, "\n ");
	for (char *p = s; *p; p++)
		if (*p == '\n')
			*p = p[1] ? ';' : '\0';
	return strdup(s);
}

/*
 * slirp4netns's --enable-sandbox unshares a mount namespace, makes "/"
 * (only) private and /etc and /run (only if they are mount points) slaves,
 * pivots and lazily unmounts the old root.  Where a mount below it is
 * still shared with the caller's namespace (/run/netns, shared by
 * iproute2, on a host whose /run is no mount point), that unmount
 * propagates back and unpins every namespace there.  So the child first
 * moves into a mount namespace of its own whose mounts are all slaves:
 * nothing done below it reaches the caller's.  If that fails, no sandbox.
 */
static bool isolate_mounts(void)
{
	return unshare(CLONE_NEWNS) == 0 &&
	       mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) == 0;
}

/* Only system calls between fork() and execve(): async-signal-safe. */
static _Noreturn void child(const char *exe, char *const argv[],
			    char *const argv_plain[], int devnull, int logfd,
			    int exit_r, int ready_w, int dfd, pid_t parent)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;
	int last = CHILD_READY_FD;

	/* die with the monitor, whatever kills it */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	sigemptyset(&none);
	for (int sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &dfl, NULL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* no terminal signals: ^C of an attached run is for the container */
	(void)setsid();
	if (argv != argv_plain && !isolate_mounts())
		argv = argv_plain;
	if (dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 ||
	    dup2(exit_r, CHILD_EXIT_FD) < 0 ||
	    dup2(ready_w, CHILD_READY_FD) < 0)
		_exit(127);
	if (dfd >= 0) {
		if (dup2(dfd, CHILD_DIR_FD) < 0)
			_exit(127);
		last = CHILD_DIR_FD;
	}
	(void)syscall(SYS_close_range, (unsigned)last + 1, ~0u, 0u);
	execve(exe, argv, environ);
	_exit(127);
}

/* Wait for "1" on @fd; 0, -EPIPE (closed first) or -ETIMEDOUT. */
static int wait_ready(int fd, unsigned timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - now_ms();
		char c;
		ssize_t k;
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			continue;
		k = read(fd, &c, 1);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k == 1 && c == '1')
			return 0;
		return -EPIPE;
	}
}

/* waitpid() with EINTR retried; ECHILD (reaped elsewhere) is success. */
static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

int cove_slirp_start(const struct cove_slirp_opts *o, struct cove_slirp *ret,
		     struct cove_error *err)
{
	_cleanup_free_ char *exe = NULL, *a_exit = NULL, *a_ready = NULL,
			    *a_api = NULL, *a_mtu = NULL, *a_mac = NULL,
			    *tail = NULL;
	_cleanup_close_ int exit_r = -1, exit_w = -1, ready_r = -1,
			    ready_w = -1, devnull = -1, logfd = -1, dfd = -1;
	struct sockaddr_un sa;
	char *argv[16], *plain[16];
	size_t argc = 0, n_plain;
	int fds[2], r;
	pid_t parent = getpid(), pid;

	*ret = (struct cove_slirp){.pid = 0, .exit_fd = -1};
	if (!o->netns || !o->api_socket)
		return cove_error_set(err, EINVAL,
				      "slirp4netns: no namespace or socket");
	exe = o->exe ? strdup(o->exe) : find_exe("slirp4netns");
	if (!exe || access(exe, X_OK) < 0)
		return cove_error_set(err, ENOENT,
				      "slirp4netns was not found%s: "
				      "install it (Debian's slirp4netns "
				      "package), or use --network none or "
				      "host",
				      o->exe ? "" : " in $PATH");
	r = sun_path_of(o->api_socket, CHILD_DIR_FD, sa.sun_path,
			sizeof(sa.sun_path), &dfd);
	if (r < 0)
		return cove_error_setx(err, r,
				       "slirp4netns: cannot use API socket "
				       "path '%s'",
				       o->api_socket);
	if (unlink(o->api_socket) < 0 && errno != ENOENT)
		return cove_error_setx(err, errno, "cannot remove stale %s",
				       o->api_socket);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return cove_error_setx(err, errno, "slirp4netns: pipe");
	exit_r = fds[0];
	exit_w = fds[1];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return cove_error_setx(err, errno, "slirp4netns: pipe");
	ready_r = fds[0];
	ready_w = fds[1];
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return cove_error_setx(err, errno, "cannot open /dev/null");
	if (o->log_path)
		logfd =
		    open(o->log_path,
			 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
			 0600);
	else
		logfd = fcntl(devnull, F_DUPFD_CLOEXEC, 0);
	if (logfd < 0)
		return cove_error_setx(err, errno, "cannot open %s",
				       o->log_path ? o->log_path : "/dev/null");
	if ((r = move_high(&exit_r)) < 0 || (r = move_high(&ready_w)) < 0 ||
	    (r = move_high(&devnull)) < 0 || (r = move_high(&logfd)) < 0 ||
	    (dfd >= 0 && (r = move_high(&dfd)) < 0))
		return cove_error_setx(err, r, "slirp4netns: fcntl");

	a_exit = cove_strdup_printf("--exit-fd=%d", CHILD_EXIT_FD);
	a_ready = cove_strdup_printf("--ready-fd=%d", CHILD_READY_FD);
	a_api = cove_strdup_printf("--api-socket=%s", sa.sun_path);
	a_mtu = cove_strdup_printf("--mtu=%d", COVE_SLIRP_MTU);
	a_mac = o->mac ? cove_strdup_printf("--macaddress=%s", o->mac) : NULL;
	if (!a_exit || !a_ready || !a_api || !a_mtu || (o->mac && !a_mac))
		return -ENOMEM;
	argv[argc++] = exe;
	argv[argc++] = (char *)"--configure";
	argv[argc++] = a_mtu;
	argv[argc++] = (char *)"--disable-host-loopback";
	argv[argc++] = (char *)"--netns-type=path";
	argv[argc++] = a_exit;
	argv[argc++] = a_ready;
	argv[argc++] = a_api;
	if (a_mac)
		argv[argc++] = a_mac;
	argv[argc++] = (char *)"--enable-seccomp";
	/* the same without the sandbox, for when isolate_mounts() fails */
	memcpy(plain, argv, argc * sizeof(*argv));
	n_plain = argc;
	if (o->sandbox)
		argv[argc++] = (char *)"--enable-sandbox";
	argv[argc++] = plain[n_plain++] = (char *)o->netns;
	argv[argc++] = plain[n_plain++] = (char *)COVE_SLIRP_IFNAME;
	argv[argc] = plain[n_plain] = NULL;

	pid = fork();
	if (pid < 0)
		return cove_error_setx(err, errno, "cannot start slirp4netns");
	if (pid == 0)
		child(exe, argv, o->sandbox ? plain : argv, devnull, logfd,
		      exit_r, ready_w, dfd, parent);
	close(TAKE_FD(ready_w));
	close(TAKE_FD(exit_r));

	r = wait_ready(ready_r, o->ready_timeout_ms
				    ? o->ready_timeout_ms
				    : COVE_SLIRP_READY_TIMEOUT_MS);
	if (r < 0) {
		/* not ready: make sure it is gone, then say why */
		kill(pid, SIGKILL);
		reap(pid);
		(void)unlink(o->api_socket);
		tail = log_tail(o->log_path);
		if (r == -ETIMEDOUT)
			return cove_error_set(
			    err, ETIMEDOUT,
			    "slirp4netns for '%s' was not "
			    "ready after %u ms%s%s",
			    o->netns,
			    o->ready_timeout_ms ? o->ready_timeout_ms
						: COVE_SLIRP_READY_TIMEOUT_MS,
			    tail && *tail ? ": " : "", tail ? tail : "");
		return cove_error_set(
		    err, EIO, "slirp4netns for '%s' failed%s%s", o->netns,
		    tail && *tail ? ": " : "", tail ? tail : "");
	}
	ret->pid = pid;
	ret->exit_fd = TAKE_FD(exit_w);
	return 0;
}

void cove_slirp_stop(struct cove_slirp *s, unsigned timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	if (s->exit_fd >= 0)
		close(s->exit_fd);
	s->exit_fd = -1;
	if (s->pid <= 0)
		return;
	for (;;) {
		pid_t w = waitpid(s->pid, NULL, WNOHANG);
		if (w == s->pid || (w < 0 && errno != EINTR))
			break; /* gone, or reaped by someone else (ECHILD) */
		if (w == 0 && now_ms() >= deadline) {
			/* still our unreaped child: the pid is its own */
			kill(s->pid, SIGKILL);
			reap(s->pid);
			break;
		}
		if (w == 0)
			usleep(5000);
	}
	s->pid = 0;
}

/* ---- the API socket ------------------------------------------------------ */

static int api_connect(const char *path, struct cove_error *err)
{
	_cleanup_close_ int fd = -1, dfd = -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int r;

	r = sun_path_of(path, -1, sa.sun_path, sizeof(sa.sun_path), &dfd);
	if (r < 0)
		return cove_error_setx(err, r, "cannot use socket path '%s'",
				       path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cove_error_setx(err, errno, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return cove_error_setx(err, errno, "cannot connect to %s",
				       path);
	return TAKE_FD(fd);
}

/* Send @req, read the reply to EOF (at most 64 KiB, within the timeout). */
static int api_call(const char *path, const json_t *req, json_t **ret,
		    struct cove_error *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL, *buf = NULL;
	size_t len = 0, cap = 65536;
	int64_t deadline = now_ms() + API_TIMEOUT_MS;
	json_error_t je;

	text = json_dumps(req, JSON_COMPACT);
	buf = malloc(cap + 1);
	if (!text || !buf)
		return -ENOMEM;
	fd = api_connect(path, err);
	if (fd < 0)
		return fd;
	/* slirp4netns reads a request with a single read(): one write */
	if (cove_write_all(fd, text, strlen(text)) < 0)
		return cove_error_setx(err, errno, "cannot write to %s", path);
	(void)shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - now_ms();
		ssize_t k;
		int n;

		if (left <= 0)
			return cove_error_set(err, ETIMEDOUT,
					      "no reply from slirp4netns on "
					      "%s",
					      path);
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno != EINTR)
			return cove_error_setx(err, errno, "poll");
		if (n <= 0)
			continue;
		k = read(fd, buf + len, cap - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return cove_error_setx(err, errno,
					       "cannot read from %s", path);
		if (k == 0)
			break;
		len += (size_t)k;
		if (len == cap)
			return cove_error_set(err, E2BIG,
					      "reply from slirp4netns on %s is "
					      "too long",
					      path);
	}
	buf[len] = '\0';
	*ret = json_loadb(buf, len, 0, &je);
	if (!*ret || !json_is_object(*ret)) {
		json_decref(*ret);
		*ret = NULL;
		return cove_error_set(err, EIO,
				      "invalid reply from slirp4netns on %s: "
				      "'%.200s'",
				      path, buf);
	}
	return 0;
}

int cove_slirp_add_hostfwd(const char *api_socket, const char *proto,
			   const char *host_addr, uint16_t host_port,
			   uint16_t guest_port, struct cove_error *err)
{
	_cleanup_json_ json_t *req = NULL, *reply = NULL;
	const json_t *e;
	int r;

	if (!proto || !*proto)
		proto = "tcp";
	if (!host_addr || !*host_addr)
		host_addr = "0.0.0.0";
	req = json_pack("{s:s, s:{s:s, s:s, s:i, s:i}}", "execute",
			"add_hostfwd", "arguments", "proto", proto, "host_addr",
			host_addr, "host_port", (int)host_port, "guest_port",
			(int)guest_port);
	if (!req)
		return -ENOMEM;
	r = api_call(api_socket, req, &reply, err);
	if (r < 0)
		return r;
	e = json_object_get(reply, "error");
	if (e) {
		const char *desc =
		    json_string_value(json_object_get(e, "desc"));
		bool listen_failed =
		    desc && strstr(desc, "slirp_add_hostfwd failed");
		return cove_error_set(
		    err, listen_failed ? EADDRINUSE : EIO,
		    "slirp4netns cannot forward %s:%u/%s: %s%s", host_addr,
		    host_port, proto, desc ? desc : "error",
		    listen_failed ? " (the port is in use, or below "
				    "net.ipv4.ip_unprivileged_port_start "
				    "for an unprivileged user)"
				  : "");
	}
	if (!json_object_get(reply, "return"))
		return cove_error_set(err, EIO,
				      "slirp4netns cannot forward %s:%u/%s: "
				      "reply has neither 'return' nor 'error'",
				      host_addr, host_port, proto);
	return 0;
}

/* ---- the engine's use ------------------------------------------------------
 */

struct paths {
	char *dir, *sock, *pidfile, *log, *ctr_dir;
};

static void paths_release(struct paths *p)
{
	free(p->dir);
	free(p->sock);
	free(p->pidfile);
	free(p->log);
	free(p->ctr_dir);
}

static int paths_of(struct cove_engine *e, const struct cove_ctr *c,
		    struct paths *p)
{
	*p = (struct paths){0};
	p->dir = cove_strdup_printf("%s/slirp", e->runroot);
	p->sock = cove_strdup_printf("%s/slirp/%s.sock", e->runroot, c->id);
	p->pidfile = cove_strdup_printf("%s/slirp/%s.pid", e->runroot, c->id);
	p->ctr_dir = cove_engine_ctr_dir(e, c->id);
	p->log = p->ctr_dir
		     ? cove_strdup_printf("%s/slirp4netns.log", p->ctr_dir)
		     : NULL;
	if (!p->dir || !p->sock || !p->pidfile || !p->ctr_dir || !p->log) {
		paths_release(p);
		return -ENOMEM;
	}
	return 0;
}

/*
 * slirp4netns opens /dev/net/tun in the container's namespace as the
 * caller.  Without udev (its rule makes the node 0666) the node is root's
 * 0600 and an unprivileged user cannot open it, not even as root of its
 * user namespace: say so, rather than quote slirp's "child failed".
 */
static int check_tun(struct cove_error *err)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	struct stat st;

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == EACCES || errno == EPERM) {
		unsigned mode = stat("/dev/net/tun", &st) == 0
				    ? (unsigned)(st.st_mode & 07777)
				    : 0;
		return cove_error_set(err, errno,
				      "slirp4netns needs /dev/net/tun, which "
				      "this user cannot open (mode %04o; "
				      "udev's rules make it 0666): use "
				      "--network none or host, or make the "
				      "node usable",
				      mode);
	}
	return cove_error_setx(err, errno,
			       "slirp4netns needs /dev/net/tun: cannot open "
			       "it");
}

/* A stable locally administered MAC from the container id. */
static void mac_of(const char *id, char buf[18])
{
	snprintf(buf, 18, "02:%.2s:%.2s:%.2s:%.2s:%.2s", id, id + 2, id + 4,
		 id + 6, id + 8);
}

/*
 * Put 10.0.2.3, slirp's DNS forwarder, first in the container's
 * resolv.conf (written at create from the host's, see engine.c), in place:
 * it is the file the container binds.  The host's other lines stay, as
 * podman keeps them.  A user's --dns is left alone.
 */
static int point_resolv_at_slirp(const char *ctr_dir, const json_t *config,
				 struct cove_error *err)
{
	const json_t *dns =
	    json_object_get(json_object_get(config, "HostConfig"), "Dns");
	_cleanup_free_ char *path = NULL, *old = NULL, *text = NULL;
	_cleanup_close_ int fd = -1;
	const char *first;
	int r;

	if (json_array_size(dns) > 0)
		return 0;
	path = cove_strdup_printf("%s/resolv.conf", ctr_dir);
	if (!path)
		return -ENOMEM;
	r = cove_read_file(path, 1 << 20, &old, NULL);
	if (r < 0 && r != -ENOENT)
		return cove_error_setx(err, r, "cannot read %s", path);
	first = old ? strstr(old, "nameserver") : NULL;
	if (first && (first == old || first[-1] == '\n') &&
	    !strncmp(first + 10 + strspn(first + 10, " \t"), COVE_SLIRP_DNS,
		     strlen(COVE_SLIRP_DNS)))
		return 0; /* a restart: already there */
	text = cove_strdup_printf("nameserver %s\n%s", COVE_SLIRP_DNS,
				  old ? old : "");
	if (!text)
		return -ENOMEM;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || ftruncate(fd, 0) < 0 ||
	    cove_write_all(fd, text, strlen(text)) < 0)
		return cove_error_setx(err, errno, "cannot write %s", path);
	return 0;
}

/* NetworkSettings as ctrnet.c records them for CNI, and the hosts file. */
static int record(struct cove_engine *e, struct cove_ctr *c, const char *ns,
		  const char *mac, const char *ctr_dir, struct cove_error *err)
{
	const char *hostname =
	    json_string_value(json_object_get(c->config, "Hostname"));
	_cleanup_free_ char *names = NULL;
	json_t *settings = json_object(), *nets = json_object(),
	       *one = json_object();
	char hn[13];
	sqlite3 *db;
	int r;

	if (!settings || !nets || !one) {
		json_decref(settings);
		json_decref(nets);
		json_decref(one);
		return -ENOMEM;
	}
	if (!hostname || !*hostname) {
		snprintf(hn, sizeof(hn), "%s", c->id);
		hostname = hn;
	}
	json_object_set_new(settings, "IPAddress",
			    json_string(COVE_SLIRP_GUEST_IP));
	json_object_set_new(settings, "IPPrefixLen",
			    json_integer(COVE_SLIRP_PREFIX));
	json_object_set_new(settings, "Gateway",
			    json_string(COVE_SLIRP_GATEWAY));
	json_object_set_new(settings, "MacAddress", json_string(mac));
	json_object_set_new(settings, "SandboxKey", json_string(ns));
	json_object_set_new(settings, "Hostname", json_string(hostname));
	json_object_set(one, "IPAddress",
			json_object_get(settings, "IPAddress"));
	json_object_set(one, "IPPrefixLen",
			json_object_get(settings, "IPPrefixLen"));
	json_object_set(one, "Gateway", json_object_get(settings, "Gateway"));
	json_object_set(one, "MacAddress",
			json_object_get(settings, "MacAddress"));
	json_object_set_new(nets, "slirp4netns", one);
	json_object_set_new(settings, "Networks", nets);
	json_object_set(
	    settings, "Ports",
	    json_object_get(json_object_get(c->config, "HostConfig"),
			    "PortBindings"));
	json_object_set_new(c->config, "NetworkSettings", settings);
	r = cove_engine_db(e, &db, err);
	if (r >= 0)
		r = cove_ctr_config_set(db, c->id, "NetworkSettings", settings,
					err);
	if (r < 0)
		return r;
	/* every slirp container is 10.0.2.100 in its own namespace: no
	 * peers to list */
	names = strcmp(hostname, c->name)
		    ? cove_strdup_printf("%s %s", hostname, c->name)
		    : strdup(hostname);
	if (!names)
		return -ENOMEM;
	return cove_engine_write_hosts(ctr_dir, c->config, names,
				       COVE_SLIRP_GUEST_IP, NULL, err);
}

static int publish(const char *sock, const struct cove_ctr *c,
		   struct cove_error *err)
{
	const json_t *pb = json_object_get(
	    json_object_get(c->config, "HostConfig"), "PortBindings");
	size_t i;
	json_t *p;

	json_array_foreach(pb, i, p)
	{
		const char *ip =
		    json_string_value(json_object_get(p, "HostIp"));
		const char *proto =
		    json_string_value(json_object_get(p, "Protocol"));
		json_int_t hp =
		    json_integer_value(json_object_get(p, "HostPort"));
		json_int_t cp =
		    json_integer_value(json_object_get(p, "ContainerPort"));
		int r;

		if (ip && strchr(ip, ':'))
			return cove_error_set(err, ENOTSUP,
					      "cannot publish port %d on '%s': "
					      "slirp4netns forwards IPv4 only",
					      (int)hp, ip);
		if (proto && strcmp(proto, "tcp") && strcmp(proto, "udp"))
			return cove_error_set(err, ENOTSUP,
					      "cannot publish %s ports through "
					      "slirp4netns: tcp and udp only",
					      proto);
		if (hp <= 0 || hp > 65535 || cp <= 0 || cp > 65535)
			return cove_error_set(err, EINVAL,
					      "invalid port binding %d:%d",
					      (int)hp, (int)cp);
		r = cove_slirp_add_hostfwd(sock, proto, ip, (uint16_t)hp,
					   (uint16_t)cp, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * The pid file: "PID STARTTIME EXITFD PIPEINO".  The monitor keeps the write
 * end of the exit pipe open across its execs (cove-monitor, and back to
 * cove to tear down): EXITFD is its number there and PIPEINO the pipe's
 * inode, so that only the process holding that very pipe closes it.
 */
struct recorded {
	int pid;
	unsigned long long start;
	int exit_fd;
	unsigned long long ino;
};

static bool read_record(const char *path, struct recorded *rec)
{
	_cleanup_free_ char *buf = NULL;

	*rec = (struct recorded){.exit_fd = -1};
	return cove_read_file(path, 4096, &buf, NULL) >= 0 && buf &&
	       sscanf(buf, "%d %llu %d %llu", &rec->pid, &rec->start,
		      &rec->exit_fd, &rec->ino) == 4 &&
	       rec->pid > 1;
}

/* @pid is still the slirp4netns recorded (not a reused pid). */
static bool is_slirp(pid_t pid, unsigned long long start)
{
	_cleanup_free_ char *path = cove_strdup_printf("/proc/%d/comm", pid),
			    *comm = NULL;

	return path && cove_read_file(path, 64, &comm, NULL) >= 0 && comm &&
	       !strncmp(comm, "slirp4netns", 11) &&
	       cove_proc_start_time(pid) == start;
}

static pid_t parent_of(pid_t pid)
{
	_cleanup_free_ char *path = cove_strdup_printf("/proc/%d/stat", pid),
			    *buf = NULL;
	const char *p;
	int ppid = 0;

	if (!path || cove_read_file(path, 4096, &buf, NULL) < 0 || !buf)
		return 0;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return 0;
	return ppid;
}

static void stop_recorded(const char *pidfile)
{
	struct recorded rec;
	struct stat st;

	if (!read_record(pidfile, &rec))
		return;
	if (rec.exit_fd > 2 && fstat(rec.exit_fd, &st) == 0 &&
	    S_ISFIFO(st.st_mode) && (unsigned long long)st.st_ino == rec.ino)
		close(rec.exit_fd);
	if (!is_slirp(rec.pid, rec.start))
		return;
	if (parent_of(rec.pid) == getpid()) {
		/* the monitor: it exits now that its exit fd is closed */
		struct cove_slirp s = {.pid = rec.pid, .exit_fd = -1};
		cove_slirp_stop(&s, STOP_TIMEOUT_MS);
		return;
	}
	/* another process (the monitor is gone): end it all the same */
	kill(rec.pid, SIGKILL);
	for (int i = 0; i < 500 && is_slirp(rec.pid, rec.start); i++)
		usleep(10000);
}

int cove_engine_slirp_setup(struct cove_engine *e, struct cove_ctr *c,
			    const char *netns, struct cove_error *err)
{
	struct cove_slirp s = {.pid = 0, .exit_fd = -1};
	struct cove_slirp_opts o = {0};
	char mac[18], pidline[128];
	struct paths p;
	struct stat st;
	int r;

	r = check_tun(err);
	if (r < 0)
		return r;
	r = paths_of(e, c, &p);
	if (r < 0)
		return r;
	r = cove_mkdir_p(p.dir, 0700);
	if (r < 0) {
		cove_error_setx(err, r, "cannot create %s", p.dir);
		goto out;
	}
	r = cove_netns_create(netns, err);
	if (r < 0)
		goto out;
	mac_of(c->id, mac);
	o.netns = netns;
	o.api_socket = p.sock;
	o.mac = mac;
	o.log_path = p.log;
	o.sandbox = true;
	r = cove_slirp_start(&o, &s, err);
	if (r < 0)
		goto fail;
	if (fstat(s.exit_fd, &st) < 0) {
		r = cove_error_setx(err, errno, "slirp4netns: fstat");
		goto fail;
	}
	snprintf(pidline, sizeof(pidline), "%d %llu %d %llu\n", (int)s.pid,
		 (unsigned long long)cove_proc_start_time(s.pid), s.exit_fd,
		 (unsigned long long)st.st_ino);
	r = cove_write_file_atomic_at(AT_FDCWD, p.pidfile, pidline,
				      strlen(pidline), 0600);
	if (r < 0) {
		cove_error_setx(err, r, "cannot write %s", p.pidfile);
		goto fail;
	}
	r = publish(p.sock, c, err);
	if (r < 0)
		goto fail;
	r = point_resolv_at_slirp(p.ctr_dir, c->config, err);
	if (r < 0)
		goto fail;
	r = record(e, c, netns, mac, p.ctr_dir, err);
	if (r < 0)
		goto fail;
	/*
	 * The write end stays open, without FD_CLOEXEC, in the monitor for
	 * the container's life, across its exec of cove-monitor and back;
	 * the pid file names it for the teardown.
	 */
	if (fcntl(s.exit_fd, F_SETFD, 0) < 0) {
		r = cove_error_setx(err, errno, "slirp4netns: fcntl");
		goto fail;
	}
	r = 0;
	goto out;
fail:
	cove_slirp_stop(&s, STOP_TIMEOUT_MS);
	cove_engine_slirp_teardown(e, c, netns);
out:
	paths_release(&p);
	return r;
}

void cove_engine_slirp_teardown(struct cove_engine *e, struct cove_ctr *c,
				const char *netns)
{
	struct cove_error err = {0};
	struct paths p;
	sqlite3 *db;

	if (paths_of(e, c, &p) < 0)
		return;
	stop_recorded(p.pidfile);
	(void)unlink(p.pidfile);
	(void)unlink(p.sock);
	(void)cove_netns_remove(netns, &err);
	if (json_object_get(c->config, "NetworkSettings")) {
		json_object_del(c->config, "NetworkSettings");
		if (cove_engine_db(e, &db, &err) >= 0)
			(void)cove_ctr_config_set(db, c->id, "NetworkSettings",
						  NULL, &err);
	}
	paths_release(&p);
}
