#pragma once
/*
 * cove's command line (podman-style): global options, one handler per
 * subcommand, in files by command group (image.c, ...).  Handlers parse
 * flags, call libcove, print.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/error.h"

struct cove_ctx {
	const char *root;	    /* image and container storage (--root) */
	const char *runroot;	    /* runtime state (--runroot) */
	const char *storage_driver; /* overlay | vfs */
	const char *log_level;	    /* error | warn | info | debug */
	bool debug;
};

struct cove_command {
	const char *name;
	int (*fn)(struct cove_ctx *ctx, int argc, char **argv);
	const char *summary;
};

/* Print "cove: MSG" on stderr; returns the exit status 125 (podman's). */
int cove_cli_fail(const struct cove_error *err);
int cove_cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cove_cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "cove: debug: <ms since start>: MSG" with --log-level debug */
void cove_cli_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The option getopt_long() refused, named in the error. */
int cove_cli_unknown_option(const char *cmd, char **argv);
/* --help output (man-page style) */
int cove_cli_help(const char *text);

/* Dispatch argv[0] among @cmds (for "cove image SUBCOMMAND"). */
int cove_cli_dispatch(struct cove_ctx *ctx, const struct cove_command *cmds,
		      size_t n, const char *group, int argc, char **argv);

int cmd_version(struct cove_ctx *ctx, int argc, char **argv);

#include <jansson.h>

/*
 * format.c: --format templates.  Whether @format is one ("{{" in it), and
 * print @obj through it, with a newline: {{.A.B}}, {{json .A}}, \t, \n.
 * Returns 0 or an exit status (message printed).
 */
bool cove_cli_is_template(const char *format);
int cove_cli_render_template(const char *tmpl, const json_t *obj);

struct cove_engine;
/* The engine on ctx's storage; 0, or the exit status (message printed). */
int cove_cli_engine_open(struct cove_ctx *ctx, struct cove_engine **ret);
/* docker's compact sizes: "512B", "213kB", "67.1MB" (decimal units). */
void cove_cli_size(uint64_t n, char *buf, size_t size);
/* As `cove images` prints sizes: "512 B", "4.26 MB" (decimal units). */
void cove_cli_bytes(int64_t n, char *buf, size_t size);
/* docker's "3 hours ago" for @created (seconds since the epoch). */
void cove_cli_age(int64_t created, char *buf, size_t size);
/* @t (seconds since the epoch) as "2026-11-29T14:00:00Z". */
void cove_cli_rfc3339(int64_t t, char *buf, size_t size);

/* image.c (login.c: login, logout): the image commands, "image" group */
int cmd_image(struct cove_ctx *ctx, int argc, char **argv);
int cmd_pull(struct cove_ctx *ctx, int argc, char **argv);
int cmd_push(struct cove_ctx *ctx, int argc, char **argv);
int cmd_images(struct cove_ctx *ctx, int argc, char **argv);
int cmd_tag(struct cove_ctx *ctx, int argc, char **argv);
int cmd_rmi(struct cove_ctx *ctx, int argc, char **argv);
int cmd_save(struct cove_ctx *ctx, int argc, char **argv);
int cmd_load(struct cove_ctx *ctx, int argc, char **argv);
int cmd_login(struct cove_ctx *ctx, int argc, char **argv);
int cmd_logout(struct cove_ctx *ctx, int argc, char **argv);
int cmd_bundle(struct cove_ctx *ctx, int argc, char **argv);
/* image-extra.c: image history, image exists, untag */
int cmd_image_history(struct cove_ctx *ctx, int argc, char **argv);
int cmd_image_exists(struct cove_ctx *ctx, int argc, char **argv);
int cmd_untag(struct cove_ctx *ctx, int argc, char **argv);

/* run.c: create and run (the create options) */
int cmd_create(struct cove_ctx *ctx, int argc, char **argv);
int cmd_run(struct cove_ctx *ctx, int argc, char **argv);
/* Sizes ("512m", "1g") and Go durations ("1m30s"); -EINVAL when invalid. */
int cove_cli_parse_size(const char *s, int64_t *ret);
int cove_cli_parse_duration(const char *s, int64_t *ret_ns);

/*
 * update.c: `cove update`, and the limit options it shares with create:
 * parse --@opt (its long name, "cpuset-cpus") @arg into @host (a
 * HostConfig object); -1 to go on, else the exit status (message
 * printed).  cove_cli_cpu_opts_check() refuses --cpus with --cpu-period
 * or --cpu-quota, as podman does.
 */
int cmd_update(struct cove_ctx *ctx, int argc, char **argv);
int cove_cli_resource_opt(const char *cmd, const char *opt, const char *arg,
			  json_t *host);
int cove_cli_cpu_opts_check(const char *cmd, const json_t *host);

