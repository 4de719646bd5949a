#pragma once
/*
 * A CNI runtime (containernetworking/cni SPEC.md, spec version 1.0.0):
 * runs the plugins of a network's configuration list (network.h) for one
 * attachment of a container, as libcni does.
 *
 * Protocol.  Each plugin is an executable named by its "type", looked up
 * in the plugin path, run with a clean environment (CNI_COMMAND,
 * CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH and a fixed
 * PATH for the tools plugins call, such as iptables), in a process group
 * of its own, killed after a timeout.  Its stdin is the plugin's object
 * from the list with the list's "name" and "cniVersion" injected, plus
 *   - "runtimeConfig": the capability arguments the plugin declares in its
 *     "capabilities" ("portMappings", "aliases", anything the caller adds),
 *   - "prevResult": for ADD, the previous plugin's result (each plugin's
 *     result chains into the next); for CHECK and DEL, the cached result
 *     of the ADD (lists of cniVersion 0.4.0 and later).
 * ADD runs the plugins in order, DEL in reverse order.  A plugin that
 * fails prints {"code", "msg", "details"} on stdout; that becomes the
 * cove_error, naming the plugin, the network and the command.
 *
 * Cache.  A successful ADD records the attachment in
 *   <cache_dir>/results/<network>-<container id>-<ifname>
 * in libcni's format ({"kind": "cniCacheV1", "containerId", "ifName",
 * "networkName", "config": base64 of the list, "capabilityArgs",
 * "result"}); CHECK and DEL read it, a DEL that succeeds removes it.  All
 * operations on one cache directory are serialised by a lock file
 * (<cache_dir>/lock), so concurrent cove processes never interleave two
 * attachments' plugin runs on one bridge.
 *
 * The plugins need the privileges of the network namespaces they touch
 * (root, or a user namespace owning them).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/network.h"
#include "util/error.h"

#define COVE_CNI_PATH_DEFAULT "/usr/libexec/cni:/usr/lib/cni:/opt/cni/bin"
#define COVE_CNI_TIMEOUT_DEFAULT 60 /* seconds, per plugin run */

/* A published port: the portmap plugin's "portMappings" entry. */
struct cove_cni_port {
	const char *host_ip; /* NULL or "": every address of the host */
	uint16_t host_port;
	uint16_t container_port;
	const char *protocol; /* "tcp" (also when NULL), "udp" or "sctp" */
};

/* One attachment of a container to a network; everything borrowed. */
struct cove_cni_attach {
	/*
	 * Required: [a-zA-Z0-9][a-zA-Z0-9_.-]* (the spec's rule; it also
	 * names the cache file).
	 */
	const char *container_id;
	/*
	 * The namespace path (netns.h); required for ADD and CHECK.  Give
	 * it to DEL too, before removing the namespace: the bridge plugin
	 * (1.1.1) removes its masquerade rules only when it can look
	 * inside.  DEL passes no CNI_NETNS when the path is not a network
	 * namespace (any more).
	 */
	const char *netns;
	const char *ifname; /* NULL: "eth0"; at most 15 characters */
	const struct cove_cni_port *ports;
	size_t n_ports;
	/*
	 * Names for DNS plugins: runtimeConfig "aliases" is
	 * {"<network name>": [aliases...]} (podman's convention).
	 */
	char *const *aliases;
	/*
	 * More capability arguments (an object: capability name -> value,
	 * e.g. "ips", "mac", "bandwidth"); each goes to the plugins that
	 * declare the capability.  May be NULL.
	 */
	const json_t *runtime_config;
	const char *args; /* CNI_ARGS ("K=V;K2=V2"); NULL for none */
	/* Colon-separated plugin directories; NULL: COVE_CNI_PATH_DEFAULT. */
	const char *plugin_path;
	/* Required: where results are cached (under the engine's runroot). */
	const char *cache_dir;
	unsigned timeout_sec; /* 0: COVE_CNI_TIMEOUT_DEFAULT */
};

/*
 * What a result says about the container's interface.  Every member is
 * owned and freed by cove_cni_result_release(); a member the result does
 * not give is NULL / 0.
 */
