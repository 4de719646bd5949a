#pragma once
/*
 * The engine: containers made from images, run by the runtime layer in
 * process (no exec of cove-runtime), each watched by a monitor (monitor.c),
 * recorded in the engine database.  No daemon: every cove command opens the
 * engine, does its work and exits; a detached container's monitor is the
 * only process that stays.
 *
 * Layout:
 *   <root>/engine.db                    containers, volumes (db.h)
 *   <root>/containers/<id>/config.json  the OCI bundle (root.path points at
 *                                       the snapshot's rootfs)
 *   <root>/containers/<id>/{hosts,hostname,resolv.conf}  bound into it
 *   <root>/containers/<id>/ctr.log      JSON-lines log (logfile.h)
 *   <root>/overlay-containers/<id>/     its rootfs (snapshot.h)
 *   <runroot>/runtime/<id>/             runtime state (cove-runtime --root)
 *   <runroot>/netns/<id>                its network namespace (bridge mode)
 *
 * The create options are one JSON object (docker's "Config" with a
 * "HostConfig" inside, the same names `inspect` shows), stored in the
 * container's row:
 *   Image, Cmd, Entrypoint ([] or null), Env, WorkingDir, User, Hostname,
 *   Tty, OpenStdin, Labels {}, StopSignal ("SIGTERM"), StopTimeout (10),
 *   Healthcheck {Test [], Interval ns, Timeout ns, Retries},
 *   HostConfig {Binds ["src:dst[:opts]"], Mounts [{Type, Source, Target,
 *     ReadOnly, TmpfsSize}], Tmpfs {dst: opts}, NetworkMode, PortBindings
 *     [{HostIp, HostPort, ContainerPort, Protocol}], ExtraHosts, Dns,
 *     ReadonlyRootfs, CapAdd, CapDrop, SecurityOpt, Privileged, Memory,
 *     MemorySwap, NanoCpus, CpuShares, PidsLimit, Ulimits [{Name, Soft,
 *     Hard}], RestartPolicy {Name, MaximumRetryCount}, Init, AutoRemove,
 *     LogConfig {MaxSize, MaxFile}, CgroupParent, AnonVolumes [],
 *     UsernsMode, IDMappings {UidMap, GidMap}, IDMapBase (userns.h)}
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "engine/containers.h"
#include "image/images.h"
#include "image/snapshot.h"
#include "image/store.h"
#include "util/error.h"

struct cove_engine {
	char *root;
	char *runroot;
	char *runtime_root; /* <runroot>/runtime */
	const char *storage_driver;
	sqlite3 *db; /* opened on demand: cove_engine_db() */
	struct cove_store *store;
	struct cove_images *images;
	struct cove_snapshotter *snap;
	bool rootless;
};

int cove_engine_open(const char *root, const char *runroot,
		     const char *storage_driver, struct cove_engine **ret,
		     struct cove_error *err);
void cove_engine_free(struct cove_engine *e);
static inline void cove_engine_freep(struct cove_engine **e)
{
	cove_engine_free(*e);
}
#define _cleanup_engine_ __attribute__((cleanup(cove_engine_freep)))

/* The engine database, opened on first use. */
int cove_engine_db(struct cove_engine *e, sqlite3 **ret,
		   struct cove_error *err);
/* The image store, metadata and snapshots, opened on first use. */
int cove_engine_images(struct cove_engine *e, struct cove_error *err);
/*
 * Close what must not cross a fork (the database connection); the next
 * cove_engine_db() reopens it.
 */
void cove_engine_before_fork(struct cove_engine *e);

/* <root>/containers/<id>, caller frees */
char *cove_engine_ctr_dir(const struct cove_engine *e, const char *id);

/*
 * Create a container from @config (see above; its Image must be in the
 * store) named @name (NULL: a generated name): the row, the bundle and the
 * rootfs.  The id goes to @ret_id (COVE_CTR_ID_LEN + 1 bytes).  Nothing is
 * left behind on failure.
 */
int cove_engine_create(struct cove_engine *e, json_t *config, const char *name,
		       char *ret_id, struct cove_error *err);

struct cove_start_opts {
	/*
	 * Detached: a monitor process of its own holds the container's
	 * stdio; the call returns once the container runs.  Attached: the
	 * calling process is the monitor, copies output to its own stdout
	 * and stderr (and stdin with OpenStdin), and returns the exit code.
	 */
	bool detach;
};

/*
 * Start container @c (created or exited).  Attached, *ret_exit gets the
 * container's exit code (shell style: 128 + signal).
 */
int cove_engine_start(struct cove_engine *e, struct cove_ctr *c,
		      const struct cove_start_opts *o, int *ret_exit,
		      struct cove_error *err);

