/*
 * The CNI runtime (cni.h): plugin configs, plugin execution, results and
 * the result cache.  Plugins are executables of the network ecosystem;
 * running them is the contract (SPEC.md "Execution Protocol").
 */
#include "engine/cni.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/netns.h"
#include "image/auth.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

#define RESULT_MAX (16u << 20) /* a plugin's stdout, and a cache entry */
#define STDERR_KEEP 4096       /* what a failure message may quote */
#define CACHE_KIND "cniCacheV1"
/* Plugins run iptables, ip and friends by name. */
#define PLUGIN_PATH_ENV                                                        \
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- results ----------------------------------------------------------------
 */

void cove_cni_result_release(struct cove_cni_result *r)
{
	if (!r)
		return;
	free(r->cni_version);
	free(r->interface);
	free(r->mac);
	free(r->ipv4);
	free(r->ipv4_gateway);
	free(r->ipv6);
	free(r->ipv6_gateway);
	if (r->raw)
		json_decref(r->raw);
	*r = (struct cove_cni_result){0};
}

/*
 * "ADDRESS/PREFIX" of either family: the family (AF_INET, AF_INET6) or
 * -EINVAL.  The address alone goes to @addr.
 */
static int parse_cidr(const char *s, char *addr, size_t size,
		      unsigned *ret_prefix)
{
	const char *slash = strchr(s, '/');
	unsigned char bin[16];
	uint32_t prefix;
	int family;

	if (!slash || (size_t)(slash - s) >= size)
		return -EINVAL;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, addr, bin) != 1)
		return -EINVAL;
	if (cove_parse_uint32(slash + 1, &prefix) < 0 ||
	    prefix > (family == AF_INET ? 32u : 128u))
		return -EINVAL;
	*ret_prefix = prefix;
	return family;
}

static int ip_family(const char *s)
{
	unsigned char bin[16];

	if (inet_pton(AF_INET, s, bin) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, bin) == 1)
		return AF_INET6;
	return -EINVAL;
}

static int version_cmp(const char *v, unsigned major, unsigned minor,
		       unsigned patch)
{
	unsigned a = 0, b = 0, c = 0;

	/* an unreadable version is taken for a recent one */
	if (sscanf(v, "%u.%u.%u", &a, &b, &c) < 2)
		return 1;
	if (a != major)
		return a < major ? -1 : 1;
	if (b != minor)
		return b < minor ? -1 : 1;
	if (c != patch)
		return c < patch ? -1 : 1;
	return 0;
}

/* The interfaces[] entry that is the container's: its index or -1. */
static int parse_interfaces(const json_t *raw, const char *ifname,
			    size_t *ret_n, struct cove_error *err)
{
	json_t *ifs = NULL, *i;
	int named = -1, first = -1;
	size_t k;

	if (cove_json_array(raw, "", "interfaces", &ifs, err) < 0)
		return -EINVAL;
	*ret_n = ifs ? json_array_size(ifs) : 0;
	json_array_foreach(ifs, k, i)
	{
		const char *name = NULL, *mac = NULL, *sandbox = NULL;
		char path[48];

		snprintf(path, sizeof(path), "interfaces[%zu]", k);
		if (!json_is_object(i))
			return cove_error_set(err, EINVAL,
					      "invalid '%s': expected an "
					      "object",
					      path);
		if (cove_json_string(i, path, "name", &name, err) < 0 ||
		    cove_json_string(i, path, "mac", &mac, err) < 0 ||
		    cove_json_string(i, path, "sandbox", &sandbox, err) < 0)
			return -EINVAL;
		if (!name || !*name)
			return cove_error_set(err, EINVAL, "missing '%s.name'",
					      path);
		if (!sandbox || !*sandbox || k > INT_MAX)
			continue;
		if (first < 0)
			first = (int)k;
		if (named < 0 && ifname && !strcmp(name, ifname))
			named = (int)k;
	}
	return named >= 0 ? named : first;
}

