#pragma once
/*
 * What create needs to know of a container's network (ctrnet.c); the
 * per-start attach and detach are cove_engine_net_setup() and
 * cove_engine_net_teardown() (engine-internal.h).
 *
 * --network container:NAME|ID joins the network namespace of another
 * running cove container: its namespace is given to the runtime as
 * /proc/<its pid>/ns/net at each start, and its /etc/hosts, resolv.conf
 * and hostname files are bind-mounted, so the two see the same names.
 * HostConfig.NetworkMode holds "container:<full id>" (podman's and
 * docker's record of the dependency).
 */
#include <jansson.h>

#include "engine/engine.h"
#include "util/error.h"

/*
 * At create, before anything is made: resolve "container:NAME" in
 * HostConfig.NetworkMode of @config to "container:<full id>" (a target
 * that itself joined another's network leads to that one), -ENOENT when
 * there is no such container; refuse --ip, --mac-address and
 * --network-alias on slirp4netns; check a static --ip against the network's
 * subnets and the addresses of its running containers (podman's messages).
 */
int cove_engine_net_resolve(struct cove_engine *e, json_t *config,
			    struct cove_error *err);

/*
 * The directory of the container whose network @config joins (its /etc
 * files are shared), or NULL when it joins none (or on allocation
 * failure).  Caller frees.
 */
char *cove_engine_net_peer_dir(struct cove_engine *e, const json_t *config);

/*
 * The host name of the container whose network @config joins (the first
 * line of its hostname file), or NULL.  Caller frees.
 */
char *cove_engine_net_peer_hostname(struct cove_engine *e,
				    const json_t *config);
