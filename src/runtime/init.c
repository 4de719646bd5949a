/*
 * The container init, phase by phase.  Each phase either succeeds or sends
 * its error to the runtime over the sync socket and exits: the runtime then
 * tears everything down, so a failed create leaves nothing behind.
 */
#include "runtime/init.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/hooks.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"

#define KEYCTL_JOIN_SESSION_KEYRING 1

static __attribute__((noreturn)) void fail(struct cove_init_args *a,
					   struct cove_error *err)
{
	cove_sync_send_error(a->sync_fd, err);
	_exit(1);
}

static json_t *hook_state(struct cove_init_args *a, pid_t host_pid,
			  const char *status)
{
	json_t *j = json_object();
	json_object_set_new(j, "ociVersion", json_string("1.2.0"));
	json_object_set_new(j, "id", json_string(a->id));
	json_object_set_new(j, "status", json_string(status));
	json_object_set_new(j, "pid", json_integer(host_pid));
	json_object_set_new(j, "bundle", json_string(a->bundle));
	json_object_set_new(j, "annotations",
			    a->spec->annotations
				? json_deep_copy(a->spec->annotations)
				: json_object());
	return j;
}

static void set_hostname(struct cove_init_args *a, struct cove_error *err)
{
	const struct cove_spec *s = a->spec;
	if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0) {
		cove_error_setx(err, errno, "cannot set hostname '%s'",
				s->hostname);
		fail(a, err);
	}
	if (s->domainname &&
	    setdomainname(s->domainname, strlen(s->domainname)) < 0) {
		cove_error_setx(err, errno, "cannot set domainname '%s'",
				s->domainname);
		fail(a, err);
	}
}

/*
 * The cgroup handshake.  The runtime creates the cgroup directories
 * (CGROUP_DIRS), then moves us in (CGROUP); on cgroup v1 the move often
 * waits for an RCU grace period, so we do our mounts meanwhile and wait
 * only where it matters: a cgroup mount needs the directories (or, with a
 * cgroup namespace or an unknown rootless path, the move); the namespace,
 * hooks and the user process need the move.
 */
/*
 * Wait for a message of @type, taking the cgroup messages that may arrive
 * first (the runtime sends them on its own schedule).
 */
static void expect(struct cove_init_args *a, int type)
{
	struct cove_error err = {0};
	struct cove_sync_msg msg;

	for (;;) {
		if (cove_sync_recv(a->sync_fd, &msg, NULL, &err) < 0)
			_exit(1);
		if (msg.type == type)
			return;
		if (msg.type == COVE_SYNC_CGROUP_DIRS) {
			a->cgroup_dirs = true;
			continue;
		}
		/* without a cgroup namespace, joining needs no action */
		if (msg.type == COVE_SYNC_CGROUP && a->cgroup_dirs &&
		    !a->rootfs.cgroupns) {
			a->cgroup_joined = true;
			continue;
		}
		_exit(1);
	}
}

static void wait_cgroup_dirs(struct cove_init_args *a)
{
	struct cove_error err = {0};

	if (a->cgroup_dirs)
		return;
	if (cove_sync_expect(a->sync_fd, COVE_SYNC_CGROUP_DIRS, NULL, NULL,
			     &err) < 0)
		_exit(1);
	a->cgroup_dirs = true;
}

static int join_cgroup(struct cove_init_args *a, struct cove_error *err)
{
	if (a->cgroup_joined)
		return 0;
	wait_cgroup_dirs(a);
	if (cove_sync_expect(a->sync_fd, COVE_SYNC_CGROUP, NULL, NULL, err) < 0)
		_exit(1);
	a->cgroup_joined = true;
	if (a->spec->namespaces[COVE_NS_CGROUP].enabled &&
	    !a->spec->namespaces[COVE_NS_CGROUP].path &&
	    unshare(CLONE_NEWCGROUP) < 0)
		return cove_error_setx(err, errno,
				       "cannot create a cgroup namespace");
	return 0;
}