static int set_str(char **dst, const char *s)
{
	if (!s)
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

static int parse_ips(const json_t *raw, int cidx, size_t n_ifs,
		     struct cove_cni_result *r, struct cove_error *err)
{
	json_t *ips = NULL, *ip;
	size_t k;

	if (cove_json_array(raw, "", "ips", &ips, err) < 0)
		return -EINVAL;
	json_array_foreach(ips, k, ip)
	{
		const char *address = NULL, *gateway = NULL;
		char path[48], addr[INET6_ADDRSTRLEN];
		int64_t iface = -1;
		bool has_iface = false;
		unsigned prefix;
		int family;

		snprintf(path, sizeof(path), "ips[%zu]", k);
		if (!json_is_object(ip))
			return cove_error_set(err, EINVAL,
					      "invalid '%s': expected an "
					      "object",
					      path);
		if (cove_json_string(ip, path, "address", &address, err) < 0 ||
		    cove_json_string(ip, path, "gateway", &gateway, err) < 0 ||
		    cove_json_int64(ip, path, "interface", &iface, &has_iface,
				    err) < 0)
			return -EINVAL;
		if (!address)
			return cove_error_set(err, EINVAL,
					      "missing '%s.address'", path);
		family = parse_cidr(address, addr, sizeof(addr), &prefix);
		if (family < 0)
			return cove_error_set(err, EINVAL,
					      "invalid '%s.address' \"%s\": "
					      "expected ADDRESS/PREFIX",
					      path, address);
		if (gateway && ip_family(gateway) != family)
			return cove_error_set(err, EINVAL,
					      "invalid '%s.gateway' \"%s\": "
					      "expected an address of the "
					      "family of '%s.address'",
					      path, gateway, path);
		if (has_iface && (iface < 0 || (uint64_t)iface >= n_ifs))
			return cove_error_set(err, EINVAL,
					      "invalid '%s.interface' %lld: "
					      "no such index in 'interfaces'",
					      path, (long long)iface);
		if (has_iface && cidx >= 0 && iface != cidx)
			continue;
		if (family == AF_INET && !r->ipv4) {
			if (set_str(&r->ipv4, addr) < 0 ||
			    set_str(&r->ipv4_gateway, gateway) < 0)
				return -ENOMEM;
			r->ipv4_prefix = prefix;
		} else if (family == AF_INET6 && !r->ipv6) {
			if (set_str(&r->ipv6, addr) < 0 ||
			    set_str(&r->ipv6_gateway, gateway) < 0)
				return -ENOMEM;
			r->ipv6_prefix = prefix;
		}
	}
	return 0;
}

static int parse_routes(const json_t *raw, struct cove_error *err)
{
	json_t *routes = NULL, *rt, *dns = NULL;
	size_t k;

	if (cove_json_array(raw, "", "routes", &routes, err) < 0 ||
	    cove_json_object(raw, "", "dns", &dns, err) < 0)
		return -EINVAL;
	json_array_foreach(routes, k, rt)
	{
		const char *dst = NULL, *gw = NULL;
		char path[48], addr[INET6_ADDRSTRLEN];
		unsigned prefix;
		int family;

		snprintf(path, sizeof(path), "routes[%zu]", k);
		if (!json_is_object(rt))
			return cove_error_set(err, EINVAL,
					      "invalid '%s': expected an "
					      "object",
					      path);
		if (cove_json_string(rt, path, "dst", &dst, err) < 0 ||
		    cove_json_string(rt, path, "gw", &gw, err) < 0)
			return -EINVAL;
		if (!dst)
			return cove_error_set(err, EINVAL, "missing '%s.dst'",
					      path);
		family = parse_cidr(dst, addr, sizeof(addr), &prefix);
		if (family < 0)
			return cove_error_set(err, EINVAL,
					      "invalid '%s.dst' \"%s\": "
					      "expected ADDRESS/PREFIX",
					      path, dst);
		if (gw && ip_family(gw) != family)
			return cove_error_set(
			    err, EINVAL,
			    "invalid '%s.gw' \"%s\": expected "
			    "an address of the family of "
			    "'%s.dst'",
			    path, gw, path);
	}
	return 0;
}

int cove_cni_result_from_json(json_t *raw, const char *ifname,
			      struct cove_cni_result *ret,
			      struct cove_error *err)
{
	struct cove_cni_result r = {0};
	const char *version = NULL;
	size_t n_ifs = 0;
	int cidx, rc;

	*ret = (struct cove_cni_result){0};
	if (!json_is_object(raw))
		return cove_error_set(err, EINVAL,
				      "invalid CNI result: expected a JSON "
				      "object");
	if (cove_json_string(raw, "", "cniVersion", &version, err) < 0)
		return -EINVAL;
	if (!version || !*version)
		return cove_error_set(err, EINVAL,
				      "invalid CNI result: missing "
				      "'cniVersion'");
	if (version_cmp(version, 0, 3, 0) < 0)
		return cove_error_set(err, ENOTSUP,
				      "CNI result version '%s' is not "
				      "supported (0.3.0 or later)",
				      version);
	cidx = parse_interfaces(raw, ifname, &n_ifs, err);
	if (cidx < -1)
		return cidx;
	r.raw = json_incref(raw);
	if (set_str(&r.cni_version, version) < 0) {
		rc = -ENOMEM;
		goto fail;
	}
	if (cidx >= 0) {
		json_t *i = json_array_get(json_object_get(raw, "interfaces"),
					   (size_t)cidx);
		const char *mac = json_string_value(json_object_get(i, "mac"));

		if (set_str(&r.interface, json_string_value(json_object_get(
					      i, "name"))) < 0 ||
		    set_str(&r.mac, mac && *mac ? mac : NULL) < 0) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	rc = parse_ips(raw, cidx, n_ifs, &r, err);
	if (rc < 0)
		goto fail;
	rc = parse_routes(raw, err);
	if (rc < 0)
		goto fail;
	*ret = r;
	return 0;
fail:
	cove_cni_result_release(&r);
	return rc;
}

int cove_cni_result_parse(const char *buf, size_t len, const char *ifname,
			  struct cove_cni_result *ret, struct cove_error *err)
{
	_cleanup_json_ json_t *raw = NULL;
	int r;

	*ret = (struct cove_cni_result){0};
	r = cove_json_load_buffer("CNI result", buf, len, &raw, err);
	if (r < 0)
		return r;
	return cove_cni_result_from_json(raw, ifname, ret, err);
}

/* ---- the attachment ---------------------------------------------------------
 */

static bool id_valid(const char *s)
{
	if (!s || !isalnum((unsigned char)*s) || strlen(s) > 255)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' &&
		    *s != '-')
			return false;
	return true;
}

static bool ifname_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s) ||
		    !isprint((unsigned char)*s))
			return false;
	return true;
}

static const char *ifname_of(const struct cove_cni_attach *a)
{
	return a->ifname ? a->ifname : "eth0";
}

