/* cove info, cove system df|prune|info: the whole installation. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli/cove/cli.h"
#include "engine/engine.h"
#include "engine/volumes.h"
#include "image/images.h"
#include "runtime/cgroup.h"
#include "runtime/idmap.h"
#include "util/cleanup.h"
#include "util/strutil.h"

#ifndef COVE_VERSION
#define COVE_VERSION "0.0.0"
#endif

static uint64_t du_total;

static int du_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)path;
	(void)flag;
	(void)ftw;
	du_total += (uint64_t)st->st_blocks * 512;
	return 0;
}

/* Bytes allocated under @path, not crossing into other file systems. */
static uint64_t disk_usage(const char *path)
{
	du_total = 0;
	(void)nftw(path, du_one, 32, FTW_PHYS | FTW_MOUNT);
	return du_total;
}

static const char df_help[] =
    "NAME:\n"
    "   cove system df - show the disk space cove uses\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove system df [--format json]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Images (the content store and unpacked layers), containers (their\n"
    "   writable layers and logs) and volumes: how many, how many in use,\n"
    "   and their size on disk.\n";

static int cmd_system_df(struct cove_ctx *ctx, int argc, char **argv)
{
	struct cove_engine *e = NULL;
	struct cove_error err = {0};
	struct cove_image_record *imgs = NULL;
	struct cove_volume *vols = NULL;
	struct cove_ctr *cs = NULL;
	size_t ni = 0, nc = 0, nv = 0, active_i = 0, active_c = 0, active_v = 0;
	uint64_t isize = 0, csize = 0, vsize = 0;
	bool json = false;
	sqlite3 *db;
	int r = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return cove_cli_help(df_help);
		if ((!strcmp(argv[i], "--format") && i + 1 < argc &&
		     !strcmp(argv[++i], "json")) ||
		    !strcmp(argv[i], "--format=json"))
			json = true;
		else
			return cove_cli_failf("system df: unknown option '%s'",
					      argv[i]);
	}
	if (cove_engine_open(ctx->root, ctx->runroot, ctx->storage_driver, &e,
			     &err) < 0 ||
	    cove_engine_images(e, &err) < 0 ||
	    cove_engine_db(e, &db, &err) < 0 ||
	    cove_images_list(e->images, &imgs, &ni, &err) < 0 ||
	    cove_ctr_list(db, &cs, &nc, &err) < 0 ||
	    cove_volume_list(db, NULL, &vols, &nv, &err) < 0) {
		r = cove_cli_fail(&err);
		goto out;
	}
	for (size_t i = 0; i < ni; i++) {
		bool used = false;
		isize += (uint64_t)imgs[i].size;
		for (size_t j = 0; j < nc && !used; j++)
			used = !strcmp(cs[j].image_id, imgs[i].id);
		active_i += used;
	}
	{
		_cleanup_free_ char *layers =
		    cove_strdup_printf("%s/%s", ctx->root, ctx->storage_driver);
		if (layers)
			isize += disk_usage(layers);
	}
	for (size_t j = 0; j < nc; j++) {
		_cleanup_free_ char *dir = cove_engine_ctr_dir(e, cs[j].id);
		_cleanup_free_ char *upper =
		    cove_strdup_printf("%s/%s-containers/%s", ctx->root,
				       ctx->storage_driver, cs[j].id);
		active_c += !strcmp(cs[j].state, "running");
		if (dir)
			csize += disk_usage(dir);
		if (upper)
			csize += disk_usage(upper);
	}
	for (size_t k = 0; k < nv; k++) {
		char *user = NULL;
		if (cove_engine_volume_in_use(NULL, db, vols[k].name, &user,
					      &err) > 0)
			active_v++;
		free(user);
		vsize += disk_usage(vols[k].mountpoint);
	}
	if (json) {
		printf(
		    "[{\"Type\":\"Images\",\"Total\":%zu,\"Active\":%zu,"
		    "\"Size\":%llu},{\"Type\":\"Containers\",\"Total\":%zu,"
		    "\"Active\":%zu,\"Size\":%llu},{\"Type\":\"Local "
		    "Volumes\",\"Total\":%zu,\"Active\":%zu,\"Size\":%llu}]\n",
		    ni, active_i, (unsigned long long)isize, nc, active_c,
		    (unsigned long long)csize, nv, active_v,
		    (unsigned long long)vsize);
	} else {
		char a[16], b[16], c[16];
		cove_cli_size(isize, a, sizeof(a));
		cove_cli_size(csize, b, sizeof(b));
		cove_cli_size(vsize, c, sizeof(c));
		printf("%-14s  %-6s  %-6s  %s\n", "TYPE", "TOTAL", "ACTIVE",
		       "SIZE");
		printf("%-14s  %-6zu  %-6zu  %s\n", "Images", ni, active_i, a);
		printf("%-14s  %-6zu  %-6zu  %s\n", "Containers", nc, active_c,
		       b);
		printf("%-14s  %-6zu  %-6zu  %s\n", "Local Volumes", nv,
		       active_v, c);
	}
