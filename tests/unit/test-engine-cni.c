/*
 * Unit tests for the engine's networking: IPv4 subnet arithmetic, network
 * files (the default network, subnet and bridge choice, overlaps, labels,
 * read-only system lists, removal), the configuration list parser, the
 * CNI result parser, plugin stdin generation, and the CNI protocol itself
 * run against fake plugins (shell scripts that log what they are given):
 * environment, stdin, prevResult chaining, DEL order, error JSON, the
 * clean-up after a failed ADD, timeouts and the result cache.  No root
 * needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/cni.h"
#include "engine/network.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

/* ---- fixtures ----------------------------------------------------------- */

struct fx {
	char *tmp;
	char *dir;   /* <tmp>/networks */
	char *sys;   /* <tmp>/sys: a stand-in for /etc/cni/net.d */
	char *bin;   /* <tmp>/bin: fake plugins */
	char *cache; /* <tmp>/cache */
};

static char *join(const char *a, const char *b)
{
	char *p = cove_strdup_printf("%s/%s", a, b);

	assert_non_null(p);
	return p;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	assert_int_equal(
	    cove_write_file_atomic_at(AT_FDCWD, path, text, strlen(text), mode),
	    0);
}

static char *read_text(const char *path)
{
	char *buf = NULL;

	assert_int_equal(cove_read_file(path, 1 << 20, &buf, NULL), 0);
	return buf;
}

/* A podman-like system list holding 10.89.0.0/24, as a .conflist. */
static const char sys_list[] =
    "{\"cniVersion\": \"0.4.0\", \"name\": \"sysnet\", \"plugins\": ["
    "{\"type\": \"bridge\", \"bridge\": \"sys0\", \"isGateway\": true,"
    " \"ipMasq\": true, \"ipam\": {\"type\": \"host-local\","
    " \"ranges\": [[{\"subnet\": \"10.89.0.0/24\","
    " \"gateway\": \"10.89.0.1\"}]]}},"
    "{\"type\": \"portmap\", \"capabilities\": {\"portMappings\": true}}],"
    " \"args\": {\"podman_labels\": {\"owner\": \"podman\"}}}";

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->tmp = strdup("/tmp/cove-test-cni-XXXXXX");
	if (!f->tmp || !mkdtemp(f->tmp))
		return -1;
	f->dir = join(f->tmp, "networks");
	f->sys = join(f->tmp, "sys");
	f->bin = join(f->tmp, "bin");
	f->cache = join(f->tmp, "cache");
	if (mkdir(f->sys, 0755) < 0 || mkdir(f->bin, 0755) < 0)
		return -1;
	{
		_cleanup_free_ char *p = join(f->sys, "50-sys.conflist");
		_cleanup_free_ char *junk = join(f->sys, "10-broken.conf");
		_cleanup_free_ char *lock = join(f->sys, "cni.lock");

		write_text(p, sys_list, 0644);
		write_text(junk, "{not json", 0644);
		write_text(lock, "", 0644);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (!f)
		return 0;
	cove_rm_rf(f->tmp);
	free(f->tmp);
	free(f->dir);
	free(f->sys);
	free(f->bin);
	free(f->cache);
	free(f);
	return 0;
}

/* ---- subnets ------------------------------------------------------------ */

static void test_subnet_parse(void **state)
{
	struct cove_error err = {0};
	struct cove_subnet s, t;
	char buf[COVE_SUBNET_STRLEN];
	uint32_t a;

	(void)state;
	assert_int_equal(cove_subnet_parse("10.88.0.0/16", &s, &err), 0);
	assert_int_equal(s.addr, 0x0a580000u);
	assert_int_equal(s.prefix, 16);
	cove_subnet_format(&s, buf, sizeof(buf));
	assert_string_equal(buf, "10.88.0.0/16");

	assert_int_equal(cove_subnet_parse("10.89.0.5/24", &s, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "did you mean 10.89.0.0/24"));
	assert_int_equal(cove_subnet_parse("10.89.0.0", &s, &err), -EINVAL);
	assert_int_equal(cove_subnet_parse("10.89.0.0/33", &s, &err), -EINVAL);
	assert_int_equal(cove_subnet_parse("10.89.0.0/", &s, &err), -EINVAL);
	assert_int_equal(cove_subnet_parse("10.89.0/24", &s, &err), -EINVAL);
	assert_int_equal(cove_subnet_parse("010.89.0.0/24", &s, &err), -EINVAL);
	assert_int_equal(cove_subnet_parse("fd00::/64", &s, &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "IPv6"));
	assert_int_equal(cove_subnet_parse("0.0.0.0/0", &s, NULL), 0);

	assert_int_equal(cove_subnet_parse("10.88.0.0/16", &s, NULL), 0);
	assert_int_equal(cove_subnet_parse("10.88.200.0/24", &t, NULL), 0);
	assert_true(cove_subnet_overlaps(&s, &t));
	assert_true(cove_subnet_overlaps(&t, &s));
	assert_int_equal(cove_subnet_parse("10.89.0.0/24", &t, NULL), 0);
	assert_false(cove_subnet_overlaps(&s, &t));
	assert_int_equal(cove_subnet_parse("0.0.0.0/0", &t, NULL), 0);
	assert_true(cove_subnet_overlaps(&s, &t));

	assert_int_equal(cove_ipv4_parse("10.88.255.255", &a), 0);
	assert_true(cove_subnet_contains(&s, a));
	assert_int_equal(cove_ipv4_parse("10.89.0.1", &a), 0);
	assert_false(cove_subnet_contains(&s, a));
	assert_int_equal(cove_ipv4_parse("10.89.0.256", &a), -EINVAL);
	assert_int_equal(cove_ipv4_parse("", &a), -EINVAL);
	cove_ipv4_format(0xc0a80101u, buf, sizeof(buf));
	assert_string_equal(buf, "192.168.1.1");
}

