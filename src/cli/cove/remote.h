#pragma once
/*
 * Command-line options of the commands that talk to a registry (pull,
 * push, login), parsed into the library's struct cove_remote_opts.
 */
#include <stdbool.h>

#include "image/pull.h"

/* Option ids for getopt_long(); a command's own start at ..._REMOTE_END. */
enum {
	COVE_CLI_OPT_TLS_VERIFY = 1000,
	COVE_CLI_OPT_AUTHFILE,
	COVE_CLI_OPT_CERT_DIR,
	COVE_CLI_OPT_CREDS,
	COVE_CLI_OPT_REMOTE_END,
};

struct cove_cli_remote {
	struct cove_remote_opts o;
	char *creds;   /* the --creds copy that o.username/password point in */
	char *ca_path; /* "/proc/self/fd/N" of the --cert-dir bundle */
	int ca_fd;
};

/* podman's variable for another registries.conf is honoured too. */
#define COVE_CLI_REMOTE_INIT                                                   \
	{                                                                      \
		.o.registries_conf = getenv("CONTAINERS_REGISTRIES_CONF"),     \
		.ca_fd = -1,                                                   \
	}

#define COVE_CLI_REMOTE_OPTIONS                                                \
	{"tls-verify", optional_argument, NULL, COVE_CLI_OPT_TLS_VERIFY},      \
	    {"authfile", required_argument, NULL, COVE_CLI_OPT_AUTHFILE},      \
	    {"cert-dir", required_argument, NULL, COVE_CLI_OPT_CERT_DIR},      \
	{                                                                      \
		"creds", required_argument, NULL, COVE_CLI_OPT_CREDS           \
	}

#define COVE_CLI_REMOTE_HELP                                                   \
	"   --tls-verify[=BOOL]   verify the registry's TLS certificate "      \
	"(default:\n"                                                          \
	"                         true, unless registries.conf marks the\n"    \
	"                         registry insecure); false also allows "      \
	"plain HTTP.\n"                                                        \
	"                         registries.conf: "                           \
	"$CONTAINERS_REGISTRIES_CONF,\n"                                       \
	"                         else podman's (~/.config/containers/, "      \
	"/etc/containers/)\n"                                                  \
	"   --authfile FILE       credentials file (default: "                 \
	"$REGISTRY_AUTH_FILE,\n"                                               \
	"                         then podman's and docker's auth.json)\n"     \
	"   --cert-dir DIR        trust the CA certificates DIR/*.crt too\n"   \
	"   --creds USER:PASS     credentials for this command only\n"

/*
 * Handle option @c if it is one of the above: 0 when handled, an exit
 * status (message printed) when its value is wrong, -1 when @c is not a
 * registry option.
 */
int cove_cli_remote_option(const char *cmd, int c, struct cove_cli_remote *ra);
void cove_cli_remote_release(struct cove_cli_remote *ra);

/* Whether argv (after argv[0], up to "--") asks for --help / -h. */
bool cove_cli_want_help(int argc, char **argv);
/* "true"/"1"/NULL or "false"/"0"; otherwise prints and returns 125. */
int cove_cli_parse_bool(const char *cmd, const char *opt, const char *v,
			bool *ret);
