#pragma once
/*
 * The network and logging options of `cove create` / `cove run`, as
 * podman 4.3 takes them, checked and recorded in the create options (the
 * docker-style config object of engine.h):
 *
 *   --dns-search DOMAIN    HostConfig.DnsSearch   ("." alone: no search line)
 *   --dns-option OPT       HostConfig.DnsOptions
 *   --network-alias NAME   NetworkingConfig.EndpointsConfig.<net>.Aliases
 *   --ip ADDR              NetworkingConfig.EndpointsConfig.<net>
 *                            .IPAMConfig.IPv4Address
 *   --mac-address MAC      Config.MacAddress (lowercase)
 *   --expose PORT[/PROTO]  Config.ExposedPorts {"80/tcp": {}}
 *   --log-driver DRIVER    HostConfig.LogConfig.Type
 *
 * <net> is HostConfig.NetworkMode as given ("bridge", a network's name),
 * known once every option has been read: cove_netopts_check() files the
 * endpoint options under it.
 */
#include <jansson.h>
#include <stdbool.h>

#include "util/error.h"

enum cove_netopt {
	COVE_NETOPT_DNS_SEARCH,
	COVE_NETOPT_DNS_OPTION,
	COVE_NETOPT_ALIAS,
	COVE_NETOPT_IP,
	COVE_NETOPT_MAC,
	COVE_NETOPT_EXPOSE,
	COVE_NETOPT_LOG_DRIVER,
};

/* The log drivers cove has; the first is the default. */
#define COVE_LOG_DRIVER_JSON "json-file"
#define COVE_LOG_DRIVER_NONE "none"
#define COVE_LOG_DRIVER_PASSTHROUGH "passthrough"

/*
 * Record option @opt with @value in @config (which has a "HostConfig"
 * object).  -EINVAL with a message naming the option and the value when
 * the value is not valid.
 */
int cove_netopt_add(json_t *config, enum cove_netopt opt, const char *value,
		    struct cove_error *err);

/*
 * After every option: check the combinations podman refuses (a search
 * domain beside ".", endpoint options without a bridge network, DNS, host
 * entries, ports or a host name with --network container:..., passthrough
 * logging on a terminal or detached) and file the endpoint options under
 * the network's name.  @detach: the run is detached (-d).  -EINVAL with a
 * message.
 */
int cove_netopts_check(json_t *config, bool detach, struct cove_error *err);

/*
 * The container a "container:NAME|ID" network mode names, or NULL for
 * any other mode (@mode may be NULL).  Points into @mode.
 */
const char *cove_netmode_container(const char *mode);

/*
 * Refuse what only a bridge network can do (--network-alias, --ip in the
 * endpoint options @ep, --mac-address): for a network mode that is not
 * one, or rootless slirp4netns.
 */
int cove_netopts_refuse_bridge_only(const json_t *config, const json_t *ep,
				    struct cove_error *err);

/*
 * The endpoint options of @config: the first (only) member of
 * NetworkingConfig.EndpointsConfig, or NULL.
 */
const json_t *cove_netopts_endpoint(const json_t *config);

/* HostConfig.LogConfig.Type, or COVE_LOG_DRIVER_JSON when unset. */
const char *cove_netopts_log_driver(const json_t *config);

/*
 * "aa:bb:cc:dd:ee:ff" (either case) to lowercase in @buf (18 bytes);
 * -EINVAL for anything else, and for multicast addresses (the low bit of
 * the first octet), which no interface can have.
 */
int cove_mac_parse(const char *s, char buf[18]);

/*
 * The container's /etc/resolv.conf, made from @host_file (the host's:
 * loopback name servers dropped, unreachable from a network namespace)
 * and HostConfig @host: its "Dns" servers replace the host's
 * nameserver lines, "DnsSearch" its search and domain lines ("." alone:
 * no search line at all), "DnsOptions" its options lines, as podman
 * does.  *ret owned by the caller; -errno on failure.
 */
int cove_netopts_resolv(const json_t *host, const char *host_file, char **ret);
