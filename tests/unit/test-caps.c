/* Unit tests for src/runtime/caps.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/caps.h"
#include "util/cleanup.h"

#define PATH "process.capabilities"
#define BIT(n) (UINT64_C(1) << (n))

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);

	if (!j)
		fail_msg("bad test JSON: %s: %s", jerr.text, text);
	return j;
}

static int parse_caps(const char *text, struct cove_caps *ret,
		      struct cove_error *err)
{
	_cleanup_json_ json_t *j = parse(text);

	cove_error_clear(err);
	return cove_caps_parse(j, PATH, ret, err);
}

static int run_child(int (*fn)(void *), void *arg)
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(arg));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void assert_child_ok(int status)
{
	if (!WIFEXITED(status))
		fail_msg("child killed by signal %d", WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("child check %d failed", WEXITSTATUS(status));
}

/* The hex mask of a "CapXxx:" line of /proc/self/status. */
static int status_mask(const char *field, uint64_t *ret)
{
	char line[256];
	size_t len = strlen(field);
	FILE *f = fopen("/proc/self/status", "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, len) == 0 && line[len] == ':') {
			*ret = strtoull(line + len + 1, NULL, 16);
			r = 0;
			break;
		}
	fclose(f);
	return r;
}

static void test_name_round_trip(void **state)
{
	int last = cove_cap_last_cap();

	assert_true(last >= CAP_AUDIT_CONTROL && last < 64);
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
		const char *name = cove_cap_to_name(cap);
		char *lib;

		assert_non_null(name);
		assert_int_equal(cove_cap_from_name(name), cap);
		/* Same spelling as libcap, modulo case. */
		lib = cap_to_name(cap);
		assert_non_null(lib);
		if (strcasecmp(lib, name) != 0)
			fail_msg("cap %d: cove '%s' vs libcap '%s'", cap, name,
				 lib);
		cap_free(lib);
	}
	assert_null(cove_cap_to_name(-1));
	assert_null(cove_cap_to_name(64));
}

static void test_name_forms(void **state)
{
	assert_int_equal(cove_cap_from_name("CAP_SYS_ADMIN"), CAP_SYS_ADMIN);
	assert_int_equal(cove_cap_from_name("SYS_ADMIN"), CAP_SYS_ADMIN);
	assert_int_equal(cove_cap_from_name("cap_sys_admin"), CAP_SYS_ADMIN);
	assert_int_equal(cove_cap_from_name("Sys_Admin"), CAP_SYS_ADMIN);
	assert_int_equal(cove_cap_from_name("CAP_CHOWN"), 0);
	assert_int_equal(cove_cap_from_name("CAP_FOO"), -EINVAL);
	assert_int_equal(cove_cap_from_name("CAP_"), -EINVAL);
	assert_int_equal(cove_cap_from_name(""), -EINVAL);
	assert_int_equal(cove_cap_from_name("12"), -EINVAL);
	assert_int_equal(cove_cap_from_name(NULL), -EINVAL);
	assert_int_equal(cove_cap_from_name("CAP_SYS_ADMINX"), -EINVAL);
}

static void test_last_cap(void **state)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");

	assert_non_null(f);
	assert_true(getline(&buf, &n, f) > 0);
	fclose(f);
	assert_int_equal(cove_cap_last_cap(), (int)strtol(buf, NULL, 10));
	free(buf);
}

static void test_parse_valid(void **state)
{
	struct cove_caps c;
	struct cove_error err = {0};
	int r = parse_caps("{\"bounding\":[\"CAP_KILL\",\"CAP_CHOWN\"],"
			   " \"effective\":[\"CAP_KILL\"],"
			   " \"permitted\":[\"CAP_KILL\",\"CAP_CHOWN\"],"
			   " \"inheritable\":[],"
			   " \"ambient\":[\"net_bind_service\"]}",
			   &c, &err);

	if (r < 0)
		fail_msg("parse failed: %s", err.msg);
	assert_true(c.sets[COVE_CAP_BOUNDING] == (BIT(CAP_KILL) | BIT(0)));
	assert_true(c.sets[COVE_CAP_EFFECTIVE] == BIT(CAP_KILL));
	assert_true(c.sets[COVE_CAP_PERMITTED] == (BIT(CAP_KILL) | BIT(0)));
	assert_true(c.sets[COVE_CAP_INHERITABLE] == 0);
	assert_true(c.sets[COVE_CAP_AMBIENT] == BIT(CAP_NET_BIND_SERVICE));

	/* NULL and null: all empty. */
	memset(&c, 0xff, sizeof(c));
	assert_int_equal(cove_caps_parse(NULL, PATH, &c, &err), 0);
	for (int i = 0; i < COVE_CAP_SET_MAX; i++)
		assert_true(c.sets[i] == 0);
	assert_int_equal(parse_caps("{\"bounding\":null}", &c, &err), 0);
	assert_true(c.sets[COVE_CAP_BOUNDING] == 0);
}

