/*
 * The container commands that carry data in and out of a container: logs,
 * attach, cp, and running a health check now.  Split from container.c,
 * whose helpers they share (container-internal.h).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cove/cli.h"
#include "cli/cove/container-internal.h"
#include "engine/attach.h"
#include "engine/engine-internal.h"
#include "engine/events.h"
#include "engine/logfile.h"
#include "engine/netopts.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/signals.h"
#include "util/strutil.h"

/* ---- logs ---------------------------------------------------------------- */

static const char logs_help[] =
    "NAME:\n"
    "   cove logs - show a container's output\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove logs [options] CONTAINER...\n"
    "   cove logs [options] -l\n"
    "\n"
    "DESCRIPTION:\n"
    "   Prints what the container wrote to stdout and stderr (each to\n"
    "   cove's own), from its log file (JSON lines, docker's json-file\n"
    "   format, in the container's directory).  With several containers,\n"
    "   each line starts with the short id of its container (its name\n"
    "   with --names); with --follow they are followed at once.\n"
    "\n"
    "OPTIONS:\n"
    "   -f, --follow        keep printing new output until the container\n"
    "                       exits\n"
    "   -l, --latest        the container created last\n"
    "   --names             with several containers, the name rather than\n"
    "                       the id before each line (podman's -n is\n"
    "                       --tail here, as docker's)\n"
    "   -n, --tail N        only the last N lines\n"
    "   -t, --timestamps    prefix each line with its time (RFC 3339)\n"
    "   --since TIME        only lines since TIME (RFC 3339 or a "
    "duration\n"
    "                       such as 10m)\n"
    "   --until TIME        only lines before TIME\n"
    "   -h, --help          show this help\n";

struct logs_state {
	bool timestamps;
	struct cove_engine *e;
	char id[COVE_CTR_ID_LEN + 1];
	char *prefix; /* "ID " or "NAME " with several containers, or NULL */
};

static int log_line(void *data, enum cove_log_stream stream, const char *time,
		    const char *text, size_t len)
{
	struct logs_state *s = data;
	FILE *f = stream == COVE_LOG_STDERR ? stderr : stdout;

	if (s->prefix)
		fputs(s->prefix, f);
	if (s->timestamps)
		fprintf(f, "%s ", time);
	fwrite(text, 1, len, f);
	fflush(f);
	return 0;
}

static bool log_done(void *data)
{
	struct logs_state *s = data;
	struct cove_error err = {0};
	struct cove_ctr c = {0};
	bool done;

	if (cove_engine_lookup(s->e, s->id, &c, &err) < 0)
		return true;
	done = strcmp(c.state, "running") && strcmp(c.state, "paused") &&
	       strcmp(c.state, "restarting") && strcmp(c.state, "stopping");
	cove_ctr_release(&c);
	return done;
}

/* One container's log, as the options say. */
static int logs_one(struct cove_engine *e, const char *target,
		    const struct cove_log_read_opts *opts, bool timestamps,
		    int prefix)
{
	_cleanup_free_ char *dir = NULL, *path = NULL, *pre = NULL;
	struct cove_log_read_opts o = *opts;
	struct logs_state s = {.timestamps = timestamps, .e = e};
	struct cove_error err = {0};
	struct cove_ctr c = {0};
	int r;

	if (cove_engine_lookup(e, target, &c, &err) < 0)
		return cove_cli_fail(&err);
	if (strcmp(cove_netopts_log_driver(c.config), COVE_LOG_DRIVER_JSON)) {
		/* --log-driver none or passthrough: podman's words */
		r = cove_cli_failf("this container is using the '%s' log "
				   "driver, cannot read logs: this container "
				   "is not logging output",
				   cove_netopts_log_driver(c.config));
		cove_ctr_release(&c);
		return r;
	}
	dir = cove_engine_ctr_dir(e, c.id);
	path = cove_strdup_printf("%s/ctr.log", dir ? dir : "");
	if (prefix == 1)
		pre = cove_strdup_printf("%.12s ", c.id);
	else if (prefix == 2)
		pre = cove_strdup_printf("%s ", c.name);
	if (!dir || !path || (prefix && !pre)) {
		cove_ctr_release(&c);
		return cove_cli_failf("out of memory");
	}
	s.prefix = pre;
	memcpy(s.id, c.id, sizeof(s.id));
	cove_ctr_release(&c);
	o.done = log_done;
	o.done_data = &s;
	r = cove_logfile_read(path, &o, log_line, &s, &err);
	if (r < 0 && r != -ENOENT)
		return cove_cli_fail(&err);
	return 0;
}

