/* Unit tests for src/runtime/seccomp.c: parsing, compiling, loading. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <dirent.h>
#include <linux/filter.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image/bundle.h"
#include "runtime/seccomp-cache.h"
#include "runtime/seccomp.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define PATH "linux.seccomp"

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);

	if (!j)
		fail_msg("bad test JSON: %s: %s", jerr.text, text);
	return j;
}

/* Compile @text; returns the result, *ret the filter (or NULL). */
static int compile(const char *text, struct cove_seccomp **ret,
		   struct cove_error *err)
{
	_cleanup_json_ json_t *j = parse(text);

	cove_error_clear(err);
	return cove_seccomp_compile(j, PATH, ret, err);
}

/* Run @fn in a child; returns its wait status. */
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

static bool features_support_flag(const char *flag)
{
	_cleanup_json_ json_t *f = cove_seccomp_features();
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(f, "supportedFlags"), i, e)
	{
		if (strcmp(json_string_value(e), flag) == 0)
			return true;
	}
	return false;
}

struct bad_case {
	const char *json;
	const char *expect; /* substring of the error message */
};

static void test_invalid_configs(void **state)
{
	static const struct bad_case cases[] = {
	    {"[]", "invalid 'linux.seccomp': expected an object"},
	    {"{}", "missing 'linux.seccomp.defaultAction'"},
	    {"{\"defaultAction\":5}", "invalid 'linux.seccomp.defaultAction'"},
	    {"{\"defaultAction\":\"SCMP_ACT_NOPE\"}",
	     "invalid 'linux.seccomp.defaultAction': unknown action "
	     "'SCMP_ACT_NOPE'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	     "\"defaultErrnoRet\":1}",
	     "invalid 'linux.seccomp.defaultErrnoRet': SCMP_ACT_ALLOW "
	     "does not take an errno value"},
	    {"{\"defaultAction\":\"SCMP_ACT_ERRNO\","
	     "\"defaultErrnoRet\":-1}",
	     "invalid 'linux.seccomp.defaultErrnoRet'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ERRNO\","
	     "\"defaultErrnoRet\":70000}",
	     "invalid 'linux.seccomp.defaultErrnoRet': 70000 is above"},
	    {"{\"defaultAction\":\"SCMP_ACT_NOTIFY\","
	     "\"listenerPath\":\"/x\"}",
	     "invalid 'linux.seccomp.defaultAction': SCMP_ACT_NOTIFY"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"bogus\":1}",
	     "invalid 'linux.seccomp': unknown field 'bogus'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	     "\"architectures\":\"SCMP_ARCH_X86\"}",
	     "invalid 'linux.seccomp.architectures'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	     "\"architectures\":[\"SCMP_ARCH_X86\",\"SCMP_ARCH_VAX\"]}",
	     "invalid 'linux.seccomp.architectures[1]': unknown "
	     "architecture 'SCMP_ARCH_VAX'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	     "\"architectures\":[1]}",
	     "invalid 'linux.seccomp.architectures[0]': expected a "
	     "string"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	     "\"flags\":[\"SECCOMP_FILTER_FLAG_NOPE\"]}",
	     "invalid 'linux.seccomp.flags[0]': unknown flag"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	     "\"listenerMetadata\":\"m\"}",
	     "invalid 'linux.seccomp.listenerMetadata'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	     "\"listenerPath\":\"\"}",
	     "invalid 'linux.seccomp.listenerPath'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":{}}",
	     "invalid 'linux.seccomp.syscalls': expected an array"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[1]}",
	     "invalid 'linux.seccomp.syscalls[0]': expected an object"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
	     "[{\"action\":\"SCMP_ACT_ERRNO\"}]}",
	     "invalid 'linux.seccomp.syscalls[0].names': must contain"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
	     "[{\"names\":[],\"action\":\"SCMP_ACT_ERRNO\"}]}",
	     "invalid 'linux.seccomp.syscalls[0].names': must contain"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
	     "[{\"names\":[\"read\",7],\"action\":\"SCMP_ACT_ERRNO\"}]}",
	     "invalid 'linux.seccomp.syscalls[0].names[1]'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
	     "[{\"names\":[\"read\"]}]}",
	     "missing 'linux.seccomp.syscalls[0].action'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
	     "[{\"name\":\"read\",\"action\":\"SCMP_ACT_ERRNO\"}]}",
	     "invalid 'linux.seccomp.syscalls[0]': unknown field "
	     "'name'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
	     "[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_KILL\","
	     "\"errnoRet\":1}]}",
	     "invalid 'linux.seccomp.syscalls[0].errnoRet': "
	     "SCMP_ACT_KILL does not take an errno value"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
	     "[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	     "\"errnoRet\":\"EPERM\"}]}",
	     "invalid 'linux.seccomp.syscalls[0].errnoRet'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
	     "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\"},"
	     "{\"names\":[\"write\"],\"action\":\"SCMP_ACT_ERRNO\","
	     "\"args\":[{\"index\":6,\"value\":1,\"op\":"
	     "\"SCMP_CMP_EQ\"}]}]}",
	     "invalid 'linux.seccomp.syscalls[1].args[0].index'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
	     "[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	     "\"args\":[{\"index\":0,\"value\":1,\"op\":"
	     "\"SCMP_CMP_EQ\"},{\"index\":1,\"value\":1,\"op\":"
	     "\"SCMP_CMP_LIKE\"}]}]}",
	     "invalid 'linux.seccomp.syscalls[0].args[1].op': unknown "
	     "operator 'SCMP_CMP_LIKE'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
	     "[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	     "\"args\":[{\"index\":0,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	     "missing 'linux.seccomp.syscalls[0].args[0].value'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
	     "[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	     "\"args\":[{\"index\":0,\"value\":-3,\"op\":"
	     "\"SCMP_CMP_EQ\"}]}]}",
	     "invalid 'linux.seccomp.syscalls[0].args[0].value'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
	     "[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	     "\"args\":[{\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	     "missing 'linux.seccomp.syscalls[0].args[0].index'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
	     "[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	     "\"args\":[{\"index\":0,\"value\":1}]}]}",
	     "missing 'linux.seccomp.syscalls[0].args[0].op'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
	     "[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	     "\"args\":[{\"index\":0,\"value\":1,\"op\":"
	     "\"SCMP_CMP_EQ\",\"extra\":1}]}]}",
	     "invalid 'linux.seccomp.syscalls[0].args[0]': unknown field "
	     "'extra'"},
	    {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
	     "[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
	     "SCMP_ACT_NOTIFY is used but "
	     "'linux.seccomp.listenerPath' is not set"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cove_seccomp *s = NULL;
		struct cove_error err = {0};
		int r = compile(cases[i].json, &s, &err);

		if (r >= 0)
			fail_msg("case %zu accepted: %s", i, cases[i].json);
		assert_null(s);
		assert_int_equal(-r, err.code);
		if (!strstr(err.msg, cases[i].expect))
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i,
				 err.msg, cases[i].expect);
	}
}

