/*
 * cove's image commands: pull, push, images, tag, rmi, image inspect,
 * image prune, image fsck, save, load, login, logout, image mount,
 * image unmount and bundle.  Each parses its flags, makes the library
 * calls of image/ and prints; `cove image SUBCOMMAND` groups them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cove/cli.h"
#include "cli/cove/remote.h"
#include "engine/rootless.h"
#include "image/archive.h"
#include "image/bundle.h"
#include "image/gc.h"
#include "image/images.h"
#include "engine/containers.h"
#include "engine/db.h"
#include "engine/events.h"
#include "image/pull.h"
#include "image/reference.h"
#include "image/snapshot.h"
#include "image/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strutil.h"

/* ---- the storage a command works on ------------------------------------- */

struct env {
	struct cove_store *store;
	struct cove_images *db;
	struct cove_snapshotter *snap; /* NULL unless asked for */
	const char *root;
};

static void env_release(struct env *e)
{
	cove_snapshotter_free(e->snap);
	cove_images_free(e->db);
	cove_store_free(e->store);
	*e = (struct env){0};
}

enum env_flags {
	ENV_SNAPSHOTS = 1 << 0, /* needed: fail when it cannot be had */
	ENV_UNPACK = 1 << 1,	/* wanted when possible (root, rootless) */
	ENV_LAYERS = 1 << 2,	/* unpacks layers: warn of squashed owners */
};

/*
 * Rootless (main.c entered the user namespace): layers are unpacked with
 * the namespace's own ids, which are container ids as they are, so the
 * maps only bound them to the ids that exist; with a single id, owners
 * are squashed to it, which the user hears about once.
 */
static void rootless_snapshot_opts(unsigned flags,
				   struct cove_snapshot_opts *so,
				   struct cove_idmap_range *uids,
				   struct cove_idmap_range *gids)
{
	static bool warned;
	const struct cove_rootless_maps *m = cove_rootless_maps();

	if (!m)
		return;
	so->rootless = true;
	*uids = (struct cove_idmap_range){0, 0, m->n_uids};
	*gids = (struct cove_idmap_range){0, 0, m->n_gids};
	so->uid_map = uids;
	so->uid_map_len = 1;
	so->gid_map = gids;
	so->gid_map_len = 1;
	so->squash_ids = m->single_id;
	if (m->single_id && (flags & ENV_LAYERS) && !warned) {
		warned = true;
		cove_cli_warn("rootless with a single id (%s): files of other "
			      "owners in image layers are owned by root in "
			      "the container",
			      m->single_reason);
	}
}

static int env_open(struct cove_ctx *ctx, unsigned flags, struct env *e,
		    struct cove_error *err)
{
	struct cove_snapshot_opts so = {.driver = ctx->storage_driver};
	struct cove_idmap_range uids, gids;
	int r;

	e->root = ctx->root;

	r = cove_store_open(ctx->root, &e->store, err);
	if (r < 0)
		return r;
	r = cove_images_open(ctx->root, &e->db, err);
	if (r < 0)
		return r;
	/*
	 * Unpacking writes files owned by the image's users: root, or an
	 * unprivileged user inside the user namespace that main.c entered
	 * (where it is root too).
	 */
	rootless_snapshot_opts(flags, &so, &uids, &gids);
	if ((flags & ENV_SNAPSHOTS) || ((flags & ENV_UNPACK) && geteuid() == 0))
		return cove_snapshotter_open(ctx->root, &so, &e->snap, err);
	return 0;
}

enum {
	OPT_PLATFORM = COVE_CLI_OPT_REMOTE_END,
	OPT_DIGESTFILE,
	OPT_FORMAT,
	OPT_NO_TRUNC,
	OPT_CGROUPS_PATH,
	OPT_REPAIR,
	OPT_HOSTNAME,
	OPT_ENV,
	OPT_READ_ONLY,
};

/* ---- progress ----------------------------------------------------------- */

struct progress {
	char digest[COVE_DIGEST_MAX];
	bool open; /* a line without its newline yet */
};

static void progress_cb(void *ud, const char *digest, int64_t done,
			int64_t total)
{
	struct progress *p = ud;
	char d[32], t[32];
	const char *hex = strchr(digest, ':');

	hex = hex ? hex + 1 : digest;
	/* the end of a blob may be reported twice */
	if (!p->open && !strcmp(p->digest, digest) && total >= 0 &&
	    done >= total)
		return;
	if (p->open && strcmp(p->digest, digest))
		fputc('\n', stderr);
	snprintf(p->digest, sizeof(p->digest), "%s", digest);
	cove_cli_bytes(done, d, sizeof(d));
	if (total >= 0) {
		cove_cli_bytes(total, t, sizeof(t));
		fprintf(stderr, "\rCopying blob %.12s %s / %s", hex, d, t);
	} else {
		fprintf(stderr, "\rCopying blob %.12s %s", hex, d);
	}
	fputs("\033[K", stderr);
	p->open = !(total >= 0 && done >= total);
	if (!p->open)
		fputs(" done\n", stderr);
	fflush(stderr);
}

static void progress_end(struct progress *p)
{
	if (p->open)
		fputc('\n', stderr);
	p->open = false;
}

static const char *short_hex(const char *id)
{
	const char *colon = strchr(id, ':');

	return colon ? colon + 1 : id;
}

/* ---- pull ---------------------------------------------------------------- */

static const char pull_help[] =
    "NAME:\n"
    "   cove pull - pull an image from a registry\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove pull [options] IMAGE\n"
    "\n"
    "DESCRIPTION:\n"
    "   Fetches IMAGE ([REGISTRY/]REPOSITORY[:TAG][@DIGEST]; no registry\n"
    "   means docker.io, no tag means latest) into the local store.  A\n"
    "   multi-platform image resolves to the entry for --platform, by\n"
    "   default this machine's.  Every blob is verified against its "
    "digest\n"
    "   while it streams in, blobs already stored are not fetched again,\n"
    "   and the layers are unpacked (rootless: owned by the user's\n"
    "   subordinate ids) and checked against the config's diff_ids\n"
    "   before the image is recorded.  A pull by digest\n"
    "   fails unless the registry serves exactly that manifest.\n"
    "\n"
    "   Progress goes to stderr when it is a terminal; the image id is\n"
    "   printed on stdout.\n"
    "\n"
    "OPTIONS:\n"
    "   --platform OS/ARCH[/VARIANT]  the platform to pull (default: the\n"
    "                         host's)\n" COVE_CLI_REMOTE_HELP
    "   -q, --quiet           print only the image id\n"
    "   -h, --help            show this help\n"
    "\n"
    "EXAMPLES:\n"
    "   cove pull busybox\n"
    "   cove pull --platform linux/arm64 quay.io/org/app:1.2\n"
    "   cove pull --tls-verify=false 127.0.0.1:5000/test@sha256:...\n";

