/* cove exec: run a process in a running container. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cove/cli.h"
#include "engine/engine.h"
#include "util/cleanup.h"
#include "util/strutil.h"

static const char exec_help[] =
    "NAME:\n"
    "   cove exec - run a process in a running container\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove exec [options] CONTAINER COMMAND [ARG...]\n"
    "   cove exec [options] -l COMMAND [ARG...]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Starts COMMAND inside the container's namespaces and cgroup, with\n"
    "   the container's environment, user, working directory and\n"
    "   confinement (capabilities, seccomp, no_new_privileges) unless the\n"
    "   options below change them.  cove waits for it and exits with its\n"
    "   exit code; signals cove receives are passed on.\n"
    "\n"
    "OPTIONS:\n"
    "   -d, --detach             do not wait for the process\n"
    "   -i, --interactive        keep stdin open (it is passed through)\n"
    "   -l, --latest             in the container created last\n"
    "   -t, --tty                allocate a pseudo-terminal\n"
    "   -u, --user USER[:GROUP]  run as this user (names resolved in the\n"
    "                            container)\n"
    "   -w, --workdir DIR        working directory\n"
    "   -e, --env KEY=VALUE      set an environment variable\n"
    "   --env-file FILE          KEY=VALUE lines\n"
    "   --privileged             every capability of the container's\n"
    "                            bounding set\n"
    "   -h, --help               show this help\n";

static int env_file(char ***env, const char *file)
{
	_cleanup_fclose_ FILE *f = fopen(file, "re");
	char line[65536];

	if (!f)
		return cove_cli_failf("exec: --env-file: cannot open %s: %s",
				      file, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *s = line + strspn(line, " \t");
		s[strcspn(s, "\r\n")] = '\0';
		if (!*s || *s == '#')
			continue;
		if (!strchr(s, '=') || s[0] == '=')
			return cove_cli_failf("exec: --env-file: %s: invalid "
					      "line '%s'",
					      file, s);
		if (cove_strv_push(env, s) < 0)
			return cove_cli_failf("out of memory");
	}
	return 0;
}

int cmd_exec(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"detach", no_argument, NULL, 'd'},
	    {"interactive", no_argument, NULL, 'i'},
	    {"tty", no_argument, NULL, 't'},
	    {"user", required_argument, NULL, 'u'},
	    {"workdir", required_argument, NULL, 'w'},
	    {"env", required_argument, NULL, 'e'},
	    {"env-file", required_argument, NULL, 1},
	    {"privileged", no_argument, NULL, 2},
	    {"latest", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	_cleanup_strv_ char **env = NULL;
	struct cove_exec_req req = {0};
	struct cove_engine *e = NULL;
	struct cove_error err = {0};
	struct cove_ctr c = {0};
	_cleanup_strv_ char **target = NULL;
	bool latest = false;
	int ch, r, code = 0;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+ditlu:w:e:h", opts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'h':
			return cove_cli_help(exec_help);
		case 'd':
			req.detach = true;
			break;
		case 'i':
			break; /* stdin is the process's own already */
		case 't':
			req.tty = true;
			break;
		case 'u':
			req.user = optarg;
			break;
		case 'w':
			if (optarg[0] != '/')
				return cove_cli_failf("exec: invalid --workdir "
						      "'%s': must be absolute",
						      optarg);
			req.workdir = optarg;
			break;
		case 'e':
			if (!strchr(optarg, '=')) {
				const char *v = getenv(optarg);
				_cleanup_free_ char *kv =
				    v ? cove_strdup_printf("%s=%s", optarg, v)
				      : NULL;
				if (kv && cove_strv_push(&env, kv) < 0)
					return cove_cli_failf("out of memory");
				break;
			}
			if (optarg[0] == '=' ||
			    cove_strv_push(&env, optarg) < 0)
				return cove_cli_failf("exec: invalid --env "
						      "'%s'",
						      optarg);
			break;
		case 1:
			r = env_file(&env, optarg);
			if (r)
				return r;
			break;
		case 2:
			req.privileged = true;
			break;
		case 'l':
			latest = true;
			break;
		default:
			return cove_cli_unknown_option("exec", argv);
		}
	}
	if (argc - optind < (latest ? 1 : 2))
		return cove_cli_failf("exec: a container and a command are "
				      "required (see 'cove exec --help')");
	req.argv = argv + optind + (latest ? 0 : 1);
	req.env = env;
	if (req.tty && !isatty(0))
		cove_cli_warn("exec: -t given but stdin is not a terminal");
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	/* -l: the container created last (select.c) */
	r = cove_cli_select(e, "exec", latest ? COVE_CLI_SEL_LATEST : 0, NULL,
			    latest ? 0 : 1, argv + optind, &target);
	if (r) {
		cove_engine_free(e);
		return r;
	}
	if (cove_engine_lookup(e, target[0], &c, &err) < 0 ||
	    cove_engine_exec(e, &c, &req, &code, &err) < 0) {
		r = cove_cli_fail(&err);
		/* podman: 126 when the command cannot be run, 127 missing */
		if (err.code == ENOENT && strstr(err.msg, "exec"))
			r = 127;
		else if (err.code == EACCES)
			r = 126;
	} else {
		r = code;
	}
	cove_ctr_release(&c);
	cove_engine_free(e);
	return r;
}
