#pragma once
/*
 * User namespace id maps.  Root writes /proc/PID/{uid,gid}_map directly.  An
 * unprivileged user can write only a single mapping of its own ids (with
 * setgroups denied); anything else goes through the setuid helpers
 * newuidmap/newgidmap, which check /etc/subuid and /etc/subgid: the
 * ecosystem's contract for rootless id ranges.
 */
#include <stdbool.h>
#include <sys/types.h>

#include "runtime/spec.h"
#include "util/error.h"

/* True when, for the current user, @spec's maps need newuidmap/newgidmap. */
bool cove_idmap_uses_helpers(const struct cove_spec *spec);

/* Write the maps of @spec for process @pid. */
int cove_idmap_write(pid_t pid, const struct cove_spec *spec, bool rootless,
		     struct cove_error *err);
