/*
 * A container's network, per start: a namespace pinned at
 * <runroot>/netns/<id>, attached to its network through CNI (cni.h) with
 * the published ports, `lo` brought up by the loopback plugin, and the
 * address written to the row (HostConfig stays as the user gave it;
 * NetworkSettings is what inspect shows) and to the hosts files of every
 * running container of the same network, so containers reach each other
 * by name.  Rootless engines (no bridges without root), and the
 * "slirp4netns" mode, get slirp4netns instead (slirp.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/cni.h"
#include "engine/ctrnet.h"
#include "engine/engine-internal.h"
#include "engine/netns.h"
#include "engine/netopts.h"
#include "engine/network.h"
#include "engine/runspec.h"
#include "engine/slirp.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

#define SYSTEM_CNI_DIR "/etc/cni/net.d"

/*
 * The network a mode names: NULL for none/host and another container's
 * network (container:ID), "cove" for bridge.
 */
static const char *network_of(const struct cove_ctr *c)
{
	const char *m = json_string_value(json_object_get(
	    json_object_get(c->config, "HostConfig"), "NetworkMode"));

	if (!m || !strcmp(m, "bridge") || !strcmp(m, "default"))
		return "cove";
	if (!strcmp(m, "none") || !strcmp(m, "host") ||
	    cove_netmode_container(m))
		return NULL;
	return m;
}

/* --network-alias names, space-separated after " ", or "" */
static char *alias_list(const struct cove_ctr *c)
{
	const json_t *al =
	    json_object_get(cove_netopts_endpoint(c->config), "Aliases");
	char *s = strdup("");
	json_t *v;
	size_t i;

	json_array_foreach(al, i, v)
	{
		char *n;
		if (!s || !json_string_value(v))
			continue;
		n = cove_strdup_printf("%s %s", s, json_string_value(v));
		free(s);
		s = n;
	}
	return s;
}

/*
 * slirp4netns (slirp.h): asked for by name, and the default network of a
 * rootless engine, which cannot make bridges.
 */
static bool slirp_mode(const struct cove_engine *e, const struct cove_ctr *c)
{
	const char *name = network_of(c);

	return name && (!strcmp(name, "slirp4netns") ||
			(e->rootless && !strcmp(name, "cove")));
}

static char *netns_path(struct cove_engine *e, const struct cove_ctr *c)
{
	return cove_strdup_printf("%s/netns/%s", e->runroot, c->id);
}

static const char *ctr_ip(const struct cove_ctr *c)
{
	return json_string_value(json_object_get(
	    json_object_get(c->config, "NetworkSettings"), "IPAddress"));
}

/*
 * Rewrite the hosts file of every running container of @net so that each
 * lists all the others.  Best effort: a container whose file cannot be
 * written keeps its old list.
 */
static void refresh_hosts(struct cove_engine *e, const char *net,
			  const char *skip_id)
{
	struct cove_error err = {0};
	struct cove_ctr *cs = NULL;
	size_t n = 0;
	sqlite3 *db;

	if (cove_engine_db(e, &db, &err) < 0 ||
	    cove_ctr_list(db, &cs, &n, &err) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		_cleanup_strv_ char **peers = NULL;
		_cleanup_free_ char *dir = NULL;
		const char *hn;

		if (!ctr_ip(&cs[i]) || !strcmp(cs[i].id, skip_id) ||
		    !network_of(&cs[i]) || strcmp(network_of(&cs[i]), net))
			continue;
		for (size_t j = 0; j < n; j++) {
			_cleanup_free_ char *line = NULL, *al = NULL;
			if (j == i || !ctr_ip(&cs[j]) ||
			    !strcmp(cs[j].id, skip_id) || !network_of(&cs[j]) ||
			    strcmp(network_of(&cs[j]), net))
				continue;
			al = alias_list(&cs[j]);
			line = cove_strdup_printf("%s\t%s%s", ctr_ip(&cs[j]),
						  cs[j].name, al ? al : "");
			if (line)
				(void)cove_strv_push(&peers, line);
		}
		dir = cove_engine_ctr_dir(e, cs[i].id);
		hn = json_string_value(json_object_get(
		    json_object_get(cs[i].config, "NetworkSettings"),
		    "Hostname"));
		if (dir && hn) {
			_cleanup_free_ char *names =
			    strcmp(hn, cs[i].name)
				? cove_strdup_printf("%s %s", hn, cs[i].name)
				: strdup(hn);
			if (names)
				(void)cove_engine_write_hosts(
				    dir, cs[i].config, names, ctr_ip(&cs[i]),
				    peers, &err);
		}
	}
	cove_ctrs_free(cs, n);
}

