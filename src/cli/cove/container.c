/*
 * The container commands after create/run: start, stop, restart, kill, rm,
 * ps, inspect, wait, pause, unpause, rename, port, exists, prune and the
 * "container" group (logs, attach, cp and healthcheck: container-io.c).
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
#include "engine/ps.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/signals.h"
#include "util/strutil.h"

int cove_cli_no_options(const char *cmd, const char *help, int argc,
			char **argv, const char *shortopts,
			const struct option *opts,
			int (*each)(int c, void *data), void *data)
{
	static const struct option help_only[] = {
	    {"help", no_argument, NULL, 'h'}, {0}};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts ? shortopts : "h",
				opts ? opts : help_only, NULL)) != -1) {
		int r;
		if (c == 'h')
			return cove_cli_help(help);
		if (!each || c == '?')
			return cove_cli_unknown_option(cmd, argv);
		r = each(c, data);
		if (r >= 0)
			return r;
	}
	return -1;
}

static void time_iso(int64_t ns, char *buf, size_t size)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (ns <= 0) {
		snprintf(buf, size, "0001-01-01T00:00:00Z");
		return;
	}
	gmtime_r(&t, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (long long)(ns % 1000000000));
}

/* "Up 5 minutes", "Exited (0) 2 seconds ago", "Created" */
static void human_since(int64_t ns, char *buf, size_t size)
{
	int64_t s = (cove_now_ns() - ns) / 1000000000;

	if (s < 1)
		snprintf(buf, size, "Less than a second");
	else if (s < 60)
		snprintf(buf, size, "%lld second%s", (long long)s,
			 s == 1 ? "" : "s");
	else if (s < 3600)
		snprintf(buf, size, "%lld minute%s", (long long)(s / 60),
			 s / 60 == 1 ? "" : "s");
	else if (s < 86400)
		snprintf(buf, size, "%lld hour%s", (long long)(s / 3600),
			 s / 3600 == 1 ? "" : "s");
	else
		snprintf(buf, size, "%lld day%s", (long long)(s / 86400),
			 s / 86400 == 1 ? "" : "s");
}

static void status_of(const struct cove_ctr *c, char *buf, size_t size)
{
	char since[64];

	if (!strcmp(c->state, "running") || !strcmp(c->state, "paused")) {
		human_since(c->started_at, since, sizeof(since));
		snprintf(buf, size, "Up %s%s", since,
			 !strcmp(c->state, "paused") ? " (Paused)" : "");
	} else if (!strcmp(c->state, "exited")) {
		human_since(c->finished_at ? c->finished_at : c->created, since,
			    sizeof(since));
		snprintf(buf, size, "Exited (%d) %s ago",
			 c->exit_code < 0 ? 0 : c->exit_code, since);
	} else if (!strcmp(c->state, "restarting")) {
		snprintf(buf, size, "Restarting (%d)", c->exit_code);
	} else {
		snprintf(buf, size, "Created");
	}
}

static json_t *cmd_json(const struct cove_ctr *c)
{
	json_t *cmd = json_object_get(c->config, "Cmd");
	return cmd ? json_incref(cmd) : json_null();
}

/* "0.0.0.0:8080->80/tcp, ..." */
static void ports_text(const struct cove_ctr *c, char *buf, size_t size)
{
	const json_t *pb = json_object_get(
	    json_object_get(c->config, "HostConfig"), "PortBindings");
	size_t i, len = 0;
	json_t *b;

	buf[0] = '\0';
	json_array_foreach(pb, i, b)
	{
		const char *ip =
		    json_string_value(json_object_get(b, "HostIp"));
		len += (size_t)snprintf(
		    buf + len, len < size ? size - len : 0,
		    "%s%s:%lld->%lld/%s", i ? ", " : "",
		    ip && *ip ? ip : "0.0.0.0",
		    (long long)json_integer_value(
			json_object_get(b, "HostPort")),
		    (long long)json_integer_value(
			json_object_get(b, "ContainerPort")),
		    json_string_value(json_object_get(b, "Protocol")));
		if (len >= size)
			break;
	}
}

/*
 * The loop of the commands that act on each container named: open the
 * engine, look each one up, call @fn; a name that fails is reported and
 * the others still run (exit status 125 then).  @fn returns < 0 on error,
 * 0 to have the name printed, 1 when it printed what it had to say.
 */
typedef int (*ctr_fn)(struct cove_engine *e, struct cove_ctr *c, void *data,
		      struct cove_error *err);

/* Which containers: the names given, or --all (those @want accepts) or
 * --latest (select.c); with @ignore a missing one is no error. */
struct sel_opts {
	unsigned flags; /* COVE_CLI_SEL_* */
	cove_cli_want_fn want;
	bool ignore;
};

static int each_ctr(struct cove_ctx *ctx, const char *cmd, int argc,
		    char **argv, const struct sel_opts *sel, ctr_fn fn,
		    void *data)
{
	_cleanup_engine_ struct cove_engine *e = NULL;
	_cleanup_strv_ char **targets = NULL;
	int r = cove_cli_select_check(cmd, sel->flags, argc - optind);

	if (r)
		return r;
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	r = cove_cli_select(e, cmd, sel->flags, sel->want, argc - optind,
			    argv + optind, &targets);
	if (r)
		return r;
	for (size_t i = 0; targets && targets[i]; i++) {
		struct cove_error err = {0};
		struct cove_ctr c = {0};
		int k = cove_engine_lookup(e, targets[i], &c, &err);
		if (k == -ENOENT && sel->ignore)
			continue;
		if (k >= 0)
			k = fn(e, &c, data, &err);
		if (k < 0)
			r = cove_cli_fail(&err);
		else if (k == 0)
			printf("%s\n", targets[i]);
		cove_ctr_release(&c);
	}
	return r;
}

/* --all's choices */
static bool is_running(const struct cove_ctr *c)
{
	return !strcmp(c->state, "running");
}

static bool is_paused(const struct cove_ctr *c)
{
	return !strcmp(c->state, "paused");
}

static bool is_up(const struct cove_ctr *c)
{
	return !strcmp(c->state, "running") || !strcmp(c->state, "paused") ||
	       !strcmp(c->state, "restarting") || !strcmp(c->state, "stopping");
}

int cove_cli_flag_opt(int c, void *data)
{
	(void)c;
	*(bool *)data = true;
	return -1;
}

/* ---- start / stop / restart / kill / wait -------------------------------- */