static void test_null_and_empty(void **state)
{
	struct cove_seccomp *s = (void *)1;
	struct cove_error err = {0};
	int fd = 5;

	assert_int_equal(cove_seccomp_compile(NULL, PATH, &s, &err), 0);
	assert_null(s);
	assert_false(cove_seccomp_uses_notify(NULL));
	assert_int_equal(cove_seccomp_load(NULL, &fd, &err), 0);
	assert_int_equal(fd, -1);
	cove_seccomp_free(NULL);

	assert_int_equal(
	    compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\"}", &s, &err), 0);
	assert_non_null(s);
	assert_false(cove_seccomp_uses_notify(s));
	assert_null(cove_seccomp_listener_path(s));
	assert_null(cove_seccomp_listener_metadata(s));
	cove_seccomp_free(s);
}

/* A profile in the style of Docker's default, many arches and arg rules. */
static void test_valid_profile(void **state)
{
	_cleanup_seccomp_ struct cove_seccomp *s = NULL;
	struct cove_error err = {0};
	int r = compile(
	    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,"
	    " \"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\","
	    "   \"SCMP_ARCH_X32\",\"SCMP_ARCH_X86_64\"],"
	    " \"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],"
	    " \"syscalls\":["
	    "  {\"names\":[\"read\",\"write\",\"exit_group\","
	    "    \"no_such_syscall_at_all\",\"socketcall\"],"
	    "   \"action\":\"SCMP_ACT_ALLOW\"},"
	    "  {\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\","
	    "   \"args\":[{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"},"
	    "    {\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"},"
	    "    {\"index\":0,\"value\":4294967295,"
	    "     \"op\":\"SCMP_CMP_EQ\"}]},"
	    "  {\"names\":[\"clone\"],\"action\":\"SCMP_ACT_ALLOW\","
	    "   \"args\":[{\"index\":0,\"value\":2114060288,\"valueTwo\":0,"
	    "    \"op\":\"SCMP_CMP_MASKED_EQ\"}]},"
	    "  {\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ALLOW\","
	    "   \"args\":[{\"index\":0,\"value\":40,\"op\":\"SCMP_CMP_NE\"},"
	    "    {\"index\":1,\"value\":3,\"op\":\"SCMP_CMP_LT\"},"
	    "    {\"index\":2,\"value\":3,\"op\":\"SCMP_CMP_LE\"},"
	    "    {\"index\":3,\"value\":3,\"op\":\"SCMP_CMP_GE\"},"
	    "    {\"index\":4,\"value\":3,\"op\":\"SCMP_CMP_GT\"}]},"
	    "  {\"names\":[\"ptrace\"],\"action\":\"SCMP_ACT_TRACE\","
	    "   \"errnoRet\":7},"
	    "  {\"names\":[\"kexec_load\"],\"action\":\"SCMP_ACT_KILL\"},"
	    "  {\"names\":[\"reboot\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"},"
	    "  {\"names\":[\"swapon\"],\"action\":\"SCMP_ACT_KILL_THREAD\"},"
	    "  {\"names\":[\"acct\"],\"action\":\"SCMP_ACT_TRAP\"},"
	    "  {\"names\":[\"syslog\"],\"action\":\"SCMP_ACT_LOG\"},"
	    "  {\"names\":[\"getcwd\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "   \"errnoRet\":1},"
	    "  {\"names\":[\"chdir\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "   \"errnoRet\":38}"
	    " ]}",
	    &s, &err);

	if (r < 0)
		fail_msg("compile failed: %s", err.msg);
	assert_non_null(s);
	assert_false(cove_seccomp_uses_notify(s));
}

static void test_notify_config(void **state)
{
	_cleanup_seccomp_ struct cove_seccomp *s = NULL;
	struct cove_error err = {0};
	int r = compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\","
			" \"listenerPath\":\"/run/agent.sock\","
			" \"listenerMetadata\":\"MKNOD=/dev/null\","
			" \"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],"
			"   \"action\":\"SCMP_ACT_NOTIFY\"}]}",
			&s, &err);

	if (r < 0)
		fail_msg("compile failed: %s", err.msg);
	assert_true(cove_seccomp_uses_notify(s));
	assert_string_equal(cove_seccomp_listener_path(s), "/run/agent.sock");
	assert_string_equal(cove_seccomp_listener_metadata(s),
			    "MKNOD=/dev/null");
}

