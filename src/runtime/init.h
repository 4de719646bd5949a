#pragma once
/*
 * The container init: the code that runs in the child between clone() and
 * the execve() of the user process.  Internal to the runtime layer.
 */
#include <stdbool.h>
#include <sys/types.h>

#include "runtime/process.h"
#include "runtime/rootfs.h"
#include "runtime/seccomp.h"
#include "runtime/spec.h"

struct cove_init_args {
	const struct cove_spec *spec;
	const char *id;
	const char *bundle;
	int sync_fd; /* child end of the sync socketpair */
	int fifo_fd; /* exec.fifo, opened read-write */
	struct cove_process_ctx pctx;
	struct cove_seccomp *seccomp; /* may be NULL */
	struct cove_personality personality;
	struct cove_rootfs_opts rootfs;
	bool new_userns;
	bool rootless;
	bool no_new_keyring;
	int preserve_fds;
	bool want_runtime_hooks; /* prestart/createRuntime exist */
	bool cgroup_dirs;	 /* COVE_SYNC_CGROUP_DIRS received */
	bool cgroup_joined;	 /* COVE_SYNC_CGROUP received */
};

/* Never returns: execs the user process or exits with an error sent. */
__attribute__((noreturn)) void cove_init_main(struct cove_init_args *a);

/* The state document hooks receive, built from what init knows. */
struct json_t;