/*
 * --follow with several containers: a child process follows each, so
 * their lines come as they are written; the status is the worst one.
 */
static int logs_follow_all(struct cove_engine *e, char *const *targets,
			   const struct cove_log_read_opts *o, bool timestamps,
			   int prefix)
{
	size_t n = cove_strv_length(targets), started = 0;
	_cleanup_free_ pid_t *pids = calloc(n, sizeof(pid_t));
	int r = 0;

	if (!pids)
		return cove_cli_failf("out of memory");
	fflush(stdout);
	fflush(stderr);
	cove_engine_before_fork(e);
	for (size_t i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			r = cove_cli_failf("logs: fork: %s", strerror(errno));
			break;
		}
		if (pid == 0)
			_exit(logs_one(e, targets[i], o, timestamps, prefix));
		pids[started++] = pid;
	}
	for (size_t i = 0; i < started; i++) {
		int status = 0;
		while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			r = 125;
	}
	return r;
}

int cmd_logs(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"follow", no_argument, NULL, 'f'},
	    {"tail", required_argument, NULL, 'n'},
	    {"timestamps", no_argument, NULL, 't'},
	    {"since", required_argument, NULL, 1},
	    {"until", required_argument, NULL, 2},
	    {"names", no_argument, NULL, 3},
	    {"latest", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	_cleanup_engine_ struct cove_engine *e = NULL;
	_cleanup_strv_ char **targets = NULL;
	struct cove_log_read_opts o = {.tail = -1};
	struct cove_error err = {0};
	bool timestamps = false, names = false;
	unsigned sel = 0;
	int ch, r, prefix = 0;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "fn:tlh", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return cove_cli_help(logs_help);
		case 'f':
			o.follow = true;
			break;
		case 'n': {
			int64_t v;
			if (!strcmp(optarg, "all"))
				v = -1;
			else if (cove_parse_int64(optarg, &v) < 0 || v < -1)
				return cove_cli_failf(
				    "logs: invalid --tail '%s'", optarg);
			o.tail = (long)v;
			break;
		}
		case 't':
			timestamps = true;
			break;
		case 1:
		case 2: {
			int64_t ns;
			if (cove_log_parse_since(optarg, cove_now_ns(), &ns,
						 &err) < 0)
				return cove_cli_fail(&err);
			if (ch == 1)
				o.since = ns;
			else
				o.until = ns;
			break;
		}
		case 3:
			names = true;
			break;
		case 'l':
			sel = COVE_CLI_SEL_LATEST;
			break;
		default:
			return cove_cli_unknown_option("logs", argv);
		}
	}
	r = cove_cli_select_check("logs", sel, argc - optind);
	if (r)
		return r;
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	r = cove_cli_select(e, "logs", sel, NULL, argc - optind, argv + optind,
			    &targets);
	if (r)
		return r;
	/* as podman: the prefix only when there are several */
	if (cove_strv_length(targets) > 1)
		prefix = names ? 2 : 1;
	if (o.follow && cove_strv_length(targets) > 1)
		return logs_follow_all(e, targets, &o, timestamps, prefix);
	for (size_t i = 0; targets && targets[i]; i++)
		if (logs_one(e, targets[i], &o, timestamps, prefix))
			r = 125;
	return r;
}

/* ---- healthcheck -----------------------------------------------------------
 */