static void test_wait_killable_flag(void **state)
{
	struct cove_seccomp *s = NULL;
	struct cove_error err = {0};
	const char *flag = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV";
	int r =
	    compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\","
		    " \"flags\":[\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"],"
		    " \"listenerPath\":\"/run/agent.sock\","
		    " \"syscalls\":[{\"names\":[\"mkdir\"],"
		    "   \"action\":\"SCMP_ACT_NOTIFY\"}]}",
		    &s, &err);

	if (features_support_flag(flag)) {
		if (r < 0)
			fail_msg("compile failed: %s", err.msg);
		assert_non_null(s);
	} else {
		assert_true(r < 0);
		assert_non_null(strstr(err.msg, "not supported"));
		assert_non_null(strstr(err.msg, "linux.seccomp.flags[0]"));
	}
	cove_seccomp_free(s);
}

static int child_errno_rules(void *arg)
{
	struct cove_seccomp *s = arg;
	struct cove_error err = {0};
	char buf[256];
	int fd = 7;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return 1;
	if (cove_seccomp_load(s, &fd, &err) < 0) {
		fprintf(stderr, "load: %s\n", err.msg);
		return 2;
	}
	if (fd != -1)
		return 3;
	/* getcwd: ERRNO with errnoRet */
	errno = 0;
	if (getcwd(buf, sizeof(buf)) != NULL || errno != ENOMSG)
		return 4;
	/* mkdir: ERRNO without errnoRet, EPERM by default */
	errno = 0;
	if (mkdir("/tmp/cove-test-seccomp-never", 0700) == 0 || errno != EPERM)
		return 5;
	/* personality: one arg index listed twice, either value denied */
	errno = 0;
	if (personality(PER_LINUX32) != -1 || errno != EXDEV)
		return 6;
	errno = 0;
	if (personality(PER_LINUX32_3GB) != -1 || errno != EXDEV)
		return 7;
	/* the query form is allowed */
	if (personality(0xffffffff) == -1)
		return 8;
	/* an ALLOW rule equal to the default action is simply dropped */
	if (getpid() <= 0)
		return 9;
	return 0;
}

/* ERRNO rules, one with repeated arg comparisons (child_errno_rules). */
static const char errno_profile[] =
    "{\"defaultAction\":\"SCMP_ACT_ALLOW\","
    " \"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],"
    " \"syscalls\":["
    "  {\"names\":[\"getcwd\"],\"action\":\"SCMP_ACT_ERRNO\","
    "   \"errnoRet\":42},"
    "  {\"names\":[\"mkdir\",\"mkdirat\",\"not_a_syscall\"],"
    "   \"action\":\"SCMP_ACT_ERRNO\"},"
    "  {\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ERRNO\","
    "   \"errnoRet\":18,"
    "   \"args\":[{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"},"
    "    {\"index\":0,\"value\":134217736,\"op\":\"SCMP_CMP_EQ\"}]},"
    "  {\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_ALLOW\"}"
    " ]}";

static void test_load_errno_rules(void **state)
{
	_cleanup_seccomp_ struct cove_seccomp *s = NULL;
	struct cove_error err = {0};
	int r = compile(errno_profile, &s, &err);

	if (r < 0)
		fail_msg("compile failed: %s", err.msg);
	assert_int_equal(ENOMSG, 42);
	assert_int_equal(EXDEV, 18);
	assert_int_equal(PER_LINUX32_3GB, 134217736);
	assert_child_ok(run_child(child_errno_rules, s));
}

static int child_arg_allow(void *arg)
{
	struct cove_seccomp *s = arg;
	struct cove_error err = {0};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return 1;
	if (cove_seccomp_load(s, NULL, &err) < 0)
		return 2;
	/* allowed: arg0 == 0xffffffff */
	if (personality(0xffffffff) == -1)
		return 3;
	/* denied by the default action */
	errno = 0;
	if (personality(PER_LINUX) != -1 || errno != EACCES)
		return 4;
	return 0;
}

static void test_load_arg_allow(void **state)
{
	_cleanup_seccomp_ struct cove_seccomp *s = NULL;
	struct cove_error err = {0};
	/* personality is allowed only for arg0 == 0xffffffff (the query). */
	int r = compile(
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	    " \"syscalls\":["
	    "  {\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "   \"errnoRet\":13,"
	    "   \"args\":[{\"index\":0,\"value\":4294967295,"
	    "    \"op\":\"SCMP_CMP_NE\"}]}"
	    " ]}",
	    &s, &err);

	if (r < 0)
		fail_msg("compile failed: %s", err.msg);
	assert_child_ok(run_child(child_arg_allow, s));
}

static int child_kill(void *arg)
{
	struct cove_seccomp *s = arg;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return 1;
	if (cove_seccomp_load(s, NULL, NULL) < 0)
		return 2;
	getppid();
	return 3;
}

static void test_load_kill(void **state)
{
	_cleanup_seccomp_ struct cove_seccomp *s = NULL;
	struct cove_error err = {0};
	int status;
	int r = compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\","
			" \"flags\":[\"SECCOMP_FILTER_FLAG_TSYNC\"],"
			" \"syscalls\":[{\"names\":[\"getppid\"],"
			"   \"action\":\"SCMP_ACT_KILL_PROCESS\"}]}",
			&s, &err);

	if (r < 0)
		fail_msg("compile failed: %s", err.msg);
	status = run_child(child_kill, s);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

