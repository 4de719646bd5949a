#include "engine/containers.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/state.h"
#include "util/cleanup.h"

static void stmt_finalizep(sqlite3_stmt **s)
{
	sqlite3_finalize(*s);
}
#define _cleanup_stmt_ _cleanup_(stmt_finalizep)

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS containers ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " name TEXT NOT NULL UNIQUE,"
    " image TEXT NOT NULL,"
    " image_id TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " state TEXT NOT NULL,"
    " pid INTEGER NOT NULL DEFAULT 0,"
    " pid_start INTEGER NOT NULL DEFAULT 0,"
    " monitor_pid INTEGER NOT NULL DEFAULT 0,"
    " exit_code INTEGER NOT NULL DEFAULT -1,"
    " oom_killed INTEGER NOT NULL DEFAULT 0,"
    " stop_requested INTEGER NOT NULL DEFAULT 0,"
    " started_at INTEGER NOT NULL DEFAULT 0,"
    " finished_at INTEGER NOT NULL DEFAULT 0,"
    " restart_count INTEGER NOT NULL DEFAULT 0,"
    " config TEXT NOT NULL);"
    /* --userns=auto: no two containers hold one id range */
    "CREATE UNIQUE INDEX IF NOT EXISTS containers_idmap ON containers("
    " json_extract(config, '$.HostConfig.IDMapBase'))"
    " WHERE json_extract(config, '$.HostConfig.IDMapBase') IS NOT NULL;";

#define COLUMNS                                                                \
	"id, name, image, image_id, created, state, pid, pid_start, "          \
	"monitor_pid, exit_code, oom_killed, stop_requested, started_at, "     \
	"finished_at, restart_count, config"

int64_t cove_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int db_fail(sqlite3 *db, int rc, struct cove_error *err,
		   const char *what)
{
	int code = EIO;
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = EBUSY;
		break;
	case SQLITE_NOMEM:
		code = ENOMEM;
		break;
	case SQLITE_CONSTRAINT:
		code = EEXIST;
		break;
	case SQLITE_READONLY:
		code = EROFS;
		break;
	}
	return cove_error_set(err, code, "engine database: %s: %s", what,
			      sqlite3_errmsg(db));
}

int cove_containers_init_schema(sqlite3 *db, struct cove_error *err)
{
	int rc = sqlite3_exec(db, schema, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, err,
			       "cannot create the containers table");
	return 0;
}

void cove_ctr_release(struct cove_ctr *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->image);
	free(c->image_id);
	free(c->state);
	json_decref(c->config);
	memset(c, 0, sizeof(*c));
}

void cove_ctrs_free(struct cove_ctr *cs, size_t n)
{
	for (size_t i = 0; cs && i < n; i++)
		cove_ctr_release(&cs[i]);
	free(cs);
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return strdup(t ? (const char *)t : "");
}

static int row_to_ctr(sqlite3_stmt *st, struct cove_ctr *c,
		      struct cove_error *err)
{
	const unsigned char *id = sqlite3_column_text(st, 0);
	const unsigned char *cfg = sqlite3_column_text(st, 15);
	json_error_t jerr;

	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id ? (const char *)id : "");
	c->name = col_text(st, 1);
	c->image = col_text(st, 2);
	c->image_id = col_text(st, 3);
	c->created = sqlite3_column_int64(st, 4);
	c->state = col_text(st, 5);
	c->pid = (pid_t)sqlite3_column_int64(st, 6);
	c->pid_start = (uint64_t)sqlite3_column_int64(st, 7);
	c->monitor_pid = (pid_t)sqlite3_column_int64(st, 8);
	c->exit_code = sqlite3_column_int(st, 9);
	c->oom_killed = sqlite3_column_int(st, 10) != 0;
	c->stop_requested = sqlite3_column_int(st, 11) != 0;
	c->started_at = sqlite3_column_int64(st, 12);
	c->finished_at = sqlite3_column_int64(st, 13);
	c->restart_count = sqlite3_column_int(st, 14);
	c->config = json_loads(cfg ? (const char *)cfg : "{}", 0, &jerr);
	if (!c->name || !c->image || !c->image_id || !c->state) {
		cove_ctr_release(c);
		return -ENOMEM;
	}
	if (!c->config) {
		int r = cove_error_set(err, EBADMSG,
				       "engine database: container %s: "
				       "invalid config: %s",
				       c->id, jerr.text);
		cove_ctr_release(c);
		return r;
	}
	return 0;
}