static void test_name_valid(void **state)
{
	(void)state;
	assert_true(cove_network_name_valid("cove"));
	assert_true(cove_network_name_valid("a"));
	assert_true(cove_network_name_valid("net_1.x-y"));
	assert_false(cove_network_name_valid(""));
	assert_false(cove_network_name_valid("-net"));
	assert_false(cove_network_name_valid(".hidden"));
	assert_false(cove_network_name_valid("a/b"));
	assert_false(cove_network_name_valid("a b"));
	assert_false(cove_network_name_valid(NULL));
}

/* ---- network files -------------------------------------------------------
 */

static json_t *plugin_of(const struct cove_network *n, size_t i)
{
	return json_array_get(json_object_get(n->config, "plugins"), i);
}

static void test_default_network(void **state)
{
	struct fx *f = *state;
	struct cove_network *n = NULL, *m = NULL;
	struct cove_error err = {0};
	_cleanup_free_ char *ipam = join(f->dir, "ipam");
	_cleanup_free_ char *file = join(f->dir, "cove.conflist");
	json_t *br, *range;

	assert_int_equal(cove_network_load(f->dir, f->sys, "cove", &n, &err),
			 0);
	assert_string_equal(n->name, "cove");
	assert_string_equal(n->cni_version, "1.0.0");
	assert_string_equal(n->path, file);
	assert_true(n->is_default);
	assert_false(n->read_only);
	assert_false(n->internal);
	assert_true(n->ip_masq);
	assert_string_equal(n->driver, "bridge");
	assert_string_equal(n->bridge, "cove0");
	assert_string_equal(n->ipam_type, "host-local");
	assert_int_equal(n->n_ranges, 1);
	assert_string_equal(n->ranges[0].subnet, "10.88.0.0/16");
	assert_string_equal(n->ranges[0].gateway, "10.88.0.1");
	assert_true(n->created > 0);

	br = plugin_of(n, 0);
	assert_true(json_is_true(json_object_get(br, "isGateway")));
	assert_true(json_is_true(json_object_get(br, "hairpinMode")));
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(br, "ipam"), "dataDir")),
			    ipam);
	range = json_array_get(
	    json_array_get(
		json_object_get(json_object_get(br, "ipam"), "ranges"), 0),
	    0);
	assert_string_equal(json_string_value(json_object_get(range, "subnet")),
			    "10.88.0.0/16");
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(
		    json_object_get(json_object_get(br, "ipam"), "routes"), 0),
		"dst")),
	    "0.0.0.0/0");
	assert_string_equal(
	    json_string_value(json_object_get(plugin_of(n, 1), "type")),
	    "portmap");
	assert_true(json_is_true(json_object_get(
	    json_object_get(plugin_of(n, 1), "capabilities"), "portMappings")));
	assert_string_equal(
	    json_string_value(json_object_get(plugin_of(n, 2), "type")),
	    "firewall");
	assert_null(plugin_of(n, 3));

	/* "bridge" is docker's name for it */
	assert_int_equal(cove_network_load(f->dir, f->sys, "bridge", &m, &err),
			 0);
	assert_string_equal(m->name, "cove");
	cove_network_free(m);
	cove_network_free(n);
}

static bool dir_has_tmp_files(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".tmp"))
			return true;
	return false;
}

static void test_create_network(void **state)
{
	struct fx *f = *state;
	struct cove_network *n = NULL, *m = NULL;
	struct cove_error err = {0};
	char *labels[] = {"app=web", "empty=", "bare", NULL};
	struct cove_network_opts o = {.labels = labels};
	json_t *br;

	/* 10.89.0.0/24 is the system list's: the next one is picked */
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "n1", &o, &n, &err), 0);
	assert_string_equal(n->name, "n1");
	assert_string_equal(n->ranges[0].subnet, "10.89.1.0/24");
	assert_string_equal(n->ranges[0].gateway, "10.89.1.1");
	assert_string_equal(n->bridge, "cove1");
	assert_false(n->is_default);
	assert_int_equal(cove_strv_length(n->labels), 3);
	assert_true(cove_strv_contains(n->labels, "app=web"));
	assert_true(cove_strv_contains(n->labels, "empty="));
	assert_true(cove_strv_contains(n->labels, "bare="));
	cove_network_free(n);
	n = NULL;

	/* loads back from its file, identically */
	assert_int_equal(cove_network_load(f->dir, f->sys, "n1", &m, &err), 0);
	assert_string_equal(m->ranges[0].subnet, "10.89.1.0/24");
	assert_string_equal(m->bridge, "cove1");
	cove_network_free(m);
	m = NULL;

	/* an explicit subnet, gateway and bridge; internal */
	o = (struct cove_network_opts){.subnet = "192.168.77.0/24",
				       .gateway = "192.168.77.254",
				       .bridge = "br-test",
				       .internal = true};
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "n2", &o, &n, &err), 0);
	assert_string_equal(n->ranges[0].gateway, "192.168.77.254");
	assert_string_equal(n->bridge, "br-test");
	assert_true(n->internal);
	assert_false(n->ip_masq);
	br = plugin_of(n, 0);
	assert_true(json_is_false(json_object_get(br, "isGateway")));
	assert_int_equal(json_array_size(json_object_get(
			     json_object_get(br, "ipam"), "routes")),
			 0);
	cove_network_free(n);
	n = NULL;

	/* the third automatic one skips the subnets and bridges in use */
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "n3", NULL, &n, &err), 0);
	assert_string_equal(n->ranges[0].subnet, "10.89.2.0/24");
	assert_string_equal(n->bridge, "cove2");
	cove_network_free(n);
	n = NULL;
	assert_false(dir_has_tmp_files(f->dir));
}