struct bad_case {
	const char *json;
	const char *expect;
};

static void test_parse_invalid(void **state)
{
	static const struct bad_case cases[] = {
	    {"[]", "invalid 'process.capabilities': expected an object"},
	    {"{\"bounding\":[\"CAP_NOPE\"]}",
	     "invalid 'process.capabilities.bounding[0]': unknown "
	     "capability 'CAP_NOPE'"},
	    {"{\"permitted\":[\"CAP_KILL\",\"\"]}",
	     "invalid 'process.capabilities.permitted[1]': unknown "
	     "capability ''"},
	    {"{\"effective\":\"CAP_KILL\"}",
	     "invalid 'process.capabilities.effective': expected an "
	     "array"},
	    {"{\"ambient\":[3]}",
	     "invalid 'process.capabilities.ambient[0]': expected a "
	     "string"},
	    {"{\"effectiv\":[]}",
	     "invalid 'process.capabilities': unknown field "
	     "'effectiv'"},
	    {"{\"effective\":[\"CAP_KILL\"],\"permitted\":[]}",
	     "invalid 'process.capabilities.effective': CAP_KILL is not "
	     "in 'process.capabilities.permitted'"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cove_caps c = {{0x5a}};
		struct cove_error err = {0};
		int r = parse_caps(cases[i].json, &c, &err);

		if (r >= 0)
			fail_msg("case %zu accepted: %s", i, cases[i].json);
		assert_int_equal(-r, err.code);
		if (!strstr(err.msg, cases[i].expect))
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i,
				 err.msg, cases[i].expect);
		/* Output untouched on failure. */
		assert_true(c.sets[0] == 0x5a);
	}
}

static void test_default_and_all(void **state)
{
	_cleanup_json_ json_t *d = cove_caps_default_json();
	_cleanup_json_ json_t *all = cove_caps_all_json();
	_cleanup_json_ json_t *want = parse("[\"CAP_AUDIT_WRITE\",\"CAP_KILL\","
					    "\"CAP_NET_BIND_SERVICE\"]");

	assert_true(json_equal(d, want));
	assert_int_equal(json_array_size(all), CAP_LAST_CAP + 1);
	assert_string_equal(json_string_value(json_array_get(all, 0)),
			    "CAP_CHOWN");
}

static int child_keep_kill(void *arg)
{
	struct cove_caps *c = arg;
	struct cove_error err = {0};
	uint64_t eff = 1, prm = 1, bnd = 1, inh = 1, amb = 1;

	if (cove_caps_apply_bounding(c, &err) < 0) {
		fprintf(stderr, "bounding: %s\n", err.msg);
		return 1;
	}
	if (cove_caps_apply(c, &err) < 0) {
		fprintf(stderr, "apply: %s\n", err.msg);
		return 2;
	}
	if (status_mask("CapEff", &eff) < 0 || eff != BIT(CAP_KILL))
		return 3;
	if (status_mask("CapPrm", &prm) < 0 || prm != BIT(CAP_KILL))
		return 4;
	if (status_mask("CapBnd", &bnd) < 0 || bnd != BIT(CAP_KILL))
		return 5;
	if (status_mask("CapInh", &inh) < 0 || inh != BIT(CAP_KILL))
		return 6;
	if (status_mask("CapAmb", &amb) < 0 || amb != BIT(CAP_KILL))
		return 7;
	/* Without CAP_SETPCAP the bounding set stays as it is. */
	if (prctl(PR_CAPBSET_DROP, CAP_KILL, 0, 0, 0) == 0)
		return 8;
	return 0;
}

