#include "engine/db.h"

#include <errno.h>
#include <unistd.h>

#include "engine/containers.h"
#include "engine/volumes.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

static int sqlite_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return EBUSY;
	case SQLITE_NOMEM:
		return ENOMEM;
	case SQLITE_FULL:
		return ENOSPC;
	case SQLITE_READONLY:
		return EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
	case SQLITE_CANTOPEN:
		return EACCES;
	default:
		return EIO;
	}
}

int cove_engine_db_open(const char *root, sqlite3 **ret, struct cove_error *err)
{
	_cleanup_free_ char *path = NULL;
	sqlite3 *db = NULL;
	int rc = SQLITE_OK, r;

	r = cove_mkdir_p(root, 0700);
	if (r < 0)
		return cove_error_setx(err, r, "cannot create '%s'", root);
	path = cove_strdup_printf("%s/engine.db", root);
	if (!path)
		return cove_error_set(err, ENOMEM, "out of memory");
	rc = sqlite3_open_v2(path, &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		r = cove_error_set(err, sqlite_errno(rc),
				   "cannot open '%s': %s", path,
				   db ? sqlite3_errmsg(db) : "no memory");
		sqlite3_close_v2(db);
		return r;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, COVE_ENGINE_DB_BUSY_MS);
	/*
	 * Switching to WAL needs a moment alone with the file, and SQLite
	 * may answer BUSY without consulting the busy handler when several
	 * processes create the database at once.  WAL is recorded in the
	 * file, so this only races on first use.
	 */
	for (int i = 0; i < 500; i++) {
		rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL,
				  NULL);
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			break;
		usleep(10000);
	}
	if (rc != SQLITE_OK) {
		r = cove_error_set(err, sqlite_errno(rc),
				   "%s: cannot enable WAL mode: %s", path,
				   sqlite3_errmsg(db));
		sqlite3_close_v2(db);
		return r;
	}
	/*
	 * In WAL mode NORMAL syncs at checkpoints, not at every commit: a
	 * killed process loses nothing it committed (the WAL is in the page
	 * cache), only a power cut may lose the last transactions, never
	 * consistency.  Container state changes several times per run.
	 */
	(void)sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	r = cove_volumes_init_schema(db, err);
	if (r >= 0)
		r = cove_containers_init_schema(db, err);
	if (r < 0) {
		cove_error_wrap(err, "%s", path);
		sqlite3_close_v2(db);
		return r;
	}
	*ret = db;
	return 0;
}
