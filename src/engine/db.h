#pragma once
/*
 * The engine database, <root>/engine.db: one SQLite file in WAL mode for
 * the engine's metadata (volumes.h; containers).  Every cove process opens
 * its own connection; writers serialise on SQLite's lock, waiting up to
 * COVE_ENGINE_DB_BUSY_MS for it.
 */
#include <sqlite3.h>

#include "util/error.h"

#define COVE_ENGINE_DB_BUSY_MS 10000

/*
 * Open (creating @root and the file if needed) <root>/engine.db, switch it
 * to WAL mode, set the busy timeout and create the tables that do not
 * exist yet.  The connection goes to *ret (close it with
 * sqlite3_close_v2()); *ret is untouched on failure.
 */
int cove_engine_db_open(const char *root, sqlite3 **ret,
			struct cove_error *err);
