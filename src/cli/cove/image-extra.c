/*
 * `cove image history`, `cove image exists` and `cove untag` (also
 * `cove image untag`): image queries and name removal, podman-style.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cove/cli.h"
#include "cli/cove/remote.h"
#include "engine/events.h"
#include "image/images.h"
#include "image/manifest.h"
#include "image/pull.h"
#include "image/reference.h"
#include "image/store.h"
#include "util/cleanup.h"
#include "util/strutil.h"

/* The bare hex of "sha256:<hex>". */
static const char *bare_hex(const char *id)
{
	const char *colon = strchr(id, ':');

	return colon ? colon + 1 : id;
}

/* Open the store and the image database of ctx's root. */
static int open_db(struct cove_ctx *ctx, struct cove_store **ret_store,
		   struct cove_images **ret_db, struct cove_error *err)
{
	int r;

	if (ret_store) {
		r = cove_store_open(ctx->root, ret_store, err);
		if (r < 0)
			return r;
	}
	return cove_images_open(ctx->root, ret_db, err);
}

/* ---- history ------------------------------------------------------------ */

static const char history_help[] =
    "NAME:\n"
    "   cove image history - show how an image's layers were made\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove image history [options] IMAGE\n"
    "\n"
    "DESCRIPTION:\n"
    "   One line per entry of the image config's history, newest first:\n"
    "   ID (the image id on the newest entry, <missing> below), CREATED,\n"
    "   CREATED BY (the command, cut to 45 characters), SIZE (the size of\n"
    "   the layer the entry made, as the manifest records it; 0 B for\n"
    "   entries that made no layer) and COMMENT.  Entries beyond the\n"
    "   image's layers count as making none.\n"
    "\n"
    "OPTIONS:\n"
    "   --format FORMAT       table (default), json, or a Go template "
    "such as\n"
    "                         '{{.ID}} {{.Created}} {{.CreatedBy}} "
    "{{.Size}}\n"
    "                         {{.Comment}}'\n"
    "   -H, --human=BOOL      human sizes and times (default true); false:\n"
    "                         RFC 3339 times and sizes in bytes\n"
    "   --no-trunc            full ids and commands\n"
    "   -q, --quiet           ids only\n"
    "   -h, --help            show this help\n";

enum {
	OPT_NO_TRUNC = 0x100,
	OPT_FORMAT,
};

struct history_opts {
	bool no_trunc, quiet, human;
	const char *format;
};

struct history_row {
	char id[80];
	int64_t created;
	const char *created_rfc; /* NULL when absent */
	const char *created_by;
	const char *comment;
	int64_t size;
};

/* The command, on one line, cut to 45 characters with "..." */
static char *created_by_text(const char *s, bool no_trunc)
{
	size_t len = strlen(s), max = no_trunc ? len : 45;
	char *out;

	if (len > max)
		len = max - 3;
	out = malloc(len + 4);
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++)
		out[i] =
		    (s[i] == '\n' || s[i] == '\t' || s[i] == '\r') ? ' ' : s[i];
	memcpy(out + len, strlen(s) > max ? "..." : "",
	       strlen(s) > max ? 4 : 1);
	return out;
}

static json_t *row_json(const struct history_row *w,
			const struct history_opts *o, const char *by)
{
	char created[64], size[32];

	if (o->human) {
		if (w->created_rfc)
			cove_cli_age(w->created, created, sizeof(created));
		else
			snprintf(created, sizeof(created), "<unknown>");
		cove_cli_bytes(w->size, size, sizeof(size));
	} else {
		snprintf(created, sizeof(created), "%s",
			 w->created_rfc ? w->created_rfc : "");
		snprintf(size, sizeof(size), "%lld", (long long)w->size);
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "ID", w->id, "Created",
			 created, "CreatedBy", by, "Size", size, "Comment",
			 w->comment ? w->comment : "");
}

static json_t *row_json_podman(const struct history_row *w)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:s}", "id", w->id, "created",
			 w->created_rfc ? w->created_rfc : "", "createdBy",
			 w->created_by ? w->created_by : "", "size",
			 (json_int_t)w->size, "comment",
			 w->comment ? w->comment : "");
}

/*
 * The rows, newest first.  The config was type-checked when the image
 * was opened; its history may still be longer or shorter than the layers
 * and miss any member, so every lookup is bounded and NULL-safe.
 */
