/*
 * Unit tests for src/engine/netopts.c: the values of --mac-address,
 * --expose, --ip, --network-alias, --dns-search/--dns-option and
 * --log-driver (refused ones naming the value), the combinations podman
 * refuses (--network container: with DNS, ports or a host name; "."
 * beside other search domains; passthrough on a terminal), and the
 * resolv.conf made from the host's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/netopts.h"
#include "util/cleanup.h"

static json_t *new_config(const char *mode)
{
	json_t *c = json_object();
	json_t *h = json_object();

	json_object_set_new(c, "HostConfig", h);
	if (mode)
		json_object_set_new(h, "NetworkMode", json_string(mode));
	return c;
}

static void test_mac(void **state)
{
	char buf[18];

	(void)state;
	assert_int_equal(cove_mac_parse("02:42:AC:11:00:99", buf), 0);
	assert_string_equal(buf, "02:42:ac:11:00:99");
	assert_int_equal(cove_mac_parse("01:00:5e:00:00:01", buf), -EINVAL);
	assert_int_equal(cove_mac_parse("02:42:ac:11:00", buf), -EINVAL);
	assert_int_equal(cove_mac_parse("02:42:ac:11:00:9g", buf), -EINVAL);
	assert_int_equal(cove_mac_parse("02-42-ac-11-00-99", buf), -EINVAL);
	assert_int_equal(cove_mac_parse("02:42:ac:11:00:999", buf), -EINVAL);
	assert_int_equal(cove_mac_parse("", buf), -EINVAL);
}

static void test_values(void **state)
{
	_cleanup_json_ json_t *c = new_config("bridge");
	struct cove_error err = {0};
	const json_t *ep;

	(void)state;
	assert_int_equal(
	    cove_netopt_add(c, COVE_NETOPT_EXPOSE, "9000-9002/udp", &err), 0);
	assert_int_equal(cove_netopt_add(c, COVE_NETOPT_EXPOSE, "80", &err), 0);
	assert_int_equal(json_object_size(json_object_get(c, "ExposedPorts")),
			 4);
	assert_non_null(
	    json_object_get(json_object_get(c, "ExposedPorts"), "9001/udp"));
	assert_non_null(
	    json_object_get(json_object_get(c, "ExposedPorts"), "80/tcp"));
	assert_int_equal(cove_netopt_add(c, COVE_NETOPT_IP, "10.88.0.9", &err),
			 0);
	assert_int_equal(
	    cove_netopt_add(c, COVE_NETOPT_ALIAS, "web.alias", &err), 0);
	assert_int_equal(
	    cove_netopt_add(c, COVE_NETOPT_MAC, "02:00:00:00:00:AA", &err), 0);
	assert_string_equal(json_string_value(json_object_get(c, "MacAddress")),
			    "02:00:00:00:00:aa");
	assert_int_equal(
	    cove_netopt_add(c, COVE_NETOPT_LOG_DRIVER, "none", &err), 0);
	assert_string_equal(cove_netopts_log_driver(c), "none");
	assert_int_equal(cove_netopts_check(c, false, &err), 0);
	/* filed under the network's name */
	ep = json_object_get(
	    json_object_get(json_object_get(c, "NetworkingConfig"),
			    "EndpointsConfig"),
	    "bridge");
	assert_non_null(ep);
	assert_ptr_equal(cove_netopts_endpoint(c), ep);
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(ep, "Aliases"), 0)),
			    "web.alias");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(ep, "IPAMConfig"),
					      "IPv4Address")),
	    "10.88.0.9");
}

