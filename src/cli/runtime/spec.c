/* spec and features. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/runtime/cli.h"
#include "runtime/features.h"
#include "runtime/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const char spec_help[] =
    "NAME:\n"
    "   cove-runtime spec - write a default config.json\n"
    "\n"
    "USAGE:\n"
    "   cove-runtime spec [command options]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Writes config.json into the bundle directory: 'sh' as the process,\n"
    "   a read-only rootfs at ./rootfs, the standard mounts, masked and\n"
    "   read-only paths. Refuses to overwrite an existing config.json.\n"
    "\n"
    "OPTIONS:\n"
    "   -b, --bundle DIR   bundle directory (default: current directory)\n"
    "   --rootless         a config for an unprivileged user: a user\n"
    "                      namespace mapping root to the caller, no network\n"
    "                      namespace, /sys bind-mounted, no device cgroup\n"
    "   -h, --help         show this help\n";

static const char features_help[] =
    "NAME:\n"
    "   cove-runtime features - print the features cove supports\n"
    "\n"
    "USAGE:\n"
    "   cove-runtime features\n"
    "\n"
    "DESCRIPTION:\n"
    "   Prints the runtime-spec features document (JSON): OCI versions,\n"
    "   hooks, mount options, namespaces, capabilities, cgroup drivers,\n"
    "   seccomp actions, operators, architectures and flags.\n";

enum { OPT_ROOTLESS = 256 };

int cmd_spec(struct cove_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"bundle", required_argument, NULL, 'b'},
	    {"rootless", no_argument, NULL, OPT_ROOTLESS},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *bundle = ".";
	bool rootless = false;
	_cleanup_json_ json_t *spec = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int dfd = -1;
	int c, r;

	while ((c = getopt_long(argc, argv, "+b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			bundle = optarg;
			break;
		case OPT_ROOTLESS:
			rootless = true;
			break;
		case 'h':
			return cli_help(spec_help);
		default:
			return cli_unknown_option(cli, "spec", argv);
		}
	}
	dfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cli_failf(cli, "cannot open bundle directory %s: %s",
				 bundle, strerror(errno));
	if (faccessat(dfd, "config.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return cli_failf(cli, "%s/config.json exists: remove it first",
				 bundle);
	spec = cove_spec_default(rootless);
	text = json_dumps(spec, JSON_INDENT(8));
	if (!text)
		return cli_failf(cli, "out of memory");
	r = cove_write_file_atomic_at(dfd, "config.json", text, strlen(text),
				      0644);
	if (r < 0)
		return cli_failf(cli, "cannot write %s/config.json: %s", bundle,
				 strerror(-r));
	return 0;
}

int cmd_features(struct cove_cli *cli, int argc, char **argv)
{
	_cleanup_json_ json_t *f = NULL;
	char *text;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return cli_help(features_help);
	if (argc > 1)
		return cli_usage(cli, "features", "takes no arguments");
	f = cove_features_json();
	text = json_dumps(f, JSON_INDENT(4));
	if (!text)
		return cli_failf(cli, "out of memory");
	printf("%s\n", text);
	free(text);
	return 0;
}
