/*
 * What the commands that talk to a registry (pull, push, login) share:
 * the --tls-verify, --authfile, --cert-dir and --creds options.
 */
#include "cli/cove/remote.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/cove/cli.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

bool cove_cli_want_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	}
	return false;
}

int cove_cli_parse_bool(const char *cmd, const char *opt, const char *v,
			bool *ret)
{
	if (!v || !strcmp(v, "true") || !strcmp(v, "1")) {
		*ret = true;
		return 0;
	}
	if (!strcmp(v, "false") || !strcmp(v, "0")) {
		*ret = false;
		return 0;
	}
	return cove_cli_failf("%s: invalid --%s '%s': must be true or false",
			      cmd, opt, v);
}

/* The "*.crt" files of a --cert-dir as one CA bundle in a memfd. */
static int cert_dir_bundle(const char *dir, int *ret_fd, char **ret_path)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	_cleanup_close_ int fd = -1;
	struct dirent *de;

	if (!d)
		return cove_cli_failf("cannot open --cert-dir '%s': %s", dir,
				      strerror(errno));
	fd = memfd_create("cove-certs", MFD_CLOEXEC);
	if (fd < 0)
		return cove_cli_failf("cannot collect certificates: %s",
				      strerror(errno));
	while ((de = readdir(d))) {
		_cleanup_free_ char *path = NULL, *buf = NULL;
		size_t n = strlen(de->d_name), len = 0;

		if (n < 5 || strcmp(de->d_name + n - 4, ".crt"))
			continue;
		path = cove_strdup_printf("%s/%s", dir, de->d_name);
		if (!path || cove_read_file(path, 1 << 20, &buf, &len) < 0)
			return cove_cli_failf("cannot read '%s'",
					      path ? path : de->d_name);
		if (cove_write_all(fd, buf, len) < 0 ||
		    cove_write_all(fd, "\n", 1) < 0)
			return cove_cli_failf("cannot collect certificates: %s",
					      strerror(errno));
	}
	*ret_path = cove_strdup_printf("/proc/self/fd/%d", fd);
	if (!*ret_path)
		return cove_cli_failf("out of memory");
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int cove_cli_remote_option(const char *cmd, int c, struct cove_cli_remote *ra)
{
	bool b;
	int r;

	switch (c) {
	case COVE_CLI_OPT_TLS_VERIFY:
		r = cove_cli_parse_bool(cmd, "tls-verify", optarg, &b);
		if (r)
			return r;
		ra->o.tls_verify = b ? COVE_TLS_VERIFY_ON : COVE_TLS_VERIFY_OFF;
		return 0;
	case COVE_CLI_OPT_AUTHFILE:
		ra->o.authfile = optarg;
		return 0;
	case COVE_CLI_OPT_CERT_DIR:
		free(ra->ca_path);
		ra->ca_path = NULL;
		if (ra->ca_fd >= 0)
			close(ra->ca_fd);
		ra->ca_fd = -1;
		r = cert_dir_bundle(optarg, &ra->ca_fd, &ra->ca_path);
		if (r)
			return r;
		ra->o.ca_file = ra->ca_path;
		return 0;
	case COVE_CLI_OPT_CREDS: {
		char *colon;

		free(ra->creds);
		ra->creds = strdup(optarg);
		if (!ra->creds)
			return cove_cli_failf("out of memory");
		colon = strchr(ra->creds, ':');
		if (!colon || colon == ra->creds)
			return cove_cli_failf(
			    "%s: invalid --creds: expected USER:PASSWORD", cmd);
		*colon = '\0';
		ra->o.username = ra->creds;
		ra->o.password = colon + 1;
		return 0;
	}
	}
	return -1;
}

void cove_cli_remote_release(struct cove_cli_remote *ra)
{
	free(ra->creds);
	free(ra->ca_path);
	if (ra->ca_fd >= 0)
		close(ra->ca_fd);
}
