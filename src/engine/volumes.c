#include "engine/volumes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "engine/events.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

/* Entries of the volumes directory being removed: never a volume name. */
#define TRASH_PREFIX ".rm-"

static const char schema[] = "CREATE TABLE IF NOT EXISTS volumes ("
			     " name TEXT PRIMARY KEY NOT NULL,"
			     " driver TEXT NOT NULL DEFAULT 'local',"
			     " mountpoint TEXT NOT NULL,"
			     " created INTEGER NOT NULL DEFAULT 0,"
			     " labels TEXT NOT NULL DEFAULT '{}',"
			     " options TEXT NOT NULL DEFAULT '{}')";

#define COLUMNS "name, driver, mountpoint, created, labels, options"

static void stmt_finalizep(sqlite3_stmt **s)
{
	sqlite3_finalize(*s); /* NULL is a no-op */
}
#define _cleanup_stmt_ _cleanup_(stmt_finalizep)

static int db_fail(sqlite3 *db, int rc, struct cove_error *err,
		   const char *what)
{
	int code;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = EBUSY;
		break;
	case SQLITE_NOMEM:
		code = ENOMEM;
		break;
	case SQLITE_FULL:
		code = ENOSPC;
		break;
	case SQLITE_READONLY:
		code = EROFS;
		break;
	case SQLITE_CONSTRAINT:
		code = EEXIST;
		break;
	default:
		code = EIO;
	}
	return cove_error_set(err, code, "engine database: %s: %s", what,
			      sqlite3_errmsg(db));
}

/* A write transaction, rolled back at scope exit unless committed. */
struct tx {
	sqlite3 *db;
	bool active;
};

static void tx_rollbackp(struct tx *tx)
{
	if (tx->active)
		sqlite3_exec(tx->db, "ROLLBACK", NULL, NULL, NULL);
}
#define _cleanup_tx_ _cleanup_(tx_rollbackp)

/*
 * IMMEDIATE takes the write lock at once: a deferred transaction that reads
 * and then writes can fail to upgrade its lock with SQLITE_BUSY whatever
 * the busy timeout when another writer went first.
 */
static int tx_begin(sqlite3 *db, struct tx *tx, struct cove_error *err)
{
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return db_fail(db, rc, err, "cannot begin a transaction");
	tx->db = db;
	tx->active = true;
	return 0;
}

static int tx_commit(struct tx *tx, struct cove_error *err)
{
	int rc = sqlite3_exec(tx->db, "COMMIT", NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return db_fail(tx->db, rc, err, "cannot commit");
	tx->active = false;
	return 0;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret,
		   struct cove_error *err)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, ret, NULL);

	if (rc != SQLITE_OK)
		return db_fail(db, rc, err, "cannot prepare a statement");
	return 0;
}

int cove_volumes_init_schema(sqlite3 *db, struct cove_error *err)
{
	int rc = sqlite3_exec(db, schema, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return db_fail(db, rc, err, "cannot create the volumes table");
	return 0;
}

/* ---- records ------------------------------------------------------------ */

void cove_volume_release(struct cove_volume *v)
{
	if (!v)
		return;
	free(v->name);
	free(v->driver);
	free(v->mountpoint);
	json_decref(v->labels);
	json_decref(v->options);
	*v = (struct cove_volume){0};
}

void cove_volumes_free(struct cove_volume *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		cove_volume_release(&v[i]);
	free(v);
}

static char *col_strdup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return strdup(t ? (const char *)t : "");
}

/* A JSON object column; corrupt text is an error naming the volume. */
static int col_object(sqlite3_stmt *st, int i, const char *name,
		      const char *what, json_t **ret, struct cove_error *err)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	json_t *o;

	if (!t || !*t) {
		*ret = json_object();
		return *ret ? 0 : -ENOMEM;
	}
	o = json_loads((const char *)t, 0, NULL);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return cove_error_set(err, EIO,
				      "engine database: volume '%s': %s is "
				      "not a JSON object",
				      name, what);
	}
	*ret = o;
	return 0;
}

static int read_row(sqlite3_stmt *st, struct cove_volume *ret,
		    struct cove_error *err)
{
	struct cove_volume v = {0};
	int r;

	v.name = col_strdup(st, 0);
	v.driver = col_strdup(st, 1);
	v.mountpoint = col_strdup(st, 2);
	v.created = sqlite3_column_int64(st, 3);
	if (!v.name || !v.driver || !v.mountpoint) {
		cove_volume_release(&v);
		return cove_error_set(err, ENOMEM, "out of memory");
	}
	r = col_object(st, 4, v.name, "labels", &v.labels, err);
	if (r >= 0)
		r = col_object(st, 5, v.name, "options", &v.options, err);
	if (r < 0) {
		cove_volume_release(&v);
		return r;
	}
	*ret = v;
	return 0;
}

/* ---- names -------------------------------------------------------------- */

