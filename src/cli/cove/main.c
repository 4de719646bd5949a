/*
 * cove: the engine.  Daemonless; podman's command names, flags and output
 * formats.  This file holds the global options and the command table.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cove/cli.h"
#include "cli/cove/commands.h"
#include "engine/engine.h"
#include "engine/rootless.h"
#include "util/cleanup.h"
#include "util/strutil.h"

#ifndef COVE_VERSION
#define COVE_VERSION "0.0.0"
#endif
#ifndef COVE_GIT_COMMIT
#define COVE_GIT_COMMIT "unknown"
#endif

static const char main_help[] =
    "NAME:\n"
    "   cove - containers, images, trust and fleet patching, daemonless\n"
    "\n"
    "USAGE:\n"
    "   cove [global options] command [command options] [arguments...]\n"
    "\n"
    "COMMANDS:\n"
    "%s"
    "\n"
    "GLOBAL OPTIONS:\n"
    "   --root DIR              image and container storage (default\n"
    "                           /var/lib/cove, or $XDG_DATA_HOME/cove when\n"
    "                           not root)\n"
    "   --runroot DIR           runtime state (default /run/cove-engine, or\n"
    "                           $XDG_RUNTIME_DIR/cove-engine)\n"
    "   --storage-driver NAME   overlay (default) or vfs (copies layers)\n"
    "   --log-level LEVEL       error, warn, info or debug\n"
    "   -v, --version           print the version\n"
    "   -h, --help              show this help\n"
    "\n"
    "Run 'cove COMMAND --help' for a command's options.\n";

int cove_cli_fail(const struct cove_error *err)
{
	fprintf(stderr, "cove: %s\n",
		err->msg[0] ? err->msg : strerror(err->code ? err->code : EIO));
	return 125;
}

int cove_cli_failf(const char *fmt, ...)
{
	va_list ap;
	fputs("cove: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 125;
}

void cove_cli_warn(const char *fmt, ...)
{
	va_list ap;
	fputs("cove: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static bool debug_on;

void cove_cli_debug(const char *fmt, ...)
{
	static struct timespec t0;
	struct timespec t;
	va_list ap;

	if (!debug_on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	if (!t0.tv_sec && !t0.tv_nsec)
		t0 = t;
	fprintf(stderr, "cove: debug: %7.2f ms: ",
		(double)(t.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t.tv_nsec - t0.tv_nsec) / 1e6);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cove_cli_unknown_option(const char *cmd, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	if (optopt && (arg[0] != '-' || arg[1] == '-' || !strchr(arg, optopt)))
		return cove_cli_failf("%s: unknown or incomplete option '-%c' "
				      "(see 'cove %s --help')",
				      cmd, optopt, cmd);
	return cove_cli_failf(
	    "%s: unknown or incomplete option '%s' (see 'cove %s --help')", cmd,
	    arg, cmd);
}

int cove_cli_help(const char *text)
{
	fputs(text, stdout);
	return 0;
}

int cove_cli_dispatch(struct cove_ctx *ctx, const struct cove_command *cmds,
		      size_t n, const char *group, int argc, char **argv)
{
	if (argc < 1)
		return cove_cli_failf(
		    "%s: a command is required (see 'cove %s --help')", group,
		    group);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(cmds[i].name, argv[0]))
			continue;
		optind = 0; /* a full getopt reset for the subcommand */
		return cmds[i].fn(ctx, argc, argv);
	}
	if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h") ||
	    !strcmp(argv[0], "help")) {
		printf("Usage: cove %s COMMAND\n\nCommands:\n", group);
		for (size_t i = 0; i < n; i++)
			printf("  %-12s %s\n", cmds[i].name, cmds[i].summary);
		return 0;
	}
	if (!*group)
		return cove_cli_failf(
		    "unknown command '%s' (see 'cove --help')", argv[0]);
	return cove_cli_failf("unknown command '%s %s' (see 'cove %s --help')",
			      group, argv[0], group);
}

int cove_cli_engine_open(struct cove_ctx *ctx, struct cove_engine **ret)
{
	struct cove_error err = {0};

	if (cove_engine_open(ctx->root, ctx->runroot, ctx->storage_driver, ret,
			     &err) < 0)
		return cove_cli_fail(&err);
	return 0;
}

void cove_cli_size(uint64_t n, char *buf, size_t size)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	double v = (double)n;
	size_t i = 0;

	while (v >= 1000 && i + 1 < ARRAY_SIZE(units))
		v /= 1000, i++;
	snprintf(buf, size, i ? "%.3g%s" : "%.0f%s", v, units[i]);
}

void cove_cli_bytes(int64_t n, char *buf, size_t size)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	double v = (double)n;
	size_t u = 0;

	while (v >= 1000 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%lld %s", (long long)n, units[0]);
	else
		snprintf(buf, size, "%.3g %s", v, units[u]);
}

void cove_cli_age(int64_t created, char *buf, size_t size)
{
	int64_t d = (int64_t)time(NULL) - created;

	if (d < 1)
		snprintf(buf, size, "Less than a second ago");
	else if (d < 60)
		snprintf(buf, size, "%lld seconds ago", (long long)d);
	else if (d < 120)
		snprintf(buf, size, "About a minute ago");
	else if (d < 3600)
		snprintf(buf, size, "%lld minutes ago", (long long)(d / 60));
	else if (d < 7200)
		snprintf(buf, size, "About an hour ago");
	else if (d < 2 * 86400)
		snprintf(buf, size, "%lld hours ago", (long long)(d / 3600));
	else if (d < 14 * 86400)
		snprintf(buf, size, "%lld days ago", (long long)(d / 86400));
	else if (d < 60 * 86400)
		snprintf(buf, size, "%lld weeks ago",
			 (long long)(d / (7 * 86400)));
	else if (d < 730 * 86400)
		snprintf(buf, size, "%lld months ago",
			 (long long)(d / (30 * 86400)));
	else
		snprintf(buf, size, "%lld years ago",
			 (long long)(d / (365 * 86400)));
}