static int child_no_privilege(void *arg)
{
	struct cove_seccomp *s = arg;
	struct cove_error err = {0};
	cap_value_t admin = CAP_SYS_ADMIN;
	cap_t caps = cap_get_proc();

	/* Neither no_new_privs nor CAP_SYS_ADMIN: the kernel refuses. */
	if (!caps ||
	    cap_set_flag(caps, CAP_EFFECTIVE, 1, &admin, CAP_CLEAR) < 0 ||
	    cap_set_proc(caps) < 0)
		return 1;
	cap_free(caps);
	if (cove_seccomp_load(s, NULL, &err) != -EACCES)
		return 2;
	if (!strstr(err.msg, "no_new_privs or CAP_SYS_ADMIN"))
		return 3;
	return 0;
}

static void test_load_needs_privilege(void **state)
{
	_cleanup_seccomp_ struct cove_seccomp *s = NULL;
	struct cove_error err = {0};
	int r = compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\","
			" \"syscalls\":[{\"names\":[\"getppid\"],"
			"   \"action\":\"SCMP_ACT_ERRNO\"}]}",
			&s, &err);

	if (r < 0)
		fail_msg("compile failed: %s", err.msg);
	assert_child_ok(run_child(child_no_privilege, s));
}

/* A listening unix socket in a fresh directory. */
static int make_listener(char *dir, size_t dir_size, char *path,
			 size_t path_size)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	snprintf(dir, dir_size, "/tmp/cove-test-seccomp-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, path_size, "%s/agent.sock", dir);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

/* Receive the process state and the fd sent with it. */
static json_t *receive_state(int listen_fd, int *ret_fd)
{
	char buf[8192];
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.b,
			    .msg_controllen = sizeof(control.b)};
	struct cmsghdr *cmsg;
	size_t len = 0;
	ssize_t n;
	int conn;

	*ret_fd = -1;
	conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(conn >= 0);
	n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
	assert_true(n > 0);
	cmsg = CMSG_FIRSTHDR(&mh);
	assert_non_null(cmsg);
	assert_int_equal(cmsg->cmsg_type, SCM_RIGHTS);
	memcpy(ret_fd, CMSG_DATA(cmsg), sizeof(int));
	len = (size_t)n;
	/* The sender closes the connection after one state. */
	while ((n = read(conn, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(conn);
	buf[len] = '\0';
	return parse(buf);
}

static void test_send_listener(void **state)
{
	_cleanup_seccomp_ struct cove_seccomp *s = NULL;
	_cleanup_json_ json_t *st = NULL, *got = NULL;
	struct cove_error err = {0};
	char dir[64], path[128], byte = 0;
	int listen_fd, pipe_fds[2], fd = -1, r;
	char cfg[512];

	listen_fd = make_listener(dir, sizeof(dir), path, sizeof(path));
	snprintf(cfg, sizeof(cfg),
		 "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":"
		 "\"%s\",\"listenerMetadata\":\"meta\",\"syscalls\":"
		 "[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
		 path);
	r = compile(cfg, &s, &err);
	if (r < 0)
		fail_msg("compile failed: %s", err.msg);

	/* Any fd will do to check the wire format. */
	assert_int_equal(pipe2(pipe_fds, O_CLOEXEC), 0);
	st = parse("{\"ociVersion\":\"1.2.0\",\"id\":\"c1\","
		   "\"status\":\"creating\",\"pid\":4242,\"bundle\":\"/b\"}");
	r = cove_seccomp_send_listener(s, pipe_fds[1], 4242, st, &err);
	if (r < 0)
		fail_msg("send failed: %s", err.msg);

	got = receive_state(listen_fd, &fd);
	assert_true(fd >= 0);
	assert_string_equal(
	    json_string_value(json_object_get(got, "ociVersion")), "1.2.0");
	assert_int_equal(json_array_size(json_object_get(got, "fds")), 1);
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(got, "fds"), 0)),
	    "seccompFd");
	assert_int_equal(json_integer_value(json_object_get(got, "pid")), 4242);
	assert_string_equal(json_string_value(json_object_get(got, "metadata")),
			    "meta");
	assert_true(json_equal(json_object_get(got, "state"), st));
	/* The fd received is the pipe's write end. */
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(read(pipe_fds[0], &byte, 1), 1);
	assert_int_equal(byte, 'x');

	/* No listener: a clear error naming the socket. */
	close(listen_fd);
	unlink(path);
	r = cove_seccomp_send_listener(s, pipe_fds[1], 1, st, &err);
	assert_true(r < 0);
	assert_non_null(strstr(err.msg, path));

	close(fd);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	rmdir(dir);
}

static int child_notify(void *arg)
{
	struct cove_seccomp *s = arg;
	_cleanup_json_ json_t *st = json_pack("{s:s}", "id", "c1");
	struct cove_error err = {0};
	int fd = -1;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return 1;
	if (cove_seccomp_load(s, &fd, &err) < 0) {
		fprintf(stderr, "load: %s\n", err.msg);
		return 2;
	}
	if (fd < 0 || !(fcntl(fd, F_GETFD) & FD_CLOEXEC))
		return 3;
	if (cove_seccomp_send_listener(s, fd, getpid(), st, &err) < 0) {
		fprintf(stderr, "send: %s\n", err.msg);
		return 4;
	}
	close(fd);
	/* The agent answers EXDEV for this mkdir. */
	errno = 0;
	if (mkdir("/tmp/cove-test-seccomp-notify-never", 0700) == 0 ||
	    errno != EXDEV)
		return 5;
	return 0;
}

/*
 * End to end: the child's mkdir waits for the agent (this process).  With
 * @cache_dir, the filter is compiled into the cache first and the one
 * tested comes from it.
 */