static bool name_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '_' || c == '.' || c == '-');
}

int cove_volume_name_validate(const char *name, struct cove_error *err)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0)
		return cove_error_set(err, EINVAL,
				      "invalid volume name '': must not be "
				      "empty");
	if (len > COVE_VOLUME_NAME_MAX)
		return cove_error_set(err, EINVAL,
				      "invalid volume name '%.40s...': longer "
				      "than %d characters",
				      name, COVE_VOLUME_NAME_MAX);
	for (size_t i = 0; i < len; i++)
		if (!name_char(name[i], i == 0))
			return cove_error_set(err, EINVAL,
					      "invalid volume name '%s': "
					      "must match "
					      "[a-zA-Z0-9][a-zA-Z0-9_.-]*",
					      name);
	return 0;
}

static int random_hex(char *buf, size_t bytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];
	size_t got = 0;

	if (bytes > sizeof(raw))
		return -EINVAL;
	while (got < bytes) {
		ssize_t n = getrandom(raw + got, bytes - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < bytes; i++) {
		buf[2 * i] = hex[raw[i] >> 4];
		buf[2 * i + 1] = hex[raw[i] & 15];
	}
	buf[2 * bytes] = '\0';
	return 0;
}

/* ---- lookup, list -------------------------------------------------------- */