static void test_apply_in_child(void **state)
{
	struct cove_caps c;
	struct cove_error err = {0};
	int r;

	if (geteuid() != 0)
		skip();
	r = parse_caps("{\"bounding\":[\"CAP_KILL\"],"
		       " \"effective\":[\"CAP_KILL\"],"
		       " \"permitted\":[\"CAP_KILL\"],"
		       " \"inheritable\":[\"CAP_KILL\"],"
		       " \"ambient\":[\"CAP_KILL\"]}",
		       &c, &err);
	if (r < 0)
		fail_msg("parse failed: %s", err.msg);
	assert_child_ok(run_child(child_keep_kill, &c));
}

/* The container init's order: bounding, keepcaps, switch user, apply. */
static int child_as_user(void *arg)
{
	struct cove_caps *c = arg;
	struct cove_error err = {0};
	uint64_t eff = 1, amb = 0;

	if (cove_caps_apply_bounding(c, &err) < 0)
		return 1;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return 2;
	if (setresgid(65534, 65534, 65534) < 0 ||
	    setresuid(65534, 65534, 65534) < 0)
		return 3;
	/* The switch cleared the effective set. */
	if (status_mask("CapEff", &eff) < 0 || eff != 0)
		return 4;
	if (cove_caps_apply(c, &err) < 0) {
		fprintf(stderr, "apply: %s\n", err.msg);
		return 5;
	}
	if (status_mask("CapEff", &eff) < 0 ||
	    eff != (BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE)))
		return 6;
	if (status_mask("CapAmb", &amb) < 0 || amb != BIT(CAP_NET_BIND_SERVICE))
		return 7;
	return 0;
}

static void test_apply_as_user(void **state)
{
	struct cove_caps c;
	struct cove_error err = {0};
	int r;

	if (geteuid() != 0)
		skip();
	r = parse_caps("{\"bounding\":[\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
		       " \"effective\":[\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
		       " \"permitted\":[\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
		       " \"inheritable\":[\"CAP_NET_BIND_SERVICE\"],"
		       " \"ambient\":[\"CAP_NET_BIND_SERVICE\"]}",
		       &c, &err);
	if (r < 0)
		fail_msg("parse failed: %s", err.msg);
	assert_child_ok(run_child(child_as_user, &c));
}

static int child_bad_ambient(void *arg)
{
	struct cove_caps *c = arg;
	struct cove_error err = {0};
	int r = cove_caps_apply(c, &err);

	if (r != -EPERM)
		return 1;
	if (!strstr(err.msg, "CAP_KILL") ||
	    !strstr(err.msg, "permitted and inheritable"))
		return 2;
	return 0;
}

static void test_apply_bad_ambient(void **state)
{
	struct cove_caps c;
	struct cove_error err = {0};
	int r;

	if (geteuid() != 0)
		skip();
	/* Ambient needs the capability inheritable too. */
	r = parse_caps("{\"effective\":[\"CAP_KILL\"],"
		       " \"permitted\":[\"CAP_KILL\"],"
		       " \"ambient\":[\"CAP_KILL\"]}",
		       &c, &err);
	if (r < 0)
		fail_msg("parse failed: %s", err.msg);
	assert_child_ok(run_child(child_bad_ambient, &c));
}

static int child_raise_fails(void *arg)
{
	struct cove_caps *c = arg;
	struct cove_caps none = {{0}};
	struct cove_error err = {0};

	/* Drop everything, then try to get CAP_KILL back. */
	if (cove_caps_apply(&none, &err) < 0)
		return 1;
	if (cove_caps_apply(c, &err) != -EPERM)
		return 2;
	if (!strstr(err.msg, "cannot set the process capabilities"))
		return 3;
	return 0;
}

static void test_apply_cannot_raise(void **state)
{
	struct cove_caps c = {{0}};

	if (geteuid() != 0)
		skip();
	c.sets[COVE_CAP_EFFECTIVE] = BIT(CAP_KILL);
	c.sets[COVE_CAP_PERMITTED] = BIT(CAP_KILL);
	assert_child_ok(run_child(child_raise_fails, &c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_round_trip),
	    cmocka_unit_test(test_name_forms),
	    cmocka_unit_test(test_last_cap),
	    cmocka_unit_test(test_parse_valid),
	    cmocka_unit_test(test_parse_invalid),
	    cmocka_unit_test(test_default_and_all),
	    cmocka_unit_test(test_apply_in_child),
	    cmocka_unit_test(test_apply_as_user),
	    cmocka_unit_test(test_apply_bad_ambient),
	    cmocka_unit_test(test_apply_cannot_raise),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