static void notify_end_to_end(const char *cache_dir)
{
	_cleanup_seccomp_ struct cove_seccomp *s = NULL;
	_cleanup_json_ json_t *got = NULL;
	struct seccomp_notif *req = NULL;
	struct seccomp_notif_resp *resp = NULL;
	struct cove_error err = {0};
	char dir[64], path[128], cfg[512];
	int listen_fd, fd = -1, status = 0, r;
	pid_t pid;

	listen_fd = make_listener(dir, sizeof(dir), path, sizeof(path));
	snprintf(cfg, sizeof(cfg),
		 "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":"
		 "\"%s\",\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],"
		 "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
		 path);
	if (cache_dir) {
		_cleanup_json_ json_t *j = parse(cfg);
		struct cove_seccomp *first = NULL;

		r = cove_seccomp_compile_cached(j, PATH, cache_dir, &first,
						&err);
		if (r < 0)
			fail_msg("compile failed: %s", err.msg);
		assert_false(cove_seccomp_from_cache(first));
		cove_seccomp_free(first);
		r = cove_seccomp_compile_cached(j, PATH, cache_dir, &s, &err);
		if (r < 0)
			fail_msg("compile failed: %s", err.msg);
		assert_true(cove_seccomp_from_cache(s));
		assert_true(cove_seccomp_uses_notify(s));
		assert_string_equal(cove_seccomp_listener_path(s), path);
	} else {
		r = compile(cfg, &s, &err);
		if (r < 0)
			fail_msg("compile failed: %s", err.msg);
	}

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_notify(s));

	got = receive_state(listen_fd, &fd);
	assert_true(fd >= 0);
	assert_int_equal(json_integer_value(json_object_get(got, "pid")), pid);
	assert_null(json_object_get(got, "metadata"));

	assert_int_equal(seccomp_notify_alloc(&req, &resp), 0);
	assert_int_equal(seccomp_notify_receive(fd, req), 0);
	assert_int_equal(req->pid, pid);
	resp->id = req->id;
	resp->val = 0;
	resp->error = -EXDEV;
	resp->flags = 0;
	assert_int_equal(seccomp_notify_respond(fd, resp), 0);
	seccomp_notify_free(req, resp);

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_child_ok(status);
	close(fd);
	close(listen_fd);
	unlink(path);
	rmdir(dir);
}

static void test_notify_end_to_end(void **state)
{
	notify_end_to_end(NULL);
}

/*
 * The compiled-program cache (cove_seccomp_compile_cached()).  Each test
 * has its own directory; the cache directory inside it is created by the
 * first compile.
 */
struct cache_env {
	char top[64];
	char dir[96]; /* <top>/cache */
};

static void cache_env_init(struct cache_env *c)
{
	snprintf(c->top, sizeof(c->top), "/tmp/cove-test-seccache-XXXXXX");
	assert_non_null(mkdtemp(c->top));
	snprintf(c->dir, sizeof(c->dir), "%s/cache", c->top);
}

static void cache_env_cleanup(struct cache_env *c)
{
	assert_int_equal(cove_rm_rf(c->top), 0);
}

/* Compile @j with the cache in @dir; an error fails the test. */
static struct cove_seccomp *compile_cached(json_t *j, const char *dir)
{
	struct cove_seccomp *s = NULL;
	struct cove_error err = {0};

	if (cove_seccomp_compile_cached(j, PATH, dir, &s, &err) < 0)
		fail_msg("compile failed: %s", err.msg);
	assert_non_null(s);
	return s;
}

static struct cove_seccomp *compile_fresh(json_t *j)
{
	return compile_cached(j, NULL);
}

static void assert_same_program(const struct cove_seccomp *a,
				const struct cove_seccomp *b)
{
	size_t na = 0, nb = 0;
	const struct sock_filter *pa = cove_seccomp_program(a, &na);
	const struct sock_filter *pb = cove_seccomp_program(b, &nb);

	assert_true(na > 0);
	assert_int_equal(na, nb);
	assert_memory_equal(pa, pb, na * sizeof(*pa));
}

/* Entries of @dir but . and ..; the last one's path in @buf. */
static int dir_entries(const char *dir, char *buf, size_t size)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		n++;
		if (buf)
			snprintf(buf, size, "%s/%s", dir, de->d_name);
	}
	return n;
}

/* The path of the only file in @dir, a "<16 hex digits>.bpf". */
static void cache_file(const char *dir, char *buf, size_t size)
{
	const char *base;

	assert_int_equal(dir_entries(dir, buf, size), 1);
	base = strrchr(buf, '/') + 1;
	assert_int_equal(strlen(base), 20);
	assert_string_equal(base + 16, ".bpf");
	assert_int_equal(strspn(base, "0123456789abcdef"), 16);
}

static void read_whole(const char *path, char **ret, size_t *ret_len)
{
	assert_int_equal(cove_read_file(path, 1 << 24, ret, ret_len), 0);
}

