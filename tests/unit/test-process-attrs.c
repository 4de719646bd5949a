/* Unit tests for src/runtime/process-attrs.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/ioprio.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/process-attrs.h"
#include "runtime/spec.h"
#include "util/cleanup.h"

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);

	if (!j)
		fail_msg("bad test JSON: %s: %s", jerr.text, text);
	return j;
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

struct bad_case {
	const char *json;
	const char *expect;
};

typedef int (*parse_fn)(json_t *obj, const char *path, void *ret,
			struct cove_error *err);

static int sched_parse(json_t *obj, const char *path, void *ret,
		       struct cove_error *err)
{
	return cove_sched_parse(obj, path, ret, err);
}

static int ioprio_parse(json_t *obj, const char *path, void *ret,
			struct cove_error *err)
{
	return cove_ioprio_parse(obj, path, ret, err);
}

static int personality_parse(json_t *obj, const char *path, void *ret,
			     struct cove_error *err)
{
	return cove_personality_parse(obj, path, ret, err);
}

static void check_bad(parse_fn fn, const char *path,
		      const struct bad_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_json_ json_t *j = parse(cases[i].json);
		/* Large enough for any of the output structs. */
		_Alignas(max_align_t) char out[256];
		struct cove_error err = {0};
		int r;

		memset(out, 0x5a, sizeof(out));
		r = fn(j, path, out, &err);
		if (r >= 0)
			fail_msg("case %zu accepted: %s", i, cases[i].json);
		assert_int_equal(-r, err.code);
		if (!strstr(err.msg, cases[i].expect))
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i,
				 err.msg, cases[i].expect);
		/* Output untouched on failure. */
		assert_int_equal((unsigned char)out[0], 0x5a);
	}
}

static void test_sched_parse_valid(void **state)
{
	struct cove_sched s;
	struct cove_error err = {0};
	_cleanup_json_ json_t *a =
	    parse("{\"policy\":\"SCHED_BATCH\",\"nice\":5,"
		  "\"flags\":[\"SCHED_FLAG_RESET_ON_FORK\","
		  "\"SCHED_FLAG_UTIL_CLAMP_MAX\"]}");
	_cleanup_json_ json_t *b =
	    parse("{\"policy\":\"SCHED_FIFO\",\"priority\":10}");
	_cleanup_json_ json_t *c =
	    parse("{\"policy\":\"SCHED_DEADLINE\",\"runtime\":10000000,"
		  "\"deadline\":30000000,\"period\":30000000}");

	assert_int_equal(cove_sched_parse(a, "process.scheduler", &s, &err), 0);
	assert_true(s.set);
	assert_int_equal(s.policy, SCHED_BATCH);
	assert_int_equal(s.nice, 5);
	assert_true(s.flags == (0x01 | 0x40));

	assert_int_equal(cove_sched_parse(b, "process.scheduler", &s, &err), 0);
	assert_int_equal(s.policy, SCHED_FIFO);
	assert_int_equal(s.priority, 10);

	assert_int_equal(cove_sched_parse(c, "process.scheduler", &s, &err), 0);
	assert_int_equal(s.policy, 6);
	assert_true(s.runtime == 10000000 && s.deadline == 30000000 &&
		    s.period == 30000000);

	assert_int_equal(cove_sched_parse(NULL, "process.scheduler", &s, &err),
			 0);
	assert_false(s.set);
}

