/*
 * cove's volume commands (podman's): volume create, ls, inspect, rm, prune
 * and exists.  Each parses its flags, calls engine/volumes.h on the engine
 * database (<root>/engine.db) and the volumes directory (<root>/volumes),
 * and prints.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "cli/cove/cli.h"
#include "cli/cove/remote.h"
#include "engine/db.h"
#include "engine/engine.h"
#include "engine/volumes.h"
#include "util/cleanup.h"
#include "util/strutil.h"

/* podman volume rm's exit codes */
#define EXIT_NO_SUCH_VOLUME 1
#define EXIT_VOLUME_IN_USE 2

enum {
	OPT_FORMAT = 256,
	OPT_IGNORE,
};

/* The engine database and the volumes directory of --root. */
struct venv {
	sqlite3 *db;
	char *dir;
};

static void venv_release(struct venv *e)
{
	sqlite3_close_v2(e->db);
	free(e->dir);
	*e = (struct venv){0};
}

static int venv_open(struct cove_ctx *ctx, struct venv *e)
{
	struct cove_error err = {0};

	e->dir = cove_strdup_printf("%s/volumes", ctx->root);
	if (!e->dir)
		return cove_cli_failf("out of memory");
	if (cove_engine_db_open(ctx->root, &e->db, &err) < 0)
		return cove_cli_fail(&err);
	return 0;
}

/* podman's inspect object (also `volume ls --format json`). */
static json_t *volume_json(const struct cove_volume *v)
{
	char created[64];

	cove_cli_rfc3339(v->created, created, sizeof(created));
	return json_pack("{s:s, s:s, s:s, s:s, s:O, s:s, s:O}", "Name", v->name,
			 "Driver", v->driver, "Mountpoint", v->mountpoint,
			 "CreatedAt", created, "Labels", v->labels, "Scope",
			 "local", "Options", v->options);
}

static int print_json(json_t *j)
{
	_cleanup_free_ char *s = NULL;

	if (!j)
		return cove_cli_failf("out of memory");
	s = json_dumps(j, JSON_INDENT(4));
	if (!s)
		return cove_cli_failf("out of memory");
	printf("%s\n", s);
	return 0;
}

/* --filter label=KEY[=VALUE] onto @filters; an exit status on error. */
static int add_filter(const char *cmd, const char *arg, char ***filters)
{
	if (!cove_str_has_prefix(arg, "label="))
		return cove_cli_failf("%s: unsupported filter '%s' (supported: "
				      "label=KEY or label=KEY=VALUE)",
				      cmd, arg);
	if (!arg[6] || arg[6] == '=')
		return cove_cli_failf("%s: invalid filter '%s': the label key "
				      "is missing",
				      cmd, arg);
	if (cove_strv_push(filters, arg + 6) < 0)
		return cove_cli_failf("out of memory");
	return 0;
}

/* ---- create ---------------------------------------------------------------
 */

static const char create_help[] =
    "NAME:\n"
    "   cove volume create - create a named volume\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove volume create [options] [NAME]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Creates the volume NAME ([a-zA-Z0-9][a-zA-Z0-9_.-]*), or one with\n"
    "   a random 64-hex-digit name, and prints its name.  Its data lives\n"
    "   in ROOT/volumes/NAME/_data; containers that mount it share it, and\n"
    "   it outlives them.  The first container that mounts an empty volume\n"
    "   over a directory of its image gets that directory's content\n"
    "   copied into it.  An existing NAME is an error unless --ignore.\n"
    "\n"
    "OPTIONS:\n"
    "   -d, --driver NAME     the volume driver: local (the only one)\n"
    "   --ignore              an existing volume NAME is not an error:\n"
    "                         print its name and leave it as it is\n"
    "   -l, --label KEY=VALUE set a label (repeatable)\n"
    "   -h, --help            show this help\n"
    "\n"
    "EXAMPLES:\n"
    "   cove volume create data\n"
    "   cove volume create --label app=web --ignore webdata\n";

