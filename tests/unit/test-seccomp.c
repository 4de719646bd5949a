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
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/seccomp.h"
#include "util/cleanup.h"

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

static void test_load_errno_rules(void **state)
{
	_cleanup_seccomp_ struct cove_seccomp *s = NULL;
	struct cove_error err = {0};
	int r = compile(
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
	    " ]}",
	    &s, &err);

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

/* End to end: the child's mkdir waits for the agent (this process). */
static void test_notify_end_to_end(void **state)
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
	r = compile(cfg, &s, &err);
	if (r < 0)
		fail_msg("compile failed: %s", err.msg);

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
	    cmocka_unit_test(test_features),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