static void test_create_refusals(void **state)
{
	struct fx *f = *state;
	struct cove_error err = {0};
	struct cove_network_opts o = {0};
	char *bad_label[] = {"=v", NULL};

	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "n1", NULL, NULL, &err), 0);
	/* names */
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "n1", NULL, NULL, &err),
	    -EEXIST);
	assert_non_null(strstr(err.msg, "'n1' already exists"));
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "cove", NULL, NULL, &err),
	    -EEXIST);
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "sysnet", NULL, NULL, &err),
	    -EEXIST);
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "host", NULL, NULL, &err),
	    -EINVAL);
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "bridge", NULL, NULL, &err),
	    -EINVAL);
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "no/slash", NULL, NULL, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "no/slash"));
	/* subnets: overlaps with cove's, the system's and n1's */
	o.subnet = "10.88.5.0/24";
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "x", &o, NULL, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "network 'cove'"));
	o.subnet = "10.89.0.0/16";
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "x", &o, NULL, &err), -EEXIST);
	o.subnet = "10.89.1.128/25";
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "x", &o, NULL, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "network 'n1'"));
	o.subnet = "10.90.0.5/24";
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "x", &o, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "10.90.0.0/24"));
	o.subnet = "10.90.0.0/31";
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "x", &o, NULL, &err), -EINVAL);
	o.subnet = "fd00::/64";
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "x", &o, NULL, &err), -ENOTSUP);
	/* gateways */
	o.subnet = "10.90.0.0/24";
	o.gateway = "10.91.0.1";
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "x", &o, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not in subnet 10.90.0.0/24"));
	o.gateway = "10.90.0.255";
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "x", &o, NULL, &err), -EINVAL);
	o.gateway = "nonsense";
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "x", &o, NULL, &err), -EINVAL);
	/* bridges */
	o.gateway = NULL;
	o.bridge = "cove0";
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "x", &o, NULL, &err), -EEXIST);
	o.bridge = "sys0";
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "x", &o, NULL, &err), -EEXIST);
	o.bridge = "a-name-too-long-for-linux";
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "x", &o, NULL, &err), -EINVAL);
	o.bridge = NULL;
	o.labels = bad_label;
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "x", &o, NULL, &err), -EINVAL);
	/* and nothing of "x" was written */
	{
		_cleanup_free_ char *x = join(f->dir, "x.conflist");
		assert_int_equal(access(x, F_OK), -1);
	}
	o.labels = NULL;
	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "x", &o, NULL, &err), 0);
}

static void test_list_remove(void **state)
{
	struct fx *f = *state;
	struct cove_network **v = NULL, *n = NULL;
	struct cove_error err = {0};
	_cleanup_free_ char *leases = join(f->dir, "ipam/n1");
	_cleanup_free_ char *lease = join(f->dir, "ipam/n1/10.89.1.2");
	size_t count = 0;

	assert_int_equal(
	    cove_network_create(f->dir, f->sys, "n1", NULL, NULL, &err), 0);
	assert_int_equal(cove_network_list(f->dir, f->sys, &v, &count, &err),
			 0);
	/* the broken system file is skipped, as libcni does */
	assert_int_equal(count, 3);
	assert_string_equal(v[0]->name, "cove");
	assert_string_equal(v[1]->name, "n1");
	assert_string_equal(v[2]->name, "sysnet");
	assert_true(v[2]->read_only);
	assert_string_equal(v[2]->cni_version, "0.4.0");
	assert_true(cove_strv_contains(v[2]->labels, "owner=podman"));
	cove_networks_free(v, count);

	/* without a system directory */
	assert_int_equal(cove_network_list(f->dir, NULL, &v, &count, &err), 0);
	assert_int_equal(count, 2);
	cove_networks_free(v, count);

	assert_int_equal(cove_mkdir_p(leases, 0755), 0);
	write_text(lease, "ctr\neth0", 0644);
	assert_int_equal(cove_network_remove(f->dir, f->sys, "n1", &err), 0);
	assert_int_equal(access(leases, F_OK), -1);
	assert_int_equal(cove_network_load(f->dir, f->sys, "n1", &n, &err),
			 -ENOENT);
	assert_non_null(strstr(err.msg, "network 'n1' not found"));
	assert_int_equal(cove_network_remove(f->dir, f->sys, "n1", &err),
			 -ENOENT);
	assert_int_equal(cove_network_remove(f->dir, f->sys, "cove", &err),
			 -EPERM);
	assert_int_equal(cove_network_remove(f->dir, f->sys, "bridge", &err),
			 -EPERM);
	assert_int_equal(cove_network_remove(f->dir, f->sys, "sysnet", &err),
			 -EPERM);
	assert_non_null(strstr(err.msg, "read-only"));

	/* a system list loads by its name */
	assert_int_equal(cove_network_load(f->dir, f->sys, "sysnet", &n, &err),
			 0);
	assert_true(n->read_only);
	assert_string_equal(n->bridge, "sys0");
	cove_network_free(n);
}

static void test_own_file_checked(void **state)
{
	struct fx *f = *state;
	struct cove_network *n = NULL, **v = NULL;
	struct cove_error err = {0};
	_cleanup_free_ char *p = NULL;
	size_t count = 0;

	assert_int_equal(cove_mkdir_p(f->dir, 0755), 0);
	p = join(f->dir, "other.conflist");
	write_text(p,
		   "{\"cniVersion\": \"1.0.0\", \"name\": \"renamed\", "
		   "\"plugins\": [{\"type\": \"bridge\"}]}",
		   0644);
	assert_int_equal(cove_network_load(f->dir, f->sys, "other", &n, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "named 'renamed'"));
	/* a broken file of cove's own fails the listing, naming it */
	assert_int_equal(cove_network_list(f->dir, f->sys, &v, &count, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "other.conflist"));
}

/* ---- the configuration list parser --------------------------------------
 */

static void expect_parse_error(const char *doc, const char *what)
{
	struct cove_network *n = NULL;
	struct cove_error err = {0};

	assert_true(cove_network_parse("t", doc, strlen(doc), &n, &err) < 0);
	assert_null(n);
	if (!strstr(err.msg, what))
		fail_msg("error '%s' does not mention '%s'", err.msg, what);
}

