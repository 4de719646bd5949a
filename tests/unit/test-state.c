/*
 * Unit tests for src/runtime/state.c: container ids, the state directory,
 * state.json round trips and the status derived from the live system.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

/* ---- fixtures ----------------------------------------------------------- */

static int setup_root(void **state)
{
	char *dir = strdup("/tmp/cove-test-state-XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int teardown_root(void **state)
{
	char *dir = *state;

	if (dir) {
		cove_rm_rf(dir);
		free(dir);
	}
	return 0;
}

static char *path_in(void **state, const char *name)
{
	char *p = cove_strdup_printf("%s/%s", (char *)*state, name);

	assert_non_null(p);
	return p;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* A child that exits at once, reaped: its pid is (almost surely) free. */
static pid_t dead_pid(void)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return pid;
}

/* ---- ids ---------------------------------------------------------------- */

static void test_id_validate(void **state)
{
	static const char *const good[] = {
	    "a",     "A",    "0",  "a.b_c-d+e", "abc123",
	    "1.2.3", "x..y", "a-", "a.",	"a+b",
	};
	static const char *const bad[] = {
	    "../x", ".",   "..",   "-a", "_a",
	    "+a",   ".a",  "a/b",  "/a", "a b",
	    "a\nb", "a:b", "a\\b", "a*", "\xc3\xa9t\xc3\xa9",
	};
	struct cove_error err = {0};
	char long_id[1026];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (cove_id_validate(good[i], &err) != 0)
			fail_msg("id '%s' refused: %s", good[i], err.msg);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		cove_error_clear(&err);
		if (cove_id_validate(bad[i], &err) != -EINVAL)
			fail_msg("id '%s' accepted", bad[i]);
		assert_int_equal(err.code, EINVAL);
		/* The message quotes the id. */
		assert_non_null(strstr(err.msg, "invalid container id '"));
		assert_non_null(strstr(err.msg, bad[i]));
	}

	assert_int_equal(cove_id_validate("", &err), -EINVAL);
	assert_string_equal(err.msg, "container id cannot be empty");
	assert_int_equal(cove_id_validate(NULL, &err), -EINVAL);

	memset(long_id, 'a', sizeof(long_id));
	long_id[1024] = '\0';
	assert_int_equal(cove_id_validate(long_id, &err), 0);
	long_id[1024] = 'a';
	long_id[1025] = '\0';
	assert_int_equal(cove_id_validate(long_id, &err), -EINVAL);
	assert_string_equal(err.msg, "container id too long");
	/* A NULL error object is allowed. */
	assert_int_equal(cove_id_validate("../x", NULL), -EINVAL);
}

static void test_status_names(void **state)
{
	assert_string_equal(cove_status_name(COVE_STATUS_CREATING), "creating");
	assert_string_equal(cove_status_name(COVE_STATUS_CREATED), "created");
	assert_string_equal(cove_status_name(COVE_STATUS_RUNNING), "running");
	assert_string_equal(cove_status_name(COVE_STATUS_PAUSED), "paused");
	assert_string_equal(cove_status_name(COVE_STATUS_STOPPED), "stopped");
	assert_string_equal(cove_status_name((enum cove_status)99), "unknown");
}

static void test_default_root(void **state)
{
	_cleanup_free_ char *root = cove_default_root();

	assert_non_null(root);
	if (geteuid() == 0)
		assert_string_equal(root, "/run/cove");
	else
		assert_non_null(strstr(root, "cove"));
}

static void test_rfc3339_now(void **state)
{
	_cleanup_free_ char *now = cove_rfc3339_now();

	/* 2024-01-02T03:04:05.123456789Z */
	assert_non_null(now);
	assert_int_equal(strlen(now), 30);
	assert_int_equal(now[4], '-');
	assert_int_equal(now[7], '-');
	assert_int_equal(now[10], 'T');
	assert_int_equal(now[13], ':');
	assert_int_equal(now[16], ':');
	assert_int_equal(now[19], '.');
	assert_int_equal(now[29], 'Z');
	for (int i = 20; i < 29; i++)
		assert_true(now[i] >= '0' && now[i] <= '9');
}

/* ---- reserve ------------------------------------------------------------ */

static void test_reserve(void **state)
{
	_cleanup_free_ char *root = path_in(state, "nested/root");
	_cleanup_free_ char *want = path_in(state, "nested/root/c1");
	_cleanup_free_ char *dir = NULL;
	struct cove_error err = {0};
	char *again = NULL;
	struct stat st;

	/* The runtime root is created, with its parents, on first use. */
	assert_int_equal(cove_state_reserve(root, "c1", &dir, &err), 0);
	assert_string_equal(dir, want);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));

	assert_int_equal(cove_state_reserve(root, "c1", &again, &err), -EEXIST);
	assert_null(again);
	assert_int_equal(err.code, EEXIST);
	assert_string_equal(err.msg, "container 'c1' already exists");

	/* Ids are checked before anything is created. */
	assert_int_equal(cove_state_reserve(root, "../escape", &again, &err),
			 -EINVAL);
	assert_null(again);
	{
		_cleanup_free_ char *esc = path_in(state, "nested/escape");
		assert_false(exists(esc));
	}
	assert_int_equal(cove_state_reserve(root, "", &again, &err), -EINVAL);

	/* A root that cannot be created is named in the error. */
	{
		_cleanup_free_ char *file = path_in(state, "file");
		_cleanup_free_ char *bad_root = path_in(state, "file/root");
		_cleanup_close_ int fd =
		    open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(
		    cove_state_reserve(bad_root, "c1", &again, &err), -ENOTDIR);
		assert_non_null(strstr(err.msg, bad_root));
	}
}