out:
	cove_image_records_free(imgs, ni);
	cove_ctrs_free(cs, nc);
	cove_volumes_free(vols, nv);
	cove_engine_free(e);
	return r;
}

static const char prune_help[] =
    "NAME:\n"
    "   cove system prune - remove what nothing uses\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove system prune [-a] [--volumes] [-f]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Removes every stopped container, then the images without a name\n"
    "   (with -a, every image no container uses) and the blobs and\n"
    "   layers no image needs; with --volumes, also the volumes no\n"
    "   container uses.\n"
    "\n"
    "OPTIONS:\n"
    "   -a, --all       also named images that no container uses\n"
    "   --volumes       also unused volumes\n"
    "   -f, --force     accepted for podman compatibility (cove never "
    "asks)\n"
    "   -h, --help      show this help\n";

static int cmd_system_prune(struct cove_ctx *ctx, int argc, char **argv)
{
	bool all = false, volumes = false;
	char *cprune[] = {(char *)"prune", NULL};
	char *iprune[] = {(char *)"prune", (char *)"--all", NULL};
	char *vprune[] = {(char *)"prune", NULL};
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return cove_cli_help(prune_help);
		if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--all"))
			all = true;
		else if (!strcmp(argv[i], "--volumes"))
			volumes = true;
		else if (strcmp(argv[i], "-f") && strcmp(argv[i], "--force"))
			return cove_cli_failf("system prune: unknown option "
					      "'%s'",
					      argv[i]);
	}
	optind = 0;
	r = cmd_container_prune(ctx, 1, cprune);
	if (r)
		return r;
	optind = 0;
	r = cmd_image(ctx, all ? 3 : 2,
		      (char *[]){(char *)"image", iprune[0],
				 all ? iprune[1] : NULL, NULL});
	if (r || !volumes)
		return r;
	optind = 0;
	return cmd_volume(ctx, 2,
			  (char *[]){(char *)"volume", vprune[0], NULL});
}

static const char info_help[] =
    "NAME:\n"
    "   cove info - show how cove is set up on this host\n"
    "\n"
    "SYNOPSIS:\n"
    "   cove info [--format json]\n"
    "\n"
    "DESCRIPTION:\n"
    "   Version, kernel, cgroup layout, rootless mode, storage root and\n"
    "   driver, run root, and how many containers and images there are.\n";

