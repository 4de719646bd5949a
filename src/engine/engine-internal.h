#pragma once
/* Shared between the engine's files; not part of libcove's API. */
#include "engine/engine.h"

/*
 * Networking of one container start (ctrnet.c): for a bridge or named
 * network, a network namespace at <runroot>/netns/<id> attached through CNI
 * (its address recorded in the row and in the hosts files of the
 * network's containers); nothing for "none" and "host".  Teardown is
 * idempotent and never fails: what it cannot undo it leaves for the next
 * teardown.
 */
int cove_engine_net_setup(struct cove_engine *e, struct cove_ctr *c,
			  struct cove_error *err);
void cove_engine_net_teardown(struct cove_engine *e, struct cove_ctr *c);

/*
 * The monitor (monitor.c): start the container and watch it until it
 * exits for good (restart policy applied), then clean up.  @notify_fd (or
 * -1) gets "0\n" once the container runs, or the error message.  Returns
 * the last exit code (shell style) or -errno.
 */
int cove_monitor_run(struct cove_engine *e, struct cove_ctr *c, bool attached,
		     int notify_fd, struct cove_error *err);

/*
 * Back from cove-monitor (src/cli/monitor/) after the container exited with
 * wait status @status: record it, clean up, apply the restart policy (which
 * may exec cove-monitor again).  The exit code, or -errno.
 */
int cove_monitor_resume(struct cove_engine *e, struct cove_ctr *c, int status,
			unsigned delay_ms, struct cove_error *err);

/* Runtime cleanup after an exit: runtime state, cgroup, rootfs mount. */
void cove_engine_release_runtime(struct cove_engine *e, struct cove_ctr *c);

/*
 * The container's config.json: written whole (temp file + rename, 0600;
 * without fsync: it is rewritten from the row at each create or start),
 * and its namespace @type ("network", "pid", ...) pointed at @path, the
 * entry added when the spec has none.
 */
int cove_engine_spec_save(const char *file, const json_t *spec,
			  struct cove_error *err);
void cove_engine_spec_join_ns(json_t *spec, const char *type, const char *path);
