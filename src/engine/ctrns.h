#pragma once
/*
 * The namespaces and kernel knobs of a container that podman's create
 * options choose (ctrns.c):
 *
 *   --pid / --ipc / --uts MODE   HostConfig.PidMode / IpcMode / UTSMode:
 *                                private (default), host (no namespace of
 *                                its own), container:X (X's, joined at
 *                                every start), ns:PATH; --ipc also
 *                                shareable (= private) and none (private,
 *                                without /dev/shm)
 *   --device HOST[:CTR[:PERMS]]  HostConfig.Devices: the node in the
 *                                container and a device cgroup rule
 *   --group-add GID|NAME         HostConfig.GroupAdd: additional gids
 *   --sysctl NAME=VALUE          HostConfig.Sysctls, only the namespaced
 *                                ones, and only when the container has the
 *                                namespace to itself
 *   --shm-size SIZE              HostConfig.ShmSize: the /dev/shm tmpfs
 *
 * The parsers below are for the CLI (a bad value is refused before
 * anything is made); the engine functions check the whole HostConfig
 * again, so that a config that did not come through the CLI is held to
 * the same rules.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/containers.h"
#include "util/error.h"

struct cove_engine;

enum cove_nsmode_kind {
	COVE_NSMODE_PRIVATE,
	COVE_NSMODE_HOST,
	COVE_NSMODE_CONTAINER, /* arg: the container's name or id */
	COVE_NSMODE_PATH,      /* arg: an absolute path (ns:PATH) */
	COVE_NSMODE_SHAREABLE, /* ipc only: a private one */
	COVE_NSMODE_NONE,      /* ipc only: private, no /dev/shm */
};

struct cove_nsmode {
	enum cove_nsmode_kind kind;
	const char *arg; /* points into the parsed string; NULL when none */
};

/*
 * Parse the value @s of --@option ("pid", "ipc" or "uts").  NULL or "" is
 * private.  -EINVAL with @err naming the option and value when invalid.
 */
int cove_nsmode_parse(const char *option, const char *s,
		      struct cove_nsmode *ret, struct cove_error *err);

struct cove_device_opt {
	char *host;    /* absolute host path */
	char *ctr;     /* absolute container path (default: @host) */
	char perms[4]; /* a subset of "rwm" in that order, never empty */
};

/*
 * Parse "HOST[:CTR[:PERMS]]" (also "HOST:PERMS").  Only the syntax: the
 * host node is checked by cove_device_opt_stat().  Caller releases.
 */
int cove_device_opt_parse(const char *spec, struct cove_device_opt *ret,
			  struct cove_error *err);
void cove_device_opt_release(struct cove_device_opt *d);

/*
 * The host node of @path (symlinks followed): its type 'c' or 'b', major,
 * minor, permission bits and owner.  A directory (--device /dev/snd) is
 * type 'd' (nothing else set) when it holds at least one node below it:
 * each is added at its relative path under the container path, symlinks
 * inside skipped.  A missing path or one that is neither is an error
 * naming @spec.
 */
struct cove_device_node {
	char type;
	uint32_t major, minor, mode, uid, gid;
};
int cove_device_opt_stat(const char *path, const char *spec,
			 struct cove_device_node *ret, struct cove_error *err);

/* The namespace a sysctl belongs to. */
enum cove_sysctl_ns {
	COVE_SYSCTL_NOT_ALLOWED = -1,
	COVE_SYSCTL_NET,
	COVE_SYSCTL_IPC,
	COVE_SYSCTL_UTS,
};

/*
 * Which namespace scopes sysctl @key, as podman allows them: net.*,
 * kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, kernel.hostname and
 * kernel.domainname; everything else would change the host.
 */
enum cove_sysctl_ns cove_sysctl_namespace(const char *key);

/*
 * Split "NAME=VALUE" (NAME with '/' separators is taken as dots).
 * Refused: no '=' or an empty NAME, a sysctl that is not allowed.  Caller
 * frees *ret_key (the value points into @spec).
 */
int cove_sysctl_parse(const char *spec, char **ret_key, const char **ret_value,
		      struct cove_error *err);

/* --group-add VALUE: a gid or group name; keep-groups is refused. */
int cove_group_add_check(const char *value, struct cove_error *err);

/*
 * Check the options of HostConfig @host together (sysctls against the
 * namespaces they need, --hostname with --uts host, --shm-size with a
 * /dev/shm that is not the container's own, --restart with a joined
 * namespace) and the host nodes of --device.  @config: the whole create
 * config (its Hostname).
 */
int cove_engine_ctrns_check(const json_t *config, struct cove_error *err);

/*
 * Resolve every container:NAME of PidMode/IpcMode/UTSMode in @config's
 * HostConfig to container:ID (as podman records them).  A container that
 * does not exist is -ENOENT naming it.
 */
int cove_engine_ctrns_resolve(struct cove_engine *e, json_t *config,
			      struct cove_error *err);

/*
 * Apply the options to the OCI @spec being built for the container whose
 * directory is @dir and rootfs @rootfd (for group names): namespaces,
 * /dev/shm, devices and their cgroup rules, additionalGids, sysctls, the
 * hostname.  A joined container's namespace path is filled in at start.
 */
int cove_engine_ctrns_spec(struct cove_engine *e, const json_t *config,
			   const char *dir, int rootfd, json_t *spec,
			   struct cove_error *err);

/*
 * Before @c starts: every container whose namespace it joins must be
 * running; its config.json gets their current /proc/PID/ns/TYPE paths.
 * Nothing (and no file access) when it joins none.
 */
int cove_engine_ctrns_prepare_start(struct cove_engine *e,
				    const struct cove_ctr *c,
				    struct cove_error *err);

/*
 * Before @c is removed: -EBUSY, naming them, when other containers join
 * one of its namespaces (they must be removed first, as podman says).
 */
int cove_engine_ctrns_check_dependents(struct cove_engine *e,
				       const struct cove_ctr *c,
				       struct cove_error *err);
