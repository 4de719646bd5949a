/*
 * cove-runtime: an OCI runtime with runc's command line (and crun's
 * extensions), so that containerd, podman and CRI-O can use it as their
 * runc binary.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/runtime/cli.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/signals.h"
#include "util/strutil.h"

#ifndef COVE_VERSION
#define COVE_VERSION "0.0.0"
#endif
#ifndef COVE_GIT_COMMIT
#define COVE_GIT_COMMIT "unknown"
#endif

static const struct cove_cli_cmd commands[] = {
    {"create", cmd_create, "create a container"},
    {"start", cmd_start, "start the user process of a created container"},
    {"run", cmd_run, "create and start a container"},
    {"state", cmd_state, "print the state of a container"},
    {"kill", cmd_kill, "send a signal to the container's init process"},
    {"delete", cmd_delete, "delete a container and its resources"},
    {"exec", cmd_exec, "run a new process inside a container"},
    {"ps", cmd_ps, "list the processes of a container"},
    {"list", cmd_list, "list containers"},
    {"pause", cmd_pause, "suspend all processes of a container"},
    {"resume", cmd_resume, "resume a paused container"},
    {"update", cmd_update, "update the resource limits of a container"},
    {"spec", cmd_spec, "write a default config.json"},
    {"features", cmd_features, "print the features cove supports (JSON)"},
    {"events", cmd_events, "print container statistics and events"},
};

static const char main_help[] =
    "NAME:\n"
    "   cove-runtime - an OCI runtime (runtime-spec 1.2), runc-compatible\n"
    "\n"
    "USAGE:\n"
    "   cove-runtime [global options] command [command options] "
    "[arguments...]\n"
    "\n"
    "COMMANDS:\n"
    "%s"
    "\n"
    "GLOBAL OPTIONS:\n"
    "   --root DIR               state directory (default /run/cove, or\n"
    "                            $XDG_RUNTIME_DIR/cove when not root)\n"
    "   --log FILE               also write errors and debug logs to FILE\n"
    "   --log-format text|json   format of the --log file (default text)\n"
    "   --debug                  log debug messages\n"
    "   --systemd-cgroup         use the systemd cgroup manager (error if\n"
    "                            systemd is not running)\n"
    "   --cgroup-manager M       cgroupfs, systemd or disabled (crun)\n"
    "   --rootless VALUE         accepted for runc compatibility (auto)\n"
    "   --criu PATH              accepted for runc compatibility (unused)\n"
    "   -v, --version            print the version and the feature flags\n"
    "   -h, --help               show this help\n"
    "\n"
    "Run 'cove-runtime COMMAND --help' for a command's options.\n";

static void print_help(void)
{
	char list[2048];
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n,
				      "   %-10s %s\n", commands[i].name,
				      commands[i].summary);
	printf(main_help, list);
}

static void print_version(void)
{
	printf("cove-runtime version %s\n", COVE_VERSION);
	printf("commit: %s\n", COVE_GIT_COMMIT);
	printf("spec: 1.2.0\n");
	/* Only what this build really does (crun's flag line format). */
	printf("+CAP +SECCOMP +SECCOMP-NOTIFY +EBPF +USERNS +IDMAP +TIMENS "
	       "+CGROUPV1 +CGROUPV2 +HYBRID +HOOKS +PIDFD +MEMFD-CLONE "
	       "-SYSTEMD -SELINUX -APPARMOR -CRIU\n");
}

static void log_line(struct cove_cli *cli, const char *level, const char *msg)
{
	if (!cli->log)
		return;
	if (cli->log_json) {
		_cleanup_free_ char *t = cove_rfc3339_now();
		json_t *j = json_object();
		char *s;
		json_object_set_new(j, "level", json_string(level));
		json_object_set_new(j, "msg", json_string(msg));
		json_object_set_new(j, "time", json_string(t ? t : ""));
		s = json_dumps(j, JSON_COMPACT);
		if (s)
			fprintf(cli->log, "%s\n", s);
		free(s);
		json_decref(j);
	} else {
		_cleanup_free_ char *t = cove_rfc3339_now();
		fprintf(cli->log, "%s %s: %s\n", t ? t : "", level, msg);
	}
	fflush(cli->log);
}

int cli_fail(struct cove_cli *cli, const struct cove_error *err)
{
	const char *msg = err->msg[0] ? err->msg : strerror(err->code);
	fprintf(stderr, "cove-runtime: %s\n", msg);
	log_line(cli, "error", msg);
	return 1;
}

int cli_failf(struct cove_cli *cli, const char *fmt, ...)
{
	struct cove_error err = {.code = EINVAL};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err.msg, sizeof(err.msg), fmt, ap);
	va_end(ap);
	return cli_fail(cli, &err);
}

void cli_warn(struct cove_cli *cli, const char *fmt, ...)
{
	char buf[COVE_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "cove-runtime: warning: %s\n", buf);
	log_line(cli, "warning", buf);
}

void cli_debug(struct cove_cli *cli, const char *fmt, ...)
{
	char buf[COVE_ERROR_MSG_MAX];
	va_list ap;
	if (!cli->debug)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (cli->log)
		log_line(cli, "debug", buf);
	else
		fprintf(stderr, "cove-runtime: debug: %s\n", buf);
}

int cli_help(const char *text)
{
	fputs(text, stdout);
	return 0;
}

