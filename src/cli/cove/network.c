/*
 * cove's network commands: network create, ls, inspect and rm.  Each
 * parses its flags, calls engine/network.h and prints; networks live in
 * <root>/networks as CNI configuration lists, and the lists of
 * /etc/cni/net.d show up read-only.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cove/cli.h"
#include "cli/cove/remote.h"
#include "engine/network.h"
#include "image/digest.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strutil.h"

enum {
	OPT_SUBNET = 256,
	OPT_GATEWAY,
	OPT_INTERNAL,
	OPT_LABEL,
	OPT_DRIVER,
	OPT_INTERFACE,
	OPT_FORMAT,
	OPT_NOHEADING,
};

/* <root>/networks, or an exit status when it cannot be had. */
static int networks_dir(struct cove_ctx *ctx, char **ret)
{
	*ret = cove_network_dir(ctx->root);
	return *ret ? 0 : cove_cli_failf("out of memory");
}

/* podman's network id: the sha256 of the name, in hex. */
static void network_id(const char *name, char *buf, size_t size)
{
	char d[COVE_DIGEST_MAX];
	const char *hex;

	if (cove_digest_buffer(COVE_DIGEST_SHA256, name, strlen(name), d) < 0) {
		snprintf(buf, size, "%s", "");
		return;
	}
	hex = strchr(d, ':');
	snprintf(buf, size, "%s", hex ? hex + 1 : d);
}

static json_t *labels_json(char *const *labels)
{
	json_t *o = json_object();

	for (char *const *l = labels; o && l && *l; l++) {
		const char *eq = strchr(*l, '=');
		_cleanup_free_ char *k =
		    eq ? strndup(*l, (size_t)(eq - *l)) : strdup(*l);

		if (k)
			json_object_set_new(o, k,
					    json_string(eq ? eq + 1 : ""));
	}
	return o;
}

/*
 * The podman (netavark-style) description of a network, plus what is
 * particular to CNI: the list itself and the file it lives in.
 */
static json_t *network_json(const struct cove_network *n)
{
	json_t *subnets = json_array(), *o;
	char id[80], created[64];
	bool v6 = false;
	time_t t = (time_t)n->created;
	struct tm tm;

	network_id(n->name, id, sizeof(id));
	if (gmtime_r(&t, &tm))
		strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(created, sizeof(created), "1970-01-01T00:00:00Z");
	for (size_t i = 0; subnets && i < n->n_ranges; i++) {
		json_t *s = json_pack("{s:s}", "subnet", n->ranges[i].subnet);

		if (n->ranges[i].gateway)
			json_object_set_new(s, "gateway",
					    json_string(n->ranges[i].gateway));
		json_array_append_new(subnets, s);
		if (strchr(n->ranges[i].subnet, ':'))
			v6 = true;
	}
	o = json_pack(
	    "{s:s, s:s, s:s, s:s?, s:s, s:o, s:b, s:b, s:b, s:o, s:{s:s?}, "
	    "s:s, s:s?, s:b, s:O}",
	    "name", n->name, "id", id, "driver", n->driver ? n->driver : "",
	    "network_interface", n->bridge, "created", created, "subnets",
	    subnets, "ipv6_enabled", v6, "internal", n->internal, "dns_enabled",
	    0, "labels", labels_json(n->labels), "ipam_options", "driver",
	    n->ipam_type, "cni_version", n->cni_version, "config_file", n->path,
	    "read_only", n->read_only, "cni_config", n->config);
	return o;
}

static void print_json(json_t *j)
{
	_cleanup_free_ char *s = j ? json_dumps(j, JSON_INDENT(4)) : NULL;

	if (s)
		printf("%s\n", s);
}

/* ---- create --------------------------------------------------------------
 */

static const char create_help[] =
    "NAME:\n"
    "   cove network create - create a network\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove network create [options] NAME\n"
    "\n"
    "DESCRIPTION:\n"
    "   Writes a CNI configuration list for a new bridge network to\n"
    "   <root>/networks/NAME.conflist: the bridge plugin (a Linux bridge\n"
    "   with the gateway address, masquerading outgoing traffic) with\n"
    "   host-local addresses, portmap for published ports and firewall.\n"
    "   Without --subnet the first free 10.89.N.0/24 is used; without\n"
    "   --interface-name the bridge is the first free coveN.  A subnet\n"
    "   that overlaps another network's or a route of this host is\n"
    "   refused.  Containers join it with `--network NAME`; the bridge\n"
    "   appears when the first one does.\n"
    "\n"
    "   NAME matches [a-zA-Z0-9][a-zA-Z0-9_.-]*; the network modes (host,\n"
    "   none, bridge, ...) are not valid names.  Prints the name.\n"
    "\n"
    "OPTIONS:\n"
    "   -d, --driver DRIVER     bridge (the only one)\n"
    "   --gateway IP            the gateway address (default: the first\n"
    "                           address of the subnet)\n"
    "   --interface-name NAME   the bridge interface (default: coveN)\n"
    "   --internal              no gateway and no masquerading: "
    "containers\n"
    "                           reach each other and nothing else\n"
    "   --label KEY=VALUE       a label (repeatable)\n"
    "   --subnet CIDR           the IPv4 subnet, such as 10.90.0.0/24\n"
    "   -h, --help              show this help\n"
    "\n"
    "EXAMPLES:\n"
    "   cove network create backend\n"
    "   cove network create --subnet 192.168.100.0/24 --label env=test "
    "web\n"
    "   cove network create --internal db\n";

