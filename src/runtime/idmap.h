#pragma once
/*
 * User namespace id maps.  Root writes /proc/PID/{uid,gid}_map directly.  An
 * unprivileged user can write only a single mapping of its own ids (with
 * setgroups denied); anything else goes through the setuid helpers
 * newuidmap/newgidmap, which check /etc/subuid and /etc/subgid: the
 * ecosystem's contract for rootless id ranges.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "runtime/spec.h"
#include "util/error.h"

/* True when, for the current user, @spec's maps need newuidmap/newgidmap. */
bool cove_idmap_uses_helpers(const struct cove_spec *spec);

/*
 * Run @helper (newuidmap or newgidmap; a name looked up in PATH or an
 * absolute path) to write the maps @m for process @pid, and wait for it.
 * -EPERM with @err when it fails (its own message goes to stderr).
 */
int cove_idmap_run_helper(const char *helper, pid_t pid,
			  const struct cove_id_mapping *m, size_t n,
			  struct cove_error *err);

/* Write the maps of @spec for process @pid. */
int cove_idmap_write(pid_t pid, const struct cove_spec *spec, bool rootless,
		     struct cove_error *err);

/*
 * A user namespace fd carrying @uid/@gid maps (containerID -> hostID), for
 * idmapped mounts: a short-lived child unshares it, we write its maps, open
 * /proc/CHILD/ns/user and let the child go.  Needs root on the host.
 */
int cove_idmap_userns_fd(const struct cove_id_mapping *uid, size_t n_uid,
			 const struct cove_id_mapping *gid, size_t n_gid,
			 int *ret_fd, struct cove_error *err);

/*
 * Whether this process runs in the initial user namespace (its uid_map is
 * the identity over all ids).  Inside another one, even as its root, the
 * runtime cannot mknod devices or manage cgroups it was not delegated.
 */
bool cove_in_initial_userns(void);