static void test_sched_parse_invalid(void **state)
{
	static const struct bad_case cases[] = {
	    {"[]", "invalid 'process.scheduler': expected an object"},
	    {"{}", "missing 'process.scheduler.policy'"},
	    {"{\"policy\":\"SCHED_FAST\"}",
	     "invalid 'process.scheduler.policy': unknown policy "
	     "'SCHED_FAST'"},
	    {"{\"policy\":1}", "invalid 'process.scheduler.policy'"},
	    {"{\"policy\":\"SCHED_OTHER\",\"nice\":20}",
	     "invalid 'process.scheduler.nice': 20 is outside"},
	    {"{\"policy\":\"SCHED_OTHER\",\"nice\":-21}",
	     "invalid 'process.scheduler.nice'"},
	    {"{\"policy\":\"SCHED_OTHER\",\"nice\":4294967296}",
	     "invalid 'process.scheduler.nice'"},
	    {"{\"policy\":\"SCHED_OTHER\",\"nice\":\"high\"}",
	     "invalid 'process.scheduler.nice'"},
	    {"{\"policy\":\"SCHED_OTHER\",\"priority\":3}",
	     "invalid 'process.scheduler.priority': only SCHED_FIFO"},
	    {"{\"policy\":\"SCHED_RR\"}",
	     "invalid 'process.scheduler.priority': SCHED_RR needs"},
	    {"{\"policy\":\"SCHED_FIFO\",\"priority\":100}",
	     "invalid 'process.scheduler.priority'"},
	    {"{\"policy\":\"SCHED_OTHER\",\"runtime\":1}",
	     "invalid 'process.scheduler': runtime, deadline and period "
	     "are only for SCHED_DEADLINE"},
	    {"{\"policy\":\"SCHED_DEADLINE\",\"runtime\":1}",
	     "invalid 'process.scheduler': SCHED_DEADLINE needs"},
	    {"{\"policy\":\"SCHED_DEADLINE\",\"runtime\":5,"
	     "\"deadline\":3}",
	     "invalid 'process.scheduler': SCHED_DEADLINE needs runtime "
	     "<= deadline <= period"},
	    {"{\"policy\":\"SCHED_DEADLINE\",\"runtime\":-5,"
	     "\"deadline\":3}",
	     "invalid 'process.scheduler.runtime'"},
	    {"{\"policy\":\"SCHED_OTHER\",\"flags\":[\"SCHED_FLAG_X\"]}",
	     "invalid 'process.scheduler.flags[0]': unknown flag "
	     "'SCHED_FLAG_X'"},
	    {"{\"policy\":\"SCHED_OTHER\",\"flags\":\"x\"}",
	     "invalid 'process.scheduler.flags'"},
	    {"{\"policy\":\"SCHED_OTHER\",\"weight\":1}",
	     "invalid 'process.scheduler': unknown field 'weight'"},
	};

	check_bad(sched_parse, "process.scheduler", cases, ARRAY_SIZE(cases));
}

static void test_ioprio_parse(void **state)
{
	static const struct bad_case cases[] = {
	    {"\"BE\"", "invalid 'process.ioPriority': expected an object"},
	    {"{\"priority\":1}", "missing 'process.ioPriority.class'"},
	    {"{\"class\":\"IOPRIO_CLASS_NONE\",\"priority\":1}",
	     "invalid 'process.ioPriority.class': unknown class "
	     "'IOPRIO_CLASS_NONE'"},
	    {"{\"class\":\"IOPRIO_CLASS_BE\"}",
	     "missing 'process.ioPriority.priority'"},
	    {"{\"class\":\"IOPRIO_CLASS_BE\",\"priority\":8}",
	     "invalid 'process.ioPriority.priority': 8 is outside 0..7"},
	    {"{\"class\":\"IOPRIO_CLASS_BE\",\"priority\":-1}",
	     "invalid 'process.ioPriority.priority'"},
	    {"{\"class\":\"IOPRIO_CLASS_BE\",\"priority\":1,\"x\":1}",
	     "invalid 'process.ioPriority': unknown field 'x'"},
	};
	_cleanup_json_ json_t *ok =
	    parse("{\"class\":\"IOPRIO_CLASS_IDLE\",\"priority\":7}");
	struct cove_ioprio p;
	struct cove_error err = {0};

	assert_int_equal(cove_ioprio_parse(ok, "process.ioPriority", &p, &err),
			 0);
	assert_true(p.set);
	assert_int_equal(p.klass, IOPRIO_CLASS_IDLE);
	assert_int_equal(p.priority, 7);
	check_bad(ioprio_parse, "process.ioPriority", cases, ARRAY_SIZE(cases));
}

