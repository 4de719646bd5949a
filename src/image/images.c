#include "image/images.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "image/reference.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

#define SCHEMA_VERSION 1
/*
 * Long enough for another cove process to finish a pull's bookkeeping or
 * a prune; writers hold the lock only for a handful of statements.
 */
#define BUSY_TIMEOUT_MS 60000

struct cove_images {
	sqlite3 *db;
	char *path;
};

static const char schema[] =
    "CREATE TABLE images ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " manifest_digest TEXT NOT NULL,"
    " manifest_media_type TEXT NOT NULL,"
    " index_digest TEXT NOT NULL DEFAULT '',"
    " created INTEGER NOT NULL DEFAULT 0,"
    " added INTEGER NOT NULL,"
    " size INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE names ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " image_id TEXT NOT NULL REFERENCES images(id) ON DELETE RESTRICT);"
    "CREATE INDEX names_image ON names(image_id);"
    "CREATE INDEX images_manifest ON images(manifest_digest);"
    "CREATE INDEX images_index ON images(index_digest);";

static void stmt_finalizep(sqlite3_stmt **s)
{
	sqlite3_finalize(*s); /* NULL is a no-op */
}
#define _cleanup_stmt_ _cleanup_(stmt_finalizep)

static int db_error(struct cove_images *db, int rc, struct cove_error *err,
		    const char *what)
{
	int code;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = EBUSY;
		break;
	case SQLITE_FULL:
		code = ENOSPC;
		break;
	case SQLITE_NOMEM:
		code = ENOMEM;
		break;
	case SQLITE_READONLY:
		code = EROFS;
		break;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		code = EACCES;
		break;
	default:
		code = EIO;
	}
	return cove_error_set(err, code, "%s: %s: %s", db->path, what,
			      sqlite3_errmsg(db->db));
}

/* A write transaction, rolled back at scope exit unless committed. */
struct tx {
	struct cove_images *db;
	bool active;
};

static void tx_rollbackp(struct tx *tx)
{
	if (tx->active)
		sqlite3_exec(tx->db->db, "ROLLBACK", NULL, NULL, NULL);
}
#define _cleanup_tx_ _cleanup_(tx_rollbackp)

/*
 * IMMEDIATE takes the write lock at once: a deferred transaction that
 * reads and then writes can fail to upgrade its lock with SQLITE_BUSY
 * whatever the busy timeout, when another writer went first.
 */
static int tx_begin(struct cove_images *db, struct tx *tx, bool write,
		    struct cove_error *err)
{
	int rc = sqlite3_exec(db->db, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL,
			      NULL, NULL);
	if (rc != SQLITE_OK)
		return db_error(db, rc, err, "cannot begin a transaction");
	tx->db = db;
	tx->active = true;
	return 0;
}

static int tx_commit(struct tx *tx, struct cove_error *err)
{
	int rc = sqlite3_exec(tx->db->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return db_error(tx->db, rc, err, "cannot commit");
	tx->active = false;
	return 0;
}

static int prepare(struct cove_images *db, const char *sql, sqlite3_stmt **ret,
		   struct cove_error *err)
{
	int rc = sqlite3_prepare_v2(db->db, sql, -1, ret, NULL);
	if (rc != SQLITE_OK)
		return db_error(db, rc, err, "cannot prepare a statement");
	return 0;
}

/* Run a statement that returns no rows. */
static int step_done(struct cove_images *db, sqlite3_stmt *st,
		     struct cove_error *err)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_error(db, rc, err, "statement failed");
	return 0;
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) == SQLITE_OK
		   ? 0
		   : -ENOMEM;
}

/* ---- open -------------------------------------------------------------- */

static int set_wal(struct cove_images *db, struct cove_error *err)
{
	int rc = SQLITE_OK;

	/*
	 * Switching to WAL needs a moment alone with the file; when several
	 * processes create the database at once, one of them may be told
	 * BUSY without the busy handler being consulted.  WAL is recorded
	 * in the file, so this only races on first use.
	 */
	for (int i = 0; i < 200; i++) {
		rc = sqlite3_exec(db->db, "PRAGMA journal_mode=WAL", NULL, NULL,
				  NULL);
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			break;
		usleep(10000);
	}
	if (rc != SQLITE_OK)
		return db_error(db, rc, err, "cannot enable WAL mode");
	return 0;
}

