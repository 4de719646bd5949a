#pragma once
/*
 * Container state under the runtime root: <root>/<id>/state.json, written
 * atomically (temp file + rename), plus exec.fifo while the container is
 * "created".  The status is not stored: it is derived every time from the
 * init process (alive? zombie? same start time?), the fifo and the freezer,
 * so that a crashed runtime never leaves a stale status behind.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/cgroup.h"
#include "util/error.h"

enum cove_status {
	COVE_STATUS_CREATING,
	COVE_STATUS_CREATED,
	COVE_STATUS_RUNNING,
	COVE_STATUS_PAUSED,
	COVE_STATUS_STOPPED,
};

struct cove_state {
	char *id;
	pid_t pid;
	uint64_t pid_start_time; /* field 22 of /proc/PID/stat */
	char *bundle;
	char *rootfs;
	char *created; /* RFC 3339 */
	uid_t owner;
	char *cgroup_path; /* NULL when cgroups are disabled */
	enum cove_cgroup_mode cgroup_mode;
	/*
	 * Levels of cgroup_path cove created: the most over all hierarchies
	 * (all that older versions record), and per hierarchy (owned, see
	 * cove_cgroup_get_created_map(); NULL in older states, where
	 * cgroup_created then applies to every hierarchy).
	 */
	unsigned cgroup_created;
	json_t *cgroup_created_map;
	bool rootless;
	bool terminal;
	bool systemd_cgroup;
	json_t *annotations; /* owned */
	json_t *config;	     /* owned: the config.json the container ran with */
	char *dir;	     /* <root>/<id> */
	enum cove_status status;
};

/* Validate a container id: [A-Za-z0-9][A-Za-z0-9_+.-]*, at most 1024. */
int cove_id_validate(const char *id, struct cove_error *err);

/* Default runtime root: /run/cove, or $XDG_RUNTIME_DIR/cove when not root. */
char *cove_default_root(void);

/*
 * Reserve <root>/<id> (mkdir, fails with -EEXIST "container ... exists").
 * Returns the directory path in *ret_dir.
 */
int cove_state_reserve(const char *root, const char *id, char **ret_dir,
		       struct cove_error *err);

/* Write state.json for @s into s->dir. */
int cove_state_save(const struct cove_state *s, struct cove_error *err);

/* Load <root>/<id>/state.json and compute the current status. */
int cove_state_load(const char *root, const char *id, struct cove_state **ret,
		    struct cove_error *err);

/* Re-derive s->status from the live system. */
void cove_state_refresh(struct cove_state *s);

/* The runtime-spec state document ("ociVersion", "id", "status", ...). */
json_t *cove_state_to_json(const struct cove_state *s);

/* Remove <root>/<id> entirely. */
int cove_state_remove(const struct cove_state *s);

void cove_state_free(struct cove_state *s);
static inline void cove_state_freep(struct cove_state **s)
{
	cove_state_free(*s);
}
#define _cleanup_state_ __attribute__((cleanup(cove_state_freep)))

const char *cove_status_name(enum cove_status st);

/* Start time of a process (jiffies since boot), 0 if it does not exist. */
uint64_t cove_proc_start_time(pid_t pid);
/* Is @pid alive (not a zombie) and started at @start_time (0: any)? */
bool cove_proc_alive(pid_t pid, uint64_t start_time);

/* List the ids of all containers under @root (sorted). */
int cove_state_list(const char *root, char ***ret_ids, struct cove_error *err);

/* Current time as RFC 3339 with nanoseconds, UTC. */
char *cove_rfc3339_now(void);