static void test_parse_list(void **state)
{
	struct cove_network *n = NULL;
	struct cove_error err = {0};
	const char *single = "{\"cniVersion\": \"0.3.1\", \"name\": \"one\", "
			     "\"type\": \"bridge\", \"bridge\": \"b1\", "
			     "\"ipam\": {\"type\": \"host-local\", "
			     "\"subnet\": \"10.1.0.0/16\"}}";

	(void)state;
	expect_parse_error("[]", "expected a JSON object");
	expect_parse_error("{\"cniVersion\": \"1.0.0\", \"plugins\": []}",
			   "missing 'name'");
	expect_parse_error("{\"name\": \"x\", \"plugins\": []}",
			   "missing 'cniVersion'");
	expect_parse_error("{\"name\": \"x\", \"cniVersion\": \"1.0.0\", "
			   "\"plugins\": []}",
			   "missing 'plugins'");
	expect_parse_error("{\"name\": \"x\", \"cniVersion\": \"1.0.0\", "
			   "\"plugins\": [{\"type\": \"a\"}, {}]}",
			   "'plugins[1].type'");
	expect_parse_error("{\"name\": \"x\", \"cniVersion\": \"1.0.0\", "
			   "\"plugins\": [{\"type\": \"../../bin/sh\"}]}",
			   "must be a file name");
	expect_parse_error("{\"name\": \"x\", \"cniVersion\": \"1.0.0\", "
			   "\"plugins\": [{\"type\": 3}]}",
			   "'plugins[0].type'");
	expect_parse_error("{\"name\": \"x\", \"cniVersion\": \"1.0.0\", "
			   "\"plugins\": [{\"type\": \"bridge\", \"ipam\": "
			   "{\"ranges\": [[{\"gateway\": \"1.2.3.4\"}]]}}]}",
			   "'plugins[0].ipam.ranges[0][0].subnet'");
	expect_parse_error("{\"name\": \"x\", \"cniVersion\": \"1.0.0\", "
			   "\"plugins\": [{\"type\": \"bridge\", "
			   "\"isGateway\": \"yes\"}]}",
			   "'plugins[0].isGateway'");
	expect_parse_error("{\"name\": \"x\", \"name\": \"y\"}",
			   "invalid JSON");

	/* a single plugin's configuration is a list of one */
	assert_int_equal(
	    cove_network_parse("t", single, strlen(single), &n, &err), 0);
	assert_string_equal(n->name, "one");
	assert_string_equal(n->cni_version, "0.3.1");
	assert_string_equal(n->bridge, "b1");
	assert_true(n->internal); /* no isGateway */
	assert_int_equal(n->n_ranges, 1);
	assert_string_equal(n->ranges[0].subnet, "10.1.0.0/16");
	assert_null(n->ranges[0].gateway);
	assert_int_equal(json_array_size(json_object_get(n->config, "plugins")),
			 1);
	cove_network_free(n);

	assert_int_equal(cove_network_loopback(&n, &err), 0);
	assert_string_equal(n->name, COVE_NETWORK_LOOPBACK);
	assert_string_equal(n->driver, "loopback");
	assert_null(n->bridge);
	cove_network_free(n);
}

/* ---- results ------------------------------------------------------------ */

static const char bridge_result[] =
    "{\"cniVersion\": \"1.0.0\","
    " \"interfaces\": ["
    "  {\"name\": \"cove0\", \"mac\": \"02:00:00:00:00:01\"},"
    "  {\"name\": \"veth1234\", \"mac\": \"02:00:00:00:00:02\"},"
    "  {\"name\": \"eth0\", \"mac\": \"02:00:00:00:00:03\","
    "   \"sandbox\": \"/run/netns/x\"}],"
    " \"ips\": ["
    "  {\"address\": \"10.88.0.1/16\", \"interface\": 0},"
    "  {\"address\": \"10.88.0.7/16\", \"gateway\": \"10.88.0.1\","
    "   \"interface\": 2},"
    "  {\"address\": \"fd00::7/64\", \"gateway\": \"fd00::1\","
    "   \"interface\": 2}],"
    " \"routes\": [{\"dst\": \"0.0.0.0/0\"}, {\"dst\": \"::/0\","
    "   \"gw\": \"fd00::1\"}],"
    " \"dns\": {}}";

static void test_result_parse(void **state)
{
	struct cove_cni_result r = {0};
	struct cove_error err = {0};

	(void)state;
	assert_int_equal(cove_cni_result_parse(bridge_result,
					       strlen(bridge_result), "eth0",
					       &r, &err),
			 0);
	assert_string_equal(r.cni_version, "1.0.0");
	assert_string_equal(r.interface, "eth0");
	assert_string_equal(r.mac, "02:00:00:00:00:03");
	/* the bridge's own address (interface 0) is not the container's */
	assert_string_equal(r.ipv4, "10.88.0.7");
	assert_int_equal(r.ipv4_prefix, 16);
	assert_string_equal(r.ipv4_gateway, "10.88.0.1");
	assert_string_equal(r.ipv6, "fd00::7");
	assert_int_equal(r.ipv6_prefix, 64);
	assert_non_null(r.raw);
	cove_cni_result_release(&r);
	assert_null(r.raw);
	cove_cni_result_release(&r); /* twice is fine */

	/* 0.4.0: "version" members, no interface index */
	{
		const char *doc =
		    "{\"cniVersion\": \"0.4.0\", \"ips\": [{\"version\": "
		    "\"4\", \"address\": \"172.16.0.3/24\"}]}";
		assert_int_equal(
		    cove_cni_result_parse(doc, strlen(doc), "eth0", &r, &err),
		    0);
		assert_string_equal(r.ipv4, "172.16.0.3");
		assert_int_equal(r.ipv4_prefix, 24);
		assert_null(r.ipv4_gateway);
		assert_null(r.interface);
		assert_null(r.mac);
		cove_cni_result_release(&r);
	}
	/* loopback's result */
	{
		const char *doc =
		    "{\"cniVersion\": \"1.0.0\", \"interfaces\": [{\"name\": "
		    "\"lo\", \"mac\": \"00:00:00:00:00:00\", \"sandbox\": "
		    "\"/x\"}], \"ips\": [{\"interface\": 0, \"address\": "
		    "\"127.0.0.1/8\"}]}";
		assert_int_equal(
		    cove_cni_result_parse(doc, strlen(doc), "lo", &r, &err), 0);
		assert_string_equal(r.interface, "lo");
		assert_string_equal(r.ipv4, "127.0.0.1");
		cove_cni_result_release(&r);
	}
}