static int init_schema(struct cove_images *db, struct cove_error *err)
{
	_cleanup_tx_ struct tx tx = {0};
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int version, rc, r;

	r = tx_begin(db, &tx, true, err);
	if (r < 0)
		return r;
	r = prepare(db, "PRAGMA user_version", &st, err);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return db_error(db, rc, err, "cannot read the schema version");
	version = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	if (version > SCHEMA_VERSION)
		return cove_error_set(err, EPROTO,
				      "%s: schema version %d is newer than "
				      "this cove understands (%d)",
				      db->path, version, SCHEMA_VERSION);
	if (version == 0) {
		char sql[64];
		rc = sqlite3_exec(db->db, schema, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return db_error(db, rc, err,
					"cannot create the schema");
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d",
			 SCHEMA_VERSION);
		rc = sqlite3_exec(db->db, sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return db_error(db, rc, err,
					"cannot set the schema version");
	}
	return tx_commit(&tx, err);
}

int cove_images_open(const char *root, struct cove_images **ret,
		     struct cove_error *err)
{
	struct cove_images *db;
	int rc, r;

	r = cove_mkdir_p(root, 0700);
	if (r < 0)
		return cove_error_setx(err, r, "cannot create %s", root);
	db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	db->path = cove_strdup_printf("%s/cove.db", root);
	if (!db->path) {
		free(db);
		return -ENOMEM;
	}
	rc = sqlite3_open_v2(db->path, &db->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		r = db->db ? db_error(db, rc, err, "cannot open")
			   : cove_error_set(err, ENOMEM, "%s: cannot open",
					    db->path);
		goto fail;
	}
	sqlite3_extended_result_codes(db->db, 1);
	sqlite3_busy_timeout(db->db, BUSY_TIMEOUT_MS);
	r = set_wal(db, err);
	if (r < 0)
		goto fail;
	/*
	 * FULL: a pull that returned has its image recorded even across a
	 * power cut (NORMAL may lose the last commits in WAL mode).
	 */
	rc = sqlite3_exec(db->db,
			  "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = db_error(db, rc, err, "cannot configure");
		goto fail;
	}
	r = init_schema(db, err);
	if (r < 0)
		goto fail;
	*ret = db;
	return 0;
fail:
	cove_images_free(db);
	return r;
}

void cove_images_free(struct cove_images *db)
{
	if (!db)
		return;
	sqlite3_close_v2(db->db);
	free(db->path);
	free(db);
}

/* ---- records ----------------------------------------------------------- */

void cove_image_record_release(struct cove_image_record *rec)
{
	if (!rec)
		return;
	free(rec->manifest_media_type);
	cove_strv_free(rec->names);
	*rec = (struct cove_image_record){0};
}

void cove_image_records_free(struct cove_image_record *recs, size_t n)
{
	for (size_t i = 0; recs && i < n; i++)
		cove_image_record_release(&recs[i]);
	free(recs);
}

static void copy_digest(char *dst, const unsigned char *src)
{
	snprintf(dst, COVE_DIGEST_MAX, "%s", src ? (const char *)src : "");
}

#define RECORD_COLUMNS                                                         \
	"id, manifest_digest, manifest_media_type, index_digest, created, "    \
	"added, size"

static int read_names(struct cove_images *db, const char *id, char ***ret,
		      struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	_cleanup_strv_ char **names = NULL;
	int rc, r;

	r = prepare(db,
		    "SELECT name FROM names WHERE image_id = ?1 ORDER BY name",
		    &st, err);
	if (r < 0)
		return r;
	if (bind_text(st, 1, id) < 0)
		return -ENOMEM;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (cove_strv_push(
			&names, (const char *)sqlite3_column_text(st, 0)) < 0)
			return -ENOMEM;
	if (rc != SQLITE_DONE)
		return db_error(db, rc, err, "cannot read names");
	*ret = TAKE_PTR(names);
	return 0;
}

/* Fill @rec from a row of RECORD_COLUMNS (and its names). */
static int read_record(struct cove_images *db, sqlite3_stmt *st,
		       struct cove_image_record *rec, struct cove_error *err)
{
	const unsigned char *mt;

	*rec = (struct cove_image_record){0};
	copy_digest(rec->id, sqlite3_column_text(st, 0));
	copy_digest(rec->manifest_digest, sqlite3_column_text(st, 1));
	mt = sqlite3_column_text(st, 2);
	rec->manifest_media_type = strdup(mt ? (const char *)mt : "");
	if (!rec->manifest_media_type)
		return -ENOMEM;
	copy_digest(rec->index_digest, sqlite3_column_text(st, 3));
	rec->created = sqlite3_column_int64(st, 4);
	rec->added = sqlite3_column_int64(st, 5);
	rec->size = sqlite3_column_int64(st, 6);
	return read_names(db, rec->id, &rec->names, err);
}

/* The one row @st selects, as a record: -ENOENT when there is none. */
static int step_record(struct cove_images *db, sqlite3_stmt *st,
		       struct cove_image_record *ret, struct cove_error *err)
{
	struct cove_image_record rec;
	int rc = sqlite3_step(st), r;

	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return db_error(db, rc, err, "cannot look up an image");
	r = read_record(db, st, &rec, err);
	if (r < 0) {
		cove_image_record_release(&rec);
		return r;
	}
	*ret = rec;
	return 0;
}

/* One record by a query with one text parameter; -ENOENT if no row. */
static int query_one(struct cove_images *db, const char *sql, const char *param,
		     struct cove_image_record *ret, struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = prepare(db, sql, &st, err);
	if (r < 0)
		return r;
	if (bind_text(st, 1, param) < 0)
		return -ENOMEM;
	return step_record(db, st, ret, err);
}

static int image_exists(struct cove_images *db, const char *id,
			struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int rc, r;

	r = prepare(db, "SELECT 1 FROM images WHERE id = ?1", &st, err);
	if (r < 0)
		return r;
	if (bind_text(st, 1, id) < 0)
		return -ENOMEM;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_error(db, rc, err, "cannot look up an image");
}

/* The normalised, fully qualified form of a name. */
static int normalize_name(const char *name, char **ret, struct cove_error *err)
{
	struct cove_image_ref ref;
	int r;

	r = cove_image_ref_parse(name, &ref, err);
	if (r < 0)
		return r;
	*ret = cove_image_ref_format(&ref);
	cove_image_ref_release(&ref);
	return *ret ? 0 : -ENOMEM;
}

static int put_name(struct cove_images *db, const char *id, const char *name,
		    struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	_cleanup_free_ char *norm = NULL;
	int r;

	r = normalize_name(name, &norm, err);
	if (r < 0)
		return r;
	r = prepare(
	    db,
	    "INSERT INTO names (name, image_id) VALUES (?1, ?2)"
	    " ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
	    &st, err);
	if (r < 0)
		return r;
	if (bind_text(st, 1, norm) < 0 || bind_text(st, 2, id) < 0)
		return -ENOMEM;
	return step_done(db, st, err);
}

/* ---- changes ----------------------------------------------------------- */

int cove_images_add(struct cove_images *db, const struct cove_image_record *rec,
		    const char *const *names, struct cove_error *err)
{
	_cleanup_tx_ struct tx tx = {0};
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	r = cove_digest_validate(rec->id, NULL, err);
	if (r < 0)
		return cove_error_wrap(err, "invalid image id");
	r = cove_digest_validate(rec->manifest_digest, NULL, err);
	if (r < 0)
		return cove_error_wrap(err, "invalid manifest digest");
	if (rec->index_digest[0]) {
		r = cove_digest_validate(rec->index_digest, NULL, err);
		if (r < 0)
			return cove_error_wrap(err, "invalid index digest");
	}
	if (!rec->manifest_media_type || !*rec->manifest_media_type)
		return cove_error_set(err, EINVAL,
				      "image %s: missing manifest media type",
				      rec->id);
	if (rec->size < 0)
		return cove_error_set(err, EINVAL, "image %s: negative size",
				      rec->id);

	r = tx_begin(db, &tx, true, err);
	if (r < 0)
		return r;
	r = prepare(db,
		    "INSERT INTO images (" RECORD_COLUMNS ")"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
		    " ON CONFLICT(id) DO UPDATE SET"
		    " manifest_digest = excluded.manifest_digest,"
		    " manifest_media_type = excluded.manifest_media_type,"
		    " index_digest = excluded.index_digest,"
		    " created = excluded.created, size = excluded.size",
		    &st, err);
	if (r < 0)
		return r;
	if (bind_text(st, 1, rec->id) < 0 ||
	    bind_text(st, 2, rec->manifest_digest) < 0 ||
	    bind_text(st, 3, rec->manifest_media_type) < 0 ||
	    bind_text(st, 4, rec->index_digest) < 0 ||
	    sqlite3_bind_int64(st, 5, rec->created) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 6, (int64_t)time(NULL)) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 7, rec->size) != SQLITE_OK)
		return -ENOMEM;
	r = step_done(db, st, err);
	if (r < 0)
		return r;
	for (size_t i = 0; names && names[i]; i++) {
		r = put_name(db, rec->id, names[i], err);
		if (r < 0)
			return r; /* the transaction rolls back */
	}
	return tx_commit(&tx, err);
}