static int check_attach(const struct cove_network *net,
			const struct cove_cni_attach *a, bool need_netns,
			struct cove_error *err)
{
	if (!net || !net->config || !net->name)
		return cove_error_set(err, EINVAL, "no network configuration");
	if (!id_valid(a->container_id))
		return cove_error_set(err, EINVAL,
				      "invalid container id '%s' for CNI: "
				      "must match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
				      a->container_id ? a->container_id : "");
	if (!ifname_valid(ifname_of(a)))
		return cove_error_set(err, EINVAL,
				      "invalid interface name '%s': 1 to 15 "
				      "characters, no '/', ':' or spaces",
				      ifname_of(a));
	if (need_netns && (!a->netns || !*a->netns))
		return cove_error_set(err, EINVAL,
				      "no network namespace given for "
				      "network '%s'",
				      net->name);
	if (!a->cache_dir || !*a->cache_dir)
		return cove_error_set(err, EINVAL, "no CNI cache directory");
	for (size_t i = 0; i < a->n_ports; i++) {
		const struct cove_cni_port *p = &a->ports[i];
		const char *proto = p->protocol ? p->protocol : "tcp";

		if (!p->host_port || !p->container_port)
			return cove_error_set(err, EINVAL,
					      "invalid port mapping %u:%u: "
					      "ports are 1 to 65535",
					      p->host_port, p->container_port);
		if (strcmp(proto, "tcp") && strcmp(proto, "udp") &&
		    strcmp(proto, "sctp"))
			return cove_error_set(err, EINVAL,
					      "invalid port mapping protocol "
					      "'%s': must be tcp, udp or sctp",
					      proto);
		if (p->host_ip && *p->host_ip && ip_family(p->host_ip) < 0)
			return cove_error_set(err, EINVAL,
					      "invalid port mapping host ip "
					      "'%s'",
					      p->host_ip);
	}
	if (a->runtime_config && !json_is_object(a->runtime_config))
		return cove_error_set(err, EINVAL,
				      "invalid runtime config: expected an "
				      "object");
	return 0;
}

static bool attach_has_caps(const struct cove_cni_attach *a)
{
	return a->n_ports || (a->aliases && *a->aliases) ||
	       (a->runtime_config && json_object_size(a->runtime_config));
}