static void expect_result_error(const char *doc, int code, const char *what)
{
	struct cove_cni_result r = {0};
	struct cove_error err = {0};

	assert_int_equal(
	    cove_cni_result_parse(doc, strlen(doc), "eth0", &r, &err), code);
	assert_null(r.raw);
	assert_null(r.ipv4);
	if (!strstr(err.msg, what))
		fail_msg("error '%s' does not mention '%s'", err.msg, what);
}

static void test_result_errors(void **state)
{
	(void)state;
	expect_result_error("", -EINVAL, "invalid JSON");
	expect_result_error("[1]", -EINVAL, "expected a JSON object");
	expect_result_error("{}", -EINVAL, "missing 'cniVersion'");
	expect_result_error("{\"cniVersion\": 1}", -EINVAL, "'cniVersion'");
	expect_result_error("{\"cniVersion\": \"0.2.0\", \"ip4\": {}}",
			    -ENOTSUP, "0.2.0");
	expect_result_error("{\"cniVersion\": \"1.0.0\", \"interfaces\": {}}",
			    -EINVAL, "'interfaces'");
	expect_result_error("{\"cniVersion\": \"1.0.0\", \"interfaces\": "
			    "[{\"mac\": \"x\"}]}",
			    -EINVAL, "'interfaces[0].name'");
	expect_result_error("{\"cniVersion\": \"1.0.0\", \"ips\": [{}]}",
			    -EINVAL, "'ips[0].address'");
	expect_result_error("{\"cniVersion\": \"1.0.0\", \"ips\": "
			    "[{\"address\": \"10.0.0.300/8\"}]}",
			    -EINVAL, "'ips[0].address'");
	expect_result_error("{\"cniVersion\": \"1.0.0\", \"ips\": "
			    "[{\"address\": \"10.0.0.3\"}]}",
			    -EINVAL, "ADDRESS/PREFIX");
	expect_result_error("{\"cniVersion\": \"1.0.0\", \"ips\": "
			    "[{\"address\": \"10.0.0.3/33\"}]}",
			    -EINVAL, "'ips[0].address'");
	expect_result_error("{\"cniVersion\": \"1.0.0\", \"ips\": "
			    "[{\"address\": \"10.0.0.3/8\", \"gateway\": "
			    "\"fd00::1\"}]}",
			    -EINVAL, "'ips[0].gateway'");
	expect_result_error("{\"cniVersion\": \"1.0.0\", \"ips\": "
			    "[{\"address\": \"10.0.0.3/8\", \"interface\": "
			    "2}]}",
			    -EINVAL, "'ips[0].interface'");
	expect_result_error("{\"cniVersion\": \"1.0.0\", \"ips\": "
			    "[{\"address\": \"10.0.0.3/8\", \"interface\": "
			    "\"0\"}]}",
			    -EINVAL, "'ips[0].interface'");
	expect_result_error("{\"cniVersion\": \"1.0.0\", \"routes\": [{}]}",
			    -EINVAL, "'routes[0].dst'");
	expect_result_error("{\"cniVersion\": \"1.0.0\", \"dns\": []}", -EINVAL,
			    "'dns'");
}

/* ---- plugin stdin ------------------------------------------------------- */

static struct cove_network *parse_net(const char *doc)
{
	struct cove_network *n = NULL;
	struct cove_error err = {0};

	if (cove_network_parse("test", doc, strlen(doc), &n, &err) < 0)
		fail_msg("%s", err.msg);
	return n;
}

static void test_plugin_config(void **state)
{
	struct cove_network *n = parse_net(
	    "{\"cniVersion\": \"1.0.0\", \"name\": \"pc\", \"plugins\": ["
	    "{\"type\": \"bridge\", \"bridge\": \"b0\"},"
	    "{\"type\": \"portmap\", \"capabilities\": {\"portMappings\": "
	    "true, \"aliases\": false}, \"snat\": true}]}");
	_cleanup_json_ json_t *caps =
	    json_pack("{s:[{s:i}], s:{s:[s]}}", "portMappings", "hostPort",
		      8080, "aliases", "pc", "web");
	_cleanup_json_ json_t *prev = json_pack("{s:s}", "cniVersion", "1.0.0");
	struct cove_error err = {0};
	json_t *c = NULL, *rc;

	(void)state;
	assert_int_equal(cove_cni_plugin_config(n, 0, caps, NULL, &c, &err), 0);
	assert_string_equal(json_string_value(json_object_get(c, "name")),
			    "pc");
	assert_string_equal(json_string_value(json_object_get(c, "cniVersion")),
			    "1.0.0");
	assert_string_equal(json_string_value(json_object_get(c, "bridge")),
			    "b0");
	assert_null(json_object_get(c, "runtimeConfig"));
	assert_null(json_object_get(c, "prevResult"));
	json_decref(c);

	assert_int_equal(cove_cni_plugin_config(n, 1, caps, prev, &c, &err), 0);
	rc = json_object_get(c, "runtimeConfig");
	assert_non_null(rc);
	assert_int_equal(
	    json_integer_value(json_object_get(
		json_array_get(json_object_get(rc, "portMappings"), 0),
		"hostPort")),
	    8080);
	/* declared false: not passed */
	assert_null(json_object_get(rc, "aliases"));
	assert_true(json_equal(json_object_get(c, "prevResult"), prev));
	assert_true(json_is_true(json_object_get(c, "snat")));
	json_decref(c);

	assert_int_equal(cove_cni_plugin_config(n, 2, caps, prev, &c, &err),
			 -EINVAL);
	/* the list itself is untouched */
	assert_null(json_object_get(plugin_of(n, 1), "runtimeConfig"));
	cove_network_free(n);
}