/* container.c: the container lifecycle and queries */
int cmd_container(struct cove_ctx *ctx, int argc, char **argv);
int cmd_start(struct cove_ctx *ctx, int argc, char **argv);
int cmd_stop(struct cove_ctx *ctx, int argc, char **argv);
int cmd_restart(struct cove_ctx *ctx, int argc, char **argv);
int cmd_kill(struct cove_ctx *ctx, int argc, char **argv);
int cmd_wait(struct cove_ctx *ctx, int argc, char **argv);
int cmd_rm(struct cove_ctx *ctx, int argc, char **argv);
int cmd_ps(struct cove_ctx *ctx, int argc, char **argv);
int cmd_container_inspect(struct cove_ctx *ctx, int argc, char **argv);
int cmd_logs(struct cove_ctx *ctx, int argc, char **argv);
int cmd_pause(struct cove_ctx *ctx, int argc, char **argv);
int cmd_unpause(struct cove_ctx *ctx, int argc, char **argv);
int cmd_rename(struct cove_ctx *ctx, int argc, char **argv);
int cmd_port(struct cove_ctx *ctx, int argc, char **argv);
int cmd_container_prune(struct cove_ctx *ctx, int argc, char **argv);
int cmd_healthcheck(struct cove_ctx *ctx, int argc, char **argv);
int cmd_cp(struct cove_ctx *ctx, int argc, char **argv);
int cmd_attach(struct cove_ctx *ctx, int argc, char **argv);
int cmd_monitor_resume(struct cove_ctx *ctx, int argc, char **argv);

/* commit.c: export, diff, commit */
int cmd_export(struct cove_ctx *ctx, int argc, char **argv);
int cmd_diff(struct cove_ctx *ctx, int argc, char **argv);
int cmd_commit(struct cove_ctx *ctx, int argc, char **argv);

/*
 * select.c: the containers a command acts on.  The names given (@nargs of
 * them at @args), or with --all every container @want accepts (NULL:
 * all), oldest first, or with --latest the one created last.  *ret: a
 * strv of the names as given or the full ids chosen (NULL when --all
 * finds none).  0, or the exit status (message printed): names together
 * with --all/--latest, none without, --latest without any container.
 * cove_cli_select_check() is the argument check alone.
 */
struct cove_ctr;
enum cove_cli_sel_flag {
	COVE_CLI_SEL_ALL = 1 << 0,    /* -a, --all */
	COVE_CLI_SEL_LATEST = 1 << 1, /* -l, --latest */
};
typedef bool (*cove_cli_want_fn)(const struct cove_ctr *c);
int cove_cli_select_check(const char *cmd, unsigned flags, int nargs);
int cove_cli_select(struct cove_engine *e, const char *cmd, unsigned flags,
		    cove_cli_want_fn want, int nargs, char **args, char ***ret);

/*
 * `rm`: remove @targets (names or ids), printing each id removed.  Those
 * that depend on another one in the set go first (whatever the order
 * given); @depend adds every container that depends on one, recursively.
 * A missing one is no error with @force or @ignore.  @timeout >= 0 (with
 * @force): stop a running one with that timeout first, else it is killed
 * at once.  Returns the exit status (messages printed).
 */
struct cove_cli_rm_opts {
	bool force, volumes, depend, ignore;
	int timeout;
};
int cove_cli_remove(struct cove_engine *e, char *const *targets,
		    const struct cove_cli_rm_opts *o);

/* `ps --sort`: created|id|image|names|runningfor|status|command */
bool cove_cli_ps_sort_valid(const char *key);
void cove_cli_ps_sort(struct cove_ctr **cs, size_t n, const char *key);
/* @c's Cmd joined with spaces; caller frees; NULL on ENOMEM. */
char *cove_cli_ctr_command(const struct cove_ctr *c);

/* exec.c, stats.c */
int cmd_exec(struct cove_ctx *ctx, int argc, char **argv);
int cmd_stats(struct cove_ctx *ctx, int argc, char **argv);
int cmd_top(struct cove_ctx *ctx, int argc, char **argv);

/* volume.c, network.c: the "volume" and "network" groups */
int cmd_volume(struct cove_ctx *ctx, int argc, char **argv);
int cmd_network(struct cove_ctx *ctx, int argc, char **argv);

/* system.c: info, system df|info|prune */
int cmd_info(struct cove_ctx *ctx, int argc, char **argv);
int cmd_system(struct cove_ctx *ctx, int argc, char **argv);

/*
 * events.c: `cove events`; cove_cli_events_setup() points the process's
 * events (engine/events.h) at ctx's runroot, errors shown with debug.
 */
int cmd_events(struct cove_ctx *ctx, int argc, char **argv);
void cove_cli_events_setup(const struct cove_ctx *ctx);

/* unshare.c: a command in cove's user and mount namespace (rootless) */
int cmd_unshare(struct cove_ctx *ctx, int argc, char **argv);