static const char healthcheck_help[] =
    "NAME:\n"
    "   cove healthcheck run - run a container's health check now\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove healthcheck run CONTAINER\n"
    "\n"
    "DESCRIPTION:\n"
    "   Runs the container's health check (--health-cmd, or the image's\n"
    "   HEALTHCHECK) once inside it and records the result in its\n"
    "   State.Health (see 'cove inspect').  Exits 0 when the check passed,\n"
    "   1 (printing \"unhealthy\") when it failed.  The container's monitor\n"
    "   also runs it every --health-interval; after --health-retries\n"
    "   failures in a row the container is unhealthy.\n";

static int cmd_healthcheck_run(struct cove_ctx *ctx, int argc, char **argv)
{
	_cleanup_engine_ struct cove_engine *e = NULL;
	struct cove_error err = {0};
	struct cove_ctr c = {0};
	bool healthy = false;
	int r = cove_cli_no_options("healthcheck run", healthcheck_help, argc,
				    argv, NULL, NULL, NULL, NULL);

	if (r >= 0)
		return r;
	if (argc - optind != 1)
		return cove_cli_failf("healthcheck run: one container is "
				      "required");
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	if (cove_engine_lookup(e, argv[optind], &c, &err) < 0 ||
	    cove_engine_healthcheck(e, &c, &healthy, &err) < 0) {
		r = cove_cli_fail(&err);
	} else if (!healthy) {
		printf("unhealthy\n");
		r = 1;
	}
	cove_ctr_release(&c);
	return r;
}

static const struct cove_command healthcheck_commands[] = {
    {"run", cmd_healthcheck_run, "run a container's health check now"},
};

int cmd_healthcheck(struct cove_ctx *ctx, int argc, char **argv)
{
	return cove_cli_dispatch(ctx, healthcheck_commands,
				 ARRAY_SIZE(healthcheck_commands),
				 "healthcheck", argc - 1, argv + 1);
}

/* ---- cp ------------------------------------------------------------------ */

static const char cp_help[] =
    "NAME:\n"
    "   cove cp - copy files between a container and the host\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove cp [-a] CONTAINER:SRC_PATH DEST_PATH\n"
    "   cove cp [-a] SRC_PATH CONTAINER:DEST_PATH\n"
    "\n"
    "DESCRIPTION:\n"
    "   Copies a file or a directory tree (symlinks as symlinks; devices\n"
    "   and fifos are skipped).  Into an existing directory the source\n"
    "   keeps its name.  The container may be running (its volumes are\n"
    "   seen as it sees them) or stopped.  Paths in the container are\n"
    "   resolved inside it: its symlinks never lead to the host.\n"
    "\n"
    "   Files copied in belong to the container's user (root unless\n"
    "   --user or the image says otherwise), files copied out to the\n"
    "   caller, as podman does.  A container with a user namespace of its\n"
    "   own (--userns) sees them with those owners through its id maps.\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --archive   keep the source's owners, as the container sees\n"
    "                   them\n"
    "   -h, --help      show this help\n";

int cmd_cp(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"archive", no_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	_cleanup_engine_ struct cove_engine *e = NULL;
	_cleanup_free_ char *name = NULL;
	struct cove_error err = {0};
	struct cove_ctr c = {0};
	const char *src, *dst, *colon, *host, *inside;
	bool archive = false, to_container;
	int r = cove_cli_no_options("cp", cp_help, argc, argv, "ah", opts,
				    cove_cli_flag_opt, &archive);

	if (r >= 0)
		return r;
	if (argc - optind != 2)
		return cove_cli_failf("cp: a source and a destination are "
				      "required (see 'cove cp --help')");
	src = argv[optind];
	dst = argv[optind + 1];
	/* CONTAINER:PATH; a path with a slash before the colon is a file */
	colon = strchr(dst, ':');
	to_container = colon && (!strchr(dst, '/') || strchr(dst, '/') > colon);
	colon = strchr(to_container ? dst : src, ':');
	if (!colon ||
	    (!to_container && strchr(src, '/') && strchr(src, '/') < colon))
		return cove_cli_failf("cp: one of the paths must be "
				      "CONTAINER:PATH");
	name = strndup(to_container ? dst : src,
		       (size_t)(colon - (to_container ? dst : src)));
	if (!name)
		return cove_cli_failf("out of memory");
	inside = colon + 1;
	host = to_container ? src : dst;
	if (!*inside)
		inside = "/";
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	if (cove_engine_lookup(e, name, &c, &err) < 0 ||
	    cove_engine_cp(e, &c, to_container, host, inside, archive, &err) <
		0)
		r = cove_cli_fail(&err);
	cove_ctr_release(&c);
	return r;
}

