/*
 * Unit tests for src/engine/volumes.c (and db.c, which opens the database
 * they use): create with names, random names, labels, --ignore and orphan
 * directories; lookup by name and prefix; list with label filters; remove
 * with the in-use check and force; prune; that a failed create leaves
 * nothing, that create and prune racing in two processes never leave a row
 * without its directory; and docker's copy-up, including symlinks that
 * point out of the image.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "engine/db.h"
#include "engine/volumes.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

struct fixture {
	char *dir;    /* the test's temporary directory, the storage root */
	char *voldir; /* <dir>/volumes */
	sqlite3 *db;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct cove_error err = {0};

	if (!f)
		return -1;
	f->dir = strdup("/tmp/cove-test-volumes-XXXXXX");
	if (!f->dir || !mkdtemp(f->dir))
		return -1;
	f->voldir = cove_strdup_printf("%s/volumes", f->dir);
	if (!f->voldir)
		return -1;
	if (cove_engine_db_open(f->dir, &f->db, &err) < 0) {
		fprintf(stderr, "engine db: %s\n", err.msg);
		return -1;
	}
	/* explicit modes must not depend on the umask */
	umask(077);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (!f)
		return 0;
	sqlite3_close_v2(f->db);
	if (f->dir)
		cove_rm_rf(f->dir);
	free(f->dir);
	free(f->voldir);
	free(f);
	umask(022);
	return 0;
}

static json_t *labels(const char *k1, const char *v1, const char *k2,
		      const char *v2)
{
	json_t *o = json_object();

	if (k1)
		json_object_set_new(o, k1, json_string(v1));
	if (k2)
		json_object_set_new(o, k2, json_string(v2));
	return o;
}

