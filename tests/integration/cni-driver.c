/*
 * A driver for tests/integration/test_network.py: one libcove call per
 * invocation, so that the test exercises engine/cni.h, network.h and
 * netns.h themselves inside a network namespace of its own (run it under
 * `nsenter --net=...`).  Errors go to stderr as "cni-driver: MESSAGE"
 * with exit status 1; results to stdout as JSON.
 *
 *   cni-driver netns-create PATH
 *   cni-driver netns-remove PATH
 *   cni-driver add ROOT RUNROOT NETWORK ID NETNS [HOST:CTR[/PROTO]...]
 *   cni-driver check ROOT RUNROOT NETWORK ID NETNS
 *   cni-driver del ROOT RUNROOT NETWORK ID NETNS|-
 *   cni-driver loopback RUNROOT ID NETNS
 *
 * The networks live in ROOT/networks (no system directory), the cache in
 * RUNROOT/cni; $COVE_CNI_PATH overrides the plugin path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cni.h"
#include "engine/netns.h"
#include "engine/network.h"
#include "util/cleanup.h"
#include "util/strutil.h"

static int fail(const struct cove_error *err)
{
	fprintf(stderr, "cni-driver: %s\n",
		err->msg[0] ? err->msg : strerror(err->code ? err->code : EIO));
	return 1;
}

static int usage(void)
{
	fputs("usage: cni-driver netns-create|netns-remove PATH\n"
	      "       cni-driver add|check|del ROOT RUNROOT NETWORK ID NETNS "
	      "[HOST:CTR[/PROTO]...]\n"
	      "       cni-driver loopback RUNROOT ID NETNS\n",
	      stderr);
	return 2;
}

static int parse_port(const char *s, struct cove_cni_port *p)
{
	_cleanup_free_ char *copy = strdup(s);
	char *colon, *slash;
	uint32_t h, c;

	if (!copy)
		return -ENOMEM;
	colon = strchr(copy, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	slash = strchr(colon + 1, '/');
	if (slash) {
		*slash = '\0';
		p->protocol = strcmp(slash + 1, "udp") ? "tcp" : "udp";
	}
	if (cove_parse_uint32(copy, &h) < 0 ||
	    cove_parse_uint32(colon + 1, &c) < 0 || h > 65535 || c > 65535)
		return -EINVAL;
	p->host_port = (uint16_t)h;
	p->container_port = (uint16_t)c;
	return 0;
}

static void print_result(const struct cove_cni_result *r)
{
	json_t *o = json_pack("{s:s?, s:s?, s:s?, s:i, s:s?, s:O}", "interface",
			      r->interface, "mac", r->mac, "ipv4", r->ipv4,
			      "prefix", (int)r->ipv4_prefix, "gateway",
			      r->ipv4_gateway, "raw", r->raw);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(o);
}

static int attach_cmd(int argc, char **argv)
{
	const char *cmd = argv[1], *root = argv[2], *runroot = argv[3];
	_cleanup_free_ char *dir = NULL, *cache = NULL;
	_cleanup_free_ struct cove_cni_port *ports = NULL;
	struct cove_network *net = NULL;
	struct cove_cni_result res = {0};
	struct cove_error err = {0};
	struct cove_cni_attach a = {0};
	int r;

	dir = cove_network_dir(root);
	cache = cove_strdup_printf("%s/cni", runroot);
	if (!dir || !cache)
		return 1;
	if (argc > 7) {
		ports = calloc((size_t)(argc - 7), sizeof(*ports));
		if (!ports)
			return 1;
		for (int i = 7; i < argc; i++)
			if (parse_port(argv[i], &ports[i - 7]) < 0) {
				fprintf(stderr, "cni-driver: bad port '%s'\n",
					argv[i]);
				return 2;
			}
		a.ports = ports;
		a.n_ports = (size_t)(argc - 7);
	}
	a.container_id = argv[5];
	a.netns = strcmp(argv[6], "-") ? argv[6] : NULL;
	a.cache_dir = cache;
	a.plugin_path = getenv("COVE_CNI_PATH");
	a.timeout_sec = 30;
	if (cove_network_load(dir, NULL, argv[4], &net, &err) < 0)
		return fail(&err);
	if (!strcmp(cmd, "add"))
		r = cove_cni_add(net, &a, &res, &err);
	else if (!strcmp(cmd, "check"))
		r = cove_cni_check(net, &a, &err);
	else
		r = cove_cni_del(net, &a, &err);
	cove_network_free(net);
	if (r < 0)
		return fail(&err);
	if (!strcmp(cmd, "add"))
		print_result(&res);
	cove_cni_result_release(&res);
	return 0;
}

static int loopback_cmd(char **argv)
{
	_cleanup_free_ char *cache = cove_strdup_printf("%s/cni", argv[2]);
	struct cove_network *lo = NULL;
	struct cove_cni_result res = {0};
	struct cove_error err = {0};
	struct cove_cni_attach a = {
	    .container_id = argv[3],
	    .netns = argv[4],
	    .ifname = "lo",
	    .cache_dir = cache,
	    .plugin_path = getenv("COVE_CNI_PATH"),
	};
	int r;

	if (!cache || cove_network_loopback(&lo, &err) < 0)
		return fail(&err);
	r = cove_cni_add(lo, &a, &res, &err);
	cove_network_free(lo);
	if (r < 0)
		return fail(&err);
	print_result(&res);
	cove_cni_result_release(&res);
	return 0;
}

int main(int argc, char **argv)
{
	struct cove_error err = {0};

	if (argc == 3 && !strcmp(argv[1], "netns-create"))
		return cove_netns_create(argv[2], &err) < 0 ? fail(&err) : 0;
	if (argc == 3 && !strcmp(argv[1], "netns-remove"))
		return cove_netns_remove(argv[2], &err) < 0 ? fail(&err) : 0;
	if (argc == 5 && !strcmp(argv[1], "loopback"))
		return loopback_cmd(argv);
	if (argc >= 7 && (!strcmp(argv[1], "add") ||
			  !strcmp(argv[1], "check") || !strcmp(argv[1], "del")))
		return attach_cmd(argc, argv);
	return usage();
}