/* ---- attach ------------------------------------------------------------- */

static const char attach_help[] =
    "NAME:\n"
    "   cove attach - attach to a running container's input and output\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove attach [--no-stdin] CONTAINER\n"
    "\n"
    "DESCRIPTION:\n"
    "   Connects to the container's monitor: what the container writes\n"
    "   from now on goes to cove's stdout and stderr, and cove's stdin to\n"
    "   the container (when it was started with -i or -t).  With a\n"
    "   terminal, Ctrl-P Ctrl-Q detaches and leaves the container\n"
    "   running.  Otherwise cove exits with the container's exit code\n"
    "   when it stops.\n"
    "\n"
    "OPTIONS:\n"
    "   --no-stdin   do not pass stdin on\n"
    "   -h, --help   show this help\n";

int cmd_attach(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"no-stdin", no_argument, NULL, 1},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	_cleanup_engine_ struct cove_engine *e = NULL;
	_cleanup_close_ int fd = -1;
	struct cove_error err = {0};
	struct cove_ctr c = {0};
	struct termios saved, raw;
	bool no_stdin = false, tty, is_raw = false, in_done, detached = false;
	unsigned char hdr[COVE_ATTACH_HDR];
	size_t have = 0;
	uint32_t left = 0;
	int stream = 1, code = 0;
	int r = cove_cli_no_options("attach", attach_help, argc, argv, "h",
				    opts, cove_cli_flag_opt, &no_stdin);

	if (r >= 0)
		return r;
	if (argc - optind != 1)
		return cove_cli_failf("attach: one container is required");
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	if (cove_engine_lookup(e, argv[optind], &c, &err) < 0)
		return cove_cli_fail(&err);
	if (strcmp(c.state, "running")) {
		r = cove_cli_failf("attach: container %s is not running",
				   argv[optind]);
		goto out;
	}
	if (cove_attach_connect(e->runroot, c.id, &fd, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	tty = json_is_true(json_object_get(c.config, "Tty"));
	in_done = no_stdin;
	if (tty && !no_stdin && isatty(0) && tcgetattr(0, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		is_raw = tcsetattr(0, TCSANOW, &raw) == 0;
	}
	for (;;) {
		struct pollfd p[2] = {
		    {.fd = fd, .events = POLLIN},
		    {.fd = in_done ? -1 : 0, .events = POLLIN}};
		char buf[32768];
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0) {
				in_done = true;
				shutdown(fd, SHUT_WR);
			} else {
				/* Ctrl-P Ctrl-Q: detach (terminals only) */
				if (is_raw && n >= 2 && buf[n - 2] == 0x10 &&
				    buf[n - 1] == 0x11) {
					detached = true;
					break;
				}
				(void)cove_write_all(fd, buf, (size_t)n);
			}
		}
		if (!p[0].revents)
			continue;
		if (left == 0) {
			n = read(fd, hdr + have, sizeof(hdr) - have);
			if (n <= 0)
				break;
			have += (size_t)n;
			if (have == sizeof(hdr)) {
				left = cove_attach_parse(hdr, &stream);
				have = 0;
			}
			continue;
		}
		n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));
		if (n <= 0)
			break;
		left -= (uint32_t)n;
		(void)cove_write_all(stream == 2 ? 2 : 1, buf, (size_t)n);
	}
	if (is_raw)
		tcsetattr(0, TCSANOW, &saved);
	if (detached) {
		r = 0;
		goto out;
	}
	/* the container exited: its exit code is ours, as docker attach */
	if (cove_engine_wait(e, &c, &code, &err) < 0)
		r = cove_cli_fail(&err);
	else
		r = code;
out:
	cove_ctr_release(&c);
	return r;
}