static int cmd_network_create(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"driver", required_argument, NULL, 'd'},
	    {"gateway", required_argument, NULL, OPT_GATEWAY},
	    {"interface-name", required_argument, NULL, OPT_INTERFACE},
	    {"internal", no_argument, NULL, OPT_INTERNAL},
	    {"label", required_argument, NULL, OPT_LABEL},
	    {"subnet", required_argument, NULL, OPT_SUBNET},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_strv_ char **labels = NULL;
	_cleanup_free_ char *dir = NULL;
	struct cove_network_opts o = {0};
	struct cove_network *n = NULL;
	struct cove_error err = {0};
	int c, r;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(create_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (strcmp(optarg, "bridge"))
				return cove_cli_failf(
				    "network create: unsupported driver '%s': "
				    "only bridge",
				    optarg);
			break;
		case OPT_GATEWAY:
			o.gateway = optarg;
			break;
		case OPT_INTERFACE:
			o.bridge = optarg;
			break;
		case OPT_INTERNAL:
			o.internal = true;
			break;
		case OPT_LABEL:
			if (cove_strv_push(&labels, optarg) < 0)
				return cove_cli_failf("out of memory");
			break;
		case OPT_SUBNET:
			if (o.subnet)
				return cove_cli_failf(
				    "network create: only one --subnet is "
				    "supported");
			o.subnet = optarg;
			break;
		default:
			return cove_cli_unknown_option("network create", argv);
		}
	}
	if (argc - optind != 1)
		return cove_cli_failf("network create: exactly one network "
				      "name is required (see 'cove network "
				      "create --help')");
	if (o.gateway && !o.subnet)
		return cove_cli_failf("network create: --gateway needs "
				      "--subnet");
	o.labels = labels;
	r = networks_dir(ctx, &dir);
	if (r)
		return r;
	if (cove_network_create(dir, COVE_NETWORK_SYSTEM_DIR, argv[optind], &o,
				&n, &err) < 0)
		return cove_cli_fail(&err);
	printf("%s\n", n->name);
	cove_network_free(n);
	return 0;
}

/* ---- ls ------------------------------------------------------------------
 */

static const char ls_help[] =
    "NAME:\n"
    "   cove network ls - list networks\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove network ls [options]\n"
    "\n"
    "DESCRIPTION:\n"
    "   One line per network: cove's own (<root>/networks, the default\n"
    "   network \"cove\" among them) and the CNI configuration lists of\n"
    "   /etc/cni/net.d, sorted by name.  The NETWORK ID is podman's, the\n"
    "   sha256 of the name.\n"
    "\n"
    "OPTIONS:\n"
    "   --format FORMAT       table (default) or json (the objects\n"
    "                         `network inspect` prints)\n"
    "   -n, --noheading       no header line\n"
    "   -q, --quiet           names only\n"
    "   -h, --help            show this help\n";

static int cmd_network_ls(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"noheading", no_argument, NULL, 'n'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_free_ char *dir = NULL;
	struct cove_network **v = NULL;
	struct cove_error err = {0};
	const char *format = "table";
	bool quiet = false, noheading = false;
	size_t n = 0;
	int c, r;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(ls_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "nqh", opts, NULL)) != -1) {
		if (c == 'q')
			quiet = true;
		else if (c == 'n')
			noheading = true;
		else if (c == OPT_FORMAT)
			format = optarg;
		else
			return cove_cli_unknown_option("network ls", argv);
	}
	if (optind < argc)
		return cove_cli_failf("network ls: unexpected argument '%s'",
				      argv[optind]);
	if (strcmp(format, "table") && strcmp(format, "json"))
		return cove_cli_failf("network ls: invalid --format '%s': "
				      "must be table or json",
				      format);
	r = networks_dir(ctx, &dir);
	if (r)
		return r;
	if (cove_network_list(dir, COVE_NETWORK_SYSTEM_DIR, &v, &n, &err) < 0)
		return cove_cli_fail(&err);
	if (quiet) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", v[i]->name);
	} else if (!strcmp(format, "json")) {
		_cleanup_json_ json_t *arr = json_array();

		for (size_t i = 0; arr && i < n; i++)
			json_array_append_new(arr, network_json(v[i]));
		print_json(arr);
	} else {
		if (!noheading)
			printf("%-14s%-24s%s\n", "NETWORK ID", "NAME",
			       "DRIVER");
		for (size_t i = 0; i < n; i++) {
			char id[80];

			network_id(v[i]->name, id, sizeof(id));
			printf("%-14.12s%-24s%s\n", id, v[i]->name,
			       v[i]->driver ? v[i]->driver : "");
		}
	}
	cove_networks_free(v, n);
	return 0;
}

