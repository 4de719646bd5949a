/*
 * The network and logging options of create/run (netopts.h): values
 * checked and recorded where docker and podman keep them.
 */
#include "engine/netopts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/network.h"
#include "engine/runspec.h"
#include "util/cleanup.h"
#include "util/strutil.h"

/*
 * The endpoint options wait under this key until the network is known
 * (cove_netopts_check()); a network name never is empty.
 */
#define PENDING ""

static json_t *obj(json_t *parent, const char *key)
{
	json_t *o = json_object_get(parent, key);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(parent, key, o);
	}
	return o;
}

static json_t *arr(json_t *parent, const char *key)
{
	json_t *a = json_object_get(parent, key);

	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(parent, key, a);
	}
	return a;
}

static json_t *pending_endpoint(json_t *config)
{
	return obj(obj(obj(config, "NetworkingConfig"), "EndpointsConfig"),
		   PENDING);
}

int cove_mac_parse(const char *s, char buf[18])
{
	unsigned v[6];
	int n = -1;

	if (!s || strlen(s) != 17)
		return -EINVAL;
	for (size_t i = 0; i < 17; i++) {
		char ch = s[i];
		bool hex = (ch >= '0' && ch <= '9') ||
			   ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f');
		if (i % 3 == 2 ? ch != ':' : !hex)
			return -EINVAL;
	}
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &n) != 6 ||
	    n != 17)
		return -EINVAL;
	if (v[0] & 1)
		return -EINVAL; /* multicast */
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", v[0], v[1], v[2],
		 v[3], v[4], v[5]);
	return 0;
}

static int parse_port(const char *s, unsigned *ret)
{
	uint32_t v;

	if (cove_parse_uint32(s, &v) < 0 || v > 65535)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* "80", "80/udp", "8000-8002/tcp": one ExposedPorts key per port */
static int add_expose(json_t *config, const char *value, struct cove_error *err)
{
	_cleanup_free_ char *copy = strdup(value);
	const char *proto = "tcp";
	char *slash, *dash;
	unsigned lo, hi;
	json_t *ep;

	if (!copy)
		return -ENOMEM;
	slash = strchr(copy, '/');
	if (slash) {
		*slash = '\0';
		proto = slash + 1;
		if (strcmp(proto, "tcp") && strcmp(proto, "udp") &&
		    strcmp(proto, "sctp"))
			return cove_error_set(err, EINVAL,
					      "invalid --expose '%s': the "
					      "protocol must be tcp, udp or "
					      "sctp",
					      value);
	}
	dash = strchr(copy, '-');
	if (dash)
		*dash = '\0';
	if (parse_port(copy, &lo) < 0 ||
	    (dash && parse_port(dash + 1, &hi) < 0))
		return cove_error_set(err, EINVAL,
				      "invalid --expose '%s': expected "
				      "PORT[-END][/tcp|udp|sctp]",
				      value);
	if (!dash)
		hi = lo;
	if (lo == 0 || hi == 0)
		return cove_error_set(err, EINVAL,
				      "invalid --expose '%s': cannot expose 0 "
				      "as it is not a valid port number",
				      value);
	if (hi < lo)
		return cove_error_set(err, EINVAL,
				      "invalid --expose '%s': the range ends "
				      "before it starts",
				      value);
	ep = obj(config, "ExposedPorts");
	for (unsigned p = lo; p <= hi; p++) {
		char key[32];
		snprintf(key, sizeof(key), "%u/%s", p, proto);
		json_object_set_new(ep, key, json_object());
	}
	return 0;
}

static int add_log_driver(json_t *config, const char *value,
			  struct cove_error *err)
{
	json_t *lc = obj(json_object_get(config, "HostConfig"), "LogConfig");

	if (!strcmp(value, "k8s-file") || !strcmp(value, "journald"))
		return cove_error_set(err, ENOTSUP,
				      "--log-driver '%s' is not supported: "
				      "cove has json-file (the default), "
				      "none and passthrough",
				      value);
	if (strcmp(value, COVE_LOG_DRIVER_JSON) &&
	    strcmp(value, COVE_LOG_DRIVER_NONE) &&
	    strcmp(value, COVE_LOG_DRIVER_PASSTHROUGH))
		return cove_error_set(err, EINVAL,
				      "invalid --log-driver '%s': supported "
				      "are json-file, none and passthrough",
				      value);
	json_object_set_new(lc, "Type", json_string(value));
	return 0;
}

int cove_netopt_add(json_t *config, enum cove_netopt opt, const char *value,
		    struct cove_error *err)
{
	json_t *host = json_object_get(config, "HostConfig");
	char mac[18];
	uint32_t addr;

	if (!json_is_object(host))
		return cove_error_set(err, EINVAL, "no HostConfig");
	switch (opt) {
	case COVE_NETOPT_DNS_SEARCH:
		/* a domain name, or "." */
		if (!*value || strpbrk(value, " \t\n"))
			return cove_error_set(
			    err, EINVAL, "invalid --dns-search '%s'", value);
		json_array_append_new(arr(host, "DnsSearch"),
				      json_string(value));
		return 0;
	case COVE_NETOPT_DNS_OPTION:
		if (!*value || strpbrk(value, " \t\n"))
			return cove_error_set(err, EINVAL,
					      "invalid --dns-option '%s': one "
					      "option, without spaces",
					      value);
		json_array_append_new(arr(host, "DnsOptions"),
				      json_string(value));
		return 0;
	case COVE_NETOPT_ALIAS:
		/* a host name: what /etc/hosts can list */
		if (!*value || strlen(value) > 253 ||
		    strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
				  "QRSTUVWXYZ0123456789_.-") != strlen(value) ||
		    value[0] == '-' || value[0] == '.')
			return cove_error_set(err, EINVAL,
					      "invalid --network-alias '%s': "
					      "expected a host name",
					      value);
		json_array_append_new(arr(pending_endpoint(config), "Aliases"),
				      json_string(value));
		return 0;
	case COVE_NETOPT_IP:
		if (strchr(value, ':'))
			return cove_error_set(err, ENOTSUP,
					      "invalid --ip '%s': only IPv4 "
					      "addresses are supported",
					      value);
		if (cove_ipv4_parse(value, &addr) < 0)
			return cove_error_set(err, EINVAL,
					      "invalid --ip '%s': not an IPv4 "
					      "address",
					      value);
		json_object_set_new(obj(pending_endpoint(config), "IPAMConfig"),
				    "IPv4Address", json_string(value));
		return 0;
	case COVE_NETOPT_MAC:
		if (cove_mac_parse(value, mac) < 0)
			return cove_error_set(err, EINVAL,
					      "invalid --mac-address '%s': "
					      "expected a unicast address "
					      "aa:bb:cc:dd:ee:ff",
					      value);
		json_object_set_new(config, "MacAddress", json_string(mac));
		return 0;
	case COVE_NETOPT_EXPOSE:
		return add_expose(config, value, err);
	case COVE_NETOPT_LOG_DRIVER:
		return add_log_driver(config, value, err);
	}
	return cove_error_set(err, EINVAL, "unknown option");
}