static int port_bindings(const struct cove_ctr *c, struct cove_cni_port **ret,
			 size_t *ret_n)
{
	const json_t *pb = json_object_get(
	    json_object_get(c->config, "HostConfig"), "PortBindings");
	struct cove_cni_port *v;
	size_t i;
	json_t *p;

	*ret = NULL;
	*ret_n = 0;
	if (!json_array_size(pb))
		return 0;
	v = calloc(json_array_size(pb), sizeof(*v));
	if (!v)
		return -ENOMEM;
	json_array_foreach(pb, i, p)
	{
		v[i].host_ip = json_string_value(json_object_get(p, "HostIp"));
		v[i].host_port = (uint16_t)json_integer_value(
		    json_object_get(p, "HostPort"));
		v[i].container_port = (uint16_t)json_integer_value(
		    json_object_get(p, "ContainerPort"));
		v[i].protocol =
		    json_string_value(json_object_get(p, "Protocol"));
	}
	*ret = v;
	*ret_n = json_array_size(pb);
	return 0;
}

/*
 * --network container:ID.  The runtime joins the namespace of the target's
 * init, whose pid changes at each of its starts: config.json is pointed at
 * /proc/<pid>/ns/net now, after checking that the target runs.
 */
static int join_container(struct cove_engine *e, struct cove_ctr *c,
			  const char *target, struct cove_error *err)
{
	_cleanup_free_ char *dir = NULL, *file = NULL, *path = NULL;
	_cleanup_json_ json_t *spec = NULL;
	struct cove_ctr t = {0};
	int r;

	r = cove_engine_lookup(e, target, &t, err);
	if (r < 0)
		return cove_error_wrap(err,
				       "joining the network namespace of "
				       "container %s",
				       target);
	if (t.pid <= 0 || !t.state ||
	    (strcmp(t.state, "running") && strcmp(t.state, "paused"))) {
		r = cove_error_set(err, EINVAL,
				   "cannot join the network namespace of "
				   "container %s: it is not running (start "
				   "it first)",
				   t.name);
		cove_ctr_release(&t);
		return r;
	}
	path = cove_strdup_printf("/proc/%d/ns/net", (int)t.pid);
	cove_ctr_release(&t);
	dir = cove_engine_ctr_dir(e, c->id);
	file = dir ? cove_strdup_printf("%s/config.json", dir) : NULL;
	if (!path || !file)
		return -ENOMEM;
	r = cove_json_load_file(file, 16 << 20, &spec, err);
	if (r < 0)
		return r;
	cove_engine_spec_join_ns(spec, "network", path);
	return cove_engine_spec_save(file, spec, err);
}

static const char *static_ip(const json_t *config)
{
	return json_string_value(json_object_get(
	    json_object_get(cove_netopts_endpoint(config), "IPAMConfig"),
	    "IPv4Address"));
}

/*
 * A static address must lie in one of the network's IPv4 ranges, not be
 * its gateway, and not be another running container's (podman's checks;
 * host-local would refuse too, less clearly).
 */
static int check_static_ip(struct cove_engine *e, const char *id,
			   const struct cove_network *net, const char *ip,
			   struct cove_error *err)
{
	struct cove_ctr *cs = NULL;
	bool inside = false;
	size_t n = 0;
	uint32_t addr;
	sqlite3 *db;
	int r;

	if (cove_ipv4_parse(ip, &addr) < 0)
		return cove_error_set(
		    err, EINVAL, "invalid --ip '%s': not an IPv4 address", ip);
	for (size_t i = 0; i < net->n_ranges; i++) {
		struct cove_subnet sn;
		struct cove_error ignore = {0};
		uint32_t gw, mask;
		if (cove_subnet_parse(net->ranges[i].subnet, &sn, &ignore) <
			0 ||
		    !cove_subnet_contains(&sn, addr))
			continue;
		mask = sn.prefix ? ~0u << (32 - sn.prefix) : 0;
		if (net->ranges[i].gateway &&
		    cove_ipv4_parse(net->ranges[i].gateway, &gw) == 0 &&
		    gw == addr)
			return cove_error_set(err, EINVAL,
					      "requested static ip %s is the "
					      "gateway of network %s",
					      ip, net->name);
		if (sn.prefix < 31 &&
		    ((addr & ~mask) == 0 || (addr & ~mask) == ~mask))
			continue; /* the network's or the broadcast address */
		inside = true;
	}
	if (!inside)
		return cove_error_set(err, EINVAL,
				      "requested static ip %s not in any "
				      "subnet on network %s",
				      ip, net->name);
	r = cove_engine_db(e, &db, err);
	if (r >= 0)
		r = cove_ctr_list(db, &cs, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const char *other = ctr_ip(&cs[i]);
		if (strcmp(cs[i].id, id) && other && !strcmp(other, ip) &&
		    network_of(&cs[i]) &&
		    !strcmp(network_of(&cs[i]), net->name)) {
			r = cove_error_set(err, EADDRINUSE,
					   "requested ip address %s is already "
					   "allocated to container ID %s",
					   ip, cs[i].id);
			break;
		}
	}
	cove_ctrs_free(cs, n);
	return r < 0 ? r : 0;
}