/* ---- the protocol, against fake plugins ---------------------------------
 */

/*
 * A fake plugin: logs "COMMAND NAME ID IFNAME NETNS" to bin/log, keeps its
 * stdin and environment, and on ADD prints a result with address @addr.
 */
static void fake_plugin(struct fx *f, const char *name, const char *add_body)
{
	_cleanup_free_ char *path = join(f->bin, name);
	_cleanup_free_ char *text = cove_strdup_printf(
	    "#!/bin/sh\n"
	    "d=$(dirname \"$0\"); n=$(basename \"$0\")\n"
	    "in=$(cat)\n"
	    "echo \"$CNI_COMMAND $n $CNI_CONTAINERID $CNI_IFNAME "
	    "${CNI_NETNS:-none}\" >> \"$d/log\"\n"
	    "printf '%%s' \"$in\" > \"$d/stdin-$n-$CNI_COMMAND\"\n"
	    "env | sort > \"$d/env-$n\"\n"
	    "if [ \"$CNI_COMMAND\" = ADD ]; then\n%s\nfi\n"
	    "exit 0\n",
	    add_body);

	assert_non_null(text);
	write_text(path, text, 0755);
}

static void fake_ok(struct fx *f, const char *name, const char *addr)
{
	_cleanup_free_ char *body = cove_strdup_printf(
	    "printf '%%s' '{\"cniVersion\": \"1.0.0\", \"interfaces\": "
	    "[{\"name\": \"eth0\", \"mac\": \"02:42:00:00:00:01\", "
	    "\"sandbox\": \"/ns\"}], \"ips\": [{\"address\": \"%s/24\", "
	    "\"gateway\": \"10.1.2.1\", \"interface\": 0}]}'",
	    addr);

	assert_non_null(body);
	fake_plugin(f, name, body);
}

static struct cove_network *fake_net(const char *name, const char *plugins)
{
	_cleanup_free_ char *doc = cove_strdup_printf(
	    "{\"cniVersion\": \"1.0.0\", \"name\": \"%s\", \"plugins\": [%s]}",
	    name, plugins);

	assert_non_null(doc);
	return parse_net(doc);
}

static char *log_of(struct fx *f)
{
	_cleanup_free_ char *p = join(f->bin, "log");
	char *buf = NULL;

	if (cove_read_file(p, 1 << 20, &buf, NULL) < 0)
		return strdup("");
	return buf;
}

static void clear_log(struct fx *f)
{
	_cleanup_free_ char *p = join(f->bin, "log");

	unlink(p);
}

static json_t *stdin_of(struct fx *f, const char *plugin, const char *cmd)
{
	_cleanup_free_ char *name =
	    cove_strdup_printf("stdin-%s-%s", plugin, cmd);
	_cleanup_free_ char *p = join(f->bin, name);
	json_t *j = NULL;
	struct cove_error err = {0};

	if (cove_json_load_file(p, 1 << 20, &j, &err) < 0)
		fail_msg("%s", err.msg);
	return j;
}

static const char *ip_of(const json_t *result)
{
	return json_string_value(json_object_get(
	    json_array_get(json_object_get(result, "ips"), 0), "address"));
}

