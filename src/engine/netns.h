#pragma once
/*
 * Persistent network namespaces: a namespace that lives without any
 * process in it, pinned by a bind mount of its nsfs file onto a regular
 * file (what `ip netns add` does under /run/netns).  The engine keeps one
 * per container in bridge mode at <runroot>/netns/<id>; CNI plugins get
 * that path as CNI_NETNS and the runtime joins it through the OCI
 * config's linux.namespaces[].path.
 *
 * A new namespace has only a `lo` that is down; the loopback CNI plugin
 * (cove_network_loopback() in network.h) brings it up.
 */
#include <stdbool.h>

#include "util/error.h"

/*
 * Create a new network namespace pinned at @path.  Missing parent
 * directories are created (0755); @path itself becomes an empty 0444 file
 * with the namespace bind-mounted on it.  An empty file left at @path by a
 * crash is reused; an already mounted namespace is -EEXIST.  On failure
 * nothing is left at @path.  Needs CAP_SYS_ADMIN in the caller's user and
 * mount namespaces.
 */
int cove_netns_create(const char *path, struct cove_error *err);

/*
 * Unpin the namespace at @path (lazy unmount) and unlink the file.  The
 * namespace itself goes away with the last process or mount that holds
 * it.  Idempotent: a missing or unmounted @path is success.
 */
int cove_netns_remove(const char *path, struct cove_error *err);

/* Whether @path is a pinned network namespace (an nsfs mount). */
bool cove_netns_is_mounted(const char *path);