const char *cove_netmode_container(const char *mode)
{
	if (mode && !strncmp(mode, "container:", 10))
		return mode + 10;
	return NULL;
}

/* A mode with a network of its own made by CNI (podman's "bridge" mode). */
static bool bridge_mode(const char *mode)
{
	return strcmp(mode, "none") && strcmp(mode, "host") &&
	       strcmp(mode, "slirp4netns") && strncmp(mode, "ns:", 3) &&
	       !cove_netmode_container(mode);
}

static int check_container_mode(const json_t *config, const json_t *host,
				const char *mode, struct cove_error *err)
{
	const char *target = cove_netmode_container(mode);
	const char *hn = json_string_value(json_object_get(config, "Hostname"));

	if (!*target)
		return cove_error_set(err, EINVAL,
				      "invalid --network '%s': a container "
				      "name or id is required",
				      mode);
	if (json_array_size(json_object_get(host, "Dns")) ||
	    json_array_size(json_object_get(host, "DnsSearch")) ||
	    json_array_size(json_object_get(host, "DnsOptions")))
		return cove_error_set(err, EINVAL,
				      "conflicting options: dns and the "
				      "network mode: container");
	if (json_array_size(json_object_get(host, "ExtraHosts")))
		return cove_error_set(err, EINVAL,
				      "cannot set extra host entries when the "
				      "container is joined to another "
				      "containers network namespace");
	if (json_array_size(json_object_get(host, "PortBindings")) ||
	    json_is_true(json_object_get(host, "PublishAllPorts")))
		return cove_error_set(err, EINVAL,
				      "conflicting options: port publishing "
				      "and the network mode: container");
	if (hn && *hn)
		return cove_error_set(err, EINVAL,
				      "conflicting options: hostname and the "
				      "network mode: container");
	return 0;
}