struct cove_cni_result {
	char *cni_version;
	char *interface;      /* the container-side interface ("eth0") */
	char *mac;	      /* its MAC address */
	char *ipv4;	      /* its first IPv4 address, "10.88.0.2" */
	unsigned ipv4_prefix; /* 16 for 10.88.0.2/16 */
	char *ipv4_gateway;
	char *ipv6; /* its first IPv6 address, without the prefix */
	unsigned ipv6_prefix;
	char *ipv6_gateway;
	json_t *raw; /* the whole result */
};

void cove_cni_result_release(struct cove_cni_result *r);

/*
 * Parse a result (SPEC.md "Success", versions 0.3.0 to 1.0.0).  The
 * container interface is the one named @ifname inside a sandbox, else the
 * first inside a sandbox; addresses are those of "ips" whose "interface"
 * index points at it (or that name none).  Errors name the field path
 * ("ips[1].address").  On failure *ret is left zeroed.
 */
int cove_cni_result_parse(const char *buf, size_t len, const char *ifname,
			  struct cove_cni_result *ret, struct cove_error *err);
/* The same for a parsed document; takes a reference of its own. */
int cove_cni_result_from_json(json_t *raw, const char *ifname,
			      struct cove_cni_result *ret,
			      struct cove_error *err);

/*
 * Attach: run ADD of every plugin of @net in order.  On success the
 * result goes to *ret (release with cove_cni_result_release(); @ret may be
 * NULL) and to the cache.  -EEXIST when the cache already records the
 * container's interface @ifname, on this or another network (DEL it
 * first, or use another ifname: a second ADD would fail, and the clean-up
 * after that failure would delete the existing interface).  When a plugin
 * fails, DEL runs for every plugin of the list in reverse order (SPEC.md: the
 * runtime cleans up after a failed ADD), so nothing that succeeded stays
 * behind, and the plugin's error is returned.
 */
int cove_cni_add(const struct cove_network *net,
		 const struct cove_cni_attach *a, struct cove_cni_result *ret,
		 struct cove_error *err);

/*
 * Verify an attachment: CHECK of every plugin, with the cached result.
 * -ENOENT without a cached result, -ENOTSUP for lists older than 0.4.0;
 * a list with "disableCheck": true passes without running anything.
 */
int cove_cni_check(const struct cove_network *net,
		   const struct cove_cni_attach *a, struct cove_error *err);

/*
 * Detach: DEL of every plugin in reverse order, with the cached result as
 * prevResult when there is one.  Every plugin runs even when one fails
 * (the first error is returned and the cache kept for a retry).
 * Idempotent: DEL of a detached container succeeds (plugins must allow
 * it; the Debian plugins do).  Capability arguments are the attachment's,
 * or the cached ones when it gives none.
 */
int cove_cni_del(const struct cove_network *net,
		 const struct cove_cni_attach *a, struct cove_error *err);

/*
 * The cached result of an attachment (no plugin runs): -ENOENT when there
 * is none.  @ifname NULL means "eth0".  For `inspect` and the engine's
 * restart path.
 */
int cove_cni_cached_result(const char *cache_dir, const char *network,
			   const char *container_id, const char *ifname,
			   struct cove_cni_result *ret, struct cove_error *err);

/*
 * The configuration list an attachment was made with, from its cache
 * entry (-ENOENT when there is none): DEL through it detaches containers
 * from a network whose file has been removed or changed since.
 */
int cove_cni_cached_network(const char *cache_dir, const char *network,
			    const char *container_id, const char *ifname,
			    struct cove_network **ret, struct cove_error *err);

/*
 * The stdin of plugin @idx of @net (exposed for tests): its object with
 * "name" and "cniVersion" injected, "runtimeConfig" holding the members
 * of @capability_args (may be NULL) that the plugin declares, and
 * "prevResult" when @prev_result is not NULL.  *ret owned by the caller.
 */
int cove_cni_plugin_config(const struct cove_network *net, size_t idx,
			   const json_t *capability_args,
			   const json_t *prev_result, json_t **ret,
			   struct cove_error *err);
