/*
 * The cgroup v1 (or hybrid) backend against the host's real hierarchies:
 * a scratch cgroup /cove-test/unit-<pid>/c1, with limits, a sleeping
 * child moved in, freeze/thaw, stats, and removal in every hierarchy.
 * Skipped (with the reason printed) when not root or not on v1/hybrid.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/cgroup-internal.h"
#include "runtime/cgroup.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

static enum cove_cgroup_mode g_mode;
static char g_base[64]; /* "/cove-test/unit-<pid>" */
static pid_t g_children[4];

static pid_t sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		for (;;)
			pause();
	}
	for (size_t i = 0; i < ARRAY_SIZE(g_children); i++) {
		if (!g_children[i]) {
			g_children[i] = pid;
			break;
		}
	}
	return pid;
}

static void reap_killed(pid_t pid)
{
	int status = 0;

	for (size_t i = 0; i < ARRAY_SIZE(g_children); i++)
		if (g_children[i] == pid)
			g_children[i] = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

static char *read_file(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static char *read_file(const char *fmt, ...)
{
	char p[PATH_MAX];
	char *buf = NULL;
	size_t len = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	if (cove_read_file(p, 1 << 20, &buf, &len) < 0)
		return NULL;
	while (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	return buf;
}

static void assert_content(const char *want, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void assert_content(const char *want, const char *fmt, ...)
{
	char p[PATH_MAX];
	_cleanup_free_ char *got = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	got = read_file("%s", p);
	if (!got || strcmp(got, want))
		fail_msg("%s is '%s', expected '%s'", p, got ? got : "(none)",
			 want);
}

/* Every hierarchy mounted below /sys/fs/cgroup (v1 and the unified). */
static void for_each_hierarchy(void (*fn)(const char *mnt))
{
	_cleanup_closedir_ DIR *d = opendir(COVE_CGROUP_DEFAULT_ROOT);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char p[PATH_MAX];
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", COVE_CGROUP_DEFAULT_ROOT,
			 de->d_name);
		if (lstat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		fn(p);
	}
}

static void assert_gone(const char *mnt)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s%s", mnt, g_base);
	if (access(p, F_OK) == 0)
		fail_msg("%s still exists", p);
}

static void assert_present(const char *mnt)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s%s/c1", mnt, g_base);
	if (access(p, F_OK) < 0)
		fail_msg("%s was not created", p);
}

static int setup(void **state)
{
	snprintf(g_base, sizeof(g_base), "/cove-test/unit-%d", (int)getpid());
	return 0;
}

/* Leave nothing behind, even when a test failed half way. */
static int teardown(void **state)
{
	struct cove_cgroup *cg = NULL;
	char p[128];

	for (size_t i = 0; i < ARRAY_SIZE(g_children); i++) {
		if (g_children[i]) {
			kill(g_children[i], SIGKILL);
			waitpid(g_children[i], NULL, 0);
			g_children[i] = 0;
		}
	}
	for (int i = 1; i <= 3; i++) {
		snprintf(p, sizeof(p), i == 3 ? "%s/admin/c%d" : "%s/c%d",
			 g_base, i);
		if (cove_cgroup_open(NULL, g_mode, p, &cg, NULL) == 0) {
			cove_cgroup_destroy(cg, NULL);
			cove_cgroup_free(cg);
			cg = NULL;
		}
	}
	/* the parent test_live_parent_in_one_hierarchy made itself */
	snprintf(p, sizeof(p), "/sys/fs/cgroup/memory%s/admin", g_base);
	rmdir(p);
	snprintf(p, sizeof(p), "/sys/fs/cgroup/memory%s", g_base);
	rmdir(p);
	return 0;
}

static bool usable(void)
{
	if (geteuid() != 0) {
		printf("skipped: needs root\n");
		return false;
	}
	if (cove_cgroup_detect(NULL, &g_mode) < 0 ||
	    (g_mode != COVE_CGROUP_V1 && g_mode != COVE_CGROUP_HYBRID)) {
		printf("skipped: %s is not a cgroup v1 or hybrid layout\n",
		       COVE_CGROUP_DEFAULT_ROOT);
		return false;
	}
	return true;
}

static json_t *member(json_t *o, const char *a, const char *b)
{
	json_t *x = json_object_get(o, a);

	return b ? json_object_get(x, b) : x;
}

static void test_live_v1(void **state)
{
	_cleanup_json_ json_t *doc = NULL;
	_cleanup_json_ json_t *stats = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	_cleanup_free_ char *self = NULL;
	struct cove_cgroup_resources res;
	struct cove_error err = {0};
	struct cove_cgroup *cg = NULL, *again = NULL;
	char path[128], buf[160];
	bool frozen = false;
	uint64_t ooms = 1;
	size_t n = 0;
	pid_t child;
	int fd = -1;

	if (!usable())
		skip();
	snprintf(path, sizeof(path), "%s/c1", g_base);
	doc = json_loads("{\"memory\": {\"limit\": 67108864},"
			 " \"pids\": {\"limit\": 50},"
			 " \"cpu\": {\"shares\": 512}}",
			 0, NULL);
	assert_non_null(doc);
	assert_int_equal(
	    cove_cgroup_resources_parse(doc, "linux.resources", &res, &err), 0);
	if (cove_cgroup_create(NULL, g_mode, path, 0, &res, 0, &cg, &err) < 0)
		fail_msg("create: %s", err.msg);
	cove_cgroup_resources_release(&res);
	for_each_hierarchy(assert_present);

	assert_content("67108864",
		       "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", path);
	assert_content("50", "/sys/fs/cgroup/pids%s/pids.max", path);
	assert_content("512", "/sys/fs/cgroup/cpu%s/cpu.shares", path);

	child = sleeper();
	if (cove_cgroup_enter(cg, child, &err) < 0)
		fail_msg("enter: %s", err.msg);
	self = read_file("/proc/%d/cgroup", (int)child);
	assert_non_null(self);
	snprintf(buf, sizeof(buf), "memory:%s\n", path);
	assert_non_null(strstr(self, buf));
	if (g_mode == COVE_CGROUP_HYBRID) {
		/* also placed in the unified hierarchy */
		const char *u;
		snprintf(buf, sizeof(buf), "0::%s", path);
		u = strstr(self, buf);
		assert_non_null(u);
		assert_true(u[strlen(buf)] == '\n' || !u[strlen(buf)]);
	}

	assert_int_equal(cove_cgroup_pids(cg, &pids, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], child);

	/* a second handle on the same cgroup sees the same */
	assert_int_equal(cove_cgroup_open(NULL, g_mode, path, &again, &err), 0);
	free(pids);
	pids = NULL;
	assert_int_equal(cove_cgroup_pids(again, &pids, &n, &err), 0);
	assert_int_equal(n, 1);
	cove_cgroup_free(again);

	if (cove_cgroup_freeze(cg, true, &err) < 0)
		fail_msg("freeze: %s", err.msg);
	assert_int_equal(cove_cgroup_is_frozen(cg, &frozen), 0);
	assert_true(frozen);
	assert_content("FROZEN", "/sys/fs/cgroup/freezer%s/freezer.state",
		       path);
	if (cove_cgroup_freeze(cg, false, &err) < 0)
		fail_msg("thaw: %s", err.msg);
	assert_int_equal(cove_cgroup_is_frozen(cg, &frozen), 0);
	assert_false(frozen);

	if (cove_cgroup_stats(cg, &stats, &err) < 0)
		fail_msg("stats: %s", err.msg);
	assert_non_null(
	    member(member(stats, "memory", "usage"), "usage", NULL));
	assert_int_equal(json_integer_value(member(
			     member(stats, "memory", "usage"), "limit", NULL)),
			 67108864);
	assert_int_equal(json_integer_value(member(stats, "pids", "current")),
			 1);
	assert_int_equal(json_integer_value(member(stats, "pids", "limit")),
			 50);
	assert_non_null(member(member(stats, "cpu", "usage"), "total", NULL));
	assert_non_null(member(stats, "memory", "raw"));

	if (cove_cgroup_oom_fd(cg, &fd, &err) < 0)
		fail_msg("oom fd: %s", err.msg);
	{
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		assert_int_equal(poll(&pfd, 1, 0), 0); /* no OOM yet */
	}
	close(fd);
	assert_int_equal(cove_cgroup_oom_count(cg, &ooms), 0);
	assert_int_equal(ooms, 0);

	if (cove_cgroup_destroy(cg, &err) < 0)
		fail_msg("destroy: %s", err.msg);
	cove_cgroup_free(cg);
	reap_killed(child);
	for_each_hierarchy(assert_gone);
}

/*
 * Destroy thaws a frozen cgroup before killing what is inside, sub-cgroups
 * included.
 */
static void test_live_destroy_frozen(void **state)
{
	struct cove_error err = {0};
	struct cove_cgroup *cg = NULL;
	char path[128], p[PATH_MAX], buf[32];
	pid_t *pids = NULL;
	size_t n = 0;
	pid_t child, inner;

	if (!usable())
		skip();
	snprintf(path, sizeof(path), "%s/c2", g_base);
	child = sleeper();
	if (cove_cgroup_create(NULL, g_mode, path, child, NULL, 0, &cg, &err) <
	    0)
		fail_msg("create: %s", err.msg);
	/* a cgroup the container made for itself, with a process in it */
	inner = sleeper();
	snprintf(p, sizeof(p), "/sys/fs/cgroup/pids%s/inner", path);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(buf, sizeof(buf), "%d", (int)inner);
	assert_int_equal(cove_cg_write(p, "cgroup.procs", buf, NULL), 0);
	assert_int_equal(cove_cgroup_pids(cg, &pids, &n, &err), 0);
	assert_int_equal(n, 2);
	free(pids);

	if (cove_cgroup_freeze(cg, true, &err) < 0)
		fail_msg("freeze: %s", err.msg);
	if (cove_cgroup_destroy(cg, &err) < 0)
		fail_msg("destroy: %s", err.msg);
	cove_cgroup_free(cg);
	reap_killed(child);
	reap_killed(inner);
	for_each_hierarchy(assert_gone);
}

static void assert_gone_but_memory(const char *mnt)
{
	if (strcmp(mnt, "/sys/fs/cgroup/memory"))
		assert_gone(mnt);
}

/*
 * A parent that already exists in the memory hierarchy only, with a limit
 * of its own: cove creates it in every other hierarchy, and removing the
 * cgroup as `delete` does (open, hand back what create recorded, destroy)
 * removes those copies and keeps the memory one with its limit.
 */
static void test_live_parent_in_one_hierarchy(void **state)
{
	_cleanup_json_ json_t *map = NULL;
	struct cove_error err = {0};
	struct cove_cgroup *cg = NULL;
	char path[128], admin[PATH_MAX];

	if (!usable())
		skip();
	if (access("/sys/fs/cgroup/memory/cgroup.procs", F_OK) < 0)
		skip();
	snprintf(admin, sizeof(admin), "/sys/fs/cgroup/memory%s/admin", g_base);
	assert_int_equal(cove_mkdir_p(admin, 0755), 0);
	assert_int_equal(
	    cove_cg_write(admin, "memory.limit_in_bytes", "1073741824", NULL),
	    0);
	snprintf(path, sizeof(path), "%s/admin/c3", g_base);
	if (cove_cgroup_create(NULL, g_mode, path, 0, NULL, 0, &cg, &err) < 0)
		fail_msg("create: %s", err.msg);
	assert_int_equal(cove_cgroup_get_created_map(cg, &map), 0);
	cove_cgroup_free(cg);
	cg = NULL;

	assert_int_equal(cove_cgroup_open(NULL, g_mode, path, &cg, &err), 0);
	cove_cgroup_set_created_map(cg, map);
	if (cove_cgroup_destroy(cg, &err) < 0)
		fail_msg("destroy: %s", err.msg);
	cove_cgroup_free(cg);

	assert_int_equal(access(admin, F_OK), 0);
	assert_content("1073741824", "%s/memory.limit_in_bytes", admin);
	snprintf(path, sizeof(path), "%s/c3", admin);
	assert_true(access(path, F_OK) < 0);
	for_each_hierarchy(assert_gone_but_memory);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_live_v1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_live_destroy_frozen, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_live_parent_in_one_hierarchy,
					    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