static void test_protocol(void **state)
{
	struct fx *f = *state;
	struct cove_network *n = NULL;
	struct cove_cni_result r = {0}, cached = {0};
	struct cove_error err = {0};
	struct cove_cni_port ports[] = {
	    {.host_port = 8080, .container_port = 80},
	    {.host_ip = "127.0.0.1",
	     .host_port = 5353,
	     .container_port = 53,
	     .protocol = "udp"}};
	char *aliases[] = {"web", NULL};
	struct cove_cni_attach a = {
	    .container_id = "ctr1",
	    .netns = "/run/netns/fake",
	    .ports = ports,
	    .n_ports = 2,
	    .aliases = aliases,
	    .plugin_path = NULL,
	    .cache_dir = f->cache,
	};
	_cleanup_free_ char *path =
	    cove_strdup_printf("/nonexistent:%s", f->bin);
	_cleanup_free_ char *cache = join(f->cache, "results/pnet-ctr1-eth0");
	_cleanup_free_ char *logtext = NULL, *envtext = NULL;
	_cleanup_free_ char *envfile = join(f->bin, "env-fake-a");
	json_t *in, *rc;

	a.plugin_path = path;
	fake_ok(f, "fake-a", "10.1.2.10");
	fake_ok(f, "fake-b", "10.1.2.20");
	n = fake_net("pnet",
		     "{\"type\": \"fake-a\", \"capabilities\": "
		     "{\"portMappings\": true}}, {\"type\": \"fake-b\", "
		     "\"capabilities\": {\"aliases\": true}}");

	assert_int_equal(cove_cni_add(n, &a, &r, &err), 0);
	/* the last plugin's result is the attachment's */
	assert_string_equal(r.ipv4, "10.1.2.20");
	assert_int_equal(r.ipv4_prefix, 24);
	assert_string_equal(r.ipv4_gateway, "10.1.2.1");
	assert_string_equal(r.mac, "02:42:00:00:00:01");
	assert_string_equal(r.interface, "eth0");
	logtext = log_of(f);
	assert_string_equal(logtext, "ADD fake-a ctr1 eth0 /run/netns/fake\n"
				     "ADD fake-b ctr1 eth0 /run/netns/fake\n");
	free(TAKE_PTR(logtext));

	/* stdin: name and version injected, capabilities, chaining */
	in = stdin_of(f, "fake-a", "ADD");
	assert_string_equal(json_string_value(json_object_get(in, "name")),
			    "pnet");
	assert_string_equal(
	    json_string_value(json_object_get(in, "cniVersion")), "1.0.0");
	assert_null(json_object_get(in, "prevResult"));
	rc = json_object_get(in, "runtimeConfig");
	assert_int_equal(json_array_size(json_object_get(rc, "portMappings")),
			 2);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(rc, "portMappings"), 1),
		"hostIP")),
	    "127.0.0.1");
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(rc, "portMappings"), 1),
		"protocol")),
	    "udp");
	assert_null(json_object_get(rc, "aliases"));
	json_decref(in);
	in = stdin_of(f, "fake-b", "ADD");
	assert_string_equal(ip_of(json_object_get(in, "prevResult")),
			    "10.1.2.10/24");
	rc = json_object_get(in, "runtimeConfig");
	assert_null(json_object_get(rc, "portMappings"));
	assert_string_equal(
	    json_string_value(json_array_get(
		json_object_get(json_object_get(rc, "aliases"), "pnet"), 0)),
	    "web");
	json_decref(in);

	/* a clean environment: the CNI variables and PATH only */
	envtext = read_text(envfile);
	assert_non_null(strstr(envtext, "CNI_COMMAND=ADD\n"));
	assert_non_null(strstr(envtext, "CNI_PATH=/nonexistent:"));
	assert_non_null(strstr(envtext, "PATH=/usr/local/sbin:"));
	assert_null(strstr(envtext, "HOME="));
	assert_null(strstr(envtext, "CNI_ARGS="));

	/* the cache, in libcni's shape */
	{
		_cleanup_json_ json_t *doc = NULL;
		assert_int_equal(
		    cove_json_load_file(cache, 1 << 20, &doc, &err), 0);
		assert_string_equal(
		    json_string_value(json_object_get(doc, "kind")),
		    "cniCacheV1");
		assert_string_equal(
		    json_string_value(json_object_get(doc, "containerId")),
		    "ctr1");
		assert_string_equal(
		    json_string_value(json_object_get(doc, "networkName")),
		    "pnet");
		assert_string_equal(ip_of(json_object_get(doc, "result")),
				    "10.1.2.20/24");
		assert_non_null(json_object_get(
		    json_object_get(doc, "capabilityArgs"), "portMappings"));
	}
	assert_int_equal(cove_cni_cached_result(f->cache, "pnet", "ctr1", NULL,
						&cached, &err),
			 0);
	assert_string_equal(cached.ipv4, "10.1.2.20");
	cove_cni_result_release(&cached);
	{
		struct cove_network *cn = NULL;
		assert_int_equal(cove_cni_cached_network(f->cache, "pnet",
							 "ctr1", "eth0", &cn,
							 &err),
				 0);
		assert_true(json_equal(cn->config, n->config));
		cove_network_free(cn);
	}

	/* a second ADD of the same attachment is refused, nothing runs */
	clear_log(f);
	assert_int_equal(cove_cni_add(n, &a, NULL, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "already has eth0 on network 'pnet'"));
	/* and so is one on another network with the same interface name */
	{
		struct cove_network *other = fake_net("pnet-2", "{\"type\": "
								"\"fake-a\"}");
		struct cove_cni_attach b = a;

		assert_int_equal(cove_cni_add(other, &a, NULL, &err), -EEXIST);
		assert_non_null(strstr(err.msg, "network 'pnet'"));
		logtext = log_of(f);
		assert_string_equal(logtext, "");
		free(TAKE_PTR(logtext));
		/* another interface is fine */
		b.ifname = "eth1";
		assert_int_equal(cove_cni_add(other, &b, NULL, &err), 0);
		assert_int_equal(cove_cni_del(other, &b, &err), 0);
		clear_log(f);
		cove_network_free(other);
	}

	/* CHECK: every plugin, in order, with the cached result */
	assert_int_equal(cove_cni_check(n, &a, &err), 0);
	logtext = log_of(f);
	assert_string_equal(logtext,
			    "CHECK fake-a ctr1 eth0 /run/netns/fake\n"
			    "CHECK fake-b ctr1 eth0 /run/netns/fake\n");
	free(TAKE_PTR(logtext));
	in = stdin_of(f, "fake-a", "CHECK");
	assert_string_equal(ip_of(json_object_get(in, "prevResult")),
			    "10.1.2.20/24");
	json_decref(in);

	/* DEL: reverse order, cached result, no netns needed */
	clear_log(f);
	a.netns = NULL;
	a.ports = NULL;
	a.n_ports = 0;
	a.aliases = NULL;
	assert_int_equal(cove_cni_del(n, &a, &err), 0);
	logtext = log_of(f);
	assert_string_equal(logtext, "DEL fake-b ctr1 eth0 none\n"
				     "DEL fake-a ctr1 eth0 none\n");
	free(TAKE_PTR(logtext));
	in = stdin_of(f, "fake-a", "DEL");
	assert_string_equal(ip_of(json_object_get(in, "prevResult")),
			    "10.1.2.20/24");
	/* the cached capability arguments stand in for the missing ones */
	assert_int_equal(
	    json_array_size(json_object_get(
		json_object_get(in, "runtimeConfig"), "portMappings")),
	    2);
	json_decref(in);
	assert_int_equal(access(cache, F_OK), -1);
	assert_int_equal(cove_cni_cached_result(f->cache, "pnet", "ctr1",
						"eth0", &cached, &err),
			 -ENOENT);

	/* DEL again: the plugins run again (they must cope), no prevResult */
	clear_log(f);
	assert_int_equal(cove_cni_del(n, &a, &err), 0);
	in = stdin_of(f, "fake-a", "DEL");
	assert_null(json_object_get(in, "prevResult"));
	json_decref(in);
	/* CHECK without an attachment */
	a.netns = "/run/netns/fake";
	assert_int_equal(cove_cni_check(n, &a, &err), -ENOENT);

	cove_cni_result_release(&r);
	cove_network_free(n);
}

