/*
 * Unit tests for src/engine/rootless.c: the /etc/subuid and /etc/subgid
 * parser (a user's lines found by name and by uid, everyone else's left
 * unread, hostile lines refused naming the file and the line), the id maps
 * built from the ranges, the pause process's pid file and the /proc files
 * read to check it, and entering the namespace as an unprivileged user
 * without subordinate ids (the single mapping): the first entry makes the
 * pause process, the next one joins its namespaces, and once it is killed
 * the one after makes a new one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
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
	assert_int_equal(cove_rootless_enter("/nonexistent/cove-runroot", &err),
			 0);
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

/* ---- pause.pid and /proc ------------------------------------------------- */

static void test_pause_id_parse(void **state)
{
	static const char *const bad[] = {
	    "",
	    "\n",
	    "123",
	    "123 ",
	    " 123 456",
	    "123  456",
	    "123\t456",
	    "123 456 789",
	    "123 456\n\n",
	    "123 456 ",
	    "0 456",
	    "-5 456",
	    "+5 456",
	    "2147483648 1",
	    "123 -1",
	    "123 18446744073709551616",
	    "12a 456",
	    "123 0x10",
	    "0123 456",
	    "123 0456",
	};
	struct cove_pause_id id = {0};
	char buf[64];
	int n;

	(void)state;
	assert_int_equal(cove_pause_id_parse("123 456\n", 8, &id), 0);
	assert_int_equal(id.pid, 123);
	assert_int_equal(id.start_time, 456);
	assert_int_equal(
	    cove_pause_id_parse("2147483647 18446744073709551615", 31, &id), 0);
	assert_int_equal(id.pid, 2147483647);
	assert_true(id.start_time == UINT64_MAX);
	/* the length counts, not a NUL */
	assert_int_equal(cove_pause_id_parse("77 8\n", 4, &id), 0);
	assert_int_equal(id.pid, 77);
	assert_int_equal(id.start_time, 8);
	assert_int_equal(cove_pause_id_parse("77 8\0 9", 7, &id), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		id = (struct cove_pause_id){.pid = 42, .start_time = 42};
		if (cove_pause_id_parse(bad[i], strlen(bad[i]), &id) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		/* untouched on failure */
		assert_int_equal(id.pid, 42);
	}
	/* what is written reads back */
	id = (struct cove_pause_id){.pid = 4242, .start_time = 987654321};
	n = cove_pause_id_format(&id, buf, sizeof(buf));
	assert_int_equal(n, 15);
	assert_string_equal(buf, "4242 987654321\n");
	id = (struct cove_pause_id){0};
	assert_int_equal(cove_pause_id_parse(buf, (size_t)n, &id), 0);
	assert_int_equal(id.pid, 4242);
	assert_int_equal(id.start_time, 987654321);
	assert_int_equal(cove_pause_id_format(&id, buf, 10), -ENAMETOOLONG);
}

static void test_proc_stat_parse(void **state)
{
	/* a name with spaces and parentheses, as a process may choose */
	static const char line[] =
	    "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 "
	    "0 1 0 777123 2211840 150 18446744073709551615 1 1 0 0 0 0 0 0 "
	    "0 0 0 0 17 3 0 0 0 0 0\n";
	static const char *const bad[] = {
	    "4242 a S 1",
	    "4242 (a S 1 2 3",
	    /* field 22 not a number */
	    "1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 x9 20",
	    /* an empty field */
	    "1 (x) S  2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
	    /* a leading zero */
	    "1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 019 20",
	};
	_cleanup_free_ char *self = NULL, *comm = NULL;
	char name[16];
	uint64_t start = 0;
	size_t len = 0;

	(void)state;
	assert_int_equal(cove_proc_stat_parse(line, strlen(line), name,
					      sizeof(name), &start),
			 0);
	assert_string_equal(name, "a) (b c");
	assert_true(start == 777123);
	/* the name is cut to fit */
	assert_int_equal(
	    cove_proc_stat_parse(line, strlen(line), name, 4, &start), 0);
	assert_string_equal(name, "a) ");
	/* ends at field 21; no name; no closing parenthesis; junk */
	assert_int_equal(
	    cove_proc_stat_parse(line, (size_t)(strstr(line, " 777123") - line),
				 name, sizeof(name), &start),
	    -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cove_proc_stat_parse(bad[i], strlen(bad[i]), name,
					 sizeof(name), &start) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	assert_string_equal(name, "a) "); /* untouched */
	/* our own: the name /proc/self/comm has */
	assert_int_equal(cove_read_file("/proc/self/stat", 4096, &self, &len),
			 0);
	assert_int_equal(cove_read_file("/proc/self/comm", 64, &comm, NULL), 0);
	comm[strcspn(comm, "\n")] = '\0';
	start = 0;
	assert_int_equal(
	    cove_proc_stat_parse(self, len, name, sizeof(name), &start), 0);
	assert_string_equal(name, comm);
	assert_true(start > 0);
}

static void test_proc_idmap_parse(void **state)
{
	static const char two[] = "         0       1000          1\n"
				  "         1     100000      65536\n";
	struct cove_idmap_range m[4];
	size_t n = 0;

	(void)state;
	assert_int_equal(cove_proc_idmap_parse(two, strlen(two), m, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(m[0].container_id, 0);
	assert_int_equal(m[0].host_id, 1000);
	assert_int_equal(m[0].size, 1);
	assert_int_equal(m[1].container_id, 1);
	assert_int_equal(m[1].host_id, 100000);
	assert_int_equal(m[1].size, 65536);
	/* the initial namespace's identity map */
	assert_int_equal(
	    cove_proc_idmap_parse("0 0 4294967295\n", 15, m, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_true(m[0].size == UINT32_MAX);
	assert_int_equal(cove_proc_idmap_parse("", 0, m, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cove_proc_idmap_parse(two, strlen(two), m, 1, &n),
			 -E2BIG);
	assert_int_equal(cove_proc_idmap_parse("0 1000\n", 7, m, 4, &n),
			 -EINVAL);
	assert_int_equal(cove_proc_idmap_parse("0 1000 1 2\n", 11, m, 4, &n),
			 -EINVAL);
	assert_int_equal(cove_proc_idmap_parse("0 1000 0\n", 9, m, 4, &n),
			 -EINVAL);
	assert_int_equal(
	    cove_proc_idmap_parse("1 0 4294967295\n", 15, m, 4, &n), -EINVAL);
	assert_int_equal(
	    cove_proc_idmap_parse("0 4294967296 1\n", 15, m, 4, &n), -EINVAL);
	assert_int_equal(cove_proc_idmap_parse("0 x 1\n", 6, m, 4, &n),
			 -EINVAL);
}

/* ---- entering ------------------------------------------------------------ */

static int ns_link(pid_t pid, const char *ns, char *buf, size_t size)
{
	char path[64];
	ssize_t n;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	n = readlink(path, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/*
 * nobody (65534) has no range in /etc/subuid here: the single mapping,
 * written by the process itself.  Checked in a child, which then is root
 * of its namespace, with a mount namespace of its own, shared with the
 * pause process.  It writes the links of its user and mount namespaces to
 * @fd ("USER MNT"), or on failure the message.
 */
static int enter_child(int fd, const char *runroot)
{
	struct cove_error err = {0};
	const struct cove_rootless_maps *m;
	_cleanup_free_ char *map = NULL, *cwd = NULL;
	char self[64], parent[64], user[64];

	if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
	    setresuid(65534, 65534, 65534) < 0)
		return 10;
	/* as after an exec: /proc/self is ours again */
	if (prctl(PR_SET_DUMPABLE, 1) < 0)
		return 10;
	/* the working directory survives joining (by path) */
	if (chdir(runroot) < 0)
		return 10;
	if (ns_link(0, "mnt", parent, sizeof(parent)) < 0)
		return 11;
	if (cove_rootless_enter(runroot, &err) < 0) {
		dprintf(fd, "%s", err.msg);
		return 12;
	}
	m = cove_rootless_maps();
	if (!cove_rootless_active() || !m || getuid() != 0 || getgid() != 0 ||
	    geteuid() != 0)
		return 13;
	if (!m->single_id || m->uid_map_len != 1 ||
	    m->uid_map[0].host_id != 65534 || m->gid_map[0].host_id != 65534 ||
	    m->n_uids != 1 || m->n_gids != 1 || !m->single_reason[0])
		return 14;
	if (cove_read_file("/proc/self/uid_map", 4096, &map, NULL) < 0 ||
	    !strstr(map, "65534") || strchr(map, '\n') != strrchr(map, '\n'))
		return 15;
	if (ns_link(0, "mnt", self, sizeof(self)) < 0 ||
	    ns_link(0, "user", user, sizeof(user)) < 0)
		return 16;
	if (!strcmp(self, parent))
		return 17;
	cwd = getcwd(NULL, 0);
	if (!cwd || strcmp(cwd, runroot))
		return 18;
	/* entering again is a no-op */
	if (cove_rootless_enter(runroot, &err) < 0)
		return 19;
	dprintf(fd, "%s %s", user, self);
	return 0;
}

/* Enter in a child as nobody; its namespaces' links in @user and @mnt. */
static void enter_as_nobody(const char *runroot, char *user, char *mnt)
{
	char msg[1024] = "";
	int p[2], status;
	ssize_t len;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		_exit(enter_child(p[1], runroot));
	}
	close(p[1]);
	len = cove_read_all(p[0], msg, sizeof(msg) - 1);
	msg[len > 0 ? len : 0] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child failed: status %d %s", status, msg);
	assert_int_equal(sscanf(msg, "%63s %63s", user, mnt), 2);
}

/* The pause process pause.pid names, checked to be alive and ours. */
static pid_t pause_pid(const char *runroot)
{
	_cleanup_free_ char *path = NULL, *data = NULL, *stat = NULL;
	struct cove_pause_id id;
	char comm[32];
	uint64_t start = 0;
	size_t len = 0;

	path = cove_strdup_printf("%s/pause.pid", runroot);
	assert_int_equal(cove_read_file(path, 128, &data, &len), 0);
	assert_int_equal(cove_pause_id_parse(data, len, &id), 0);
	free(path);
	path = cove_strdup_printf("/proc/%d/stat", (int)id.pid);
	assert_int_equal(cove_read_file(path, 4096, &stat, &len), 0);
	assert_int_equal(
	    cove_proc_stat_parse(stat, len, comm, sizeof(comm), &start), 0);
	assert_string_equal(comm, "cove-pause");
	assert_true(start == id.start_time);
	return id.pid;
}

/* Kill @pid (not our child: init reaps it) and wait until it is gone. */
static void kill_pause(pid_t pid, int sig)
{
	char path[64], comm[32];
	uint64_t start;

	assert_int_equal(kill(pid, sig), 0);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 500; i++) {
		_cleanup_free_ char *data = NULL;
		size_t len = 0;
		if (cove_read_file(path, 4096, &data, &len) < 0)
			return;
		/* a zombie: dead, waiting for init */
		if (cove_proc_stat_parse(data, len, comm, sizeof(comm),
					 &start) == 0 &&
		    strstr(data, ") Z "))
			return;
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	fail_msg("pause process %d still alive after signal %d", (int)pid, sig);
}

static void test_enter_single_mapping(void **state)
{
	_cleanup_free_ struct cove_subid_range *v = NULL;
	struct cove_error err = {0};
	char dir[] = "/tmp/cove-test-rootless-XXXXXX";
	char u1[64], m1[64], u2[64], m2[64], u3[64], m3[64], pu[64], pm[64];
	pid_t pause1, pause2;
	size_t n = 0;

	(void)state;
	if (geteuid() != 0 || !userns_possible())
		skip();
	/* only meaningful if nobody really has no range here */
	if (cove_subid_read("/etc/subuid", "nobody", 65534, &v, &n, &err) < 0 ||
	    n > 0)
		skip();
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chown(dir, 65534, 65534), 0);

	/* the first one makes the namespaces and the pause process */
	enter_as_nobody(dir, u1, m1);
	pause1 = pause_pid(dir);
	assert_int_equal(ns_link(pause1, "user", pu, sizeof(pu)), 0);
	assert_int_equal(ns_link(pause1, "mnt", pm, sizeof(pm)), 0);
	assert_string_equal(u1, pu);
	assert_string_equal(m1, pm);
	/* it ignores what would end a process */
	assert_int_equal(kill(pause1, SIGINT), 0);
	assert_int_equal(kill(pause1, SIGHUP), 0);
	assert_int_equal(kill(pause1, SIGUSR1), 0);

	/* the next one joins them */
	enter_as_nobody(dir, u2, m2);
	assert_int_equal(pause_pid(dir), pause1);
	assert_string_equal(u2, u1);
	assert_string_equal(m2, m1);

	/* SIGTERM ends it; the next one makes new namespaces */
	kill_pause(pause1, SIGTERM);
	enter_as_nobody(dir, u3, m3);
	pause2 = pause_pid(dir);
	assert_int_not_equal(pause2, pause1);
	assert_string_not_equal(u3, u1);
	assert_string_not_equal(m3, m1);
	kill_pause(pause2, SIGKILL);
	cove_rm_rf(dir);
}

/* Someone else's run root is refused before anything is read from it. */
static void test_enter_foreign_runroot(void **state)
{
	char dir[] = "/tmp/cove-test-rootless-XXXXXX";
	char msg[1024] = "";
	int p[2], status;
	ssize_t len;
	pid_t pid;

	(void)state;
	if (geteuid() != 0 || !userns_possible())
		skip();
	assert_non_null(mkdtemp(dir)); /* root's */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cove_error err = {0};
		close(p[0]);
		if (setgroups(0, NULL) < 0 ||
		    setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(10);
		if (cove_rootless_enter(dir, &err) != -EPERM)
			_exit(11);
		dprintf(p[1], "%s", err.msg);
		_exit(cove_rootless_active() ? 12 : 0);
	}
	close(p[1]);
	len = cove_read_all(p[0], msg, sizeof(msg) - 1);
	msg[len > 0 ? len : 0] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child failed: status %d %s", status, msg);
	assert_non_null(strstr(msg, dir));
	cove_rm_rf(dir);
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
	    cmocka_unit_test(test_pause_id_parse),
	    cmocka_unit_test(test_proc_stat_parse),
	    cmocka_unit_test(test_proc_idmap_parse),
	    cmocka_unit_test(test_enter_as_root_is_noop),
	    cmocka_unit_test(test_enter_single_mapping),
	    cmocka_unit_test(test_enter_foreign_runroot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