/* The capability arguments the attachment gives, keyed by capability. */
static int capability_args(const struct cove_network *net,
			   const struct cove_cni_attach *a, json_t **ret)
{
	_cleanup_json_ json_t *o = NULL;

	o = a->runtime_config ? json_deep_copy(a->runtime_config)
			      : json_object();
	if (!o)
		return -ENOMEM;
	if (a->n_ports) {
		json_t *pm = json_array();

		if (!pm || json_object_set_new(o, "portMappings", pm) < 0)
			return -ENOMEM;
		for (size_t i = 0; i < a->n_ports; i++) {
			const struct cove_cni_port *p = &a->ports[i];
			json_t *m = json_pack(
			    "{s:i, s:i, s:s}", "hostPort", (int)p->host_port,
			    "containerPort", (int)p->container_port, "protocol",
			    p->protocol ? p->protocol : "tcp");

			if (!m)
				return -ENOMEM;
			if (p->host_ip && *p->host_ip)
				json_object_set_new(m, "hostIP",
						    json_string(p->host_ip));
			if (json_array_append_new(pm, m) < 0)
				return -ENOMEM;
		}
	}
	if (a->aliases && *a->aliases) {
		json_t *al = json_pack(
		    "{s:o}", net->name,
		    cove_json_strv_array((const char *const *)a->aliases));

		if (!al || json_object_set_new(o, "aliases", al) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(o);
	return 0;
}

int cove_cni_plugin_config(const struct cove_network *net, size_t idx,
			   const json_t *capability_args,
			   const json_t *prev_result, json_t **ret,
			   struct cove_error *err)
{
	json_t *plugins = json_object_get(net->config, "plugins");
	json_t *p = json_array_get(plugins, idx), *caps, *v;
	_cleanup_json_ json_t *c = NULL, *rc = NULL;
	const char *key;

	if (!json_is_object(p))
		return cove_error_set(err, EINVAL,
				      "network '%s' has no plugin %zu",
				      net->name, idx);
	c = json_deep_copy(p);
	rc = json_object();
	if (!c || !rc ||
	    json_object_set_new(c, "name", json_string(net->name)) < 0 ||
	    json_object_set_new(c, "cniVersion",
				json_string(net->cni_version)) < 0)
		return -ENOMEM;
	/* Only what the plugin declares, as libcni's injectRuntimeConfig. */
	caps = json_object_get(p, "capabilities");
	if (json_is_object(caps) && capability_args)
		json_object_foreach(caps, key, v)
		{
			json_t *arg = json_object_get(capability_args, key);

			if (!json_is_true(v) || !arg)
				continue;
			if (json_object_set_new(rc, key, json_deep_copy(arg)) <
			    0)
				return -ENOMEM;
		}
	if (json_object_size(rc) && json_object_set(c, "runtimeConfig", rc) < 0)
		return -ENOMEM;
	if (prev_result && json_object_set_new(c, "prevResult",
					       json_deep_copy(prev_result)) < 0)
		return -ENOMEM;
	*ret = TAKE_PTR(c);
	return 0;
}

/* ---- running a plugin -------------------------------------------------------
 */

struct buf {
	char *p;
	size_t len, max;
	bool truncated;
};

/* Read what is there; 1 at end of file, 0 for more, -errno. */
static int buf_read(int fd, struct buf *b)
{
	char chunk[16384];
	ssize_t n;

	n = read(fd, chunk, sizeof(chunk));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return 1;
	if (b->len + (size_t)n > b->max) {
		b->truncated = true;
		n = (ssize_t)(b->max - b->len);
	}
	if (n > 0) {
		char *np = realloc(b->p, b->len + (size_t)n + 1);
		if (!np)
			return -ENOMEM;
		b->p = np;
		memcpy(b->p + b->len, chunk, (size_t)n);
		b->len += (size_t)n;
		b->p[b->len] = '\0';
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Keep the child's ends of the pipes off 0, 1 and 2 before dup2()ing. */
static int above_stdio(int *fd)
{
	int nfd;

	if (*fd > 2)
		return 0;
	nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return -errno;
	close(*fd);
	*fd = nfd;
	return 0;
}

struct plugin_output {
	struct buf out, err;
	int status; /* waitpid() status */
	bool timed_out;
};

static void plugin_output_release(struct plugin_output *o)
{
	free(o->out.p);
	free(o->err.p);
	*o = (struct plugin_output){0};
}

static int spawn(const char *exe, char *const envp[], int in, int out,
		 int errfd, pid_t *ret_pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	char *argv[] = {(char *)exe, NULL};
	sigset_t none, all;
	int r;

	sigemptyset(&none);
	sigfillset(&all);
	if (posix_spawn_file_actions_init(&fa) != 0)
		return -ENOMEM;
	if (posix_spawnattr_init(&at) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -ENOMEM;
	}
	/*
	 * Default signal dispositions and an empty mask (whatever the
	 * caller ignores or blocks), and a process group of its own so
	 * that a timeout kills the tools the plugin started as well.
	 */
	r = posix_spawn_file_actions_adddup2(&fa, in, 0);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, out, 1);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, errfd, 2);
	if (!r)
		r = posix_spawnattr_setsigmask(&at, &none);
	if (!r)
		r = posix_spawnattr_setsigdefault(&at, &all);
	if (!r)
		r = posix_spawnattr_setpgroup(&at, 0);
	if (!r)
		r = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
						      POSIX_SPAWN_SETSIGDEF |
						      POSIX_SPAWN_SETPGROUP);
	if (!r)
		r = posix_spawn(ret_pid, exe, &fa, &at, argv, envp);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

/*
 * Run @exe with @input on stdin until it exits or @timeout_ms pass; its
 * stdout and (the start of) its stderr are collected.  stdin is a socket
 * so that a plugin exiting before it reads everything is EPIPE, never
 * SIGPIPE in the caller.
 */
static int run_exe(const char *exe, char *const envp[], const char *input,
		   size_t input_len, int64_t timeout_ms,
		   struct plugin_output *o)
{
	_cleanup_close_ int in_p = -1, in_c = -1, out_p = -1, out_c = -1,
			    err_p = -1, err_c = -1;
	int sv[2], fds[2], efds[2];
	int64_t deadline = now_ms() + timeout_ms;
	size_t off = 0;
	pid_t pid;
	int r;

	o->out.max = RESULT_MAX;
	o->err.max = STDERR_KEEP;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	in_p = sv[0];
	in_c = sv[1];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	out_p = fds[0];
	out_c = fds[1];
	if (pipe2(efds, O_CLOEXEC) < 0)
		return -errno;
	err_p = efds[0];
	err_c = efds[1];
	if ((r = above_stdio(&in_c)) < 0 || (r = above_stdio(&out_c)) < 0 ||
	    (r = above_stdio(&err_c)) < 0)
		return r;
	r = spawn(exe, envp, in_c, out_c, err_c, &pid);
	if (r < 0)
		return r;
	close(TAKE_FD(in_c));
	close(TAKE_FD(out_c));
	close(TAKE_FD(err_c));
	(void)fcntl(in_p, F_SETFL, O_NONBLOCK);
	(void)fcntl(out_p, F_SETFL, O_NONBLOCK);
	(void)fcntl(err_p, F_SETFL, O_NONBLOCK);
	if (input_len == 0)
		(void)shutdown(in_p, SHUT_WR);

	while (out_p >= 0 || err_p >= 0) {
		struct pollfd pfd[3];
		int64_t left = deadline - now_ms();
		nfds_t n = 0;
		int in_i = -1, out_i = -1, err_i = -1;

		if (left <= 0) {
			o->timed_out = true;
			break;
		}
		if (in_p >= 0 && off < input_len) {
			pfd[n] = (struct pollfd){in_p, POLLOUT, 0};
			in_i = (int)n++;
		}
		if (out_p >= 0) {
			pfd[n] = (struct pollfd){out_p, POLLIN, 0};
			out_i = (int)n++;
		}
		if (err_p >= 0) {
			pfd[n] = (struct pollfd){err_p, POLLIN, 0};
			err_i = (int)n++;
		}
		r = poll(pfd, n, left > INT_MAX ? INT_MAX : (int)left);
		if (r < 0 && errno != EINTR) {
			r = -errno;
			goto kill;
		}
		if (r <= 0)
			continue;
		if (in_i >= 0 && pfd[in_i].revents) {
			ssize_t w = send(in_p, input + off, input_len - off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				off = input_len; /* it stopped reading */
			if (off == input_len)
				(void)shutdown(in_p, SHUT_WR);
		}
		if (out_i >= 0 && pfd[out_i].revents) {
			r = buf_read(out_p, &o->out);
			if (r < 0)
				goto kill;
			if (r > 0)
				close(TAKE_FD(out_p));
		}
		if (err_i >= 0 && pfd[err_i].revents) {
			r = buf_read(err_p, &o->err);
			if (r < 0)
				goto kill;
			if (r > 0)
				close(TAKE_FD(err_p));
		}
	}
	/* stdout closed: the plugin is exiting; give it until the deadline */
	for (unsigned nap = 1;;) {
		pid_t w = o->timed_out ? 0 : waitpid(pid, &o->status, WNOHANG);

		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR) {
			r = -errno;
			goto kill;
		}
		if (o->timed_out || now_ms() >= deadline) {
			o->timed_out = true;
			r = -ETIMEDOUT;
			goto kill;
		}
		usleep(nap * 1000);
		nap = nap < 32 ? nap * 2 : nap;
	}
kill:
	(void)kill(-pid, SIGKILL);
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, &o->status, 0) < 0 && errno == EINTR)
		;
	return r;
}