static int before_cgroup_mount(void *data, struct cove_error *err)
{
	struct cove_init_args *a = data;

	if (a->rootfs.cgroupns || !a->rootfs.cgroup_path_known)
		return join_cgroup(a, err);
	wait_cgroup_dirs(a);
	return 0;
}

void cove_init_main(struct cove_init_args *a)
{
	const struct cove_spec *spec = a->spec;
	struct cove_error err = {0};
	struct cove_sync_msg msg;
	_cleanup_free_ char *exe = NULL;
	pid_t host_pid;
	int notify_fd = -1;
	bool late_seccomp;
	char c;

	/*
	 * Phase 0: wait until the runtime wrote our id maps; idmapped mount
	 * trees, made by the runtime inside our mount namespace, arrive first.
	 */
	for (;;) {
		int fd = -1;
		if (cove_sync_recv(a->sync_fd, &msg, &fd, &err) < 0)
			_exit(1);
		if (msg.type == COVE_SYNC_GO)
			break;
		if (msg.type == COVE_SYNC_IDMAP && a->rootfs.idmap_fds &&
		    msg.value >= 0 && (size_t)msg.value < spec->n_mounts &&
		    fd >= 0) {
			a->rootfs.idmap_fds[msg.value] = fd;
			continue;
		}
		_exit(1);
	}
	host_pid = msg.value;

	/*
	 * The container must not be debuggable (and its /proc/PID/exe not
	 * openable) by processes of the container while it still runs
	 * runtime code.
	 */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Die with the runtime until the user process starts. */
	if (a->new_userns) {
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
			cove_error_setx(&err, errno,
					"cannot become root in the user "
					"namespace (is uid 0 mapped?)");
			fail(a, &err);
		}
	}
	if (setsid() < 0 && errno != EPERM) {
		cove_error_setx(&err, errno, "setsid");
		fail(a, &err);
	}

	/* Phase 1: hostname, then the file system view. */
	set_hostname(a, &err);
	a->rootfs.before_cgroup = before_cgroup_mount;
	a->rootfs.before_cgroup_data = a;
	/* A cgroup namespace must exist before any mount is made. */
	if (a->rootfs.cgroupns && join_cgroup(a, &err) < 0)
		fail(a, &err);
	if (cove_rootfs_prepare(spec, &a->rootfs, &err) < 0)
		fail(a, &err);
	/* Hooks must find us in our cgroup. */
	if ((a->want_runtime_hooks ||
	     spec->hooks[COVE_HOOK_CREATE_CONTAINER].n) &&
	    join_cgroup(a, &err) < 0)
		fail(a, &err);

	/* Phase 2: prestart/createRuntime hooks run by the runtime, now. */
	if (a->want_runtime_hooks) {
		if (cove_sync_send(a->sync_fd, COVE_SYNC_HOOKS, 0, NULL, -1) <
		    0)
			_exit(1);
		expect(a, COVE_SYNC_HOOKS_DONE);
	}
	/* createContainer hooks: in our namespaces, before pivot_root. */
	if (spec->hooks[COVE_HOOK_CREATE_CONTAINER].n) {
		_cleanup_json_ json_t *st = hook_state(a, host_pid, "creating");
		if (cove_hooks_run(&spec->hooks[COVE_HOOK_CREATE_CONTAINER],
				   "createContainer", st, &err) < 0)
			fail(a, &err);
	}

	/* Phase 3: enter the rootfs; then sysctl, masked and ro paths. */
	if (cove_rootfs_pivot(spec, &a->rootfs, &err) < 0 ||
	    cove_rootfs_finalize(spec, &a->rootfs, &err) < 0)
		fail(a, &err);

	/* Phase 4: the terminal, allocated from the container's devpts. */
	if (spec->process.terminal) {
		int master = -1;
		if (cove_pty_open_in_container(spec->process.console_height,
					       spec->process.console_width,
					       &master, &err) < 0)
			fail(a, &err);
		if (cove_sync_send(a->sync_fd, COVE_SYNC_PTY, 0, NULL, master) <
		    0)
			_exit(1);
		expect(a, COVE_SYNC_ACK);
		close(master);
	}

	/* Phase 5: a fresh session keyring, so containers share no keys. */
	if (!a->no_new_keyring) {
		char name[64];
		snprintf(name, sizeof(name), "_ses.%.50s", a->id);
		if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name) <
			0 &&
		    errno != ENOSYS && errno != EDQUOT && errno != EPERM &&
		    errno != EACCES) {
			cove_error_setx(&err, errno,
					"cannot join a new session keyring");
			fail(a, &err);
		}
	}

	/* Phase 6: the process attributes, the user switch, capabilities. */
	if (cove_process_apply_privileged(&a->pctx, &err) < 0)
		fail(a, &err);
	/* cwd as root first (it may be unreadable to the user: retried). */
	if (chdir(spec->process.cwd) < 0 && errno != EACCES) {
		cove_error_setx(&err, errno, "cannot chdir to '%s'",
				spec->process.cwd);
		fail(a, &err);
	}
	if (cove_process_find_executable(&spec->process, &exe, &err) < 0 &&
	    spec->process.user.uid == 0)
		fail(a, &err);

	/*
	 * Phase 7: seccomp.  Loading a filter needs no_new_privs or
	 * CAP_SYS_ADMIN.  Without no_new_privs the filter must go in now,
	 * before the capabilities are dropped (as runc does); with it, as late
	 * as possible, just before execve, so that fewer of the runtime's own
	 * syscalls run under it.  A notify filter always goes in now: the
	 * listener must get its fd before create returns.  The personality
	 * comes first, since profiles commonly restrict personality(2).
	 */
	late_seccomp = a->seccomp && spec->process.no_new_privileges &&
		       !cove_seccomp_uses_notify(a->seccomp);
	if (a->personality.set &&
	    cove_personality_apply(&a->personality, &err) < 0)
		fail(a, &err);
	if (a->seccomp && !late_seccomp) {
		if (cove_seccomp_load(a->seccomp, &notify_fd, &err) < 0)
			fail(a, &err);
		if (notify_fd >= 0) {
			if (cove_sync_send(a->sync_fd, COVE_SYNC_SECCOMP, 0,
					   NULL, notify_fd) < 0)
				_exit(1);
			expect(a, COVE_SYNC_ACK);
			close(notify_fd);
		}
	}
	if (cove_process_switch_user(&a->pctx, &err) < 0)
		fail(a, &err);
	if (cove_process_chdir(&a->pctx, &err) < 0)
		fail(a, &err);
	if (!exe &&
	    cove_process_find_executable(&spec->process, &exe, &err) < 0)
		fail(a, &err);

	/* Phase 8: in the cgroup, report ready, block until `start`. */
	if (join_cgroup(a, &err) < 0)
		fail(a, &err);
	if (cove_sync_send(a->sync_fd, COVE_SYNC_READY, 0, NULL, -1) < 0)
		_exit(1);
	close(a->sync_fd);
	for (;;) {
		ssize_t n = read(a->fifo_fd, &c, 1);
		if (n == 1)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		_exit(1);
	}
	close(a->fifo_fd);

	if (spec->hooks[COVE_HOOK_START_CONTAINER].n) {
		_cleanup_json_ json_t *st = hook_state(a, host_pid, "running");
		if (cove_hooks_run(&spec->hooks[COVE_HOOK_START_CONTAINER],
				   "startContainer", st, &err) < 0) {
			dprintf(2, "cove-runtime: %s\n", err.msg);
			_exit(1);
		}
	}
	if (late_seccomp && cove_seccomp_load(a->seccomp, NULL, &err) < 0) {
		dprintf(2, "cove-runtime: %s\n", err.msg);
		_exit(1);
	}
	cove_process_exec(&spec->process, exe, a->preserve_fds, &err);
	dprintf(2, "cove-runtime: %s\n", err.msg);
	_exit(127);
}