static void test_refused(void **state)
{
	static const struct {
		enum cove_netopt opt;
		const char *value;
	} bad[] = {
	    {COVE_NETOPT_EXPOSE, "0"},
	    {COVE_NETOPT_EXPOSE, "65536"},
	    {COVE_NETOPT_EXPOSE, "80/icmp"},
	    {COVE_NETOPT_EXPOSE, "90-80"},
	    {COVE_NETOPT_EXPOSE, "x"},
	    {COVE_NETOPT_IP, "10.0.0"},
	    {COVE_NETOPT_IP, "10.0.0.256"},
	    {COVE_NETOPT_IP, "fd00::1"},
	    {COVE_NETOPT_ALIAS, "-x"},
	    {COVE_NETOPT_ALIAS, "a b"},
	    {COVE_NETOPT_ALIAS, ""},
	    {COVE_NETOPT_MAC, "ff:ff:ff:ff:ff:ff"},
	    {COVE_NETOPT_DNS_SEARCH, "a b"},
	    {COVE_NETOPT_DNS_OPTION, ""},
	    {COVE_NETOPT_LOG_DRIVER, "k8s-file"},
	    {COVE_NETOPT_LOG_DRIVER, "syslog"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		_cleanup_json_ json_t *c = new_config(NULL);
		struct cove_error err = {0};
		int r = cove_netopt_add(c, bad[i].opt, bad[i].value, &err);
		if (r >= 0)
			fail_msg("'%s' accepted", bad[i].value);
		if (*bad[i].value)
			assert_non_null(strstr(err.msg, bad[i].value));
	}
}

static void expect_check_fails(json_t *c, bool detach, const char *words)
{
	struct cove_error err = {0};

	assert_int_equal(cove_netopts_check(c, detach, &err), -EINVAL);
	if (!strstr(err.msg, words))
		fail_msg("'%s' does not say '%s'", err.msg, words);
}

static void test_combinations(void **state)
{
	struct cove_error err = {0};
	json_t *c;

	(void)state;
	c = new_config(NULL);
	cove_netopt_add(c, COVE_NETOPT_DNS_SEARCH, ".", &err);
	assert_int_equal(cove_netopts_check(c, false, &err), 0);
	cove_netopt_add(c, COVE_NETOPT_DNS_SEARCH, "a.test", &err);
	expect_check_fails(c, false, "when also specifying '.'");
	json_decref(c);

	c = new_config("container:abc");
	assert_int_equal(cove_netopts_check(c, false, &err), 0);
	assert_string_equal(cove_netmode_container("container:abc"), "abc");
	assert_null(cove_netmode_container("bridge"));
	cove_netopt_add(c, COVE_NETOPT_DNS_OPTION, "ndots:1", &err);
	expect_check_fails(c, false, "dns and the network mode: container");
	json_decref(c);

	c = new_config("container:abc");
	json_object_set_new(json_object_get(c, "HostConfig"), "PublishAllPorts",
			    json_true());
	expect_check_fails(c, false, "port publishing");
	json_decref(c);

	c = new_config("container:abc");
	json_object_set_new(c, "Hostname", json_string("h"));
	expect_check_fails(c, false, "hostname and the network mode");
	json_decref(c);

	c = new_config("container:");
	expect_check_fails(c, false, "a container name or id is required");
	json_decref(c);

	c = new_config("host");
	cove_netopt_add(c, COVE_NETOPT_MAC, "02:00:00:00:00:01", &err);
	expect_check_fails(c, false, "--mac-address can only be set");
	json_decref(c);

	c = new_config("none");
	cove_netopt_add(c, COVE_NETOPT_ALIAS, "x", &err);
	expect_check_fails(c, false, "--network-alias can only be set");
	json_decref(c);

	c = new_config(NULL);
	cove_netopt_add(c, COVE_NETOPT_LOG_DRIVER, "passthrough", &err);
	assert_int_equal(cove_netopts_check(c, false, &err), 0);
	expect_check_fails(c, true, "cannot be used with -d");
	json_object_set_new(c, "Tty", json_true());
	expect_check_fails(c, false, "cannot be used on a TTY");
	json_decref(c);
}

static char *resolv_of(const char *host_text, json_t *c)
{
	char path[] = "/tmp/test-netopts-XXXXXX";
	int fd = mkstemp(path);
	char *out = NULL;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, host_text, strlen(host_text)),
			 (ssize_t)strlen(host_text));
	close(fd);
	assert_int_equal(
	    cove_netopts_resolv(json_object_get(c, "HostConfig"), path, &out),
	    0);
	unlink(path);
	return out;
}

static void test_resolv(void **state)
{
	static const char host[] = "# the host's\n"
				   "nameserver 127.0.0.53\n"
				   "nameserver 192.0.2.1\n"
				   "domain host.test\n"
				   "search host.test\n"
				   "options edns0\n";
	struct cove_error err = {0};
	_cleanup_free_ char *plain = NULL, *mine = NULL, *dot = NULL;
	json_t *c;

	(void)state;
	c = new_config(NULL);
	plain = resolv_of(host, c);
	assert_string_equal(plain, "# the host's\n"
				   "nameserver 192.0.2.1\n"
				   "domain host.test\n"
				   "search host.test\n"
				   "options edns0\n");
	cove_netopt_add(c, COVE_NETOPT_DNS_SEARCH, "a.test", &err);
	cove_netopt_add(c, COVE_NETOPT_DNS_SEARCH, "b.test", &err);
	cove_netopt_add(c, COVE_NETOPT_DNS_OPTION, "ndots:2", &err);
	cove_netopt_add(c, COVE_NETOPT_DNS_OPTION, "rotate", &err);
	json_object_set_new(json_object_get(c, "HostConfig"), "Dns",
			    json_pack("[s]", "192.0.2.53"));
	mine = resolv_of(host, c);
	assert_string_equal(mine, "search a.test b.test\n"
				  "# the host's\n"
				  "nameserver 192.0.2.53\n"
				  "options ndots:2 rotate\n");
	json_decref(c);

	c = new_config(NULL);
	cove_netopt_add(c, COVE_NETOPT_DNS_SEARCH, ".", &err);
	dot = resolv_of(host, c);
	assert_string_equal(dot, "# the host's\n"
				 "nameserver 192.0.2.1\n"
				 "options edns0\n");
	json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mac),	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_refused), cmocka_unit_test(test_combinations),
	    cmocka_unit_test(test_resolv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