/* By full name, else by unique prefix; the caller holds no statement. */
static int lookup(sqlite3 *db, const char *name, struct cove_volume *ret,
		  struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int rc, r;

	if (!name || !*name)
		return cove_error_set(err, ENOENT, "no such volume ''");
	r = prepare(db, "SELECT " COLUMNS " FROM volumes WHERE name = ?1", &st,
		    err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return read_row(st, ret, err);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "cannot look up a volume");
	sqlite3_finalize(TAKE_PTR(st));

	r = prepare(db,
		    "SELECT " COLUMNS " FROM volumes"
		    " WHERE substr(name, 1, length(?1)) = ?1 LIMIT 2",
		    &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return cove_error_set(err, ENOENT, "no such volume '%s'", name);
	if (rc != SQLITE_ROW)
		return db_fail(db, rc, err, "cannot look up a volume");
	r = read_row(st, ret, err);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 0;
	cove_volume_release(ret);
	if (rc != SQLITE_ROW)
		return db_fail(db, rc, err, "cannot look up a volume");
	return cove_error_set(err, EINVAL,
			      "more than one volume name starts with '%s': "
			      "give the full name",
			      name);
}

int cove_volume_lookup(sqlite3 *db, const char *name, struct cove_volume *ret,
		       struct cove_error *err)
{
	return lookup(db, name, ret, err);
}

static int exists(sqlite3 *db, const char *name, struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int rc, r;

	r = prepare(db, "SELECT 1 FROM volumes WHERE name = ?1", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_fail(db, rc, err, "cannot look up a volume");
}

bool cove_volume_label_match(const json_t *labels, const char *filter)
{
	const char *eq = strchr(filter, '=');
	size_t klen = eq ? (size_t)(eq - filter) : strlen(filter);
	_cleanup_free_ char *key = strndup(filter, klen);
	json_t *v;

	if (!key)
		return false;
	v = json_object_get(labels, key);
	if (!v)
		return false;
	return !eq ||
	       (json_is_string(v) && !strcmp(json_string_value(v), eq + 1));
}

static bool labels_match(const json_t *labels, char *const *filters)
{
	for (char *const *f = filters; f && *f; f++)
		if (!cove_volume_label_match(labels, *f))
			return false;
	return true;
}

int cove_volume_list(sqlite3 *db, char *const *label_filters,
		     struct cove_volume **ret, size_t *ret_n,
		     struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct cove_volume *vs = NULL;
	size_t n = 0, cap = 0;
	int rc, r;

	r = prepare(db, "SELECT " COLUMNS " FROM volumes ORDER BY name", &st,
		    err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct cove_volume v;

		r = read_row(st, &v, err);
		if (r < 0)
			goto fail;
		if (!labels_match(v.labels, label_filters)) {
			cove_volume_release(&v);
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 8;
			struct cove_volume *nv =
			    reallocarray(vs, ncap, sizeof(*vs));
			if (!nv) {
				cove_volume_release(&v);
				r = cove_error_set(err, ENOMEM,
						   "out of memory");
				goto fail;
			}
			vs = nv;
			cap = ncap;
		}
		vs[n++] = v;
	}
	if (rc != SQLITE_DONE) {
		r = db_fail(db, rc, err, "cannot list volumes");
		goto fail;
	}
	*ret = vs;
	*ret_n = n;
	return 0;
fail:
	cove_volumes_free(vs, n);
	return r;
}

/* ---- the volumes directory ---------------------------------------------- */

/*
 * Open the volumes directory (creating it) and take its lock: create,
 * remove and prune of every cove process serialise on it, so that a
 * directory without a row is either one that its creator is about to
 * record (lock held) or one that a crash left behind (lock free).
 */
static int lock_volumes_dir(const char *dir, int *ret_fd,
			    struct cove_error *err)
{
	_cleanup_close_ int fd = -1;
	int r;

	r = cove_mkdir_p(dir, 0700);
	if (r < 0)
		return cove_error_setx(err, r, "cannot create '%s'", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cove_error_setx(err, errno, "cannot open '%s'", dir);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return cove_error_setx(err, errno, "cannot lock '%s'",
					       dir);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* Whether directory @fd has no entries. */
static int dir_is_empty(int fd)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int dfd;

	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	errno = 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return 0;
	return errno ? -errno : 1;
}

/*
 * Rename <dir>/@name out of the way, then remove it.  The rename makes the
 * removal look atomic to lookups of the name: a crash midway leaves a
 * TRASH_PREFIX entry that prune removes, never a half-removed volume.
 */
static int remove_volume_dir(int dfd, const char *dir, const char *name,
			     struct cove_error *err)
{
	_cleanup_free_ char *trash_path = NULL;
	char trash[sizeof(TRASH_PREFIX) + 32];
	int r;

	memcpy(trash, TRASH_PREFIX, sizeof(TRASH_PREFIX));
	r = random_hex(trash + sizeof(TRASH_PREFIX) - 1, 16);
	if (r < 0)
		return cove_error_setx(err, r, "cannot get random bytes");
	if (renameat(dfd, name, dfd, trash) < 0) {
		if (errno == ENOENT)
			return 0;
		return cove_error_setx(err, errno, "cannot rename '%s/%s'", dir,
				       name);
	}
	trash_path = cove_strdup_printf("%s/%s", dir, trash);
	if (!trash_path)
		return cove_error_set(err, ENOMEM, "out of memory");
	r = cove_rm_rf(trash_path);
	if (r < 0)
		return cove_error_setx(err, r, "cannot remove '%s'",
				       trash_path);
	return 0;
}

/* mkdirat + an explicit mode (mkdir's is filtered by the umask). */
static int make_dir(int dfd, const char *name, mode_t mode, int *ret_fd)
{
	_cleanup_close_ int fd = -1;

	if (mkdirat(dfd, name, mode) < 0)
		return -errno;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/*
 * Make <dir>/@name/_data, reusing what a crashed create left: a volume
 * directory whose _data is missing or empty.  Anything else under the
 * name (a crashed remove's data) is removed first.  The new entries are
 * fsync'ed so that the row, committed next, never outlives them.
 */
static int prepare_volume_dir(int dfd, const char *dir, const char *name,
			      bool *ret_made, struct cove_error *err)
{
	_cleanup_close_ int vfd = -1, data = -1;
	struct stat st;
	int r;

	*ret_made = false;
	for (int attempt = 0;; attempt++) {
		r = make_dir(dfd, name, 0700, &vfd);
		if (r == 0) {
			*ret_made = true;
			break;
		}
		if (r != -EEXIST || attempt > 0)
			return cove_error_setx(err, r, "cannot create '%s/%s'",
					       dir, name);
		vfd = openat(dfd, name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (vfd >= 0) {
			if (fstatat(vfd, "_data", &st, AT_SYMLINK_NOFOLLOW) <
			    0) {
				if (errno == ENOENT)
					break;
				return cove_error_setx(err, errno,
						       "cannot stat "
						       "'%s/%s/_data'",
						       dir, name);
			}
			if (S_ISDIR(st.st_mode)) {
				data = openat(vfd, "_data",
					      O_RDONLY | O_DIRECTORY |
						  O_NOFOLLOW | O_CLOEXEC);
				if (data >= 0 && dir_is_empty(data) == 1)
					break;
				if (data >= 0)
					close(TAKE_FD(data));
			}
			close(TAKE_FD(vfd));
		}
		r = remove_volume_dir(dfd, dir, name, err);
		if (r < 0)
			return cove_error_wrap(err, "stale volume directory");
	}
	if (data < 0) {
		r = make_dir(vfd, "_data", 0755, &data);
		if (r < 0)
			return cove_error_setx(
			    err, r, "cannot create '%s/%s/_data'", dir, name);
	} else if (fchmod(data, 0755) < 0) {
		return cove_error_setx(err, errno, "cannot chmod '%s/%s/_data'",
				       dir, name);
	}
	if (fsync(vfd) < 0 || fsync(dfd) < 0)
		return cove_error_setx(err, errno, "cannot sync '%s/%s'", dir,
				       name);
	return 0;
}

/* ---- create -------------------------------------------------------------- */

static int check_string_object(const json_t *o, const char *what,
			       struct cove_error *err)
{
	const char *k;
	json_t *v;

	if (!o)
		return 0;
	if (!json_is_object(o))
		return cove_error_set(
		    err, EINVAL, "invalid volume %s: expected an object", what);
	json_object_foreach((json_t *)o, k, v)
	{
		if (!*k)
			return cove_error_set(
			    err, EINVAL, "invalid volume %s: empty key", what);
		if (!json_is_string(v))
			return cove_error_set(err, EINVAL,
					      "invalid volume %s '%s': "
					      "expected a string",
					      what, k);
	}
	return 0;
}

static char *dump_object(const json_t *o)
{
	if (!o)
		return strdup("{}");
	return json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
}

static int insert_row(sqlite3 *db, const char *name, const char *driver,
		      const char *mountpoint, int64_t created,
		      const char *labels, const char *options,
		      struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int rc, r;

	r = prepare(db,
		    "INSERT INTO volumes (" COLUMNS ")"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
		    &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, driver, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, mountpoint, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, created);
	sqlite3_bind_text(st, 5, labels, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, options, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "cannot record the volume");
	return 0;
}

int cove_volume_create(sqlite3 *db, const char *volumes_dir,
		       const struct cove_volume_create_opts *o,
		       struct cove_volume *ret, struct cove_error *err)
{
	static const struct cove_volume_create_opts none = {0};
	_cleanup_free_ char *mountpoint = NULL, *labels = NULL, *options = NULL;
	_cleanup_tx_ struct tx tx = {0};
	_cleanup_close_ int dfd = -1;
	char random_name[65];
	const char *name;
	bool made = false;
	int r;

	if (!o)
		o = &none;
	if (o->driver && strcmp(o->driver, "local"))
		return cove_error_set(err, EINVAL,
				      "unsupported volume driver '%s': only "
				      "'local' is available",
				      o->driver);
	r = check_string_object(o->labels, "labels", err);
	if (r < 0)
		return r;
	r = check_string_object(o->options, "options", err);
	if (r < 0)
		return r;
	if (o->name) {
		r = cove_volume_name_validate(o->name, err);
		if (r < 0)
			return r;
		name = o->name;
	} else {
		r = random_hex(random_name, 32);
		if (r < 0)
			return cove_error_setx(err, r,
					       "cannot get random bytes");
		name = random_name;
	}
	mountpoint = cove_strdup_printf("%s/%s/_data", volumes_dir, name);
	labels = dump_object(o->labels);
	options = dump_object(o->options);
	if (!mountpoint || !labels || !options)
		return cove_error_set(err, ENOMEM, "out of memory");

	r = lock_volumes_dir(volumes_dir, &dfd, err);
	if (r < 0)
		return r;
	r = tx_begin(db, &tx, err);
	if (r < 0)
		return r;
	r = exists(db, name, err);
	if (r < 0)
		return r;
	if (r > 0) {
		tx_rollbackp(&tx);
		tx.active = false;
		if (!o->ignore)
			return cove_error_set(err, EEXIST,
					      "volume '%s' already exists "
					      "(use --ignore to accept an "
					      "existing volume)",
					      name);
		if (!ret)
			return 0;
		r = lookup(db, name, ret, err);
		return r < 0 ? r : 0;
	}
	/* SECURITY: the directory comes first; see the header */
	r = prepare_volume_dir(dfd, volumes_dir, name, &made, err);
	if (r < 0)
		return r;
	r = insert_row(db, name, "local", mountpoint, (int64_t)time(NULL),
		       labels, options, err);
	if (r >= 0)
		r = tx_commit(&tx, err);
	if (r < 0) {
		/* the lock is ours: nobody else can have recorded the name */
		if (made)
			(void)remove_volume_dir(dfd, volumes_dir, name, NULL);
		return r;
	}
	cove_events_object("volume", "create", NULL, name);
	if (ret) {
		r = lookup(db, name, ret, err);
		if (r < 0)
			return r;
	}
	return 1;
}

/* ---- remove, prune --------------------------------------------------------
 */

static int delete_row(sqlite3 *db, const char *name, struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int rc, r;

	r = prepare(db, "DELETE FROM volumes WHERE name = ?1", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "cannot remove the volume");
	return 0;
}

/*
 * Remove the row of @name, unless in use, then the directory.  The caller
 * holds the volumes directory lock (@dfd).  1: removed, 0: in use (only
 * when @skip_busy), -errno.
 */
static int remove_locked(sqlite3 *db, int dfd, const char *dir,
			 const char *name, cove_volume_in_use_fn in_use,
			 void *in_use_data, bool skip_busy,
			 struct cove_error *err)
{
	_cleanup_tx_ struct tx tx = {0};
	_cleanup_free_ char *user = NULL;
	int r;

	r = tx_begin(db, &tx, err);
	if (r < 0)
		return r;
	r = exists(db, name, err);
	if (r <= 0)
		return r < 0 ? r
			     : cove_error_set(err, ENOENT,
					      "no such volume '%s'", name);
	if (in_use) {
		r = in_use(in_use_data, db, name, &user, err);
		if (r < 0)
			return r;
		if (r > 0 && skip_busy)
			return 0;
		if (r > 0 && user)
			return cove_error_set(err, EBUSY,
					      "volume '%s' is in use by "
					      "container '%s'",
					      name, user);
		if (r > 0)
			return cove_error_set(err, EBUSY,
					      "volume '%s' is in use by a "
					      "container",
					      name);
	}
	r = delete_row(db, name, err);
	if (r < 0)
		return r;
	r = tx_commit(&tx, err);
	if (r < 0)
		return r;
	cove_events_object("volume", "remove", NULL, name);
	r = remove_volume_dir(dfd, dir, name, err);
	if (r < 0)
		return cove_error_wrap(err,
				       "volume '%s' was removed, but not "
				       "its directory",
				       name);
	return 1;
}

int cove_volume_remove(sqlite3 *db, const char *volumes_dir, const char *name,
		       unsigned flags, cove_volume_in_use_fn in_use,
		       void *in_use_data, char **ret_name,
		       struct cove_error *err)
{
	struct cove_volume v = {0};
	_cleanup_close_ int dfd = -1;
	int r;

	r = lock_volumes_dir(volumes_dir, &dfd, err);
	if (r < 0)
		return r;
	r = lookup(db, name, &v, err);
	if (r == -ENOENT && (flags & COVE_VOLUME_REMOVE_FORCE)) {
		cove_error_clear(err);
		return 0;
	}
	if (r < 0)
		return r;
	r = remove_locked(db, dfd, volumes_dir, v.name, in_use, in_use_data,
			  false, err);
	if (r > 0 && ret_name)
		*ret_name = TAKE_PTR(v.name);
	cove_volume_release(&v);
	return r;
}

/* Remove entries that a crash left: trash, and directories without a row. */
static int prune_leftovers(sqlite3 *db, int dfd, const char *dir, bool orphans,
			   struct cove_error *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_strv_ char **gone = NULL;
	struct dirent *de;
	int fd, r;

	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cove_error_setx(err, errno, "cannot open '%s'", dir);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return cove_error_setx(err, errno, "cannot open '%s'", dir);
	}
	while ((de = readdir(d))) {
		if (cove_str_has_prefix(de->d_name, TRASH_PREFIX)) {
			if (cove_strv_push(&gone, de->d_name) < 0)
				return cove_error_set(err, ENOMEM,
						      "out of memory");
			continue;
		}
		if (!orphans || cove_volume_name_validate(de->d_name, NULL) < 0)
			continue;
		r = exists(db, de->d_name, err);
		if (r < 0)
			return r;
		if (r == 0 && cove_strv_push(&gone, de->d_name) < 0)
			return cove_error_set(err, ENOMEM, "out of memory");
	}
	for (char **g = gone; g && *g; g++) {
		_cleanup_free_ char *p = cove_strdup_printf("%s/%s", dir, *g);

		if (!p)
			return cove_error_set(err, ENOMEM, "out of memory");
		r = cove_rm_rf(p);
		if (r < 0)
			return cove_error_setx(err, r, "cannot remove '%s'", p);
	}
	return 0;
}

int cove_volume_prune(sqlite3 *db, const char *volumes_dir,
		      char *const *label_filters, cove_volume_in_use_fn in_use,
		      void *in_use_data, char ***ret_removed,
		      struct cove_error *err)
{
	_cleanup_strv_ char **removed = NULL;
	struct cove_volume *vs = NULL;
	_cleanup_close_ int dfd = -1;
	size_t n = 0;
	int r;

	r = lock_volumes_dir(volumes_dir, &dfd, err);
	if (r < 0)
		return r;
	r = cove_volume_list(db, label_filters, &vs, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		r = remove_locked(db, dfd, volumes_dir, vs[i].name, in_use,
				  in_use_data, true, err);
		if (r == -ENOENT) { /* gone meanwhile (not by a prune) */
			cove_error_clear(err);
			continue;
		}
		if (r < 0)
			goto out;
		if (r > 0)
			cove_events_object("volume", "prune", NULL, vs[i].name);
		if (r > 0 && cove_strv_push(&removed, vs[i].name) < 0) {
			r = cove_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
	}
	/* a directory without a row has no labels: no filter matches it */
	r = prune_leftovers(db, dfd, volumes_dir,
			    !label_filters || !*label_filters, err);
	if (r < 0)
		goto out;
	*ret_removed = TAKE_PTR(removed);
	r = 0;
out:
	cove_volumes_free(vs, n);
	return r;
}

/* ---- copy-up ------------------------------------------------------------- */

/*
 * Deeper trees are refused: every level holds two directory fds and a
 * directory stream, and the soft fd limit may be 1024.
 */
#define COPY_MAX_DEPTH 128

struct hardlink {
	dev_t dev;
	ino_t ino;
	char *path; /* of the first copy, relative to the volume */
};

struct copy {
	struct cove_error *err;
	const char *dst_path; /* the volume directory, for messages */
	int dst_root;
	struct hardlink *links;
	size_t n_links, cap_links;
	char path[PATH_MAX]; /* of the entry being copied, relative */
	size_t len;
	unsigned depth;
};

static void copy_release(struct copy *c)
{
	for (size_t i = 0; i < c->n_links; i++)
		free(c->links[i].path);
	free(c->links);
}

static int copy_fail(struct copy *c, int code, const char *what)
{
	return cove_error_setx(c->err, code, "copy-up into '%s': %s '%s'",
			       c->dst_path, what, c->len ? c->path : ".");
}

static bool ignorable_meta_errno(int e)
{
	return e == EPERM || e == EINVAL || e == ENOTSUP || e == EOPNOTSUPP ||
	       e == EACCES || e == ENODATA || e == E2BIG || e == ERANGE;
}

static bool overlay_xattr(const char *name)
{
	return cove_str_has_prefix(name, "trusted.overlay.") ||
	       cove_str_has_prefix(name, "user.overlay.");
}

/* xattrs of @src onto @dst (both open, not O_PATH), best-effort. */
static void copy_xattrs(int src, int dst)
{
	_cleanup_free_ char *names = NULL, *value = NULL;
	ssize_t len;

	len = flistxattr(src, NULL, 0);
	if (len <= 0)
		return;
	names = malloc((size_t)len);
	value = malloc(XATTR_SIZE_MAX);
	if (!names || !value)
		return;
	len = flistxattr(src, names, (size_t)len);
	for (ssize_t i = 0; i < len;) {
		const char *n = names + i;
		ssize_t vlen;

		i += (ssize_t)strlen(n) + 1;
		if (!*n || overlay_xattr(n))
			continue;
		vlen = fgetxattr(src, n, value, XATTR_SIZE_MAX);
		if (vlen >= 0)
			(void)fsetxattr(dst, n, value, (size_t)vlen, 0);
	}
}

/*
 * Owner, mode, xattrs and times of @st onto the open @fd.  Owners and
 * xattrs are best-effort (an unprivileged user cannot give files away);
 * the mode is not: it is set after chown, which clears set-id bits.
 */
static int apply_meta_fd(struct copy *c, int src, int fd, const struct stat *st)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};

	if (fchown(fd, st->st_uid, st->st_gid) < 0 &&
	    !ignorable_meta_errno(errno))
		return copy_fail(c, errno, "cannot chown");
	copy_xattrs(src, fd);
	if (fchmod(fd, st->st_mode & 07777) < 0)
		return copy_fail(c, errno, "cannot chmod");
	if (futimens(fd, ts) < 0)
		return copy_fail(c, errno, "cannot set the times of");
	return 0;
}

static int push_name(struct copy *c, const char *name, size_t *ret_old)
{
	size_t nlen = strlen(name), need = c->len + (c->len ? 1 : 0) + nlen;

	if (need >= sizeof(c->path))
		return cove_error_set(c->err, ENAMETOOLONG,
				      "copy-up into '%s': path too long under "
				      "'%s'",
				      c->dst_path, c->len ? c->path : ".");
	*ret_old = c->len;
	if (c->len)
		c->path[c->len++] = '/';
	memcpy(c->path + c->len, name, nlen + 1);
	c->len += nlen;
	return 0;
}

static void pop_name(struct copy *c, size_t old)
{
	c->len = old;
	c->path[old] = '\0';
}

static ssize_t copy_data(int src, int dst)
{
	char buf[65536];
	bool try_cfr = true;

	for (;;) {
		ssize_t n;

		if (try_cfr) {
			n = copy_file_range(src, NULL, dst, NULL, 1 << 30, 0);
			if (n > 0)
				continue;
			if (n == 0)
				return 0;
			if (errno == EINTR)
				continue;
			if (errno != EXDEV && errno != EINVAL &&
			    errno != ENOSYS && errno != EOPNOTSUPP &&
			    errno != EPERM)
				return -errno;
			try_cfr = false;
		}
		n = read(src, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		n = cove_write_all(dst, buf, (size_t)n);
		if (n < 0)
			return n;
	}
}

static const struct hardlink *find_link(struct copy *c, const struct stat *st)
{
	for (size_t i = 0; i < c->n_links; i++)
		if (c->links[i].dev == st->st_dev &&
		    c->links[i].ino == st->st_ino)
			return &c->links[i];
	return NULL;
}

static int remember_link(struct copy *c, const struct stat *st)
{
	char *p;

	if (c->n_links == c->cap_links) {
		size_t ncap = c->cap_links ? 2 * c->cap_links : 16;
		struct hardlink *nl =
		    reallocarray(c->links, ncap, sizeof(*c->links));
		if (!nl)
			return cove_error_set(c->err, ENOMEM, "out of memory");
		c->links = nl;
		c->cap_links = ncap;
	}
	p = strdup(c->path);
	if (!p)
		return cove_error_set(c->err, ENOMEM, "out of memory");
	c->links[c->n_links++] = (struct hardlink){st->st_dev, st->st_ino, p};
	return 0;
}

/*
 * Hard-link @name in @dfd to the copy made earlier of the same source
 * inode.  Its parent is resolved below the volume without following any
 * symlink (they are all this function's own, but the walk need not trust
 * that).  1: linked, 0: cannot (the caller copies the data instead).
 */
static int link_again(struct copy *c, const struct hardlink *h, int dfd,
		      const char *name)
{
	struct open_how how = {
	    .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		       RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	_cleanup_free_ char *parent = strdup(h->path);
	_cleanup_close_ int pfd = -1;
	char *slash, *base;

	if (!parent)
		return cove_error_set(c->err, ENOMEM, "out of memory");
	slash = strrchr(parent, '/');
	if (slash) {
		*slash = '\0';
		base = slash + 1;
		pfd = (int)syscall(SYS_openat2, c->dst_root, parent, &how,
				   sizeof(how));
		if (pfd < 0)
			return 0;
	} else {
		base = parent;
	}
	if (linkat(pfd >= 0 ? pfd : c->dst_root, base, dfd, name, 0) < 0)
		return errno == EMLINK ? 0 : copy_fail(c, errno, "cannot link");
	return 1;
}

static int copy_tree(struct copy *c, int sfd, int dfd);

static int copy_dir(struct copy *c, int sfd, int dfd, const char *name,
		    const struct stat *st)
{
	_cleanup_close_ int s = -1, d = -1;
	struct stat now;
	int r;

	if (c->depth >= COPY_MAX_DEPTH)
		return cove_error_set(c->err, ELOOP,
				      "copy-up into '%s': '%s' is deeper than "
				      "%d levels",
				      c->dst_path, c->path, COPY_MAX_DEPTH);
	s = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s < 0)
		return copy_fail(c, errno, "cannot open");
	if (fstat(s, &now) < 0)
		return copy_fail(c, errno, "cannot stat");
	if (now.st_dev != st->st_dev || now.st_ino != st->st_ino)
		return copy_fail(c, EAGAIN, "changed while copying");
	if (mkdirat(dfd, name, 0700) < 0)
		return copy_fail(c, errno, "cannot create");
	d = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0)
		return copy_fail(c, errno, "cannot open the copy of");
	c->depth++;
	r = copy_tree(c, s, d);
	c->depth--;
	if (r < 0)
		return r;
	/* last: the times would change with every entry made inside */
	return apply_meta_fd(c, s, d, st);
}

static int copy_file(struct copy *c, int sfd, int dfd, const char *name,
		     const struct stat *st)
{
	_cleanup_close_ int s = -1, d = -1;
	struct stat now;
	int r;

	if (st->st_nlink > 1) {
		const struct hardlink *h = find_link(c, st);

		if (h) {
			r = link_again(c, h, dfd, name);
			if (r != 0)
				return r < 0 ? r : 0;
		}
	}
	s = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return copy_fail(c, errno, "cannot open");
	if (fstat(s, &now) < 0)
		return copy_fail(c, errno, "cannot stat");
	if (!S_ISREG(now.st_mode) || now.st_dev != st->st_dev ||
	    now.st_ino != st->st_ino)
		return copy_fail(c, EAGAIN, "changed while copying");
	d = openat(dfd, name,
		   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (d < 0)
		return copy_fail(c, errno, "cannot create");
	r = (int)copy_data(s, d);
	if (r < 0)
		return copy_fail(c, -r, "cannot copy");
	r = apply_meta_fd(c, s, d, st);
	if (r < 0)
		return r;
	if (st->st_nlink > 1 && !find_link(c, st))
		return remember_link(c, st);
	return 0;
}

static int copy_symlink(struct copy *c, int sfd, int dfd, const char *name,
			const struct stat *st)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	char target[PATH_MAX];
	ssize_t n;

	n = readlinkat(sfd, name, target, sizeof(target));
	if (n < 0)
		return copy_fail(c, errno, "cannot read the link");
	if ((size_t)n >= sizeof(target))
		return copy_fail(c, ENAMETOOLONG, "cannot read the link");
	target[n] = '\0';
	if (symlinkat(target, dfd, name) < 0)
		return copy_fail(c, errno, "cannot create");
	if (fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) <
		0 &&
	    !ignorable_meta_errno(errno))
		return copy_fail(c, errno, "cannot chown");
	if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return copy_fail(c, errno, "cannot set the times of");
	return 0;
}

/* Device nodes and FIFOs: an unprivileged user may not make devices. */
static int copy_special(struct copy *c, int dfd, const char *name,
			const struct stat *st)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	_cleanup_close_ int fd = -1;

	if (mknodat(dfd, name, (st->st_mode & S_IFMT) | 0600, st->st_rdev) <
	    0) {
		if (errno == EPERM && !S_ISFIFO(st->st_mode))
			return 0;
		return copy_fail(c, errno, "cannot create");
	}
	/* O_PATH: opening a FIFO or a device for real would block or act */
	fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return copy_fail(c, errno, "cannot open the copy of");
	if (fchownat(fd, "", st->st_uid, st->st_gid, AT_EMPTY_PATH) < 0 &&
	    !ignorable_meta_errno(errno))
		return copy_fail(c, errno, "cannot chown");
	if (fchmodat(dfd, name, st->st_mode & 07777, 0) < 0)
		return copy_fail(c, errno, "cannot chmod");
	if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return copy_fail(c, errno, "cannot set the times of");
	return 0;
}

static int copy_tree(struct copy *c, int sfd, int dfd)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd;

	fd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return copy_fail(c, errno, "cannot open");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return copy_fail(c, errno, "cannot read");
	}
	for (;;) {
		struct stat st;
		size_t old = 0;
		int r;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				return copy_fail(c, errno, "cannot read");
			return 0;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = push_name(c, de->d_name, &old);
		if (r < 0)
			return r;
		if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			r = copy_fail(c, errno, "cannot stat");
		else if (S_ISDIR(st.st_mode))
			r = copy_dir(c, sfd, dfd, de->d_name, &st);
		else if (S_ISREG(st.st_mode))
			r = copy_file(c, sfd, dfd, de->d_name, &st);
		else if (S_ISLNK(st.st_mode))
			r = copy_symlink(c, sfd, dfd, de->d_name, &st);
		else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ||
			 S_ISFIFO(st.st_mode))
			r = copy_special(c, dfd, de->d_name, &st);
		else
			r = 0; /* sockets belong to a process, not an image */
		if (r < 0)
			return r;
		pop_name(c, old);
	}
}

