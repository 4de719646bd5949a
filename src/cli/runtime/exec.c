/* exec: run a new process in a running container. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/runtime/cli.h"
#include "runtime/caps.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strutil.h"

static const char exec_help[] =
    "NAME:\n"
    "   cove-runtime exec - run a new process inside a container\n"
    "\n"
    "USAGE:\n"
    "   cove-runtime exec [command options] <container-id> <command> "
    "[args...]\n"
    "   cove-runtime exec [command options] -p process.json <container-id>\n"
    "\n"
    "DESCRIPTION:\n"
    "   The process joins the container's namespaces and cgroup and gets\n"
    "   the container's user, environment, capabilities, no_new_privileges\n"
    "   and seccomp profile unless overridden. Without --detach, exits\n"
    "   with the process's exit status.\n"
    "\n"
    "OPTIONS:\n"
    "   -p, --process FILE       a runtime-spec process JSON ('-' for stdin)\n"
    "   -t, --tty                allocate a pseudo-terminal\n"
    "   -d, --detach             do not wait for the process\n"
    "   -e, --env NAME=VALUE     set an environment variable (repeatable)\n"
    "   --cwd DIR                working directory in the container\n"
    "   -u, --user UID[:GID]     user and group ids\n"
    "   -g, --additional-gids G  an additional group id (repeatable)\n"
    "   -c, --cap CAP            add a capability (repeatable)\n"
    "   --no-new-privs           set no_new_privileges\n"
    "   --apparmor PROFILE       AppArmor profile (error if unsupported)\n"
    "   --process-label LABEL    SELinux label (error if unsupported)\n"
    "   --console-socket PATH    unix socket that receives the pty master\n"
    "   --pid-file FILE          write the process's pid to FILE\n"
    "   --preserve-fds N         pass N extra fds to the process\n"
    "   -h, --help               show this help\n";

enum {
	OPT_CWD = 256,
	OPT_NO_NEW_PRIVS,
	OPT_APPARMOR,
	OPT_LABEL,
	OPT_CONSOLE_SOCKET,
	OPT_PID_FILE,
	OPT_PRESERVE_FDS,
	OPT_CGROUP,
};

static volatile sig_atomic_t exec_pid;

static void forward(int sig)
{
	if (exec_pid > 0)
		kill(exec_pid, sig);
}

static int add_cap(json_t *caps, const char *set, const char *name)
{
	json_t *arr = json_object_get(caps, set);
	size_t i;
	json_t *v;

	if (!json_is_array(arr)) {
		arr = json_array();
		json_object_set_new(caps, set, arr);
	}
	json_array_foreach(arr, i,
			   v) if (json_is_string(v) &&
				  !strcmp(json_string_value(v), name)) return 0;
	return json_array_append_new(arr, json_string(name));
}

int cmd_exec(struct cove_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"process", required_argument, NULL, 'p'},
	    {"tty", no_argument, NULL, 't'},
	    {"detach", no_argument, NULL, 'd'},
	    {"env", required_argument, NULL, 'e'},
	    {"cwd", required_argument, NULL, OPT_CWD},
	    {"user", required_argument, NULL, 'u'},
	    {"additional-gids", required_argument, NULL, 'g'},
	    {"cap", required_argument, NULL, 'c'},
	    {"no-new-privs", no_argument, NULL, OPT_NO_NEW_PRIVS},
	    {"apparmor", required_argument, NULL, OPT_APPARMOR},
	    {"process-label", required_argument, NULL, OPT_LABEL},
	    {"console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET},
	    {"pid-file", required_argument, NULL, OPT_PID_FILE},
	    {"preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS},
	    {"cgroup", required_argument, NULL, OPT_CGROUP},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct cove_exec_opts o = {.root = cli->root};
	struct cove_error err = {0};
	_cleanup_state_ struct cove_state *s = NULL;
	_cleanup_json_ json_t *proc = NULL;
	_cleanup_strv_ char **envs = NULL, **caps = NULL, **gids = NULL;
	const char *process_file = NULL, *cwd = NULL, *user = NULL;
	const char *apparmor = NULL, *label = NULL;
	bool tty = false, nnp = false;
	pid_t pid = 0;
	int pty = -1, c, r;

	while ((c = getopt_long(argc, argv, "+p:tde:u:g:c:h", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'p':
			process_file = optarg;
			break;
		case 't':
			tty = true;
			break;
		case 'd':
			o.detach = true;
			break;
		case 'e':
			if (!strchr(optarg, '='))
				return cli_failf(
				    cli,
				    "invalid --env '%s': expected NAME=VALUE",
				    optarg);
			cove_strv_push(&envs, optarg);
			break;
		case OPT_CWD:
			cwd = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'g':
			cove_strv_push(&gids, optarg);
			break;
		case 'c':
			cove_strv_push(&caps, optarg);
			break;
		case OPT_NO_NEW_PRIVS:
			nnp = true;
			break;
		case OPT_APPARMOR:
			apparmor = optarg;
			break;
		case OPT_LABEL:
			label = optarg;
			break;
		case OPT_CONSOLE_SOCKET:
			o.console_socket = optarg;
			break;
		case OPT_PID_FILE:
			o.pid_file = optarg;
			break;
		case OPT_PRESERVE_FDS:
			if (cove_parse_int(optarg, &o.preserve_fds) < 0 ||
			    o.preserve_fds < 0)
				return cli_usage(
				    cli, "exec",
				    "invalid --preserve-fds value");
			break;
		case OPT_CGROUP:
			break;
		case 'h':
			return cli_help(exec_help);
		default:
			return cli_unknown_option(cli, "exec", argv);
		}
	}
	if (optind >= argc)
		return cli_usage(cli, "exec", "a container id is required");
	o.id = argv[optind++];
	if (cove_state_load(cli->root, o.id, &s, &err) < 0)
		return cli_fail(cli, &err);

	if (process_file) {
		const char *name =
		    !strcmp(process_file, "-") ? "/dev/stdin" : process_file;
		if (cove_json_load_file(name, 4u << 20, &proc, &err) < 0)
			return cli_fail(cli, &err);
		if (!json_is_object(proc))
			return cli_failf(cli, "%s: expected a process object",
					 process_file);
	} else {
		/* Defaults from the container's own process. */
		json_t *base =
		    s->config ? json_object_get(s->config, "process") : NULL;
		json_t *args = json_array();
		if (optind >= argc) {
			json_decref(args);
			return cli_usage(cli, "exec", "a command is required");
		}
		proc =
		    json_is_object(base) ? json_deep_copy(base) : json_object();
		for (int i = optind; i < argc; i++)
			json_array_append_new(args, json_string(argv[i]));
		json_object_set_new(proc, "args", args);
		json_object_set_new(proc, "terminal", json_boolean(tty));
		json_object_del(proc, "consoleSize");
		if (!json_object_get(proc, "cwd"))
			json_object_set_new(proc, "cwd", json_string("/"));
	}
	if (envs) {
		json_t *env = json_object_get(proc, "env");
		if (!json_is_array(env)) {
			env = json_array();
			json_object_set_new(proc, "env", env);
		}
		for (char **e = envs; *e; e++)
			json_array_append_new(env, json_string(*e));
	}
	if (cwd)
		json_object_set_new(proc, "cwd", json_string(cwd));
	if (tty)
		json_object_set_new(proc, "terminal", json_true());
	if (user) {
		uint32_t uid, gid = 0;
		_cleanup_free_ char *copy = strdup(user);
		char *colon = copy ? strchr(copy, ':') : NULL;
		json_t *u = json_object();
		if (colon)
			*colon = '\0';
		if (!copy || cove_parse_uint32(copy, &uid) < 0 ||
		    (colon && cove_parse_uint32(colon + 1, &gid) < 0)) {
			json_decref(u);
			return cli_failf(cli,
					 "invalid --user '%s': expected "
					 "UID[:GID] as numbers",
					 user);
		}
		json_object_set_new(u, "uid", json_integer(uid));
		json_object_set_new(u, "gid", json_integer(gid));
		json_object_set_new(proc, "user", u);
	}
	if (gids) {
		json_t *u = json_object_get(proc, "user");
		json_t *arr = json_array();
		if (!json_is_object(u)) {
			u = json_object();
			json_object_set_new(proc, "user", u);
		}
		for (char **g = gids; *g; g++) {
			uint32_t v;
			if (cove_parse_uint32(*g, &v) < 0) {
				json_decref(arr);
				return cli_failf(
				    cli, "invalid --additional-gids '%s'", *g);
			}
			json_array_append_new(arr, json_integer(v));
		}
		json_object_set_new(u, "additionalGids", arr);
	}
	if (caps) {
		json_t *cj = json_object_get(proc, "capabilities");
		if (!json_is_object(cj)) {
			cj = json_object();
			json_object_set_new(proc, "capabilities", cj);
		}
		for (char **cp = caps; *cp; cp++) {
			static const char *const sets[] = {
			    "bounding", "effective", "permitted", "inheritable",
			    "ambient"};
			if (cove_cap_from_name(*cp) < 0)
				return cli_failf(cli, "invalid --cap '%s'",
						 *cp);
			for (size_t i = 0; i < ARRAY_SIZE(sets); i++)
				add_cap(cj, sets[i], *cp);
		}
	}
	if (nnp)
		json_object_set_new(proc, "noNewPrivileges", json_true());
	if (apparmor)
		json_object_set_new(proc, "apparmorProfile",
				    json_string(apparmor));
	if (label)
		json_object_set_new(proc, "selinuxLabel", json_string(label));

	o.process = proc;
	o.foreground_pty = !o.detach && !o.console_socket;
	if (cove_container_exec(&o, &pid, &pty, &err) < 0)
		return cli_fail(cli, &err);
	if (o.detach)
		return 0;
	{
		static const int sigs[] = {SIGINT,  SIGTERM, SIGHUP,
					   SIGQUIT, SIGUSR1, SIGUSR2};
		struct sigaction sa = {.sa_handler = forward,
				       .sa_flags = SA_RESTART};
		exec_pid = pid;
		for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
			sigaction(sigs[i], &sa, NULL);
	}
	if (pty >= 0) {
		cove_pty_proxy(pty, &err);
		close(pty);
	}
	r = cove_wait_exit_code(pid);
	exec_pid = 0;
	return r;
}