/*
 * Stop: the stop signal, then SIGKILL after @timeout seconds (<0: the
 * container's StopTimeout); no restart follows.  Returns once the monitor
 * has recorded the exit.
 */
int cove_engine_stop(struct cove_engine *e, struct cove_ctr *c, int timeout,
		     struct cove_error *err);

/*
 * Before `run` creates a container: on a cgroup v1 host, the first
 * cgroup.procs write of a container start waits for an RCU grace period
 * (the kernel's cgroup_threadgroup_rwsem); a child moving itself into the
 * container's parent cgroup right away takes that wait while cove prepares
 * the container, so the start's own write finds it done.  The parent is
 * made first when missing, in every hierarchy, and stays (a standing
 * parent, as podman's).  Best effort, root only; the child exits at once.
 */
void cove_engine_prewarm(struct cove_engine *e, const json_t *config);

/*
 * The exit status for a start that failed with @err, as podman's: 127 when
 * the command was not found, 126 when it cannot be executed, else 125.
 */
int cove_engine_start_error_code(const struct cove_error *err);

/* Send @sig to the container's init (refused while it is paused). */
int cove_engine_kill(struct cove_engine *e, struct cove_ctr *c, int sig,
		     struct cove_error *err);

/*
 * Remove: a running container only with @force (killed first); its
 * anonymous volumes too with @volumes.  Each step is idempotent, so a
 * remove interrupted by a crash can be repeated.
 */
int cove_engine_remove(struct cove_engine *e, struct cove_ctr *c, bool force,
		       bool volumes, struct cove_error *err);

/*
 * The ids of the containers that depend on @c, i.e. join one of its
 * namespaces (HostConfig PidMode, IpcMode, UTSMode or NetworkMode
 * "container:<@c's id or name>"): they must be removed before it.  *ret is
 * a strv (NULL when none), caller frees (ctrns.c).
 */
int cove_engine_dependents(struct cove_engine *e, const struct cove_ctr *c,
			   char ***ret, struct cove_error *err);

/*
 * Bring @c's state up to date: a "running" container whose process is gone
 * (its monitor was killed too) is cleaned up and recorded as exited.
 */
int cove_engine_refresh(struct cove_engine *e, struct cove_ctr *c,
			struct cove_error *err);

/* Wait until @c is not running; its exit code to *ret_exit. */
int cove_engine_wait(struct cove_engine *e, struct cove_ctr *c, int *ret_exit,
		     struct cove_error *err);

struct cove_exec_req {
	char *const *argv; /* NULL-terminated, required */
	char *const *env;  /* "KEY=VALUE" over the container's; may be NULL */
	const char *user;  /* "name", "uid[:gid]"... resolved in the rootfs */
	const char *workdir;
	bool tty;	 /* a pty, proxied to cove's terminal */
	bool detach;	 /* do not wait */
	bool privileged; /* every capability of the bounding set */
	int timeout_ms;	 /* > 0: SIGKILL after this long (exit 137) */
};

/*
 * Run a process in running container @c with the container's process
 * settings as defaults.  Attached, *ret_exit gets its exit code (shell
 * style); signals cove receives are forwarded to it.
 */
int cove_engine_exec(struct cove_engine *e, struct cove_ctr *c,
		     const struct cove_exec_req *req, int *ret_exit,
		     struct cove_error *err);

struct cove_ctr_stats {
	uint64_t cpu_ns; /* CPU time used, all processes */
	uint64_t mem_usage, mem_limit;
	uint64_t pids, pids_limit;
	uint64_t net_rx, net_tx; /* bytes, every interface but lo */
	uint64_t blk_read, blk_write;
};

/* One sample of running container @c's resource use (its cgroup). */
int cove_engine_stats(struct cove_engine *e, const struct cove_ctr *c,
		      struct cove_ctr_stats *ret, struct cove_error *err);

/* The pids of every process of running container @c (caller frees). */
int cove_engine_pids(struct cove_engine *e, const struct cove_ctr *c,
		     pid_t **ret, size_t *ret_n, struct cove_error *err);

/*
 * Run @c's health check once (HEALTHCHECK / --health-cmd) and record the
 * result in its State.Health (Status starting|healthy|unhealthy,
 * FailingStreak, the last five results with their output).  *ret_healthy
 * tells this run's verdict.  -ENOENT when @c has no health check.
 */
int cove_engine_healthcheck(struct cove_engine *e, struct cove_ctr *c,
			    bool *ret_healthy, struct cove_error *err);

/* The interval between checks in ns (default 30 s), 0 when none. */
int64_t cove_engine_health_interval(const struct cove_ctr *c);

