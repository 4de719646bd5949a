/* create, start and run. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/runtime/cli.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/strutil.h"

static const char create_help[] =
    "NAME:\n"
    "   cove-runtime create - create a container\n"
    "\n"
    "USAGE:\n"
    "   cove-runtime create [command options] <container-id>\n"
    "\n"
    "DESCRIPTION:\n"
    "   Sets up everything the bundle's config.json describes (namespaces,\n"
    "   mounts, cgroup, hooks up to createContainer) and leaves the user\n"
    "   process blocked until 'cove-runtime start'. The container id must\n"
    "   be unique under --root.\n"
    "\n"
    "OPTIONS:\n"
    "   -b, --bundle DIR         bundle directory (default: current "
    "directory)\n"
    "   --config FILE            config file instead of BUNDLE/config.json "
    "(crun)\n"
    "   --console-socket PATH    unix socket that receives the pty master\n"
    "                            (SCM_RIGHTS) when process.terminal is true\n"
    "   --pid-file FILE          write the container's init pid to FILE\n"
    "   --no-pivot               use MS_MOVE + chroot instead of pivot_root\n"
    "   --no-new-keyring         keep the caller's session keyring\n"
    "   --preserve-fds N         pass N extra fds (3..3+N-1) to the process\n"
    "   -h, --help               show this help\n";

static const char run_help[] =
    "NAME:\n"
    "   cove-runtime run - create and start a container\n"
    "\n"
    "USAGE:\n"
    "   cove-runtime run [command options] <container-id>\n"
    "\n"
    "DESCRIPTION:\n"
    "   Creates and starts the container, then waits for it and exits with\n"
    "   its exit status (128+N when killed by signal N); signals received\n"
    "   are forwarded to the container. The container is deleted when it\n"
    "   exits unless --detach is given.\n"
    "\n"
    "OPTIONS:\n"
    "   -b, --bundle DIR         bundle directory (default: current "
    "directory)\n"
    "   --config FILE            config file instead of BUNDLE/config.json "
    "(crun)\n"
    "   -d, --detach             do not wait for the container\n"
    "   --console-socket PATH    unix socket that receives the pty master\n"
    "   --pid-file FILE          write the container's init pid to FILE\n"
    "   --no-pivot               use MS_MOVE + chroot instead of pivot_root\n"
    "   --no-new-keyring         keep the caller's session keyring\n"
    "   --preserve-fds N         pass N extra fds to the process\n"
    "   --keep                   do not delete the container after it exits\n"
    "   -h, --help               show this help\n";

static const char start_help[] =
    "NAME:\n"
    "   cove-runtime start - start the user process of a created container\n"
    "\n"
    "USAGE:\n"
    "   cove-runtime start <container-id>\n"
    "\n"
    "DESCRIPTION:\n"
    "   Releases the process blocked by 'create' and runs the poststart\n"
    "   hooks. Fails unless the container is in the created state.\n";

enum {
	OPT_CONSOLE_SOCKET = 256,
	OPT_PID_FILE,
	OPT_NO_PIVOT,
	OPT_NO_NEW_KEYRING,
	OPT_PRESERVE_FDS,
	OPT_CONFIG,
	OPT_KEEP,
	OPT_NO_SUBREAPER,
};

static int parse_create(struct cove_cli *cli, int argc, char **argv,
			bool is_run, struct cove_create_opts *o, bool *detach,
			bool *keep, char **bundle_abs)
{
	static const struct option opts[] = {
	    {"bundle", required_argument, NULL, 'b'},
	    {"console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET},
	    {"pid-file", required_argument, NULL, OPT_PID_FILE},
	    {"no-pivot", no_argument, NULL, OPT_NO_PIVOT},
	    {"no-new-keyring", no_argument, NULL, OPT_NO_NEW_KEYRING},
	    {"preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"detach", no_argument, NULL, 'd'},
	    {"keep", no_argument, NULL, OPT_KEEP},
	    {"no-subreaper", no_argument, NULL, OPT_NO_SUBREAPER},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *cmd = is_run ? "run" : "create";
	const char *bundle = ".";
	int c;

	while ((c = getopt_long(argc, argv, is_run ? "+b:dh" : "+b:h", opts,
				NULL)) != -1) {
		switch (c) {
		case 'b':
			bundle = optarg;
			break;
		case OPT_CONSOLE_SOCKET:
			o->console_socket = optarg;
			break;
		case OPT_PID_FILE:
			o->pid_file = optarg;
			break;
		case OPT_NO_PIVOT:
			o->no_pivot = true;
			break;
		case OPT_NO_NEW_KEYRING:
			o->no_new_keyring = true;
			break;
		case OPT_PRESERVE_FDS:
			if (cove_parse_int(optarg, &o->preserve_fds) < 0 ||
			    o->preserve_fds < 0)
				return cli_usage(
				    cli, cmd, "invalid --preserve-fds value");
			break;
		case OPT_CONFIG:
			o->config_file = optarg;
			break;
		case 'd':
			*detach = true;
			break;
		case OPT_KEEP:
			*keep = true;
			break;
		case OPT_NO_SUBREAPER:
			break;
		case 'h':
			cli_help(is_run ? run_help : create_help);
			return -1;
		default:
			return cli_usage(cli, cmd, "unknown option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage(cli, cmd,
				 "exactly one container id is required");
	o->id = argv[optind];
	*bundle_abs = cli_abspath(bundle);
	if (!*bundle_abs)
		return cli_failf(cli, "cannot resolve bundle path %s", bundle);
	o->bundle = *bundle_abs;
	o->root = cli->root;
	o->cgroup_manager = cli->cgroup_manager;
	return 0;
}

int cmd_create(struct cove_cli *cli, int argc, char **argv)
{
	struct cove_create_opts o = {0};
	struct cove_error err = {0};
	_cleanup_free_ char *bundle = NULL;
	bool detach = false, keep = false;
	int r;

	r = parse_create(cli, argc, argv, false, &o, &detach, &keep, &bundle);
	if (r != 0)
		return r < 0 ? 0 : r;
	if (cove_container_create(&o, NULL, NULL, &err) < 0)
		return cli_fail(cli, &err);
	return 0;
}

int cmd_start(struct cove_cli *cli, int argc, char **argv)
{
	struct cove_error err = {0};
	int r;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return cli_help(start_help);
	if (cli_no_options(cli, "start", argc, argv))
		return 1;
	if (argc != 2)
		return cli_usage(cli, "start",
				 "exactly one container id is required");
	r = cove_container_start(cli->root, argv[1], &err);
	if (r < 0)
		return cli_fail(cli, &err);
	if (r > 0)
		cli_warn(cli, "%s", err.msg);
	return 0;
}

static volatile sig_atomic_t forward_pid;

static void forward_signal(int sig)
{
	if (forward_pid > 0)
		kill(forward_pid, sig);
}

int cmd_run(struct cove_cli *cli, int argc, char **argv)
{
	static const int forwarded[] = {SIGINT,	 SIGTERM, SIGHUP,  SIGQUIT,
					SIGUSR1, SIGUSR2, SIGWINCH};
	struct cove_create_opts o = {0};
	struct cove_error err = {0};
	_cleanup_free_ char *bundle = NULL;
	bool detach = false, keep = false;
	pid_t pid = 0;
	int pty = -1, r, code;

	r = parse_create(cli, argc, argv, true, &o, &detach, &keep, &bundle);
	if (r != 0)
		return r < 0 ? 0 : r;
	o.foreground = !detach;
	if (cove_container_create(&o, &pid, &pty, &err) < 0)
		return cli_fail(cli, &err);

	if (!detach) {
		struct sigaction sa = {.sa_handler = forward_signal,
				       .sa_flags = SA_RESTART};
		forward_pid = pid;
		for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
			sigaction(forwarded[i], &sa, NULL);
	}
	r = cove_container_start(cli->root, o.id, &err);
	if (r < 0) {
		struct cove_error derr = {0};
		cli_fail(cli, &err);
		cove_container_delete(cli->root, o.id, true, &derr);
		return 1;
	}
	if (r > 0)
		cli_warn(cli, "%s", err.msg);
	if (detach)
		return 0;
	if (pty >= 0) {
		cove_pty_proxy(pty, &err);
		close(pty);
	}
	code = cove_wait_exit_code(pid);
	forward_pid = 0;
	if (!keep) {
		struct cove_error derr = {0};
		r = cove_container_delete(cli->root, o.id, true, &derr);
		if (r < 0)
			cli_fail(cli, &derr);
		else if (r > 0)
			cli_warn(cli, "%s", derr.msg);
	}
	return code;
}
