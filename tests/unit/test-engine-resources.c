/*
 * Unit tests for src/engine/resources.c: the cpu and memory-node lists of
 * --cpuset-cpus/--cpuset-mems, the --tz zone names (never a path out of
 * the zone directory), and the linux.resources members made from a
 * HostConfig (--cpus against an explicit period and quota, the unlimited
 * values an update writes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "util/cleanup.h"

static void test_idlist(void **state)
{
	uint8_t bits[16];
	static const char *const bad[] = {
	    "",	   ",",	 "0,",	  ",0", "0,,1",
	    "1-0", "a",	 "0-a",	  "-1", "0-",
	    "0 ",  " 0", "0-1-2", "+1", "99999999999999999999",
	};

	(void)state;
	assert_int_equal(cove_engine_idlist_parse("0", bits, 128), 0);
	assert_int_equal(bits[0], 0x01);
	assert_int_equal(cove_engine_idlist_parse("0-3,5", bits, 128), 0);
	assert_int_equal(bits[0], 0x2f);
	assert_int_equal(cove_engine_idlist_parse("9,8-9,15", bits, 128), 0);
	assert_int_equal(bits[0], 0);
	assert_int_equal(bits[1], 0x83);
	assert_int_equal(cove_engine_idlist_parse("127", bits, 128), 0);
	assert_int_equal(bits[15], 0x80);
	assert_int_equal(cove_engine_idlist_parse("128", bits, 128), -ERANGE);
	assert_int_equal(cove_engine_idlist_parse("0-100000", NULL, 0),
			 -ERANGE);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(
		    cove_engine_idlist_parse(bad[i], bits, 128), 0);
}

static void test_cpuset_check(void **state)
{
	struct cove_error err = {0};

	(void)state;
	assert_int_equal(
	    cove_engine_cpuset_check("--cpuset-cpus", "0", false, &err), 0);
	assert_int_equal(
	    cove_engine_cpuset_check("--cpuset-mems", "0", true, &err), 0);
	assert_int_equal(
	    cove_engine_cpuset_check("--cpuset-cpus", "0-8191", false, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "not available"));
	cove_error_clear(&err);
	assert_int_equal(
	    cove_engine_cpuset_check("--cpuset-cpus", "x", false, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "--cpuset-cpus 'x'"));
	cove_error_clear(&err);
}

static void test_timezone_names(void **state)
{
	static const char *const bad[] = {
	    "",
	    "/etc/passwd",
	    "../../etc/passwd",
	    "Europe/../../etc/passwd",
	    "Europe/Paris\n",
	    "a b",
	    "Europe/Paris;x",
	};
	struct cove_error err = {0};
	char *path = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cove_engine_timezone_file(bad[i], &path, &err),
				 -EINVAL);
		assert_null(path);
		cove_error_clear(&err);
	}
	assert_int_equal(cove_engine_timezone_file("No/Such_Zone", &path, &err),
			 -ENOENT);
	assert_non_null(strstr(err.msg, "unknown time zone"));
	cove_error_clear(&err);
	/* a directory of zones is no zone */
	if (cove_engine_timezone_file("UTC", &path, &err) == 0) {
		assert_non_null(strstr(path, "/usr/share/zoneinfo/UTC"));
		free(path);
		path = NULL;
		assert_int_equal(
		    cove_engine_timezone_file("Europe", &path, &err), -EINVAL);
		cove_error_clear(&err);
	}
}

static json_t *fill(const char *host_json, bool update)
{
	json_t *host = json_loads(host_json, 0, NULL);
	json_t *res = json_object();

	assert_non_null(host);
	cove_engine_resources_fill(res, host, update);
	json_decref(host);
	return res;
}

static int64_t get(const json_t *res, const char *sec, const char *key)
{
	const json_t *v = json_object_get(json_object_get(res, sec), key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void test_resources_fill(void **state)
{
	json_t *r;

	(void)state;
	r = fill("{\"NanoCpus\": 1500000000, \"CpuShares\": 512, "
		 "\"CpusetCpus\": \"0-1\", \"CpusetMems\": \"0\", "
		 "\"Memory\": 67108864, \"MemoryReservation\": 33554432, "
		 "\"MemorySwappiness\": 10, \"OomKillDisable\": true, "
		 "\"PidsLimit\": 0, \"BlkioWeight\": 300}",
		 false);
	assert_int_equal(get(r, "cpu", "period"), 100000);
	assert_int_equal(get(r, "cpu", "quota"), 150000);
	assert_int_equal(get(r, "cpu", "shares"), 512);
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(r, "cpu"), "cpus")),
			    "0-1");
	assert_int_equal(get(r, "memory", "reservation"), 33554432);
	assert_int_equal(get(r, "memory", "swappiness"), 10);
	assert_true(json_is_true(
	    json_object_get(json_object_get(r, "memory"), "disableOOMKiller")));
	assert_int_equal(get(r, "blockIO", "weight"), 300);
	/* no pids limit at create: the cgroup's default */
	assert_null(json_object_get(r, "pids"));
	json_decref(r);

	r = fill("{\"CpuPeriod\": 50000, \"CpuQuota\": -1, \"PidsLimit\": 0, "
		 "\"MemorySwappiness\": -1}",
		 true);
	assert_int_equal(get(r, "cpu", "period"), 50000);
	assert_int_equal(get(r, "cpu", "quota"), -1);
	assert_int_equal(get(r, "pids", "limit"), -1);
	assert_null(json_object_get(r, "memory"));
	json_decref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_idlist),
	    cmocka_unit_test(test_cpuset_check),
	    cmocka_unit_test(test_timezone_names),
	    cmocka_unit_test(test_resources_fill),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