int cove_images_tag(struct cove_images *db, const char *id, const char *name,
		    struct cove_error *err)
{
	_cleanup_tx_ struct tx tx = {0};
	int r;

	r = cove_digest_validate(id, NULL, err);
	if (r < 0)
		return cove_error_wrap(err, "invalid image id");
	r = tx_begin(db, &tx, true, err);
	if (r < 0)
		return r;
	r = image_exists(db, id, err);
	if (r < 0)
		return r;
	if (r == 0)
		return cove_error_set(err, ENOENT, "image '%s' not known", id);
	r = put_name(db, id, name, err);
	if (r < 0)
		return r;
	return tx_commit(&tx, err);
}

/* Whether @s names no registry: its first component has no '.' or ':' and
 * is not "localhost" (docker's rule for a domain). */
static bool short_name(const char *s)
{
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : 0;

	if (!slash)
		return true;
	return !memchr(s, '.', n) && !memchr(s, ':', n) &&
	       !(n == 9 && !memcmp(s, "localhost", 9));
}

int cove_images_untag(struct cove_images *db, const char *name,
		      struct cove_error *err)
{
	_cleanup_tx_ struct tx tx = {0};
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	_cleanup_free_ char *norm = NULL;
	int r;

	r = normalize_name(name, &norm, err);
	if (r < 0)
		return r;
	r = tx_begin(db, &tx, true, err);
	if (r < 0)
		return r;
	r = prepare(db, "DELETE FROM names WHERE name = ?1", &st, err);
	if (r < 0)
		return r;
	/* a short name: localhost's first, as lookups resolve it */
	if (short_name(name)) {
		_cleanup_free_ char *local = NULL, *lnorm = NULL;
		local = cove_strdup_printf("localhost/%s", name);
		if (!local)
			return -ENOMEM;
		if (normalize_name(local, &lnorm, NULL) == 0) {
			if (bind_text(st, 1, lnorm) < 0)
				return -ENOMEM;
			r = step_done(db, st, err);
			if (r < 0)
				return r;
			if (sqlite3_changes(db->db) > 0)
				return tx_commit(&tx, err);
			sqlite3_reset(st);
		}
	}
	if (bind_text(st, 1, norm) < 0)
		return -ENOMEM;
	r = step_done(db, st, err);
	if (r < 0)
		return r;
	if (sqlite3_changes(db->db) == 0)
		return cove_error_set(err, ENOENT, "no image is named '%s'",
				      norm);
	return tx_commit(&tx, err);
}