int cove_ctr_insert(sqlite3 *db, const struct cove_ctr *c,
		    struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	_cleanup_free_ char *cfg = NULL;
	int rc;

	cfg = json_dumps(c->config, JSON_COMPACT);
	if (!cfg)
		return -ENOMEM;
	rc = sqlite3_prepare_v2(db,
				"INSERT INTO containers (" COLUMNS
				") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, err, "insert");
	sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c->image, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, c->image_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, c->created);
	sqlite3_bind_text(st, 6, c->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, c->pid);
	sqlite3_bind_int64(st, 8, (int64_t)c->pid_start);
	sqlite3_bind_int64(st, 9, c->monitor_pid);
	sqlite3_bind_int(st, 10, c->exit_code);
	sqlite3_bind_int(st, 11, c->oom_killed);
	sqlite3_bind_int(st, 12, c->stop_requested);
	sqlite3_bind_int64(st, 13, c->started_at);
	sqlite3_bind_int64(st, 14, c->finished_at);
	sqlite3_bind_int(st, 15, c->restart_count);
	sqlite3_bind_text(st, 16, cfg, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT &&
	    strstr(sqlite3_errmsg(db), "containers_idmap"))
		return cove_error_set(err, EADDRINUSE,
				      "the user namespace id range of "
				      "container %s is taken",
				      c->name);
	if (rc == SQLITE_CONSTRAINT || (rc & 0xff) == SQLITE_CONSTRAINT)
		return cove_error_set(err, EEXIST,
				      "the container name \"%s\" is already "
				      "in use; remove that container or "
				      "choose another name",
				      c->name);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "insert");
	return 0;
}

int cove_ctr_lookup(sqlite3 *db, const char *name_or_id, struct cove_ctr *ret,
		    struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	_cleanup_free_ char *pattern = NULL;
	int rc;

	/* exact name or id first, then an id prefix (docker's rule) */
	rc = sqlite3_prepare_v2(db,
				"SELECT " COLUMNS " FROM containers "
				"WHERE name = ?1 OR id = ?1",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, err, "lookup");
	sqlite3_bind_text(st, 1, name_or_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return row_to_ctr(st, ret, err);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "lookup");
	sqlite3_finalize(st);
	st = NULL;

	if (!*name_or_id ||
	    strspn(name_or_id, "0123456789abcdef") != strlen(name_or_id))
		return cove_error_set(err, ENOENT, "no such container: %s",
				      name_or_id);
	pattern = malloc(strlen(name_or_id) + 2);
	if (!pattern)
		return -ENOMEM;
	snprintf(pattern, strlen(name_or_id) + 2, "%s*", name_or_id);
	rc = sqlite3_prepare_v2(db,
				"SELECT " COLUMNS " FROM containers "
				"WHERE id GLOB ?1 LIMIT 2",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, err, "lookup");
	sqlite3_bind_text(st, 1, pattern, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return cove_error_set(err, ENOENT, "no such container: %s",
				      name_or_id);
	if (rc != SQLITE_ROW)
		return db_fail(db, rc, err, "lookup");
	rc = row_to_ctr(st, ret, err);
	if (rc < 0)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW) {
		cove_ctr_release(ret);
		return cove_error_set(err, EINVAL,
				      "container id prefix '%s' is ambiguous",
				      name_or_id);
	}
	return 0;
}