/*
 * --ip and --mac-address go to the plugins as the "ips" and "mac"
 * capability arguments (host-local takes "ips", bridge "mac").  Plugins
 * get only the arguments they declare, and lists written before cove had
 * these options (the default network's, podman's) do not declare them: the
 * bridge plugins of the loaded list are made to, in memory.
 */
static json_t *static_caps(struct cove_network *net, const json_t *config)
{
	const char *ip = static_ip(config);
	const char *mac =
	    json_string_value(json_object_get(config, "MacAddress"));
	json_t *rc, *p;
	size_t i;

	if (!ip && !mac)
		return NULL;
	rc = json_object();
	if (!rc)
		return NULL;
	if (ip)
		json_object_set_new(rc, "ips", json_pack("[s]", ip));
	if (mac)
		json_object_set_new(rc, "mac", json_string(mac));
	json_array_foreach(json_object_get(net->config, "plugins"), i, p)
	{
		json_t *caps;
		if (strcmp(json_string_value(json_object_get(p, "type")) ?: "",
			   "bridge"))
			continue;
		caps = json_object_get(p, "capabilities");
		if (!json_is_object(caps)) {
			caps = json_object();
			json_object_set_new(p, "capabilities", caps);
		}
		if (ip)
			json_object_set_new(caps, "ips", json_true());
		if (mac)
			json_object_set_new(caps, "mac", json_true());
	}
	return rc;
}

int cove_engine_net_setup(struct cove_engine *e, struct cove_ctr *c,
			  struct cove_error *err)
{
	const char *name = network_of(c);
	_cleanup_free_ char *ns = NULL, *dir = NULL, *cache = NULL,
			    *ctr_dir = NULL;
	_cleanup_free_ struct cove_cni_port *ports = NULL;
	struct cove_network *net = NULL, *lo = NULL;
	struct cove_cni_result res = {0};
	struct cove_cni_attach a = {0};
	_cleanup_strv_ char **aliases = NULL;
	_cleanup_json_ json_t *caps = NULL;
	const json_t *al;
	size_t n_ports = 0;
	json_t *settings, *nets, *one, *v;
	const char *hostname, *peer;
	sqlite3 *db;
	size_t i;
	int r;

	peer = cove_netmode_container(json_string_value(json_object_get(
	    json_object_get(c->config, "HostConfig"), "NetworkMode")));
	if (peer)
		return join_container(e, c, peer, err);
	if (!name)
		return 0;
	if (slirp_mode(e, c)) {
		ns = netns_path(e, c);
		return ns ? cove_engine_slirp_setup(e, c, ns, err) : -ENOMEM;
	}
	if (e->rootless)
		return cove_error_set(err, ENOTSUP,
				      "network '%s': networks need root; run "
				      "rootless containers with the default "
				      "network (slirp4netns), --network none "
				      "or host",
				      name);
	ns = netns_path(e, c);
	dir = cove_strdup_printf("%s/networks", e->root);
	cache = cove_strdup_printf("%s/cni", e->runroot);
	ctr_dir = cove_engine_ctr_dir(e, c->id);
	if (!ns || !dir || !cache || !ctr_dir)
		return -ENOMEM;
	r = cove_network_load(dir, SYSTEM_CNI_DIR, name, &net, err);
	if (r < 0)
		return r;
	if (static_ip(c->config)) {
		r = check_static_ip(e, c->id, net, static_ip(c->config), err);
		if (r < 0)
			goto out;
	}
	caps = static_caps(net, c->config);
	/* the container's name and its --network-alias names */
	al = json_object_get(cove_netopts_endpoint(c->config), "Aliases");
	r = cove_strv_push(&aliases, c->name);
	json_array_foreach(al, i, v)
	{
		if (r >= 0 && json_string_value(v))
			r = cove_strv_push(&aliases, json_string_value(v));
	}
	if (r < 0)
		goto out;
	r = cove_network_loopback(&lo, err);
	if (r < 0)
		goto out;
	r = port_bindings(c, &ports, &n_ports);
	if (r < 0)
		goto out;
	r = cove_netns_create(ns, err);
	if (r < 0)
		goto out;
	a.container_id = c->id;
	a.netns = ns;
	a.cache_dir = cache;
	a.ifname = "lo";
	r = cove_cni_add(lo, &a, NULL, err);
	if (r < 0)
		goto fail;
	a.ifname = "eth0";
	a.ports = ports;
	a.n_ports = n_ports;
	a.aliases = aliases;
	a.runtime_config = caps;
	r = cove_cni_add(net, &a, &res, err);
	if (r < 0)
		goto fail;

