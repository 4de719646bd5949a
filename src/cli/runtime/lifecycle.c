/* state, kill, delete, pause, resume, list, ps. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/runtime/cli.h"
#include "runtime/cgroup.h"
#include "util/cleanup.h"
#include "util/strutil.h"

static const char state_help[] =
    "NAME:\n"
    "   cove-runtime state - print the state of a container\n"
    "\n"
    "USAGE:\n"
    "   cove-runtime state <container-id>\n"
    "\n"
    "DESCRIPTION:\n"
    "   Prints the runtime-spec state document (ociVersion, id, status,\n"
    "   pid, bundle, annotations) as JSON. The status is one of creating,\n"
    "   created, running, paused, stopped.\n";

static const char kill_help[] =
    "NAME:\n"
    "   cove-runtime kill - send a signal to a container\n"
    "\n"
    "USAGE:\n"
    "   cove-runtime kill [command options] <container-id> [signal]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Sends SIGNAL (a name such as TERM or SIGKILL, or a number; default\n"
    "   SIGTERM) to the container's init process.\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --all    send the signal to every process of the container\n";

static const char delete_help[] =
    "NAME:\n"
    "   cove-runtime delete - delete a container\n"
    "\n"
    "USAGE:\n"
    "   cove-runtime delete [command options] <container-id>\n"
    "\n"
    "DESCRIPTION:\n"
    "   Removes a stopped (or created) container: runs the poststop hooks,\n"
    "   removes its cgroup and its state.\n"
    "\n"
    "OPTIONS:\n"
    "   -f, --force  kill a running container first (SIGKILL)\n";

static const char pause_help[] =
    "NAME:\n"
    "   cove-runtime pause - freeze all processes of a container\n"
    "\n"
    "USAGE:\n"
    "   cove-runtime pause <container-id>\n";

static const char resume_help[] =
    "NAME:\n"
    "   cove-runtime resume - thaw a paused container\n"
    "\n"
    "USAGE:\n"
    "   cove-runtime resume <container-id>\n";

static const char list_help[] =
    "NAME:\n"
    "   cove-runtime list - list containers\n"
    "\n"
    "USAGE:\n"
    "   cove-runtime list [command options]\n"
    "\n"
    "OPTIONS:\n"
    "   -f, --format table|json  output format (default table)\n"
    "   -q, --quiet              print only the container ids\n";

static const char ps_help[] =
    "NAME:\n"
    "   cove-runtime ps - list the processes of a container\n"
    "\n"
    "USAGE:\n"
    "   cove-runtime ps [command options] <container-id> [ps options]\n"
    "\n"
    "DESCRIPTION:\n"
    "   With the table format, runs ps(1) with PS OPTIONS (default -ef)\n"
    "   and keeps the header and the lines of the container's processes.\n"
    "\n"
    "OPTIONS:\n"
    "   -f, --format table|json  json prints the array of host pids\n";

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

int cmd_state(struct cove_cli *cli, int argc, char **argv)
{
	_cleanup_state_ struct cove_state *s = NULL;
	struct cove_error err = {0};
	_cleanup_json_ json_t *j = NULL;
	char *text;

	if (wants_help(argc, argv))
		return cli_help(state_help);
	if (cli_no_options(cli, "state", argc, argv))
		return 1;
	if (argc != 2)
		return cli_usage(cli, "state",
				 "exactly one container id is required");
	if (cove_state_load(cli->root, argv[1], &s, &err) < 0)
		return cli_fail(cli, &err);
	j = cove_state_to_json(s);
	text = json_dumps(j, JSON_INDENT(2));
	if (!text)
		return cli_failf(cli, "out of memory");
	printf("%s\n", text);
	free(text);
	return 0;
}

int cmd_kill(struct cove_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct cove_error err = {0};
	bool all = false;
	int sig = SIGTERM, c;

	while ((c = getopt_long(argc, argv, "+ah", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'h':
			return cli_help(kill_help);
		default:
			return cli_unknown_option(cli, "kill", argv);
		}
	}
	if (optind >= argc || argc - optind > 2)
		return cli_usage(cli, "kill",
				 "usage: kill [--all] ID [SIGNAL]");
	if (argc - optind == 2) {
		sig = cli_parse_signal(argv[optind + 1]);
		if (sig < 0)
			return cli_failf(cli, "invalid signal '%s'",
					 argv[optind + 1]);
	}
	if (cove_container_kill(cli->root, argv[optind], sig, all, &err) < 0)
		return cli_fail(cli, &err);
	return 0;
}

int cmd_delete(struct cove_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct cove_error err = {0};
	bool force = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case 'h':
			return cli_help(delete_help);
		default:
			return cli_unknown_option(cli, "delete", argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage(cli, "delete",
				 "exactly one container id is required");
	r = cove_container_delete(cli->root, argv[optind], force, &err);
	if (r < 0) {
		/* runc: deleting a missing container with -f is not an error */
		if (force && err.code == ENOENT)
			return 0;
		return cli_fail(cli, &err);
	}
	if (r > 0)
		cli_warn(cli, "%s", err.msg);
	return 0;
}