static void write_whole(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/*
 * Compile @j without a cache, then twice with one: the first writes the
 * file (0600, in a directory created 0700), the second loads it.  All
 * three programs are the same.  Returns the one from the cache.
 */
static struct cove_seccomp *check_cached_equals_fresh(json_t *j,
						      const char *dir)
{
	_cleanup_seccomp_ struct cove_seccomp *fresh = NULL, *miss = NULL;
	struct cove_seccomp *hit;
	char file[256];
	struct stat st;

	fresh = compile_fresh(j);
	assert_false(cove_seccomp_from_cache(fresh));
	miss = compile_cached(j, dir);
	assert_false(cove_seccomp_from_cache(miss));
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	cache_file(dir, file, sizeof(file));
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	hit = compile_cached(j, dir);
	assert_true(cove_seccomp_from_cache(hit));
	assert_same_program(fresh, miss);
	assert_same_program(fresh, hit);
	assert_int_equal(cove_seccomp_uses_notify(hit),
			 cove_seccomp_uses_notify(fresh));
	return hit;
}

static void test_cache_default_profile(void **state)
{
	_cleanup_json_ json_t *j = cove_bundle_default_seccomp(
	    (char *const *)cove_bundle_default_caps);
	_cleanup_seccomp_ struct cove_seccomp *hit = NULL;
	struct cache_env env;
	size_t n = 0;

	assert_non_null(j);
	cache_env_init(&env);
	hit = check_cached_equals_fresh(j, env.dir);
	/* the ~350-syscall allowlist: hundreds of instructions */
	cove_seccomp_program(hit, &n);
	assert_true(n > 200);
	cache_env_cleanup(&env);
}

static void test_cache_args_profile(void **state)
{
	_cleanup_json_ json_t *j = parse(errno_profile);
	_cleanup_json_ json_t *j2 = parse(
	    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,"
	    " \"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\","
	    "   \"SCMP_ARCH_X32\"],"
	    " \"syscalls\":["
	    "  {\"names\":[\"read\",\"write\",\"exit_group\"],"
	    "   \"action\":\"SCMP_ACT_ALLOW\"},"
	    "  {\"names\":[\"clone\"],\"action\":\"SCMP_ACT_ALLOW\","
	    "   \"args\":[{\"index\":0,\"value\":2114060288,\"valueTwo\":0,"
	    "    \"op\":\"SCMP_CMP_MASKED_EQ\"}]},"
	    "  {\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ALLOW\","
	    "   \"args\":[{\"index\":0,\"value\":40,\"op\":\"SCMP_CMP_NE\"},"
	    "    {\"index\":1,\"value\":3,\"op\":\"SCMP_CMP_LT\"},"
	    "    {\"index\":2,\"value\":3,\"op\":\"SCMP_CMP_GE\"}]}"
	    " ]}");
	_cleanup_seccomp_ struct cove_seccomp *hit = NULL, *hit2 = NULL;
	struct cache_env env, env2;

	cache_env_init(&env);
	hit = check_cached_equals_fresh(j, env.dir);
	/* the program from the cache filters as the compiled one does */
	assert_child_ok(run_child(child_errno_rules, hit));
	cache_env_cleanup(&env);

	cache_env_init(&env2);
	hit2 = check_cached_equals_fresh(j2, env2.dir);
	cache_env_cleanup(&env2);
}

/* The key is the canonical JSON: key order and spacing do not matter. */
static void test_cache_canonical_key(void **state)
{
	_cleanup_json_ json_t *a =
	    parse("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
		  "[{\"names\":[\"getcwd\"],\"action\":\"SCMP_ACT_ERRNO\","
		  "\"errnoRet\":42}]}");
	_cleanup_json_ json_t *b =
	    parse("{ \"syscalls\": [ {\"errnoRet\": 42, \"action\": "
		  "\"SCMP_ACT_ERRNO\", \"names\": [\"getcwd\"]} ],\n"
		  "  \"defaultAction\": \"SCMP_ACT_ALLOW\" }");
	_cleanup_json_ json_t *c =
	    parse("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
		  "[{\"names\":[\"getcwd\"],\"action\":\"SCMP_ACT_ERRNO\","
		  "\"errnoRet\":43}]}");
	struct cove_seccomp *s;
	struct cache_env env;

	cache_env_init(&env);
	s = compile_cached(a, env.dir);
	assert_false(cove_seccomp_from_cache(s));
	cove_seccomp_free(s);
	s = compile_cached(b, env.dir);
	assert_true(cove_seccomp_from_cache(s));
	cove_seccomp_free(s);
	assert_int_equal(dir_entries(env.dir, NULL, 0), 1);
	s = compile_cached(c, env.dir);
	assert_false(cove_seccomp_from_cache(s));
	cove_seccomp_free(s);
	assert_int_equal(dir_entries(env.dir, NULL, 0), 2);
	cache_env_cleanup(&env);
}

/*
 * A well-formed file under the profile's name whose key differs in the
 * JSON (what a hash collision looks like) holding an allow-all program:
 * never loaded, and replaced.
 */
static void test_cache_tampered_key(void **state)
{
	_cleanup_json_ json_t *j = parse(errno_profile);
	_cleanup_seccomp_ struct cove_seccomp *fresh = NULL, *s = NULL;
	_cleanup_free_ char *orig = NULL, *key = NULL, *forged = NULL,
			    *now = NULL;
	struct sock_filter allow[] = {
	    BPF_STMT(BPF_RET | BPF_K, SCMP_ACT_ALLOW),
	};
	struct sock_filter *prog = NULL;
	size_t orig_len, forged_len, now_len, n = 0;
	uint32_t key_len;
	char file[256], *at;
	struct cache_env env;

	cache_env_init(&env);
	fresh = compile_fresh(j);
	cove_seccomp_free(compile_cached(j, env.dir));
	cache_file(env.dir, file, sizeof(file));
	read_whole(file, &orig, &orig_len);

	/* the key: a 32-byte header (key length at 12), then the key */
	memcpy(&key_len, orig + 12, sizeof(key_len));
	assert_true(32 + (size_t)key_len < orig_len);
	key = malloc(key_len + 1);
	assert_non_null(key);
	memcpy(key, orig + 32, key_len);
	key[key_len] = '\0';
	assert_int_equal(
	    cove_seccomp_cache_parse(orig, orig_len, key, key_len, &prog, &n),
	    0);
	free(prog);
	at = strstr(key, "\"errnoRet\":42");
	assert_non_null(at);
	at[strlen("\"errnoRet\":4")] = '3';
	assert_int_equal(cove_seccomp_cache_format(key, key_len, allow, 1,
						   &forged, &forged_len),
			 0);
	/* consistent in itself: only the key comparison rejects it */
	assert_int_equal(cove_seccomp_cache_parse(forged, forged_len, orig + 32,
						  key_len, &prog, &n),
			 -ESTALE);
	write_whole(file, forged, forged_len);

	s = compile_cached(j, env.dir);
	assert_false(cove_seccomp_from_cache(s));
	assert_same_program(fresh, s);
	read_whole(file, &now, &now_len);
	assert_int_equal(now_len, orig_len);
	assert_memory_equal(now, orig, orig_len);
	cache_env_cleanup(&env);
}

/* Short, corrupt or foreign files are ignored and replaced. */
static void test_cache_corrupt_files(void **state)
{
	_cleanup_json_ json_t *j = parse(errno_profile);
	_cleanup_seccomp_ struct cove_seccomp *fresh = NULL;
	_cleanup_free_ char *orig = NULL;
	size_t orig_len;
	char file[256];
	struct cache_env env;

	cache_env_init(&env);
	fresh = compile_fresh(j);
	cove_seccomp_free(compile_cached(j, env.dir));
	cache_file(env.dir, file, sizeof(file));
	read_whole(file, &orig, &orig_len);

	for (int k = 0; k < 12; k++) {
		_cleanup_free_ char *bad = malloc(orig_len + 1), *now = NULL;
		size_t len = orig_len, now_len;
		uint32_t v;
		struct cove_seccomp *s;

		assert_non_null(bad);
		memcpy(bad, orig, orig_len);
		switch (k) {
		case 0: /* empty */
			len = 0;
			break;
		case 1: /* part of the header */
			len = 10;
			break;
		case 2: /* one byte short of the header */
			len = 31;
			break;
		case 3: /* the header alone */
			len = 32;
			break;
		case 4: /* one instruction short */
			len = orig_len - 8;
			break;
		case 5: /* one byte short */
			len = orig_len - 1;
			break;
		case 6: /* a trailing byte */
			bad[len++] = 0;
			break;
		case 7: /* a bit of the program */
			bad[orig_len - 1] ^= 1;
			break;
		case 8: /* a bit of the key */
			bad[40] ^= 1;
			break;
		case 9: /* the magic */
			bad[0] = 'X';
			break;
		case 10: /* the format version */
			v = 99;
			memcpy(bad + 8, &v, sizeof(v));
			break;
		default: /* a program length that overruns the file */
			memcpy(&v, bad + 16, sizeof(v));
			v++;
			memcpy(bad + 16, &v, sizeof(v));
			break;
		}
		write_whole(file, bad, len);
		s = compile_cached(j, env.dir);
		if (cove_seccomp_from_cache(s))
			fail_msg("corruption %d was loaded", k);
		assert_same_program(fresh, s);
		cove_seccomp_free(s);
		read_whole(file, &now, &now_len);
		assert_int_equal(now_len, orig_len);
		assert_memory_equal(now, orig, orig_len);
	}
	/* and the replaced file is used again */
	{
		_cleanup_seccomp_ struct cove_seccomp *s =
		    compile_cached(j, env.dir);
		assert_true(cove_seccomp_from_cache(s));
	}
	cache_env_cleanup(&env);
}

static bool compiles_from_cache(json_t *j, const char *dir)
{
	_cleanup_seccomp_ struct cove_seccomp *s = compile_cached(j, dir);

	return cove_seccomp_from_cache(s);
}

/*
 * A directory or file that someone else could have written is not used:
 * the profile is compiled as without a cache.
 */
static void test_cache_untrusted(void **state)
{
	_cleanup_json_ json_t *j = parse(errno_profile);
	char file[256], link[128];
	struct cache_env env;
	bool root = geteuid() == 0;

	cache_env_init(&env);
	assert_false(compiles_from_cache(j, env.dir));
	assert_true(compiles_from_cache(j, env.dir));
	cache_file(env.dir, file, sizeof(file));

	/* world- or group-writable directory: a valid file is not loaded */
	assert_int_equal(chmod(env.dir, 0777), 0);
	assert_false(compiles_from_cache(j, env.dir));
	assert_int_equal(chmod(env.dir, 0770), 0);
	assert_false(compiles_from_cache(j, env.dir));
	assert_int_equal(chmod(env.dir, 0733), 0);
	assert_false(compiles_from_cache(j, env.dir));
	/* ... nor is one written there */
	assert_int_equal(unlink(file), 0);
	assert_int_equal(chmod(env.dir, 0777), 0);
	assert_false(compiles_from_cache(j, env.dir));
	assert_int_equal(dir_entries(env.dir, NULL, 0), 0);
	assert_int_equal(chmod(env.dir, 0700), 0);
	assert_false(compiles_from_cache(j, env.dir));
	assert_true(compiles_from_cache(j, env.dir));

	/* a symlink to a good cache directory is not followed */
	snprintf(link, sizeof(link), "%s/link", env.top);
	assert_int_equal(symlink("cache", link), 0);
	assert_false(compiles_from_cache(j, link));
	assert_true(compiles_from_cache(j, env.dir));

	/* a world-writable file is not loaded, but replaced (0600) */
	assert_int_equal(chmod(file, 0666), 0);
	assert_false(compiles_from_cache(j, env.dir));
	assert_true(compiles_from_cache(j, env.dir));

	/* a symlink or a FIFO in place of the file (no hang: O_NONBLOCK) */
	{
		char target[256];
		snprintf(target, sizeof(target), "%s/elsewhere", env.top);
		assert_int_equal(rename(file, target), 0);
		assert_int_equal(symlink(target, file), 0);
		assert_false(compiles_from_cache(j, env.dir));
		assert_true(compiles_from_cache(j, env.dir));
		assert_int_equal(unlink(file), 0);
		assert_int_equal(mkfifo(file, 0600), 0);
		assert_false(compiles_from_cache(j, env.dir));
		assert_true(compiles_from_cache(j, env.dir));
	}

	/* owned by another user: the directory, then the file */
	if (root) {
		assert_int_equal(chown(env.dir, 65534, 65534), 0);
		assert_false(compiles_from_cache(j, env.dir));
		assert_int_equal(chown(env.dir, 0, 0), 0);
		assert_true(compiles_from_cache(j, env.dir));
		assert_int_equal(chown(file, 65534, 65534), 0);
		assert_false(compiles_from_cache(j, env.dir));
		assert_true(compiles_from_cache(j, env.dir));
	} else {
		print_message("skipped the ownership checks: not root\n");
	}
	cache_env_cleanup(&env);
}

/* Past 64 files, a store removes the other cache files (only those). */
static void test_cache_prune(void **state)
{
	_cleanup_json_ json_t *j = parse(errno_profile);
	char path[256], other[128];
	struct cache_env env;

	cache_env_init(&env);
	assert_int_equal(mkdir(env.dir, 0700), 0);
	for (int i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), "%s/%016x.bpf", env.dir, i);
		write_whole(path, "x", 1);
	}
	snprintf(other, sizeof(other), "%s/not-a-cache-file", env.dir);
	write_whole(other, "x", 1);
	/* 65 cache files now: the new one and all the others go */
	assert_false(compiles_from_cache(j, env.dir));
	assert_int_equal(dir_entries(env.dir, NULL, 0), 2);
	assert_int_equal(access(other, F_OK), 0);
	assert_int_equal(unlink(other), 0);
	cache_file(env.dir, path, sizeof(path));
	assert_true(compiles_from_cache(j, env.dir));

	/* 64 with the new one: nothing removed */
	for (int i = 0; i < 62; i++) {
		snprintf(path, sizeof(path), "%s/%016x.bpf", env.dir, i);
		write_whole(path, "x", 1);
	}
	{
		_cleanup_json_ json_t *k =
		    parse("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
			  "[{\"names\":[\"getcwd\"],\"action\":"
			  "\"SCMP_ACT_KILL\"}]}");
		assert_false(compiles_from_cache(k, env.dir));
		assert_int_equal(dir_entries(env.dir, NULL, 0), 64);
	}
	cache_env_cleanup(&env);
}