/* The first directory of @path holding an executable @type. */
static char *find_plugin(const char *path, const char *type)
{
	const char *p = path;

	while (*p) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		struct stat st;

		if (len) {
			char *exe =
			    cove_strdup_printf("%.*s/%s", (int)len, p, type);
			if (!exe)
				return NULL;
			if (stat(exe, &st) == 0 && S_ISREG(st.st_mode) &&
			    access(exe, X_OK) == 0)
				return exe;
			free(exe);
		}
		p += len + (colon ? 1 : 0);
	}
	errno = ENOENT;
	return NULL;
}

/* The errno that best says what a CNI error code means. */
static int cni_code_errno(uint64_t code)
{
	switch (code) {
	case 1: /* incompatible CNI version */
		return ENOTSUP;
	case 2: /* unsupported field in the configuration */
	case 4: /* invalid environment variables */
	case 6: /* failed to decode content */
	case 7: /* invalid network config */
		return EINVAL;
	case 3: /* container unknown or does not exist */
		return ENOENT;
	case 11: /* try again later */
		return EAGAIN;
	default: /* 5 I/O failure, 100+ plugin-specific */
		return EIO;
	}
}

/* The last non-empty line of a plugin's stderr. */
static void last_line(struct buf *b, char *out, size_t size)
{
	size_t end = b->len, start;

	while (end > 0 && isspace((unsigned char)b->p[end - 1]))
		end--;
	start = end;
	while (start > 0 && b->p[start - 1] != '\n')
		start--;
	snprintf(out, size, "%.*s", (int)(end - start), b->p + start);
}

struct run {
	const struct cove_network *net;
	const struct cove_cni_attach *a;
	const char *command; /* ADD, CHECK, DEL */
	const json_t *caps;  /* capability arguments; may be NULL */
};

static int plugin_failed(const struct run *run, const char *type,
			 struct plugin_output *o, struct cove_error *err)
{
	_cleanup_json_ json_t *e = NULL;
	const char *msg = NULL, *details = NULL;
	uint64_t code = 0;
	bool has_code = false;
	char line[512] = "";

	if (o->out.len &&
	    cove_json_load_buffer("plugin error", o->out.p, o->out.len, &e,
				  NULL) == 0 &&
	    json_is_object(e)) {
		(void)cove_json_string(e, "", "msg", &msg, NULL);
		(void)cove_json_string(e, "", "details", &details, NULL);
		(void)cove_json_uint64(e, "", "code", &code, &has_code, NULL);
	}
	if (msg && *msg)
		return cove_error_set(
		    err, cni_code_errno(code),
		    "network '%s': plugin '%s' failed on %s: %s%s%s (CNI "
		    "error %llu)",
		    run->net->name, type, run->command, msg,
		    details && *details ? ": " : "", details ? details : "",
		    (unsigned long long)code);
	if (o->err.len)
		last_line(&o->err, line, sizeof(line));
	if (WIFSIGNALED(o->status))
		return cove_error_set(err, EIO,
				      "network '%s': plugin '%s' killed by "
				      "signal %d on %s%s%s",
				      run->net->name, type, WTERMSIG(o->status),
				      run->command, *line ? ": " : "", line);
	return cove_error_set(err, EIO,
			      "network '%s': plugin '%s' failed on %s with "
			      "exit status %d%s%s",
			      run->net->name, type, run->command,
			      WEXITSTATUS(o->status), *line ? ": " : "", line);
}

/*
 * Run plugin @idx for @run with @prev as prevResult.  With @ret_result,
 * its stdout, parsed, goes there (NULL when it printed nothing).
 */
