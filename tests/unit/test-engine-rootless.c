/*
 * Unit tests for src/engine/rootless.c: the /etc/subuid and /etc/subgid
 * parser (a user's lines found by name and by uid, everyone else's left
 * unread, hostile lines refused naming the file and the line), the id maps
 * built from the ranges, and entering the namespace as an unprivileged
 * user without subordinate ids (the single mapping).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/rootless.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

#define FILE_NAME "/etc/subuid"

static int parse(const char *data, const char *user, uint32_t uid,
		 struct cove_subid_range **ret, size_t *ret_n,
		 struct cove_error *err)
{
	return cove_subid_parse(data, strlen(data), FILE_NAME, user, uid, ret,
				ret_n, err);
}

static void test_parse_by_name_and_uid(void **state)
{
	static const char data[] = "# comment\n"
				   "\n"
				   "bob:100000:65536\n"
				   "alice:165536:65536\n"
				   "1000:300000:10\n"
				   "carol:1:2:3:garbage for someone else\n"
				   "alice:400000:1";
	_cleanup_free_ struct cove_subid_range *v = NULL;
	struct cove_error err = {0};
	size_t n = 0;

	(void)state;
	assert_int_equal(parse(data, "alice", 1000, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].start, 165536);
	assert_int_equal(v[0].count, 65536);
	assert_int_equal(v[1].start, 300000); /* by uid */
	assert_int_equal(v[1].count, 10);
	assert_int_equal(v[2].start, 400000); /* no final newline */
	assert_int_equal(v[2].count, 1);
}