static const char start_help[] =
    "NAME:\n"
    "   cove start - start containers\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove start [-a] CONTAINER...\n"
    "   cove start --all | -l\n"
    "\n"
    "DESCRIPTION:\n"
    "   Starts created or exited containers in the background, each with\n"
    "   a monitor process of its own, and prints their names (the ids\n"
    "   with --all or --latest); one already running is left as it is.\n"
    "   With -a, one container runs in the foreground attached to the\n"
    "   terminal, and cove exits with its exit code.\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --attach   attach to the container's output\n"
    "   --all          every container (as podman, -a is --attach)\n"
    "   -l, --latest   the container created last\n"
    "   -h, --help     show this help\n";

static int start_opt(int c, void *data)
{
	unsigned *f = data;
	if (c == 'a')
		*f |= 1u << 8; /* attach */
	else if (c == 1)
		*f |= COVE_CLI_SEL_ALL;
	else if (c == 'l')
		*f |= COVE_CLI_SEL_LATEST;
	else
		return 125;
	return -1;
}

int cmd_start(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"attach", no_argument, NULL, 'a'},
					     {"all", no_argument, NULL, 1},
					     {"latest", no_argument, NULL, 'l'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	_cleanup_engine_ struct cove_engine *e = NULL;
	_cleanup_strv_ char **targets = NULL;
	unsigned f = 0, sel;
	bool attach;
	int r = cove_cli_no_options("start", start_help, argc, argv, "alh",
				    opts, start_opt, &f);

	if (r >= 0)
		return r;
	attach = f & (1u << 8);
	sel = f & (COVE_CLI_SEL_ALL | COVE_CLI_SEL_LATEST);
	r = cove_cli_select_check("start", sel, argc - optind);
	if (r)
		return r;
	if (attach && (argc - optind > 1 || (sel & COVE_CLI_SEL_ALL)))
		return cove_cli_failf("start: --attach takes one container");
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	r = cove_cli_select(e, "start", sel, NULL, argc - optind, argv + optind,
			    &targets);
	if (r)
		return r;
	for (size_t i = 0; targets && targets[i]; i++) {
		struct cove_error err = {0};
		struct cove_ctr c = {0};
		struct cove_start_opts so = {.detach = !attach};
		int code = 0;
		if (cove_engine_lookup(e, targets[i], &c, &err) < 0) {
			r = cove_cli_fail(&err);
			continue;
		}
		if (!attach && (!strcmp(c.state, "running") ||
				((sel & COVE_CLI_SEL_ALL) && is_up(&c)))) {
			printf("%s\n", targets[i]); /* docker: no error */
		} else if (cove_engine_start(e, &c, &so, &code, &err) < 0) {
			r = cove_cli_fail(&err);
		} else if (attach) {
			r = code;
		} else {
			printf("%s\n", targets[i]);
		}
		cove_ctr_release(&c);
	}
	return r;
}

static const char stop_help[] =
    "NAME:\n"
    "   cove stop - stop running containers\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove stop [-i] [-t SECONDS] CONTAINER...\n"
    "   cove stop [-t SECONDS] -a | -l\n"
    "\n"
    "DESCRIPTION:\n"
    "   Sends each container its stop signal (--stop-signal, SIGTERM by\n"
    "   default) and, if it has not exited after the timeout, SIGKILL to\n"
    "   every process of it.  A stopped container is not restarted by its\n"
    "   restart policy.  Prints the names given (the ids with --all or\n"
    "   --latest).\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --all            every running (or paused) container\n"
    "   -i, --ignore         no error for a container that does not exist\n"
    "   -l, --latest         the container created last\n"
    "   -t, --time SECONDS   wait before SIGKILL (default: the container's\n"
    "                        --stop-timeout, 10)\n"
    "   -h, --help           show this help\n";

static const char restart_help[] =
    "NAME:\n"
    "   cove restart - restart containers\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove restart [-t SECONDS] CONTAINER...\n"
    "   cove restart [-t SECONDS] -a | --running | -l\n"
    "\n"
    "DESCRIPTION:\n"
    "   Stops (as 'cove stop') and starts each container again.\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --all            every container, whatever its state\n"
    "   --running            every running (or paused) container\n"
    "   -l, --latest         the container created last\n"
    "   -t, --time SECONDS   wait before SIGKILL (default: 10)\n"
    "   -h, --help           show this help\n";

static int time_opt(int c, void *data)
{
	if (c != 't' || cove_parse_int(optarg, (int *)data) < 0 ||
	    *(int *)data < 0)
		return cove_cli_failf("invalid --time '%s'",
				      optarg ? optarg : "");
	return -1;
}

struct stop_args {
	int timeout;
	bool restart;
	struct sel_opts sel;
};

/* -t, and the choice of containers: -a, -l, -i, --running */
static int stop_opt(int c, void *data)
{
	struct stop_args *a = data;
	switch (c) {
	case 'a':
		a->sel.flags |= COVE_CLI_SEL_ALL;
		break;
	case 1: /* restart --running */
		a->sel.flags |= COVE_CLI_SEL_ALL;
		a->sel.want = is_up;
		break;
	case 'l':
		a->sel.flags |= COVE_CLI_SEL_LATEST;
		break;
	case 'i':
		a->sel.ignore = true;
		break;
	default:
		return time_opt(c, &a->timeout);
	}
	return -1;
}

static int stop_one(struct cove_engine *e, struct cove_ctr *c, void *data,
		    struct cove_error *err)
{
	struct stop_args *a = data;
	struct cove_start_opts so = {.detach = true};
	int r = cove_engine_stop(e, c, a->timeout, err);

	if (r >= 0 && a->restart)
		r = cove_engine_start(e, c, &so, NULL, err);
	if (r >= 0 && a->restart)
		cove_events_ctr(c, "restart", NULL, NULL);
	return r < 0 ? r : 0;
}