/*
 * Copy @host_path into container @c at @ctr_path (@to_container) or the
 * other way, recursively, symlinks as symlinks; into an existing directory
 * the source keeps its name.  Paths in the container resolve inside its
 * root (never through its symlinks to the host).  Files copied in belong
 * to the container's user (process.user, through its user namespace's
 * maps), files copied out to the caller, as podman does; @archive keeps
 * the source's owners as the container sees them.
 */
int cove_engine_cp(struct cove_engine *e, struct cove_ctr *c, bool to_container,
		   const char *host_path, const char *ctr_path, bool archive,
		   struct cove_error *err);

/* Look up by name, id or id prefix, refreshed. */
int cove_engine_lookup(struct cove_engine *e, const char *name_or_id,
		       struct cove_ctr *ret, struct cove_error *err);

/*
 * Mount (or find mounted) @c's root file system; with a user namespace of
 * its own (--userns, userns.h) on overlay through idmapped layers, or its
 * private shifted copy.  *ret_path: the directory, caller frees.
 */
int cove_engine_mount_rootfs(struct cove_engine *e, const struct cove_ctr *c,
			     char **ret_path, struct cove_error *err);

/* The chain id of @c's image's top layer ("" for an empty image). */
const char *cove_engine_chain_id(const struct cove_ctr *c);

/* docker's name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]* */
int cove_engine_name_validate(const char *name, struct cove_error *err);

/*
 * The data directory of named volume @name (caller frees), the volume
 * created when it does not exist yet, as `docker run -v NAME:/dst` does.
 */
int cove_engine_volume_path(struct cove_engine *e, const char *name, char **ret,
			    struct cove_error *err);

/*
 * cove_volume_in_use_fn (volumes.h) for the engine's containers: 1 when a
 * container's options mount volume @name.
 */
int cove_engine_volume_in_use(void *data, sqlite3 *db, const char *name,
			      char **ret_user, struct cove_error *err);

/*
 * A helper program of cove's ("cove-init", the reaper of --init;
 * "cove-monitor"): next to the cove executable, or in /usr/libexec/cove.
 * NULL when not found.  The result is static.
 */
const char *cove_engine_helper_path(const char *name);

/* A generated "adjective_noun" container name; caller frees. */
char *cove_engine_random_name(void);

/*
 * resources.c: the create options that become cgroup limits and process
 * settings (HostConfig CpusetCpus, CpusetMems, CpuPeriod, CpuQuota,
 * MemoryReservation, MemorySwappiness, OomKillDisable, OomScoreAdj,
 * BlkioWeight; Config Umask "0022", Timezone "Zone/Name"|"local",
 * Annotations {}).
 *
 * A cpu or memory-node list ("0-3,5"): 0, or -EINVAL (syntax) / -ERANGE
 * (an id >= @nbits).  With @bits (@nbits bits), the ids are set there.
 */
int cove_engine_idlist_parse(const char *list, uint8_t *bits, size_t nbits);
/*
 * Check --cpuset-cpus (@mems false) or --cpuset-mems: the list's syntax and
 * that the host has every id; -EINVAL with a message naming @opt.
 */
int cove_engine_cpuset_check(const char *opt, const char *list, bool mems,
			     struct cove_error *err);
/* Whether the memory controller has v1's memory.oom_control. */
bool cove_engine_oom_kill_disable_supported(void);
/* The host's zone file of --tz ZONE|local (*ret: caller frees). */
int cove_engine_timezone_file(const char *tz, char **ret,
			      struct cove_error *err);
/*
 * Set linux.resources members of @res from @host's limits.  @update: a
 * limit that is unlimited is written as such (pids -1, quota -1), to
 * undo one a cgroup has.
 */
void cove_engine_resources_fill(json_t *res, const json_t *host, bool update);
/*
 * process.oomScoreAdj, process.user.umask, the annotations and --tz's
 * /etc/localtime (a copy of the zone file in @dir) of @config into @spec.
 */
int cove_engine_process_options(json_t *spec, const json_t *config,
				const char *dir, struct cove_error *err);

/*
 * update.c: `cove update`.  Apply the limits in @changes (HostConfig
 * members: Memory, MemorySwap, MemoryReservation, NanoCpus, CpuShares,
 * CpuPeriod, CpuQuota, CpusetCpus, CpusetMems, PidsLimit, BlkioWeight)
 * to @c: in place to the cgroup of a running or paused container, and to
 * its stored options and bundle so that the next start keeps them.
 * -EOPNOTSUPP for a rootless container (it has no cgroup limits).
 */
int cove_engine_update(struct cove_engine *e, struct cove_ctr *c,
		       const json_t *changes, struct cove_error *err);
