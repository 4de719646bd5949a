/*
 * cove unshare: a command in the user namespace and mount namespace an
 * unprivileged user's cove works in (podman's `unshare`), entered by main()
 * before this runs (engine/rootless.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cove/cli.h"
#include "engine/rootless.h"

/* Until cli.h declares it with the other commands. */
int cmd_unshare(struct cove_ctx *ctx, int argc, char **argv);

static const char unshare_help[] =
    "NAME:\n"
    "   cove unshare - run a command in cove's user and mount namespace\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove unshare [options] [COMMAND [ARG...]]\n"
    "\n"
    "DESCRIPTION:\n"
    "   For an unprivileged user: runs COMMAND (default $SHELL, else\n"
    "   /bin/sh) as root of the user namespace cove works in (0 is the\n"
    "   user, 1 and up the ranges of /etc/subuid and /etc/subgid), in\n"
    "   cove's mount namespace.  There the files of the storage have the\n"
    "   owners containers see, and what cove mounted is visible: the root\n"
    "   file systems of containers and the paths `cove image mount`\n"
    "   printed.  The namespaces are those of the user's pause process\n"
    "   (cove-pause), made by the first cove command and joined by every\n"
    "   later one, so commands run this way all share them.\n"
    "\n"
    "   COVE_GRAPHROOT and COVE_RUNROOT are set to the storage and runtime\n"
    "   state directories.  cove becomes COMMAND: the exit code is\n"
    "   COMMAND's, or 127 when it is not found and 126 when it cannot be\n"
    "   run.  Root works in the host's namespaces: for root, unshare is an\n"
    "   error.\n"
    "\n"
    "OPTIONS:\n"
    "   -h, --help            show this help\n"
    "\n"
    "EXAMPLES:\n"
    "   cove unshare cat /proc/self/uid_map\n"
    "   cove unshare sh -c 'ls -ln \"$COVE_GRAPHROOT\"'\n"
    "   cove unshare ls \"$(cove image mount busybox)\"\n";

int cmd_unshare(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *shell = getenv("SHELL");
	char *dflt[] = {(char *)(shell && *shell ? shell : "/bin/sh"), NULL};
	char **args = dflt;
	int c, e;

	opterr = 0;
	/* "+": the command's own options are not ours */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return cove_cli_help(unshare_help);
		default:
			return cove_cli_unknown_option("unshare", argv);
		}
	}
	if (!cove_rootless_active())
		return cove_cli_failf("unshare: only for an unprivileged user: "
				      "root works in the host's namespaces");
	if (optind < argc)
		args = argv + optind;
	if (setenv("COVE_GRAPHROOT", ctx->root, 1) < 0 ||
	    setenv("COVE_RUNROOT", ctx->runroot, 1) < 0)
		return cove_cli_failf("unshare: %s", strerror(errno));
	fflush(stdout);
	execvp(args[0], args);
	e = errno;
	cove_cli_failf("unshare: cannot run '%s': %s", args[0], strerror(e));
	return e == ENOENT ? 127 : 126;
}