/* ---- save / load -------------------------------------------------------- */

static struct cove_state *new_state(void **state, const char *id)
{
	struct cove_state *s = calloc(1, sizeof(*s));
	struct cove_error err = {0};

	assert_non_null(s);
	s->id = strdup(id);
	assert_int_equal(cove_state_reserve(*state, id, &s->dir, &err), 0);
	s->pid = getpid();
	s->pid_start_time = cove_proc_start_time(getpid());
	s->bundle = strdup("/srv/bundles/b1");
	s->rootfs = strdup("/srv/bundles/b1/rootfs");
	s->created = cove_rfc3339_now();
	s->owner = 1234;
	s->cgroup_path = NULL; /* no cgroup: the freezer is not consulted */
	s->cgroup_mode = COVE_CGROUP_NONE;
	s->cgroup_created = 2;
	s->cgroup_created_map = json_pack("{s:i, s:i}", "/sys/fs/cgroup/memory",
					  1, "/sys/fs/cgroup/pids", 2);
	assert_non_null(s->cgroup_created_map);
	s->rootless = true;
	s->terminal = true;
	s->systemd_cgroup = false;
	s->annotations = json_pack("{s:s, s:s}", "org.example.a", "1",
				   "org.example.b", "two");
	s->config = json_pack("{s:s, s:{s:[s]}}", "ociVersion", "1.2.0",
			      "process", "args", "sh");
	assert_non_null(s->annotations);
	assert_non_null(s->config);
	return s;
}

static void test_save_load(void **state)
{
	_cleanup_state_ struct cove_state *s = new_state(state, "ctr1");
	_cleanup_state_ struct cove_state *l = NULL;
	_cleanup_free_ char *file = path_in(state, "ctr1/state.json");
	struct cove_error err = {0};
	struct stat st;

	assert_true(s->pid_start_time > 0);
	assert_int_equal(cove_state_save(s, &err), 0);
	assert_int_equal(stat(file, &st), 0);
	/* state.json is private to root. */
	assert_int_equal(st.st_mode & 0077, 0);

	assert_int_equal(cove_state_load(*state, "ctr1", &l, &err), 0);
	assert_string_equal(l->id, "ctr1");
	assert_string_equal(l->dir, s->dir);
	assert_int_equal(l->pid, getpid());
	assert_true(l->pid_start_time == s->pid_start_time);
	assert_string_equal(l->bundle, s->bundle);
	assert_string_equal(l->rootfs, s->rootfs);
	assert_string_equal(l->created, s->created);
	assert_int_equal(l->owner, 1234);
	assert_null(l->cgroup_path);
	assert_int_equal(l->cgroup_mode, COVE_CGROUP_NONE);
	assert_int_equal(l->cgroup_created, 2);
	assert_true(json_equal(l->cgroup_created_map, s->cgroup_created_map));
	assert_true(l->rootless);
	assert_true(l->terminal);
	assert_false(l->systemd_cgroup);
	assert_true(json_equal(l->annotations, s->annotations));
	assert_true(json_equal(l->config, s->config));
	/* This process is alive and started when recorded: running. */
	assert_int_equal(l->status, COVE_STATUS_RUNNING);

	/* Saving again replaces the file: no temporary is left behind. */
	s->cgroup_path = strdup("/cove-test/x");
	s->cgroup_mode = COVE_CGROUP_V2;
	assert_int_equal(cove_state_save(s, &err), 0);
	{
		_cleanup_strv_ char **names = NULL;
		_cleanup_closedir_ DIR *d = opendir(s->dir);
		struct dirent *de;
		assert_non_null(d);
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				assert_int_equal(
				    cove_strv_push(&names, de->d_name), 0);
		assert_int_equal(cove_strv_length(names), 1);
		assert_string_equal(names[0], "state.json");
	}
}

