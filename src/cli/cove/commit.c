/*
 * cove export, cove diff, cove commit: a container's file system as a
 * tar, its changes, and a new image of it (engine/commit.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cove/cli.h"
#include "engine/commit.h"
#include "engine/engine.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

/* ---- export ------------------------------------------------------------- */

static const char export_help[] =
    "NAME:\n"
    "   cove export - write a container's file system as a tar archive\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove export [-o FILE] CONTAINER\n"
    "   cove container export [-o FILE] CONTAINER\n"
    "\n"
    "DESCRIPTION:\n"
    "   Writes the container's whole root file system, as the container\n"
    "   sees it (its image with its changes), as an uncompressed tar to\n"
    "   FILE or to stdout, which must not be a terminal.  The container\n"
    "   may be running or stopped (its rootfs is mounted for the time of\n"
    "   the export).  Volumes and what the container mounted are not part\n"
    "   of it.  Entries keep their owners (as the container sees them),\n"
    "   modes, times and xattrs; symlinks are archived as symlinks and\n"
    "   never followed, hard links as links, device nodes and fifos as\n"
    "   such; sockets are left out.\n"
    "\n"
    "OPTIONS:\n"
    "   -o, --output FILE   write to FILE (replaced) instead of stdout\n"
    "   -h, --help          show this help\n";

int cmd_export(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	_cleanup_engine_ struct cove_engine *e = NULL;
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	struct cove_error err = {0};
	struct cove_ctr c = {0};
	const char *out = NULL;
	int ch, r;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'h':
			return cove_cli_help(export_help);
		default:
			return cove_cli_unknown_option("export", argv);
		}
	}
	if (argc - optind != 1)
		return cove_cli_failf("export: one container is required (see "
				      "'cove export --help')");
	if (!out && isatty(STDOUT_FILENO))
		return cove_cli_failf("export: refusing to write a tar to a "
				      "terminal: use -o FILE or redirect "
				      "stdout");
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	if (cove_engine_lookup(e, argv[optind], &c, &err) < 0)
		return cove_cli_fail(&err);
	if (out) {
		/* FILE appears whole or not at all */
		tmp = cove_strdup_printf("%s.tmp-%d", out, (int)getpid());
		fd = tmp ? open(tmp,
				O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				    O_CLOEXEC,
				0644)
			 : -1;
		if (fd < 0) {
			r = cove_cli_failf("export: cannot create %s: %s", out,
					   strerror(tmp ? errno : ENOMEM));
			cove_ctr_release(&c);
			return r;
		}
	}
	r = cove_engine_export(e, &c, out ? fd : STDOUT_FILENO, &err);
	if (r >= 0 && out && (fsync(fd) < 0 || rename(tmp, out) < 0))
		r = cove_error_setx(&err, errno, "export: cannot write %s",
				    out);
	if (r < 0) {
		if (out)
			(void)unlink(tmp);
		r = cove_cli_fail(&err);
	} else {
		r = 0;
	}
	cove_ctr_release(&c);
	return r;
}

/* ---- diff --------------------------------------------------------------- */

static const char diff_help[] =
    "NAME:\n"
    "   cove diff - show what a container changed in its file system\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove diff [--format json] CONTAINER\n"
    "   cove container diff [--format json] CONTAINER\n"
    "\n"
    "DESCRIPTION:\n"
    "   Lists the paths the container added (A), changed (C) and deleted\n"
    "   (D) against its image, sorted by path, as podman does: a\n"
    "   directory above a change is changed, and a directory that was\n"
    "   removed and made again (overlay's opaque directory) is deleted,\n"
    "   with what is in it now added.  On overlay the container's upper\n"
    "   dir says what changed; on vfs the container's copy is compared\n"
    "   with the image's, by type, mode, owner, size, mtime, device\n"
    "   number and symlink target.  Volumes are not part of it.\n"
    "\n"
    "OPTIONS:\n"
    "   --format json   one JSON object: {\"changed\": [...], \"added\":\n"
    "                   [...], \"deleted\": [...]} (empty lists left out)\n"
    "   -h, --help      show this help\n";

int cmd_diff(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	_cleanup_engine_ struct cove_engine *e = NULL;
	struct cove_change *v = NULL;
	struct cove_error err = {0};
	struct cove_ctr c = {0};
	bool json = false;
	size_t n = 0;
	int ch, r;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (strcmp(optarg, "json"))
				return cove_cli_failf("diff: invalid --format "
						      "'%s': only json is "
						      "supported",
						      optarg);
			json = true;
			break;
		case 'h':
			return cove_cli_help(diff_help);
		default:
			return cove_cli_unknown_option("diff", argv);
		}
	}
	if (argc - optind != 1)
		return cove_cli_failf("diff: one container is required (see "
				      "'cove diff --help')");
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	if (cove_engine_lookup(e, argv[optind], &c, &err) < 0 ||
	    cove_engine_diff(e, &c, &v, &n, &err) < 0) {
		cove_ctr_release(&c);
		return cove_cli_fail(&err);
	}
	if (json) {
		static const struct {
			const char *key;
			enum cove_change_kind kind;
		} lists[] = {{"changed", COVE_CHANGE_CHANGED},
			     {"added", COVE_CHANGE_ADDED},
			     {"deleted", COVE_CHANGE_DELETED}};
		_cleanup_json_ json_t *o = json_object();
		_cleanup_free_ char *txt = NULL;
		for (size_t k = 0; o && k < ARRAY_SIZE(lists); k++) {
			json_t *a = NULL;
			for (size_t i = 0; i < n; i++) {
				if (v[i].kind != lists[k].kind)
					continue;
				if (!a) {
					a = json_array();
					json_object_set_new(o, lists[k].key, a);
				}
				json_array_append_new(a,
						      json_string(v[i].path));
			}
		}
		txt = o ? json_dumps(o, JSON_INDENT(5)) : NULL;
		if (!txt)
			r = cove_cli_failf("out of memory");
		else
			printf("%s\n", txt);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%c %s\n", (char)v[i].kind, v[i].path);
	}
	cove_changes_free(v, n);
	cove_ctr_release(&c);
	return r;
}