int cmd_pull(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    COVE_CLI_REMOTE_OPTIONS,
	    {"platform", required_argument, NULL, OPT_PLATFORM},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct cove_cli_remote ra = COVE_CLI_REMOTE_INIT;
	struct cove_pull_opts po = {0};
	struct cove_image_record rec = {0};
	struct cove_error err = {0};
	struct progress prog = {0};
	struct env e = {0};
	bool quiet = false;
	int c, r = 0;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(pull_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		if (c == 'q')
			quiet = true;
		else if (c == OPT_PLATFORM)
			po.platform = optarg;
		else if ((r = cove_cli_remote_option("pull", c, &ra)) != 0) {
			if (r < 0)
				r = cove_cli_unknown_option("pull", argv);
			goto out;
		}
	}
	if (argc - optind != 1) {
		r = cove_cli_failf("pull: exactly one image is required (see "
				   "'cove pull --help')");
		goto out;
	}
	if (!quiet && isatty(STDERR_FILENO)) {
		ra.o.progress = progress_cb;
		ra.o.progress_data = &prog;
	}
	po.remote = ra.o;
	if (env_open(ctx, ENV_UNPACK | ENV_LAYERS, &e, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	po.unpack = e.snap;
	if (cove_image_pull(e.store, e.db, argv[optind], &po, &rec, &err) < 0) {
		progress_end(&prog);
		r = cove_cli_fail(&err);
		goto out;
	}
	progress_end(&prog);
	cove_events_object("image", "pull", rec.id, argv[optind]);
	printf("%s\n", short_hex(rec.id));
	cove_image_record_release(&rec);
out:
	env_release(&e);
	cove_cli_remote_release(&ra);
	return r;
}

/* ---- push ---------------------------------------------------------------- */

static const char push_help[] =
    "NAME:\n"
    "   cove push - push an image to a registry\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove push [options] IMAGE [DESTINATION]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Uploads the local IMAGE (name or id) to DESTINATION\n"
    "   ([docker://]REGISTRY/REPOSITORY[:TAG|@DIGEST]), by default to the\n"
    "   name IMAGE gives.  Blobs the registry already has are skipped;\n"
    "   the manifest is pushed byte for byte, so the image keeps its\n"
    "   digest.  A destination pinned by digest must name that digest.\n"
    "\n"
    "OPTIONS:\n" COVE_CLI_REMOTE_HELP
    "   --digestfile FILE     write the manifest digest to FILE\n"
    "   -q, --quiet           no progress output\n"
    "   -h, --help            show this help\n"
    "\n"
    "EXAMPLES:\n"
    "   cove push 127.0.0.1:5000/app:1.0\n"
    "   cove push --tls-verify=false busybox 127.0.0.1:5000/busybox:v1\n";

int cmd_push(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    COVE_CLI_REMOTE_OPTIONS,
	    {"digestfile", required_argument, NULL, OPT_DIGESTFILE},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct cove_cli_remote ra = COVE_CLI_REMOTE_INIT;
	struct cove_error err = {0};
	struct progress prog = {0};
	char digest[COVE_DIGEST_MAX];
	const char *digestfile = NULL;
	struct env e = {0};
	bool quiet = false;
	int c, r = 0;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(push_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		if (c == 'q')
			quiet = true;
		else if (c == OPT_DIGESTFILE)
			digestfile = optarg;
		else if ((r = cove_cli_remote_option("push", c, &ra)) != 0) {
			if (r < 0)
				r = cove_cli_unknown_option("push", argv);
			goto out;
		}
	}
	if (argc - optind < 1 || argc - optind > 2) {
		r = cove_cli_failf("push: an image and an optional destination "
				   "are required (see 'cove push --help')");
		goto out;
	}
	if (!quiet && isatty(STDERR_FILENO)) {
		ra.o.progress = progress_cb;
		ra.o.progress_data = &prog;
	}
	if (env_open(ctx, 0, &e, &err) < 0 ||
	    cove_image_push(e.store, e.db, argv[optind],
			    argc - optind > 1 ? argv[optind + 1] : NULL, &ra.o,
			    digest, &err) < 0) {
		progress_end(&prog);
		r = cove_cli_fail(&err);
		goto out;
	}
	progress_end(&prog);
	cove_events_object("image", "push", NULL, argv[argc - 1]);
	if (digestfile) {
		int w = cove_write_file_atomic_at(AT_FDCWD, digestfile, digest,
						  strlen(digest), 0644);
		if (w < 0)
			r = cove_cli_failf("cannot write '%s': %s", digestfile,
					   strerror(-w));
	}
out:
	env_release(&e);
	cove_cli_remote_release(&ra);
	return r;
}

/* ---- images ------------------------------------------------------------- */

static const char images_help[] =
    "NAME:\n"
    "   cove images - list the images in local storage\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove images [options]\n"
    "   cove image ls [options]\n"
    "\n"
    "DESCRIPTION:\n"
    "   One line per name (REPOSITORY, TAG), images without a name as\n"
    "   <none>, newest first.  SIZE is what the image takes in the store.\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --all             all images (cove keeps no intermediate "
    "images,\n"
    "                         so this is the default list)\n"
    "   --format FORMAT       table (default), json, or a Go template "
    "such as\n"
    "                         '{{.Repository}}:{{.Tag}} {{.ID}}'\n"
    "   --no-trunc            full image ids\n"
    "   -n, --noheading       no header line\n"
    "   -q, --quiet           image ids only\n"
    "   -h, --help            show this help\n";

/* "registry/repo:tag" -> repository and tag ("<none>" when pinned). */
static void split_name(const char *name, char *repo, size_t rsize, char *tag,
		       size_t tsize)
{
	const char *at = strchr(name, '@');
	size_t len = at ? (size_t)(at - name) : strlen(name);
	const char *slash = memrchr(name, '/', len);
	const char *colon =
	    memchr(slash ? slash : name, ':',
		   len - (size_t)((slash ? slash : name) - name));

	if (colon) {
		snprintf(repo, rsize, "%.*s", (int)(colon - name), name);
		snprintf(tag, tsize, "%.*s",
			 (int)(len - (size_t)(colon - name) - 1), colon + 1);
	} else {
		snprintf(repo, rsize, "%.*s", (int)len, name);
		snprintf(tag, tsize, "<none>");
	}
}

/* RepoTags and RepoDigests of a record, as podman reports them. */
static void repo_lists(const struct cove_image_record *rec, json_t *tags,
		       json_t *digests)
{
	for (char **n = rec->names; n && *n; n++) {
		char repo[512], tag[256];
		_cleanup_free_ char *d1 = NULL, *d2 = NULL;

		split_name(*n, repo, sizeof(repo), tag, sizeof(tag));
		if (strcmp(tag, "<none>") && !strchr(*n, '@'))
			json_array_append_new(tags, json_string(*n));
		d1 = cove_strdup_printf("%s@%s", repo, rec->manifest_digest);
		d2 = rec->index_digest[0]
			 ? cove_strdup_printf("%s@%s", repo, rec->index_digest)
			 : NULL;
		for (int k = 0; k < 2; k++) {
			const char *d = k ? d2 : d1;
			bool dup = false;
			size_t i;
			json_t *v;

			if (!d)
				continue;
			json_array_foreach(
			    digests, i, v) if (!strcmp(json_string_value(v), d))
			    dup = true;
			if (!dup)
				json_array_append_new(digests, json_string(d));
		}
	}
}

static json_t *image_list_json(const struct cove_image_record *rec)
{
	json_t *tags = json_array(), *digests = json_array(),
	       *names = json_array();
	char created[64];

	for (char **n = rec->names; n && *n; n++)
		json_array_append_new(names, json_string(*n));
	repo_lists(rec, tags, digests);
	cove_cli_rfc3339(rec->created, created, sizeof(created));
	return json_pack(
	    "{s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:i, s:o, s:s, "
	    "s:I, s:s}",
	    "Id", short_hex(rec->id), "ParentId", "", "RepoTags", tags,
	    "RepoDigests", digests, "Size", (json_int_t)rec->size, "SharedSize",
	    (json_int_t)0, "VirtualSize", (json_int_t)rec->size, "Containers",
	    0, "Names", names, "Digest", rec->manifest_digest, "Created",
	    (json_int_t)rec->created, "CreatedAt", created);
}

int cmd_images(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"no-trunc", no_argument, NULL, OPT_NO_TRUNC},
	    {"noheading", no_argument, NULL, 'n'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct cove_image_record *recs = NULL;
	struct cove_error err = {0};
	const char *format = "table";
	bool quiet = false, no_trunc = false, noheading = false;
	struct env e = {0};
	size_t n = 0;
	int c, r = 0;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(images_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "aqnh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			break;
		case 'q':
			quiet = true;
			break;
		case 'n':
			noheading = true;
			break;
		case OPT_NO_TRUNC:
			no_trunc = true;
			break;
		case OPT_FORMAT:
			format = optarg;
			break;
		default:
			return cove_cli_unknown_option("images", argv);
		}
	}
	if (optind < argc)
		return cove_cli_failf("images: unexpected argument '%s'",
				      argv[optind]);
	if (strcmp(format, "table") && strcmp(format, "json") &&
	    !cove_cli_is_template(format))
		return cove_cli_failf("images: invalid --format '%s': must be "
				      "table, json or a Go template",
				      format);
	if (env_open(ctx, 0, &e, &err) < 0 ||
	    cove_images_list(e.db, &recs, &n, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	if (!strcmp(format, "json")) {
		_cleanup_json_ json_t *arr = json_array();
		_cleanup_free_ char *s = NULL;

		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, image_list_json(&recs[i]));
		s = json_dumps(arr, JSON_INDENT(4));
		if (s)
			printf("%s\n", s);
		goto out;
	}
	if (quiet) {
		for (size_t i = 0; i < n; i++)
			printf("%.*s\n", no_trunc ? 71 : 12,
			       no_trunc ? recs[i].id : short_hex(recs[i].id));
		goto out;
	}
	if (!cove_cli_is_template(format) && !noheading)
		printf("%-40s %-16s %-14s %-20s %s\n", "REPOSITORY", "TAG",
		       "IMAGE ID", "CREATED", "SIZE");
	for (size_t i = 0; i < n; i++) {
		char age[64], size[32], id[80];
		size_t names = cove_strv_length(recs[i].names);

		cove_cli_age(recs[i].created, age, sizeof(age));
		cove_cli_bytes(recs[i].size, size, sizeof(size));
		snprintf(id, sizeof(id), "%.*s", no_trunc ? 71 : 12,
			 no_trunc ? recs[i].id : short_hex(recs[i].id));
		for (size_t j = 0; j < (names ? names : 1); j++) {
			char repo[512] = "<none>", tag[256] = "<none>";

			if (names)
				split_name(recs[i].names[j], repo, sizeof(repo),
					   tag, sizeof(tag));
			if (cove_cli_is_template(format)) {
				_cleanup_json_ json_t *o = json_pack(
				    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
				    "Repository", repo, "Tag", tag, "ID", id,
				    "Id", short_hex(recs[i].id), "Digest",
				    recs[i].manifest_digest, "Created", age,
				    "Size", size);
				r = cove_cli_render_template(format, o);
				if (r)
					goto out;
				continue;
			}
			printf("%-40s %-16s %-14s %-20s %s\n", repo, tag, id,
			       age, size);
		}
	}
out:
	cove_image_records_free(recs, n);
	env_release(&e);
	return r;
}

/* ---- tag ----------------------------------------------------------------- */

static const char tag_help[] =
    "NAME:\n"
    "   cove tag - add names to a local image\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove tag IMAGE NEW-NAME [NEW-NAME...]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Points each NEW-NAME at IMAGE (a name or id), moving it from the\n"
    "   image it named before, if any.  Names are normalised the way\n"
    "   docker does (busybox -> docker.io/library/busybox:latest).\n"
    "\n"
    "OPTIONS:\n"
    "   -h, --help            show this help\n";

int cmd_tag(struct cove_ctx *ctx, int argc, char **argv)
{
	struct cove_image_record rec = {0};
	struct cove_error err = {0};
	struct env e = {0};
	int r = 0;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(tag_help);
	if (argc < 3)
		return cove_cli_failf("tag: an image and at least one new name "
				      "are required (see 'cove tag --help')");
	if (env_open(ctx, 0, &e, &err) < 0 ||
	    cove_images_lookup(e.db, argv[1], &rec, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	for (int i = 2; i < argc; i++) {
		if (cove_images_tag(e.db, rec.id, argv[i], &err) < 0) {
			r = cove_cli_fail(&err);
			goto out;
		}
		cove_events_object("image", "tag", rec.id, argv[i]);
	}
out:
	cove_image_record_release(&rec);
	env_release(&e);
	return r;
}

/* ---- rmi, prune, fsck ---------------------------------------------------- */

static int mount_id(const char *image_id, char *buf, size_t size)
{
	return snprintf(buf, size, "image-%s", short_hex(image_id));
}

/* The name of a container made from image @id, or NULL (*ret). */
static int image_container(struct env *e, const char *id, char **ret,
			   struct cove_error *err)
{
	sqlite3 *db = NULL;
	int r;

	*ret = NULL;
	r = cove_engine_db_open(e->root, &db, err);
	if (r < 0)
		return r;
	r = cove_ctr_image_user(db, id, ret, err);
	sqlite3_close_v2(db);
	return r;
}

/* Is the image mounted with `cove image mount`? */
static bool image_mounted(struct env *e, const char *id)
{
	_cleanup_free_ struct cove_snapshot_container *conts = NULL;
	size_t n = 0;
	char mid[COVE_DIGEST_MAX + 8];

	if (!e->snap ||
	    cove_snapshot_list_containers(e->snap, &conts, &n, NULL) < 0)
		return false;
	mount_id(id, mid, sizeof(mid));
	for (size_t i = 0; i < n; i++)
		if (!strcmp(conts[i].id, mid))
			return true;
	return false;
}

/* Blobs and snapshots that no image needs any more. */
static int collect_garbage(struct env *e, struct cove_error *err)
{
	struct cove_prune_report rep = {0};
	int r;

	r = cove_store_prune(e->store, e->db, NULL, 0, &rep, err);
	cove_prune_report_release(&rep);
	if (r < 0)
		return r;
	if (e->snap)
		return cove_snapshot_gc(e->store, e->db, e->snap, NULL, err);
	return 0;
}

static const char rmi_help[] =
    "NAME:\n"
    "   cove rmi - remove local images\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove rmi [options] IMAGE [IMAGE...]\n"
    "   cove image rm [options] IMAGE [IMAGE...]\n"
    "\n"
    "DESCRIPTION:\n"
    "   A name of an image that has other names is only removed (untag);\n"
    "   otherwise the image goes, with its names, and then every blob and\n"
    "   unpacked layer that no remaining image uses.  An image with\n"
    "   several names, given by id, or a mounted image is refused unless\n"
    "   --force.\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --all             remove every image\n"
    "   -f, --force           remove images with several names and "
    "unmount\n"
    "                         mounted ones\n"
    "   -h, --help            show this help\n";

static int rmi_one(struct env *e, const char *ref, bool force,
		   struct cove_error *err)
{
	_cleanup_free_ char *norm = NULL;
	struct cove_image_record rec = {0};
	struct cove_image_ref parsed;
	char mid[COVE_DIGEST_MAX + 8];
	int r;

	r = cove_images_lookup(e->db, ref, &rec, err);
	if (r < 0)
		return r;
	if (cove_image_ref_parse(ref, &parsed, NULL) == 0) {
		norm = cove_image_ref_format(&parsed);
		cove_image_ref_release(&parsed);
	}
	if (norm && cove_strv_contains(rec.names, norm) &&
	    cove_strv_length(rec.names) > 1) {
		r = cove_images_untag(e->db, norm, err);
		if (r >= 0)
			cove_events_object("image", "untag", rec.id, norm);
		if (r >= 0)
			printf("Untagged: %s\n", norm);
		goto out;
	}
	if (!force && cove_strv_length(rec.names) > 1) {
		r = cove_error_set(err, EBUSY,
				   "image %.12s has several names: remove "
				   "them one by one or use --force",
				   short_hex(rec.id));
		goto out;
	}
	{
		/* containers keep their image: podman refuses too */
		_cleanup_free_ char *user = NULL;
		r = image_container(e, rec.id, &user, err);
		if (r < 0)
			goto out;
		if (user) {
			r = cove_error_set(err, EBUSY,
					   "image %.12s is in use by container "
					   "%s: remove the container first",
					   short_hex(rec.id), user);
			goto out;
		}
	}
	if (image_mounted(e, rec.id)) {
		if (!force) {
			r = cove_error_set(
			    err, EBUSY,
			    "image %.12s is mounted: run `cove "
			    "image unmount %.12s` or use --force",
			    short_hex(rec.id), short_hex(rec.id));
			goto out;
		}
		mount_id(rec.id, mid, sizeof(mid));
		r = cove_snapshot_remove_container(e->snap, mid, err);
		if (r < 0)
			goto out;
	}
	r = cove_images_remove(e->db, rec.id, true, err);
	if (r < 0)
		goto out;
	for (char **n = rec.names; n && *n; n++) {
		cove_events_object("image", "untag", rec.id, *n);
		printf("Untagged: %s\n", *n);
	}
	cove_events_object("image", "remove", rec.id, ref);
	printf("Deleted: %s\n", short_hex(rec.id));
out:
	cove_image_record_release(&rec);
	return r;
}

int cmd_rmi(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct cove_error err = {0};
	bool force = false, all = false;
	struct env e = {0};
	int c, r = 0, failed = 0;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(rmi_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "afh", opts, NULL)) != -1) {
		if (c == 'a')
			all = true;
		else if (c == 'f')
			force = true;
		else
			return cove_cli_unknown_option("rmi", argv);
	}
	if (optind >= argc && !all)
		return cove_cli_failf("rmi: at least one image is required "
				      "(see 'cove rmi --help')");
	if (env_open(ctx, ENV_UNPACK, &e, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	if (all) {
		struct cove_image_record *recs = NULL;
		size_t n = 0;

		if (cove_images_list(e.db, &recs, &n, &err) < 0) {
			r = cove_cli_fail(&err);
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			if (rmi_one(&e, recs[i].id, true, &err) < 0)
				failed = cove_cli_fail(&err);
		cove_image_records_free(recs, n);
	}
	for (int i = optind; i < argc; i++) {
		cove_error_clear(&err);
		if (rmi_one(&e, argv[i], force, &err) < 0)
			failed = cove_cli_fail(&err);
	}
	cove_error_clear(&err);
	if (collect_garbage(&e, &err) < 0)
		failed = cove_cli_fail(&err);
	r = failed;
out:
	env_release(&e);
	return r;
}

static const char prune_help[] =
    "NAME:\n"
    "   cove image prune - remove unused images\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove image prune [options]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Removes the images without a name (with --all, every image that\n"
    "   is not mounted), then every blob and unpacked layer that no\n"
    "   remaining image uses.  Prints the ids removed.\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --all             also images that have names\n"
    "   -f, --force           do not ask (cove never asks; accepted for\n"
    "                         podman compatibility)\n"
    "   -h, --help            show this help\n";

static int cmd_image_prune(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct cove_image_record *recs = NULL;
	struct cove_prune_report rep = {0};
	struct cove_error err = {0};
	struct env e = {0};
	bool all = false;
	size_t n = 0;
	int c, r = 0;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(prune_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "afh", opts, NULL)) != -1) {
		if (c == 'a')
			all = true;
		else if (c != 'f')
			return cove_cli_unknown_option("image prune", argv);
	}
	if (env_open(ctx, ENV_UNPACK, &e, &err) < 0 ||
	    cove_images_list(e.db, &recs, &n, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *user = NULL;
		if ((!all && recs[i].names) || image_mounted(&e, recs[i].id) ||
		    image_container(&e, recs[i].id, &user, &err) < 0 || user)
			continue;
		if (cove_images_remove(e.db, recs[i].id, true, &err) < 0) {
			r = cove_cli_fail(&err);
			goto out;
		}
		cove_events_object("image", "remove", recs[i].id, NULL);
		printf("%s\n", short_hex(recs[i].id));
	}
	if (cove_store_prune(e.store, e.db, NULL, 0, &rep, &err) < 0 ||
	    (e.snap &&
	     cove_snapshot_gc(e.store, e.db, e.snap, NULL, &err) < 0)) {
		r = cove_cli_fail(&err);
		goto out;
	}
out:
	cove_prune_report_release(&rep);
	cove_image_records_free(recs, n);
	env_release(&e);
	return r;
}

static const char fsck_help[] =
    "NAME:\n"
    "   cove image fsck - check the image store\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove image fsck [options]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Re-hashes every blob and walks every image: reports blobs whose\n"
    "   content does not match their digest (corrupt), blobs an image\n"
    "   needs that are missing (dangling) and manifests that no longer\n"
    "   parse (invalid), and removes the files of interrupted downloads.\n"
    "   Exits 1 when the store is not consistent.\n"
    "\n"
    "OPTIONS:\n"
    "   --repair              delete corrupt blobs (the next pull fetches\n"
    "                         them again)\n"
    "   --format json         the report as JSON\n"
    "   -h, --help            show this help\n";

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();

	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static int cmd_image_fsck(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"repair", no_argument, NULL, OPT_REPAIR},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct cove_fsck_report rep = {0};
	struct cove_error err = {0};
	unsigned flags = 0;
	bool json = false;
	struct env e = {0};
	int c, r = 0;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(fsck_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == OPT_REPAIR)
			flags |= COVE_FSCK_REPAIR;
		else if (c == OPT_FORMAT && !strcmp(optarg, "json"))
			json = true;
		else if (c == OPT_FORMAT)
			return cove_cli_failf("image fsck: invalid --format "
					      "'%s': must be json",
					      optarg);
		else
			return cove_cli_unknown_option("image fsck", argv);
	}
	if (env_open(ctx, 0, &e, &err) < 0 ||
	    cove_store_fsck(e.store, e.db, flags, &rep, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	if (json) {
		_cleanup_json_ json_t *o = json_pack(
		    "{s:I, s:o, s:o, s:o, s:I, s:I, s:b}", "blobs",
		    (json_int_t)rep.blobs, "corrupt", strv_json(rep.corrupt),
		    "dangling", strv_json(rep.dangling), "invalid",
		    strv_json(rep.invalid), "stale_ingest",
		    (json_int_t)rep.stale_ingest, "removed",
		    (json_int_t)rep.removed, "clean",
		    cove_fsck_report_clean(&rep));
		_cleanup_free_ char *s = json_dumps(o, JSON_INDENT(4));

		if (s)
			printf("%s\n", s);
	} else {
		printf("blobs checked: %zu\n", rep.blobs);
		if (rep.stale_ingest)
			printf("interrupted downloads removed: %zu\n",
			       rep.stale_ingest);
		for (char **d = rep.corrupt; d && *d; d++)
			printf("corrupt: %s\n", *d);
		for (char **d = rep.dangling; d && *d; d++)
			printf("dangling: %s\n", *d);
		for (char **d = rep.invalid; d && *d; d++)
			printf("invalid: %s\n", *d);
		if (rep.removed)
			printf("corrupt blobs removed: %zu\n", rep.removed);
		printf("%s\n", cove_fsck_report_clean(&rep)
				   ? "store is consistent"
				   : "store is NOT consistent");
	}
	if (!cove_fsck_report_clean(&rep))
		r = 1;
out:
	cove_fsck_report_release(&rep);
	env_release(&e);
	return r;
}

/* ---- inspect ------------------------------------------------------------- */

static const char inspect_help[] =
    "NAME:\n"
    "   cove image inspect - show the details of local images\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove image inspect [options] IMAGE [IMAGE...]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Prints a JSON array with one object per image, with podman's\n"
    "   members: Id, Digest, RepoTags, RepoDigests, Created, Config,\n"
    "   Author, Architecture, Os, Variant, Size, RootFS, Labels,\n"
    "   Annotations, ManifestType, User, History.\n"
    "\n"
    "OPTIONS:\n"
    "   -f, --format FORMAT   json (default) or a Go template such as\n"
    "                         '{{.Id}}' or '{{json .RootFS.Layers}}'\n"
    "   -h, --help            show this help\n";

static json_t *kv_json(const struct cove_kv *kv, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, kv[i].key, json_string(kv[i].value));
	return o;
}

static json_t *inspect_json(struct env *e, const struct cove_image *img)
{
	const struct cove_image_config *c = img->config;
	json_t *tags = json_array(), *digests = json_array();
	json_t *layers = json_array(), *cfg, *hist, *labels, *created, *o;

	repo_lists(&img->rec, tags, digests);
	for (size_t i = 0; i < c->n_diff_ids; i++)
		json_array_append_new(layers, json_string(c->diff_ids[i]));
	/* borrowed members get a reference of their own ("o" steals it) */
	cfg = json_object_get(img->config_json, "config");
	cfg = cfg ? json_incref(cfg) : json_object();
	hist = json_object_get(img->config_json, "history");
	hist = hist ? json_incref(hist) : json_array();
	created = json_object_get(img->config_json, "created");
	created = created ? json_incref(created) : json_null();
	labels = json_object_get(cfg, "Labels");
	labels = labels ? json_incref(labels) : json_null();
	o = json_pack(
	    "{s:s, s:s, s:o, s:o, s:s, s:s, s:o, s:o, s:s, s:s, s:s, s:s, "
	    "s:I, s:I, s:{s:s}, s:{s:s, s:o}, s:o, s:o, s:s, s:s, s:o, "
	    "s:[]}",
	    "Id", short_hex(img->rec.id), "Digest", img->rec.manifest_digest,
	    "RepoTags", tags, "RepoDigests", digests, "Parent", "", "Comment",
	    "", "Created", created, "Config", cfg, "Version", "", "Author",
	    c->author ? c->author : "", "Architecture",
	    c->architecture ? c->architecture : "", "Os", c->os ? c->os : "",
	    "Size", (json_int_t)img->rec.size, "VirtualSize",
	    (json_int_t)img->rec.size, "GraphDriver", "Name",
	    e->snap ? cove_snapshotter_driver(e->snap) : "overlay", "RootFS",
	    "Type", "layers", "Layers", layers, "Labels", labels, "Annotations",
	    kv_json(img->manifest->annotations, img->manifest->n_annotations),
	    "ManifestType", img->rec.manifest_media_type, "User",
	    c->user ? c->user : "", "History", hist, "NamesHistory");
	if (o && c->variant)
		json_object_set_new(o, "Variant", json_string(c->variant));
	return o;
}

static int cmd_image_inspect(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_json_ json_t *arr = json_array();
	struct cove_error err = {0};
	const char *format = "json";
	struct env e = {0};
	int c, r = 0;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(inspect_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		if (c == 'f')
			format = optarg;
		else
			return cove_cli_unknown_option("image inspect", argv);
	}
	if (optind >= argc)
		return cove_cli_failf("image inspect: at least one image is "
				      "required");
	if (strcmp(format, "json") && !cove_cli_is_template(format))
		return cove_cli_failf("image inspect: invalid --format '%s': "
				      "must be json or a Go template",
				      format);
	if (env_open(ctx, 0, &e, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	for (int i = optind; i < argc; i++) {
		struct cove_image img = {0};
		json_t *o;

		if (cove_image_open(e.store, e.db, argv[i], &img, &err) < 0) {
			r = cove_cli_fail(&err);
			goto out;
		}
		o = inspect_json(&e, &img);
		cove_image_release(&img);
		if (!o) {
			r = cove_cli_failf("out of memory");
			goto out;
		}
		json_array_append_new(arr, o);
	}
	if (cove_cli_is_template(format)) {
		size_t i;
		json_t *o;

		json_array_foreach(arr, i, o)
		{
			r = cove_cli_render_template(format, o);
			if (r)
				goto out;
		}
	} else {
		_cleanup_free_ char *s = json_dumps(arr, JSON_INDENT(4));

		if (s)
			printf("%s\n", s);
	}
out:
	env_release(&e);
	return r;
}

/* ---- save, load -----------------------------------------------------------
 */

static const char save_help[] =
    "NAME:\n"
    "   cove save - write images to an archive\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove save [options] -o FILE IMAGE [IMAGE...]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Writes the images to a tar archive that `cove load`, `podman "
    "load`,\n"
    "   `docker load` and skopeo (oci-archive:FILE, docker-archive:FILE)\n"
    "   read.  An image given by name is saved under that name, one given\n"
    "   by id without a name.  Without -o the archive goes to stdout,\n"
    "   unless it is a terminal.\n"
    "\n"
    "OPTIONS:\n"
    "   --format FORMAT       docker-archive (default: manifest.json, the\n"
    "                         config and uncompressed layer tars, as\n"
    "                         `docker save` writes) or oci-archive (an "
    "OCI\n"
    "                         image layout: the blobs exactly as stored)\n"
    "   -o, --output FILE     the archive to write (replaced atomically)\n"
    "   -h, --help            show this help\n"
    "\n"
    "EXAMPLES:\n"
    "   cove save -o busybox.tar busybox\n"
    "   cove save --format oci-archive -o images.tar app:1 app:2\n";

int cmd_save(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	enum cove_archive_format format = COVE_ARCHIVE_DOCKER;
	struct cove_error err = {0};
	const char *output = NULL;
	struct env e = {0};
	int c, r = 0;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(save_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		if (c == 'o')
			output = optarg;
		else if (c == OPT_FORMAT) {
			if (cove_archive_format_parse(optarg, &format, &err) <
			    0)
				return cove_cli_fail(&err);
		} else
			return cove_cli_unknown_option("save", argv);
	}
	if (optind >= argc)
		return cove_cli_failf("save: at least one image is required "
				      "(see 'cove save --help')");
	if ((!output || !strcmp(output, "-")) && isatty(STDOUT_FILENO))
		return cove_cli_failf("save: refusing to write an archive to "
				      "a terminal: use -o FILE");
	if (env_open(ctx, 0, &e, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	if (output && strcmp(output, "-"))
		r = cove_image_save(e.store, e.db, argv + optind, format,
				    output, &err);
	else
		r = cove_image_save_fd(e.store, e.db, argv + optind, format,
				       STDOUT_FILENO, NULL, &err);
	for (int i = optind; r >= 0 && i < argc; i++)
		cove_events_object("image", "save", NULL, argv[i]);
	r = r < 0 ? cove_cli_fail(&err) : 0;
out:
	env_release(&e);
	return r;
}

static const char load_help[] =
    "NAME:\n"
    "   cove load - load images from an archive\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove load [options] [-i FILE]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Reads an oci-archive or a docker-archive (as written by `cove "
    "save`,\n"
    "   `podman save`, `docker save` or skopeo; compressed archives too)\n"
    "   from FILE or stdin and records every image in it.  Blobs are\n"
    "   verified as they stream in, and as root the layers are unpacked\n"
    "   and checked against their diff_ids before an image is recorded.\n"
    "   Prints 'Loaded image: NAME' per image (its id when it has no "
    "name).\n"
    "\n"
    "OPTIONS:\n"
    "   -i, --input FILE      the archive (default: stdin)\n"
    "   --platform OS/ARCH    the entry to load from a multi-platform "
    "image\n"
    "                         (default: the host's)\n"
    "   -q, --quiet           accepted for podman compatibility\n"
    "   -h, --help            show this help\n";

int cmd_load(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"input", required_argument, NULL, 'i'},
	    {"platform", required_argument, NULL, OPT_PLATFORM},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct cove_load_opts lo = {0};
	_cleanup_strv_ char **loaded = NULL;
	_cleanup_close_ int fd = -1;
	struct cove_error err = {0};
	const char *input = NULL;
	struct env e = {0};
	int c, r = 0;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(load_help);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "i:qh", opts, NULL)) != -1) {
		if (c == 'i')
			input = optarg;
		else if (c == OPT_PLATFORM)
			lo.platform = optarg;
		else if (c != 'q')
			return cove_cli_unknown_option("load", argv);
	}
	if (optind < argc)
		return cove_cli_failf("load: unexpected argument '%s' (the "
				      "archive is given with -i)",
				      argv[optind]);
	if (input && strcmp(input, "-")) {
		fd = open(input, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return cove_cli_failf("cannot open '%s': %s", input,
					      strerror(errno));
	} else if (isatty(STDIN_FILENO)) {
		return cove_cli_failf("load: no archive: use -i FILE or pipe "
				      "one to stdin");
	}
	if (env_open(ctx, ENV_UNPACK | ENV_LAYERS, &e, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	lo.unpack = e.snap;
	if (cove_image_load(e.store, e.db, fd >= 0 ? fd : STDIN_FILENO,
			    input ? input : "stdin", &lo, &loaded, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	cove_events_object("image", "loadfromarchive", NULL,
			   input ? input : "stdin");
	for (char **l = loaded; l && *l; l++)
		printf("Loaded image: %s\n", *l);
out:
	env_release(&e);
	return r;
}

/* ---- mount, unmount -------------------------------------------------------
 */

static const char mount_help[] =
    "NAME:\n"
    "   cove image mount - mount an image's root file system\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove image mount IMAGE\n"
    "\n"
    "DESCRIPTION:\n"
    "   Unpacks the image's layers if needed and prints the path of its\n"
    "   root file system: an overlay of the layers with its own upper\n"
    "   directory (changes never reach the image), or with\n"
    "   --storage-driver vfs a private copy.  Mounting again prints the\n"
    "   same path.  For an unprivileged user the mount is in cove's own\n"
    "   mount namespace (kept by its pause process): look at it with\n"
    "   `cove unshare`.\n"
    "\n"
    "OPTIONS:\n"
    "   -h, --help            show this help\n";

static int cmd_image_mount(struct cove_ctx *ctx, int argc, char **argv)
{
	_cleanup_free_ char *path = NULL;
	struct cove_image img = {0};
	struct cove_error err = {0};
	char chain[COVE_CHAIN_ID_MAX], mid[COVE_DIGEST_MAX + 8];
	struct env e = {0};
	int r = 0;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(mount_help);
	if (argc != 2)
		return cove_cli_failf("image mount: exactly one image is "
				      "required");
	if (env_open(ctx, ENV_SNAPSHOTS | ENV_LAYERS, &e, &err) < 0 ||
	    cove_image_open(e.store, e.db, argv[1], &img, &err) < 0 ||
	    cove_image_unpack(e.store, e.snap, &img, chain, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	mount_id(img.rec.id, mid, sizeof(mid));
	if (cove_snapshot_mount(e.snap, mid, chain, &path, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	printf("%s\n", path);
out:
	cove_image_release(&img);
	env_release(&e);
	return r;
}

static const char unmount_help[] =
    "NAME:\n"
    "   cove image unmount - unmount an image's root file system\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove image unmount IMAGE\n"
    "\n"
    "DESCRIPTION:\n"
    "   Unmounts what `cove image mount` mounted and discards the changes\n"
    "   made in it.  Prints the image id.\n"
    "\n"
    "OPTIONS:\n"
    "   -h, --help            show this help\n";

static int cmd_image_unmount(struct cove_ctx *ctx, int argc, char **argv)
{
	struct cove_image_record rec = {0};
	struct cove_error err = {0};
	char mid[COVE_DIGEST_MAX + 8];
	struct env e = {0};
	int r = 0;

	if (cove_cli_want_help(argc, argv))
		return cove_cli_help(unmount_help);
	if (argc != 2)
		return cove_cli_failf("image unmount: exactly one image is "
				      "required");
	if (env_open(ctx, ENV_SNAPSHOTS, &e, &err) < 0 ||
	    cove_images_lookup(e.db, argv[1], &rec, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	mount_id(rec.id, mid, sizeof(mid));
	if (cove_snapshot_remove_container(e.snap, mid, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	printf("%s\n", short_hex(rec.id));
out:
	cove_image_record_release(&rec);
	env_release(&e);
	return r;
}

/* ---- bundle -------------------------------------------------------------- */

static const char bundle_help[] =
    "NAME:\n"
    "   cove bundle - make an OCI runtime bundle from an image\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove bundle [options] IMAGE DIR [COMMAND [ARG...]]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Writes DIR/config.json (the image config turned into a runtime\n"
    "   spec with docker's default security profile) and DIR/rootfs, so\n"
    "   that `cove-runtime run --bundle DIR ID` (or runc, crun) runs the\n"
    "   image.  DIR/rootfs is an overlay mount of the image's layers with\n"
    "   its upper directory in DIR, or with --storage-driver vfs a copy\n"
    "   of the layers.  COMMAND replaces the image's Cmd.  Remove an\n"
    "   overlay bundle with `umount DIR/rootfs` first.\n"
    "\n"
    "   As an unprivileged user, DIR/rootfs is always a copy (no mount\n"
    "   outlives cove), owned by the user and its subordinate ids, and\n"
    "   config.json has a user namespace with the maps of cove's own\n"
    "   (root is the user, 1.. the ranges of /etc/subuid and\n"
    "   /etc/subgid), so that the same user can run it with\n"
    "   `cove-runtime run`.\n"
    "\n"
    "OPTIONS:\n"
    "   --cgroups-path PATH   linux.cgroupsPath of the container\n"
    "   --env KEY=VALUE       set an environment variable (repeatable)\n"
    "   --hostname NAME       the container's host name (default: cove)\n"
    "   --read-only           mount the root file system read-only\n"
    "   -h, --help            show this help\n"
    "\n"
    "EXAMPLES:\n"
    "   cove bundle busybox /tmp/b sh -c 'echo hello'\n"
    "   cove-runtime run --bundle /tmp/b demo\n";

/*
 * Rootless: no mount can outlive cove's mount namespace, so the rootfs is
 * a copy of the unpacked image, and the bundle's user namespace has the
 * maps of cove's own, so that the copy's owners mean the same there.
 */
static int bundle_rootless_rootfs(struct env *e, const struct cove_image *img,
				  const char *rootfs,
				  struct cove_bundle_opts *bo,
				  struct cove_error *err)
{
	const struct cove_rootless_maps *m = cove_rootless_maps();
	_cleanup_close_ int dfd = -1;
	char chain[COVE_CHAIN_ID_MAX];
	int r;

	r = cove_image_unpack(e->store, e->snap, img, chain, err);
	if (r < 0)
		return r;
	dfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return cove_error_setx(err, errno, "cannot open '%s'", rootfs);
	r = cove_snapshot_copy(e->snap, chain, dfd, err);
	if (r < 0)
		return r;
	bo->rootless = true;
	bo->uid_map = m->uid_map;
	bo->uid_map_len = m->uid_map_len;
	bo->gid_map = m->gid_map;
	bo->gid_map_len = m->gid_map_len;
	return 0;
}

int cmd_bundle(struct cove_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"cgroups-path", required_argument, NULL, OPT_CGROUPS_PATH},
	    {"env", required_argument, NULL, OPT_ENV},
	    {"hostname", required_argument, NULL, OPT_HOSTNAME},
	    {"read-only", no_argument, NULL, OPT_READ_ONLY},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_free_ char *rootfs = NULL, *upper = NULL, *work = NULL;
	_cleanup_strv_ char **env = NULL, **cmd = NULL;
	struct cove_bundle_opts bo = {0};
	struct cove_image img = {0};
	struct cove_error err = {0};
	const char *dir;
	bool mounted = false, made_rootfs = false;
	struct env e = {0};
	struct stat st;
	int c, r = 0;

	opterr = 0;
	/* "+": options end at IMAGE, so that COMMAND keeps its own flags */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return cove_cli_help(bundle_help);
		case OPT_CGROUPS_PATH:
			bo.cgroups_path = optarg;
			break;
		case OPT_ENV:
			if (!strchr(optarg, '='))
				return cove_cli_failf("bundle: invalid --env "
						      "'%s': expected "
						      "KEY=VALUE",
						      optarg);
			if (cove_strv_push(&env, optarg) < 0)
				return cove_cli_failf("out of memory");
			break;
		case OPT_HOSTNAME:
			bo.hostname = optarg;
			break;
		case OPT_READ_ONLY:
			bo.read_only = true;
			break;
		default:
			return cove_cli_unknown_option("bundle", argv);
		}
	}
	if (argc - optind < 2)
		return cove_cli_failf("bundle: an image and a directory are "
				      "required (see 'cove bundle --help')");
	dir = argv[optind + 1];
	for (int i = optind + 2; i < argc; i++)
		if (cove_strv_push(&cmd, argv[i]) < 0)
			return cove_cli_failf("out of memory");
	bo.env = env;
	bo.cmd = cmd;
	rootfs = cove_strdup_printf("%s/rootfs", dir);
	upper = cove_strdup_printf("%s/.rootfs-upper", dir);
	work = cove_strdup_printf("%s/.rootfs-work", dir);
	if (!rootfs || !upper || !work)
		return cove_cli_failf("out of memory");

	if (env_open(ctx, ENV_SNAPSHOTS | ENV_LAYERS, &e, &err) < 0 ||
	    cove_image_open(e.store, e.db, argv[optind], &img, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	r = cove_mkdir_p(dir, 0755);
	if (r < 0) {
		r = cove_cli_failf("cannot create '%s': %s", dir, strerror(-r));
		goto out;
	}
	if (lstat(rootfs, &st) == 0) {
		r = cove_cli_failf("bundle: '%s' already exists", rootfs);
		goto out;
	}
	if (mkdir(rootfs, 0755) < 0) {
		r = cove_cli_failf("cannot create '%s': %s", rootfs,
				   strerror(errno));
		goto out;
	}
	made_rootfs = true;
	if (cove_rootless_active()) {
		if (bundle_rootless_rootfs(&e, &img, rootfs, &bo, &err) < 0) {
			r = cove_cli_fail(&err);
			goto out;
		}
	} else if (cove_image_rootfs(
		       e.store,
		       strcmp(cove_snapshotter_driver(e.snap), "overlay")
			   ? NULL
			   : e.snap,
		       &img, rootfs, upper, work, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	} else {
		mounted = !strcmp(cove_snapshotter_driver(e.snap), "overlay");
	}
	if (cove_bundle_create(img.config_json, dir, &bo, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	made_rootfs = mounted = false;
out:
	if (mounted)
		(void)umount2(rootfs, MNT_DETACH);
	if (made_rootfs) {
		(void)cove_rm_rf(rootfs);
		(void)cove_rm_rf(upper);
		(void)cove_rm_rf(work);
	}
	cove_image_release(&img);
	env_release(&e);
	return r;
}

/* ---- the command tables -------------------------------------------------- */

static const struct cove_command image_commands[] = {
    {"bundle", cmd_bundle, "make an OCI runtime bundle from an image"},
    {"exists", cmd_image_exists, "tell whether an image exists"},
    {"fsck", cmd_image_fsck, "check the image store"},
    {"history", cmd_image_history, "show how an image's layers were made"},
    {"inspect", cmd_image_inspect, "show the details of images"},
    {"list", cmd_images, "list images"},
    {"load", cmd_load, "load images from an archive"},
    {"ls", cmd_images, "list images"},
    {"mount", cmd_image_mount, "mount an image's root file system"},
    {"prune", cmd_image_prune, "remove unused images"},
    {"pull", cmd_pull, "pull an image from a registry"},
    {"push", cmd_push, "push an image to a registry"},
    {"rm", cmd_rmi, "remove images"},
    {"save", cmd_save, "write images to an archive"},
    {"tag", cmd_tag, "add names to an image"},
    {"umount", cmd_image_unmount, "unmount an image's root file system"},
    {"unmount", cmd_image_unmount, "unmount an image's root file system"},
    {"untag", cmd_untag, "remove names from an image"},
};

int cmd_image(struct cove_ctx *ctx, int argc, char **argv)
{
	return cove_cli_dispatch(ctx, image_commands,
				 ARRAY_SIZE(image_commands), "image", argc - 1,
				 argv + 1);
}
