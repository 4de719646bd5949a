/*
 * `exec`: a new process in the namespaces and cgroup of a running container.
 *
 * The runtime forks a helper that joins the container's namespaces through
 * a pidfd of the init (one setns() call for all of them), then forks the
 * process proper, which is the first to live in the container's pid
 * namespace.  The helper reports its pid and exits; the runtime, a child
 * subreaper, inherits it and waits for it.
 */
#include "runtime/container.h"

#include <errno.h>
#include <fcntl.h>
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
#include <unistd.h>

#include "runtime/process.h"
#include "runtime/seccomp.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strutil.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Namespaces of @pid that differ from ours, as CLONE_NEW* flags. */
static int foreign_namespaces(pid_t pid)
{
	int flags = 0;

	for (int t = 0; t < COVE_NS_MAX; t++) {
		char a[64], b[64];
		struct stat sa, sb;
		snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)pid,
			 cove_ns_proc_name((enum cove_ns_type)t));
		snprintf(b, sizeof(b), "/proc/self/ns/%s",
			 cove_ns_proc_name((enum cove_ns_type)t));
		if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
			continue;
		if (sa.st_ino != sb.st_ino || sa.st_dev != sb.st_dev)
			flags |= cove_ns_clone_flag((enum cove_ns_type)t);
	}
	return flags;
}

struct exec_child {
	struct cove_process *proc;
	struct cove_process_ctx pctx;
	struct cove_seccomp *seccomp;
	int sock;
	int pidfd;
	int nsflags;
	int preserve_fds;
	bool userns;
};

static __attribute__((noreturn)) void exec_fail(struct exec_child *c,
						struct cove_error *err)
{
	cove_sync_send_error(c->sock, err);
	_exit(1);
}

static __attribute__((noreturn)) void exec_process(struct exec_child *c)
{
	struct cove_error err = {0};
	_cleanup_free_ char *exe = NULL;
	bool late;

	if (cove_sync_expect(c->sock, COVE_SYNC_GO, NULL, NULL, &err) < 0)
		_exit(1);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (setsid() < 0 && errno != EPERM) {
		cove_error_setx(&err, errno, "setsid");
		exec_fail(c, &err);
	}
	if (c->proc->terminal) {
		int master = -1;
		if (cove_pty_open_in_container(c->proc->console_height,
					       c->proc->console_width, &master,
					       &err) < 0)
			exec_fail(c, &err);
		if (cove_sync_send(c->sock, COVE_SYNC_PTY, 0, NULL, master) <
			0 ||
		    cove_sync_expect(c->sock, COVE_SYNC_ACK, NULL, NULL, &err) <
			0)
			_exit(1);
		close(master);
	}
	if (cove_process_apply_privileged(&c->pctx, &err) < 0)
		exec_fail(c, &err);
	if (chdir(c->proc->cwd) < 0 && errno != EACCES) {
		cove_error_setx(&err, errno, "cannot chdir to '%s'",
				c->proc->cwd);
		exec_fail(c, &err);
	}
	/* seccomp before the capabilities go, unless no_new_privs (init.c). */
	late = c->seccomp && c->proc->no_new_privileges &&
	       !cove_seccomp_uses_notify(c->seccomp);
	if (cove_process_find_executable(c->proc, &exe, &err) < 0 &&
	    c->proc->user.uid == 0)
		exec_fail(c, &err);
	if (c->seccomp && !late) {
		int nfd = -1;
		if (cove_seccomp_load(c->seccomp, &nfd, &err) < 0)
			exec_fail(c, &err);
		if (nfd >= 0) {
			if (cove_sync_send(c->sock, COVE_SYNC_SECCOMP, 0, NULL,
					   nfd) < 0 ||
			    cove_sync_expect(c->sock, COVE_SYNC_ACK, NULL, NULL,
					     &err) < 0)
				_exit(1);
			close(nfd);
		}
	}
	if (cove_process_switch_user(&c->pctx, &err) < 0 ||
	    cove_process_chdir(&c->pctx, &err) < 0)
		exec_fail(c, &err);
	if (!exe && cove_process_find_executable(c->proc, &exe, &err) < 0)
		exec_fail(c, &err);
	if (late && cove_seccomp_load(c->seccomp, NULL, &err) < 0)
		exec_fail(c, &err);
	if (cove_sync_send(c->sock, COVE_SYNC_READY, 0, NULL, -1) < 0)
		_exit(1);
	close(c->sock);
	cove_process_exec(c->proc, exe, c->preserve_fds, &err);
	dprintf(2, "cove-runtime: %s\n", err.msg);
	_exit(127);
}

static __attribute__((noreturn)) void exec_helper(struct exec_child *c)
{
	struct cove_error err = {0};
	pid_t pid;

	if (setns(c->pidfd, c->nsflags) < 0) {
		cove_error_setx(&err, errno,
				"cannot join the namespaces of the container");
		exec_fail(c, &err);
	}
	if (c->userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
		cove_error_setx(
		    &err, errno,
		    "cannot become root in the container's user namespace");
		exec_fail(c, &err);
	}
	close(c->pidfd);
	pid = fork();
	if (pid < 0) {
		cove_error_setx(&err, errno, "fork");
		exec_fail(c, &err);
	}
	if (pid == 0)
		exec_process(c);
	cove_sync_send(c->sock, COVE_SYNC_PID, pid, NULL, -1);
	_exit(0);
}

