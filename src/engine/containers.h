#pragma once
/*
 * The engine's container records, in the engine database (db.h): one row
 * per container with its unique name, image, state and the options it was
 * created with.  Every change is one SQLite transaction, so two cove
 * processes never see half a change, and the UNIQUE constraint on the name
 * decides which of two concurrent `cove run --name x` wins.
 *
 * States follow podman: "created" (configured, no process), "running",
 * "paused", "stopping", "exited".  The monitor process of a container
 * (monitor.h) writes running/exited and the exit code; the CLI writes the
 * rest.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "util/error.h"

#define COVE_CTR_ID_LEN 64

struct cove_ctr {
	char id[COVE_CTR_ID_LEN + 1];
	char *name;
	char *image;	 /* as the user named it */
	char *image_id;	 /* "sha256:..." */
	int64_t created; /* ns since the epoch */
	char *state;
	pid_t pid;	    /* container init, 0 when none */
	uint64_t pid_start; /* its start time (/proc/PID/stat field 22) */
	pid_t monitor_pid;  /* 0 when none */
	int exit_code;	    /* -1 until the container has exited once */
	bool oom_killed;
	bool stop_requested; /* `cove stop`: no restart */
	int64_t started_at;  /* ns, 0 when never started */
	int64_t finished_at; /* ns, 0 when never exited */
	int restart_count;
	json_t *config; /* the create options (engine.h), owned */
};

void cove_ctr_release(struct cove_ctr *c);
void cove_ctrs_free(struct cove_ctr *cs, size_t n);

/* CREATE TABLE IF NOT EXISTS containers (...); called by db.c */
int cove_containers_init_schema(sqlite3 *db, struct cove_error *err);

/*
 * Insert @c.  A name already taken is -EEXIST with a message naming it (as
 * is an id, which cannot happen with random ids); a HostConfig.IDMapBase
 * another container holds is -EADDRINUSE.
 */
int cove_ctr_insert(sqlite3 *db, const struct cove_ctr *c,
		    struct cove_error *err);

/*
 * Find a container by full id, unique id prefix or name.  -ENOENT when
 * none matches, -EINVAL (with a message) when a prefix is ambiguous.
 */
int cove_ctr_lookup(sqlite3 *db, const char *name_or_id, struct cove_ctr *ret,
		    struct cove_error *err);

/* Every container, oldest first; *ret owned by the caller. */
int cove_ctr_list(sqlite3 *db, struct cove_ctr **ret, size_t *ret_n,
		  struct cove_error *err);

/* Fields a state change writes; the rest of the row is untouched. */
enum cove_ctr_field {
	COVE_CTR_STATE = 1 << 0,
	COVE_CTR_PID = 1 << 1,		/* pid, pid_start */
	COVE_CTR_MONITOR = 1 << 2,	/* monitor_pid */
	COVE_CTR_EXIT = 1 << 3,		/* exit_code, oom_killed, finished_at */
	COVE_CTR_STARTED = 1 << 4,	/* started_at, restart_count */
	COVE_CTR_STOP_REQUEST = 1 << 5, /* stop_requested */
	COVE_CTR_NAME = 1 << 6,
	COVE_CTR_CONFIG = 1 << 7,
};

/* Write the @fields of @c to its row; -ENOENT when the row is gone. */
int cove_ctr_update(sqlite3 *db, const struct cove_ctr *c, unsigned fields,
		    struct cove_error *err);

/*
 * Set the top-level member @key (a plain name) of container @id's stored
 * config to @value, or remove it when @value is NULL, in one statement
 * (SQLite's json_set/json_remove): the rest of the config stays as the row
 * has it, so writers of different members (the monitor's health checks,
 * `cove update`, the network setup) never undo each other's changes, as
 * rewriting the whole config from a copy read earlier would.
 * -ENOENT when the row is gone.
 */
int cove_ctr_config_set(sqlite3 *db, const char *id, const char *key,
			const json_t *value, struct cove_error *err);

int cove_ctr_delete(sqlite3 *db, const char *id, struct cove_error *err);

/*
 * The name of a container made from image @image_id to *ret (caller
 * frees), or NULL when none is.
 */
int cove_ctr_image_user(sqlite3 *db, const char *image_id, char **ret,
			struct cove_error *err);

/*
 * Whether the recorded init process still runs (pid alive with the same
 * start time): records whose process died without its monitor (kill -9,
 * reboot) are shown as exited.
 */
bool cove_ctr_process_alive(const struct cove_ctr *c);

/* ns since the epoch, CLOCK_REALTIME */
int64_t cove_now_ns(void);
