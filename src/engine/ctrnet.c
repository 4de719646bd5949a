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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/cni.h"
#include "engine/engine-internal.h"
#include "engine/netns.h"
#include "engine/network.h"
#include "engine/runspec.h"
#include "engine/slirp.h"
#include "util/cleanup.h"
#include "util/strutil.h"

#define SYSTEM_CNI_DIR "/etc/cni/net.d"

/* The network a mode names: NULL for none/host, "cove" for bridge. */
static const char *network_of(const struct cove_ctr *c)
{
	const char *m = json_string_value(json_object_get(
	    json_object_get(c->config, "HostConfig"), "NetworkMode"));

	if (!m || !strcmp(m, "bridge") || !strcmp(m, "default"))
		return "cove";
	if (!strcmp(m, "none") || !strcmp(m, "host"))
		return NULL;
	return m;
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
			_cleanup_free_ char *line = NULL;
			if (j == i || !ctr_ip(&cs[j]) ||
			    !strcmp(cs[j].id, skip_id) || !network_of(&cs[j]) ||
			    strcmp(network_of(&cs[j]), net))
				continue;
			line = cove_strdup_printf("%s\t%s", ctr_ip(&cs[j]),
						  cs[j].name);
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
	char *aliases[2] = {c->name, NULL};
	size_t n_ports = 0;
	json_t *settings, *nets, *one;
	const char *hostname;
	sqlite3 *db;
	int r;

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
		r = cove_ctr_update(db, c, COVE_CTR_CONFIG, err);
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
			(void)cove_ctr_update(db, c, COVE_CTR_CONFIG, &err);
		refresh_hosts(e, name, c->id);
	}
}