/* Empty the volume again after a failed copy. */
static void remove_children(const char *dir, int fd)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_strv_ char **names = NULL;
	struct dirent *de;
	int dfd;

	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    cove_strv_push(&names, de->d_name) < 0)
			return;
	for (char **n = names; n && *n; n++) {
		_cleanup_free_ char *p = cove_strdup_printf("%s/%s", dir, *n);

		if (p)
			(void)cove_rm_rf(p);
	}
}

int cove_volume_copy_up(const char *volume_data_dir, int image_dir_fd,
			struct cove_error *err)
{
	struct copy c = {.err = err, .dst_path = volume_data_dir};
	_cleanup_close_ int src = -1, dst = -1;
	struct stat st;
	int r;

	src = openat(image_dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0 || fstat(src, &st) < 0)
		return cove_error_setx(err, errno,
				       "copy-up into '%s': cannot open the "
				       "image directory",
				       volume_data_dir);
	dst = open(volume_data_dir,
		   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dst < 0)
		return cove_error_setx(err, errno, "cannot open '%s'",
				       volume_data_dir);
	r = dir_is_empty(dst);
	if (r < 0)
		return cove_error_setx(err, r, "cannot read '%s'",
				       volume_data_dir);
	if (r == 0)
		return 0;
	c.dst_root = dst;
	r = copy_tree(&c, src, dst);
	if (r >= 0)
		r = apply_meta_fd(&c, src, dst, &st);
	copy_release(&c);
	if (r < 0) {
		remove_children(volume_data_dir, dst);
		return r;
	}
	return 1;
}

/*
 * Kernels without openat2 (< 5.6): walk @path one component at a time
 * without following any symlink; a symlink on the way means nothing to
 * copy rather than a guess at where it leads.
 */
static int open_in_root_nofollow(int rootfd, const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_close_ int cur = -1;
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return -errno;
	for (char *tok = strtok_r(copy, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save)) {
		int next;

		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, ".."))
			return -ENOENT;
		next = openat(cur, tok,
			      O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return -errno;
		close(cur);
		cur = next;
	}
	return TAKE_FD(cur);
}

int cove_volume_copy_up_from_rootfs(const char *volume_data_dir, int rootfs_fd,
				    const char *path, struct cove_error *err)
{
	struct open_how how = {
	    .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	_cleanup_close_ int fd = -1;

	fd = (int)syscall(SYS_openat2, rootfs_fd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS) {
		fd = open_in_root_nofollow(rootfs_fd, path);
		if (fd < 0)
			errno = -fd;
	}
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			return 0;
		return cove_error_setx(err, errno,
				       "copy-up: cannot open '%s' in the "
				       "container's root file system",
				       path);
	}
	return cove_volume_copy_up(volume_data_dir, fd, err);
}