static void test_personality_parse(void **state)
{
	static const struct bad_case cases[] = {
	    {"{}", "missing 'linux.personality.domain'"},
	    {"{\"domain\":\"LINUX64\"}",
	     "invalid 'linux.personality.domain': unknown domain "
	     "'LINUX64'"},
	    {"{\"domain\":\"LINUX\",\"flags\":[\"ADDR_NO_RANDOMIZE\"]}",
	     "invalid 'linux.personality.flags': personality flags are "
	     "not supported"},
	    {"{\"domain\":\"LINUX\",\"flags\":\"x\"}",
	     "invalid 'linux.personality.flags'"},
	    {"{\"domain\":\"LINUX\",\"extra\":true}",
	     "invalid 'linux.personality': unknown field 'extra'"},
	};
	_cleanup_json_ json_t *ok =
	    parse("{\"domain\":\"LINUX32\",\"flags\":[]}");
	struct cove_personality p;
	struct cove_error err = {0};

	assert_int_equal(
	    cove_personality_parse(ok, "linux.personality", &p, &err), 0);
	assert_true(p.set);
	assert_true(p.domain == PER_LINUX32);
	check_bad(personality_parse, "linux.personality", cases,
		  ARRAY_SIZE(cases));
}

static int child_sched(void *arg)
{
	const struct cove_sched *s = arg;
	struct cove_error err = {0};

	if (cove_sched_apply(s, &err) < 0) {
		fprintf(stderr, "sched: %s\n", err.msg);
		return 1;
	}
	if (sched_getscheduler(0) != s->policy)
		return 2;
	errno = 0;
	if (getpriority(PRIO_PROCESS, 0) != s->nice || errno)
		return 3;
	return 0;
}

static void test_sched_apply(void **state)
{
	_cleanup_json_ json_t *j =
	    parse("{\"policy\":\"SCHED_BATCH\",\"nice\":7}");
	struct cove_sched s;
	struct cove_error err = {0};

	assert_int_equal(cove_sched_parse(j, "process.scheduler", &s, &err), 0);
	assert_child_ok(run_child(child_sched, &s));
	/* Not set: nothing to do. */
	s.set = false;
	assert_int_equal(cove_sched_apply(&s, &err), 0);
}

static int child_sched_iso(void *arg)
{
	const struct cove_sched *s = arg;
	struct cove_error err = {0};

	/* Linux reserves SCHED_ISO without implementing it. */
	if (cove_sched_apply(s, &err) != -EINVAL)
		return 1;
	if (!strstr(err.msg, "SCHED_ISO"))
		return 2;
	return 0;
}

static void test_sched_apply_error(void **state)
{
	_cleanup_json_ json_t *j = parse("{\"policy\":\"SCHED_ISO\"}");
	struct cove_sched s;
	struct cove_error err = {0};

	assert_int_equal(cove_sched_parse(j, "process.scheduler", &s, &err), 0);
	assert_child_ok(run_child(child_sched_iso, &s));
}

static int child_ioprio(void *arg)
{
	const struct cove_ioprio *p = arg;
	struct cove_error err = {0};
	long v;

	if (cove_ioprio_apply(p, &err) < 0) {
		fprintf(stderr, "ioprio: %s\n", err.msg);
		return 1;
	}
	v = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
	if (v != (long)IOPRIO_PRIO_VALUE(p->klass, p->priority))
		return 2;
	return 0;
}

static void test_ioprio_apply(void **state)
{
	_cleanup_json_ json_t *j =
	    parse("{\"class\":\"IOPRIO_CLASS_BE\",\"priority\":6}");
	struct cove_ioprio p;
	struct cove_error err = {0};

	assert_int_equal(cove_ioprio_parse(j, "process.ioPriority", &p, &err),
			 0);
	assert_child_ok(run_child(child_ioprio, &p));
}

static int child_personality(void *arg)
{
	const struct cove_personality *p = arg;
	struct cove_error err = {0};
	struct utsname u;

	if (cove_personality_apply(p, &err) < 0)
		return 1;
	if ((personality(0xffffffff) & PER_MASK) != PER_LINUX32)
		return 2;
#if defined(__x86_64__)
	/* LINUX32 makes uname report a 32-bit machine. */
	if (uname(&u) < 0 || strcmp(u.machine, "i686") != 0)
		return 3;
#else
	(void)u;
#endif
	return 0;
}

static void test_personality_apply(void **state)
{
	struct cove_personality p = {.set = true, .domain = PER_LINUX32};

	assert_child_ok(run_child(child_personality, &p));
}