void cove_cli_rfc3339(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm))
		snprintf(buf, size, "1970-01-01T00:00:00Z");
	else
		strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char version_help[] =
    "NAME:\n"
    "   cove version - print the version of cove\n"
    "\n"
    "USAGE:\n"
    "   cove version [--format json]\n";

int cmd_version(struct cove_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return cove_cli_help(version_help);
	if (argc > 2 && !strcmp(argv[1], "--format") &&
	    !strcmp(argv[2], "json")) {
		printf("{\"Client\":{\"Version\":\"%s\",\"GitCommit\":\"%s\","
		       "\"OsArch\":\"linux/amd64\"}}\n",
		       COVE_VERSION, COVE_GIT_COMMIT);
		return 0;
	}
	printf(
	    "Version:      %s\nGit Commit:   %s\nOS/Arch:      linux/amd64\n",
	    COVE_VERSION, COVE_GIT_COMMIT);
	return 0;
}

/*
 * Commands that work on storage run, for an unprivileged user, in cove's
 * user namespace (engine/rootless.h); these few touch only the user's own
 * files and stay outside, as podman's do.
 */
static bool needs_userns(const char *cmd)
{
	static const char *const outside[] = {"version", "help", "login",
					      "logout"};

	for (size_t i = 0; i < ARRAY_SIZE(outside); i++)
		if (!strcmp(cmd, outside[i]))
			return false;
	return true;
}

static char *default_dir(const char *root_default, const char *xdg_var,
			 const char *xdg_fallback, const char *leaf)
{
	const char *xdg;
	const char *home = getenv("HOME");

	if (geteuid() == 0)
		return strdup(root_default);
	xdg = getenv(xdg_var);
	if (xdg && *xdg)
		return cove_strdup_printf("%s/%s", xdg, leaf);
	if (xdg_fallback && home)
		return cove_strdup_printf("%s/%s/%s", home, xdg_fallback, leaf);
	return cove_strdup_printf("/tmp/%s-%u", leaf, (unsigned)geteuid());
}

enum {
	OPT_ROOT = 256,
	OPT_RUNROOT,
	OPT_STORAGE_DRIVER,
	OPT_LOG_LEVEL,
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"root", required_argument, NULL, OPT_ROOT},
	    {"runroot", required_argument, NULL, OPT_RUNROOT},
	    {"storage-driver", required_argument, NULL, OPT_STORAGE_DRIVER},
	    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	    {"version", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct cove_ctx ctx = {.storage_driver = "overlay",
			       .log_level = "warn"};
	_cleanup_free_ char *root = NULL, *runroot = NULL;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT:
			ctx.root = optarg;
			break;
		case OPT_RUNROOT:
			ctx.runroot = optarg;
			break;
		case OPT_STORAGE_DRIVER:
			if (strcmp(optarg, "overlay") && strcmp(optarg, "vfs"))
				return cove_cli_failf(
				    "invalid --storage-driver '%s': must be "
				    "overlay or vfs",
				    optarg);
			ctx.storage_driver = optarg;
			break;
		case OPT_LOG_LEVEL:
			if (strcmp(optarg, "error") && strcmp(optarg, "warn") &&
			    strcmp(optarg, "info") && strcmp(optarg, "debug"))
				return cove_cli_failf(
				    "invalid --log-level '%s': must be error, "
				    "warn, info or debug",
				    optarg);
			ctx.log_level = optarg;
			ctx.debug = !strcmp(optarg, "debug");
			debug_on = ctx.debug;
			cove_cli_debug("cove %s", COVE_VERSION);
			break;
		case 'v':
			printf("cove version %s\n", COVE_VERSION);
			return 0;
		case 'h': {
			char list[4096];
			size_t n = 0;
			for (size_t i = 0; i < cove_commands_n; i++)
				n += (size_t)snprintf(
				    list + n, sizeof(list) - n, "   %-12s %s\n",
				    cove_commands[i].name,
				    cove_commands[i].summary);
			printf(main_help, list);
			return 0;
		}
		default:
			return cove_cli_failf("unknown global option '%s'",
					      argv[optind - 1]);
		}
	}
	if (!ctx.root) {
		root = default_dir("/var/lib/cove", "XDG_DATA_HOME",
				   ".local/share", "cove");
		ctx.root = root;
	}
	if (!ctx.runroot) {
		runroot = default_dir("/run/cove-engine", "XDG_RUNTIME_DIR",
				      NULL, "cove-engine");
		ctx.runroot = runroot;
	}
	if (optind >= argc)
		return cove_cli_failf(
		    "a command is required (see 'cove --help')");
	/* after the default dirs: inside, geteuid() is 0 */
	if (needs_userns(argv[optind])) {
		struct cove_error err = {0};

		if (cove_rootless_enter(ctx.runroot, &err) < 0)
			return cove_cli_fail(&err);
	}
	cove_cli_debug("command %s; root %s; runroot %s; storage driver %s; "
		       "euid %u",
		       argv[optind], ctx.root, ctx.runroot, ctx.storage_driver,
		       (unsigned)geteuid());
	cove_cli_events_setup(&ctx);
	/* hidden: cove-monitor hands a finished container back (monitor.c) */
	if (!strcmp(argv[optind], "__monitor-resume"))
		return cmd_monitor_resume(&ctx, argc - optind, argv + optind);
	return cove_cli_dispatch(&ctx, cove_commands, cove_commands_n, "",
				 argc - optind, argv + optind);
}
