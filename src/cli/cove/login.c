/*
 * cove login / cove logout: registry credentials in podman's auth.json,
 * checked with the registry before they are stored.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cove/cli.h"
#include "cli/cove/remote.h"
#include "image/auth.h"
#include "image/pull.h"
#include "image/registry.h"
#include "util/cleanup.h"

enum {
	OPT_PASSWORD_STDIN = COVE_CLI_OPT_REMOTE_END,
};

static const char login_help[] =
    "NAME:\n"
    "   cove login - log in to a registry\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove login [options] REGISTRY\n"
    "\n"
    "DESCRIPTION:\n"
    "   Checks the credentials with the registry and, when it accepts\n"
    "   them, stores them in the auth file (podman's auth.json format,\n"
    "   mode 0600).  Missing user name or password are asked for on the\n"
    "   terminal.\n"
    "\n"
    "OPTIONS:\n"
    "   -u, --username USER   the user name\n"
    "   -p, --password PASS   the password (visible to other users in the\n"
    "                         process list: prefer --password-stdin)\n"
    "   --password-stdin      read the password from stdin\n"
    "   --tls-verify[=BOOL]   verify the registry's TLS certificate\n"
    "   --authfile FILE       where to store the credentials\n"
    "   --cert-dir DIR        trust the CA certificates DIR/*.crt too\n"
    "   -h, --help            show this help\n";

/* A line from @f without its newline; NULL at EOF. */
static char *read_line(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);

	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static char *prompt(const char *what, bool secret)
{
	_cleanup_fclose_ FILE *tty = fopen("/dev/tty", "r+e");
	struct termios old, noecho;
	bool restore = false;
	char *line;

	if (!tty)
		return NULL;
	fprintf(tty, "%s: ", what);
	fflush(tty);
	if (secret && tcgetattr(fileno(tty), &old) == 0) {
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(fileno(tty), TCSAFLUSH, &noecho) == 0;
	}
	line = read_line(tty);
	if (restore) {
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
		fputc('\n', tty);
	}
	return line;
}

/* "https://host:5000/v2/" -> "host:5000" */
static char *registry_arg(const char *arg)
{
	return cove_auth_normalize_key(arg);
}

int cmd_login(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"username", required_argument, NULL, 'u'},
	    {"password", required_argument, NULL, 'p'},
	    {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
	    {"tls-verify", optional_argument, NULL, COVE_CLI_OPT_TLS_VERIFY},
	    {"authfile", required_argument, NULL, COVE_CLI_OPT_AUTHFILE},
	    {"cert-dir", required_argument, NULL, COVE_CLI_OPT_CERT_DIR},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct cove_registry_client *client = NULL;
	_cleanup_free_ char *user = NULL, *pass = NULL, *reg = NULL;
	struct cove_cli_remote ra = COVE_CLI_REMOTE_INIT;
	struct cove_error err = {0};
	bool from_stdin = false;
	int c, r = 0;

	(void)ctx;
	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(login_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "u:p:h", opts, NULL)) != -1) {
		if (c == 'u') {
			free(user);
			user = strdup(optarg);
		} else if (c == 'p') {
			free(pass);
			pass = strdup(optarg);
		} else if (c == OPT_PASSWORD_STDIN) {
			from_stdin = true;
		} else if ((r = cove_cli_remote_option("login", c, &ra)) != 0) {
			if (r < 0)
				r = cove_cli_unknown_option("login", argv);
			goto out;
		}
	}
	if (argc - optind != 1) {
		r = cove_cli_failf("login: exactly one registry is required "
				   "(see 'cove login --help')");
		goto out;
	}
	if (pass && from_stdin) {
		r = cove_cli_failf("login: --password and --password-stdin "
				   "exclude each other");
		goto out;
	}
	reg = registry_arg(argv[optind]);
	if (!reg || !*reg) {
		r = cove_cli_failf("login: invalid registry '%s'",
				   argv[optind]);
		goto out;
	}
	if (!user)
		user = prompt("Username", false);
	if (from_stdin) {
		pass = read_line(stdin);
		if (!pass) {
			r = cove_cli_failf("login: no password on stdin");
			goto out;
		}
	} else if (!pass) {
		pass = prompt("Password", true);
	}
	if (!user || !*user || !pass) {
		r = cove_cli_failf("login: a user name and a password are "
				   "required (-u, -p or --password-stdin)");
		goto out;
	}
	ra.o.username = user;
	ra.o.password = pass;
	if (cove_remote_client(reg, NULL, &ra.o, false, &client, &err) < 0 ||
	    cove_registry_ping(client, &err) < 0 ||
	    cove_auth_set(ra.o.authfile, reg, user, pass, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	printf("Login Succeeded!\n");
out:
	cove_registry_client_free(client);
	cove_cli_remote_release(&ra);
	return r;
}

static const char logout_help[] =
    "NAME:\n"
    "   cove logout - remove the stored credentials of a registry\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove logout [options] REGISTRY\n"
    "\n"
    "OPTIONS:\n"
    "   --authfile FILE       the auth file to change\n"
    "   -h, --help            show this help\n";

int cmd_logout(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"authfile", required_argument, NULL, COVE_CLI_OPT_AUTHFILE},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_free_ char *reg = NULL;
	struct cove_error err = {0};
	const char *authfile = NULL;
	int c, r;

	(void)ctx;
	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(logout_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == COVE_CLI_OPT_AUTHFILE)
			authfile = optarg;
		else
			return cove_cli_unknown_option("logout", argv);
	}
	if (argc - optind != 1)
		return cove_cli_failf("logout: exactly one registry is "
				      "required");
	reg = registry_arg(argv[optind]);
	if (!reg || !*reg)
		return cove_cli_failf("logout: invalid registry '%s'",
				      argv[optind]);
	r = cove_auth_remove(authfile, reg, &err);
	if (r < 0)
		return cove_cli_fail(&err);
	if (r == 0)
		return cove_cli_failf("not logged into %s", reg);
	printf("Removed login credentials for %s\n", reg);
	return 0;
}