int cove_images_remove(struct cove_images *db, const char *id, bool force,
		       struct cove_error *err)
{
	_cleanup_tx_ struct tx tx = {0};
	_cleanup_stmt_ sqlite3_stmt *del_names = NULL, *del_image = NULL;
	_cleanup_strv_ char **names = NULL;
	int r;

	r = cove_digest_validate(id, NULL, err);
	if (r < 0)
		return cove_error_wrap(err, "invalid image id");
	r = tx_begin(db, &tx, true, err);
	if (r < 0)
		return r;
	r = image_exists(db, id, err);
	if (r < 0)
		return r;
	if (r == 0)
		return cove_error_set(err, ENOENT, "image '%s' not known", id);
	r = read_names(db, id, &names, err);
	if (r < 0)
		return r;
	if (names && !force)
		return cove_error_set(err, EBUSY,
				      "image %s is still named '%s'%s: remove "
				      "the name first or force",
				      id, names[0],
				      names[1] ? " (and others)" : "");
	r = prepare(db, "DELETE FROM names WHERE image_id = ?1", &del_names,
		    err);
	if (r < 0)
		return r;
	r = prepare(db, "DELETE FROM images WHERE id = ?1", &del_image, err);
	if (r < 0)
		return r;
	if (bind_text(del_names, 1, id) < 0 || bind_text(del_image, 1, id) < 0)
		return -ENOMEM;
	r = step_done(db, del_names, err);
	if (r < 0)
		return r;
	r = step_done(db, del_image, err);
	if (r < 0)
		return r;
	return tx_commit(&tx, err);
}