static int stop_or_restart(struct cove_ctx *ctx, int argc, char **argv,
			   bool restart)
{
	static const struct option stop_opts[] = {
	    {"time", required_argument, NULL, 't'},
	    {"timeout", required_argument, NULL, 't'},
	    {"all", no_argument, NULL, 'a'},
	    {"ignore", no_argument, NULL, 'i'},
	    {"latest", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	static const struct option restart_opts[] = {
	    {"time", required_argument, NULL, 't'},
	    {"timeout", required_argument, NULL, 't'},
	    {"all", no_argument, NULL, 'a'},
	    {"running", no_argument, NULL, 1},
	    {"latest", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	const char *cmd = restart ? "restart" : "stop";
	struct stop_args a = {.timeout = -1, .restart = restart};
	int r = cove_cli_no_options(cmd, restart ? restart_help : stop_help,
				    argc, argv, restart ? "t:alh" : "t:ailh",
				    restart ? restart_opts : stop_opts,
				    stop_opt, &a);

	if (r >= 0)
		return r;
	if (!restart)
		a.sel.want = is_up; /* stop --all: the running ones */
	return each_ctr(ctx, cmd, argc, argv, &a.sel, stop_one, &a);
}

int cmd_stop(struct cove_ctx *ctx, int argc, char **argv)
{
	return stop_or_restart(ctx, argc, argv, false);
}

int cmd_restart(struct cove_ctx *ctx, int argc, char **argv)
{
	return stop_or_restart(ctx, argc, argv, true);
}

static const char kill_help[] =
    "NAME:\n"
    "   cove kill - send a signal to running containers\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove kill [-s SIGNAL] CONTAINER...\n"
    "   cove kill [-s SIGNAL] -a | -l\n"
    "\n"
    "DESCRIPTION:\n"
    "   Sends SIGNAL (default SIGKILL) to each container's main process.\n"
    "   Unlike stop, the restart policy still applies.  Prints the names\n"
    "   given (the ids with --all or --latest).\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --all          every running container\n"
    "   -l, --latest       the container created last\n"
    "   -s, --signal SIG   signal name or number (default KILL)\n"
    "   -h, --help         show this help\n";

struct kill_args {
	int sig;
	struct sel_opts sel;
};

static int signal_opt(int c, void *data)
{
	struct kill_args *a = data;
	int sig;

	if (c == 'a' || c == 'l') {
		a->sel.flags |=
		    c == 'a' ? COVE_CLI_SEL_ALL : COVE_CLI_SEL_LATEST;
		return -1;
	}
	sig = c == 's' ? cove_signal_parse(optarg) : -1;
	if (sig <= 0)
		return cove_cli_failf("kill: invalid --signal '%s'",
				      optarg ? optarg : "");
	a->sig = sig;
	return -1;
}

static int kill_one(struct cove_engine *e, struct cove_ctr *c, void *data,
		    struct cove_error *err)
{
	int r = cove_engine_kill(e, c, ((struct kill_args *)data)->sig, err);
	return r < 0 ? r : 0;
}

int cmd_kill(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"signal", required_argument, NULL, 's'},
	    {"all", no_argument, NULL, 'a'},
	    {"latest", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	struct kill_args a = {.sig = SIGKILL, .sel = {.want = is_running}};
	int r = cove_cli_no_options("kill", kill_help, argc, argv, "s:alh",
				    opts, signal_opt, &a);

	if (r >= 0)
		return r;
	return each_ctr(ctx, "kill", argc, argv, &a.sel, kill_one, &a);
}

static const char wait_help[] =
    "NAME:\n"
    "   cove wait - wait for containers to exit\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove wait [options] CONTAINER...\n"
    "   cove wait [options] -l\n"
    "\n"
    "DESCRIPTION:\n"
    "   Blocks until each container has exited (restarts included) and\n"
    "   prints its exit code.  With --condition, until it is in one of\n"
    "   the states given; then it prints -1 unless that state is stopped\n"
    "   or exited.\n"
    "\n"
    "OPTIONS:\n"
    "   --condition STATE     created, running, paused, stopped or exited\n"
    "                         (repeatable: any of them; default: stopped)\n"
    "   -i, --interval TIME   how often to look with --condition (a\n"
    "                         duration, 500ms, 1s; a bare number is ms;\n"
    "                         default 250ms)\n"
    "   -l, --latest          the container created last\n"
    "   -h, --help            show this help\n";

enum {
	WAIT_CREATED = 1 << 0,
	WAIT_RUNNING = 1 << 1,
	WAIT_PAUSED = 1 << 2,
	WAIT_EXITED = 1 << 3, /* stopped, exited */
};

struct wait_args {
	struct sel_opts sel;
	unsigned conds;
	int64_t interval_ns;
};

static int wait_opt(int c, void *data)
{
	static const struct {
		const char *name;
		unsigned bit;
	} states[] = {{"created", WAIT_CREATED},
		      {"running", WAIT_RUNNING},
		      {"paused", WAIT_PAUSED},
		      {"stopped", WAIT_EXITED},
		      {"exited", WAIT_EXITED}};
	struct wait_args *a = data;
	size_t i;

	switch (c) {
	case 'l':
		a->sel.flags |= COVE_CLI_SEL_LATEST;
		return -1;
	case 'i':
		if (optarg[strspn(optarg, "0123456789")] == '\0' && *optarg) {
			int64_t ms;
			if (cove_parse_int64(optarg, &ms) == 0 &&
			    ms <= INT64_MAX / 1000000) {
				a->interval_ns = (ms ? ms : 1) * 1000000;
				return -1;
			}
		} else if (cove_cli_parse_duration(optarg, &a->interval_ns) ==
			   0) {
			if (a->interval_ns < 1000000)
				a->interval_ns = 1000000;
			return -1;
		}
		return cove_cli_failf("wait: invalid --interval '%s'", optarg);
	case 1:
		for (i = 0; i < ARRAY_SIZE(states); i++)
			if (!strcmp(optarg, states[i].name))
				break;
		if (i == ARRAY_SIZE(states))
			return cove_cli_failf("wait: unknown container state "
					      "'%s' in --condition: expected "
					      "created, running, paused, "
					      "stopped or exited",
					      optarg);
		a->conds |= states[i].bit;
		return -1;
	default:
		return 125;
	}
}

static unsigned state_bit(const struct cove_ctr *c)
{
	if (!strcmp(c->state, "created"))
		return WAIT_CREATED;
	if (!strcmp(c->state, "running"))
		return WAIT_RUNNING;
	if (!strcmp(c->state, "paused"))
		return WAIT_PAUSED;
	if (!strcmp(c->state, "exited"))
		return WAIT_EXITED;
	return 0;
}

static int wait_one(struct cove_engine *e, struct cove_ctr *c, void *data,
		    struct cove_error *err)
{
	const struct wait_args *a = data;
	int code = 0, r = 0;

	if (!(a->conds & ~WAIT_EXITED)) {
		r = cove_engine_wait(e, c, &code, err);
		if (r < 0)
			return r;
		printf("%d\n", code);
		return 1;
	}
	/* other states: look every --interval */
	for (;;) {
		struct timespec ts = {
		    .tv_sec = (time_t)(a->interval_ns / 1000000000),
		    .tv_nsec = (long)(a->interval_ns % 1000000000)};
		struct cove_ctr fresh = {0};
		unsigned bit = state_bit(c);

		if (bit & a->conds) {
			printf("%d\n",
			       bit == WAIT_EXITED
				   ? (c->exit_code < 0 ? 0 : c->exit_code)
				   : -1);
			return 1;
		}
		nanosleep(&ts, NULL);
		r = cove_engine_lookup(e, c->id, &fresh, err);
		if (r < 0)
			return r;
		cove_ctr_release(c);
		*c = fresh;
	}
}

int cmd_wait(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"condition", required_argument, NULL, 1},
	    {"interval", required_argument, NULL, 'i'},
	    {"latest", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	struct wait_args a = {.interval_ns = 250000000};
	int r = cove_cli_no_options("wait", wait_help, argc, argv, "i:lh", opts,
				    wait_opt, &a);

	if (r >= 0)
		return r;
	return each_ctr(ctx, "wait", argc, argv, &a.sel, wait_one, &a);
}

/* ---- rm ---------------------------------------------------------------- */

static const char rm_help[] =
    "NAME:\n"
    "   cove rm - remove containers\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove rm [options] CONTAINER...\n"
    "   cove rm [options] -a | -l\n"
    "\n"
    "DESCRIPTION:\n"
    "   Removes each container: its root file system and changes, its\n"
    "   logs, network attachment and record, and prints its id.  A\n"
    "   running container is refused unless -f, which kills it first.\n"
    "   Containers that join another's namespaces (--pid, --ipc, --uts,\n"
    "   --network container:X) depend on it and must go first: among\n"
    "   those given they are removed first, whatever the order, and\n"
    "   --depend adds them.\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --all            every container\n"
    "   --depend             also remove the containers that depend on\n"
    "                        these, recursively\n"
    "   -f, --force          remove running containers too (SIGKILL)\n"
    "   -i, --ignore         no error for a container that does not exist\n"
    "   -l, --latest         the container created last\n"
    "   -t, --time SECONDS   with -f: stop a running container (its stop\n"
    "                        signal, SIGKILL after SECONDS) rather than\n"
    "                        kill it at once\n"
    "   -v, --volumes        remove their anonymous volumes too\n"
    "   -h, --help           show this help\n";

struct rm_flags {
	struct cove_cli_rm_opts o;
	unsigned sel;
};

static int rm_opt(int c, void *data)
{
	struct rm_flags *f = data;
	switch (c) {
	case 'f':
		f->o.force = true;
		break;
	case 'v':
		f->o.volumes = true;
		break;
	case 'i':
		f->o.ignore = true;
		break;
	case 1:
		f->o.depend = true;
		break;
	case 'a':
		f->sel |= COVE_CLI_SEL_ALL;
		break;
	case 'l':
		f->sel |= COVE_CLI_SEL_LATEST;
		break;
	case 't':
		if (cove_parse_int(optarg, &f->o.timeout) < 0 ||
		    f->o.timeout < 0)
			return cove_cli_failf("rm: invalid --time '%s'",
					      optarg);
		break;
	default:
		return 125;
	}
	return -1;
}

int cmd_rm(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"volumes", no_argument, NULL, 'v'},
	    {"all", no_argument, NULL, 'a'},
	    {"latest", no_argument, NULL, 'l'},
	    {"ignore", no_argument, NULL, 'i'},
	    {"depend", no_argument, NULL, 1},
	    {"time", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	_cleanup_engine_ struct cove_engine *e = NULL;
	_cleanup_strv_ char **targets = NULL;
	struct rm_flags f = {.o = {.timeout = -1}};
	int r = cove_cli_no_options("rm", rm_help, argc, argv, "fvailt:h", opts,
				    rm_opt, &f);

	if (r >= 0)
		return r;
	if (f.o.timeout >= 0 && !f.o.force)
		return cove_cli_failf("rm: --time needs --force");
	r = cove_cli_select_check("rm", f.sel, argc - optind);
	if (r)
		return r;
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	r = cove_cli_select(e, "rm", f.sel, NULL, argc - optind, argv + optind,
			    &targets);
	if (r)
		return r;
	return cove_cli_remove(e, targets, &f.o);
}

/* ---- ps ---------------------------------------------------------------- */

static const char ps_help[] =
    "NAME:\n"
    "   cove ps - list containers\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove ps [options]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Lists running containers (all with -a): id, image, command,\n"
    "   created, status, ports and name, the newest first.\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --all                 every container, not only running ones\n"
    "   -n, --last N              the N created last, whatever their state\n"
    "   -l, --latest              the one created last (--last 1)\n"
    "   -q, --quiet               ids only\n"
    "   --no-trunc                full ids and commands\n"
    "   -s, --size                a SIZE column: the bytes the container\n"
    "                             wrote (its writable layer; the whole\n"
    "                             rootfs copy with vfs), and the size of\n"
    "                             its whole root file system (virtual)\n"
    "   --sort KEY                created (oldest first), id, image, names,\n"
    "                             runningfor, status or command\n"
    "   --format FORMAT           table (default), json, or a template:\n"
    "                             '{{.ID}} {{.Name}} {{.Status}}'\n"
    "   -f, --filter KEY=VALUE    name=, id=, status=created|running|\n"
    "                             paused|exited|restarting, label=K[=V],\n"
    "                             ancestor=IMAGE, exited=CODE,\n"
    "                             health=healthy|unhealthy|starting|none,\n"
    "                             network=NAME, volume=NAME|PATH,\n"
    "                             before=CONTAINER, since=CONTAINER\n"
    "                             (repeatable: one of those with the same\n"
    "                             key must match, all the label ones, and\n"
    "                             one of each key)\n"
    "   -h, --help                show this help\n";

struct ps_flags {
	bool all, quiet, no_trunc, json, size;
	long last;	  /* --last N; -1: no limit */
	const char *sort; /* --sort KEY */
	const char *tmpl; /* --format '{{.Names}}' */
	char **filters;
};

static int ps_opt(int c, void *data)
{
	struct ps_flags *f = data;
	switch (c) {
	case 'a':
		f->all = true;
		break;
	case 'q':
		f->quiet = true;
		break;
	case 1:
		f->no_trunc = true;
		break;
	case 'n': {
		int64_t v;
		if (cove_parse_int64(optarg, &v) < 0 || v < -1)
			return cove_cli_failf("ps: invalid --last '%s'",
					      optarg);
		f->last = v > 0 ? (long)v : -1;
		break;
	}
	case 'l':
		f->last = 1;
		break;
	case 's':
		f->size = true;
		break;
	case 3:
		if (!cove_cli_ps_sort_valid(optarg))
			return cove_cli_failf("ps: invalid --sort '%s': "
					      "expected created, id, image, "
					      "names, runningfor, status or "
					      "command",
					      optarg);
		f->sort = optarg;
		break;
	case 2:
		if (!strcmp(optarg, "json"))
			f->json = true;
		else if (cove_cli_is_template(optarg))
			f->tmpl = optarg;
		else if (strcmp(optarg, "table"))
			return cove_cli_failf("ps: invalid --format '%s': "
					      "expected table, json or a "
					      "template ('{{.Names}}')",
					      optarg);
		break;
	case 'f':
		if (!strchr(optarg, '='))
			return cove_cli_failf("ps: invalid --filter '%s': "
					      "expected KEY=VALUE",
					      optarg);
		if (cove_strv_push(&f->filters, optarg) < 0)
			return cove_cli_failf("out of memory");
		break;
	default:
		return 125;
	}
	return -1;
}

static bool has_status_filter(const struct ps_flags *f)
{
	for (size_t i = 0; f->filters && f->filters[i]; i++)
		if (!strncmp(f->filters[i], "status=", 7))
			return true;
	return false;
}

static json_t *ctr_summary(const struct cove_ctr *c)
{
	json_t *j = json_object(), *names = json_array();
	char created[64];

	time_iso(c->created, created, sizeof(created));
	json_array_append_new(names, json_string(c->name));
	json_object_set_new(j, "Id", json_string(c->id));
	json_object_set_new(j, "ID", json_stringn(c->id, 12));
	json_object_set_new(j, "Names", names);
	json_object_set_new(j, "Name", json_string(c->name));
	{
		char status[96];
		status_of(c, status, sizeof(status));
		json_object_set_new(j, "Status", json_string(status));
	}
	json_object_set_new(j, "Image", json_string(c->image));
	json_object_set_new(j, "ImageID", json_string(c->image_id));
	json_object_set_new(j, "Command", cmd_json(c));
	json_object_set_new(j, "Created",
			    json_integer(c->created / 1000000000));
	json_object_set_new(j, "CreatedAt", json_string(created));
	json_object_set_new(j, "State", json_string(c->state));
	json_object_set_new(j, "Pid", json_integer(c->pid));
	json_object_set_new(j, "ExitCode",
			    json_integer(c->exit_code < 0 ? 0 : c->exit_code));
	json_object_set_new(j, "Exited",
			    json_boolean(!strcmp(c->state, "exited")));
	json_object_set_new(
	    j, "Labels",
	    json_object_get(c->config, "Labels")
		? json_incref(json_object_get(c->config, "Labels"))
		: json_object());
	json_object_set_new(
	    j, "Ports",
	    json_incref(json_object_get(
		json_object_get(c->config, "HostConfig"), "PortBindings"))
		?: json_array());
	return j;
}

/* --size: "12B (virtual 1.98MB)", and the object podman's JSON has */
static void ps_size(struct cove_engine *e, const struct cove_ctr *c,
		    json_t *summary, char *text, size_t size)
{
	struct cove_error err = {0};
	uint64_t rw = 0, rootfs = 0;
	char a[32], b[32];

	(void)cove_engine_ctr_size(e, c, &rw, &rootfs, &err);
	cove_cli_size(rw, a, sizeof(a));
	cove_cli_size(rootfs, b, sizeof(b));
	snprintf(text, size, "%s (virtual %s)", a, b);
	if (summary)
		json_object_set_new(summary, "Size",
				    json_pack("{sI sI}", "rwSize",
					      (json_int_t)rw, "rootFsSize",
					      (json_int_t)rootfs));
}

static int ps_print(struct cove_engine *e, const struct ps_flags *f,
		    const struct cove_ctr *c, json_t *out)
{
	char status[96], created[64], ports[512], size[80] = "";
	_cleanup_free_ char *cmd = NULL;
	int r = 0;

	if (f->json || f->tmpl) {
		json_t *j = ctr_summary(c);
		if (f->size)
			ps_size(e, c, f->json ? j : NULL, size, sizeof(size));
		if (f->size && f->tmpl) /* a template shows the text */
			json_object_set_new(j, "Size", json_string(size));
		if (f->tmpl) /* {{.Names}}: "x", as podman's */
			json_object_set_new(j, "Names", json_string(c->name));
		if (f->json)
			return json_array_append_new(out, j) < 0 ? 125 : 0;
		r = cove_cli_render_template(f->tmpl, j);
		json_decref(j);
		return r;
	}
	if (f->quiet) {
		printf("%.*s\n", f->no_trunc ? 64 : 12, c->id);
		return 0;
	}
	status_of(c, status, sizeof(status));
	human_since(c->created, created, sizeof(created));
	strncat(created, " ago", sizeof(created) - strlen(created) - 1);
	ports_text(c, ports, sizeof(ports));
	cmd = cove_cli_ctr_command(c);
	if (f->size)
		ps_size(e, c, NULL, size, sizeof(size));
	printf("%-12.*s  %-28s  %-20.*s  %-16s  %-24s  %-20s  ",
	       f->no_trunc ? 64 : 12, c->id, c->image,
	       f->no_trunc ? 1 << 20 : 20, cmd ? cmd : "", created, status,
	       ports);
	if (f->size)
		printf("%-24s  ", size);
	printf("%s\n", c->name);
	return 0;
}

int cmd_ps(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"no-trunc", no_argument, NULL, 1},
	    {"format", required_argument, NULL, 2},
	    {"filter", required_argument, NULL, 'f'},
	    {"last", required_argument, NULL, 'n'},
	    {"latest", no_argument, NULL, 'l'},
	    {"size", no_argument, NULL, 's'},
	    {"sort", required_argument, NULL, 3},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	_cleanup_engine_ struct cove_engine *e = NULL;
	struct cove_engine_ps_filters *pf = NULL;
	struct ps_flags f = {.last = -1};
	struct cove_error err = {0};
	struct cove_ctr *cs = NULL, **sel = NULL;
	json_t *out = NULL;
	size_t n = 0, nsel = 0, first = 0;
	sqlite3 *db;
	int r = cove_cli_no_options("ps", ps_help, argc, argv, "aqf:n:lsh",
				    opts, ps_opt, &f);

	if (r >= 0)
		goto done;
	if (optind < argc) {
		r = cove_cli_failf("ps: unexpected argument '%s'",
				   argv[optind]);
		goto done;
	}
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		goto done;
	if (cove_engine_ps_filters_new(e, f.filters, &pf, &err) < 0) {
		r = cove_cli_fail(&err);
		goto done;
	}
	if (cove_engine_db(e, &db, &err) < 0 ||
	    cove_ctr_list(db, &cs, &n, &err) < 0) {
		r = cove_cli_fail(&err);
		goto done;
	}
	sel = calloc(n + 1, sizeof(*sel));
	if (!sel) {
		r = cove_cli_failf("out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		struct cove_ctr *c = &cs[i];
		(void)cove_engine_refresh(e, c, &err);
		cove_error_clear(&err);
		/* as docker: only a status filter reaches stopped ones */
		if (!f.all && f.last < 0 && strcmp(c->state, "running") &&
		    strcmp(c->state, "paused") &&
		    strcmp(c->state, "restarting") && !has_status_filter(&f))
			continue;
		if (cove_engine_ps_filters_match(pf, c))
			sel[nsel++] = c;
	}
	/* --last N: the N created last (the list is oldest first) */
	if (f.last > 0 && nsel > (size_t)f.last)
		first = nsel - (size_t)f.last;
	if (f.sort)
		cove_cli_ps_sort(sel + first, nsel - first, f.sort);
	if (f.json)
		out = json_array();
	else if (!f.quiet && !f.tmpl)
		printf("%-12s  %-28s  %-20s  %-16s  %-24s  %-20s  %s%s\n",
		       "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
		       "PORTS", f.size ? "SIZE                      " : "",
		       "NAMES");
	for (size_t k = first; k < nsel; k++) {
		/* sorted: in that order; else the newest first */
		r = ps_print(e, &f, sel[f.sort ? k : nsel - 1 - (k - first)],
			     out);
		if (r)
			goto done;
	}
	if (f.json) {
		char *s = json_dumps(out, JSON_INDENT(4));
		printf("%s\n", s ? s : "[]");
		free(s);
	}
	r = 0;
done:
	json_decref(out);
	free(sel);
	cove_engine_ps_filters_free(pf);
	cove_ctrs_free(cs, n);
	cove_strv_free(f.filters);
	return r;
}

/* ---- inspect --------------------------------------------------------------
 */

static const char inspect_help[] =
    "NAME:\n"
    "   cove inspect - show the details of containers\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove inspect [--format json|TEMPLATE] CONTAINER...\n"
    "   cove container inspect [--format json|TEMPLATE] CONTAINER... | -l\n"
    "\n"
    "DESCRIPTION:\n"
    "   Prints a JSON array with one object per container, in docker's\n"
    "   layout: Id, Name, Created, State {Status, Running, Paused,\n"
    "   Restarting, OOMKilled, Pid, ExitCode, StartedAt, FinishedAt},\n"
    "   Image, Config, HostConfig, NetworkSettings, RestartCount.  With a\n"
    "   template ('{{.State.Status}}', '{{json .Config.Env}}') one line\n"
    "   per container.\n"
    "\n"
    "OPTIONS:\n"
    "   -f, --format FORMAT   json (default) or a template\n"
    "   -l, --latest          the container created last\n"
    "   -h, --help            show this help\n";

static json_t *ctr_inspect(struct cove_engine *e, const struct cove_ctr *c)
{
	json_t *j = json_object(), *st = json_object(), *cfg;
	char t[64];
	_cleanup_free_ char *dir = cove_engine_ctr_dir(e, c->id);

	json_object_set_new(j, "Id", json_string(c->id));
	time_iso(c->created, t, sizeof(t));
	json_object_set_new(j, "Created", json_string(t));
	json_object_set_new(j, "Path", json_string(""));
	json_object_set_new(st, "Status", json_string(c->state));
	json_object_set_new(st, "Running",
			    json_boolean(!strcmp(c->state, "running")));
	json_object_set_new(st, "Paused",
			    json_boolean(!strcmp(c->state, "paused")));
	json_object_set_new(st, "Restarting",
			    json_boolean(!strcmp(c->state, "restarting")));
	json_object_set_new(st, "OOMKilled", json_boolean(c->oom_killed));
	json_object_set_new(st, "Dead", json_false());
	json_object_set_new(st, "Pid", json_integer(c->pid));
	json_object_set_new(st, "ConmonPid", json_integer(c->monitor_pid));
	json_object_set_new(st, "ExitCode",
			    json_integer(c->exit_code < 0 ? 0 : c->exit_code));
	time_iso(c->started_at, t, sizeof(t));
	json_object_set_new(st, "StartedAt", json_string(t));
	time_iso(c->finished_at, t, sizeof(t));
	json_object_set_new(st, "FinishedAt", json_string(t));
	if (json_object_get(c->config, "Health"))
		json_object_set(st, "Health",
				json_object_get(c->config, "Health"));
	json_object_set_new(j, "State", st);
	json_object_set_new(j, "Image", json_string(c->image_id));
	json_object_set_new(j, "ImageName", json_string(c->image));
	json_object_set_new(j, "Name", json_string(c->name));
	json_object_set_new(j, "RestartCount", json_integer(c->restart_count));
	if (dir) {
		char p[4200];
		snprintf(p, sizeof(p), "%s/ctr.log", dir);
		json_object_set_new(j, "LogPath", json_string(p));
		json_object_set_new(j, "Bundle", json_string(dir));
	}
	cfg = json_deep_copy(c->config);
	json_object_set(j, "HostConfig", json_object_get(cfg, "HostConfig"));
	json_object_set_new(j, "NetworkSettings",
			    json_incref(json_object_get(cfg, "NetworkSettings"))
				?: json_object());
	json_object_del(cfg, "HostConfig");
	json_object_del(cfg, "NetworkSettings");
	json_object_del(cfg, "Health");
	json_object_set_new(j, "Config", cfg);
	return j;
}

int cmd_container_inspect(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"latest", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	_cleanup_engine_ struct cove_engine *e = NULL;
	_cleanup_strv_ char **targets = NULL;
	const char *tmpl = NULL;
	unsigned sel = 0;
	json_t *out;
	char *s;
	int c, r = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "f:lh", opts, NULL)) != -1) {
		if (c == 'h')
			return cove_cli_help(inspect_help);
		if (c == 'l') {
			sel = COVE_CLI_SEL_LATEST;
			continue;
		}
		if (c == 'f' && !strcmp(optarg, "json"))
			continue;
		if (c == 'f' && cove_cli_is_template(optarg)) {
			tmpl = optarg;
			continue;
		}
		if (c == 'f')
			return cove_cli_failf("inspect: invalid --format '%s': "
					      "expected json or a template "
					      "('{{.State.Status}}')",
					      optarg);
		return cove_cli_unknown_option("inspect", argv);
	}
	r = cove_cli_select_check("inspect", sel, argc - optind);
	if (r)
		return r;
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	r = cove_cli_select(e, "inspect", sel, NULL, argc - optind,
			    argv + optind, &targets);
	if (r)
		return r;
	out = json_array();
	for (size_t i = 0; targets && targets[i]; i++) {
		struct cove_error err = {0};
		struct cove_ctr ct = {0};
		if (cove_engine_lookup(e, targets[i], &ct, &err) < 0) {
			r = cove_cli_fail(&err);
			continue;
		}
		json_array_append_new(out, ctr_inspect(e, &ct));
		cove_ctr_release(&ct);
	}
	if (tmpl) {
		size_t k;
		json_t *v;
		json_array_foreach(out, k, v)
		{
			int t = cove_cli_render_template(tmpl, v);
			if (t)
				r = t;
		}
		json_decref(out);
		return r;
	}
	s = json_dumps(out, JSON_INDENT(4));
	printf("%s\n", s ? s : "[]");
	free(s);
	json_decref(out);
	return r;
}

/* ---- pause / unpause / rename / port ------------------------------------- */

static const char pause_help[] =
    "NAME:\n"
    "   cove pause - pause every process of containers\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove pause CONTAINER...\n"
    "   cove unpause CONTAINER...\n"
    "   cove pause|unpause -a | -l\n"
    "\n"
    "DESCRIPTION:\n"
    "   Freezes (or thaws) the container's cgroup.  Prints the names\n"
    "   given (the ids with --all or --latest).\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --all      every running container (unpause: every paused "
    "one)\n"
    "   -l, --latest   the container created last\n"
    "   -h, --help     show this help\n";

static int sel_opt(int c, void *data)
{
	struct sel_opts *sel = data;
	if (c == 'a')
		sel->flags |= COVE_CLI_SEL_ALL;
	else if (c == 'l')
		sel->flags |= COVE_CLI_SEL_LATEST;
	else
		return 125;
	return -1;
}

static int pause_one(struct cove_engine *e, struct cove_ctr *c, void *data,
		     struct cove_error *err)
{
	bool pause = *(bool *)data;
	char *state;
	sqlite3 *db;
	int r;

	if (strcmp(c->state, pause ? "running" : "paused"))
		return cove_error_set(err, EINVAL, "container %s is %s",
				      c->name, c->state);
	r = cove_container_pause(e->runtime_root, c->id, pause, err);
	if (r >= 0)
		r = cove_engine_db(e, &db, err);
	if (r < 0)
		return r;
	state = strdup(pause ? "paused" : "running");
	if (!state)
		return -ENOMEM;
	free(c->state);
	c->state = state;
	r = cove_ctr_update(db, c, COVE_CTR_STATE, err);
	if (r >= 0)
		cove_events_ctr(c, pause ? "pause" : "unpause", NULL, NULL);
	return r < 0 ? r : 0;
}

static int pause_or_unpause(struct cove_ctx *ctx, int argc, char **argv,
			    bool pause)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
					     {"latest", no_argument, NULL, 'l'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	const char *cmd = pause ? "pause" : "unpause";
	struct sel_opts sel = {.want = pause ? is_running : is_paused};
	int r = cove_cli_no_options(cmd, pause_help, argc, argv, "alh", opts,
				    sel_opt, &sel);

	if (r >= 0)
		return r;
	return each_ctr(ctx, cmd, argc, argv, &sel, pause_one, &pause);
}

int cmd_pause(struct cove_ctx *ctx, int argc, char **argv)
{
	return pause_or_unpause(ctx, argc, argv, true);
}

int cmd_unpause(struct cove_ctx *ctx, int argc, char **argv)
{
	return pause_or_unpause(ctx, argc, argv, false);
}

static const char rename_help[] = "NAME:\n"
				  "   cove rename - rename a container\n"
				  "\n"
				  "SYNOPSIS:\n"
				  "   cove rename CONTAINER NEW_NAME\n";

int cmd_rename(struct cove_ctx *ctx, int argc, char **argv)
{
	_cleanup_engine_ struct cove_engine *e = NULL;
	struct cove_error err = {0};
	struct cove_ctr c = {0};
	sqlite3 *db;
	int r = cove_cli_no_options("rename", rename_help, argc, argv, NULL,
				    NULL, NULL, NULL);

	if (r >= 0)
		return r;
	if (argc - optind != 2)
		return cove_cli_failf("rename: a container and a new name are "
				      "required");
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	if (cove_engine_name_validate(argv[optind + 1], &err) < 0 ||
	    cove_engine_lookup(e, argv[optind], &c, &err) < 0)
		return cove_cli_fail(&err);
	free(c.name);
	c.name = strdup(argv[optind + 1]);
	if (!c.name || cove_engine_db(e, &db, &err) < 0 ||
	    cove_ctr_update(db, &c, COVE_CTR_NAME, &err) < 0)
		r = cove_cli_fail(&err);
	else
		cove_events_ctr(&c, "rename", NULL, NULL);
	cove_ctr_release(&c);
	return r;
}

static const char exists_help[] =
    "NAME:\n"
    "   cove container exists - tell whether a container exists\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove container exists CONTAINER\n"
    "\n"
    "DESCRIPTION:\n"
    "   Prints nothing.  Exits 0 when CONTAINER (a name, an id or a unique\n"
    "   id prefix) exists, 1 when it does not, 125 on any other error:\n"
    "   for scripts, as podman's.\n";

static int cmd_container_exists(struct cove_ctx *ctx, int argc, char **argv)
{
	_cleanup_engine_ struct cove_engine *e = NULL;
	struct cove_error err = {0};
	struct cove_ctr c = {0};
	int r = cove_cli_no_options("container exists", exists_help, argc, argv,
				    NULL, NULL, NULL, NULL);

	if (r >= 0)
		return r;
	if (argc - optind != 1)
		return cove_cli_failf("container exists: one container is "
				      "required");
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	r = cove_engine_lookup(e, argv[optind], &c, &err);
	if (r == -ENOENT)
		return 1;
	if (r < 0)
		return cove_cli_fail(&err);
	cove_ctr_release(&c);
	return 0;
}

static const char port_help[] =
    "NAME:\n"
    "   cove port - list a container's published ports\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove port CONTAINER [PRIVATE_PORT[/PROTO]]\n"
    "   cove port -l [PRIVATE_PORT[/PROTO]]\n"
    "   cove port -a\n"
    "\n"
    "DESCRIPTION:\n"
    "   Prints \"80/tcp -> 0.0.0.0:8080\" lines, or with PRIVATE_PORT only\n"
    "   the host address of that port.  With --all, those of every\n"
    "   running container, each line after its short id and a tab.\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --all      every running container\n"
    "   -l, --latest   the container created last\n"
    "   -h, --help     show this help\n";

/* One container's ports; @want: "80", "80/tcp" or NULL; 1 when found. */
static int port_print(const struct cove_ctr *c, const char *want,
		      const char *prefix)
{
	const json_t *pb = json_object_get(
	    json_object_get(c->config, "HostConfig"), "PortBindings");
	bool found = false;
	size_t i;
	json_t *b;

	json_array_foreach(pb, i, b)
	{
		const char *ip =
		    json_string_value(json_object_get(b, "HostIp"));
		const char *proto =
		    json_string_value(json_object_get(b, "Protocol"));
		long long cp =
		    json_integer_value(json_object_get(b, "ContainerPort"));
		long long hp =
		    json_integer_value(json_object_get(b, "HostPort"));
		if (want) {
			char spec[32];
			snprintf(spec, sizeof(spec), "%lld/%s", cp, proto);
			if (strcmp(want, spec) &&
			    (strchr(want, '/') ||
			     strtoll(want, NULL, 10) != cp))
				continue;
			printf("%s:%lld\n", ip && *ip ? ip : "0.0.0.0", hp);
		} else {
			printf("%s%lld/%s -> %s:%lld\n", prefix, cp, proto,
			       ip && *ip ? ip : "0.0.0.0", hp);
		}
		found = true;
	}
	return found;
}

int cmd_port(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
					     {"latest", no_argument, NULL, 'l'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	_cleanup_engine_ struct cove_engine *e = NULL;
	_cleanup_strv_ char **targets = NULL;
	struct sel_opts sel = {.want = is_running};
	const char *want = NULL;
	int nargs, r = cove_cli_no_options("port", port_help, argc, argv, "alh",
					   opts, sel_opt, &sel);

	if (r >= 0)
		return r;
	nargs = argc - optind;
	if ((sel.flags & COVE_CLI_SEL_ALL) && nargs > 0)
		return cove_cli_failf("port: no arguments are needed with "
				      "--all");
	if (sel.flags & COVE_CLI_SEL_LATEST) {
		if (nargs > 1)
			return cove_cli_failf("port: one private port at most "
					      "with --latest");
		want = nargs ? argv[optind] : NULL;
		nargs = 0;
	} else if (!sel.flags) {
		if (nargs < 1 || nargs > 2)
			return cove_cli_failf("port: a container is required");
		want = nargs == 2 ? argv[optind + 1] : NULL;
		nargs = 1;
	}
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	r = cove_cli_select(e, "port", sel.flags, sel.want, nargs,
			    argv + optind, &targets);
	if (r)
		return r;
	for (size_t i = 0; targets && targets[i]; i++) {
		struct cove_error err = {0};
		struct cove_ctr c = {0};
		char prefix[16] = "";
		if (cove_engine_lookup(e, targets[i], &c, &err) < 0) {
			r = cove_cli_fail(&err);
			continue;
		}
		if (sel.flags & COVE_CLI_SEL_ALL)
			snprintf(prefix, sizeof(prefix), "%.12s\t", c.id);
		if (!port_print(&c, want, prefix) && want)
			r = cove_cli_failf("port: no public port '%s' "
					   "published for %s",
					   want, targets[i]);
		cove_ctr_release(&c);
	}
	return r;
}

/* ---- container prune ------------------------------------------------------
 */

static const char prune_help[] =
    "NAME:\n"
    "   cove container prune - remove every stopped container\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove container prune [-f]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Removes every container that is not running and prints the ids.\n"
    "   -f is accepted for podman compatibility (cove never prompts).\n";

static int force_opt(int c, void *data)
{
	(void)data;
	return c == 'f' ? -1 : 125;
}

int cmd_container_prune(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	_cleanup_engine_ struct cove_engine *e = NULL;
	struct cove_error err = {0};
	struct cove_ctr *cs = NULL;
	size_t n = 0;
	sqlite3 *db;
	int r = cove_cli_no_options("container prune", prune_help, argc, argv,
				    "fh", opts, force_opt, NULL);

	if (r >= 0)
		return r;
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	if (cove_engine_db(e, &db, &err) < 0 ||
	    cove_ctr_list(db, &cs, &n, &err) < 0)
		return cove_cli_fail(&err);
	for (size_t i = 0; i < n; i++) {
		(void)cove_engine_refresh(e, &cs[i], &err);
		if (strcmp(cs[i].state, "exited") &&
		    strcmp(cs[i].state, "created"))
			continue;
		if (cove_engine_remove(e, &cs[i], false, false, &err) < 0)
			r = cove_cli_fail(&err);
		else
			printf("%s\n", cs[i].id);
	}
	cove_ctrs_free(cs, n);
	return r;
}

/* ---- the container group ---------------------------------------------------
 */

static const struct cove_command container_commands[] = {
    {"attach", cmd_attach, "attach to a running container"},
    {"commit", cmd_commit, "make an image of a container's changes"},
    {"cp", cmd_cp, "copy files between a container and the host"},
    {"create", cmd_create, "create a container"},
    {"diff", cmd_diff, "show what a container changed in its files"},
    {"exec", cmd_exec, "run a process in a running container"},
    {"exists", cmd_container_exists, "tell whether a container exists"},
    {"export", cmd_export, "write a container's file system as a tar"},
    {"inspect", cmd_container_inspect, "show the details of containers"},
    {"kill", cmd_kill, "send a signal to containers"},
    {"list", cmd_ps, "list containers"},
    {"logs", cmd_logs, "show a container's output"},
    {"ls", cmd_ps, "list containers"},
    {"pause", cmd_pause, "pause containers"},
    {"port", cmd_port, "list a container's published ports"},
    {"prune", cmd_container_prune, "remove every stopped container"},
    {"rename", cmd_rename, "rename a container"},
    {"restart", cmd_restart, "restart containers"},
    {"rm", cmd_rm, "remove containers"},
    {"run", cmd_run, "run a command in a new container"},
    {"start", cmd_start, "start containers"},
    {"stats", cmd_stats, "show the resource use of containers"},
    {"stop", cmd_stop, "stop containers"},
    {"top", cmd_top, "show the processes of a container"},
    {"unpause", cmd_unpause, "unpause containers"},
    {"update", cmd_update, "change the resource limits of containers"},
    {"wait", cmd_wait, "wait for containers to exit"},
};

int cmd_container(struct cove_ctx *ctx, int argc, char **argv)
{
	return cove_cli_dispatch(ctx, container_commands,
				 ARRAY_SIZE(container_commands), "container",
				 argc - 1, argv + 1);
}

/* ---- __monitor-resume ------------------------------------------------------
 */

/*
 * Not for users: cove-monitor execs `cove __monitor-resume ID DELAY
 * STATUS` when the container it watched has exited (docs/engine.md).
 */
int cmd_monitor_resume(struct cove_ctx *ctx, int argc, char **argv)
{
	_cleanup_engine_ struct cove_engine *e = NULL;
	struct cove_error err = {0};
	struct cove_ctr c = {0};
	uint32_t delay = 0;
	int status = 0, r;
	sqlite3 *db;

	if (argc != 4 || cove_parse_uint32(argv[2], &delay) < 0 ||
	    cove_parse_int(argv[3], &status) < 0)
		return cove_cli_failf(
		    "__monitor-resume: for cove-monitor only");
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	/* the row as it is: no refresh, the monitor is this process */
	if (cove_engine_db(e, &db, &err) < 0 ||
	    cove_ctr_lookup(db, argv[1], &c, &err) < 0)
		return cove_cli_fail(&err);
	r = cove_monitor_resume(e, &c, status, delay, &err);
	cove_ctr_release(&c);
	return r < 0 ? 125 : 0;
}