int cove_netopts_check(json_t *config, bool detach, struct cove_error *err)
{
	json_t *host = json_object_get(config, "HostConfig");
	json_t *eps = json_object_get(
	    json_object_get(config, "NetworkingConfig"), "EndpointsConfig");
	json_t *pending = json_object_get(eps, PENDING);
	const char *mode =
	    json_string_value(json_object_get(host, "NetworkMode"));
	const char *driver = cove_netopts_log_driver(config);
	json_t *v;
	size_t i;
	int r;

	if (!mode || !*mode)
		mode = "bridge";
	if (json_array_size(json_object_get(host, "DnsSearch")) > 1)
		json_array_foreach(json_object_get(host, "DnsSearch"), i, v)
		{
			if (!strcmp(json_string_value(v), "."))
				return cove_error_set(
				    err, EINVAL,
				    "cannot pass additional search domains "
				    "when also specifying '.'");
		}
	if (!bridge_mode(mode)) {
		r = cove_netopts_refuse_bridge_only(config, pending, err);
		if (r < 0)
			return r;
	}
	if (cove_netmode_container(mode)) {
		r = check_container_mode(config, host, mode, err);
		if (r < 0)
			return r;
	}
	if (!strcmp(driver, COVE_LOG_DRIVER_PASSTHROUGH)) {
		if (json_is_true(json_object_get(config, "Tty")))
			return cove_error_set(err, EINVAL,
					      "the '--log-driver passthrough' "
					      "option cannot be used on a TTY");
		if (detach)
			return cove_error_set(err, EINVAL,
					      "the '--log-driver passthrough' "
					      "option needs a foreground run: "
					      "it cannot be used with -d");
	}
	if (pending) {
		/* filed under the network's name, as docker does */
		json_incref(pending);
		json_object_del(eps, PENDING);
		json_object_set_new(eps, mode, pending);
	}
	return 0;
}

int cove_netopts_refuse_bridge_only(const json_t *config, const json_t *ep,
				    struct cove_error *err)
{
	if (json_object_get(ep, "Aliases"))
		return cove_error_set(err, EINVAL,
				      "--network-alias can only be set "
				      "when the network mode is bridge");
	if (json_object_get(ep, "IPAMConfig"))
		return cove_error_set(err, EINVAL,
				      "static ip addresses can only be "
				      "set when the network mode is "
				      "bridge");
	if (json_object_get(config, "MacAddress"))
		return cove_error_set(err, EINVAL,
				      "--mac-address can only be set "
				      "when the network mode is bridge");
	return 0;
}

const json_t *cove_netopts_endpoint(const json_t *config)
{
	const json_t *eps = json_object_get(
	    json_object_get(config, "NetworkingConfig"), "EndpointsConfig");
	void *it = json_is_object(eps) ? json_object_iter((json_t *)eps) : NULL;

	return it ? json_object_iter_value(it) : NULL;
}

const char *cove_netopts_log_driver(const json_t *config)
{
	const char *t = json_string_value(json_object_get(
	    json_object_get(json_object_get(config, "HostConfig"), "LogConfig"),
	    "Type"));

	return t && *t ? t : COVE_LOG_DRIVER_JSON;
}

/* *buf followed by @a, @b and @c */
static int append(char **buf, const char *a, const char *b, const char *c)
{
	char *n = cove_strdup_printf("%s%s%s%s", *buf, a, b, c);

	if (!n)
		return -ENOMEM;
	free(*buf);
	*buf = n;
	return 0;
}

/* Whether @line's first word is @kw. */
static bool keyword(const char *line, const char *kw)
{
	size_t n = strlen(kw);

	return !strncmp(line, kw, n) && (line[n] == ' ' || line[n] == '\t' ||
					 line[n] == '\n' || line[n] == '\0');
}

/* @a's strings, space-separated, to a new string */
static char *joined(const json_t *a)
{
	char *s = strdup("");
	json_t *v;
	size_t i;

	json_array_foreach(a, i, v)
	{
		if (s && append(&s, i ? " " : "", json_string_value(v) ?: "",
				"") < 0) {
			free(s);
			return NULL;
		}
	}
	return s;
}

int cove_netopts_resolv(const json_t *host, const char *host_file, char **ret)
{
	const json_t *dns = json_object_get(host, "Dns");
	const json_t *search = json_object_get(host, "DnsSearch");
	const json_t *opts = json_object_get(host, "DnsOptions");
	bool own_ns = json_array_size(dns) > 0;
	bool own_search = json_array_size(search) > 0;
	bool own_opts = json_array_size(opts) > 0;
	_cleanup_free_ char *base = NULL, *out = strdup("");
	json_t *v;
	size_t i;
	int r;

	if (!out)
		return -ENOMEM;
	r = cove_engine_filtered_resolv(host_file, &base);
	if (r < 0)
		return r;
	if (own_search &&
	    strcmp(json_string_value(json_array_get(search, 0)) ?: "", ".")) {
		_cleanup_free_ char *s = joined(search);
		if (!s || append(&out, "search ", s, "\n") < 0)
			return -ENOMEM;
	}
	for (char *line = base, *next; line && *line; line = next) {
		const char *w = line + strspn(line, " \t");
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if ((own_ns && keyword(w, "nameserver")) ||
		    (own_search &&
		     (keyword(w, "search") || keyword(w, "domain"))) ||
		    (own_opts && keyword(w, "options")))
			continue;
		if (append(&out, line, "\n", "") < 0)
			return -ENOMEM;
	}
	json_array_foreach(dns, i, v)
	{
		if (append(&out, "nameserver ", json_string_value(v) ?: "",
			   "\n") < 0)
			return -ENOMEM;
	}
	if (own_opts) {
		_cleanup_free_ char *s = joined(opts);
		if (!s || append(&out, "options ", s, "\n") < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(out);
	return 0;
}