static void test_parse_none(void **state)
{
	_cleanup_free_ struct cove_subid_range *v = NULL;
	struct cove_error err = {0};
	size_t n = 7;

	(void)state;
	assert_int_equal(
	    parse("bob:100000:65536\n", "alice", 1000, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	assert_int_equal(parse("", "alice", 1000, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	/* a prefix of the name is not the name */
	assert_int_equal(parse("alic:100000:65536\nalicex:1:1\n", "alice", 1000,
			       &v, &n, &err),
			 0);
	assert_int_equal(n, 0);
	/* without a passwd entry only the uid matches */
	assert_int_equal(
	    parse("alice:100000:65536\n", NULL, 1000, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(parse("1000:100000:65536\n", NULL, 1000, &v, &n, &err),
			 0);
	assert_int_equal(n, 1);
}

static void expect_refused(const char *data, int code, const char *line,
			   const char *what)
{
	_cleanup_free_ struct cove_subid_range *v = NULL;
	struct cove_error err = {0};
	size_t n = 0;
	int r = cove_subid_parse(data, sizeof(data[0]) * strlen(data),
				 FILE_NAME, "alice", 1000, &v, &n, &err);

	if (r >= 0)
		fail_msg("accepted: '%s'", data);
	assert_int_equal(r, -code);
	assert_int_equal(err.code, code);
	if (!strstr(err.msg, FILE_NAME) || !strstr(err.msg, line) ||
	    !strstr(err.msg, what))
		fail_msg("'%s': message '%s' lacks '%s', '%s' or '%s'", data,
			 err.msg, FILE_NAME, line, what);
	assert_null(v);
}

static void test_parse_hostile(void **state)
{
	(void)state;
	expect_refused("alice\n", EINVAL, "line 1", "NAME:START:COUNT");
	expect_refused("bob:1:1\nalice:100000\n", EINVAL, "line 2",
		       "NAME:START:COUNT");
	expect_refused("alice:100000:65536:1\n", EINVAL, "line 1", "decimal");
	expect_refused("alice:1x0000:65536\n", EINVAL, "line 1", "decimal");
	expect_refused("alice:+100000:65536\n", EINVAL, "line 1", "decimal");
	expect_refused("alice:-1:65536\n", EINVAL, "line 1", "decimal");
	expect_refused("alice: 100000:65536\n", EINVAL, "line 1", "decimal");
	expect_refused("alice:100000:65536 \n", EINVAL, "line 1", "decimal");
	expect_refused("alice:100000:65536\r\n", EINVAL, "line 1", "decimal");
	expect_refused("alice:100000:\n", EINVAL, "line 1", "decimal");
	expect_refused("alice::65536\n", EINVAL, "line 1", "decimal");
	expect_refused("alice:00000000100000:65536\n", EINVAL, "line 1",
		       "decimal");
	expect_refused("alice:4294967296:1\n", EINVAL, "line 1", "decimal");
	expect_refused("alice:100000:0\n", EINVAL, "line 1", "COUNT is 0");
	expect_refused("alice:0:65536\n", EINVAL, "line 1", "host id 0");
	expect_refused("alice:4294967295:1\n", EINVAL, "line 1", "largest id");
	expect_refused("alice:4294900000:67296\n", EINVAL, "line 1",
		       "largest id");
	expect_refused("alice:100000:65536\n#\nalice:165535:10\n", EINVAL,
		       "line 3", "overlaps");
	expect_refused("alice:100000:65536\nalice:100000:65536\n", EINVAL,
		       "line 2", "overlaps");
	expect_refused("1000:100000:1x\n", EINVAL, "line 1", "decimal");
}

static void test_parse_nul_byte(void **state)
{
	static const char bad[] = "alice:100\0000:65536\n";
	static const char others[] = "b\0b:1:1\nalice:100000:65536\n";
	_cleanup_free_ struct cove_subid_range *v = NULL;
	struct cove_error err = {0};
	size_t n = 0;

	(void)state;
	assert_int_equal(cove_subid_parse(bad, sizeof(bad) - 1, FILE_NAME,
					  "alice", 1000, &v, &n, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "line 1"));
	/* another user's NUL is not our business */
	assert_int_equal(cove_subid_parse(others, sizeof(others) - 1, FILE_NAME,
					  "alice", 1000, &v, &n, &err),
			 0);
	assert_int_equal(n, 1);
}

static void test_parse_too_many(void **state)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_free_ struct cove_subid_range *v = NULL;
	struct cove_error err = {0};
	size_t len = 0, n = 0;

	(void)state;
	data = calloc(COVE_SUBID_MAX_RANGES + 1, 64);
	assert_non_null(data);
	for (int i = 0; i <= COVE_SUBID_MAX_RANGES; i++)
		len += (size_t)snprintf(data + len, 64, "alice:%d:10\n",
					100000 + 100 * i);
	assert_int_equal(
	    cove_subid_parse(data, len, FILE_NAME, "alice", 1000, &v, &n, &err),
	    -E2BIG);
	assert_non_null(strstr(err.msg, "line 33"));
	assert_null(v);
}

static void test_read_file(void **state)
{
	char dir[] = "/tmp/cove-test-rootless-XXXXXX";
	_cleanup_free_ char *path = NULL, *missing = NULL;
	_cleanup_free_ struct cove_subid_range *v = NULL;
	struct cove_error err = {0};
	size_t n = 5;
	static const char data[] = "alice:200000:1000\n";

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = cove_strdup_printf("%s/subuid", dir);
	missing = cove_strdup_printf("%s/none", dir);
	assert_int_equal(
	    cove_write_file_atomic_at(AT_FDCWD, path, data, strlen(data), 0644),
	    0);
	assert_int_equal(cove_subid_read(missing, "alice", 1000, &v, &n, &err),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(cove_subid_read(path, "alice", 1000, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].start, 200000);
	free(v);
	v = NULL;
	/* a hostile file names the path it was read from */
	assert_int_equal(
	    cove_write_file_atomic_at(AT_FDCWD, path, "alice:0:1", 9, 0644), 0);
	assert_int_equal(cove_subid_read(path, "alice", 1000, &v, &n, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, path));
	cove_rm_rf(dir);
}

static void test_maps(void **state)
{
	static const struct cove_subid_range su[] = {{100000, 65536},
						     {300000, 10}};
	static const struct cove_subid_range sg[] = {{200000, 1000}};
	struct cove_rootless_maps m;
	struct cove_error err = {0};

	(void)state;
	assert_int_equal(
	    cove_rootless_maps_build(1000, 1001, su, 2, sg, 1, &m, &err), 0);
	assert_false(m.single_id);
	assert_int_equal(m.uid_map_len, 3);
	assert_int_equal(m.uid_map[0].container_id, 0);
	assert_int_equal(m.uid_map[0].host_id, 1000);
	assert_int_equal(m.uid_map[0].size, 1);
	assert_int_equal(m.uid_map[1].container_id, 1);
	assert_int_equal(m.uid_map[1].host_id, 100000);
	assert_int_equal(m.uid_map[1].size, 65536);
	assert_int_equal(m.uid_map[2].container_id, 65537);
	assert_int_equal(m.uid_map[2].host_id, 300000);
	assert_int_equal(m.uid_map[2].size, 10);
	assert_int_equal(m.n_uids, 65547);
	assert_int_equal(m.gid_map_len, 2);
	assert_int_equal(m.gid_map[0].host_id, 1001);
	assert_int_equal(m.gid_map[1].container_id, 1);
	assert_int_equal(m.gid_map[1].host_id, 200000);
	assert_int_equal(m.n_gids, 1001);

	/* no subordinate gids: one id, and the reason names the file */
	assert_int_equal(
	    cove_rootless_maps_build(1000, 1001, su, 2, NULL, 0, &m, &err), 0);
	assert_true(m.single_id);
	assert_int_equal(m.uid_map_len, 1);
	assert_int_equal(m.gid_map_len, 1);
	assert_int_equal(m.uid_map[0].host_id, 1000);
	assert_int_equal(m.gid_map[0].host_id, 1001);
	assert_int_equal(m.n_uids, 1);
	assert_non_null(strstr(m.single_reason, "/etc/subgid"));
}

static void test_maps_refused(void **state)
{
	static const struct cove_subid_range own[] = {{999, 10}};
	/* (only overlapping ranges, which the parser refuses, add up so) */
	static const struct cove_subid_range big[] = {{1, 4000000000u},
						      {1, 4000000000u}};
	static const struct cove_subid_range ok[] = {{100000, 65536}};
	struct cove_rootless_maps m;
	struct cove_error err = {0};

	(void)state;
	assert_int_equal(
	    cove_rootless_maps_build(1000, 1000, own, 1, ok, 1, &m, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "uid 1000"));
	assert_int_equal(
	    cove_rootless_maps_build(5, 5, big, 2, ok, 1, &m, &err), -EINVAL);
	assert_int_equal(
	    cove_rootless_maps_build(4000000005u, 5, big, 2, ok, 1, &m, &err),
	    -E2BIG);
}

static void test_enter_as_root_is_noop(void **state)
{
	struct cove_error err = {0};

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(cove_rootless_enter(&err), 0);
	assert_false(cove_rootless_active());
	assert_null(cove_rootless_maps());
}

static bool userns_possible(void)
{
	_cleanup_free_ char *v = NULL;

	if (cove_read_file("/proc/sys/kernel/unprivileged_userns_clone", 64, &v,
			   NULL) == 0 &&
	    v[0] == '0')
		return false;
	free(v);
	v = NULL;
	return !(cove_read_file("/proc/sys/user/max_user_namespaces", 64, &v,
				NULL) == 0 &&
		 v[0] == '0');
}

/*
 * nobody (65534) has no range in /etc/subuid here: the single mapping,
 * written by the process itself.  Checked in a child, which then is root
 * of its namespace, with a mount namespace of its own.
 */
static int enter_child(int fd)
{
	struct cove_error err = {0};
	const struct cove_rootless_maps *m;
	_cleanup_free_ char *map = NULL;
	char self[64], parent[64];
	ssize_t n;

	if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
	    setresuid(65534, 65534, 65534) < 0)
		return 10;
	/* as after an exec: /proc/self is ours again */
	if (prctl(PR_SET_DUMPABLE, 1) < 0)
		return 10;
	n = readlink("/proc/self/ns/mnt", parent, sizeof(parent) - 1);
	if (n < 0)
		return 11;
	parent[n] = '\0';
	if (cove_rootless_enter(&err) < 0) {
		dprintf(fd, "%s", err.msg);
		return 12;
	}
	m = cove_rootless_maps();
	if (!cove_rootless_active() || !m || getuid() != 0 || getgid() != 0 ||
	    geteuid() != 0)
		return 13;
	if (!m->single_id || m->uid_map_len != 1 ||
	    m->uid_map[0].host_id != 65534 || m->gid_map[0].host_id != 65534)
		return 14;
	if (cove_read_file("/proc/self/uid_map", 4096, &map, NULL) < 0 ||
	    !strstr(map, "65534") || strchr(map, '\n') != strrchr(map, '\n'))
		return 15;
	n = readlink("/proc/self/ns/mnt", self, sizeof(self) - 1);
	if (n < 0)
		return 16;
	self[n] = '\0';
	if (!strcmp(self, parent))
		return 17;
	/* entering again is a no-op */
	if (cove_rootless_enter(&err) < 0)
		return 18;
	return 0;
}

static void test_enter_single_mapping(void **state)
{
	_cleanup_free_ struct cove_subid_range *v = NULL;
	struct cove_error err = {0};
	char msg[1024] = "";
	int p[2], status;
	size_t n = 0;
	ssize_t len;
	pid_t pid;

	(void)state;
	if (geteuid() != 0 || !userns_possible())
		skip();
	/* only meaningful if nobody really has no range here */
	if (cove_subid_read("/etc/subuid", "nobody", 65534, &v, &n, &err) < 0 ||
	    n > 0)
		skip();
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		_exit(enter_child(p[1]));
	}
	close(p[1]);
	len = read(p[0], msg, sizeof(msg) - 1);
	msg[len > 0 ? len : 0] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child failed: status %d %s", status, msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_by_name_and_uid),
	    cmocka_unit_test(test_parse_none),
	    cmocka_unit_test(test_parse_hostile),
	    cmocka_unit_test(test_parse_nul_byte),
	    cmocka_unit_test(test_parse_too_many),
	    cmocka_unit_test(test_read_file),
	    cmocka_unit_test(test_maps),
	    cmocka_unit_test(test_maps_refused),
	    cmocka_unit_test(test_enter_as_root_is_noop),
	    cmocka_unit_test(test_enter_single_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