static void create(struct fixture *f, const char *name, json_t *lab)
{
	struct cove_volume_create_opts o = {.name = name, .labels = lab};
	struct cove_error err = {0};

	if (cove_volume_create(f->db, f->voldir, &o, NULL, &err) != 1)
		fail_msg("create %s: %s", name, err.msg);
	json_decref(lab);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static char *vpath(struct fixture *f, const char *rel)
{
	char *p = cove_strdup_printf("%s/%s", f->voldir, rel);

	assert_non_null(p);
	return p;
}

static int count_rows(struct fixture *f)
{
	sqlite3_stmt *st = NULL;
	int n;

	assert_int_equal(sqlite3_prepare_v2(f->db,
					    "SELECT count(*) FROM volumes", -1,
					    &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* ---- create, lookup ------------------------------------------------------ */

static void test_create_lookup(void **state)
{
	struct fixture *f = *state;
	_cleanup_json_ json_t *lab = labels("app", "web", "tier", "front");
	_cleanup_json_ json_t *opt = labels("o", "nodev", NULL, NULL);
	_cleanup_json_ json_t *other = labels("app", "db", NULL, NULL);
	struct cove_volume_create_opts o = {
	    .name = "data", .labels = lab, .options = opt};
	_cleanup_free_ char *data = vpath(f, "data/_data");
	_cleanup_free_ char *vdir = vpath(f, "data");
	_cleanup_free_ char *wal =
	    cove_strdup_printf("%s/engine.db-wal", f->dir);
	struct cove_volume v = {0};
	struct cove_error err = {0};
	sqlite3_stmt *st = NULL;
	struct stat sb;
	time_t now = time(NULL);

	/* db.c: WAL mode, the busy timeout, the table */
	assert_int_equal(
	    sqlite3_prepare_v2(f->db, "PRAGMA journal_mode", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);

	assert_int_equal(cove_volume_create(f->db, f->voldir, &o, &v, &err), 1);
	assert_true(exists(wal));
	assert_string_equal(v.name, "data");
	assert_string_equal(v.driver, "local");
	assert_string_equal(v.mountpoint, data);
	assert_true(v.created >= now - 5 && v.created <= now + 5);
	assert_string_equal(
	    json_string_value(json_object_get(v.labels, "tier")), "front");
	assert_string_equal(json_string_value(json_object_get(v.options, "o")),
			    "nodev");
	cove_volume_release(&v);
	assert_int_equal(stat(data, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0755);
	assert_int_equal(stat(vdir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);

	/* lookup reads back what create wrote */
	assert_int_equal(cove_volume_lookup(f->db, "data", &v, &err), 0);
	assert_string_equal(v.mountpoint, data);
	assert_true(json_equal(v.labels, lab));
	assert_true(json_equal(v.options, opt));
	cove_volume_release(&v);

	/* an existing name: an error, or with ignore the volume unchanged */
	o.labels = other;
	assert_int_equal(cove_volume_create(f->db, f->voldir, &o, &v, &err),
			 -EEXIST);
	assert_non_null(strstr(err.msg, "volume 'data' already exists"));
	o.ignore = true;
	assert_int_equal(cove_volume_create(f->db, f->voldir, &o, &v, &err), 0);
	assert_string_equal(v.name, "data");
	assert_true(json_equal(v.labels, lab));
	cove_volume_release(&v);
	assert_int_equal(count_rows(f), 1);

	/* no labels, no options: empty objects, never NULL */
	create(f, "bare", NULL);
	assert_int_equal(cove_volume_lookup(f->db, "bare", &v, &err), 0);
	assert_int_equal(json_object_size(v.labels), 0);
	assert_int_equal(json_object_size(v.options), 0);
	cove_volume_release(&v);
}

static void test_random_and_invalid_names(void **state)
{
	struct fixture *f = *state;
	struct cove_volume_create_opts o = {0};
	struct cove_volume a = {0}, b = {0};
	struct cove_error err = {0};
	char long_name[COVE_VOLUME_NAME_MAX + 2];
	static const char *const bad[] = {"",	 "-a", ".a",  "_a", "a/b",
					  "a b", "..", "a\n", "é"};
	_cleanup_json_ json_t *badlab = json_pack("{s:i}", "n", 1);

	assert_int_equal(cove_volume_create(f->db, f->voldir, &o, &a, &err), 1);
	assert_int_equal(cove_volume_create(f->db, f->voldir, &o, &b, &err), 1);
	assert_int_equal(strlen(a.name), 64);
	assert_int_equal(strspn(a.name, "0123456789abcdef"), 64);
	assert_string_not_equal(a.name, b.name);
	assert_true(exists(a.mountpoint));
	cove_volume_release(&a);
	cove_volume_release(&b);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.name = bad[i];
		assert_int_equal(
		    cove_volume_create(f->db, f->voldir, &o, NULL, &err),
		    -EINVAL);
		assert_non_null(strstr(err.msg, "invalid volume name"));
	}
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	o.name = long_name;
	assert_int_equal(cove_volume_create(f->db, f->voldir, &o, NULL, &err),
			 -EINVAL);
	long_name[COVE_VOLUME_NAME_MAX] = '\0';
	assert_int_equal(cove_volume_create(f->db, f->voldir, &o, NULL, &err),
			 1);
	o.name = "A.b_c-9";
	assert_int_equal(cove_volume_create(f->db, f->voldir, &o, NULL, &err),
			 1);
	o.name = "other";
	o.driver = "nfs";
	assert_int_equal(cove_volume_create(f->db, f->voldir, &o, NULL, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "'nfs'"));
	o.driver = "local";
	o.labels = badlab;
	assert_int_equal(cove_volume_create(f->db, f->voldir, &o, NULL, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "'n'"));
	assert_int_equal(count_rows(f), 4);
}

static void test_lookup_prefix(void **state)
{
	struct fixture *f = *state;
	struct cove_volume v = {0};
	struct cove_error err = {0};

	create(f, "abc1", NULL);
	create(f, "abc2", NULL);
	create(f, "ab", NULL);
	create(f, "xyz", NULL);
	assert_int_equal(cove_volume_lookup(f->db, "xy", &v, &err), 0);
	assert_string_equal(v.name, "xyz");
	cove_volume_release(&v);
	/* an exact name wins over being a prefix of others */
	assert_int_equal(cove_volume_lookup(f->db, "ab", &v, &err), 0);
	assert_string_equal(v.name, "ab");
	cove_volume_release(&v);
	assert_int_equal(cove_volume_lookup(f->db, "abc", &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'abc'"));
	assert_int_equal(cove_volume_lookup(f->db, "nope", &v, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no such volume 'nope'"));
	assert_int_equal(cove_volume_lookup(f->db, "", &v, &err), -ENOENT);
	/* LIKE wildcards are not wildcards here */
	assert_int_equal(cove_volume_lookup(f->db, "x%", &v, &err), -ENOENT);
	assert_int_equal(cove_volume_lookup(f->db, "_yz", &v, &err), -ENOENT);
}

/* ---- list -----------------------------------------------------------------
 */

static size_t list_names(struct fixture *f, char *const *filters, char *out,
			 size_t size)
{
	struct cove_volume *vs = NULL;
	struct cove_error err = {0};
	size_t n = 0, used = 0;

	if (cove_volume_list(f->db, filters, &vs, &n, &err) < 0)
		fail_msg("list: %s", err.msg);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(out + used, size - used, "%s%s",
					 i ? "," : "", vs[i].name);
	cove_volumes_free(vs, n);
	return n;
}

static void test_list_filters(void **state)
{
	struct fixture *f = *state;
	char names[256];
	char *env[] = {"env", NULL};
	char *prod[] = {"env=prod", NULL};
	char *prod_web[] = {"env=prod", "tier", NULL};
	char *empty[] = {"env=", NULL};
	char *none[] = {NULL};

	create(f, "b", labels("env", "prod", "tier", "web"));
	create(f, "a", labels("env", "prod", NULL, NULL));
	create(f, "c", labels("env", "dev", NULL, NULL));
	create(f, "d", NULL);
	create(f, "e", labels("env", "", NULL, NULL));
	assert_int_equal(list_names(f, NULL, names, sizeof(names)), 5);
	assert_string_equal(names, "a,b,c,d,e");
	assert_int_equal(list_names(f, none, names, sizeof(names)), 5);
	assert_int_equal(list_names(f, env, names, sizeof(names)), 4);
	assert_string_equal(names, "a,b,c,e");
	assert_int_equal(list_names(f, prod, names, sizeof(names)), 2);
	assert_string_equal(names, "a,b");
	assert_int_equal(list_names(f, prod_web, names, sizeof(names)), 1);
	assert_string_equal(names, "b");
	assert_int_equal(list_names(f, empty, names, sizeof(names)), 1);
	assert_string_equal(names, "e");
}

/* ---- remove ----------------------------------------------------------------
 */

struct use {
	const char *busy; /* the volume in use, or NULL */
	int fail;	  /* -errno to fail with, or 0 */
	int calls;
	char seen[64];
};

static int in_use(void *data, sqlite3 *db, const char *name, char **ret_user,
		  struct cove_error *err)
{
	struct use *u = data;

	assert_non_null(db);
	u->calls++;
	snprintf(u->seen, sizeof(u->seen), "%s", name);
	if (u->fail)
		return cove_error_set(err, u->fail, "cannot tell");
	if (u->busy && !strcmp(u->busy, name)) {
		*ret_user = strdup("ctr1");
		return 1;
	}
	return 0;
}

static void test_remove(void **state)
{
	struct fixture *f = *state;
	struct use u = {.busy = "busy"};
	struct cove_error err = {0};
	_cleanup_free_ char *busy_dir = vpath(f, "busy/_data");
	_cleanup_free_ char *long_dir = vpath(f, "longname");
	char *name = NULL;

	create(f, "busy", NULL);
	create(f, "longname", NULL);
	create(f, "plain", NULL);

	assert_int_equal(cove_volume_remove(f->db, f->voldir, "busy", 0, in_use,
					    &u, NULL, &err),
			 -EBUSY);
	assert_non_null(strstr(err.msg, "volume 'busy' is in use by container "
					"'ctr1'"));
	assert_true(exists(busy_dir));
	assert_int_equal(count_rows(f), 3);
	/* force does not override the check */
	assert_int_equal(cove_volume_remove(f->db, f->voldir, "busy",
					    COVE_VOLUME_REMOVE_FORCE, in_use,
					    &u, NULL, &err),
			 -EBUSY);
	/* an in-use check that fails stops the removal */
	u.fail = -EIO;
	assert_int_equal(cove_volume_remove(f->db, f->voldir, "plain", 0,
					    in_use, &u, NULL, &err),
			 -EIO);
	assert_int_equal(count_rows(f), 3);
	u.fail = 0;

	/* by prefix: the full name comes back */
	assert_int_equal(cove_volume_remove(f->db, f->voldir, "long", 0, in_use,
					    &u, &name, &err),
			 1);
	assert_string_equal(name, "longname");
	assert_string_equal(u.seen, "longname");
	free(name);
	assert_false(exists(long_dir));
	assert_int_equal(count_rows(f), 2);

	assert_int_equal(cove_volume_remove(f->db, f->voldir, "longname", 0,
					    NULL, NULL, NULL, &err),
			 -ENOENT);
	assert_non_null(strstr(err.msg, "no such volume 'longname'"));
	assert_int_equal(cove_volume_remove(f->db, f->voldir, "longname",
					    COVE_VOLUME_REMOVE_FORCE, NULL,
					    NULL, NULL, &err),
			 0);
	/* without a check: removed */
	assert_int_equal(cove_volume_remove(f->db, f->voldir, "busy", 0, NULL,
					    NULL, NULL, &err),
			 1);
	assert_false(exists(busy_dir));
	/* nothing left in the volumes directory but the remaining volume */
	{
		_cleanup_closedir_ DIR *d = opendir(f->voldir);
		struct dirent *de;
		int entries = 0;

		assert_non_null(d);
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				entries++;
			else
				assert_true(!strcmp(de->d_name, ".") ||
					    !strcmp(de->d_name, ".."));
		assert_int_equal(entries, 1);
	}
}

/* ---- prune and crash leftovers ---------------------------------------------
 */

static void make_file(const char *path, const char *content)
{
	assert_int_equal(cove_write_file_atomic_at(AT_FDCWD, path, content,
						   strlen(content), 0644),
			 0);
	assert_int_equal(chmod(path, 0644), 0); /* the umask is 077 */
}

static void test_prune(void **state)
{
	struct fixture *f = *state;
	struct use u = {.busy = "a"};
	struct cove_error err = {0};
	_cleanup_strv_ char **removed = NULL;
	_cleanup_free_ char *orphan = vpath(f, "orphan");
	_cleanup_free_ char *orphan_data = vpath(f, "orphan/_data");
	_cleanup_free_ char *orphan_file = vpath(f, "orphan/_data/f");
	_cleanup_free_ char *trash = vpath(f, ".rm-0123456789abcdef");
	_cleanup_free_ char *stray = vpath(f, ".not-mine");
	_cleanup_free_ char *c_data = vpath(f, "c/_data");
	char *x[] = {"x", NULL};
	char names[128];

	create(f, "a", labels("x", "1", NULL, NULL));
	create(f, "b", NULL);
	create(f, "c", labels("x", "2", NULL, NULL));
	assert_int_equal(cove_mkdir_p(orphan_data, 0755), 0);
	make_file(orphan_file, "left by a crash");
	assert_int_equal(cove_mkdir_p(trash, 0755), 0);
	assert_int_equal(mkdir(stray, 0755), 0);

	/* with a filter: only matching volumes; orphans have no labels */
	assert_int_equal(
	    cove_volume_prune(f->db, f->voldir, x, in_use, &u, &removed, &err),
	    0);
	assert_non_null(removed);
	assert_string_equal(removed[0], "c");
	assert_null(removed[1]);
	assert_false(exists(c_data));
	assert_true(exists(orphan_file));
	assert_false(exists(trash)); /* trash always goes */
	cove_strv_free(TAKE_PTR(removed));

	assert_int_equal(cove_volume_prune(f->db, f->voldir, NULL, in_use, &u,
					   &removed, &err),
			 0);
	assert_non_null(removed);
	assert_string_equal(removed[0], "b");
	assert_null(removed[1]);
	assert_false(exists(orphan));
	assert_true(exists(stray)); /* not a name cove would make */
	assert_int_equal(list_names(f, NULL, names, sizeof(names)), 1);
	assert_string_equal(names, "a");
	cove_strv_free(TAKE_PTR(removed));

	/* nothing to prune: an empty list */
	assert_int_equal(cove_volume_prune(f->db, f->voldir, NULL, in_use, &u,
					   &removed, &err),
			 0);
	assert_null(removed);
}

static void test_orphans_reused(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *d1 = vpath(f, "v1/_data");
	_cleanup_free_ char *d2 = vpath(f, "v2/_data");
	_cleanup_free_ char *f2 = vpath(f, "v2/_data/old");
	_cleanup_free_ char *v3 = vpath(f, "v3");
	_cleanup_free_ char *d3 = vpath(f, "v3/_data");
	_cleanup_free_ char *v4 = vpath(f, "v4");
	struct stat before, after;

	/* a crash after mkdir: an empty _data is reused as it is */
	assert_int_equal(cove_mkdir_p(d1, 0700), 0);
	assert_int_equal(stat(d1, &before), 0);
	create(f, "v1", NULL);
	assert_int_equal(stat(d1, &after), 0);
	assert_true(before.st_ino == after.st_ino);
	assert_int_equal(after.st_mode & 07777, 0755);
	/* a crash during a remove: the old content does not come back */
	assert_int_equal(cove_mkdir_p(d2, 0755), 0);
	make_file(f2, "old data");
	create(f, "v2", NULL);
	assert_true(exists(d2));
	assert_false(exists(f2));
	/* a crash before _data */
	assert_int_equal(mkdir(v3, 0700), 0);
	create(f, "v3", NULL);
	assert_true(exists(d3));
	/* not even a directory */
	make_file(v4, "junk");
	create(f, "v4", NULL);
	assert_int_equal(stat(v4, &after), 0);
	assert_true(S_ISDIR(after.st_mode));
}

/* A create that cannot record its row leaves no directory behind. */
static void test_failed_create_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct cove_volume_create_opts o = {.name = "blocked"};
	_cleanup_free_ char *dir = vpath(f, "blocked");
	_cleanup_free_ char *path = cove_strdup_printf("%s/engine.db", f->dir);
	struct cove_error err = {0};
	sqlite3 *other = NULL;

	assert_int_equal(
	    sqlite3_open_v2(path, &other, SQLITE_OPEN_READWRITE, NULL),
	    SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_busy_timeout(f->db, 50);
	assert_int_equal(cove_volume_create(f->db, f->voldir, &o, NULL, &err),
			 -EBUSY);
	assert_non_null(strstr(err.msg, "engine database"));
	assert_false(exists(dir));
	/* an insert that fails after the directory was made */
	sqlite3_exec(other, "COMMIT", NULL, NULL, NULL);
	assert_int_equal(sqlite3_exec(other,
				      "CREATE TRIGGER no_insert BEFORE INSERT "
				      "ON volumes BEGIN SELECT RAISE(ABORT, "
				      "'refused'); END",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_true(cove_volume_create(f->db, f->voldir, &o, NULL, &err) < 0);
	assert_non_null(strstr(err.msg, "refused"));
	assert_false(exists(dir));
	assert_int_equal(count_rows(f), 0);
	sqlite3_exec(other, "DROP TRIGGER no_insert", NULL, NULL, NULL);
	sqlite3_close_v2(other);
	sqlite3_busy_timeout(f->db, COVE_ENGINE_DB_BUSY_MS);
	create(f, "blocked", NULL);
}

/*
 * Two processes: one creates volumes, the other prunes all the while.
 * Whatever the interleaving, every row has its directory at the end, and
 * every create either succeeded or found its volume pruned afterwards.
 */
static void test_create_prune_race(void **state)
{
	struct fixture *f = *state;
	pid_t pids[2];
	sqlite3_stmt *st = NULL;
	int rows = 0;

	for (int p = 0; p < 2; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			struct cove_error err = {0};
			sqlite3 *db = NULL;

			if (cove_engine_db_open(f->dir, &db, &err) < 0)
				_exit(2);
			for (int i = 0; i < 40; i++) {
				char name[32];
				struct cove_volume_create_opts o = {
				    .name = name, .ignore = true};
				char **removed = NULL;

				snprintf(name, sizeof(name), "v%d", i);
				if (p == 0 &&
				    cove_volume_create(db, f->voldir, &o, NULL,
						       &err) < 0)
					_exit(3);
				if (p == 1) {
					if (cove_volume_prune(
						db, f->voldir, NULL, NULL, NULL,
						&removed, &err) < 0)
						_exit(4);
					cove_strv_free(removed);
				}
			}
			sqlite3_close_v2(db);
			_exit(0);
		}
	}
	for (int p = 0; p < 2; p++) {
		int status;

		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(sqlite3_prepare_v2(f->db,
					    "SELECT mountpoint FROM volumes",
					    -1, &st, NULL),
			 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		assert_true(exists((const char *)sqlite3_column_text(st, 0)));
		rows++;
	}
	sqlite3_finalize(st);
	assert_true(rows <= 40);
}

/* ---- copy-up ----------------------------------------------------------------
 */

static char *tpath(struct fixture *f, const char *rel)
{
	char *p = cove_strdup_printf("%s/%s", f->dir, rel);

	assert_non_null(p);
	return p;
}

static void set_mtime(const char *path, time_t t)
{
	struct timespec ts[2] = {{t, 0}, {t, 0}};

	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void check_file(const char *path, const char *content, mode_t mode,
		       uid_t uid, gid_t gid)
{
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t len;

	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, mode);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);
	assert_int_equal(cove_read_file(path, 1 << 20, &buf, &len), 0);
	assert_string_equal(buf, content);
}

static void check_link(const char *path, const char *target)
{
	char buf[256];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, target);
}

/* The image tree used by the copy-up tests, under <dir>/img. */
static bool make_image_tree(struct fixture *f)
{
	static const char *const dirs[] = {"img", "img/sub", "img/empty"};
	_cleanup_free_ char *a = tpath(f, "img/a");
	_cleanup_free_ char *suid = tpath(f, "img/suid");
	_cleanup_free_ char *b = tpath(f, "img/sub/b");
	_cleanup_free_ char *h1 = tpath(f, "img/h1");
	_cleanup_free_ char *h2 = tpath(f, "img/sub/h2");
	_cleanup_free_ char *abs = tpath(f, "img/abs");
	_cleanup_free_ char *rel = tpath(f, "img/sub/rel");
	_cleanup_free_ char *fifo = tpath(f, "img/fifo");
	_cleanup_free_ char *sub = tpath(f, "img/sub");
	_cleanup_free_ char *img = tpath(f, "img");
	bool have_xattr;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		_cleanup_free_ char *d = tpath(f, dirs[i]);

		assert_int_equal(mkdir(d, 0755), 0);
	}
	make_file(a, "alpha");
	assert_int_equal(chmod(a, 0640), 0);
	assert_int_equal(chown(a, 1234, 5678), 0);
	make_file(suid, "#!/bin/sh\n");
	assert_int_equal(chown(suid, 1, 1), 0);
	assert_int_equal(chmod(suid, 04755), 0);
	make_file(b, "beta");
	make_file(h1, "hard");
	assert_int_equal(link(h1, h2), 0);
	assert_int_equal(symlink("/etc/passwd", abs), 0);
	assert_int_equal(symlink("../../../../outside", rel), 0);
	assert_int_equal(lchown(rel, 42, 43), 0);
	assert_int_equal(mkfifo(fifo, 0620), 0);
	assert_int_equal(chmod(fifo, 0620), 0);
	have_xattr = setxattr(a, "user.cove", "v1", 2, 0) == 0;
	assert_int_equal(chmod(sub, 0711), 0);
	set_mtime(a, 1000000000);
	set_mtime(sub, 1100000000);
	set_mtime(rel, 1200000000);
	assert_int_equal(chmod(img, 0750), 0);
	assert_int_equal(chown(img, 7, 8), 0);
	return have_xattr;
}

static void test_copy_up(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *img = tpath(f, "img");
	_cleanup_free_ char *data = vpath(f, "cu/_data");
	_cleanup_free_ char *a = vpath(f, "cu/_data/a");
	_cleanup_free_ char *suid = vpath(f, "cu/_data/suid");
	_cleanup_free_ char *b = vpath(f, "cu/_data/sub/b");
	_cleanup_free_ char *h1 = vpath(f, "cu/_data/h1");
	_cleanup_free_ char *h2 = vpath(f, "cu/_data/sub/h2");
	_cleanup_free_ char *abs = vpath(f, "cu/_data/abs");
	_cleanup_free_ char *rel = vpath(f, "cu/_data/sub/rel");
	_cleanup_free_ char *fifo = vpath(f, "cu/_data/fifo");
	_cleanup_free_ char *sub = vpath(f, "cu/_data/sub");
	_cleanup_free_ char *empty = vpath(f, "cu/_data/empty");
	struct cove_error err = {0};
	_cleanup_close_ int fd = -1;
	struct stat s1, s2;
	char v[8];
	bool have_xattr = make_image_tree(f);

	create(f, "cu", NULL);
	fd = open(img, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(cove_volume_copy_up(data, fd, &err), 1);

	check_file(a, "alpha", 0640, 1234, 5678);
	check_file(suid, "#!/bin/sh\n", 04755, 1, 1);
	check_file(b, "beta", 0644, 0, 0);
	check_file(h1, "hard", 0644, 0, 0);
	assert_int_equal(stat(h1, &s1), 0);
	assert_int_equal(stat(h2, &s2), 0);
	assert_true(s1.st_ino == s2.st_ino); /* still one file */
	assert_int_equal(s1.st_nlink, 2);
	check_link(abs, "/etc/passwd");
	check_link(rel, "../../../../outside");
	assert_int_equal(lstat(rel, &s1), 0);
	assert_int_equal(s1.st_uid, 42);
	assert_int_equal(s1.st_mtim.tv_sec, 1200000000);
	assert_int_equal(lstat(fifo, &s1), 0);
	assert_true(S_ISFIFO(s1.st_mode));
	assert_int_equal(s1.st_mode & 07777, 0620);
	assert_int_equal(stat(sub, &s1), 0);
	assert_int_equal(s1.st_mode & 07777, 0711);
	assert_int_equal(s1.st_mtim.tv_sec, 1100000000);
	assert_int_equal(stat(a, &s1), 0);
	assert_int_equal(s1.st_mtim.tv_sec, 1000000000);
	assert_int_equal(stat(empty, &s1), 0);
	assert_true(S_ISDIR(s1.st_mode));
	/* the volume's root takes the image directory's owner and mode */
	assert_int_equal(stat(data, &s1), 0);
	assert_int_equal(s1.st_mode & 07777, 0750);
	assert_int_equal(s1.st_uid, 7);
	assert_int_equal(s1.st_gid, 8);
	if (have_xattr) {
		assert_int_equal(getxattr(a, "user.cove", v, sizeof(v)), 2);
		assert_memory_equal(v, "v1", 2);
	}

	/* a volume with content is left alone */
	make_file(b, "changed");
	assert_int_equal(cove_volume_copy_up(data, fd, &err), 0);
	check_file(b, "changed", 0644, 0, 0);
}

static void test_copy_up_from_rootfs(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *rootfs = tpath(f, "rootfs");
	_cleanup_free_ char *real = tpath(f, "rootfs/real");
	_cleanup_free_ char *file = tpath(f, "rootfs/real/file");
	_cleanup_free_ char *outside = tpath(f, "outside");
	_cleanup_free_ char *secret = tpath(f, "outside/secret");
	_cleanup_free_ char *evil = tpath(f, "rootfs/evil");
	_cleanup_free_ char *dotdot = tpath(f, "rootfs/dotdot");
	_cleanup_free_ char *link = tpath(f, "rootfs/link");
	_cleanup_free_ char *d1 = vpath(f, "r1/_data");
	_cleanup_free_ char *d1f = vpath(f, "r1/_data/file");
	_cleanup_free_ char *d2 = vpath(f, "r2/_data");
	_cleanup_free_ char *rel_target = NULL;
	struct cove_error err = {0};
	_cleanup_close_ int rfd = -1;
	_cleanup_closedir_ DIR *d = NULL;

	assert_int_equal(cove_mkdir_p(real, 0755), 0);
	assert_int_equal(cove_mkdir_p(outside, 0755), 0);
	make_file(file, "inside");
	make_file(secret, "host secret");
	/* absolute and relative symlinks that would leave the rootfs */
	assert_int_equal(symlink(outside, evil), 0);
	rel_target = cove_strdup_printf("../../../../../../..%s", outside);
	assert_int_equal(symlink(rel_target, dotdot), 0);
	assert_int_equal(symlink("/real", link), 0);
	create(f, "r1", NULL);
	create(f, "r2", NULL);
	rfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(rfd >= 0);

	/* symlinks resolve inside the rootfs: /real, not the host's */
	assert_int_equal(
	    cove_volume_copy_up_from_rootfs(d1, rfd, "/link", &err), 1);
	check_file(d1f, "inside", 0644, 0, 0);
	/* the host directory is not reachable: nothing to copy */
	assert_int_equal(
	    cove_volume_copy_up_from_rootfs(d2, rfd, "/evil", &err), 0);
	assert_int_equal(
	    cove_volume_copy_up_from_rootfs(d2, rfd, "/dotdot", &err), 0);
	assert_int_equal(
	    cove_volume_copy_up_from_rootfs(d2, rfd, "../../outside", &err), 0);
	assert_int_equal(
	    cove_volume_copy_up_from_rootfs(d2, rfd, "/missing/dir", &err), 0);
	assert_int_equal(
	    cove_volume_copy_up_from_rootfs(d2, rfd, "/real/file", &err), 0);
	d = opendir(d2);
	assert_non_null(d);
	for (struct dirent *de; (de = readdir(d));)
		assert_true(!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."));
}

/* A copy that fails midway leaves the volume empty, as it found it. */
static void test_copy_up_failure_cleans(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *img = tpath(f, "deep");
	_cleanup_free_ char *first = tpath(f, "deep/a-file");
	_cleanup_free_ char *data = vpath(f, "dv/_data");
	struct cove_error err = {0};
	_cleanup_close_ int fd = -1;
	_cleanup_closedir_ DIR *d = NULL;
	char path[8192];
	size_t len;

	len = (size_t)snprintf(path, sizeof(path), "%s", img);
	assert_int_equal(mkdir(img, 0755), 0);
	make_file(first, "x");
	for (int i = 0; i < 140; i++) {
		len += (size_t)snprintf(path + len, sizeof(path) - len, "/d");
		assert_int_equal(mkdir(path, 0755), 0);
	}
	create(f, "dv", NULL);
	fd = open(img, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(cove_volume_copy_up(data, fd, &err), -ELOOP);
	assert_non_null(strstr(err.msg, "deeper than"));
	d = opendir(data);
	assert_non_null(d);
	for (struct dirent *de; (de = readdir(d));)
		assert_true(!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T(test_create_lookup),
	    T(test_random_and_invalid_names),
	    T(test_lookup_prefix),
	    T(test_list_filters),
	    T(test_remove),
	    T(test_prune),
	    T(test_orphans_reused),
	    T(test_failed_create_leaves_nothing),
	    T(test_create_prune_race),
	    T(test_copy_up),
	    T(test_copy_up_from_rootfs),
	    T(test_copy_up_failure_cleans),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