static int run_plugin(const struct run *run, size_t idx, const json_t *prev,
		      json_t **ret_result, struct cove_error *err)
{
	const struct cove_cni_attach *a = run->a;
	const char *path =
	    a->plugin_path ? a->plugin_path : COVE_CNI_PATH_DEFAULT;
	json_t *plugin =
	    json_array_get(json_object_get(run->net->config, "plugins"), idx);
	const char *type = json_string_value(json_object_get(plugin, "type"));
	_cleanup_free_ char *exe = NULL, *input = NULL, *e_cmd = NULL,
			    *e_id = NULL, *e_ns = NULL, *e_if = NULL,
			    *e_args = NULL, *e_path = NULL;
	_cleanup_json_ json_t *conf = NULL;
	struct plugin_output o = {0};
	char *envp[8];
	size_t ne = 0;
	int r;

	if (!type)
		return cove_error_set(
		    err, EINVAL, "network '%s': missing 'plugins[%zu].type'",
		    run->net->name, idx);
	exe = find_plugin(path, type);
	if (!exe)
		return errno == ENOMEM
			   ? -ENOMEM
			   : cove_error_set(err, ENOENT,
					    "network '%s': plugin '%s' not "
					    "found in %s",
					    run->net->name, type, path);
	r = cove_cni_plugin_config(run->net, idx, run->caps, prev, &conf, err);
	if (r < 0)
		return r;
	input = json_dumps(conf, JSON_COMPACT);
	e_cmd = cove_strdup_printf("CNI_COMMAND=%s", run->command);
	e_id = cove_strdup_printf("CNI_CONTAINERID=%s", a->container_id);
	e_ns = cove_strdup_printf("CNI_NETNS=%s", a->netns ? a->netns : "");
	e_if = cove_strdup_printf("CNI_IFNAME=%s", ifname_of(a));
	e_args = cove_strdup_printf("CNI_ARGS=%s", a->args ? a->args : "");
	e_path = cove_strdup_printf("CNI_PATH=%s", path);
	if (!input || !e_cmd || !e_id || !e_ns || !e_if || !e_args || !e_path)
		return -ENOMEM;
	envp[ne++] = e_cmd;
	envp[ne++] = e_id;
	if (a->netns && *a->netns)
		envp[ne++] = e_ns;
	envp[ne++] = e_if;
	if (a->args && *a->args)
		envp[ne++] = e_args;
	envp[ne++] = e_path;
	envp[ne++] = (char *)PLUGIN_PATH_ENV;
	envp[ne] = NULL;

	r = run_exe(exe, envp, input, strlen(input),
		    (int64_t)(a->timeout_sec ? a->timeout_sec
					     : COVE_CNI_TIMEOUT_DEFAULT) *
			1000,
		    &o);
	if (o.timed_out) {
		r = cove_error_set(err, ETIMEDOUT,
				   "network '%s': plugin '%s' did not finish "
				   "%s within %u s",
				   run->net->name, type, run->command,
				   a->timeout_sec ? a->timeout_sec
						  : COVE_CNI_TIMEOUT_DEFAULT);
		goto out;
	}
	if (r < 0) {
		r = cove_error_setx(err, r,
				    "network '%s': cannot run plugin %s",
				    run->net->name, exe);
		goto out;
	}
	if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0) {
		r = plugin_failed(run, type, &o, err);
		goto out;
	}
	if (o.out.truncated) {
		r = cove_error_set(err, EFBIG,
				   "network '%s': plugin '%s' printed more "
				   "than %u bytes on %s",
				   run->net->name, type, RESULT_MAX,
				   run->command);
		goto out;
	}
	if (ret_result) {
		json_t *res = NULL;

		*ret_result = NULL;
		if (o.out.len) {
			struct cove_error je = {0};

			r = cove_json_load_buffer("result", o.out.p, o.out.len,
						  &res, &je);
			if (r < 0 || !json_is_object(res)) {
				if (res)
					json_decref(res);
				r = cove_error_set(
				    err, EINVAL,
				    "network '%s': plugin '%s' printed an "
				    "invalid result on %s: %s",
				    run->net->name, type, run->command,
				    r < 0 ? je.msg : "not a JSON object");
				goto out;
			}
		}
		*ret_result = res;
	}
	r = 0;
out:
	plugin_output_release(&o);
	return r;
}

static size_t n_plugins(const struct cove_network *net)
{
	return json_array_size(json_object_get(net->config, "plugins"));
}

/* ---- the cache --------------------------------------------------------------
 */

static char *cache_file(const char *cache_dir, const char *network,
			const char *id, const char *ifname)
{
	char *name = cove_strdup_printf("%s-%s-%s", network, id, ifname);
	char *path;

	if (!name)
		return NULL;
	if (strlen(name) > NAME_MAX) {
		free(name);
		errno = ENAMETOOLONG;
		return NULL;
	}
	path = cove_strdup_printf("%s/results/%s", cache_dir, name);
	free(name);
	return path;
}

static int cache_lock(const char *cache_dir, struct cove_error *err)
{
	_cleanup_free_ char *results = NULL, *lock = NULL;
	int fd, r;

	results = cove_strdup_printf("%s/results", cache_dir);
	lock = cove_strdup_printf("%s/lock", cache_dir);
	if (!results || !lock)
		return -ENOMEM;
	r = cove_mkdir_p(results, 0700);
	if (r < 0)
		return cove_error_setx(err, r, "cannot create %s", results);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cove_error_setx(err, errno, "cannot open %s", lock);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			r = -errno;
			close(fd);
			return cove_error_setx(err, r, "cannot lock %s", lock);
		}
	}
	return fd;
}

struct cached {
	json_t *doc;	/* the whole entry */
	json_t *result; /* borrowed from doc */
	json_t *caps;	/* borrowed; may be NULL */
};

static void cached_release(struct cached *c)
{
	if (c->doc)
		json_decref(c->doc);
	*c = (struct cached){0};
}

/* -ENOENT (no message) when there is no entry. */
static int cache_read(const char *file, struct cached *ret,
		      struct cove_error *err)
{
	_cleanup_json_ json_t *doc = NULL;
	json_t *result = NULL, *caps = NULL;
	struct cove_error je = {0};
	const char *kind = NULL;
	int r;

	if (access(file, F_OK) < 0)
		return errno == ENOENT
			   ? -ENOENT
			   : cove_error_setx(err, errno, "cannot read %s",
					     file);
	r = cove_json_load_file(file, RESULT_MAX, &doc, err);
	if (r < 0)
		return r;
	if (!json_is_object(doc) ||
	    cove_json_string(doc, "", "kind", &kind, &je) < 0 ||
	    cove_json_object(doc, "", "result", &result, &je) < 0 ||
	    cove_json_object(doc, "", "capabilityArgs", &caps, &je) < 0)
		return cove_error_set(err, EINVAL,
				      "invalid CNI cache entry %s%s%s", file,
				      je.code ? ": " : "", je.msg);
	if (!kind || strcmp(kind, CACHE_KIND) || !result)
		return cove_error_set(err, EINVAL,
				      "invalid CNI cache entry %s: not a "
				      "cached result",
				      file);
	ret->result = result;
	ret->caps = caps;
	ret->doc = TAKE_PTR(doc);
	return 0;
}