int cmd_info(struct cove_ctx *ctx, int argc, char **argv)
{
	struct cove_engine *e = NULL;
	struct cove_error err = {0};
	struct cove_image_record *imgs = NULL;
	struct cove_ctr *cs = NULL;
	size_t ni = 0, nc = 0, running = 0;
	enum cove_cgroup_mode mode;
	const char *cg = "none";
	struct utsname u;
	json_t *j, *host, *store;
	bool json = false;
	sqlite3 *db;
	char *txt;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return cove_cli_help(info_help);
		if ((!strcmp(argv[i], "--format") && i + 1 < argc &&
		     !strcmp(argv[++i], "json")) ||
		    !strcmp(argv[i], "--format=json"))
			json = true;
		else
			return cove_cli_failf("info: unknown option '%s'",
					      argv[i]);
	}
	if (cove_engine_open(ctx->root, ctx->runroot, ctx->storage_driver, &e,
			     &err) < 0 ||
	    cove_engine_images(e, &err) < 0 ||
	    cove_engine_db(e, &db, &err) < 0 ||
	    cove_images_list(e->images, &imgs, &ni, &err) < 0 ||
	    cove_ctr_list(db, &cs, &nc, &err) < 0) {
		cove_engine_free(e);
		return cove_cli_fail(&err);
	}
	for (size_t i = 0; i < nc; i++)
		running += !strcmp(cs[i].state, "running");
	if (cove_cgroup_detect(NULL, &mode) == 0)
		cg = mode == COVE_CGROUP_V2	  ? "v2"
		     : mode == COVE_CGROUP_HYBRID ? "hybrid (v1 + unified)"
		     : mode == COVE_CGROUP_V1	  ? "v1"
						  : "none";
	uname(&u);
	j = json_object();
	host = json_object();
	store = json_object();
	json_object_set_new(host, "kernel", json_string(u.release));
	json_object_set_new(host, "arch", json_string(u.machine));
	json_object_set_new(host, "cgroupVersion", json_string(cg));
	json_object_set_new(host, "rootless", json_boolean(e->rootless));
	json_object_set_new(host, "userNamespace",
			    json_boolean(!cove_in_initial_userns()));
	json_object_set_new(host, "ociRuntime",
			    json_string("cove (in process)"));
	json_object_set_new(j, "version", json_string(COVE_VERSION));
	json_object_set_new(j, "host", host);
	json_object_set_new(store, "graphRoot", json_string(ctx->root));
	json_object_set_new(store, "runRoot", json_string(ctx->runroot));
	json_object_set_new(store, "graphDriverName",
			    json_string(ctx->storage_driver));
	json_object_set_new(store, "imageCount", json_integer((json_int_t)ni));
	json_object_set_new(store, "containerCount",
			    json_integer((json_int_t)nc));
	json_object_set_new(store, "containersRunning",
			    json_integer((json_int_t)running));
	json_object_set_new(j, "store", store);
	if (json) {
		txt = json_dumps(j, JSON_INDENT(4));
		printf("%s\n", txt ? txt : "{}");
		free(txt);
	} else {
		printf("version: %s\nhost:\n  kernel: %s\n  arch: %s\n"
		       "  cgroupVersion: %s\n  rootless: %s\n"
		       "  ociRuntime: cove (in process)\nstore:\n"
		       "  graphRoot: %s\n  runRoot: %s\n  graphDriverName: %s\n"
		       "  imageCount: %zu\n  containerCount: %zu\n"
		       "  containersRunning: %zu\n",
		       COVE_VERSION, u.release, u.machine, cg,
		       e->rootless ? "true" : "false", ctx->root, ctx->runroot,
		       ctx->storage_driver, ni, nc, running);
	}
	json_decref(j);
	cove_image_records_free(imgs, ni);
	cove_ctrs_free(cs, nc);
	cove_engine_free(e);
	return 0;
}

static const struct cove_command system_commands[] = {
    {"df", cmd_system_df, "show the disk space cove uses"},
    {"info", cmd_info, "show how cove is set up on this host"},
    {"prune", cmd_system_prune, "remove what nothing uses"},
};

int cmd_system(struct cove_ctx *ctx, int argc, char **argv)
{
	return cove_cli_dispatch(ctx, system_commands,
				 ARRAY_SIZE(system_commands), "system",
				 argc - 1, argv + 1);
}