int cli_usage(struct cove_cli *cli, const char *cmd, const char *msg)
{
	cli_failf(cli, "%s: %s (see 'cove-runtime %s --help')", cmd, msg, cmd);
	return 1;
}

int cli_unknown_option(struct cove_cli *cli, const char *cmd, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";

	if (optopt && (arg[0] != '-' || arg[1] == '-' || !strchr(arg, optopt)))
		return cli_failf(cli,
				 "%s: unknown or incomplete option '-%c' (see "
				 "'cove-runtime %s --help')",
				 cmd, optopt, cmd);
	return cli_failf(cli,
			 "%s: unknown or incomplete option '%s' (see "
			 "'cove-runtime %s --help')",
			 cmd, arg, cmd);
}

int cli_no_options(struct cove_cli *cli, const char *cmd, int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1])
			return cli_failf(cli,
					 "%s: unknown option '%s' (see "
					 "'cove-runtime %s --help')",
					 cmd, argv[i], cmd);
	return 0;
}

int cli_parse_signal(const char *s)
{
	int sig = cove_signal_parse(s);
	return sig < 0 ? -1 : sig;
}

char *cli_abspath(const char *path)
{
	char cwd[4096];

	if (path[0] == '/')
		return strdup(path);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	if (!strcmp(path, "."))
		return strdup(cwd);
	return cove_strdup_printf("%s/%s", cwd, path);
}

enum {
	OPT_ROOT = 256,
	OPT_LOG,
	OPT_LOG_FORMAT,
	OPT_DEBUG,
	OPT_SYSTEMD_CGROUP,
	OPT_CGROUP_MANAGER,
	OPT_ROOTLESS,
	OPT_CRIU,
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"root", required_argument, NULL, OPT_ROOT},
	    {"log", required_argument, NULL, OPT_LOG},
	    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	    {"debug", no_argument, NULL, OPT_DEBUG},
	    {"systemd-cgroup", no_argument, NULL, OPT_SYSTEMD_CGROUP},
	    {"cgroup-manager", required_argument, NULL, OPT_CGROUP_MANAGER},
	    {"rootless", required_argument, NULL, OPT_ROOTLESS},
	    {"criu", required_argument, NULL, OPT_CRIU},
	    {"version", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct cove_cli cli = {.cgroup_manager = COVE_CGROUP_MANAGER_CGROUPFS};
	_cleanup_free_ char *default_root = NULL;
	const char *cmd;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT:
			cli.root = optarg;
			break;
		case OPT_LOG:
			cli.log_file = optarg;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "text") && strcmp(optarg, "json"))
				return cli_failf(&cli,
						 "invalid --log-format '%s': "
						 "must be text or json",
						 optarg);
			cli.log_json = !strcmp(optarg, "json");
			break;
		case OPT_DEBUG:
			cli.debug = true;
			break;
		case OPT_SYSTEMD_CGROUP:
			cli.cgroup_manager = COVE_CGROUP_MANAGER_SYSTEMD;
			break;
		case OPT_CGROUP_MANAGER:
			if (!strcmp(optarg, "cgroupfs"))
				cli.cgroup_manager =
				    COVE_CGROUP_MANAGER_CGROUPFS;
			else if (!strcmp(optarg, "systemd"))
				cli.cgroup_manager =
				    COVE_CGROUP_MANAGER_SYSTEMD;
			else if (!strcmp(optarg, "disabled"))
				cli.cgroup_manager =
				    COVE_CGROUP_MANAGER_DISABLED;
			else
				return cli_failf(
				    &cli,
				    "invalid --cgroup-manager '%s': must be "
				    "cgroupfs, systemd or disabled",
				    optarg);
			break;
		case OPT_ROOTLESS:
		case OPT_CRIU:
			break;
		case 'v':
			print_version();
			return 0;
		case 'h':
			print_help();
			return 0;
		default:
			return cli_failf(&cli, "unknown global option '%s'",
					 argv[optind - 1]);
		}
	}
	if (cli.log_file) {
		cli.log = fopen(cli.log_file, "ae");
		if (!cli.log)
			return cli_failf(&cli, "cannot open log file %s: %s",
					 cli.log_file, strerror(errno));
	}
	if (!cli.root) {
		default_root = cove_default_root();
		cli.root = default_root;
	}
	if (optind >= argc) {
		print_help();
		return 1;
	}
	cmd = argv[optind];
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		int sub_argc = argc - optind;
		char **sub_argv = argv + optind;

		if (strcmp(commands[i].name, cmd))
			continue;
		/*
		 * Commands that put runtime code inside a container first make
		 * sure they run from a sealed copy of the binary.
		 */
		if (!strcmp(cmd, "create") || !strcmp(cmd, "run") ||
		    !strcmp(cmd, "exec")) {
			r = cove_ensure_cloned_binary(argc, argv);
			if (r < 0)
				return cli_failf(
				    &cli,
				    "cannot re-execute from a sealed copy of "
				    "the binary: %s",
				    strerror(-r));
		}
		optind = 0; /* a full getopt reset for the subcommand */
		r = commands[i].fn(&cli, sub_argc, sub_argv);
		if (cli.log)
			fclose(cli.log);
		return r;
	}
	return cli_failf(
	    &cli, "unknown command '%s' (see 'cove-runtime --help')", cmd);
}
