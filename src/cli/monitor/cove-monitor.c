/*
 * cove-monitor: what a detached container's monitor becomes while the
 * container runs.
 *
 * The engine's monitor (src/engine/monitor.c) is a fork of cove: it mounts
 * the rootfs, sets up the network, creates and starts the container (the
 * init is its child), then execs this small static program, which keeps
 * the pid, the child, the signal mask and the fds it is given.  All it does
 * while the container runs:
 *   - copies the container's stdout and stderr to the JSON-lines log file
 *     (logfile.c) and to `cove attach` clients, and their input to the
 *     container's stdin;
 *   - passes the signals it gets on to the container;
 *   - runs `cove healthcheck run ID` every health interval;
 *   - when the init exits and the output is drained, execs cove again
 *     (`cove __monitor-resume ID STATUS ...`), which records the exit,
 *     cleans up and applies the restart policy.
 * A fork of cove would keep every page the cove process had dirtied (its
 * parent exits, so they become the monitor's alone, ~2 MiB); this program
 * keeps a few hundred KiB, as conmon does, per running container.
 *
 * Usage (by the engine only):
 *   cove-monitor PID OUT_FD ERR_FD IN_FD TTY LISTEN_FD LOG MAX_SIZE
 *                MAX_FILES HEALTH_NS -- RESUME_ARGV... -- HEALTH_ARGV...
 * RESUME_ARGV gets the wait status appended.  Fds that are -1 are absent.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/attach.h"
#include "engine/logfile.h"
#include "util/fs.h"
#include "util/strutil.h"

static struct cove_attach_clients clients;

/* Copy what @fd has; false at EOF (or EIO from a pty whose slave is gone). */
static bool pump(struct cove_logfile *log, int fd, enum cove_log_stream s)
{
	char buf[32768];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	if (log)
		(void)cove_logfile_write(log, s, buf, (size_t)n);
	cove_attach_broadcast(&clients, s == COVE_LOG_STDERR ? 2 : 1, buf,
			      (size_t)n);
	return true;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A health check: `cove healthcheck run ID`, which records its result. */
static void health(char **argv)
{
	pid_t pid = fork();

	if (pid == 0) {
		sigset_t none;
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(argv[0], argv);
		_exit(127);
	}
	/* reaped with the other children on SIGCHLD */
}

static int num(const char *s)
{
	int v;
	return cove_parse_int(s, &v) < 0 ? -1 : v;
}

int main(int argc, char **argv)
{
	static const int handled[] = {SIGCHLD, SIGINT,	SIGTERM, SIGHUP,
				      SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
	struct cove_logfile *log = NULL;
	struct cove_error err = {0};
	char **resume, **health_argv = NULL, status_arg[16];
	int pid, out, errp, in, tty, lfd, sfd, status = 0, nresume = 0;
	int64_t health_ns = 0, next = 0;
	uint64_t max_size = 0;
	bool exited = false;
	sigset_t mask;
	int i;

	if (argc < 13 || strcmp(argv[11], "--")) {
		fprintf(stderr, "cove-monitor: for cove's engine only\n");
		return 125;
	}
	pid = num(argv[1]);
	out = num(argv[2]);
	errp = num(argv[3]);
	in = num(argv[4]);
	tty = num(argv[5]);
	lfd = num(argv[6]);
	(void)cove_parse_uint64(argv[8], &max_size);
	(void)cove_parse_int64(argv[10], &health_ns);
	resume = argv + 12;
	for (i = 12; i < argc && strcmp(argv[i], "--"); i++)
		nresume++;
	if (i < argc) {
		argv[i] = NULL; /* ends RESUME_ARGV */
		health_argv = argv + i + 1;
	}
	if (pid <= 0 || nresume == 0)
		return 125;
	/*
	 * The last RESUME_ARGV entry is a placeholder for the wait status.
	 */
	(void)cove_logfile_open(argv[7], max_size, (unsigned)num(argv[9]), &log,
				&err);

	/* the mask came blocked across exec; read it from a signalfd again */
	sigemptyset(&mask);
	for (size_t k = 0; k < sizeof(handled) / sizeof(handled[0]); k++)
		sigaddset(&mask, handled[k]);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	next = health_ns > 0 && health_argv && *health_argv
		   ? now_ns() + health_ns
		   : 0;

	while (!exited || out >= 0 || errp >= 0) {
		struct pollfd p[4 + COVE_ATTACH_MAX_CLIENTS] = {
		    {.fd = sfd, .events = POLLIN},
		    {.fd = out, .events = POLLIN},
		    {.fd = errp, .events = POLLIN},
		    {.fd = exited ? -1 : lfd, .events = POLLIN},
		};
		size_t nc = clients.n;
		int timeout = exited ? 200 : -1, n;

		for (size_t k = 0; k < nc; k++) {
			p[4 + k].fd = cove_attach_input_fd(&clients, k);
			p[4 + k].events = POLLIN;
		}
		if (!exited && next) {
			int64_t left = (next - now_ns()) / 1000000;
			timeout = left > 0 ? (int)left : 0;
		}
		n = poll(p, (nfds_t)(4 + nc), timeout);
		if (n < 0 && errno != EINTR)
			break;
		if (n == 0 && exited)
			break; /* a daemonized process kept the pipe open */
		if (!exited && next && now_ns() >= next) {
			health(health_argv);
			next = now_ns() + health_ns;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					continue;
				if (si.ssi_signo == SIGWINCH || !pid)
					continue;
				kill(pid, (int)si.ssi_signo);
			}
			for (;;) {
				int st;
				pid_t w = waitpid(-1, &st, WNOHANG);
				if (w <= 0)
					break;
				if (w == pid) {
					status = st;
					exited = true;
				}
			}
		}
		if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !pump(log, out, COVE_LOG_STDOUT)) {
			close(out);
			out = -1;
		}
		if ((p[2].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !pump(log, errp, COVE_LOG_STDERR)) {
			close(errp);
			errp = -1;
		}
		for (size_t k = nc; k-- > 0;)
			if (p[4 + k].revents & (POLLIN | POLLHUP | POLLERR))
				cove_attach_input(&clients, k, tty ? out : in);
		if (p[3].revents & POLLIN)
			cove_attach_accept(&clients, lfd);
	}
	if (!exited)
		waitpid(pid, &status, 0);
	cove_logfile_close(log);
	cove_attach_close_all(&clients);
	if (out >= 0)
		close(out);
	if (errp >= 0)
		close(errp);
	if (in >= 0)
		close(in);
	if (lfd >= 0)
		close(lfd);
	/* back to cove, to record the exit and clean up */
	snprintf(status_arg, sizeof(status_arg), "%d", status);
	resume[nresume - 1] = status_arg;
	execv(resume[0], resume);
	fprintf(stderr, "cove-monitor: cannot run %s: %s\n", resume[0],
		strerror(errno));
	return 125;
}