static int pause_resume(struct cove_cli *cli, int argc, char **argv, bool pause)
{
	struct cove_error err = {0};

	if (wants_help(argc, argv))
		return cli_help(pause ? pause_help : resume_help);
	if (cli_no_options(cli, pause ? "pause" : "resume", argc, argv))
		return 1;
	if (argc != 2)
		return cli_usage(cli, pause ? "pause" : "resume",
				 "exactly one container id is required");
	if (cove_container_pause(cli->root, argv[1], pause, &err) < 0)
		return cli_fail(cli, &err);
	return 0;
}

int cmd_pause(struct cove_cli *cli, int argc, char **argv)
{
	return pause_resume(cli, argc, argv, true);
}

int cmd_resume(struct cove_cli *cli, int argc, char **argv)
{
	return pause_resume(cli, argc, argv, false);
}

int cmd_list(struct cove_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct cove_error err = {0};
	_cleanup_strv_ char **ids = NULL;
	_cleanup_json_ json_t *arr = json_array();
	bool json = false, quiet = false;
	int c;

	while ((c = getopt_long(argc, argv, "+f:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "table") && strcmp(optarg, "json"))
				return cli_failf(cli,
						 "invalid format '%s': must be "
						 "table or json",
						 optarg);
			json = !strcmp(optarg, "json");
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			return cli_help(list_help);
		default:
			return cli_unknown_option(cli, "list", argv);
		}
	}
	if (cove_state_list(cli->root, &ids, &err) < 0)
		return cli_fail(cli, &err);
	if (quiet) {
		for (char **id = ids; *id; id++)
			printf("%s\n", *id);
		return 0;
	}
	/* Columns as wide as their longest cell, as a tabwriter does. */
	struct row {
		char pid[16], owner[32];
		struct cove_state *s;
	};
	size_t n = cove_strv_length(ids), w_id = 2, w_bundle = 6, w_created = 7;
	struct row *rows = calloc(n + 1, sizeof(*rows));
	if (!rows)
		return cli_failf(cli, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct cove_state *s = NULL;
		json_t *j;
		if (cove_state_load(cli->root, ids[i], &s, NULL) < 0)
			continue;
		rows[i].s = s;
		snprintf(rows[i].pid, sizeof(rows[i].pid), "%d",
			 s->status == COVE_STATUS_STOPPED ? 0 : s->pid);
		{
			/* The user name, or "#uid" when it has none (runc). */
			struct passwd *pw = getpwuid(s->owner);
			if (pw)
				snprintf(rows[i].owner, sizeof(rows[i].owner),
					 "%s", pw->pw_name);
			else
				snprintf(rows[i].owner, sizeof(rows[i].owner),
					 "#%u", (unsigned)s->owner);
		}
		if (strlen(s->id) > w_id)
			w_id = strlen(s->id);
		if (strlen(s->bundle) > w_bundle)
			w_bundle = strlen(s->bundle);
		if (strlen(s->created) > w_created)
			w_created = strlen(s->created);
		j = cove_state_to_json(s);
		json_object_set_new(j, "owner", json_string(rows[i].owner));
		json_array_append_new(arr, j);
	}
	if (!json) {
		printf("%-*s   %-8s   %-8s   %-*s   %-*s   %s\n", (int)w_id,
		       "ID", "PID", "STATUS", (int)w_bundle, "BUNDLE",
		       (int)w_created, "CREATED", "OWNER");
		for (size_t i = 0; i < n; i++) {
			struct cove_state *s = rows[i].s;
			if (!s)
				continue;
			printf("%-*s   %-8s   %-8s   %-*s   %-*s   %s\n",
			       (int)w_id, s->id, rows[i].pid,
			       cove_status_name(s->status), (int)w_bundle,
			       s->bundle, (int)w_created, s->created,
			       rows[i].owner);
		}
	}
	for (size_t i = 0; i < n; i++)
		cove_state_free(rows[i].s);
	free(rows);
	if (json) {
		char *text = json_dumps(arr, JSON_COMPACT);
		printf("%s\n", text ? text : "[]");
		free(text);
	}
	return 0;
}

int cmd_ps(struct cove_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_state_ struct cove_state *s = NULL;
	_cleanup_cgroup_ struct cove_cgroup *cg = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	struct cove_error err = {0};
	size_t n = 0;
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "table") && strcmp(optarg, "json"))
				return cli_failf(cli,
						 "invalid format '%s': must be "
						 "table or json",
						 optarg);
			json = !strcmp(optarg, "json");
			break;
		case 'h':
			return cli_help(ps_help);
		default:
			return cli_unknown_option(cli, "ps", argv);
		}
	}
	if (optind >= argc)
		return cli_usage(cli, "ps", "a container id is required");
	if (cove_state_load(cli->root, argv[optind], &s, &err) < 0)
		return cli_fail(cli, &err);
	if (s->status == COVE_STATUS_STOPPED)
		return cli_failf(cli, "container '%s' is not running", s->id);
	if (s->cgroup_path) {
		if (cove_cgroup_open(NULL, s->cgroup_mode, s->cgroup_path, &cg,
				     &err) < 0 ||
		    cove_cgroup_pids(cg, &pids, &n, &err) < 0)
			return cli_fail(cli, &err);
	} else {
		pids = calloc(1, sizeof(pid_t));
		if (!pids)
			return cli_failf(cli, "out of memory");
		pids[0] = s->pid;
		n = 1;
	}
	if (json) {
		printf("[");
		for (size_t i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", (int)pids[i]);
		printf("]\n");
		return 0;
	}
	/*
	 * The table is ps(1)'s own output: runc's contract is that the
	 * remaining arguments are ps options, so ps is run as a program.
	 */
	{
		int pfd[2], status, pid_col = -1;
		pid_t child;
		FILE *f;
		_cleanup_free_ char *line = NULL;
		size_t cap = 0;
		bool header = true;

		if (pipe2(pfd, O_CLOEXEC) < 0)
			return cli_failf(cli, "pipe: %s", strerror(errno));
		child = fork();
		if (child == 0) {
			char *def[] = {"ps", "-ef", NULL};
			dup2(pfd[1], 1);
			if (optind + 1 < argc) {
				argv[optind] = "ps";
				execvp("ps", argv + optind);
			} else
				execvp("ps", def);
			_exit(127);
		}
		close(pfd[1]);
		f = fdopen(pfd[0], "r");
		while (f && getline(&line, &cap, f) > 0) {
			if (header) {
				/* Find the PID column in the header. */
				char *save = NULL, *copy = strdup(line), *tok;
				int col = 0;
				for (tok = strtok_r(copy, " \t\n", &save); tok;
				     tok = strtok_r(NULL, " \t\n", &save),
				    col++)
					if (!strcmp(tok, "PID"))
						pid_col = col;
				free(copy);
				fputs(line, stdout);
				header = false;
				continue;
			}
			if (pid_col >= 0) {
				char *save = NULL, *copy = strdup(line), *tok;
				int col = 0, pid = -1;
				for (tok = strtok_r(copy, " \t\n", &save); tok;
				     tok = strtok_r(NULL, " \t\n", &save),
				    col++)
					if (col == pid_col) {
						cove_parse_int(tok, &pid);
						break;
					}
				free(copy);
				for (size_t i = 0; i < n; i++)
					if (pids[i] == pid)
						fputs(line, stdout);
			}
		}
		if (f)
			fclose(f);
		waitpid(child, &status, 0);
		if (pid_col < 0)
			return cli_failf(cli, "ps output has no PID column");
	}
	return 0;
}