/* ---- inspect -------------------------------------------------------------
 */

static const char inspect_help[] =
    "NAME:\n"
    "   cove network inspect - show the details of networks\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove network inspect NETWORK [NETWORK...]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Prints a JSON array with one object per network, with podman's\n"
    "   members (name, id, driver, network_interface, created, subnets,\n"
    "   ipv6_enabled, internal, dns_enabled, labels, ipam_options) and\n"
    "   the CNI ones: cni_version, config_file, read_only and cni_config,\n"
    "   the configuration list the plugins are run with.  \"bridge\" names\n"
    "   the default network.\n"
    "\n"
    "OPTIONS:\n"
    "   -h, --help            show this help\n";

static int cmd_network_inspect(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_json_ json_t *arr = json_array();
	_cleanup_free_ char *dir = NULL;
	struct cove_error err = {0};
	int c, r;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(inspect_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		if (c == 'f' && !strcmp(optarg, "json"))
			continue;
		if (c == 'f')
			return cove_cli_failf("network inspect: invalid "
					      "--format '%s': must be json",
					      optarg);
		return cove_cli_unknown_option("network inspect", argv);
	}
	if (optind >= argc)
		return cove_cli_failf(
		    "network inspect: at least one network is "
		    "required (see 'cove network inspect "
		    "--help')");
	if (!arr)
		return cove_cli_failf("out of memory");
	r = networks_dir(ctx, &dir);
	if (r)
		return r;
	for (int i = optind; i < argc; i++) {
		struct cove_network *n = NULL;

		if (cove_network_load(dir, COVE_NETWORK_SYSTEM_DIR, argv[i], &n,
				      &err) < 0)
			return cove_cli_fail(&err);
		json_array_append_new(arr, network_json(n));
		cove_network_free(n);
	}
	print_json(arr);
	return 0;
}

/* ---- rm ------------------------------------------------------------------
 */

static const char rm_help[] =
    "NAME:\n"
    "   cove network rm - remove networks\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove network rm NETWORK [NETWORK...]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Removes each network's configuration list and its address leases,\n"
    "   printing its name.  The default network (\"cove\", alias "
    "\"bridge\")\n"
    "   and the lists of /etc/cni/net.d cannot be removed.  Every network\n"
    "   is tried; the exit status is 125 if one could not be removed.\n"
    "\n"
    "OPTIONS:\n"
    "   -h, --help            show this help\n";

static int cmd_network_rm(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_free_ char *dir = NULL;
	int c, r, failed = 0;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(rm_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		return cove_cli_unknown_option("network rm", argv);
	if (optind >= argc)
		return cove_cli_failf(
		    "network rm: at least one network is "
		    "required (see 'cove network rm --help')");
	r = networks_dir(ctx, &dir);
	if (r)
		return r;
	for (int i = optind; i < argc; i++) {
		struct cove_error err = {0};

		if (cove_network_remove(dir, COVE_NETWORK_SYSTEM_DIR, argv[i],
					&err) < 0)
			failed = cove_cli_fail(&err);
		else
			printf("%s\n", argv[i]);
	}
	return failed;
}

/* ---- the command table ---------------------------------------------------
 */

/* Declared in cli.h too once "network" is in the command table. */
int cmd_network(struct cove_ctx *ctx, int argc, char **argv);

static const struct cove_command network_commands[] = {
    {"create", cmd_network_create, "create a network"},
    {"inspect", cmd_network_inspect, "show the details of networks"},
    {"list", cmd_network_ls, "list networks"},
    {"ls", cmd_network_ls, "list networks"},
    {"remove", cmd_network_rm, "remove networks"},
    {"rm", cmd_network_rm, "remove networks"},
};

int cmd_network(struct cove_ctx *ctx, int argc, char **argv)
{
	return cove_cli_dispatch(ctx, network_commands,
				 ARRAY_SIZE(network_commands), "network",
				 argc - 1, argv + 1);
}