	/* what inspect shows, and what the hosts files are made from */
	hostname = json_string_value(json_object_get(c->config, "Hostname"));
	settings = json_object();
	nets = json_object();
	one = json_object();
	json_object_set_new(settings, "IPAddress",
			    json_string(res.ipv4 ? res.ipv4 : ""));
	json_object_set_new(settings, "IPPrefixLen",
			    json_integer(res.ipv4_prefix));
	json_object_set_new(
	    settings, "Gateway",
	    json_string(res.ipv4_gateway ? res.ipv4_gateway : ""));
	json_object_set_new(settings, "MacAddress",
			    json_string(res.mac ? res.mac : ""));
	json_object_set_new(settings, "SandboxKey", json_string(ns));
	json_object_set_new(settings, "Hostname",
			    json_string(hostname && *hostname ? hostname : ""));
	json_object_set(one, "IPAddress",
			json_object_get(settings, "IPAddress"));
	json_object_set(one, "IPPrefixLen",
			json_object_get(settings, "IPPrefixLen"));
	json_object_set(one, "Gateway", json_object_get(settings, "Gateway"));
	json_object_set(one, "MacAddress",
			json_object_get(settings, "MacAddress"));
	if (al)
		json_object_set(one, "Aliases", (json_t *)al);
	json_object_set_new(nets, name, one);
	json_object_set_new(settings, "Networks", nets);
	json_object_set(
	    settings, "Ports",
	    json_object_get(json_object_get(c->config, "HostConfig"),
			    "PortBindings"));
	if (!hostname || !*hostname) {
		char hn[13];
		snprintf(hn, sizeof(hn), "%s", c->id);
		json_object_set_new(settings, "Hostname", json_string(hn));
	}
	json_object_set_new(c->config, "NetworkSettings", settings);
	r = cove_engine_db(e, &db, err);
	if (r >= 0)
		r = cove_ctr_config_set(db, c->id, "NetworkSettings", settings,
					err);
	if (r < 0)
		goto fail;
	{
		/* the container's own line: its host name and its name */
		const char *hn =
		    json_string_value(json_object_get(settings, "Hostname"));
		_cleanup_free_ char *names =
		    strcmp(hn, c->name)
			? cove_strdup_printf("%s %s", hn, c->name)
			: strdup(hn);
		if (!names) {
			r = -ENOMEM;
			goto fail;
		}
		r = cove_engine_write_hosts(ctr_dir, c->config, names, res.ipv4,
					    NULL, err);
	}
	if (r < 0)
		goto fail;
	refresh_hosts(e, name, "");
	r = 0;
	goto out;
fail:
	cove_engine_net_teardown(e, c);
out:
	cove_cni_result_release(&res);
	cove_network_free(net);
	cove_network_free(lo);
	return r;
}