static int cache_write(const char *file, const struct cove_network *net,
		       const struct cove_cni_attach *a, const json_t *caps,
		       json_t *result, struct cove_error *err)
{
	_cleanup_free_ char *conf = NULL, *b64 = NULL, *text = NULL;
	_cleanup_json_ json_t *doc = NULL;
	int r;

	conf = json_dumps(net->config, JSON_COMPACT);
	if (!conf)
		return -ENOMEM;
	r = cove_base64_encode(conf, strlen(conf), &b64);
	if (r < 0)
		return r;
	doc =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "kind", CACHE_KIND,
		      "containerId", a->container_id, "config", b64, "ifName",
		      ifname_of(a), "networkName", net->name, "result", result);
	if (!doc)
		return -ENOMEM;
	if (caps && json_object_size(caps) &&
	    json_object_set_new(doc, "capabilityArgs", json_deep_copy(caps)) <
		0)
		return -ENOMEM;
	text = json_dumps(doc, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	/* per boot (the runroot): no fsync */
	r = cove_write_file_replace_at(AT_FDCWD, file, text, strlen(text),
				       0600);
	if (r < 0)
		return cove_error_setx(err, r, "cannot write %s", file);
	return 0;
}

/* The cache entry of one attachment; -ENOENT (with a message) if none. */
static int cached_open(const char *cache_dir, const char *network,
		       const char *container_id, const char **ifname,
		       struct cached *ret, struct cove_error *err)
{
	_cleanup_free_ char *file = NULL;
	int r;

	if (!*ifname)
		*ifname = "eth0";
	file = cache_file(cache_dir, network, container_id, *ifname);
	if (!file)
		return -errno;
	r = cache_read(file, ret, err);
	if (r == -ENOENT)
		return cove_error_set(err, ENOENT,
				      "container '%s' has no cached result for "
				      "network '%s' (%s)",
				      container_id, network, *ifname);
	return r;
}

int cove_cni_cached_result(const char *cache_dir, const char *network,
			   const char *container_id, const char *ifname,
			   struct cove_cni_result *ret, struct cove_error *err)
{
	struct cached c = {0};
	int r;

	*ret = (struct cove_cni_result){0};
	r = cached_open(cache_dir, network, container_id, &ifname, &c, err);
	if (r < 0)
		return r;
	r = cove_cni_result_from_json(c.result, ifname, ret, err);
	cached_release(&c);
	return r;
}

int cove_cni_cached_network(const char *cache_dir, const char *network,
			    const char *container_id, const char *ifname,
			    struct cove_network **ret, struct cove_error *err)
{
	_cleanup_free_ void *conf = NULL;
	_cleanup_free_ char *file = NULL;
	const char *b64 = NULL;
	struct cached c = {0};
	size_t len = 0;
	int r;

	r = cached_open(cache_dir, network, container_id, &ifname, &c, err);
	if (r < 0)
		return r;
	file = cache_file(cache_dir, network, container_id, ifname);
	if (!file) {
		cached_release(&c);
		return -ENOMEM;
	}
	if (cove_json_string(c.doc, "", "config", &b64, err) < 0 || !b64 ||
	    cove_base64_decode(b64, &conf, &len) < 0) {
		cached_release(&c);
		return cove_error_set(err, EINVAL,
				      "invalid CNI cache entry %s: bad "
				      "'config'",
				      file);
	}
	cached_release(&c);
	return cove_network_parse(file, conf, len, ret, err);
}

/* ---- ADD, CHECK, DEL --------------------------------------------------------
 */

/*
 * -EEXIST when the cache records the container's interface @ifname on any
 * network: a second ADD would fail on the existing interface, and the
 * DEL that cleans up after it would delete that interface.  The cache
 * file name is ambiguous (network names may hold '-'), its content not.
 */
static int find_attachment(const struct cove_cni_attach *a,
			   struct cove_error *err)
{
	_cleanup_free_ char *dir = NULL, *suffix = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	dir = cove_strdup_printf("%s/results", a->cache_dir);
	suffix = cove_strdup_printf("-%s-%s", a->container_id, ifname_of(a));
	if (!dir || !suffix)
		return -ENOMEM;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT
			   ? 0
			   : cove_error_setx(err, errno, "cannot read %s", dir);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name), sl = strlen(suffix);
		_cleanup_free_ char *file = NULL;
		const char *id = NULL, *ifname = NULL, *network = NULL;
		struct cached c = {0};
		bool same;

		if (len <= sl || strcmp(de->d_name + len - sl, suffix))
			continue;
		file = cove_strdup_printf("%s/%s", dir, de->d_name);
		if (!file)
			return -ENOMEM;
		if (cache_read(file, &c, NULL) < 0)
			continue;
		(void)cove_json_string(c.doc, "", "containerId", &id, NULL);
		(void)cove_json_string(c.doc, "", "ifName", &ifname, NULL);
		(void)cove_json_string(c.doc, "", "networkName", &network,
				       NULL);
		same = id && ifname && !strcmp(id, a->container_id) &&
		       !strcmp(ifname, ifname_of(a));
		if (same) {
			int r = cove_error_set(
			    err, EEXIST,
			    "container '%s' already has %s on network '%s'",
			    a->container_id, ifname_of(a),
			    network ? network : "?");
			cached_release(&c);
			return r;
		}
		cached_release(&c);
	}
	return 0;
}

static bool prev_on_del(const struct cove_network *net)
{
	return version_cmp(net->cni_version, 0, 4, 0) >= 0;
}

/*
 * DEL of every plugin, last first.  All run; the first error is kept.
 */
static int del_all(const struct run *run, const json_t *prev,
		   struct cove_error *err)
{
	size_t n = n_plugins(run->net);
	int first = 0;

	for (size_t i = n; i-- > 0;) {
		struct cove_error e = {0};
		int r = run_plugin(run, i, prev, NULL, &e);

		if (r < 0 && first == 0) {
			first = r;
			if (err)
				*err = e;
		}
	}
	return first;
}