static void test_status_derived(void **state)
{
	_cleanup_state_ struct cove_state *s = new_state(state, "ctr2");
	_cleanup_free_ char *fifo = path_in(state, "ctr2/exec.fifo");
	struct cove_error err = {0};
	struct cove_state *l = NULL;

	assert_int_equal(cove_state_save(s, &err), 0);
	assert_int_equal(cove_state_load(*state, "ctr2", &l, &err), 0);
	assert_int_equal(l->status, COVE_STATUS_RUNNING);

	/* exec.fifo present: created, waiting for `start`. */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	cove_state_refresh(l);
	assert_int_equal(l->status, COVE_STATUS_CREATED);
	cove_state_free(l);
	l = NULL;
	assert_int_equal(cove_state_load(*state, "ctr2", &l, &err), 0);
	assert_int_equal(l->status, COVE_STATUS_CREATED);
	cove_state_free(l);
	l = NULL;

	/* Same pid, other start time: the pid was reused, stopped. */
	s->pid_start_time += 1;
	assert_int_equal(cove_state_save(s, &err), 0);
	assert_int_equal(cove_state_load(*state, "ctr2", &l, &err), 0);
	assert_int_equal(l->status, COVE_STATUS_STOPPED);
	cove_state_free(l);
	l = NULL;

	/* A process that is gone: stopped, fifo or not. */
	s->pid = dead_pid();
	s->pid_start_time = 0;
	assert_int_equal(cove_state_save(s, &err), 0);
	assert_int_equal(cove_state_load(*state, "ctr2", &l, &err), 0);
	assert_int_equal(l->status, COVE_STATUS_STOPPED);
	cove_state_free(l);
	l = NULL;

	/* No pid recorded at all. */
	s->pid = 0;
	assert_int_equal(cove_state_save(s, &err), 0);
	assert_int_equal(cove_state_load(*state, "ctr2", &l, &err), 0);
	assert_int_equal(l->status, COVE_STATUS_STOPPED);
	cove_state_free(l);
}