/* ---- queries ----------------------------------------------------------- */

static bool all_hex(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* A name pinned by digest: by its exact name, else by repository. */
static int lookup_pinned(struct cove_images *db,
			 const struct cove_image_ref *ref,
			 struct cove_image_record *ret, struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	_cleanup_free_ char *repo = NULL, *repo_tag = NULL, *repo_at = NULL;
	int r;

	repo = cove_image_ref_name(ref);
	if (!repo)
		return -ENOMEM;
	repo_tag = cove_strdup_printf("%s:", repo);
	repo_at = cove_strdup_printf("%s@", repo);
	if (!repo_tag || !repo_at)
		return -ENOMEM;
	/* The manifest's own digest first, then an index's (newest first). */
	r = prepare(
	    db,
	    "SELECT " RECORD_COLUMNS " FROM images"
	    " WHERE (manifest_digest = ?1 OR index_digest = ?1)"
	    " AND EXISTS (SELECT 1 FROM names WHERE image_id = images.id"
	    "  AND (substr(name, 1, length(?2)) = ?2"
	    "   OR substr(name, 1, length(?3)) = ?3))"
	    " ORDER BY manifest_digest = ?1 DESC, added DESC LIMIT 1",
	    &st, err);
	if (r < 0)
		return r;
	if (bind_text(st, 1, ref->digest) < 0 ||
	    bind_text(st, 2, repo_tag) < 0 || bind_text(st, 3, repo_at) < 0)
		return -ENOMEM;
	return step_record(db, st, ret, err);
}

static int lookup_prefix(struct cove_images *db, const char *s,
			 struct cove_image_record *ret, struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	const char *colon = strchr(s, ':');
	const char *hex = colon ? colon + 1 : s;
	struct cove_image_record rec;
	int rc, r;

	if (!all_hex(hex) || strlen(hex) < 3)
		return -ENOENT;
	if (colon && strncmp(s, "sha256:", 7) != 0 &&
	    strncmp(s, "sha512:", 7) != 0)
		return -ENOENT;
	r = prepare(
	    db,
	    colon ? "SELECT " RECORD_COLUMNS " FROM images"
		    " WHERE substr(id, 1, length(?1)) = ?1 LIMIT 2"
		  : "SELECT " RECORD_COLUMNS " FROM images"
		    " WHERE substr(id, instr(id, ':') + 1, length(?1)) = ?1"
		    " LIMIT 2",
	    &st, err);
	if (r < 0)
		return r;
	if (bind_text(st, 1, s) < 0)
		return -ENOMEM;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return db_error(db, rc, err, "cannot look up an image");
	r = read_record(db, st, &rec, err);
	if (r < 0) {
		cove_image_record_release(&rec);
		return r;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		cove_image_record_release(&rec);
		return cove_error_set(
		    err, EINVAL,
		    "short id '%s' is ambiguous: more than one image matches",
		    s);
	}
	*ret = rec;
	return 0;
}

/* The image named @s (normalized), pinned digests included; -ENOENT */
static int lookup_name(struct cove_images *db, const char *s,
		       struct cove_image_record *ret, struct cove_error *err)
{
	struct cove_image_ref ref;
	int r;

	if (cove_image_ref_parse(s, &ref, NULL) < 0)
		return -ENOENT;
	{
		_cleanup_free_ char *norm = cove_image_ref_format(&ref);
		if (!norm) {
			cove_image_ref_release(&ref);
			return -ENOMEM;
		}
		r = query_one(db,
			      "SELECT " RECORD_COLUMNS " FROM images"
			      " WHERE id = (SELECT image_id FROM names"
			      " WHERE name = ?1)",
			      norm, ret, err);
	}
	if (r == -ENOENT && ref.digest)
		r = lookup_pinned(db, &ref, ret, err);
	cove_image_ref_release(&ref);
	return r;
}

static int lookup_locked(struct cove_images *db, const char *s,
			 struct cove_image_record *ret, struct cove_error *err)
{
	static const char *by_id =
	    "SELECT " RECORD_COLUMNS " FROM images WHERE id = ?1";
	int r;

	/* 1. a full id */
	if (cove_digest_validate(s, NULL, NULL) == 0) {
		r = query_one(db, by_id, s, ret, err);
		if (r != -ENOENT)
			return r;
	} else if (strlen(s) == 64 && all_hex(s)) {
		_cleanup_free_ char *id = cove_strdup_printf("sha256:%s", s);
		if (!id)
			return -ENOMEM;
		r = query_one(db, by_id, id, ret, err);
		if (r != -ENOENT)
			return r;
	}
	/*
	 * 2. a name; a short one ("foo:1", no registry) first as localhost's,
	 * the name `cove commit` and `cove tag` give, as podman resolves
	 * short names against local images
	 */
	if (short_name(s)) {
		_cleanup_free_ char *local =
		    cove_strdup_printf("localhost/%s", s);
		if (!local)
			return -ENOMEM;
		r = lookup_name(db, local, ret, err);
		if (r != -ENOENT)
			return r;
	}
	r = lookup_name(db, s, ret, err);
	if (r != -ENOENT)
		return r;
	/* 3. a short id */
	return lookup_prefix(db, s, ret, err);
}

int cove_images_lookup(struct cove_images *db, const char *name_or_id,
		       struct cove_image_record *ret, struct cove_error *err)
{
	_cleanup_tx_ struct tx tx = {0};
	struct cove_image_record rec;
	int r;

	*ret = (struct cove_image_record){0};
	if (!name_or_id || !*name_or_id)
		return cove_error_set(err, EINVAL, "empty image name");
	/* One read transaction: the image and its names from one snapshot. */
	r = tx_begin(db, &tx, false, err);
	if (r < 0)
		return r;
	r = lookup_locked(db, name_or_id, &rec, err);
	if (r == -ENOENT)
		return cove_error_set(err, ENOENT, "%.300s: image not known",
				      name_or_id);
	if (r < 0)
		return r;
	r = tx_commit(&tx, err);
	if (r < 0) {
		cove_image_record_release(&rec);
		return r;
	}
	*ret = rec;
	return 0;
}

int cove_images_list(struct cove_images *db, struct cove_image_record **ret,
		     size_t *ret_n, struct cove_error *err)
{
	_cleanup_tx_ struct tx tx = {0};
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct cove_image_record *recs = NULL;
	size_t n = 0, cap = 0;
	int rc, r;

	*ret = NULL;
	*ret_n = 0;
	r = tx_begin(db, &tx, false, err);
	if (r < 0)
		return r;
	r = prepare(db,
		    "SELECT " RECORD_COLUMNS
		    " FROM images ORDER BY added DESC, created DESC, id",
		    &st, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct cove_image_record *nr =
			    realloc(recs, ncap * sizeof(*recs));
			if (!nr) {
				cove_image_records_free(recs, n);
				return -ENOMEM;
			}
			recs = nr;
			cap = ncap;
		}
		r = read_record(db, st, &recs[n], err);
		n++;
		if (r < 0) {
			cove_image_records_free(recs, n);
			return r;
		}
	}
	if (rc != SQLITE_DONE) {
		r = db_error(db, rc, err, "cannot list images");
		cove_image_records_free(recs, n);
		return r;
	}
	sqlite3_reset(st);
	r = tx_commit(&tx, err);
	if (r < 0) {
		cove_image_records_free(recs, n);
		return r;
	}
	*ret = recs;
	*ret_n = n;
	return 0;
}

int cove_images_referenced_blobs(struct cove_images *db, char ***ret,
				 struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	_cleanup_strv_ char **out = NULL;
	int rc, r;

	*ret = NULL;
	/* One statement: one snapshot, no transaction needed. */
	r = prepare(
	    db,
	    "SELECT id FROM images UNION SELECT manifest_digest FROM images"
	    " UNION SELECT index_digest FROM images WHERE index_digest != ''",
	    &st, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (cove_strv_push(
			&out, (const char *)sqlite3_column_text(st, 0)) < 0)
			return -ENOMEM;
	if (rc != SQLITE_DONE)
		return db_error(db, rc, err, "cannot list referenced blobs");
	if (!out) {
		out = calloc(1, sizeof(char *));
		if (!out)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(out);
	return 0;
}
