/*
 * Unit tests for src/engine/ctrns.c: the --pid/--ipc/--uts modes, the
 * --device, --sysctl and --group-add values (podman's syntax, bad ones
 * refused naming the value), and the checks of a HostConfig as a whole
 * (sysctls against the namespaces they need, --hostname with --uts host,
 * --shm-size with a /dev/shm that is not the container's).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ctrns.h"
#include "util/cleanup.h"

static void test_nsmode(void **state)
{
	struct cove_error err = {0};
	struct cove_nsmode m;

	(void)state;
	assert_int_equal(cove_nsmode_parse("pid", NULL, &m, &err), 0);
	assert_int_equal(m.kind, COVE_NSMODE_PRIVATE);
	assert_int_equal(cove_nsmode_parse("pid", "private", &m, &err), 0);
	assert_int_equal(m.kind, COVE_NSMODE_PRIVATE);
	assert_int_equal(cove_nsmode_parse("uts", "host", &m, &err), 0);
	assert_int_equal(m.kind, COVE_NSMODE_HOST);
	assert_int_equal(cove_nsmode_parse("pid", "container:web", &m, &err),
			 0);
	assert_int_equal(m.kind, COVE_NSMODE_CONTAINER);
	assert_string_equal(m.arg, "web");
	assert_int_equal(
	    cove_nsmode_parse("ipc", "ns:/proc/1/ns/ipc", &m, &err), 0);
	assert_int_equal(m.kind, COVE_NSMODE_PATH);
	assert_string_equal(m.arg, "/proc/1/ns/ipc");
	assert_int_equal(cove_nsmode_parse("ipc", "none", &m, &err), 0);
	assert_int_equal(m.kind, COVE_NSMODE_NONE);
	assert_int_equal(cove_nsmode_parse("ipc", "shareable", &m, &err), 0);
	assert_int_equal(m.kind, COVE_NSMODE_SHAREABLE);

	/* ipc-only modes, empty names, relative paths */
	assert_int_equal(cove_nsmode_parse("pid", "none", &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "--pid 'none'"));
	assert_int_equal(cove_nsmode_parse("uts", "shareable", &m, &err),
			 -EINVAL);
	assert_int_equal(cove_nsmode_parse("pid", "container:", &m, &err),
			 -EINVAL);
	assert_int_equal(cove_nsmode_parse("pid", "ns:proc/1", &m, &err),
			 -EINVAL);
	assert_int_equal(cove_nsmode_parse("pid", "bogus", &m, &err), -EINVAL);
}

static void test_device_parse(void **state)
{
	struct cove_error err = {0};
	struct cove_device_opt d = {0};

	(void)state;
	assert_int_equal(cove_device_opt_parse("/dev/zero", &d, &err), 0);
	assert_string_equal(d.host, "/dev/zero");
	assert_string_equal(d.ctr, "/dev/zero");
	assert_string_equal(d.perms, "rwm");
	cove_device_opt_release(&d);

	assert_int_equal(cove_device_opt_parse("/dev/zero:/dev/z", &d, &err),
			 0);
	assert_string_equal(d.ctr, "/dev/z");
	assert_string_equal(d.perms, "rwm");
	cove_device_opt_release(&d);

	assert_int_equal(cove_device_opt_parse("/dev/zero:mr", &d, &err), 0);
	assert_string_equal(d.ctr, "/dev/zero");
	assert_string_equal(d.perms, "rm");
	cove_device_opt_release(&d);

	assert_int_equal(cove_device_opt_parse("/dev/zero:/dev/z:wr", &d, &err),
			 0);
	assert_string_equal(d.perms, "rw");
	cove_device_opt_release(&d);

	assert_int_equal(cove_device_opt_parse("/dev/zero:/dev/z:x", &d, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "'x'"));
	assert_int_equal(cove_device_opt_parse("/dev/zero:/dev/z:rr", &d, &err),
			 -EINVAL);
	assert_int_equal(cove_device_opt_parse("/dev/zero:/dev/z:", &d, &err),
			 -EINVAL);
	assert_int_equal(cove_device_opt_parse("dev/zero", &d, &err), -EINVAL);
	assert_int_equal(cove_device_opt_parse("/dev/zero:z:r", &d, &err),
			 -EINVAL);
	assert_int_equal(
	    cove_device_opt_parse("/dev/zero:/dev/../etc/x", &d, &err),
	    -EINVAL);
	assert_int_equal(cove_device_opt_parse("/a:/b:r:x", &d, &err), -EINVAL);
}

static void test_device_stat(void **state)
{
	struct cove_error err = {0};
	struct cove_device_node n;

	(void)state;
	assert_int_equal(
	    cove_device_opt_stat("/dev/null", "/dev/null", &n, &err), 0);
	assert_int_equal(n.type, 'c');
	assert_int_equal(n.major, 1);
	assert_int_equal(n.minor, 3);
	assert_int_equal(
	    cove_device_opt_stat("/etc/passwd", "/etc/passwd", &n, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "not a device"));
	assert_int_equal(
	    cove_device_opt_stat("/dev/nonexistent-cove", "x", &n, &err),
	    -ENOENT);
}