static int cmd_volume_create(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"driver", required_argument, NULL, 'd'},
	    {"ignore", no_argument, NULL, OPT_IGNORE},
	    {"label", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_json_ json_t *labels = json_object();
	struct cove_volume_create_opts o = {0};
	struct cove_error err = {0};
	struct cove_volume v = {0};
	struct venv e = {0};
	int c, r;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(create_help);
	if (!labels)
		return cove_cli_failf("out of memory");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "d:l:h", opts, NULL)) != -1) {
		if (c == 'd') {
			o.driver = optarg;
		} else if (c == OPT_IGNORE) {
			o.ignore = true;
		} else if (c == 'l') {
			const char *eq = strchr(optarg, '=');
			_cleanup_free_ char *key =
			    strndup(optarg, eq ? (size_t)(eq - optarg)
					       : strlen(optarg));

			if (!key)
				return cove_cli_failf("out of memory");
			if (!*key)
				return cove_cli_failf("volume create: invalid "
						      "--label '%s': expected "
						      "KEY=VALUE",
						      optarg);
			json_object_set_new(labels, key,
					    json_string(eq ? eq + 1 : ""));
		} else {
			return cove_cli_unknown_option("volume create", argv);
		}
	}
	if (argc - optind > 1)
		return cove_cli_failf("volume create: at most one name is "
				      "allowed (see 'cove volume create "
				      "--help')");
	o.name = optind < argc ? argv[optind] : NULL;
	o.labels = labels;
	r = venv_open(ctx, &e);
	if (r)
		goto out;
	if (cove_volume_create(e.db, e.dir, &o, &v, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	printf("%s\n", v.name);
	cove_volume_release(&v);
out:
	venv_release(&e);
	return r;
}

/* ---- ls -------------------------------------------------------------------
 */

static const char ls_help[] =
    "NAME:\n"
    "   cove volume ls - list volumes\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove volume ls [options]\n"
    "\n"
    "DESCRIPTION:\n"
    "   One line per volume (DRIVER, VOLUME NAME), sorted by name.\n"
    "\n"
    "OPTIONS:\n"
    "   -f, --filter label=KEY[=VALUE]\n"
    "                         only volumes with the label KEY (with that\n"
    "                         VALUE); repeated filters must all match\n"
    "   --format FORMAT       table (default) or json (what inspect "
    "prints)\n"
    "   -n, --noheading       no header line\n"
    "   -q, --quiet           volume names only\n"
    "   -h, --help            show this help\n"
    "\n"
    "EXAMPLES:\n"
    "   cove volume ls --filter label=app=web -q\n";

static int cmd_volume_ls(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"filter", required_argument, NULL, 'f'},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"noheading", no_argument, NULL, 'n'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_strv_ char **filters = NULL;
	struct cove_error err = {0};
	struct cove_volume *vs = NULL;
	const char *format = "table";
	bool quiet = false, noheading = false;
	struct venv e = {0};
	size_t n = 0;
	int c, r;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(ls_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "f:nqh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			r = add_filter("volume ls", optarg, &filters);
			if (r)
				return r;
			break;
		case OPT_FORMAT:
			format = optarg;
			break;
		case 'n':
			noheading = true;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return cove_cli_unknown_option("volume ls", argv);
		}
	}
	if (optind < argc)
		return cove_cli_failf("volume ls: unexpected argument '%s'",
				      argv[optind]);
	if (strcmp(format, "table") && strcmp(format, "json"))
		return cove_cli_failf("volume ls: invalid --format '%s': must "
				      "be table or json",
				      format);
	r = venv_open(ctx, &e);
	if (r)
		goto out;
	if (cove_volume_list(e.db, filters, &vs, &n, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	if (!strcmp(format, "json")) {
		_cleanup_json_ json_t *arr = json_array();

		for (size_t i = 0; arr && i < n; i++)
			json_array_append_new(arr, volume_json(&vs[i]));
		r = print_json(arr);
		goto out;
	}
	if (!quiet && !noheading)
		printf("%-11s %s\n", "DRIVER", "VOLUME NAME");
	for (size_t i = 0; i < n; i++) {
		if (quiet)
			printf("%s\n", vs[i].name);
		else
			printf("%-11s %s\n", vs[i].driver, vs[i].name);
	}
out:
	cove_volumes_free(vs, n);
	venv_release(&e);
	return r;
}

/* ---- inspect ----------------------------------------------------------------
 */

static const char inspect_help[] =
    "NAME:\n"
    "   cove volume inspect - show the details of volumes\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove volume inspect [options] NAME [NAME...]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Prints a JSON array with one object per volume, with podman's\n"
    "   members: Name, Driver, Mountpoint, CreatedAt, Labels, Scope,\n"
    "   Options.  A NAME may be a prefix that only one volume name starts\n"
    "   with.  Volumes that do not exist are reported on stderr (exit\n"
    "   status 125); the others are still printed.\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --all             every volume\n"
    "   -f, --format json     the output format (json, the only one)\n"
    "   -h, --help            show this help\n";

static int cmd_volume_inspect(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_json_ json_t *arr = json_array();
	struct cove_error err = {0};
	struct venv e = {0};
	bool all = false;
	int c, r, failed = 0;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(inspect_help);
	if (!arr)
		return cove_cli_failf("out of memory");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "af:h", opts, NULL)) != -1) {
		if (c == 'a')
			all = true;
		else if (c == 'f' && !strcmp(optarg, "json"))
			continue;
		else if (c == 'f')
			return cove_cli_failf("volume inspect: invalid "
					      "--format '%s': must be json",
					      optarg);
		else
			return cove_cli_unknown_option("volume inspect", argv);
	}
	if (all == (optind < argc))
		return cove_cli_failf("volume inspect: give volume names or "
				      "--all (see 'cove volume inspect "
				      "--help')");
	r = venv_open(ctx, &e);
	if (r)
		goto out;
	if (all) {
		struct cove_volume *vs = NULL;
		size_t n = 0;

		if (cove_volume_list(e.db, NULL, &vs, &n, &err) < 0) {
			r = cove_cli_fail(&err);
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, volume_json(&vs[i]));
		cove_volumes_free(vs, n);
	}
	for (int i = optind; i < argc; i++) {
		struct cove_volume v = {0};

		cove_error_clear(&err);
		if (cove_volume_lookup(e.db, argv[i], &v, &err) < 0) {
			failed = cove_cli_fail(&err);
			continue;
		}
		json_array_append_new(arr, volume_json(&v));
		cove_volume_release(&v);
	}
	r = print_json(arr);
	if (!r)
		r = failed;