static int child_rlimits(void *arg)
{
	struct cove_rlimit lim[] = {
	    {.resource = RLIMIT_NOFILE, .soft = 100, .hard = 200},
	    {.resource = RLIMIT_CORE, .soft = 0, .hard = 0},
	};
	struct cove_error err = {0};
	struct rlimit r;

	(void)arg;
	if (cove_rlimits_apply(lim, ARRAY_SIZE(lim), &err) < 0) {
		fprintf(stderr, "rlimits: %s\n", err.msg);
		return 1;
	}
	if (getrlimit(RLIMIT_NOFILE, &r) < 0 || r.rlim_cur != 100 ||
	    r.rlim_max != 200)
		return 2;
	if (getrlimit(RLIMIT_CORE, &r) < 0 || r.rlim_cur != 0 ||
	    r.rlim_max != 0)
		return 3;
	return 0;
}

static void test_rlimits_apply(void **state)
{
	assert_child_ok(run_child(child_rlimits, NULL));
}

static int child_rlimit_raise(void *arg)
{
	struct cove_rlimit lim = {.resource = RLIMIT_NOFILE};
	struct cove_error err = {0};
	struct rlimit cur;
	int r;

	(void)arg;
	/* Lower the hard limit first, so that raising it needs privilege. */
	cur.rlim_cur = cur.rlim_max = 64;
	if (setrlimit(RLIMIT_NOFILE, &cur) < 0)
		return 1;
	lim.soft = lim.hard = 128;
	r = cove_rlimits_apply(&lim, 1, &err);
	if (r != -EPERM) {
		/* Only a process with CAP_SYS_RESOURCE gets here. */
		return r == 0 ? 0 : 2;
	}
	if (!strstr(err.msg, "RLIMIT_NOFILE") || !strstr(err.msg, "128") ||
	    !strstr(err.msg, "current 64") ||
	    !strstr(err.msg, "CAP_SYS_RESOURCE"))
		return 3;
	return 0;
}

static void test_rlimit_errors(void **state)
{
	struct cove_rlimit bad = {
	    .resource = RLIMIT_NPROC, .soft = 10, .hard = 5};
	struct cove_error err = {0};

	assert_int_equal(cove_rlimits_apply(&bad, 1, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "RLIMIT_NPROC"));
	assert_non_null(strstr(err.msg, "soft limit 10 is above the hard "
					"limit 5"));
	assert_child_ok(run_child(child_rlimit_raise, NULL));
	/* Zero limits: nothing to do. */
	assert_int_equal(cove_rlimits_apply(NULL, 0, &err), 0);
}

static int child_oom(void *arg)
{
	struct cove_error err = {0};
	char buf[32] = {0};
	FILE *f;

	(void)arg;
	if (cove_oom_score_adj_apply(getpid(), 500, &err) < 0) {
		fprintf(stderr, "oom: %s\n", err.msg);
		return 1;
	}
	f = fopen("/proc/self/oom_score_adj", "re");
	if (!f || !fgets(buf, sizeof(buf), f))
		return 2;
	fclose(f);
	if (strcmp(buf, "500\n") != 0)
		return 3;
	if (cove_oom_score_adj_apply(0, 600, &err) < 0)
		return 4;
	return 0;
}

static void test_oom_score_adj(void **state)
{
	struct cove_error err = {0};

	assert_int_equal(cove_oom_score_adj_apply(0, 1001, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "1001"));
	assert_int_equal(cove_oom_score_adj_apply(0, -1001, &err), -EINVAL);
	assert_child_ok(run_child(child_oom, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sched_parse_valid),
	    cmocka_unit_test(test_sched_parse_invalid),
	    cmocka_unit_test(test_ioprio_parse),
	    cmocka_unit_test(test_personality_parse),
	    cmocka_unit_test(test_sched_apply),
	    cmocka_unit_test(test_sched_apply_error),
	    cmocka_unit_test(test_ioprio_apply),
	    cmocka_unit_test(test_personality_apply),
	    cmocka_unit_test(test_rlimits_apply),
	    cmocka_unit_test(test_rlimit_errors),
	    cmocka_unit_test(test_oom_score_adj),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