static void test_sysctl(void **state)
{
	struct cove_error err = {0};
	const char *v;
	char *k = NULL;

	(void)state;
	assert_int_equal(cove_sysctl_namespace("net.ipv4.ip_forward"),
			 COVE_SYSCTL_NET);
	assert_int_equal(cove_sysctl_namespace("kernel.shmmax"),
			 COVE_SYSCTL_IPC);
	assert_int_equal(cove_sysctl_namespace("kernel.msgmnb"),
			 COVE_SYSCTL_IPC);
	assert_int_equal(cove_sysctl_namespace("kernel.sem"), COVE_SYSCTL_IPC);
	assert_int_equal(cove_sysctl_namespace("fs.mqueue.msg_max"),
			 COVE_SYSCTL_IPC);
	assert_int_equal(cove_sysctl_namespace("kernel.hostname"),
			 COVE_SYSCTL_UTS);
	assert_int_equal(cove_sysctl_namespace("kernel.panic"),
			 COVE_SYSCTL_NOT_ALLOWED);
	assert_int_equal(cove_sysctl_namespace("vm.swappiness"),
			 COVE_SYSCTL_NOT_ALLOWED);
	assert_int_equal(cove_sysctl_namespace("net."),
			 COVE_SYSCTL_NOT_ALLOWED);

	assert_int_equal(
	    cove_sysctl_parse("net/ipv4/ip_forward=1", &k, &v, &err), 0);
	assert_string_equal(k, "net.ipv4.ip_forward");
	assert_string_equal(v, "1");
	free(k);
	k = NULL;
	assert_int_equal(cove_sysctl_parse("kernel.sem=1 2 3 4", &k, &v, &err),
			 0);
	assert_string_equal(v, "1 2 3 4");
	free(k);
	k = NULL;
	assert_int_equal(cove_sysctl_parse("kernel.panic=1", &k, &v, &err),
			 -EINVAL);
	assert_string_equal(err.msg, "sysctl 'kernel.panic' is not allowed");
	assert_int_equal(cove_sysctl_parse("net.ipv4.ip_forward", &k, &v, &err),
			 -EINVAL);
	assert_int_equal(cove_sysctl_parse("=1", &k, &v, &err), -EINVAL);
}

static void test_group_add(void **state)
{
	struct cove_error err = {0};

	(void)state;
	assert_int_equal(cove_group_add_check("10", &err), 0);
	assert_int_equal(cove_group_add_check("wheel", &err), 0);
	assert_int_equal(cove_group_add_check("keep-groups", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "keep-groups"));
	assert_int_equal(cove_group_add_check("", &err), -EINVAL);
	assert_int_equal(cove_group_add_check("a:b", &err), -EINVAL);
}

static int check(const char *json, struct cove_error *err)
{
	_cleanup_json_ json_t *cfg = json_loads(json, 0, NULL);

	assert_non_null(cfg);
	return cove_engine_ctrns_check(cfg, err);
}

static void test_host_config(void **state)
{
	struct cove_error err = {0};

	(void)state;
	assert_int_equal(check("{\"HostConfig\":{\"Sysctls\":{"
			       "\"net.ipv4.ip_forward\":\"1\"},"
			       "\"NetworkMode\":\"none\"}}",
			       &err),
			 0);
	assert_int_equal(check("{\"HostConfig\":{\"Sysctls\":{"
			       "\"net.ipv4.ip_forward\":\"1\"},"
			       "\"NetworkMode\":\"host\"}}",
			       &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "net.ipv4.ip_forward"));
	assert_int_equal(check("{\"HostConfig\":{\"Sysctls\":{"
			       "\"kernel.shmmax\":\"1\"},"
			       "\"IpcMode\":\"host\"}}",
			       &err),
			 -EINVAL);
	assert_int_equal(check("{\"HostConfig\":{\"Sysctls\":{"
			       "\"kernel.shmmax\":\"1\"},"
			       "\"IpcMode\":\"none\"}}",
			       &err),
			 0);
	assert_int_equal(check("{\"HostConfig\":{\"Sysctls\":{"
			       "\"kernel.domainname\":\"x\"},"
			       "\"UTSMode\":\"container:abc\"}}",
			       &err),
			 -EINVAL);
	assert_int_equal(check("{\"HostConfig\":{\"Sysctls\":{"
			       "\"kernel.panic\":\"1\"}}}",
			       &err),
			 -EINVAL);
	assert_string_equal(err.msg, "sysctl 'kernel.panic' is not allowed");
	assert_int_equal(check("{\"Hostname\":\"h\",\"HostConfig\":{"
			       "\"UTSMode\":\"host\"}}",
			       &err),
			 -EINVAL);
	assert_int_equal(check("{\"HostConfig\":{\"ShmSize\":1024,"
			       "\"IpcMode\":\"none\"}}",
			       &err),
			 -EINVAL);
	assert_int_equal(check("{\"HostConfig\":{\"ShmSize\":1024}}", &err), 0);
	assert_int_equal(check("{\"HostConfig\":{\"PidMode\":\"container:x\","
			       "\"RestartPolicy\":{\"Name\":\"always\"}}}",
			       &err),
			 -EINVAL);
	assert_int_equal(
	    check("{\"HostConfig\":{\"PidMode\":\"bogus\"}}", &err), -EINVAL);
	assert_int_equal(check("{\"HostConfig\":{\"Devices\":[{"
			       "\"PathOnHost\":\"/etc/passwd\","
			       "\"PathInContainer\":\"/dev/x\","
			       "\"CgroupPermissions\":\"rwm\"}]}}",
			       &err),
			 -EINVAL);
	assert_int_equal(check("{\"HostConfig\":{\"GroupAdd\":["
			       "\"keep-groups\"]}}",
			       &err),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nsmode),
	    cmocka_unit_test(test_device_parse),
	    cmocka_unit_test(test_device_stat),
	    cmocka_unit_test(test_sysctl),
	    cmocka_unit_test(test_group_add),
	    cmocka_unit_test(test_host_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
