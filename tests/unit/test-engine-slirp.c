/*
 * Unit tests for slirp.h without slirp4netns: the API client against a
 * fake server (requests, "return" and "error" replies, garbage, a socket
 * path longer than sockaddr_un allows), and the child's life cycle with
 * fake executables (shell scripts): ready, exit on the exit fd, a failure
 * quoted from its output, the ready timeout, descriptors and signal mask.
 * No root needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/slirp.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strutil.h"

static char *tmp;

static int setup(void **state)
{
	char t[] = "/tmp/cove-slirp-XXXXXX";

	(void)state;
	assert_non_null(mkdtemp(t));
	tmp = strdup(t);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	(void)cove_rm_rf(tmp);
	free(tmp);
	tmp = NULL;
	return 0;
}

static void write_script(const char *path, const char *body)
{
	_cleanup_free_ char *text = cove_strdup_printf("#!/bin/sh\n%s", body);

	assert_non_null(text);
	assert_int_equal(
	    cove_write_file_atomic_at(AT_FDCWD, path, text, strlen(text), 0755),
	    0);
}

static char *read_text(const char *path)
{
	char *buf = NULL;

	assert_int_equal(cove_read_file(path, 1 << 20, &buf, NULL), 0);
	return buf;
}

/* ---- the API client -------------------------------------------------------
 */

/*
 * A server for one connection in a child: it binds @path (through its
 * directory when long), writes what it reads to @req_path and answers
 * @reply.  Returns the child's pid once it listens.
 */
