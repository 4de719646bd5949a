#pragma once
/*
 * Turning the calling process into the container's user process: the steps
 * shared by the container init and by `exec`, in the order the kernel
 * requires (rlimits and scheduling while privileged, then the bounding set,
 * the user switch with kept capabilities, the final capability sets,
 * no_new_privs, and execve as the very last step).
 */
#include <stdbool.h>

#include "runtime/caps.h"
#include "runtime/process-attrs.h"
#include "runtime/spec.h"
#include "util/error.h"

struct cove_process_ctx {
	const struct cove_process *p;
	struct cove_caps caps;
	struct cove_sched sched;
	struct cove_ioprio ioprio;
	/* setgroups(2) is denied in a rootless user namespace */
	bool setgroups_denied;
};

/* Validate the parts of @p other modules own (caps, scheduler, ioPriority). */
int cove_process_ctx_init(struct cove_process_ctx *ctx,
			  const struct cove_process *p, struct cove_error *err);

/* rlimits, scheduler, io priority, LSM labels: while still privileged. */
int cove_process_apply_privileged(struct cove_process_ctx *ctx,
				  struct cove_error *err);

/* Bounding set, groups, gid, uid, capability sets, no_new_privs, umask. */
int cove_process_switch_user(struct cove_process_ctx *ctx,
			     struct cove_error *err);

/* chdir to process.cwd (inside the container). */
int cove_process_chdir(struct cove_process_ctx *ctx, struct cove_error *err);

/*
 * Resolve args[0] with the PATH of process.env (as execvp would, but against
 * the container's environment).  *ret owned by the caller.
 */
int cove_process_find_executable(const struct cove_process *p, char **ret,
				 struct cove_error *err);

/*
 * Mark every fd above 2 + @preserve_fds close-on-exec (so that no runtime
 * fd reaches the container, CVE-2024-21626 class) and execve.
 * Returns only on failure.
 */
int cove_process_exec(const struct cove_process *p, const char *path,
		      int preserve_fds, struct cove_error *err);

/* Check that AppArmor / SELinux labels requested by @p can be honoured. */
int cove_process_check_lsm(const struct cove_process *p,
			   struct cove_error *err);
