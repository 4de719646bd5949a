#include "engine/engine.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/db.h"
#include "engine/engine-internal.h"
#include "engine/events.h"
#include "engine/netopts.h"
#include "engine/rootless.h"
#include "engine/runspec.h"
#include "engine/userns.h"
#include "engine/volumes.h"
#include "image/bundle.h"
#include "image/pull.h"
#include "runtime/container.h"
#include "runtime/idmap.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strutil.h"

int cove_engine_open(const char *root, const char *runroot,
		     const char *storage_driver, struct cove_engine **ret,
		     struct cove_error *err)
{
	struct cove_engine *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->root = strdup(root);
	e->runroot = strdup(runroot);
	e->runtime_root = cove_strdup_printf("%s/runtime", runroot);
	e->storage_driver = storage_driver;
	/*
	 * Rootless: cove runs as root of the user's own user namespace
	 * (rootless.h), where cgroups are not ours and devices cannot be
	 * made.
	 */
	e->rootless = cove_rootless_active() || geteuid() != 0 ||
		      !cove_in_initial_userns();
	if (!e->root || !e->runroot || !e->runtime_root) {
		cove_engine_free(e);
		return -ENOMEM;
	}
	*ret = e;
	return 0;
}

void cove_engine_free(struct cove_engine *e)
{
	if (!e)
		return;
	if (e->db)
		sqlite3_close(e->db);
	cove_snapshotter_free(e->snap);
	cove_images_free(e->images);
	cove_store_free(e->store);
	free(e->root);
	free(e->runroot);
	free(e->runtime_root);
	free(e);
}

int cove_engine_db(struct cove_engine *e, sqlite3 **ret, struct cove_error *err)
{
	if (!e->db) {
		int r = cove_engine_db_open(e->root, &e->db, err);
		if (r < 0)
			return r;
	}
	*ret = e->db;
	return 0;
}

void cove_engine_before_fork(struct cove_engine *e)
{
	if (e->db)
		sqlite3_close(e->db);
	e->db = NULL;
}

int cove_engine_images(struct cove_engine *e, struct cove_error *err)
{
	struct cove_snapshot_opts so = {.driver = e->storage_driver,
					.rootless = e->rootless};
	int r;

	if (!e->store) {
		r = cove_store_open(e->root, &e->store, err);
		if (r < 0)
			return r;
	}
	if (!e->images) {
		r = cove_images_open(e->root, &e->images, err);
		if (r < 0)
			return r;
	}
	if (!e->snap) {
		r = cove_snapshotter_open(e->root, &so, &e->snap, err);
		if (r < 0)
			return r;
	}
	return 0;
}

char *cove_engine_ctr_dir(const struct cove_engine *e, const char *id)
{
	return cove_strdup_printf("%s/containers/%s", e->root, id);
}

static const char *const adjectives[] = {
    "brave",	"calm",	   "eager",  "fond",	"gentle",   "happy",
    "jolly",	"keen",	   "lucid",  "merry",	"nimble",   "proud",
    "quiet",	"sharp",   "steady", "sunny",	"tender",   "vivid",
    "wise",	"zesty",   "bold",   "bright",	"clever",   "dreamy",
    "fancy",	"great",   "hardy",  "lively",	"agile",    "amber",
    "ample",	"blithe",  "brisk",  "candid",	"cheery",   "cosmic",
    "crisp",	"daring",  "dapper", "deft",	"earnest",  "fair",
    "fervent",	"festive", "frank",  "gallant", "gleaming", "golden",
    "graceful", "hearty",  "humble", "jovial",	"kind",	    "loyal",
    "mellow",	"modest",  "noble",  "patient", "plucky",   "polite",
    "quick",	"radiant", "serene", "snug",	"spry",	    "stoic",
    "swift",	"tidy",	   "upbeat", "valiant", "warm",	    "witty",
};
static const char *const nouns[] = {
    "otter",   "falcon", "heron",    "lynx",	 "marten", "osprey",  "puffin",
    "raven",   "salmon", "stoat",    "tern",	 "vole",   "wren",    "badger",
    "beaver",  "curlew", "dipper",   "eider",	 "gannet", "hare",    "ibex",
    "kestrel", "lark",	 "merlin",   "newt",	 "plover", "robin",   "swift",
    "avocet",  "bison",	 "crane",    "dunlin",	 "egret",  "finch",   "gecko",
    "grebe",   "hawk",	 "hedgehog", "jackdaw",	 "kite",   "lemming", "linnet",
    "magpie",  "mole",	 "moose",    "nightjar", "oriole", "owl",     "panda",
    "pika",    "quail",	 "rook",     "seal",	 "shrew",  "skylark", "sparrow",
    "swan",    "teal",	 "thrush",   "toad",	 "trout",  "walrus",  "weasel",
    "yak",
};