static pid_t serve_once(const char *path, const char *reply,
			const char *req_path)
{
	int ready[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		const char *slash = strrchr(path, '/');
		_cleanup_free_ char *dir =
		    strndup(path, (size_t)(slash - path));
		char buf[4096];
		ssize_t n;
		int s, fd, out;

		if (!dir || chdir(dir) < 0)
			_exit(1);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", slash + 1);
		(void)unlink(sa.sun_path);
		s = socket(AF_UNIX, SOCK_STREAM, 0);
		if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(s, 1) < 0)
			_exit(1);
		if (write(ready[1], "1", 1) != 1)
			_exit(1);
		fd = accept(s, NULL, NULL);
		if (fd < 0)
			_exit(1);
		n = read(fd, buf, sizeof(buf));
		out = open(req_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (n > 0 && out >= 0 && write(out, buf, (size_t)n) != n)
			_exit(1);
		if (*reply && write(fd, reply, strlen(reply)) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return pid;
}

static void reap_ok(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_hostfwd_request_and_return(void **state)
{
	_cleanup_free_ char *sock = cove_strdup_printf("%s/api.sock", tmp),
			    *req = cove_strdup_printf("%s/req", tmp),
			    *got = NULL;
	struct cove_error err = {0};
	pid_t pid;

	(void)state;
	pid = serve_once(sock, "{\"return\":{\"id\":1}}", req);
	assert_int_equal(
	    cove_slirp_add_hostfwd(sock, NULL, NULL, 8080, 80, &err), 0);
	reap_ok(pid);
	got = read_text(req);
	assert_string_equal(got, "{\"execute\":\"add_hostfwd\",\"arguments\":"
				 "{\"proto\":\"tcp\",\"host_addr\":\"0.0.0.0\","
				 "\"host_port\":8080,\"guest_port\":80}}");
}

static void test_hostfwd_errors(void **state)
{
	_cleanup_free_ char *sock = cove_strdup_printf("%s/api.sock", tmp),
			    *req = cove_strdup_printf("%s/req", tmp);
	struct cove_error err = {0};
	pid_t pid;

	(void)state;
	/* slirp could not listen: EADDRINUSE, with slirp's words and a hint */
	pid = serve_once(sock,
			 "{\"error\":{\"desc\":\"bad request: add_hostfwd: "
			 "slirp_add_hostfwd failed\"}}",
			 req);
	assert_int_equal(
	    cove_slirp_add_hostfwd(sock, "udp", "127.0.0.1", 53, 53, &err),
	    -EADDRINUSE);
	reap_ok(pid);
	assert_non_null(strstr(err.msg, "127.0.0.1:53/udp"));
	assert_non_null(strstr(err.msg, "slirp_add_hostfwd failed"));
	assert_non_null(strstr(err.msg, "in use"));

	/* another error */
	pid = serve_once(sock, "{\"error\":{\"desc\":\"bad arguments.proto\"}}",
			 req);
	assert_int_equal(cove_slirp_add_hostfwd(sock, "sctp", NULL, 1, 1, &err),
			 -EIO);
	reap_ok(pid);
	assert_non_null(strstr(err.msg, "bad arguments.proto"));

	/* garbage, and a valid object that says nothing */
	pid = serve_once(sock, "not json", req);
	assert_int_equal(cove_slirp_add_hostfwd(sock, "tcp", NULL, 1, 1, &err),
			 -EIO);
	reap_ok(pid);
	assert_non_null(strstr(err.msg, "not json"));
	pid = serve_once(sock, "{}", req);
	assert_int_equal(cove_slirp_add_hostfwd(sock, "tcp", NULL, 1, 1, &err),
			 -EIO);
	reap_ok(pid);

	/* nobody listening */
	assert_int_equal(unlink(sock), 0);
	assert_true(cove_slirp_add_hostfwd(sock, "tcp", NULL, 1, 1, &err) < 0);
	assert_non_null(strstr(err.msg, sock));
}

static void test_hostfwd_long_path(void **state)
{
	_cleanup_free_ char *dir = NULL, *sock = NULL,
			    *req = cove_strdup_printf("%s/req", tmp);
	struct cove_error err = {0};
	pid_t pid;

	(void)state;
	dir = cove_strdup_printf("%s/%0120d", tmp, 0);
	assert_int_equal(cove_mkdir_p(dir, 0755), 0);
	sock = cove_strdup_printf(
	    "%s/"
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    ".sock",
	    dir);
	assert_true(strlen(sock) >=
		    sizeof(((struct sockaddr_un *)0)->sun_path));
	pid = serve_once(sock, "{\"return\":{\"id\":7}}", req);
	assert_int_equal(
	    cove_slirp_add_hostfwd(sock, "tcp", "10.1.2.3", 1, 2, &err), 0);
	reap_ok(pid);
}

/* ---- the child ------------------------------------------------------------
 */

static void test_start_ready_and_stop(void **state)
{
	_cleanup_free_ char *exe = cove_strdup_printf("%s/fake", tmp),
			    *log = cove_strdup_printf("%s/log", tmp),
			    *args = cove_strdup_printf("%s/args", tmp),
			    *sock = cove_strdup_printf("%s/s.sock", tmp),
			    *text = NULL, *script = NULL;
	struct cove_slirp_opts o = {0};
	struct cove_slirp s;
	struct cove_error err = {0};
	int fd_before;

	(void)state;
	/*
	 * Records its arguments, its descriptors and its blocked signals,
	 * says it is ready, then waits for the exit fd to close.
	 */
	script = cove_strdup_printf(
	    "echo \"$@\" > %s\n"
	    "ls /proc/self/fd | sort -n | tr '\\n' ' ' >> %s\n"
	    "grep SigBlk /proc/self/status >> %s\n"
	    "echo hello from fake\n"
	    "printf 1 >&4\n"
	    "exec 4>&-\n"
	    "cat <&3 >/dev/null\n"
	    "echo bye\n",
	    args, args, args);
	write_script(exe, script);
	o.netns = "/run/fake-netns";
	o.api_socket = sock;
	o.mac = "02:00:00:00:00:01";
	o.log_path = log;
	o.exe = exe;
	fd_before =
	    open("/dev/null", O_RDONLY); /* not CLOEXEC: must not leak */
	assert_true(fd_before >= 0);
	{
		sigset_t block;
		sigemptyset(&block);
		sigaddset(&block, SIGTERM);
		sigprocmask(SIG_BLOCK, &block, NULL);
		assert_int_equal(cove_slirp_start(&o, &s, &err), 0);
		sigprocmask(SIG_UNBLOCK, &block, NULL);
	}
	close(fd_before);
	assert_true(s.pid > 0);
	assert_true(s.exit_fd >= 0);
	assert_true(fcntl(s.exit_fd, F_GETFD) & FD_CLOEXEC);
	/* running until the exit fd closes */
	assert_int_equal(kill(s.pid, 0), 0);
	cove_slirp_stop(&s, 5000);
	assert_int_equal(s.pid, 0);
	assert_int_equal(s.exit_fd, -1);
	text = read_text(args);
	assert_non_null(strstr(text, "--configure --mtu=65520 "
				     "--disable-host-loopback "
				     "--netns-type=path --exit-fd=3 "
				     "--ready-fd=4"));
	assert_non_null(strstr(text, "--macaddress=02:00:00:00:00:01"));
	assert_non_null(strstr(text, "--enable-seccomp /run/fake-netns tap0"));
	assert_null(strstr(text, "--enable-sandbox"));
	/* 0-2, the exit and ready fds, and ls's own directory fd: no more */
	assert_non_null(strstr(text, "\n0 1 2 3 4 5 SigBlk"));
	assert_non_null(strstr(text, "SigBlk:\t0000000000000000"));
	free(text);
	text = read_text(log);
	assert_string_equal(text, "hello from fake\nbye\n");
	/* a second stop is a no-op */
	cove_slirp_stop(&s, 100);
}

static void test_start_failure_quotes_output(void **state)
{
	_cleanup_free_ char *exe = cove_strdup_printf("%s/fake", tmp),
			    *log = cove_strdup_printf("%s/log", tmp),
			    *sock = cove_strdup_printf("%s/s.sock", tmp);
	struct cove_slirp_opts o = {0};
	struct cove_slirp s;
	struct cove_error err = {0};

	(void)state;
	write_script(exe, "echo 'open(\"/dev/net/tun\"): Permission denied' "
			  ">&2\necho 'child failed(1)' >&2\nexit 1\n");
	o.netns = "/run/fake-netns";
	o.api_socket = sock;
	o.log_path = log;
	o.exe = exe;
	assert_int_equal(cove_slirp_start(&o, &s, &err), -EIO);
	assert_int_equal(s.pid, 0);
	assert_int_equal(s.exit_fd, -1);
	assert_non_null(strstr(err.msg, "Permission denied;child failed(1)"));
	/* reaped: no child left */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void test_start_timeout_kills(void **state)
{
	_cleanup_free_ char *exe = cove_strdup_printf("%s/fake", tmp),
			    *sock = cove_strdup_printf("%s/s.sock", tmp);
	struct cove_slirp_opts o = {0};
	struct cove_slirp s;
	struct cove_error err = {0};

	(void)state;
	write_script(exe, "exec sleep 100\n");
	o.netns = "/run/fake-netns";
	o.api_socket = sock;
	o.exe = exe;
	o.ready_timeout_ms = 200;
	assert_int_equal(cove_slirp_start(&o, &s, &err), -ETIMEDOUT);
	assert_non_null(strstr(err.msg, "not ready after 200 ms"));
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void test_start_missing_exe(void **state)
{
	struct cove_slirp_opts o = {0};
	struct cove_slirp s;
	struct cove_error err = {0};
	_cleanup_free_ char *sock = cove_strdup_printf("%s/s.sock", tmp),
			    *exe = cove_strdup_printf("%s/nonexistent", tmp);

	(void)state;
	o.netns = "/run/fake-netns";
	o.api_socket = sock;
	o.exe = exe;
	assert_int_equal(cove_slirp_start(&o, &s, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "slirp4netns was not found"));
	assert_int_equal(s.pid, 0);
	/* one that cannot be executed fails in the child, before "ready" */
	write_script(exe, "");
	assert_int_equal(chmod(exe, 0644), 0);
	assert_int_equal(cove_slirp_start(&o, &s, &err), -ENOENT);
	assert_int_equal(chmod(exe, 0755), 0);
	write_script(exe, "exit 0\n");
	assert_int_equal(cove_slirp_start(&o, &s, &err), -EIO);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hostfwd_request_and_return,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostfwd_errors, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_hostfwd_long_path, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_start_ready_and_stop, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_start_failure_quotes_output,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_start_timeout_kills, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_start_missing_exe, setup,
					    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
