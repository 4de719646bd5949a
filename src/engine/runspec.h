#pragma once
/*
 * A container's OCI config.json from its create options (engine.h) and its
 * image: the image's defaults through cove_bundle_spec() (image layer),
 * then what the command line adds on top: mounts (binds, volumes, tmpfs,
 * the engine's /etc files), the network namespace, resources, ulimits,
 * security options, the init.
 */
#include <jansson.h>

#include "engine/engine.h"
#include "image/pull.h"
#include "util/error.h"

/*
 * *ret (owned by the caller) is the config.json of container @id named
 * @name, with its root at @rootfs.  Errors name the option
 * ("invalid --mount 'type=x': ...").
 */
int cove_engine_build_spec(struct cove_engine *e, const char *id,
			   const char *name, const json_t *config,
			   const struct cove_image *img, const char *rootfs,
			   const char *hostname, json_t **ret,
			   struct cove_error *err);

/*
 * Write <dir>/hosts: localhost, this container (@ip, may be NULL), its
 * ExtraHosts and @peers (NULL-terminated "IP NAME" lines, may be NULL).  The
 * file is rewritten in place (it is bind-mounted: a rename would leave the
 * container on the old inode).
 */
int cove_engine_write_hosts(const char *dir, const json_t *config,
			    const char *hostname, const char *ip,
			    char *const *peers, struct cove_error *err);

/*
 * The host's resolv.conf at @path without nameservers on loopback (which a
 * container's own network namespace cannot reach); *ret caller frees.
 */
int cove_engine_filtered_resolv(const char *path, char **ret);