static void test_load_errors(void **state)
{
	_cleanup_free_ char *dir = path_in(state, "broken");
	_cleanup_free_ char *file = path_in(state, "broken/state.json");
	_cleanup_free_ char *arr_dir = path_in(state, "array");
	_cleanup_free_ char *arr = path_in(state, "array/state.json");
	_cleanup_free_ char *empty_dir = path_in(state, "empty");
	struct cove_error err = {0};
	struct cove_state *l = NULL;

	assert_int_equal(cove_state_load(*state, "nope", &l, &err), -ENOENT);
	assert_int_equal(err.code, ENOENT);
	assert_string_equal(err.msg, "container 'nope' does not exist");
	assert_null(l);

	/* A reserved directory without state.json does not exist yet. */
	assert_int_equal(mkdir(empty_dir, 0711), 0);
	assert_int_equal(cove_state_load(*state, "empty", &l, &err), -ENOENT);

	assert_int_equal(cove_state_load(*state, "../etc", &l, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'../etc'"));

	assert_int_equal(mkdir(dir, 0711), 0);
	assert_int_equal(
	    cove_write_file_replace_at(AT_FDCWD, file, "{\"id\":", 6, 0600), 0);
	assert_int_equal(cove_state_load(*state, "broken", &l, &err), -EINVAL);
	assert_non_null(strstr(err.msg, file));
	assert_null(l);

	assert_int_equal(mkdir(arr_dir, 0711), 0);
	assert_int_equal(
	    cove_write_file_replace_at(AT_FDCWD, arr, "[1]", 3, 0600), 0);
	assert_int_equal(cove_state_load(*state, "array", &l, &err), -EINVAL);
	assert_non_null(strstr(err.msg, arr));
	assert_null(l);

	/* A minimal file: missing strings become "", status stopped. */
	assert_int_equal(
	    cove_write_file_replace_at(AT_FDCWD, arr, "{}", 2, 0600), 0);
	assert_int_equal(cove_state_load(*state, "array", &l, &err), 0);
	assert_string_equal(l->bundle, "");
	assert_string_equal(l->rootfs, "");
	assert_string_equal(l->created, "");
	assert_null(l->annotations);
	assert_null(l->config);
	assert_int_equal(l->status, COVE_STATUS_STOPPED);
	cove_state_free(l);
}

/*
 * The levels of the cgroup path cove created: states written before they
 * were kept per hierarchy hold one number, which must still be read; a
 * damaged per-hierarchy map is ignored (the one number applies).
 */
static void test_load_cgroup_created(void **state)
{
	_cleanup_free_ char *dir = path_in(state, "old");
	_cleanup_free_ char *file = path_in(state, "old/state.json");
	struct cove_error err = {0};
	struct cove_state *l = NULL;
	static const char *const texts[] = {
	    "{\"cgroupPath\":\"/a/b\",\"cgroupCreated\":2}",
	    "{\"cgroupPath\":\"/a/b\",\"cgroupCreated\":2,"
	    "\"cgroupCreatedByHierarchy\":[1,2]}",
	    "{\"cgroupPath\":\"/a/b\",\"cgroupCreated\":2,"
	    "\"cgroupCreatedByHierarchy\":\"x\"}",
	};

	assert_int_equal(mkdir(dir, 0711), 0);
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		assert_int_equal(
		    cove_write_file_replace_at(AT_FDCWD, file, texts[i],
					       strlen(texts[i]), 0600),
		    0);
		assert_int_equal(cove_state_load(*state, "old", &l, &err), 0);
		assert_string_equal(l->cgroup_path, "/a/b");
		assert_int_equal(l->cgroup_created, 2);
		assert_null(l->cgroup_created_map);
		cove_state_free(l);
		l = NULL;
	}

	/* bad types or ranges of the number: nothing recorded as created */
	{
		static const char *const bad[] = {
		    "{\"cgroupCreated\":-1}",
		    "{\"cgroupCreated\":\"2\"}",
		    "{\"cgroupCreated\":99999999999}",
		};
		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			assert_int_equal(
			    cove_write_file_replace_at(AT_FDCWD, file, bad[i],
						       strlen(bad[i]), 0600),
			    0);
			assert_int_equal(
			    cove_state_load(*state, "old", &l, &err), 0);
			assert_int_equal(l->cgroup_created, 0);
			cove_state_free(l);
			l = NULL;
		}
	}

	/* the map is kept as it is: its values are checked where used */
	{
		static const char text[] =
		    "{\"cgroupCreated\":2,\"cgroupCreatedByHierarchy\":{"
		    "\"/sys/fs/cgroup/memory\":1,"
		    "\"/sys/fs/cgroup/pids\":\"x\"}}";
		assert_int_equal(cove_write_file_replace_at(
				     AT_FDCWD, file, text, strlen(text), 0600),
				 0);
		assert_int_equal(cove_state_load(*state, "old", &l, &err), 0);
		assert_true(json_is_object(l->cgroup_created_map));
		assert_int_equal(
		    json_integer_value(json_object_get(
			l->cgroup_created_map, "/sys/fs/cgroup/memory")),
		    1);
		cove_state_free(l);
	}
}