out:
	venv_release(&e);
	return r;
}

/* ---- rm -------------------------------------------------------------------
 */

static const char rm_help[] =
    "NAME:\n"
    "   cove volume rm - remove volumes\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove volume rm [options] NAME [NAME...]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Removes each volume and its data, and prints its name.  A volume\n"
    "   that a container uses is refused.  A NAME may be a prefix that\n"
    "   only one volume name starts with.\n"
    "\n"
    "   Exit status: 0 when all were removed, 1 when a volume did not\n"
    "   exist, 2 when one was in use, 125 on other errors.\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --all             remove every volume that is not in use\n"
    "   -f, --force           a volume that does not exist is not an\n"
    "                         error\n"
    "   -h, --help            show this help\n";

static int rm_exit(int r, const struct cove_error *err)
{
	cove_cli_fail(err);
	if (r == -ENOENT)
		return EXIT_NO_SUCH_VOLUME;
	if (r == -EBUSY && err->msg[0] && strstr(err->msg, "in use"))
		return EXIT_VOLUME_IN_USE;
	return 125;
}

/* The worse of two exit statuses: 125 over 2 over 1 over 0. */
static int worse(int a, int b)
{
	return a > b ? a : b;
}

static int cmd_volume_rm(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_strv_ char **names = NULL;
	struct cove_error err = {0};
	struct venv e = {0};
	bool all = false;
	unsigned flags = 0;
	int c, r, status = 0;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(rm_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "afh", opts, NULL)) != -1) {
		if (c == 'a')
			all = true;
		else if (c == 'f')
			flags |= COVE_VOLUME_REMOVE_FORCE;
		else
			return cove_cli_unknown_option("volume rm", argv);
	}
	if (all == (optind < argc))
		return cove_cli_failf("volume rm: give volume names or --all "
				      "(see 'cove volume rm --help')");
	r = venv_open(ctx, &e);
	if (r)
		goto out;
	if (all) {
		struct cove_volume *vs = NULL;
		size_t n = 0;

		if (cove_volume_list(e.db, NULL, &vs, &n, &err) < 0) {
			r = cove_cli_fail(&err);
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			if (cove_strv_push(&names, vs[i].name) < 0) {
				cove_volumes_free(vs, n);
				r = cove_cli_failf("out of memory");
				goto out;
			}
		cove_volumes_free(vs, n);
	}
	for (int i = optind; i < argc; i++)
		if (cove_strv_push(&names, argv[i]) < 0) {
			r = cove_cli_failf("out of memory");
			goto out;
		}
	/*
	 * The in-use check (NULL: none yet) comes with the containers: the
	 * engine passes one that looks in its containers table.
	 */
	for (char **n = names; n && *n; n++) {
		_cleanup_free_ char *removed = NULL;

		cove_error_clear(&err);
		r = cove_volume_remove(e.db, e.dir, *n, flags,
				       cove_engine_volume_in_use, NULL,
				       &removed, &err);
		if (r < 0)
			status = worse(status, rm_exit(r, &err));
		else if (r > 0)
			printf("%s\n", removed);
	}
	r = status;
out:
	venv_release(&e);
	return r;
}