static int history_rows(const struct cove_image *img, bool no_trunc,
			struct history_row **ret, size_t *ret_n)
{
	const struct cove_image_config *c = img->config;
	const struct cove_manifest *m = img->manifest;
	size_t n = c->n_history, layer = 0;
	struct history_row *rows;

	rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct cove_history *h = &c->history[i];
		struct history_row *w = &rows[n - 1 - i];

		w->created = h->created ? h->created_unix : 0;
		w->created_rfc = h->created;
		w->created_by = h->created_by;
		w->comment = h->comment;
		if (!h->empty_layer) {
			if (layer < c->n_diff_ids && m && layer < m->n_layers)
				w->size = m->layers[layer].size;
			layer++;
		}
		snprintf(w->id, sizeof(w->id), "<missing>");
	}
	if (n)
		snprintf(rows[0].id, sizeof(rows[0].id), "%.*s",
			 no_trunc ? 64 : 12, bare_hex(img->rec.id));
	*ret = rows;
	*ret_n = n;
	return 0;
}

static int history_print(const struct cove_image *img,
			 const struct history_opts *o)
{
	_cleanup_json_ json_t *arr = json_array();
	_cleanup_free_ struct history_row *rows = NULL;
	bool json = o->format && !strcmp(o->format, "json");
	bool tmpl = cove_cli_is_template(o->format);
	size_t n;

	if (!arr || history_rows(img, o->no_trunc, &rows, &n) < 0)
		return cove_cli_failf("out of memory");
	if (!tmpl && !json && !o->quiet)
		printf("%-12s  %-20s  %-45s  %-10s  %s\n", "ID", "CREATED",
		       "CREATED BY", "SIZE", "COMMENT");
	for (size_t i = 0; i < n; i++) {
		const struct history_row *w = &rows[i];
		_cleanup_free_ char *by = created_by_text(
		    w->created_by ? w->created_by : "", o->no_trunc);
		_cleanup_json_ json_t *j = NULL;
		int r;

		if (!by)
			return cove_cli_failf("out of memory");
		if (o->quiet) {
			printf("%s\n", w->id);
			continue;
		}
		if (json) {
			json_array_append_new(arr, row_json_podman(w));
			continue;
		}
		j = row_json(w, o, by);
		if (!j)
			return cove_cli_failf("out of memory");
		if (tmpl) {
			r = cove_cli_render_template(o->format, j);
			if (r)
				return r;
			continue;
		}
		printf("%-12s  %-20s  %-45s  %-10s  %s\n",
		       json_string_value(json_object_get(j, "ID")),
		       json_string_value(json_object_get(j, "Created")), by,
		       json_string_value(json_object_get(j, "Size")),
		       json_string_value(json_object_get(j, "Comment")));
	}
	if (json && !o->quiet) {
		_cleanup_free_ char *s = json_dumps(arr, JSON_INDENT(4));

		if (s)
			printf("%s\n", s);
	}
	return 0;
}