static void test_save_error(void **state)
{
	_cleanup_state_ struct cove_state *s = new_state(state, "ctr3");
	struct cove_error err = {0};

	assert_int_equal(cove_rm_rf(s->dir), 0);
	assert_int_equal(cove_state_save(s, &err), -ENOENT);
	assert_non_null(strstr(err.msg, s->dir));
}

static void test_to_json(void **state)
{
	_cleanup_state_ struct cove_state *s = new_state(state, "ctr4");
	_cleanup_json_ json_t *j = NULL;
	_cleanup_json_ json_t *stopped = NULL;

	s->status = COVE_STATUS_RUNNING;
	j = cove_state_to_json(s);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "ociVersion")),
			    "1.2.0");
	assert_string_equal(json_string_value(json_object_get(j, "id")),
			    "ctr4");
	assert_string_equal(json_string_value(json_object_get(j, "status")),
			    "running");
	assert_int_equal(json_integer_value(json_object_get(j, "pid")),
			 getpid());
	assert_string_equal(json_string_value(json_object_get(j, "bundle")),
			    "/srv/bundles/b1");
	assert_string_equal(json_string_value(json_object_get(j, "rootfs")),
			    "/srv/bundles/b1/rootfs");
	assert_string_equal(json_string_value(json_object_get(j, "created")),
			    s->created);
	assert_true(json_is_string(json_object_get(j, "owner")));
	assert_true(
	    json_equal(json_object_get(j, "annotations"), s->annotations));
	/* A copy, not the state's own object. */
	assert_ptr_not_equal(json_object_get(j, "annotations"), s->annotations);
	/* Internal fields stay out of the runtime-spec document. */
	assert_null(json_object_get(j, "config"));
	assert_null(json_object_get(j, "pidStartTime"));
	assert_null(json_object_get(j, "cgroupPath"));

	/* A stopped container has no pid; annotations default to {}. */
	s->status = COVE_STATUS_STOPPED;
	json_decref(s->annotations);
	s->annotations = NULL;
	stopped = cove_state_to_json(s);
	assert_string_equal(
	    json_string_value(json_object_get(stopped, "status")), "stopped");
	assert_int_equal(json_integer_value(json_object_get(stopped, "pid")),
			 0);
	assert_true(json_is_object(json_object_get(stopped, "annotations")));
	assert_int_equal(
	    json_object_size(json_object_get(stopped, "annotations")), 0);
}

static void test_list_and_remove(void **state)
{
	static const char *const with_state[] = {"b", "a", "c10", "c9"};
	_cleanup_free_ char *root = path_in(state, "list-root");
	_cleanup_free_ char *missing = path_in(state, "missing-root");
	_cleanup_strv_ char **ids = NULL;
	struct cove_error err = {0};

	assert_int_equal(mkdir(root, 0711), 0);
	for (size_t i = 0; i < ARRAY_SIZE(with_state); i++) {
		_cleanup_free_ char *d =
		    cove_strdup_printf("%s/%s", root, with_state[i]);
		_cleanup_free_ char *f = cove_strdup_printf("%s/state.json", d);
		assert_int_equal(mkdir(d, 0711), 0);
		assert_int_equal(
		    cove_write_file_replace_at(AT_FDCWD, f, "{}", 2, 0600), 0);
	}
	/* Skipped: no state.json (being created or half removed), hidden. */
	{
		_cleanup_free_ char *d = cove_strdup_printf("%s/nostate", root);
		_cleanup_free_ char *h = cove_strdup_printf("%s/.hidden", root);
		_cleanup_free_ char *hf =
		    cove_strdup_printf("%s/.hidden/state.json", root);
		_cleanup_free_ char *f = cove_strdup_printf("%s/stray", root);
		assert_int_equal(mkdir(d, 0711), 0);
		assert_int_equal(mkdir(h, 0711), 0);
		assert_int_equal(
		    cove_write_file_replace_at(AT_FDCWD, hf, "{}", 2, 0600), 0);
		assert_int_equal(
		    cove_write_file_replace_at(AT_FDCWD, f, "{}", 2, 0600), 0);
	}

	assert_int_equal(cove_state_list(root, &ids, &err), 0);
	assert_int_equal(cove_strv_length(ids), 4);
	assert_string_equal(ids[0], "a");
	assert_string_equal(ids[1], "b");
	assert_string_equal(ids[2], "c10");
	assert_string_equal(ids[3], "c9");
	cove_strv_free(TAKE_PTR(ids));

	/* No root yet: no containers, not an error. */
	assert_int_equal(cove_state_list(missing, &ids, &err), 0);
	assert_non_null(ids);
	assert_int_equal(cove_strv_length(ids), 0);
	cove_strv_free(TAKE_PTR(ids));

	/* Remove one. */
	{
		_cleanup_state_ struct cove_state *l = NULL;
		assert_int_equal(cove_state_load(root, "b", &l, &err), 0);
		assert_int_equal(cove_state_remove(l), 0);
		assert_false(exists(l->dir));
	}
	assert_int_equal(cove_state_list(root, &ids, &err), 0);
	assert_int_equal(cove_strv_length(ids), 3);
	assert_string_equal(ids[0], "a");
	assert_string_equal(ids[1], "c10");
}