int cove_ctr_list(sqlite3 *db, struct cove_ctr **ret, size_t *ret_n,
		  struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct cove_ctr *v = NULL;
	size_t n = 0, cap = 0;
	int rc, r;

	rc = sqlite3_prepare_v2(
	    db, "SELECT " COLUMNS " FROM containers ORDER BY created", -1, &st,
	    NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, err, "list");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			struct cove_ctr *nv;
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				cove_ctrs_free(v, n);
				return -ENOMEM;
			}
			v = nv;
		}
		r = row_to_ctr(st, &v[n], err);
		if (r < 0) {
			cove_ctrs_free(v, n);
			return r;
		}
		n++;
	}
	if (rc != SQLITE_DONE) {
		cove_ctrs_free(v, n);
		return db_fail(db, rc, err, "list");
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int cove_ctr_update(sqlite3 *db, const struct cove_ctr *c, unsigned fields,
		    struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	_cleanup_free_ char *cfg = NULL;
	char sql[512];
	size_t len;
	int rc;

	len = (size_t)snprintf(sql, sizeof(sql), "UPDATE containers SET ");
#define ADD(s) len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s", s)
	if (fields & COVE_CTR_STATE)
		ADD("state = :state,");
	if (fields & COVE_CTR_PID)
		ADD("pid = :pid, pid_start = :pid_start,");
	if (fields & COVE_CTR_MONITOR)
		ADD("monitor_pid = :monitor_pid,");
	if (fields & COVE_CTR_EXIT)
		ADD("exit_code = :exit_code, oom_killed = :oom, "
		    "finished_at = :finished,");
	if (fields & COVE_CTR_STARTED)
		ADD("started_at = :started, restart_count = :restarts,");
	if (fields & COVE_CTR_STOP_REQUEST)
		ADD("stop_requested = :stop,");
	if (fields & COVE_CTR_NAME)
		ADD("name = :name,");
	if (fields & COVE_CTR_CONFIG)
		ADD("config = :config,");
#undef ADD
	if (sql[len - 1] != ',')
		return 0;
	snprintf(sql + len - 1, sizeof(sql) - len + 1, " WHERE id = :id");
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, err, "update");
#define BIND(name, fn, ...)                                                    \
	do {                                                                   \
		int i_ = sqlite3_bind_parameter_index(st, name);               \
		if (i_)                                                        \
			fn(st, i_, __VA_ARGS__);                               \
	} while (0)
	BIND(":id", sqlite3_bind_text, c->id, -1, SQLITE_STATIC);
	BIND(":state", sqlite3_bind_text, c->state, -1, SQLITE_STATIC);
	BIND(":pid", sqlite3_bind_int64, c->pid);
	BIND(":pid_start", sqlite3_bind_int64, (int64_t)c->pid_start);
	BIND(":monitor_pid", sqlite3_bind_int64, c->monitor_pid);
	BIND(":exit_code", sqlite3_bind_int, c->exit_code);
	BIND(":oom", sqlite3_bind_int, c->oom_killed);
	BIND(":finished", sqlite3_bind_int64, c->finished_at);
	BIND(":started", sqlite3_bind_int64, c->started_at);
	BIND(":restarts", sqlite3_bind_int, c->restart_count);
	BIND(":stop", sqlite3_bind_int, c->stop_requested);
	BIND(":name", sqlite3_bind_text, c->name, -1, SQLITE_STATIC);
	if (fields & COVE_CTR_CONFIG) {
		cfg = json_dumps(c->config, JSON_COMPACT);
		if (!cfg)
			return -ENOMEM;
		BIND(":config", sqlite3_bind_text, cfg, -1, SQLITE_STATIC);
	}
#undef BIND
	rc = sqlite3_step(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return cove_error_set(err, EEXIST,
				      "the container name \"%s\" is already "
				      "in use",
				      c->name);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "update");
	if (sqlite3_changes(db) == 0)
		return cove_error_set(err, ENOENT, "no such container: %s",
				      c->id);
	return 0;
}

int cove_ctr_config_set(sqlite3 *db, const char *id, const char *key,
			const json_t *value, struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	_cleanup_free_ char *txt = NULL;
	char path[64];
	int rc;

	/* a plain name: nothing the JSON path syntax would read otherwise */
	if (!*key || strlen(key) >= sizeof(path) - 2 ||
	    strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789") != strlen(key))
		return cove_error_set(err, EINVAL, "invalid config key '%s'",
				      key);
	snprintf(path, sizeof(path), "$.%s", key);
	if (value) {
		txt = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!txt)
			return -ENOMEM;
	}
	rc = sqlite3_prepare_v2(
	    db,
	    value ? "UPDATE containers SET config = json_set(config, ?1, "
		    "json(?2)) WHERE id = ?3"
		  : "UPDATE containers SET config = json_remove(config, ?1) "
		    "WHERE id = ?3",
	    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, err, "update");
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	if (txt)
		sqlite3_bind_text(st, 2, txt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "update");
	if (sqlite3_changes(db) == 0)
		return cove_error_set(err, ENOENT, "no such container: %s", id);
	return 0;
}

int cove_ctr_delete(sqlite3 *db, const char *id, struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "DELETE FROM containers WHERE id = ?",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_fail(db, rc, err, "delete");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "delete");
	return 0;
}

bool cove_ctr_process_alive(const struct cove_ctr *c)
{
	if (c->pid <= 0)
		return false;
	if (kill(c->pid, 0) < 0 && errno == ESRCH)
		return false;
	return cove_proc_start_time(c->pid) == c->pid_start;
}

int cove_ctr_image_user(sqlite3 *db, const char *image_id, char **ret,
			struct cove_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(
	    db, "SELECT name FROM containers WHERE image_id = ? LIMIT 1", -1,
	    &st, NULL);

	*ret = NULL;
	if (rc != SQLITE_OK)
		return db_fail(db, rc, err, "lookup");
	sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret = col_text(st, 0);
		return *ret ? 0 : -ENOMEM;
	}
	if (rc != SQLITE_DONE)
		return db_fail(db, rc, err, "lookup");
	return 0;
}
