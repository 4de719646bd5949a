#pragma once
/*
 * seccomp filters from linux.seccomp, built with libseccomp.
 *
 * The filter is compiled in the runtime process (so errors surface before any
 * namespace exists) and loaded by the container init just before execve.
 */
#include <jansson.h>
#include <stdbool.h>

#include "util/error.h"

struct cove_seccomp;
struct sock_filter;

/*
 * Validate linux.seccomp (@path: "linux.seccomp") and build the filter:
 * defaultAction, defaultErrnoRet, architectures, flags, syscalls with names,
 * action, errnoRet and args (index, value, valueTwo, op).  Unknown syscall
 * names are skipped (as runc does: they do not exist on this kernel), unknown
 * actions, ops, arches or flags are errors.  *ret owned by the caller.
 */
int cove_seccomp_compile(json_t *seccomp, const char *path,
			 struct cove_seccomp **ret, struct cove_error *err);

/*
 * As cove_seccomp_compile(), with an on-disk cache of compiled programs in
 * @cache_dir (NULL: no cache).  The directory is created 0700 if missing
 * and used only when owned by root or the effective uid and writable by no
 * one else (see the trust model in seccomp-cache.c).  On a hit the profile
 * is still validated (same errors as without the cache) but libseccomp
 * compiles nothing; on a miss the program is compiled and written to the
 * cache.  Cache problems (untrusted directory, corrupt or mismatching
 * file, write errors) never fail the call: the profile is compiled as
 * without a cache.
 */
int cove_seccomp_compile_cached(json_t *seccomp, const char *path,
				const char *cache_dir,
				struct cove_seccomp **ret,
				struct cove_error *err);

/* True when the program of @s was loaded from the cache. */
bool cove_seccomp_from_cache(const struct cove_seccomp *s);

/*
 * The BPF program of @s (*ret_len instructions), owned by @s: what
 * cove_seccomp_load() hands the kernel.
 */
const struct sock_filter *cove_seccomp_program(const struct cove_seccomp *s,
					       size_t *ret_len);

/* True when some rule uses SCMP_ACT_NOTIFY (a listener fd will exist). */
bool cove_seccomp_uses_notify(const struct cove_seccomp *s);
/* listenerPath and listenerMetadata (may be NULL). */
const char *cove_seccomp_listener_path(const struct cove_seccomp *s);
const char *cove_seccomp_listener_metadata(const struct cove_seccomp *s);

/*
 * Load the filter into the calling process (with its flags).  When the filter
 * uses SCMP_ACT_NOTIFY, *ret_notify_fd receives the listener fd (else -1).
 */
int cove_seccomp_load(struct cove_seccomp *s, int *ret_notify_fd,
		      struct cove_error *err);

/*
 * Hand the notify fd to the listener at listenerPath: connect to the unix
 * socket and send the container process state JSON (runtime-spec
 * "containerProcessState") with the fd as SCM_RIGHTS.  @state_json is the
 * container state document.
 */
int cove_seccomp_send_listener(const struct cove_seccomp *s, int notify_fd,
			       pid_t pid, json_t *state,
			       struct cove_error *err);

void cove_seccomp_free(struct cove_seccomp *s);
static inline void cove_seccomp_freep(struct cove_seccomp **s)
{
	cove_seccomp_free(*s);
}
#define _cleanup_seccomp_ __attribute__((cleanup(cove_seccomp_freep)))

/* For `features`: the actions, ops, arches and flags cove supports. */
json_t *cove_seccomp_features(void);