char *cove_engine_random_name(void)
{
	uint32_t rnd[2] = {0, 0};

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd[0] = (uint32_t)getpid(), rnd[1] = (uint32_t)time(NULL);
	return cove_strdup_printf("%s_%s",
				  adjectives[rnd[0] % ARRAY_SIZE(adjectives)],
				  nouns[rnd[1] % ARRAY_SIZE(nouns)]);
}

static int random_id(char *ret)
{
	unsigned char b[COVE_CTR_ID_LEN / 2];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -errno;
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(ret + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/*
 * The files a container gets in /etc (hostname, hosts, resolv.conf) live in
 * its directory and are bind-mounted over the image's, as docker does, so
 * the image's own files stay untouched and the engine can rewrite hosts as
 * containers join the network.
 */
static int write_etc_files(const char *dir, const json_t *config,
			   const char *hostname, struct cove_error *err)
{
	_cleanup_free_ char *resolv = NULL, *buf = NULL;
	const json_t *host = json_object_get(config, "HostConfig");
	char path[4096];
	int r;

	snprintf(path, sizeof(path), "%s/hostname", dir);
	buf = cove_strdup_printf("%s\n", hostname);
	if (!buf)
		return -ENOMEM;
	r = cove_write_file_replace_at(AT_FDCWD, path, buf, strlen(buf), 0644);
	if (r < 0)
		return cove_error_setx(err, r, "cannot write %s", path);
	free(buf);
	buf = NULL;

	r = cove_engine_write_hosts(dir, config, hostname, NULL, NULL, err);
	if (r < 0)
		return r;

	snprintf(path, sizeof(path), "%s/resolv.conf", dir);
	/*
	 * The host's, minus loopback servers unreachable from a netns, with
	 * --dns, --dns-search and --dns-option in place of its lines
	 */
	r = cove_netopts_resolv(host, "/etc/resolv.conf", &resolv);
	if (r >= 0)
		r = cove_write_file_replace_at(AT_FDCWD, path, resolv,
					       strlen(resolv), 0644);
	if (r < 0)
		return cove_error_setx(err, r, "cannot write %s", path);
	return 0;
}

/*
 * `-v /path` (no source) and the image's Volumes not covered by a mount:
 * anonymous volumes, created now with random names, recorded in
 * HostConfig.AnonVolumes so that `rm -v` and --rm remove them.
 */
static int make_anon_volumes(struct cove_engine *e, json_t *config,
			     const struct cove_image *img,
			     struct cove_error *err)
{
	json_t *host = json_object_get(config, "HostConfig");
	json_t *binds = json_object_get(host, "Binds"), *anon = json_array();
	const json_t *ivols = json_object_get(
	    json_object_get(img->config_json, "config"), "Volumes");
	_cleanup_free_ char *dir = cove_strdup_printf("%s/volumes", e->root);
	const char *k;
	json_t *v;
	size_t i;
	sqlite3 *db;
	int r;

	if (!dir || !anon || !host) {
		json_decref(anon);
		return -ENOMEM;
	}
	json_object_set_new(host, "AnonVolumes", anon);
	if (!binds) {
		binds = json_array();
		json_object_set_new(host, "Binds", binds);
	}
	r = cove_engine_db(e, &db, err);
	if (r < 0)
		return r;
	json_array_foreach(binds, i, v)
	{
		const char *b = json_string_value(v);
		struct cove_volume vol = {0};
		struct cove_volume_create_opts o = {0};
		char *nb;
		if (!b || b[0] != '/' || strchr(b, ':'))
			continue;
		r = cove_volume_create(db, dir, &o, &vol, err);
		if (r < 0)
			return r;
		json_array_append_new(anon, json_string(vol.name));
		nb = cove_strdup_printf("%s:%s", vol.name, b);
		cove_volume_release(&vol);
		if (!nb)
			return -ENOMEM;
		json_array_set_new(binds, i, json_string(nb));
		free(nb);
	}
	json_object_foreach((json_t *)ivols, k, v)
	{
		struct cove_volume vol = {0};
		struct cove_volume_create_opts o = {0};
		bool covered = false;
		size_t j;
		json_t *b;
		char *nb;
		json_array_foreach(binds, j, b)
		{
			const char *s = strchr(json_string_value(b) ?: "", ':');
			if (s && !strncmp(s + 1, k, strlen(k)) &&
			    (s[1 + strlen(k)] == '\0' ||
			     s[1 + strlen(k)] == ':'))
				covered = true;
		}
		json_array_foreach(json_object_get(host, "Mounts"), j, b)
		{
			const char *t =
			    json_string_value(json_object_get(b, "Target"));
			if (t && !strcmp(t, k))
				covered = true;
		}
		if (covered || k[0] != '/')
			continue;
		r = cove_volume_create(db, dir, &o, &vol, err);
		if (r < 0)
			return r;
		json_array_append_new(anon, json_string(vol.name));
		nb = cove_strdup_printf("%s:%s", vol.name, k);
		cove_volume_release(&vol);
		if (!nb)
			return -ENOMEM;
		json_array_append_new(binds, json_string(nb));
		free(nb);
	}
	return 0;
}

static void remove_anon_volumes(struct cove_engine *e, const json_t *config)
{
	_cleanup_free_ char *dir = cove_strdup_printf("%s/volumes", e->root);
	struct cove_error ignore = {0};
	json_t *v;
	size_t i;

	json_array_foreach(
	    json_object_get(json_object_get(config, "HostConfig"),
			    "AnonVolumes"),
	    i, v)
	{
		(void)cove_volume_remove(e->db, dir, json_string_value(v),
					 COVE_VOLUME_REMOVE_FORCE, NULL, NULL,
					 NULL, &ignore);
	}
}

/* A port no socket of this network namespace is bound to now. */
static int free_port(const char *proto, uint16_t *ret)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	_cleanup_close_ int fd =
	    socket(AF_INET,
		   (proto && !strcmp(proto, "udp") ? SOCK_DGRAM : SOCK_STREAM) |
		       SOCK_CLOEXEC,
		   0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -errno;
	*ret = ntohs(sa.sin_port);
	return 0;
}

/*
 * -P publishes every port the image exposes; a binding without a host
 * port gets a free one.  Chosen once, at create, as podman does, so that
 * `cove port` and restarts keep them.
 */
/*
 * The image's HEALTHCHECK (docker's config.Healthcheck, which podman and
 * docker apply): the container's own unless the options gave a test
 * (--health-cmd, --no-healthcheck); the options' interval, timeout,
 * retries and start period win.  The image is a stranger's: a check that
 * is not exactly docker's shape is ignored, whole.
 */
static void inherit_healthcheck(json_t *config, const struct cove_image *img)
{
	static const char *const nums[] = {"Interval", "Timeout", "Retries",
					   "StartPeriod"};
	const json_t *ih = json_object_get(
	    json_object_get(img->config_json, "config"), "Healthcheck");
	const json_t *test = json_object_get(ih, "Test"), *v;
	const char *kind = json_string_value(json_array_get(test, 0));
	json_t *hc = json_object_get(config, "Healthcheck");
	size_t i;

	if (!json_is_object(ih) || json_object_get(hc, "Test") || !kind ||
	    (strcmp(kind, "CMD") && strcmp(kind, "CMD-SHELL") &&
	     strcmp(kind, "NONE")))
		return;
	for (i = 0; i < json_array_size(test); i++)
		if (!json_is_string(json_array_get(test, i)))
			return;
	for (i = 0; i < ARRAY_SIZE(nums); i++) {
		v = json_object_get(ih, nums[i]);
		if (v && (!json_is_integer(v) || json_integer_value(v) < 0))
			return;
	}
	if (!hc) {
		hc = json_object();
		json_object_set_new(config, "Healthcheck", hc);
	}
	json_object_set(hc, "Test", (json_t *)test);
	for (i = 0; i < ARRAY_SIZE(nums); i++)
		if (!json_object_get(hc, nums[i]) &&
		    (v = json_object_get(ih, nums[i])))
			json_object_set(hc, nums[i], (json_t *)v);
}

static int resolve_ports(json_t *config, const struct cove_image *img,
			 struct cove_error *err)
{
	json_t *host = json_object_get(config, "HostConfig");
	json_t *pb = json_object_get(host, "PortBindings"), *b;
	const json_t *exposed = json_object_get(
	    json_object_get(img->config_json, "config"), "ExposedPorts");
	const char *k;
	json_t *v;
	size_t i;
	int r;

	if (json_is_true(json_object_get(host, "PublishAllPorts"))) {
		/* the image's exposed ports and those of --expose */
		_cleanup_json_ json_t *all = json_is_object(exposed)
						 ? json_copy((json_t *)exposed)
						 : json_object();
		if (!all)
			return -ENOMEM;
		if (json_is_object(json_object_get(config, "ExposedPorts")))
			json_object_update(
			    all, json_object_get(config, "ExposedPorts"));
		if (!pb) {
			pb = json_array();
			json_object_set_new(host, "PortBindings", pb);
		}
		json_object_foreach(all, k, v)
		{
			uint32_t port;
			_cleanup_free_ char *num = strdup(k);
			char *slash;
			bool bound = false;
			size_t j;
			if (!num)
				return -ENOMEM;
			slash = strchr(num, '/');
			if (slash)
				*slash = '\0';
			if (cove_parse_uint32(num, &port) < 0 || !port ||
			    port > 65535)
				return cove_error_set(
				    err, EINVAL,
				    "image config: invalid "
				    "'config.ExposedPorts' key '%s'",
				    k);
			/* a port -p publishes already is not published twice */
			json_array_foreach(pb, j, b)
			{
				const char *pr = json_string_value(
				    json_object_get(b, "Protocol"));
				if (json_integer_value(json_object_get(
					b, "ContainerPort")) == port &&
				    !strcmp(pr ? pr : "tcp",
					    slash ? slash + 1 : "tcp"))
					bound = true;
			}
			if (bound)
				continue;
			b = json_object();
			json_object_set_new(b, "HostIp", json_string(""));
			json_object_set_new(b, "HostPort", json_integer(0));
			json_object_set_new(b, "ContainerPort",
					    json_integer(port));
			json_object_set_new(
			    b, "Protocol",
			    json_string(slash ? slash + 1 : "tcp"));
			json_array_append_new(pb, b);
		}
	}
	json_array_foreach(pb, i, b)
	{
		uint16_t port = 0;
		if (json_integer_value(json_object_get(b, "HostPort")) != 0)
			continue;
		r = free_port(json_string_value(json_object_get(b, "Protocol")),
			      &port);
		if (r < 0)
			return cove_error_setx(err, r,
					       "cannot find a free host port");
		json_object_set_new(b, "HostPort", json_integer(port));
	}
	return 0;
}

int cove_engine_create(struct cove_engine *e, json_t *config, const char *name,
		       char *ret_id, struct cove_error *err)
{
	_cleanup_free_ char *dir = NULL, *gen_name = NULL, *rootfs = NULL;
	_cleanup_json_ json_t *spec = NULL;
	const char *image = json_string_value(json_object_get(config, "Image"));
	const char *hostname =
	    json_string_value(json_object_get(config, "Hostname"));
	struct cove_image img = {0};
	struct cove_ctr c = {0};
	char chain[COVE_CHAIN_ID_MAX] = "";
	bool inserted = false, made_dir = false, mounted = false;
	sqlite3 *db;
	int r;

	if (!image)
		return cove_error_set(err, EINVAL, "an image is required");
	r = cove_engine_db(e, &db, err);
	if (r < 0)
		return r;
	r = cove_engine_images(e, err);
	if (r < 0)
		return r;
	r = cove_engine_userns_check(e, json_object_get(config, "HostConfig"),
				     err);
	if (r < 0)
		return r;
	r = random_id(c.id);
	if (r < 0)
		return cove_error_setx(err, r, "getrandom");
	if (!name) {
		gen_name = cove_engine_random_name();
		if (!gen_name)
			return -ENOMEM;
		name = gen_name;
	}
	r = cove_engine_name_validate(name, err);
	if (r < 0)
		return r;
	r = cove_image_open(e->store, e->images, image, &img, err);
	if (r < 0)
		return r;

	inherit_healthcheck(config, &img);
	r = resolve_ports(config, &img, err);
	if (r < 0)
		goto out;
	r = make_anon_volumes(e, config, &img, err);
	if (r < 0)
		goto out;
	/* the layers, unpacked if needed; the top one is the rootfs's base */
	r = cove_image_unpack(e->store, e->snap, &img, chain, err);
	if (r < 0)
		goto out;
	{
		json_t *gd = json_object(), *data = json_object();
		json_object_set_new(
		    gd, "Name", json_string(cove_snapshotter_driver(e->snap)));
		json_object_set_new(data, "ChainID", json_string(chain));
		json_object_set_new(gd, "Data", data);
		json_object_set_new(config, "GraphDriver", gd);
	}
	/* --userns: its maps, recorded for every later start */
	r = cove_engine_userns_prepare(e, db, config, err);
	if (r < 0)
		goto out;
	/* the row first: it reserves the name before any work is done */
	c.name = (char *)name;
	c.image = (char *)image;
	c.image_id = img.rec.id;
	c.created = cove_now_ns();
	c.state = (char *)"created";
	c.exit_code = -1;
	c.config = config;
	r = cove_ctr_insert(db, &c, err);
	/* another create took the same id range meanwhile: the next one */
	for (int tries = 0; r == -EADDRINUSE && tries < 20; tries++) {
		cove_error_clear(err);
		r = cove_engine_userns_auto_next(
		    db, json_object_get(config, "HostConfig"), err);
		if (r < 0)
			break;
		r = cove_ctr_insert(db, &c, err);
	}
	/*
	 * A generated name that is taken: another one (docker's way), and
	 * after a few collisions one with a number, which cannot run out.
	 */
	for (int tries = 0; r == -EEXIST && gen_name && tries < 20; tries++) {
		char *n = cove_engine_random_name();
		char *num = n && tries >= 5
				? cove_strdup_printf("%s%u", n, (unsigned)tries)
				: NULL;
		if (!n || (tries >= 5 && !num)) {
			free(n);
			r = -ENOMEM;
			break;
		}
		free(gen_name);
		gen_name = num ? num : n;
		if (num)
			free(n);
		c.name = gen_name;
		name = gen_name;
		cove_error_clear(err);
		r = cove_ctr_insert(db, &c, err);
	}
	if (r < 0)
		goto out;
	inserted = true;

	dir = cove_engine_ctr_dir(e, c.id);
	if (!dir) {
		r = -ENOMEM;
		goto out;
	}
	r = cove_mkdir_p(dir, 0700);
	if (r < 0) {
		r = cove_error_setx(err, r, "cannot create %s", dir);
		goto out;
	}
	made_dir = true;
	c.config = config;
	/* the rootfs, seen with the image's owners in a user namespace */
	mounted = true;
	r = cove_engine_userns_rootfs(e, &c, dir, &rootfs, err);
	if (r < 0)
		goto out;
	if (!hostname || !*hostname)
		hostname = c.id; /* truncated to 12 below */
	{
		char hn[13];
		snprintf(hn, sizeof(hn), "%s", hostname);
		if (hostname != c.id)
			r = write_etc_files(dir, config, hostname, err);
		else
			r = write_etc_files(dir, config, hn, err);
		if (r < 0)
			goto out;
		r = cove_engine_build_spec(e, c.id, name, config, &img, rootfs,
					   hostname == c.id ? hn : hostname,
					   &spec, err);
		if (r < 0)
			goto out;
	}
	{
		/*
		 * Without fsync: a container's config is rewritten at create
		 * only, and a power cut that loses it loses the container's
		 * just-made directory with it.
		 */
		_cleanup_free_ char *f =
		    cove_strdup_printf("%s/config.json", dir);
		if (!f) {
			r = -ENOMEM;
			goto out;
		}
		r = cove_engine_spec_save(f, spec, err);
		if (r < 0)
			goto out;
	}
	/*
	 * The rootfs stays mounted for the start that usually follows; the
	 * monitor unmounts it when the container exits and mounts it again at
	 * each start.
	 */
	mounted = false;
	cove_events_ctr(&c, "create", NULL, NULL);
	memcpy(ret_id, c.id, sizeof(c.id));
	r = 0;
out:
	if (r < 0) {
		struct cove_error ignore = {0};
		if (mounted || made_dir)
			(void)cove_snapshot_remove_container(e->snap, c.id,
							     &ignore);
		if (made_dir)
			(void)cove_rm_rf(dir);
		if (inserted)
			(void)cove_ctr_delete(db, c.id, &ignore);
		remove_anon_volumes(e, config);
	}
	cove_image_release(&img);
	return r;
}

int cove_engine_spec_save(const char *file, const json_t *spec,
			  struct cove_error *err)
{
	_cleanup_free_ char *txt = json_dumps(spec, JSON_COMPACT);
	int r;

	if (!txt)
		return -ENOMEM;
	r = cove_write_file_replace_at(AT_FDCWD, file, txt, strlen(txt), 0600);
	if (r < 0)
		return cove_error_setx(err, r, "cannot write %s", file);
	return 0;
}

void cove_engine_spec_join_ns(json_t *spec, const char *type, const char *path)
{
	json_t *lx = cove_json_object_member(spec, "linux"), *nss, *ns;
	size_t i;

	nss = json_object_get(lx, "namespaces");
	if (!json_is_array(nss)) {
		nss = json_array();
		json_object_set_new(lx, "namespaces", nss);
	}
	json_array_foreach(nss, i, ns)
	{
		if (!strcmp(json_string_value(json_object_get(ns, "type"))
				?: "",
			    type)) {
			json_object_set_new(ns, "path", json_string(path));
			return;
		}
	}
	json_array_append_new(
	    nss, json_pack("{s:s, s:s}", "type", type, "path", path));
}

int cove_engine_mount_rootfs(struct cove_engine *e, const struct cove_ctr *c,
			     char **ret_path, struct cove_error *err)
{
	_cleanup_free_ struct cove_userns_maps *maps = NULL;
	_cleanup_close_ int userns = -1;
	int r = cove_engine_images(e, err);

	if (r < 0)
		return r;
	r = cove_engine_ctr_maps(c, &maps, err);
	if (r < 0)
		return r;
	if (json_is_true(json_object_get(
		json_object_get(json_object_get(c->config, "GraphDriver"),
				"Data"),
		"RootfsCopy"))) {
		/* a private copy, made and shifted at create (userns.h) */
		_cleanup_free_ char *dir = cove_engine_ctr_dir(e, c->id);
		char *path = dir ? cove_strdup_printf("%s/rootfs", dir) : NULL;
		struct stat st;
		if (!path)
			return -ENOMEM;
		r = lstat(path, &st) < 0 ? -errno : 0;
		if (r < 0 || !S_ISDIR(st.st_mode)) {
			r = cove_error_setx(err, r < 0 ? r : -ENOTDIR,
					    "the root file system of container "
					    "%s is missing (%s)",
					    c->id, path);
			free(path);
			return r;
		}
		*ret_path = path;
		return 0;
	}
	if (!maps->n_uid || strcmp(cove_snapshotter_driver(e->snap), "overlay"))
		return cove_snapshot_mount(
		    e->snap, c->id, cove_engine_chain_id(c), ret_path, err);
	/*
	 * A user namespace of its own on overlay (root): the layers through
	 * idmapped mounts of the container's maps.
	 */
	r = cove_idmap_userns_fd(maps->uid, maps->n_uid, maps->gid, maps->n_gid,
				 &userns, err);
	if (r < 0)
		return r;
	return cove_snapshot_mount_idmapped(
	    e->snap, c->id, cove_engine_chain_id(c), userns, ret_path, err);
}

const char *cove_engine_chain_id(const struct cove_ctr *c)
{
	const char *chain = json_string_value(json_object_get(
	    json_object_get(json_object_get(c->config, "GraphDriver"), "Data"),
	    "ChainID"));
	return chain ? chain : "";
}

int cove_engine_name_validate(const char *name, struct cove_error *err)
{
	size_t n = strlen(name);

	/* docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
	if (n == 0 || n > 253 ||
	    !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
		    "6789",
		    name[0]) ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789_.-") != n)
		return cove_error_set(err, EINVAL,
				      "invalid container name '%s': only "
				      "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
				      name);
	return 0;
}

int cove_engine_lookup(struct cove_engine *e, const char *name_or_id,
		       struct cove_ctr *ret, struct cove_error *err)
{
	sqlite3 *db;
	int r = cove_engine_db(e, &db, err);

	if (r < 0)
		return r;
	r = cove_ctr_lookup(db, name_or_id, ret, err);
	if (r < 0)
		return r;
	r = cove_engine_refresh(e, ret, err);
	if (r < 0)
		cove_ctr_release(ret);
	return r;
}

int cove_engine_volume_path(struct cove_engine *e, const char *name, char **ret,
			    struct cove_error *err)
{
	_cleanup_free_ char *dir = cove_strdup_printf("%s/volumes", e->root);
	struct cove_volume_create_opts o = {.name = name, .ignore = true};
	struct cove_volume v = {0};
	sqlite3 *db;
	int r;

	if (!dir)
		return -ENOMEM;
	r = cove_engine_db(e, &db, err);
	if (r < 0)
		return r;
	r = cove_volume_lookup(db, name, &v, err);
	if (r == -ENOENT || (r >= 0 && strcmp(v.name, name))) {
		/* a prefix match is not what `-v NAME:` means */
		cove_volume_release(&v);
		cove_error_clear(err);
		r = cove_volume_create(db, dir, &o, &v, err);
	}
	if (r < 0)
		return r;
	*ret = TAKE_PTR(v.mountpoint);
	cove_volume_release(&v);
	return 0;
}

const char *cove_engine_helper_path(const char *name)
{
	static char path[2][4096];
	static int slot;
	char exe[4096];
	const char *dir = getenv("COVE_HELPER_DIR");
	char *p = path[slot++ % 2];
	ssize_t n;

	/* the tests' and a build tree's: next to the cove binary */
	if (dir && *dir) {
		snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
		if (access(p, X_OK) == 0)
			return p;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(p, sizeof(path[0]), "%s/%s", exe, name);
			if (access(p, X_OK) == 0)
				return p;
		}
	}
	snprintf(p, sizeof(path[0]), "/usr/libexec/cove/%s", name);
	return access(p, X_OK) == 0 ? p : NULL;
}

