#pragma once
/*
 * The container lifecycle of the OCI runtime spec: create, start, kill,
 * delete, pause/resume, update, exec.  One call each; the CLI only parses
 * flags into these options.
 */
#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "runtime/cgroup.h"
#include "runtime/state.h"
#include "util/error.h"

enum cove_cgroup_manager {
	COVE_CGROUP_MANAGER_CGROUPFS,
	COVE_CGROUP_MANAGER_SYSTEMD,
	COVE_CGROUP_MANAGER_DISABLED,
};

struct cove_create_opts {
	const char *root; /* runtime state root */
	const char *id;
	const char *bundle;	 /* absolute path */
	const char *config_file; /* NULL: <bundle>/config.json */
	const char *console_socket;
	const char *pid_file;
	bool no_pivot;
	bool no_new_keyring;
	int preserve_fds;
	enum cove_cgroup_manager cgroup_manager;
	/*
	 * Foreground `run`: the init stays a child of the caller, and with a
	 * terminal but no console socket the pty master is returned in
	 * *ret_pty (else -1).
	 */
	bool foreground;
	/*
	 * A directory caching compiled seccomp programs (see
	 * cove_seccomp_compile_cached()); NULL: compile every time.
	 */
	const char *seccomp_cache_dir;
};

/* Create: everything set up, the user process blocked until start. */
int cove_container_create(const struct cove_create_opts *o, pid_t *ret_pid,
			  int *ret_pty, struct cove_error *err);

/* Start a created container (runs poststart hooks). */
int cove_container_start(const char *root, const char *id,
			 struct cove_error *err);

/* Send @sig to the init (or, with @all, to every process of the cgroup). */
int cove_container_kill(const char *root, const char *id, int sig, bool all,
			struct cove_error *err);

/*
 * Delete: the container must be stopped (or created), unless @force, which
 * kills it first.  Runs poststop hooks, removes the cgroup and the state.
 */
int cove_container_delete(const char *root, const char *id, bool force,
			  struct cove_error *err);

int cove_container_pause(const char *root, const char *id, bool pause,
			 struct cove_error *err);

/* Apply new resources (linux.resources JSON) to a running container. */
int cove_container_update(const char *root, const char *id, json_t *resources,
			  struct cove_error *err);

struct cove_exec_opts {
	const char *root;
	const char *id;
	json_t *process; /* a runtime-spec "process" object */
	const char *console_socket;
	const char *pid_file;
	int preserve_fds;
	bool detach;
	bool foreground_pty;	       /* return the pty master (see create) */
	const char *seccomp_cache_dir; /* as in cove_create_opts */
};

/*
 * Run an additional process in a running container.  Returns the host pid
 * (the caller waits for it unless detached).
 */
int cove_container_exec(const struct cove_exec_opts *o, pid_t *ret_pid,
			int *ret_pty, struct cove_error *err);

/* Wait for a child and turn its status into a shell-style exit code. */
int cove_wait_exit_code(pid_t pid);
/* A wait status as a shell-style exit code (128 + N for signal N). */
int cove_exit_code(int status);