/* SCMP_ACT_NOTIFY from a cached program: the listener fd still comes. */
static void test_cache_notify_end_to_end(void **state)
{
	struct cache_env env;

	cache_env_init(&env);
	notify_end_to_end(env.dir);
	cache_env_cleanup(&env);
}

static bool array_has(json_t *a, const char *s)
{
	json_t *e;
	size_t i;

	json_array_foreach(a, i, e)
	{
		if (strcmp(json_string_value(e), s) == 0)
			return true;
	}
	return false;
}

static void test_features(void **state)
{
	_cleanup_json_ json_t *f = cove_seccomp_features();

	assert_non_null(f);
	assert_true(json_is_true(json_object_get(f, "enabled")));
	assert_int_equal(json_array_size(json_object_get(f, "actions")), 9);
	assert_true(
	    array_has(json_object_get(f, "actions"), "SCMP_ACT_KILL_PROCESS"));
	assert_int_equal(json_array_size(json_object_get(f, "operators")), 7);
	assert_true(
	    array_has(json_object_get(f, "operators"), "SCMP_CMP_MASKED_EQ"));
	assert_true(array_has(json_object_get(f, "archs"), "SCMP_ARCH_X86_64"));
	assert_true(
	    array_has(json_object_get(f, "archs"), "SCMP_ARCH_RISCV64"));
	assert_int_equal(json_array_size(json_object_get(f, "knownFlags")), 4);
	/* Every kernel that cove supports has TSYNC and LOG. */
	assert_true(array_has(json_object_get(f, "supportedFlags"),
			      "SECCOMP_FILTER_FLAG_TSYNC"));
	assert_true(array_has(json_object_get(f, "supportedFlags"),
			      "SECCOMP_FILTER_FLAG_LOG"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_invalid_configs),
	    cmocka_unit_test(test_null_and_empty),
	    cmocka_unit_test(test_valid_profile),
	    cmocka_unit_test(test_notify_config),
	    cmocka_unit_test(test_wait_killable_flag),
	    cmocka_unit_test(test_load_errno_rules),
	    cmocka_unit_test(test_load_arg_allow),
	    cmocka_unit_test(test_load_kill),
	    cmocka_unit_test(test_load_needs_privilege),
	    cmocka_unit_test(test_send_listener),
	    cmocka_unit_test(test_notify_end_to_end),
	    cmocka_unit_test(test_cache_default_profile),
	    cmocka_unit_test(test_cache_args_profile),
	    cmocka_unit_test(test_cache_canonical_key),
	    cmocka_unit_test(test_cache_tampered_key),
	    cmocka_unit_test(test_cache_corrupt_files),
	    cmocka_unit_test(test_cache_untrusted),
	    cmocka_unit_test(test_cache_prune),
	    cmocka_unit_test(test_cache_notify_end_to_end),
	    cmocka_unit_test(test_features),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