void cove_engine_net_teardown(struct cove_engine *e, struct cove_ctr *c)
{
	const char *name = network_of(c);
	_cleanup_free_ char *ns = NULL, *dir = NULL, *cache = NULL;
	_cleanup_free_ struct cove_cni_port *ports = NULL;
	struct cove_network *net = NULL, *lo = NULL;
	struct cove_error err = {0};
	struct cove_cni_attach a = {0};
	sqlite3 *db;

	if (!name)
		return;
	if (slirp_mode(e, c)) {
		ns = netns_path(e, c);
		if (ns)
			cove_engine_slirp_teardown(e, c, ns);
		return;
	}
	if (e->rootless)
		return;
	ns = netns_path(e, c);
	dir = cove_strdup_printf("%s/networks", e->root);
	cache = cove_strdup_printf("%s/cni", e->runroot);
	if (!ns || !dir || !cache)
		return;
	if (access(ns, F_OK) < 0 &&
	    !json_object_get(c->config, "NetworkSettings"))
		return; /* nothing was set up, or it is all undone */
	(void)port_bindings(c, &ports, &a.n_ports);
	a.container_id = c->id;
	a.netns = ns;
	a.cache_dir = cache;
	a.ifname = "eth0";
	a.ports = ports;
	/* DEL works from the cached result even when the netns is gone */
	if (cove_network_load(dir, SYSTEM_CNI_DIR, name, &net, &err) >= 0)
		(void)cove_cni_del(net, &a, &err);
	a.ifname = "lo";
	a.ports = NULL;
	a.n_ports = 0;
	if (cove_network_loopback(&lo, &err) >= 0)
		(void)cove_cni_del(lo, &a, &err);
	(void)cove_netns_remove(ns, &err);
	cove_network_free(net);
	cove_network_free(lo);
	if (json_object_get(c->config, "NetworkSettings")) {
		json_object_del(c->config, "NetworkSettings");
		if (cove_engine_db(e, &db, &err) >= 0)
			(void)cove_ctr_config_set(db, c->id, "NetworkSettings",
						  NULL, &err);
		refresh_hosts(e, name, c->id);
	}
}

/* the mode's container, resolved to the one whose namespace it has */
static int resolve_peer(struct cove_engine *e, json_t *host, const char *peer,
			struct cove_error *err)
{
	struct cove_ctr t = {0};
	_cleanup_free_ char *mode = NULL;
	const char *next;
	int r = 0;

	for (int depth = 0; depth < 8; depth++) {
		r = cove_engine_lookup(e, peer, &t, err);
		if (r < 0)
			return cove_error_wrap(err,
					       "invalid --network "
					       "container:%s",
					       peer);
		next = cove_netmode_container(json_string_value(json_object_get(
		    json_object_get(t.config, "HostConfig"), "NetworkMode")));
		if (!next)
			break;
		free(mode);
		mode = strdup(next);
		cove_ctr_release(&t);
		if (!mode)
			return -ENOMEM;
		peer = mode;
	}
	if (!t.config) {
		return cove_error_set(err, ELOOP,
				      "invalid --network container:%s: too "
				      "many containers joining others' "
				      "networks",
				      peer);
	}
	{
		_cleanup_free_ char *m =
		    cove_strdup_printf("container:%s", t.id);
		if (!m)
			r = -ENOMEM;
		else
			json_object_set_new(host, "NetworkMode",
					    json_string(m));
	}
	cove_ctr_release(&t);
	return r;
}

int cove_engine_net_resolve(struct cove_engine *e, json_t *config,
			    struct cove_error *err)
{
	json_t *host = json_object_get(config, "HostConfig");
	const char *mode =
	    json_string_value(json_object_get(host, "NetworkMode"));
	const char *peer = cove_netmode_container(mode);
	struct cove_ctr probe = {.config = config};
	_cleanup_free_ char *dir = NULL;
	struct cove_network *net = NULL;
	const char *name;
	int r;

	if (peer)
		return resolve_peer(e, host, peer, err);
	name = network_of(&probe);
	if (!name)
		return 0;
	if (slirp_mode(e, &probe)) {
		/* slirp4netns has no addresses to choose nor names to give */
		return cove_netopts_refuse_bridge_only(
		    config, cove_netopts_endpoint(config), err);
	}
	if (!static_ip(config) || e->rootless)
		return 0;
	dir = cove_strdup_printf("%s/networks", e->root);
	if (!dir)
		return -ENOMEM;
	r = cove_network_load(dir, SYSTEM_CNI_DIR, name, &net, err);
	if (r < 0)
		return r;
	r = check_static_ip(e, "", net, static_ip(config), err);
	cove_network_free(net);
	return r;
}

char *cove_engine_net_peer_dir(struct cove_engine *e, const json_t *config)
{
	const char *peer =
	    cove_netmode_container(json_string_value(json_object_get(
		json_object_get(config, "HostConfig"), "NetworkMode")));

	return peer ? cove_engine_ctr_dir(e, peer) : NULL;
}

char *cove_engine_net_peer_hostname(struct cove_engine *e, const json_t *config)
{
	_cleanup_free_ char *dir = cove_engine_net_peer_dir(e, config);
	_cleanup_free_ char *file = NULL, *buf = NULL;

	if (!dir)
		return NULL;
	file = cove_strdup_printf("%s/hostname", dir);
	if (!file || cove_read_file(file, 4096, &buf, NULL) < 0 || !buf)
		return NULL;
	buf[strcspn(buf, "\r\n")] = '\0';
	return *buf ? TAKE_PTR(buf) : NULL;
}