int cove_cni_add(const struct cove_network *net,
		 const struct cove_cni_attach *a, struct cove_cni_result *ret,
		 struct cove_error *err)
{
	_cleanup_json_ json_t *caps = NULL, *result = NULL;
	_cleanup_free_ char *file = NULL;
	_cleanup_close_ int lock = -1;
	struct cove_cni_result res = {0};
	struct run run = {net, a, "ADD", NULL};
	size_t n;
	int r;

	if (ret)
		*ret = (struct cove_cni_result){0};
	r = check_attach(net, a, true, err);
	if (r < 0)
		return r;
	file =
	    cache_file(a->cache_dir, net->name, a->container_id, ifname_of(a));
	if (!file)
		return cove_error_setx(err, errno,
				       "cannot name the CNI cache entry of "
				       "container '%s'",
				       a->container_id);
	r = capability_args(net, a, &caps);
	if (r < 0)
		return r;
	run.caps = caps;
	lock = cache_lock(a->cache_dir, err);
	if (lock < 0)
		return lock;
	r = find_attachment(a, err);
	if (r < 0)
		return r;
	n = n_plugins(net);
	for (size_t i = 0; i < n; i++) {
		json_t *out = NULL;

		r = run_plugin(&run, i, result, &out, err);
		if (r < 0)
			goto undo;
		/* a plugin that prints nothing passes the result on */
		if (out) {
			json_decref(result);
			result = out;
		}
	}
	if (!result) {
		result = json_pack("{s:s}", "cniVersion", net->cni_version);
		if (!result) {
			r = -ENOMEM;
			goto undo;
		}
	}
	r = cove_cni_result_from_json(result, ifname_of(a), &res, err);
	if (r < 0) {
		if (err && r != -ENOMEM)
			(void)cove_error_wrap(
			    err, "network '%s': invalid result", net->name);
		goto undo;
	}
	r = cache_write(file, net, a, caps, result, err);
	if (r < 0)
		goto undo;
	if (ret)
		*ret = res;
	else
		cove_cni_result_release(&res);
	return 0;
undo:
	/*
	 * SPEC.md: after a failed ADD the runtime runs DEL for the whole
	 * list, last plugin first; plugins that never ran ignore it.  The
	 * error of the ADD is the one reported.
	 */
	cove_cni_result_release(&res);
	run.command = "DEL";
	(void)del_all(&run, prev_on_del(net) ? result : NULL, NULL);
	return r;
}

int cove_cni_check(const struct cove_network *net,
		   const struct cove_cni_attach *a, struct cove_error *err)
{
	_cleanup_json_ json_t *caps = NULL;
	_cleanup_free_ char *file = NULL;
	_cleanup_close_ int lock = -1;
	struct run run = {net, a, "CHECK", NULL};
	struct cached c = {0};
	bool disabled = false;
	size_t n;
	int r;

	r = check_attach(net, a, true, err);
	if (r < 0)
		return r;
	if (version_cmp(net->cni_version, 0, 4, 0) < 0)
		return cove_error_set(err, ENOTSUP,
				      "network '%s': CHECK needs cniVersion "
				      "0.4.0 or later, the list has %s",
				      net->name, net->cni_version);
	if (cove_json_bool(net->config, "", "disableCheck", &disabled, err) < 0)
		return -EINVAL;
	if (disabled)
		return 0;
	file =
	    cache_file(a->cache_dir, net->name, a->container_id, ifname_of(a));
	if (!file)
		return -errno;
	lock = cache_lock(a->cache_dir, err);
	if (lock < 0)
		return lock;
	r = cache_read(file, &c, err);
	if (r == -ENOENT)
		return cove_error_set(err, ENOENT,
				      "container '%s' is not attached to "
				      "network '%s' as %s",
				      a->container_id, net->name, ifname_of(a));
	if (r < 0)
		return r;
	if (attach_has_caps(a)) {
		r = capability_args(net, a, &caps);
		if (r < 0)
			goto out;
		run.caps = caps;
	} else {
		run.caps = c.caps;
	}
	n = n_plugins(net);
	for (size_t i = 0; i < n; i++) {
		r = run_plugin(&run, i, c.result, NULL, err);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	cached_release(&c);
	return r;
}

int cove_cni_del(const struct cove_network *net,
		 const struct cove_cni_attach *a, struct cove_error *err)
{
	_cleanup_json_ json_t *caps = NULL;
	_cleanup_free_ char *file = NULL;
	_cleanup_close_ int lock = -1;
	struct cove_cni_attach eff = *a;
	struct run run = {net, &eff, "DEL", NULL};
	struct cached c = {0};
	int r;

	r = check_attach(net, a, false, err);
	if (r < 0)
		return r;
	/*
	 * A namespace that is gone (or a leftover file that no longer pins
	 * one) is no namespace: plugins skip what they would do inside it
	 * instead of failing to enter it, so the DEL can complete.
	 */
	if (eff.netns && *eff.netns && !cove_netns_is_mounted(eff.netns))
		eff.netns = NULL;
	file =
	    cache_file(a->cache_dir, net->name, a->container_id, ifname_of(a));
	if (!file)
		return -errno;
	lock = cache_lock(a->cache_dir, err);
	if (lock < 0)
		return lock;
	r = cache_read(file, &c, err);
	if (r < 0 && r != -ENOENT)
		return r;
	if (attach_has_caps(a) || !c.caps) {
		r = capability_args(net, a, &caps);
		if (r < 0)
			goto out;
		run.caps = caps;
	} else {
		run.caps = c.caps;
	}
	r = del_all(&run, prev_on_del(net) ? c.result : NULL, err);
	if (r == 0 && unlink(file) < 0 && errno != ENOENT)
		r = cove_error_setx(err, errno, "cannot remove %s", file);
out:
	cached_release(&c);
	return r;
}