/* ---- commit ------------------------------------------------------------- */

static const char commit_help[] =
    "NAME:\n"
    "   cove commit - make an image of a container's changes\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove commit [options] CONTAINER [IMAGE[:TAG]]\n"
    "   cove container commit [options] CONTAINER [IMAGE[:TAG]]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Makes a new image: the container's image plus one layer with\n"
    "   what the container changed (what 'cove diff' lists; deletions as\n"
    "   OCI whiteouts), gzip-compressed.  The image's config is the old\n"
    "   one with the container's command, entrypoint, user, working\n"
    "   directory, -e variables, labels and exposed ports, then the\n"
    "   --change instructions, and one more history entry (author,\n"
    "   message).  IMAGE without a registry is put under localhost/;\n"
    "   without IMAGE the image has no name.  Prints the new image's id.\n"
    "   The image is recorded only once all of it is stored and its new\n"
    "   layer verified: a failure leaves no image.  OCI format only.\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --author AUTHOR     the image's author\n"
    "   -c, --change INSTR      apply a Dockerfile instruction: CMD,\n"
    "                           ENTRYPOINT, ENV, LABEL, EXPOSE, USER,\n"
    "                           WORKDIR, STOPSIGNAL, VOLUME (\"CMD "
    "[\\\"sh\\\"]\",\n"
    "                           \"ENV A=b\", \"CMD=/bin/sh\"); repeatable\n"
    "   -f, --format FORMAT     oci (the only one cove writes)\n"
    "   --iidfile FILE          write the image id to FILE\n"
    "   -m, --message MESSAGE   the history entry's comment\n"
    "   -p, --pause[=BOOL]      freeze a running container meanwhile\n"
    "                           (default false, as podman 4)\n"
    "   -q, --quiet             print nothing but errors\n"
    "   -h, --help              show this help\n";

static int parse_bool(const char *s, bool *ret)
{
	if (!s || !strcmp(s, "true") || !strcmp(s, "1"))
		*ret = true;
	else if (!strcmp(s, "false") || !strcmp(s, "0"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

int cmd_commit(struct cove_ctx *ctx, int argc, char **argv)
{
	enum { OPT_IIDFILE = 256 };
	static const struct option opts[] = {
	    {"author", required_argument, NULL, 'a'},
	    {"change", required_argument, NULL, 'c'},
	    {"format", required_argument, NULL, 'f'},
	    {"iidfile", required_argument, NULL, OPT_IIDFILE},
	    {"message", required_argument, NULL, 'm'},
	    {"pause", optional_argument, NULL, 'p'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	_cleanup_engine_ struct cove_engine *e = NULL;
	_cleanup_strv_ char **changes = NULL;
	struct cove_commit_opts o = {0};
	struct cove_error err = {0};
	struct cove_ctr c = {0};
	const char *iidfile = NULL;
	char id[COVE_DIGEST_MAX];
	bool quiet = false;
	int ch, r;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "a:c:f:m:pqh", opts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'a':
			o.author = optarg;
			break;
		case 'c':
			if (cove_strv_push(&changes, optarg) < 0)
				return cove_cli_failf("out of memory");
			break;
		case 'f':
			if (strcmp(optarg, "oci"))
				return cove_cli_failf(
				    "commit: invalid --format '%s': cove "
				    "writes oci images only",
				    optarg);
			break;
		case OPT_IIDFILE:
			iidfile = optarg;
			break;
		case 'm':
			o.message = optarg;
			break;
		case 'p':
			if (parse_bool(optarg, &o.pause) < 0)
				return cove_cli_failf("commit: invalid --pause "
						      "'%s': true or false",
						      optarg);
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			return cove_cli_help(commit_help);
		default:
			return cove_cli_unknown_option("commit", argv);
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return cove_cli_failf("commit: a container and at most one "
				      "image name are required (see 'cove "
				      "commit --help')");
	o.changes = changes;
	o.name = argc - optind == 2 ? argv[optind + 1] : NULL;
	r = cove_cli_engine_open(ctx, &e);
	if (r)
		return r;
	if (cove_engine_lookup(e, argv[optind], &c, &err) < 0 ||
	    cove_engine_commit(e, &c, &o, id, &err) < 0) {
		cove_ctr_release(&c);
		return cove_cli_fail(&err);
	}
	cove_ctr_release(&c);
	if (iidfile) {
		/* made or replaced; the id as printed, no newline: podman's */
		const char *hex =
		    cove_str_has_prefix(id, "sha256:") ? id + 7 : id;
		r = cove_write_file_replace_at(AT_FDCWD, iidfile, hex,
					       strlen(hex), 0644);
		if (r < 0)
			return cove_cli_failf("commit: cannot write %s: %s",
					      iidfile, strerror(-r));
	}
	if (!quiet)
		printf("%s\n",
		       cove_str_has_prefix(id, "sha256:") ? id + 7 : id);
	return 0;
}