/* ---- processes ---------------------------------------------------------- */

/* Field 22 of /proc/PID/stat, parsed independently of state.c. */
static uint64_t stat_start_time(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long v = 0;
	FILE *f;
	char *p;
	int field = 2;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	assert_non_null(p);
	for (p++; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	assert_int_equal(sscanf(p, "%llu", &v), 1);
	return v;
}

static void test_proc_self(void **state)
{
	uint64_t t = cove_proc_start_time(getpid());

	assert_true(t > 0);
	assert_true(t == stat_start_time(getpid()));
	assert_true(t == cove_proc_start_time(getpid())); /* stable */
	assert_true(cove_proc_alive(getpid(), 0));
	assert_true(cove_proc_alive(getpid(), t));
	assert_false(cove_proc_alive(getpid(), t + 1));
	assert_false(cove_proc_alive(0, 0));
	assert_false(cove_proc_alive(-1, 0));
	assert_true(cove_proc_start_time(0) == 0);
}

static void test_proc_children(void **state)
{
	int p[2], status;
	char c;
	uint64_t t;
	pid_t pid;

	/* A live child blocked on a pipe. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 0 ? 0 : 1);
	}
	close(p[0]);
	t = cove_proc_start_time(pid);
	assert_true(t > 0);
	assert_true(t == stat_start_time(pid));
	assert_true(cove_proc_alive(pid, t));
	assert_true(cove_proc_alive(pid, 0));
	assert_false(cove_proc_alive(pid, t - 1));

	/* Exited, not reaped yet: a zombie is not alive. */
	close(p[1]);
	for (int i = 0; i < 500; i++) {
		char path[64], st[512];
		FILE *f;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		f = fopen(path, "re");
		assert_non_null(f);
		assert_non_null(fgets(st, sizeof(st), f));
		fclose(f);
		if (strstr(st, ") Z "))
			break;
		usleep(10000);
	}
	assert_false(cove_proc_alive(pid, t));
	assert_false(cove_proc_alive(pid, 0));
	assert_true(cove_proc_start_time(pid) == t);

	/* Reaped: gone. */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(cove_proc_start_time(pid) == 0);
	assert_false(cove_proc_alive(pid, t));
	assert_false(cove_proc_alive(pid, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_id_validate),
	    cmocka_unit_test(test_status_names),
	    cmocka_unit_test(test_default_root),
	    cmocka_unit_test(test_rfc3339_now),
	    cmocka_unit_test_setup_teardown(test_reserve, setup_root,
					    teardown_root),
	    cmocka_unit_test_setup_teardown(test_save_load, setup_root,
					    teardown_root),
	    cmocka_unit_test_setup_teardown(test_status_derived, setup_root,
					    teardown_root),
	    cmocka_unit_test_setup_teardown(test_load_errors, setup_root,
					    teardown_root),
	    cmocka_unit_test_setup_teardown(test_load_cgroup_created,
					    setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_save_error, setup_root,
					    teardown_root),
	    cmocka_unit_test_setup_teardown(test_to_json, setup_root,
					    teardown_root),
	    cmocka_unit_test_setup_teardown(test_list_and_remove, setup_root,
					    teardown_root),
	    cmocka_unit_test(test_proc_self),
	    cmocka_unit_test(test_proc_children),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