int cove_container_exec(const struct cove_exec_opts *o, pid_t *ret_pid,
			int *ret_pty, struct cove_error *err)
{
	_cleanup_state_ struct cove_state *s = NULL;
	_cleanup_cgroup_ struct cove_cgroup *cg = NULL;
	_cleanup_close_ int pidfd = -1;
	struct cove_process proc;
	struct exec_child c = {0};
	struct cove_sync_msg msg;
	int sock[2] = {-1, -1};
	pid_t helper = -1, pid = -1;
	int r;

	if (ret_pty)
		*ret_pty = -1;
	r = cove_state_load(o->root, o->id, &s, err);
	if (r < 0)
		return r;
	if (s->status != COVE_STATUS_RUNNING &&
	    s->status != COVE_STATUS_CREATED)
		return cove_error_set(err, EINVAL,
				      "cannot exec in container '%s': it is %s",
				      o->id, cove_status_name(s->status));
	r = cove_process_parse(o->process, "process", &proc, err);
	if (r < 0)
		return r;
	c.proc = &proc;
	if (proc.terminal && !o->console_socket && !o->foreground_pty) {
		r = cove_error_set(err, EINVAL,
				   "cannot allocate a terminal for a detached "
				   "exec without --console-socket");
		goto out;
	}
	r = cove_process_ctx_init(&c.pctx, &proc, err);
	if (r < 0)
		goto out;
	{
		json_t *lx =
		    s->config ? json_object_get(s->config, "linux") : NULL;
		json_t *sc = lx ? json_object_get(lx, "seccomp") : NULL;
		if (json_is_object(sc)) {
			r = cove_seccomp_compile_cached(sc, "linux.seccomp",
							o->seccomp_cache_dir,
							&c.seccomp, err);
			if (r < 0)
				goto out;
		}
		c.userns = lx &&
			   json_is_array(json_object_get(lx, "namespaces")) &&
			   (foreign_namespaces(s->pid) & CLONE_NEWUSER);
		c.pctx.setgroups_denied = s->rootless && c.userns;
	}
	pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
	if (pidfd < 0) {
		r = cove_error_setx(err, errno, "cannot open the init of '%s'",
				    o->id);
		goto out;
	}
	c.pidfd = pidfd;
	c.nsflags = foreign_namespaces(s->pid);
	c.preserve_fds = o->preserve_fds;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0) {
		r = cove_error_setx(err, errno, "socketpair");
		goto out;
	}
	c.sock = sock[1];
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	helper = fork();
	if (helper < 0) {
		r = cove_error_setx(err, errno, "fork");
		goto out;
	}
	if (helper == 0)
		exec_helper(&c);
	close(sock[1]);
	sock[1] = -1;
	r = cove_sync_expect(sock[0], COVE_SYNC_PID, &msg, NULL, err);
	waitpid(helper, NULL, 0);
	if (r < 0)
		goto out;
	pid = msg.value;
	if (s->cgroup_path &&
	    cove_cgroup_open(NULL, s->cgroup_mode, s->cgroup_path, &cg, NULL) >=
		0) {
		r = cove_cgroup_enter(cg, pid, err);
		if (r < 0)
			goto out;
	}
	if (proc.has_oom_score_adj) {
		r = cove_oom_score_adj_apply(pid, proc.oom_score_adj, err);
		if (r < 0)
			goto out;
	}
	r = cove_sync_send(sock[0], COVE_SYNC_GO, pid, NULL, -1);
	if (r < 0)
		goto out;
	for (;;) {
		int fd = -1;
		r = cove_sync_recv(sock[0], &msg, &fd, err);
		if (r < 0)
			goto out;
		if (msg.type == COVE_SYNC_READY)
			break;
		if (msg.type == COVE_SYNC_PTY && fd >= 0) {
			if (o->console_socket) {
				r = cove_console_socket_send(o->console_socket,
							     fd, err);
				close(fd);
				if (r < 0)
					goto out;
			} else if (ret_pty) {
				*ret_pty = fd;
			} else {
				close(fd);
			}
			cove_sync_send(sock[0], COVE_SYNC_ACK, 0, NULL, -1);
			continue;
		}
		if (msg.type == COVE_SYNC_SECCOMP && fd >= 0) {
			_cleanup_json_ json_t *st = cove_state_to_json(s);
			r = cove_seccomp_send_listener(c.seccomp, fd, pid, st,
						       err);
			close(fd);
			if (r < 0)
				goto out;
			cove_sync_send(sock[0], COVE_SYNC_ACK, 0, NULL, -1);
			continue;
		}
		if (fd >= 0)
			close(fd);
		r = cove_error_set(err, EPROTO, "unexpected message %d",
				   msg.type);
		goto out;
	}
	if (o->pid_file) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
		_cleanup_free_ char *tmp =
		    cove_strdup_printf("%s.tmp.%d", o->pid_file, getpid());
		FILE *f = tmp ? fopen(tmp, "we") : NULL;
		if (!f || fwrite(buf, 1, (size_t)n, f) != (size_t)n ||
		    fclose(f) != 0 || rename(tmp, o->pid_file) < 0) {
			r = cove_error_setx(err, errno,
					    "cannot write pid file %s",
					    o->pid_file);
			goto out;
		}
	}
	*ret_pid = pid;
	pid = -1;
	r = 0;
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (r < 0 && ret_pty && *ret_pty >= 0) {
		close(*ret_pty);
		*ret_pty = -1;
	}
	if (sock[0] >= 0)
		close(sock[0]);
	if (sock[1] >= 0)
		close(sock[1]);
	cove_seccomp_free(c.seccomp);
	cove_process_release(&proc);
	return r;
}