/* ---- prune ------------------------------------------------------------------
 */

static const char prune_help[] =
    "NAME:\n"
    "   cove volume prune - remove the volumes no container uses\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove volume prune [options]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Removes every volume that no container uses, with its data, and\n"
    "   prints the names removed.  Without a filter it also removes the\n"
    "   directories that an interrupted create or remove left in\n"
    "   ROOT/volumes.\n"
    "\n"
    "OPTIONS:\n"
    "   --filter label=KEY[=VALUE]\n"
    "                         only volumes with the label KEY (with that\n"
    "                         VALUE); repeated filters must all match\n"
    "   -f, --force           do not ask (cove never asks; accepted for\n"
    "                         podman compatibility)\n"
    "   -h, --help            show this help\n";

static int cmd_volume_prune(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"filter", required_argument, NULL, OPT_FORMAT},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_strv_ char **filters = NULL, **removed = NULL;
	struct cove_error err = {0};
	struct venv e = {0};
	int c, r;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(prune_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		if (c == OPT_FORMAT) {
			r = add_filter("volume prune", optarg, &filters);
			if (r)
				return r;
		} else if (c != 'f') {
			return cove_cli_unknown_option("volume prune", argv);
		}
	}
	if (optind < argc)
		return cove_cli_failf("volume prune: unexpected argument '%s'",
				      argv[optind]);
	r = venv_open(ctx, &e);
	if (r)
		goto out;
	if (cove_volume_prune(e.db, e.dir, filters, cove_engine_volume_in_use,
			      NULL, &removed, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	for (char **n = removed; n && *n; n++)
		printf("%s\n", *n);
out:
	venv_release(&e);
	return r;
}

/* ---- exists -----------------------------------------------------------------
 */

static const char exists_help[] =
    "NAME:\n"
    "   cove volume exists - tell whether a volume exists\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove volume exists NAME\n"
    "\n"
    "DESCRIPTION:\n"
    "   Exits 0 when the volume NAME exists (by its full name), 1 when\n"
    "   it does not, 125 on errors.  Prints nothing.\n"
    "\n"
    "OPTIONS:\n"
    "   -h, --help            show this help\n";

static int cmd_volume_exists(struct cove_ctx *ctx, int argc, char **argv)
{
	struct cove_error err = {0};
	struct cove_volume v = {0};
	struct venv e = {0};
	int r;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(exists_help);
	if (argc != 2)
		return cove_cli_failf("volume exists: exactly one volume name "
				      "is required");
	r = venv_open(ctx, &e);
	if (r)
		goto out;
	r = cove_volume_lookup(e.db, argv[1], &v, &err);
	if (r == 0)
		r = strcmp(v.name, argv[1]) ? 1 : 0;
	else if (r == -ENOENT || r == -EINVAL)
		r = 1;
	else
		r = cove_cli_fail(&err);
	cove_volume_release(&v);
out:
	venv_release(&e);
	return r;
}

/* ---- the command table
 * ------------------------------------------------------- */

static const struct cove_command volume_commands[] = {
    {"create", cmd_volume_create, "create a named volume"},
    {"exists", cmd_volume_exists, "tell whether a volume exists"},
    {"inspect", cmd_volume_inspect, "show the details of volumes"},
    {"list", cmd_volume_ls, "list volumes"},
    {"ls", cmd_volume_ls, "list volumes"},
    {"prune", cmd_volume_prune, "remove the volumes no container uses"},
    {"remove", cmd_volume_rm, "remove volumes"},
    {"rm", cmd_volume_rm, "remove volumes"},
};

int cmd_volume(struct cove_ctx *ctx, int argc, char **argv)
{
	return cove_cli_dispatch(ctx, volume_commands,
				 ARRAY_SIZE(volume_commands), "volume",
				 argc - 1, argv + 1);
}