static void test_protocol_failure(void **state)
{
	struct fx *f = *state;
	struct cove_network *n = NULL;
	struct cove_cni_result r = {0};
	struct cove_error err = {0};
	struct cove_cni_attach a = {
	    .container_id = "ctr2",
	    .netns = "/run/netns/fake",
	    .ifname = "net1",
	    .plugin_path = f->bin,
	    .cache_dir = f->cache,
	    .args = "IgnoreUnknown=1;K8S_POD_NAME=p",
	};
	_cleanup_free_ char *cache = join(f->cache, "results/fnet-ctr2-net1");
	_cleanup_free_ char *logtext = NULL, *envtext = NULL;
	_cleanup_free_ char *envfile = join(f->bin, "env-fake-a");

	fake_ok(f, "fake-a", "10.1.2.10");
	fake_ok(f, "fake-b", "10.1.2.20");
	fake_plugin(f, "fake-fail",
		    "printf '%s' '{\"cniVersion\": \"1.0.0\", \"code\": 7, "
		    "\"msg\": \"bad config\", \"details\": \"field x\"}'\n"
		    "exit 1");
	n = fake_net("fnet", "{\"type\": \"fake-a\"}, {\"type\": "
			     "\"fake-fail\"}, {\"type\": \"fake-b\"}");
	assert_int_equal(cove_cni_add(n, &a, &r, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "network 'fnet'"));
	assert_non_null(strstr(err.msg, "plugin 'fake-fail'"));
	assert_non_null(strstr(err.msg, "ADD"));
	assert_non_null(strstr(err.msg, "bad config: field x"));
	assert_non_null(strstr(err.msg, "CNI error 7"));
	assert_null(r.raw);
	/* DEL for the whole list, last first, with what ADD had so far */
	logtext = log_of(f);
	assert_string_equal(logtext, "ADD fake-a ctr2 net1 /run/netns/fake\n"
				     "ADD fake-fail ctr2 net1 /run/netns/fake\n"
				     "DEL fake-b ctr2 net1 /run/netns/fake\n"
				     "DEL fake-fail ctr2 net1 /run/netns/fake\n"
				     "DEL fake-a ctr2 net1 /run/netns/fake\n");
	{
		json_t *in = stdin_of(f, "fake-a", "DEL");
		assert_string_equal(ip_of(json_object_get(in, "prevResult")),
				    "10.1.2.10/24");
		json_decref(in);
	}
	assert_int_equal(access(cache, F_OK), -1);
	envtext = read_text(envfile);
	assert_non_null(
	    strstr(envtext, "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=p\n"));
	cove_network_free(n);

	/* a failure without error JSON: the exit status and stderr */
	fake_plugin(f, "fake-crash", "echo 'something broke' >&2; exit 3");
	n = fake_net("cnet", "{\"type\": \"fake-crash\"}");
	assert_int_equal(cove_cni_add(n, &a, NULL, &err), -EIO);
	assert_non_null(strstr(err.msg, "exit status 3: something broke"));
	cove_network_free(n);

	/* a result that is not JSON */
	fake_plugin(f, "fake-garbage", "echo 'hello'");
	n = fake_net("gnet", "{\"type\": \"fake-garbage\"}");
	assert_int_equal(cove_cni_add(n, &a, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "invalid result"));
	cove_network_free(n);

	/* a plugin that is nowhere */
	n = fake_net("mnet", "{\"type\": \"no-such-plugin\"}");
	assert_int_equal(cove_cni_add(n, &a, NULL, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "'no-such-plugin' not found in"));
	cove_network_free(n);
}

static void test_protocol_timeout(void **state)
{
	struct fx *f = *state;
	struct cove_network *n = NULL;
	struct cove_error err = {0};
	struct cove_cni_attach a = {
	    .container_id = "ctr3",
	    .netns = "/run/netns/fake",
	    .plugin_path = f->bin,
	    .cache_dir = f->cache,
	    .timeout_sec = 1,
	};
	struct timespec t0, t1;

	fake_plugin(f, "fake-slow", "sleep 20");
	n = fake_net("snet", "{\"type\": \"fake-slow\"}");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(cove_cni_add(n, &a, NULL, &err), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(strstr(err.msg, "within 1 s"));
	/* killed with its process group, not waited for */
	assert_true(t1.tv_sec - t0.tv_sec < 6);
	cove_network_free(n);
}

static void test_attach_validation(void **state)
{
	struct fx *f = *state;
	struct cove_network *n = fake_net("vnet", "{\"type\": \"x\"}");
	struct cove_error err = {0};
	struct cove_cni_port bad_port = {.host_port = 0, .container_port = 80};
	struct cove_cni_port bad_proto = {
	    .host_port = 1, .container_port = 80, .protocol = "icmp"};
	struct cove_cni_attach a = {
	    .container_id = "../../etc",
	    .netns = "/x",
	    .cache_dir = f->cache,
	};

	assert_int_equal(cove_cni_add(n, &a, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "container id"));
	a.container_id = "ok";
	a.ifname = "a-very-long-interface-name";
	assert_int_equal(cove_cni_add(n, &a, NULL, &err), -EINVAL);
	a.ifname = NULL;
	a.netns = NULL;
	assert_int_equal(cove_cni_add(n, &a, NULL, &err), -EINVAL);
	a.netns = "/x";
	a.ports = &bad_port;
	a.n_ports = 1;
	assert_int_equal(cove_cni_add(n, &a, NULL, &err), -EINVAL);
	a.ports = &bad_proto;
	assert_int_equal(cove_cni_add(n, &a, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "icmp"));
	a.ports = NULL;
	a.n_ports = 0;
	a.cache_dir = NULL;
	assert_int_equal(cove_cni_del(n, &a, &err), -EINVAL);
	cove_network_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_subnet_parse),
	    cmocka_unit_test(test_name_valid),
	    cmocka_unit_test_setup_teardown(test_default_network, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_create_network, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_create_refusals, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_list_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_own_file_checked, setup,
					    teardown),
	    cmocka_unit_test(test_parse_list),
	    cmocka_unit_test(test_result_parse),
	    cmocka_unit_test(test_result_errors),
	    cmocka_unit_test(test_plugin_config),
	    cmocka_unit_test_setup_teardown(test_protocol, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_protocol_failure, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_protocol_timeout, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_attach_validation, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