static int parse_bool(const char *s, bool *ret)
{
	if (!strcmp(s, "true") || !strcmp(s, "1"))
		*ret = true;
	else if (!strcmp(s, "false") || !strcmp(s, "0"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

int cmd_image_history(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"human", optional_argument, NULL, 'H'},
	    {"no-trunc", no_argument, NULL, OPT_NO_TRUNC},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct history_opts o = {.human = true};
	struct cove_store *store = NULL;
	struct cove_images *db = NULL;
	struct cove_image img = {0};
	struct cove_error err = {0};
	int c, r;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(history_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "H::qh", opts, NULL)) != -1) {
		if (c == OPT_FORMAT)
			o.format = optarg;
		else if (c == OPT_NO_TRUNC)
			o.no_trunc = true;
		else if (c == 'q')
			o.quiet = true;
		else if (c == 'H') {
			/* -H=false: getopt leaves the '=' on */
			if (optarg && *optarg == '=')
				optarg++;
			if (optarg && parse_bool(optarg, &o.human) < 0)
				return cove_cli_failf(
				    "image history: invalid --human '%s': "
				    "must be true or false",
				    optarg);
			if (!optarg)
				o.human = true;
		} else
			return cove_cli_unknown_option("image history", argv);
	}
	if (argc - optind != 1)
		return cove_cli_failf("image history: one image is required "
				      "(see 'cove image history --help')");
	if (o.format && strcmp(o.format, "json") && strcmp(o.format, "table") &&
	    !cove_cli_is_template(o.format))
		return cove_cli_failf("image history: invalid --format '%s': "
				      "must be table, json or a Go template",
				      o.format);
	if (o.format && !strcmp(o.format, "table"))
		o.format = NULL;
	if (open_db(ctx, &store, &db, &err) < 0 ||
	    cove_image_open(store, db, argv[optind], &img, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	r = history_print(&img, &o);
out:
	cove_image_release(&img);
	cove_images_free(db);
	cove_store_free(store);
	return r;
}

/* ---- exists ------------------------------------------------------------- */

static const char exists_help[] =
    "NAME:\n"
    "   cove image exists - tell whether an image exists\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove image exists IMAGE\n"
    "\n"
    "DESCRIPTION:\n"
    "   Prints nothing.  Exits 0 when IMAGE (a name, id or id prefix) is\n"
    "   in local storage, 1 when it is not, 125 on any other error.\n"
    "\n"
    "OPTIONS:\n"
    "   -h, --help            show this help\n";

int cmd_image_exists(struct cove_ctx *ctx, int argc, char **argv)
{
	struct cove_image_record rec = {0};
	struct cove_images *db = NULL;
	struct cove_error err = {0};
	int r;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(exists_help);
	if (argc >= 2 && argv[1][0] == '-' && argv[1][1])
		return cove_cli_unknown_option("image exists", argv);
	if (argc != 2)
		return cove_cli_failf("image exists: one image is required");
	r = open_db(ctx, NULL, &db, &err);
	if (r >= 0)
		r = cove_images_lookup(db, argv[1], &rec, &err);
	cove_images_free(db);
	cove_image_record_release(&rec);
	if (r == -ENOENT)
		return 1;
	if (r < 0)
		return cove_cli_fail(&err);
	return 0;
}

/* ---- untag -------------------------------------------------------------- */

static const char untag_help[] =
    "NAME:\n"
    "   cove untag - remove names from a local image\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove untag IMAGE [NAME...]\n"
    "   cove image untag IMAGE [NAME...]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Removes each NAME (normalised as `cove tag` does) from IMAGE (a\n"
    "   name or id); every NAME must name that image.  Without a NAME,\n"
    "   removes all of IMAGE's names.  The image stays in the store,\n"
    "   listed as <none> and found by its id.\n"
    "\n"
    "OPTIONS:\n"
    "   -h, --help            show this help\n";

/* @name normalised ("busybox" -> docker.io/library/busybox:latest). */
static char *normalise(const char *name)
{
	struct cove_image_ref ref;
	char *s;

	if (cove_image_ref_parse(name, &ref, NULL) < 0)
		return NULL;
	s = cove_image_ref_format(&ref);
	cove_image_ref_release(&ref);
	return s;
}

static int untag_name(struct cove_images *db, const char *id, const char *name,
		      struct cove_error *err)
{
	int r = cove_images_untag(db, name, err);

	if (r >= 0)
		cove_events_object("image", "untag", id, name);
	return r;
}

int cmd_untag(struct cove_ctx *ctx, int argc, char **argv)
{
	struct cove_image_record rec = {0};
	struct cove_images *db = NULL;
	struct cove_error err = {0};
	int r = 0;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(untag_help);
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1])
			return cove_cli_unknown_option("untag", argv);
	if (argc < 2)
		return cove_cli_failf("untag: an image is required (see "
				      "'cove untag --help')");
	if (open_db(ctx, NULL, &db, &err) < 0 ||
	    cove_images_lookup(db, argv[1], &rec, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	/* every name is checked before any is removed */
	for (int i = 2; i < argc; i++) {
		_cleanup_free_ char *norm = normalise(argv[i]);

		if (!norm || !cove_strv_contains(rec.names, norm)) {
			r = cove_cli_failf("%s: tag not known", argv[i]);
			goto out;
		}
	}
	for (int i = 2; i < argc; i++) {
		_cleanup_free_ char *norm = normalise(argv[i]);

		if (norm && untag_name(db, rec.id, norm, &err) < 0) {
			r = cove_cli_fail(&err);
			goto out;
		}
	}
	for (char **n = rec.names; argc == 2 && n && *n; n++)
		if (untag_name(db, rec.id, *n, &err) < 0) {
			r = cove_cli_fail(&err);
			goto out;
		}
out:
	cove_image_record_release(&rec);
	cove_images_free(db);
	return r;
}