/* Whether @cfg mounts volume @name (-v NAME:..., --mount, anonymous). */
static bool config_uses_volume(const json_t *cfg, const char *name)
{
	const json_t *host = json_object_get(cfg, "HostConfig");
	size_t len = strlen(name), i;
	json_t *v;

	json_array_foreach(json_object_get(host, "Binds"), i, v)
	{
		const char *b = json_string_value(v);
		if (b && !strncmp(b, name, len) && b[len] == ':')
			return true;
	}
	json_array_foreach(json_object_get(host, "Mounts"), i, v)
	{
		const char *t = json_string_value(json_object_get(v, "Type"));
		const char *s = json_string_value(json_object_get(v, "Source"));
		if (t && s && !strcmp(t, "volume") && !strcmp(s, name))
			return true;
	}
	return false;
}

int cove_engine_volume_in_use(void *data, sqlite3 *db, const char *name,
			      char **ret_user, struct cove_error *err)
{
	struct cove_ctr *cs = NULL;
	size_t n = 0;
	int r = cove_ctr_list(db, &cs, &n, err);

	(void)data;
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (config_uses_volume(cs[i].config, name)) {
			if (ret_user)
				*ret_user = strdup(cs[i].name);
			cove_ctrs_free(cs, n);
			return 1;
		}
	}
	cove_ctrs_free(cs, n);
	return 0;
}
