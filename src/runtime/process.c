#include "runtime/process.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

int cove_process_ctx_init(struct cove_process_ctx *ctx,
			  const struct cove_process *p, struct cove_error *err)
{
	int r;

	memset(ctx, 0, sizeof(*ctx));
	ctx->p = p;
	r = cove_caps_parse(p->capabilities, "process.capabilities", &ctx->caps,
			    err);
	if (r < 0)
		return r;
	if (p->scheduler) {
		r = cove_sched_parse(p->scheduler, "process.scheduler",
				     &ctx->sched, err);
		if (r < 0)
			return r;
	}
	if (p->io_priority) {
		r = cove_ioprio_parse(p->io_priority, "process.ioPriority",
				      &ctx->ioprio, err);
		if (r < 0)
			return r;
	}
	if (p->exec_cpu_affinity)
		return cove_error_set(
		    err, EOPNOTSUPP,
		    "invalid 'process.execCPUAffinity': not supported by cove");
	return cove_process_check_lsm(p, err);
}

static bool apparmor_enabled(void)
{
	_cleanup_free_ char *buf = NULL;
	if (cove_read_file("/sys/module/apparmor/parameters/enabled", 16, &buf,
			   NULL) < 0)
		return false;
	return buf[0] == 'Y';
}

int cove_process_check_lsm(const struct cove_process *p, struct cove_error *err)
{
	if (p->apparmor_profile && !apparmor_enabled())
		return cove_error_set(
		    err, EOPNOTSUPP,
		    "invalid 'process.apparmorProfile': AppArmor is not "
		    "enabled on this host (profile '%s')",
		    p->apparmor_profile);
	if (p->selinux_label && access("/sys/fs/selinux/enforce", F_OK) < 0)
		return cove_error_set(
		    err, EOPNOTSUPP,
		    "invalid 'process.selinuxLabel': SELinux is not enabled on "
		    "this host (label '%s')",
		    p->selinux_label);
	return 0;
}

int cove_process_apply_privileged(struct cove_process_ctx *ctx,
				  struct cove_error *err)
{
	const struct cove_process *p = ctx->p;
	int r;

	r = cove_rlimits_apply(p->rlimits, p->n_rlimits, err);
	if (r < 0)
		return r;
	if (ctx->sched.set) {
		r = cove_sched_apply(&ctx->sched, err);
		if (r < 0)
			return r;
	}
	if (ctx->ioprio.set) {
		r = cove_ioprio_apply(&ctx->ioprio, err);
		if (r < 0)
			return r;
	}
	if (p->apparmor_profile) {
		_cleanup_free_ char *v =
		    cove_strdup_printf("exec %s", p->apparmor_profile);
		r = cove_write_file("/proc/self/attr/apparmor/exec", v,
				    strlen(v));
		if (r < 0)
			r = cove_write_file("/proc/self/attr/exec", v,
					    strlen(v));
		if (r < 0)
			return cove_error_setx(
			    err, r, "cannot set AppArmor profile '%s'",
			    p->apparmor_profile);
	}
	if (p->selinux_label) {
		r = cove_write_file("/proc/self/attr/exec", p->selinux_label,
				    strlen(p->selinux_label));
		if (r < 0)
			return cove_error_setx(err, r,
					       "cannot set SELinux label '%s'",
					       p->selinux_label);
	}
	return 0;
}

int cove_process_switch_user(struct cove_process_ctx *ctx,
			     struct cove_error *err)
{
	const struct cove_user *u = &ctx->p->user;
	int r;

	/* The bounding set can only shrink while we hold CAP_SETPCAP. */
	r = cove_caps_apply_bounding(&ctx->caps, err);
	if (r < 0)
		return r;
	/* Keep the permitted set across setuid, then set it exactly. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return cove_error_setx(err, errno, "prctl(PR_SET_KEEPCAPS)");
	if (!ctx->setgroups_denied) {
		if (setgroups(u->n_additional_gids, u->additional_gids) < 0)
			return cove_error_setx(err, errno,
					       "cannot set additional gids");
	} else if (u->n_additional_gids) {
		return cove_error_set(
		    err, EPERM,
		    "invalid 'process.user.additionalGids': setgroups is "
		    "denied in this user namespace");
	}
	if (setresgid(u->gid, u->gid, u->gid) < 0)
		return cove_error_setx(err, errno, "cannot set gid to %u",
				       (unsigned)u->gid);
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		return cove_error_setx(err, errno, "cannot set uid to %u",
				       (unsigned)u->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return cove_error_setx(err, errno, "prctl(PR_SET_KEEPCAPS)");
	r = cove_caps_apply(&ctx->caps, err);
	if (r < 0)
		return r;
	if (ctx->p->no_new_privileges &&
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return cove_error_setx(err, errno,
				       "prctl(PR_SET_NO_NEW_PRIVS)");
	umask(u->has_umask ? u->umask : 022);
	return 0;
}

int cove_process_chdir(struct cove_process_ctx *ctx, struct cove_error *err)
{
	if (chdir(ctx->p->cwd) < 0)
		return cove_error_setx(err, errno, "cannot chdir to '%s'",
				       ctx->p->cwd);
	return 0;
}

static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);
	for (; env && *env; env++)
		if (!strncmp(*env, name, n) && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

static bool is_executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       access(path, X_OK) == 0;
}

int cove_process_find_executable(const struct cove_process *p, char **ret,
				 struct cove_error *err)
{
	const char *prog = p->args[0];
	const char *path;
	_cleanup_free_ char *copy = NULL;
	char *save = NULL, *dir;

	if (strchr(prog, '/')) {
		if (!is_executable(prog))
			return cove_error_setx(err, errno ? errno : EACCES,
					       "cannot execute '%s'", prog);
		*ret = strdup(prog);
		return *ret ? 0 : -ENOMEM;
	}
	path = env_get(p->env, "PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/"
		       "sbin:/bin";
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	for (dir = strtok_r(copy, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *cand =
		    cove_strdup_printf("%s/%s", *dir ? dir : ".", prog);
		if (cand && is_executable(cand)) {
			*ret = TAKE_PTR(cand);
			return 0;
		}
	}
	return cove_error_set(err, ENOENT,
			      "exec: '%s': executable file not found in $PATH",
			      prog);
}

/*
 * The process starts with every signal unblocked and at its default
 * disposition, whatever its caller had: execve keeps the signal mask and
 * ignored signals, and a caller such as the engine's monitor blocks the
 * signals it reads from a signalfd.
 */
static void reset_signals(void)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction old;
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			sigaction(sig, &sa, NULL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int cove_process_exec(const struct cove_process *p, const char *path,
		      int preserve_fds, struct cove_error *err)
{
	char *const empty[] = {NULL};
	unsigned first = 3u + (unsigned)(preserve_fds > 0 ? preserve_fds : 0);

	/*
	 * Every fd the runtime still holds above stdio and the preserved ones
	 * is made close-on-exec here, whatever flag it was opened with: the
	 * container must not inherit a handle to the host.
	 */
	if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		for (int fd = (int)first; fd < 65536; fd++) {
			int fl = fcntl(fd, F_GETFD);
			if (fl >= 0)
				fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
		}
	}
	reset_signals();
	execve(path, p->args, p->env ? p->env : empty);
	return cove_error_setx(err, errno, "cannot exec '%s'", p->args[0]);
}
